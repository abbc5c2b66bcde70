import ArgumentParser
import Foundation
import VigilAgent
import VigilCore
import VigilSensor

/// A loopback TCP listener that counts the connections it accepts.
final class LoopbackCounter: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let lock = NSLock()
    private var count = 0

    init() throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(sock, $0, len) == 0 && listen(sock, 16) == 0 && getsockname(sock, $0, &len) == 0
            }
        }
        guard ok else { throw ServiceError("cannot listen on 127.0.0.1") }
        fd = sock
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(sock, nil, nil)
                if c < 0 { return }
                lock.lock(); count += 1; lock.unlock()
                close(c)
            }
        }
    }

    var connections: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
