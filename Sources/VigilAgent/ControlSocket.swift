import Foundation

/// A running agent's control socket: a Unix stream socket (mode 0600) where `vigil mode` and
/// `vigil resume --workload` ask the agent to change what it does, one line each way.
///
/// Only root or the agent's own user may ask (the peer's credentials, SO_PEERCRED). A
/// background thread takes connections; the agent answers the requests on its own thread
/// (``serve(_:)``, called from its loop), so a request never races the event handling.
/// Not a signal: signals to the agent are reported as tamper, which is what they are when
/// anyone else sends them.
public final class ControlServer: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var queue: [Pending] = []
    private var stopped = false
    private var thread: Thread?
    /// Signalled when the accept thread is done with `fd`.
    private let acceptDone = DispatchSemaphore(value: 0)

    private final class Pending: @unchecked Sendable {
        let line: String
        var answer: String?
        let done = DispatchSemaphore(value: 0)
        init(_ line: String) { self.line = line }
    }

    /// The default path, for `vigil mode` and the agent alike.
    public static let defaultPath = "/run/vigil/control.sock"

    /// Listens at `path`, making its directory (0700) if needed. A socket file left by an
    /// agent that is gone is replaced; one where an agent still answers is not.
    public init(path: String) throws(ControlError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
            catch { throw ControlError("cannot create \(dir) for the control socket: \(error.localizedDescription)") }
        }
        guard path.utf8.count < 108 else { throw ControlError("the control socket path \(path) is longer than a Unix socket path may be (107 bytes)") }
        if FileManager.default.fileExists(atPath: path) {
            if (try? ControlClient.connect(path)).map({ close($0); return true }) == true {
                throw ControlError("another agent answers on \(path); stop it, or give this one its own --control-socket")
            }
            unlink(path)
        }
        // Non-blocking, so the accept thread never waits in accept(): it waits in poll, and
        // sees `stop()` within one poll timeout.
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard s >= 0 else { throw ControlError("cannot make the control socket: \(String(cString: strerror(errno)))") }
        var addr = ControlClient.address(path)
        let old = umask(0o177)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard bound == 0, listen(s, 8) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw ControlError("cannot listen on \(path): \(e)")
        }
        fd = s
        let t = Thread { [weak self, acceptDone] in
            self?.acceptLoop()
            acceptDone.signal()
        }
        t.name = "vigil-control"
        thread = t
        t.start()
    }

    /// Answers the requests waiting, on the caller's thread.
    public func serve(_ answer: (String) -> String) {
        lock.lock()
        let waiting = queue
        queue.removeAll()
        lock.unlock()
        for p in waiting {
            p.answer = answer(p.line)
            p.done.signal()
        }
    }

    /// Stops taking requests and removes the socket file. Returns once the accept thread is
    /// done with the socket (at most a request's read timeout), so that the number is not
    /// closed while that thread may still use it: by then it could be another file's.
    public func stop() {
        lock.lock()
        let was = stopped
        stopped = true
        let waiting = queue
        queue.removeAll()
        lock.unlock()
        guard !was else { return }
        for p in waiting {
            p.answer = "error the agent is stopping"
            p.done.signal()
        }
        shutdown(fd, Int32(SHUT_RDWR))
        unlink(path)
        // A connection being read has 2 s (SO_RCVTIMEO) and one waiting for the agent's answer
        // is answered above, so the thread ends well within 5 s. If it somehow does not, the
        // socket is left open rather than closed under it.
        if Thread.current !== thread, acceptDone.wait(timeout: .now() + 5) == .timedOut { return }
        close(fd)
    }

    deinit { stop() }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func acceptLoop() {
        while !isStopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            handle(c)
            close(c)
        }
    }

    private func handle(_ c: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var cred = PeerCredentials()
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0, cred.uid == 0 || cred.uid == getuid() else {
            ControlClient.write(c, "error only root (or the agent's user) may control the agent\n")
            return
        }
        guard let line = ControlClient.readLine(c, max: 1024) else {
            ControlClient.write(c, "error expected one request line (e.g. `mode monitor web`), at most 1024 bytes\n")
            return
        }
        let pending = Pending(line)
        lock.lock()
        if stopped {
            lock.unlock()
            ControlClient.write(c, "error the agent is stopping\n")
            return
        }
        queue.append(pending)
        lock.unlock()
        // The agent answers from its loop, which turns at least every poll timeout.
        if pending.done.wait(timeout: .now() + 5) == .timedOut {
            ControlClient.write(c, "error the agent did not answer within 5 s\n")
            return
        }
        ControlClient.write(c, (pending.answer ?? "error no answer") + "\n")
    }
}

/// struct ucred (SO_PEERCRED), which Glibc's module leaves out without _GNU_SOURCE.
private struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// A control request that could not be made.
public struct ControlError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The other end: one request, one answer.
public enum ControlClient {
    /// Sends `request` to the agent at `path`; returns its answer (`ok ...` or `error ...`).
    public static func ask(_ path: String, _ request: String) throws(ControlError) -> String {
        let c = try connect(path)
        defer { close(c) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        write(c, request + "\n")
        guard let answer = readLine(c, max: 64 * 1024) else { throw ControlError("the agent at \(path) closed the connection without an answer") }
        return answer
    }

    static func connect(_ path: String) throws(ControlError) -> Int32 {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw ControlError("cannot make a socket: \(String(cString: strerror(errno)))") }
        var addr = address(path)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(s)
            let why = e == ENOENT || e == ECONNREFUSED ? "no agent is running there" : String(cString: strerror(e))
            throw ControlError("cannot reach the agent's control socket \(path): \(why)")
        }
        return s
    }

    static func address(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            // send, not write: a peer that hung up must not SIGPIPE the agent.
            let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// One line (without its newline); nil on timeout, EOF before a newline, or more than `max` bytes.
    static func readLine(_ fd: Int32, max: Int) -> String? {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        while out.count <= max {
            let n = read(fd, &byte, 1)
            if n <= 0 { return out.isEmpty ? nil : String(decoding: out, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: out, as: UTF8.self) }
            out.append(byte)
        }
        return nil
    }
}
