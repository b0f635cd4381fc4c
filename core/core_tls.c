/*
 * core_tls: see core_tls.h.
 *
 * Design. The handshake runs in the caller's thread on a non-blocking TCP
 * socket, each step waiting with poll() against one deadline, so a server
 * that accepts TCP and then says nothing costs at most the connect timeout.
 * Then a socketpair is made: the caller gets one end (blocking, as hiredis
 * expects), the proxy thread keeps the other and the TCP socket.
 *
 * The proxy is one poll() loop over two non-blocking directions with one
 * buffer each (16 KiB, one TLS record):
 *   server -> caller: SSL_read into `down`, send() to the pair;
 *   caller -> server: recv() from the pair into `up`, SSL_write from it.
 * A full buffer stops reading its source (backpressure both ways). SSL_read
 * and SSL_write may each want the other direction of the socket
 * (SSL_ERROR_WANT_READ / WANT_WRITE); the loop polls the TCP socket for
 * exactly what the last calls asked for, so it never spins. SSL_write is
 * retried from the start of `up`, which only grows between retries
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER + ENABLE_PARTIAL_WRITE).
 *
 * Ends. The caller closing its end (recv() = 0) or core_tls_free shutting
 * the proxy's end down ends the loop: close_notify is sent (best effort)
 * and the thread returns. The server's side ending (close_notify, EOF,
 * reset, a TLS alert) records why in `status`/`why` first, then delivers
 * what was already decrypted, shuts the pair for writing (the caller's
 * read() returns 0: hiredis says the server closed the connection, and the
 * adapter asks core_tls_status why) and then swallows whatever the caller
 * still writes until it closes, so the caller never takes a SIGPIPE. The
 * proxy never blocks anywhere but poll(), recv() and send() on the pair, and
 * core_tls_free's shutdown(SHUT_RDWR) wakes all three: it always joins.
 */
#include "core/core_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core_time.h"

#define BUF 16384
#define KEEPALIVE_IDLE_S 15 /* as hiredis' own TCP keepalive */

struct core_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    int sock; /* TCP, non-blocking */
    int pair; /* the proxy's end of the socketpair */
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    core_err_t status; /* CORE_OK while the TLS connection is up */
    char why[256];
    char at[300]; /* host:port (name) for messages */
    unsigned char up[BUF], down[BUF];
};

/* ---- options --------------------------------------------------------- */

static void copy_key(const core_config_t *cfg, core_config_str_key_t key, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", core_config_str(cfg, key));
}

void core_tls_opts_from_config(const core_config_t *cfg, core_tls_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->enabled = core_config_bool(cfg, CORE_CFG_REDIS_TLS);
    copy_key(cfg, CORE_CFG_REDIS_TLS_CA_FILE, o->ca_file, sizeof o->ca_file);
    copy_key(cfg, CORE_CFG_REDIS_TLS_CA_DIR, o->ca_dir, sizeof o->ca_dir);
    copy_key(cfg, CORE_CFG_REDIS_TLS_CERT, o->cert, sizeof o->cert);
    copy_key(cfg, CORE_CFG_REDIS_TLS_KEY, o->key, sizeof o->key);
    copy_key(cfg, CORE_CFG_REDIS_TLS_SERVER_NAME, o->server_name, sizeof o->server_name);
    snprintf(o->section, sizeof o->section, "redis");
}

static const char *section_of(const core_tls_opts_t *o)
{
    return o->section[0] ? o->section : "tls";
}

/* ssl_reason writes OpenSSL's reason for the oldest queued error (the one
 * that started it) and empties the queue; "" when none. */
static void ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    const char *s = e ? ERR_reason_error_string(e) : NULL;

    if (!e)
        buf[0] = '\0';
    else if (s)
        snprintf(buf, cap, "%s", s);
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
}

/* no_passphrase: an encrypted key must not make OpenSSL prompt on the
 * terminal of a daemon; loading it fails instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

/* ctx_new builds the client context: TLS 1.2+, peer verification against
 * the configured CAs (or the system store), optional client certificate. */
