/*
 * th_tls: TLS fixtures made at run time (no key is committed): a test CA,
 * a server certificate for localhost and 127.0.0.1 signed by it, a client
 * certificate signed by it, and a second CA that signed nothing the server
 * shows (the "wrong CA"); and a real redis-server that listens with TLS
 * only (--port 0 --tls-port N) on those certificates.
 *
 * The certificates are made with the `openssl` command (EC P-256, valid for
 * two days). A suite without openssl or redis-server skips.
 */
#ifndef TH_TLS_H
#define TH_TLS_H

#include "tests/common/th_redis.h"

typedef struct th_tls {
    char dir[512];
    char ca[600], server_crt[600], server_key[600];
    char client_crt[600], client_key[600];
    char other_ca[600]; /* a CA that signed nothing here */
    char ca_dir[600];   /* a hashed directory (openssl rehash) holding ca */
} th_tls_t;

/* th_tls_make makes the fixtures in a fresh directory. 0 on success, -1
 * (with a message on stderr) when openssl is missing or fails. */
int th_tls_make(th_tls_t *t);

/* th_tls_free removes the directory. */
void th_tls_free(th_tls_t *t);

/* th_redis_start_tls starts redis-server on a free port with TLS only:
 * server certificate t->server_crt, client CAs t->ca, and
 * --tls-auth-clients auth_clients ("no", "optional" or "yes"). Waits until
 * it accepts TCP connections. Use th_redis_kill / th_redis_stop on it.
 * Returns 0 on success. */
int th_redis_start_tls(th_redis_t *r, const th_tls_t *t, const char *auth_clients);

#endif
