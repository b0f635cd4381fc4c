/*
 * core_tls: a verified TLS client connection (OpenSSL) offered to a library
 * that only knows plain file descriptors, as one end of a socketpair.
 *
 * Why: Debian 12's hiredis (0.14) has no TLS, and it does all its I/O with
 * read()/write() on redisContext.fd. core_tls_connect opens the TCP
 * connection, completes the TLS handshake with certificate verification in
 * the calling thread, and then hands back the local end of a socketpair that
 * the caller gives to redisConnectFd. A proxy thread moves bytes between the
 * socketpair and the TLS connection. ingest/ and alerting/ both use it (and
 * never include each other), so it lives in core/.
 *
 * Verification is never optional: the peer must present a chain to the CA
 * file or directory given (else the system's default store), and the chain
 * must name `server_name` (default: the host connected to) as a DNS name, or
 * as an IP address when it is one. SNI carries the name when it is a DNS
 * name. TLS 1.2 is the minimum. A client certificate and key are sent when
 * configured (for servers with tls-auth-clients).
 *
 * Failure semantics, for the adapter above:
 *  - core_tls_connect: CORE_ENET when the host cannot be reached, the TCP
 *    connect or the handshake times out or the connection drops during the
 *    handshake (transient: retry); CORE_EAUTH when the handshake fails at
 *    the TLS level: the server's certificate does not verify or does not
 *    name the host, the server refused ours, or it does not speak TLS (none
 *    of these fix themselves: fail fast); CORE_ECONFIG when the CA, the
 *    certificate or the key cannot be loaded. err says what, with OpenSSL's
 *    reason and host:port.
 *  - after the handshake, when the server closes, the connection breaks or
 *    a TLS error arrives (for example the server's alert that it requires a
 *    client certificate, which TLS 1.3 delivers after the handshake), the
 *    proxy ends the caller's side of the socketpair (the caller reads EOF)
 *    and keeps the reason: core_tls_status. Writes by the caller after that
 *    are swallowed rather than raising SIGPIPE; its next read sees EOF.
 *  - timeouts on commands are the caller's own (socket timeouts on its fd
 *    work on a socketpair as on TCP); when the caller gives up and closes
 *    its fd, the proxy ends.
 *
 * Ownership: the fd returned belongs to the caller (hiredis closes it in
 * redisFree). core_tls_free ends the proxy thread, joins it and closes
 * everything else; call it after the caller's fd is closed or handed over.
 *
 * Threads: core_tls_connect and core_tls_free from the thread that owns the
 * connection; core_tls_status from any thread. The proxy thread runs with
 * every signal blocked; the handshake blocks SIGPIPE in the calling thread
 * for its duration (and discards one it raised).
 */
#ifndef CORE_TLS_H
#define CORE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"

#define CORE_TLS_PATH_MAX 512

typedef struct core_tls_opts {
    int enabled;
    char ca_file[CORE_TLS_PATH_MAX]; /* PEM bundle of trusted CAs; "" = none */
    char ca_dir[CORE_TLS_PATH_MAX];  /* hashed CA directory (openssl rehash); "" = none */
    char cert[CORE_TLS_PATH_MAX];    /* client certificate chain (PEM); "" = none */
    char key[CORE_TLS_PATH_MAX];     /* its private key (PEM) */
    char server_name[256];           /* name to verify and send as SNI; "" = the host */
    char section[32];                /* config section, for messages ("redis") */
} core_tls_opts_t;

typedef struct core_tls core_tls_t;

/* core_tls_opts_from_config fills *o from [redis]'s keys tls, tls_ca_file,
 * tls_ca_dir, tls_cert, tls_key and tls_server_name (the one section with
 * the whole set). */
void core_tls_opts_from_config(const core_config_t *cfg, core_tls_opts_t *o);

/* core_tls_check: CORE_OK when o can be used: with TLS off, no tls_* path
 * may be set (a CA without tls = true would silently send in plain text);
 * with it on, tls_cert and tls_key come together and every file loads (the
 * same OpenSSL calls as a connection). CORE_ECONFIG otherwise, err naming
 * the key (as section.key) and OpenSSL's reason. Any thread. Does not
 * touch the network. */
core_err_t core_tls_check(const core_tls_opts_t *o, char *err, size_t errlen);

/* core_tls_connect connects to host:port over TCP (keepalive on, Nagle
 * off), completes a verified TLS handshake within timeout_ms, and starts
 * the proxy. On CORE_OK *fd_out is the caller's end of the socketpair
 * (blocking, close-on-exec; the caller owns it) and *out the connection.
 * On failure both are left -1/NULL and err says why; see the top comment
 * for the codes. */
core_err_t core_tls_connect(const core_tls_opts_t *o, const char *host, int port,
                            int64_t timeout_ms, core_tls_t **out, int *fd_out, char *err,
                            size_t errlen);

/* core_tls_status: CORE_OK while the TLS connection is up; once the proxy
 * saw it end: CORE_EAUTH when the end was a TLS-level error or alert (for
 * example the server refusing a client certificate), CORE_ENET for a
 * closed or broken connection. err (may be NULL) gets the reason with
 * host:port, "" while up. Any thread. */
core_err_t core_tls_status(core_tls_t *t, char *err, size_t errlen);

/* core_tls_free stops and joins the proxy, sends close_notify when the
 * connection is still up (without waiting), closes the proxy's descriptors
 * and frees. NULL is a no-op. */
void core_tls_free(core_tls_t *t);

#endif
