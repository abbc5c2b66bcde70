import COpenSSL

/// How a TLS output checks its receiver and proves itself to it.
struct TLSSettings: Sendable, Hashable {
    /// PEM file of trusted CAs; nil for the system store.
    var caFile: String?
    /// Verify the certificate chain and that it names the host we connected to.
    var verifyPeer: Bool
    /// PEM client certificate (chain) for receivers that require one (mutual TLS).
    var certFile: String? = nil
    /// PEM private key of `certFile`.
    var keyFile: String? = nil
    /// The oldest protocol version to accept.
    var minVersion: TLSVersion = .v1_2
}

/// A TLS protocol version, as the `min-tls=` option spells it.
public enum TLSVersion: String, Sendable, Hashable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"

    var openSSLValue: Int32 {
        switch self {
        case .v1_2: vigil_tls1_2_version()
        case .v1_3: vigil_tls1_3_version()
        }
    }
}

/// OpenSSL's queued errors as text (the oldest first), clearing the queue.
func openSSLErrors() -> String {
    var texts: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buf, buf.count)
        texts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return texts.isEmpty ? "no OpenSSL error queued" : texts.joined(separator: "; ")
}

/// A TLS client connection over a connected socket, through OpenSSL (the COpenSSL
/// system-library target). Owned by one sink thread.
final class TLSStream: ByteStream {
    private let socket: Socket
    private var ctx: OpaquePointer?
    private var ssl: OpaquePointer?

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(socket: Socket, serverName: String, settings: TLSSettings) throws {
        self.socket = socket
        ERR_clear_error()
        ctx = SSL_CTX_new(TLS_client_method())
        guard let ctx else { throw Failure(description: "SSL_CTX_new: \(openSSLErrors())") }
        guard vigil_ssl_ctx_set_min_proto(ctx, settings.minVersion.openSSLValue) == 1 else {
            throw Failure(description: "setting the minimum TLS version \(settings.minVersion.rawValue): \(openSSLErrors())")
        }
        if settings.verifyPeer {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            let ok = settings.caFile.map { SSL_CTX_load_verify_locations(ctx, $0, nil) }
                ?? SSL_CTX_set_default_verify_paths(ctx)
            guard ok == 1 else { throw Failure(description: "loading CA \(settings.caFile ?? "system store"): \(openSSLErrors())") }
        }
        if let cert = settings.certFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else {
                throw Failure(description: "loading client certificate \(cert): \(openSSLErrors())")
            }
            let key = settings.keyFile ?? cert
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
                throw Failure(description: "loading client key \(key): \(openSSLErrors())")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                throw Failure(description: "client key \(key) does not match certificate \(cert): \(openSSLErrors())")
            }
        }
        ssl = SSL_new(ctx)
        guard let ssl, SSL_set_fd(ssl, socket.fd) == 1 else { throw Failure(description: "SSL_new: \(openSSLErrors())") }
        let isIP = IPv4Literal.isLiteral(serverName) || serverName.contains(":")
        if !isIP {
            _ = vigil_ssl_set_sni(ssl, serverName)
        }
        if settings.verifyPeer {
            let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                          : SSL_set1_host(ssl, serverName)
            guard ok == 1 else { throw Failure(description: "setting the name to verify: \(openSSLErrors())") }
        }
        let rc = SSL_connect(ssl)
        guard rc == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let verifyText = verify != X509_V_OK ? " (certificate verify error \(verify): \(String(cString: X509_verify_cert_error_string(verify))))" : ""
            throw Failure(description: "TLS handshake with \(serverName) failed: \(openSSLErrors())\(verifyText)")
        }
    }

    deinit { close() }

    func write(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + off, Int32(min(bytes.count - off, 1 << 20))) }
            guard n > 0 else {
                let e = SSL_get_error(ssl, n)
                var why = openSSLErrors()
                if e == SSL_ERROR_SYSCALL {
                    // The receiver hung up: under TLS 1.3 a refused client certificate shows
                    // only now, as an alert waiting to be read.
                    var scratch = [UInt8](repeating: 0, count: 256)
                    _ = scratch.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, 256) }
                    let alert = openSSLErrors()
                    if alert != "no OpenSSL error queued" { why = alert } else { why = "the receiver closed the connection" }
                }
                throw Failure(description: "TLS write failed (SSL error \(e)): \(why)")
            }
            off += Int(n)
        }
    }

    func read(max: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        let n = out.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32(max)) }
        if n <= 0 {
            let e = SSL_get_error(ssl, n)
            if e == SSL_ERROR_ZERO_RETURN { return [] }
            throw Failure(description: "TLS read failed (SSL error \(e)): \(openSSLErrors())")
        }
        out.removeLast(max - Int(n))
        return out
    }

    func peerHasClosed() -> Bool { socket.peerHasClosed() }

    func close() {
        if let ssl {
            _ = SSL_shutdown(ssl)
            SSL_free(ssl)
            self.ssl = nil
        }
        if let ctx {
            SSL_CTX_free(ctx)
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
