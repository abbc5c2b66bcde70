#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a TLS output checks its receiver.
struct TLSSettings: Sendable, Hashable {
    /// PEM file of trusted CAs; nil for the system store.
    var caFile: String?
    /// Verify the certificate chain and that it names the host we connected to.
    var verifyPeer: Bool
}

/// The few OpenSSL 3 calls TLS outputs need, loaded at run time from the system's
/// `libssl.so.3`.
///
/// Why not link it: the build would then need OpenSSL headers and a system-library target
/// (or swift-nio-ssl, which adds minutes to every CI build) for two small sinks, while every
/// Debian system ships the shared library. When it is missing, only TLS outputs fail, with a
/// clear message, at connect time.
final class OpenSSL: @unchecked Sendable {
    typealias Ptr = OpaquePointer
    let TLS_client_method: @convention(c) () -> Ptr?
    let SSL_CTX_new: @convention(c) (Ptr?) -> Ptr?
    let SSL_CTX_free: @convention(c) (Ptr?) -> Void
    let SSL_CTX_set_verify: @convention(c) (Ptr?, Int32, UnsafeRawPointer?) -> Void
    let SSL_CTX_load_verify_locations: @convention(c) (Ptr?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32
    let SSL_CTX_set_default_verify_paths: @convention(c) (Ptr?) -> Int32
    let SSL_new: @convention(c) (Ptr?) -> Ptr?
    let SSL_free: @convention(c) (Ptr?) -> Void
    let SSL_set_fd: @convention(c) (Ptr?, Int32) -> Int32
    let SSL_ctrl: @convention(c) (Ptr?, Int32, Int, UnsafeMutableRawPointer?) -> Int
    let SSL_set1_host: @convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32
    let SSL_get0_param: @convention(c) (Ptr?) -> Ptr?
    let X509_VERIFY_PARAM_set1_ip_asc: @convention(c) (Ptr?, UnsafePointer<CChar>?) -> Int32
    let SSL_connect: @convention(c) (Ptr?) -> Int32
    let SSL_write: @convention(c) (Ptr?, UnsafeRawPointer?, Int32) -> Int32
    let SSL_read: @convention(c) (Ptr?, UnsafeMutableRawPointer?, Int32) -> Int32
    let SSL_get_error: @convention(c) (Ptr?, Int32) -> Int32
    let SSL_shutdown: @convention(c) (Ptr?) -> Int32
    let SSL_get_verify_result: @convention(c) (Ptr?) -> Int
    let ERR_get_error: @convention(c) () -> UInt
    let ERR_error_string_n: @convention(c) (UInt, UnsafeMutablePointer<CChar>?, Int) -> Void

    /// The loaded library, or nil (with `loadError` saying why).
    static let shared: OpenSSL? = OpenSSL()
    nonisolated(unsafe) static var loadError = ""

    private init?() {
        guard let ssl = dlopen("libssl.so.3", RTLD_NOW) ?? dlopen("libssl.so", RTLD_NOW) else {
            OpenSSL.loadError = "cannot load libssl.so.3 (install libssl3): \(String(cString: dlerror()))"
            return nil
        }
        var missing: [String] = []
        func sym<T>(_ name: String, _: T.Type) -> T {
            guard let p = dlsym(ssl, name) else {
                missing.append(name)
                return unsafeBitCast(dlsym(ssl, "SSL_new")!, to: T.self)  // never called: init fails below
            }
            return unsafeBitCast(p, to: T.self)
        }
        TLS_client_method = sym("TLS_client_method", type(of: TLS_client_method))
        SSL_CTX_new = sym("SSL_CTX_new", type(of: SSL_CTX_new))
        SSL_CTX_free = sym("SSL_CTX_free", type(of: SSL_CTX_free))
        SSL_CTX_set_verify = sym("SSL_CTX_set_verify", type(of: SSL_CTX_set_verify))
        SSL_CTX_load_verify_locations = sym("SSL_CTX_load_verify_locations", type(of: SSL_CTX_load_verify_locations))
        SSL_CTX_set_default_verify_paths = sym("SSL_CTX_set_default_verify_paths", type(of: SSL_CTX_set_default_verify_paths))
        SSL_new = sym("SSL_new", type(of: SSL_new))
        SSL_free = sym("SSL_free", type(of: SSL_free))
        SSL_set_fd = sym("SSL_set_fd", type(of: SSL_set_fd))
        SSL_ctrl = sym("SSL_ctrl", type(of: SSL_ctrl))
        SSL_set1_host = sym("SSL_set1_host", type(of: SSL_set1_host))
        SSL_get0_param = sym("SSL_get0_param", type(of: SSL_get0_param))
        // libssl links libcrypto, so dlsym through the libssl handle finds these too.
        X509_VERIFY_PARAM_set1_ip_asc = sym("X509_VERIFY_PARAM_set1_ip_asc", type(of: X509_VERIFY_PARAM_set1_ip_asc))
        SSL_connect = sym("SSL_connect", type(of: SSL_connect))
        SSL_write = sym("SSL_write", type(of: SSL_write))
        SSL_read = sym("SSL_read", type(of: SSL_read))
        SSL_get_error = sym("SSL_get_error", type(of: SSL_get_error))
        SSL_shutdown = sym("SSL_shutdown", type(of: SSL_shutdown))
        SSL_get_verify_result = sym("SSL_get_verify_result", type(of: SSL_get_verify_result))
        ERR_get_error = sym("ERR_get_error", type(of: ERR_get_error))
        ERR_error_string_n = sym("ERR_error_string_n", type(of: ERR_error_string_n))
        guard missing.isEmpty else {
            OpenSSL.loadError = "libssl lacks \(missing.joined(separator: ", "))"
            return nil
        }
    }

    /// The oldest queued OpenSSL error as text, clearing the queue.
    func lastError() -> String {
        var text = ""
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            if text.isEmpty { text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return text
    }
}

/// A TLS client connection over a connected socket. Owned by one sink thread.
final class TLSStream: ByteStream {
    private let lib: OpenSSL
    private let socket: Socket
    private var ctx: OpaquePointer?
    private var ssl: OpaquePointer?

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(socket: Socket, serverName: String, settings: TLSSettings) throws {
        guard let lib = OpenSSL.shared else { throw Failure(description: "TLS unavailable: \(OpenSSL.loadError)") }
        self.lib = lib
        self.socket = socket
        ctx = lib.SSL_CTX_new(lib.TLS_client_method())
        guard ctx != nil else { throw Failure(description: "SSL_CTX_new: \(lib.lastError())") }
        if settings.verifyPeer {
            lib.SSL_CTX_set_verify(ctx, 1 /* SSL_VERIFY_PEER */, nil)
            let ok = settings.caFile.map { lib.SSL_CTX_load_verify_locations(ctx, $0, nil) }
                ?? lib.SSL_CTX_set_default_verify_paths(ctx)
            guard ok == 1 else { throw Failure(description: "loading CA \(settings.caFile ?? "system store"): \(lib.lastError())") }
        }
        ssl = lib.SSL_new(ctx)
        guard ssl != nil, lib.SSL_set_fd(ssl, socket.fd) == 1 else { throw Failure(description: "SSL_new: \(lib.lastError())") }
        let isIP = IPv4Literal.isLiteral(serverName) || serverName.contains(":")
        if !isIP {
            // SNI (SSL_set_tlsext_host_name is a macro over SSL_ctrl 55).
            _ = serverName.withCString { lib.SSL_ctrl(ssl, 55, 0, UnsafeMutableRawPointer(mutating: $0)) }
        }
        if settings.verifyPeer {
            let ok = isIP ? lib.X509_VERIFY_PARAM_set1_ip_asc(lib.SSL_get0_param(ssl), serverName)
                          : lib.SSL_set1_host(ssl, serverName)
            guard ok == 1 else { throw Failure(description: "setting the name to verify: \(lib.lastError())") }
        }
        let rc = lib.SSL_connect(ssl)
        guard rc == 1 else {
            let verify = lib.SSL_get_verify_result(ssl)
            throw Failure(description: "TLS handshake with \(serverName) failed: \(lib.lastError())\(verify != 0 ? " (certificate verify error \(verify))" : "")")
        }
    }

    deinit { close() }

    func write(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { lib.SSL_write(ssl, $0.baseAddress! + off, Int32(min(bytes.count - off, 1 << 20))) }
            guard n > 0 else { throw Failure(description: "TLS write failed: \(lib.SSL_get_error(ssl, n)) \(lib.lastError())") }
            off += Int(n)
        }
    }

    func read(max: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        let n = out.withUnsafeMutableBytes { lib.SSL_read(ssl, $0.baseAddress, Int32(max)) }
        if n <= 0 {
            let e = lib.SSL_get_error(ssl, n)
            if e == 6 /* SSL_ERROR_ZERO_RETURN */ { return [] }
            throw Failure(description: "TLS read failed: \(e) \(lib.lastError())")
        }
        out.removeLast(max - Int(n))
        return out
    }

    func peerHasClosed() -> Bool { socket.peerHasClosed() }

    func close() {
        if let ssl {
            _ = lib.SSL_shutdown(ssl)
            lib.SSL_free(ssl)
            self.ssl = nil
        }
        if let ctx {
            lib.SSL_CTX_free(ctx)
            self.ctx = nil
        }
        socket.close()
    }
}

enum IPv4Literal {
    static func isLiteral(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}