static core_err_t ctx_new(const core_tls_opts_t *o, SSL_CTX **out, char *err, size_t errlen)
{
    const char *section = section_of(o);
    char why[200];
    SSL_CTX *ctx;
    core_err_t rc = CORE_ECONFIG;

    *out = NULL;
    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "TLS: cannot make a context: %s", why);
        return CORE_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (o->ca_file[0] && SSL_CTX_load_verify_file(ctx, o->ca_file) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "%s.tls_ca_file %s: cannot load CA certificates: %s", section,
                 o->ca_file, why);
        goto out;
    }
    if (o->ca_dir[0] && SSL_CTX_load_verify_dir(ctx, o->ca_dir) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "%s.tls_ca_dir %s: cannot use: %s", section, o->ca_dir, why);
        goto out;
    }
    if (!o->ca_file[0] && !o->ca_dir[0] && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "TLS: cannot load the system's CA store: %s", why);
        goto out;
    }
    if (o->cert[0] && SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "%s.tls_cert %s: cannot load: %s", section, o->cert, why);
        goto out;
    }
    if (o->key[0] && SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen,
                 "%s.tls_key %s: cannot load (a key without a passphrase is needed): %s", section,
                 o->key, why);
        goto out;
    }
    if (o->key[0] && SSL_CTX_check_private_key(ctx) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "%s.tls_key %s does not belong to %s.tls_cert %s: %s", section,
                 o->key, section, o->cert, why);
        goto out;
    }
    *out = ctx;
    ctx = NULL;
    rc = CORE_OK;
out:
    SSL_CTX_free(ctx);
    return rc;
}

core_err_t core_tls_check(const core_tls_opts_t *o, char *err, size_t errlen)
{
    const char *section = section_of(o);
    static const char *const keys[] = {"tls_ca_file", "tls_ca_dir", "tls_cert", "tls_key",
                                       "tls_server_name"};
    const char *vals[] = {o->ca_file, o->ca_dir, o->cert, o->key, o->server_name};
    struct stat st;
    SSL_CTX *ctx = NULL;
    core_err_t rc;

    if (!o->enabled) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (vals[i][0]) {
                snprintf(err, errlen,
                         "%s.%s is set but %s.tls is off: set %s.tls = true to use TLS "
                         "(or remove %s.%s)",
                         section, keys[i], section, section, section, keys[i]);
                return CORE_ECONFIG;
            }
        }
        return CORE_OK;
    }
    if (!o->cert[0] != !o->key[0]) {
        snprintf(err, errlen, "%s.tls_cert and %s.tls_key go together: set both or neither",
                 section, section);
        return CORE_ECONFIG;
    }
    if (o->ca_dir[0] && stat(o->ca_dir, &st) != 0) {
        snprintf(err, errlen, "%s.tls_ca_dir %s: %s", section, o->ca_dir, strerror(errno));
        return CORE_ECONFIG;
    }
    if (o->ca_dir[0] && !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s.tls_ca_dir %s: not a directory", section, o->ca_dir);
        return CORE_ECONFIG;
    }
    rc = ctx_new(o, &ctx, err, errlen);
    SSL_CTX_free(ctx);
    return rc;
}

/* ---- TCP ------------------------------------------------------------- */

/* wait_fd polls fd for ev until deadline (monotonic ms): 1 ready, 0 timed
 * out, -1 error (errno). */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, ev, 0};
        int64_t left = deadline - core_time_mono_ms();
        int n;
        if (left <= 0)
            return 0;
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static void tune_socket(int fd)
{
    int one = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_IDLE_S / 3, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* tcp_connect: a connected non-blocking socket to host:port, trying each
 * address in turn until the deadline. */
static core_err_t tcp_connect(const char *host, int port, int64_t deadline, int *out, char *err,
                              size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    const char *why = "no address";
    int gai, fd = -1;

    *out = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return CORE_ENET;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int soerr = 0, w;
        socklen_t sl = sizeof soerr;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            why = strerror(errno);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS) {
            why = strerror(errno);
        } else if ((w = wait_fd(fd, POLLOUT, deadline)) == 0) {
            why = "connect timed out";
        } else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            why = strerror(errno);
        } else if (soerr != 0) {
            why = strerror(soerr);
        } else {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "connect: %s", why);
        return CORE_ENET;
    }
    tune_socket(fd);
    *out = fd;
    return CORE_OK;
}

