/* OpenSSL 3 from Debian's libssl-dev: TLS for the syslog-TLS and HTTPS outputs
 * (VigilOutput/TLSStream.swift), SHA-256 (VigilCore/Profile/SHA256.swift) and ed25519
 * profile signatures. Swift calls the functions directly; this header adds functions for
 * what OpenSSL spells as macros, which Swift cannot import. */
#ifndef VIGIL_COPENSSL_SHIM_H
#define VIGIL_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* SNI: SSL_set_tlsext_host_name is a macro over SSL_ctrl. */
static inline int vigil_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/* SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl. */
static inline int vigil_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int vigil_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline int vigil_tls1_3_version(void) { return TLS1_3_VERSION; }

/* The key type of ed25519 profile signatures (VigilCore/Profile/HostKey.swift). */
static inline int vigil_evp_pkey_ed25519(void) { return EVP_PKEY_ED25519; }

#endif