/* ---- handshake ------------------------------------------------------- */

static int is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* is_eof: OpenSSL 3 reports a TCP EOF without close_notify as an SSL error
 * (unexpected eof); it is a lost connection, not a TLS refusal. */
static int is_eof(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* set_name: what the certificate must name, and SNI for a DNS name. */
static core_err_t set_name(SSL *ssl, const char *name, char *err, size_t errlen)
{
    int ok;
    if (is_ip_literal(name)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
    } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl, name) == 1 && SSL_set_tlsext_host_name(ssl, name) == 1;
    }
    if (!ok) {
        char why[200];
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "TLS: '%s' cannot be used as the server name: %s", name, why);
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

/* handshake_failed turns a failed SSL_connect into a code and words. */
static core_err_t handshake_failed(core_tls_t *t, int e, char *err, size_t errlen)
{
    long v = SSL_get_verify_result(t->ssl);
    unsigned long first = ERR_peek_error();
    char why[200];
    int saved = errno;

    if (e == SSL_ERROR_SSL && v != X509_V_OK) {
        ERR_clear_error();
        snprintf(err, errlen, "TLS handshake with %s: server certificate refused: %s%s", t->at,
                 X509_verify_cert_error_string(v),
                 v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH
                     ? " (the certificate does not name this server; see tls_server_name)"
                     : "");
        return CORE_EAUTH;
    }
    if (e == SSL_ERROR_SSL && !is_eof(first)) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "TLS handshake with %s failed: %s", t->at, why);
        return CORE_EAUTH;
    }
    ssl_reason(why, sizeof why);
    snprintf(err, errlen, "TLS handshake with %s: connection lost (%s)", t->at,
             why[0]  ? why
             : saved ? strerror(saved)
                     : "the server closed it");
    return CORE_ENET;
}

static core_err_t handshake(core_tls_t *t, int64_t deadline, char *err, size_t errlen)
{
    for (;;) {
        int r, e, w;
        ERR_clear_error();
        errno = 0;
        r = SSL_connect(t->ssl);
        if (r == 1)
            return CORE_OK;
        e = SSL_get_error(t->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return handshake_failed(t, e, err, errlen);
        w = wait_fd(t->sock, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "TLS handshake with %s: %s", t->at,
                     w == 0 ? "timed out (does the server speak TLS on this port?)"
                            : strerror(errno));
            return CORE_ENET;
        }
    }
}

/* ---- proxy ----------------------------------------------------------- */

static void set_status(core_tls_t *t, core_err_t code, const char *why)
{
    pthread_mutex_lock(&t->mu);
    if (t->status == CORE_OK) {
        t->status = code;
        snprintf(t->why, sizeof t->why, "TLS connection to %s: %s", t->at, why);
    }
    pthread_mutex_unlock(&t->mu);
}

/* server_broke records why SSL_read/SSL_write failed with error e. A TLS
 * alert from the server (reason codes from SSL_AD_REASON_OFFSET on) is a
 * refusal; everything else is a lost connection. */
static void server_broke(core_tls_t *t, int e)
{
    unsigned long first = ERR_peek_error();
    char why[200];
    int saved = errno;

    if (e == SSL_ERROR_ZERO_RETURN) {
        set_status(t, CORE_ENET, "the server closed the connection");
    } else if (e == SSL_ERROR_SSL && !is_eof(first)) {
        int alert =
            ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) >= SSL_AD_REASON_OFFSET;
        ssl_reason(why, sizeof why);
        set_status(t, alert ? CORE_EAUTH : CORE_ENET, why);
    } else {
        char lost[240];
        ssl_reason(why, sizeof why);
        snprintf(lost, sizeof lost, "connection lost (%s)",
                 why[0]  ? why
                 : saved ? strerror(saved)
                         : "the server went away");
        set_status(t, CORE_ENET, lost);
    }
    ERR_clear_error();
}

/* server_gone: deliver what was decrypted, let the caller read EOF, and
 * swallow its writes until it closes (or core_tls_free shuts us down). */
static void server_gone(core_tls_t *t, size_t lo, size_t hi)
{
    char scratch[4096];
    while (lo < hi) {
        ssize_t n = send(t->pair, t->down + lo, hi - lo, MSG_NOSIGNAL);
        if (n > 0)
            lo += (size_t)n;
        else if (!(n < 0 && errno == EINTR))
            break;
    }
    shutdown(t->pair, SHUT_WR);
    for (;;) {
        ssize_t n = recv(t->pair, scratch, sizeof scratch, 0);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
}

/* pump_down: SSL_read into down[*hi..]; sets *want (POLLIN/POLLOUT) when
 * OpenSSL needs the socket, and returns 0 then. 1 when the buffer filled
 * first: OpenSSL may hold more, so the loop must come back without waiting.
 * -1 with the status recorded when the server's side ended. */
static int pump_down(core_tls_t *t, size_t *hi, short *want)
{
    while (*hi < BUF) {
        int n, e;
        ERR_clear_error();
        errno = 0;
        n = SSL_read(t->ssl, t->down + *hi, (int)(BUF - *hi));
        if (n > 0) {
            *hi += (size_t)n;
            continue;
        }
        e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *want |= e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }
        server_broke(t, e);
        return -1;
    }
    return 1;
}

/* pump_up: SSL_write what up holds; same conventions as pump_down. */
static int pump_up(core_tls_t *t, size_t *len, short *want)
{
    while (*len > 0) {
        int n, e;
        ERR_clear_error();
        errno = 0;
        n = SSL_write(t->ssl, t->up, (int)*len);
        if (n > 0) {
            memmove(t->up, t->up + n, *len - (size_t)n);
            *len -= (size_t)n;
            continue;
        }
        e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *want |= e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }
        server_broke(t, e);
        return -1;
    }
    return 0;
}

static void *proxy_main(void *arg)
{
    core_tls_t *t = arg;
    size_t up = 0, lo = 0, hi = 0;
    int more = 0; /* down filled before OpenSSL ran dry */

    for (;;) {
        struct pollfd p[2];
        short want = 0;
        ssize_t n;

        if (lo == hi)
            lo = hi = 0;
        if (hi < BUF && (more = pump_down(t, &hi, &want)) < 0)
            goto server_side;
        while (lo < hi) {
            n = send(t->pair, t->down + lo, hi - lo, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                lo += (size_t)n;
            else if (n < 0 && errno == EINTR)
                continue;
            else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            else
                goto caller_side;
        }
        if (up < BUF) {
            n = recv(t->pair, t->up + up, BUF - up, MSG_DONTWAIT);
            if (n > 0)
                up += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                goto caller_side;
        }
        if (pump_up(t, &up, &want) != 0)
            goto server_side;
        if (more && lo == hi)
            continue; /* delivered a full buffer: read on before waiting */
        /* A descriptor with nothing to wait for is left out (fd -1), so a
         * hang-up we cannot act on yet does not make poll() spin. */
        p[0].events = (short)((up < BUF ? POLLIN : 0) | (lo < hi ? POLLOUT : 0));
        p[0].fd = p[0].events ? t->pair : -1;
        p[1].events = want;
        p[1].fd = want ? t->sock : -1;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            set_status(t, CORE_ENET, strerror(errno));
            goto server_side;
        }
    }
server_side:
    server_gone(t, lo, hi);
    return NULL;
caller_side:
    /* The caller closed (or core_tls_free): close_notify, best effort. */
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
    set_status(t, CORE_ENET, "closed");
    return NULL;
}

/* ---- life cycle ------------------------------------------------------ */

/* start_proxy makes the socketpair and starts the thread with every signal
 * blocked (it inherits the mask at creation). */
static core_err_t start_proxy(core_tls_t *t, int *fd_out, char *err, size_t errlen)
{
    int sv[2];
    sigset_t all, old;
    int rc;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "TLS: socketpair: %s", strerror(errno));
        return CORE_ENET;
    }
    t->pair = sv[1];
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t->th, NULL, proxy_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(sv[0]);
        snprintf(err, errlen, "TLS: cannot start the proxy thread: %s", strerror(rc));
        return CORE_ENOMEM;
    }
    t->started = 1;
    *fd_out = sv[0];
    return CORE_OK;
}

/* A handshake can write to a socket the server has closed: SIGPIPE is
 * blocked meanwhile, and one it raised in this thread is taken back. */
typedef struct sigpipe_guard {
    sigset_t old;
    int was_pending;
} sigpipe_guard_t;

static void sigpipe_block(sigpipe_guard_t *g)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
}

static void sigpipe_restore(sigpipe_guard_t *g)
{
    if (!g->was_pending) {
        sigset_t set;
        struct timespec zero = {0, 0};
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) == SIGPIPE) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

core_err_t core_tls_connect(const core_tls_opts_t *o, const char *host, int port,
                            int64_t timeout_ms, core_tls_t **out, int *fd_out, char *err,
                            size_t errlen)
{
    const char *name = o->server_name[0] ? o->server_name : host;
    int64_t deadline = core_time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 2000);
    char why[512] = "";
    sigpipe_guard_t guard;
    core_tls_t *t;
    core_err_t rc;

    *out = NULL;
    *fd_out = -1;
    t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "TLS: out of memory");
        return CORE_ENOMEM;
    }
    t->sock = t->pair = -1;
    pthread_mutex_init(&t->mu, NULL);
    if (strcmp(name, host) == 0)
        snprintf(t->at, sizeof t->at, "%s:%d", host, port);
    else
        snprintf(t->at, sizeof t->at, "%s:%d (as %s)", host, port, name);
    sigpipe_block(&guard);
    rc = ctx_new(o, &t->ctx, err, errlen);
    if (rc != CORE_OK)
        goto out;
    rc = tcp_connect(host, port, deadline, &t->sock, why, sizeof why);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "%s: %s", t->at, why);
        goto out;
    }
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, t->sock) != 1) {
        snprintf(err, errlen, "TLS: out of memory");
        rc = CORE_ENOMEM;
        goto out;
    }
    if ((rc = set_name(t->ssl, name, err, errlen)) != CORE_OK ||
        (rc = handshake(t, deadline, err, errlen)) != CORE_OK ||
        (rc = start_proxy(t, fd_out, err, errlen)) != CORE_OK)
        goto out;
    *out = t;
    t = NULL;
out:
    sigpipe_restore(&guard);
    core_tls_free(t);
    return rc;
}

core_err_t core_tls_status(core_tls_t *t, char *err, size_t errlen)
{
    core_err_t rc;
    pthread_mutex_lock(&t->mu);
    rc = t->status;
    if (err && errlen)
        snprintf(err, errlen, "%s", rc == CORE_OK ? "" : t->why);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void core_tls_free(core_tls_t *t)
{
    if (!t)
        return;
    if (t->started) {
        shutdown(t->pair, SHUT_RDWR); /* wakes the proxy wherever it waits */
        pthread_join(t->th, NULL);
    }
    if (t->pair >= 0)
        close(t->pair);
    SSL_free(t->ssl);
    if (t->sock >= 0)
        close(t->sock);
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
