/* Tests of core_tls against a real redis-server listening with TLS only,
 * on certificates made at run time (tests/common/th_tls): a verified
 * connection carries RESP both ways (also 1 MiB values, so the proxy's
 * buffers fill and drain), a wrong CA, a wrong name, a required client
 * certificate, a server killed under an open connection, a server that
 * never answers the handshake, option checks, and no descriptor or thread
 * left behind. RESP is spoken by hand here: core has no hiredis. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/core_tls.h"
#include "tests/common/th.h"
#include "tests/common/th_tls.h"
#include "tests/core/suites.h"

static th_tls_t T;

static void make_certs(void)
{
    if (th_tls_make(&T) != 0)
        T.dir[0] = '\0';
}

static void free_certs(void)
{
    th_tls_free(&T);
}

static core_tls_opts_t opts(const char *ca)
{
    core_tls_opts_t o;
    memset(&o, 0, sizeof o);
    o.enabled = 1;
    snprintf(o.ca_file, sizeof o.ca_file, "%s", ca ? ca : "");
    snprintf(o.section, sizeof o.section, "redis");
    return o;
}

static void start(th_redis_t *r, const char *auth_clients)
{
    ck_assert_msg(T.dir[0], "could not make the test certificates (openssl)");
    ck_assert_msg(th_redis_start_tls(r, &T, auth_clients) == 0,
                  "redis-server did not start with TLS (see its log)");
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        ck_assert_msg(w > 0, "write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* read_n reads exactly n bytes; returns what it got (less at EOF). */
static size_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* line reads one reply line ("+PONG", ":3"); "" at EOF. */
static void line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1 && c != '\n')
        if (c != '\r')
            out[n++] = c;
    out[n] = '\0';
}

static int connect_ok(const core_tls_opts_t *o, const char *host, int port, core_tls_t **t)
{
    char err[512] = "";
    int fd = -1;
    core_err_t rc = core_tls_connect(o, host, port, 3000, t, &fd, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "core_tls_connect: %s (%s)", core_strerror(rc), err);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void ping(int fd)
{
    char buf[64];
    send_all(fd, "PING\r\n", 6);
    line(fd, buf, sizeof buf);
    ck_assert_str_eq(buf, "+PONG");
}

START_TEST(verified_round_trip)
{
    th_redis_t r;
    core_tls_opts_t o = opts(T.ca);
    core_tls_t *t = NULL;
    char buf[64], err[256];
    const size_t big = 1 << 20;
    char *val = malloc(big), *back = malloc(big + 2), hdr[64];
    int fd;

    ck_assert_ptr_nonnull(val);
    ck_assert_ptr_nonnull(back);
    start(&r, "no");
    /* By IP (the certificate's IP SAN), CA file. */
    fd = connect_ok(&o, "127.0.0.1", r.port, &t);
    ping(fd);
    for (int i = 1; i <= 3; i++) {
        char want[16];
        send_all(fd, "INCR k\r\n", 8);
        line(fd, buf, sizeof buf);
        snprintf(want, sizeof want, ":%d", i);
        ck_assert_str_eq(buf, want);
    }
    /* 1 MiB each way: more than every buffer on the path. */
    for (size_t i = 0; i < big; i++)
        val[i] = (char)('a' + (i * 7919) % 26);
    snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", big);
    send_all(fd, hdr, strlen(hdr));
    send_all(fd, val, big);
    send_all(fd, "\r\nGET big\r\n", 11);
    line(fd, buf, sizeof buf);
    ck_assert_str_eq(buf, "+OK");
    line(fd, buf, sizeof buf);
    snprintf(hdr, sizeof hdr, "$%zu", big);
    ck_assert_str_eq(buf, hdr);
    ck_assert_uint_eq(read_n(fd, back, big + 2), big + 2);
    ck_assert(memcmp(back, val, big) == 0);
    ck_assert_int_eq(core_tls_status(t, err, sizeof err), CORE_OK);
    ck_assert_str_eq(err, "");
    close(fd);
    core_tls_free(t);

    /* By DNS name (SNI + host check), CA directory instead of file. */
    o = opts(NULL);
    snprintf(o.ca_dir, sizeof o.ca_dir, "%s", T.ca_dir);
    fd = connect_ok(&o, "localhost", r.port, &t);
    ping(fd);
    close(fd);
    core_tls_free(t);
    /* The name to verify given apart from the address connected to. */
    o = opts(T.ca);
    snprintf(o.server_name, sizeof o.server_name, "localhost");
    fd = connect_ok(&o, "127.0.0.1", r.port, &t);
    ping(fd);
    close(fd);
    core_tls_free(t);
    free(val);
    free(back);
    th_redis_stop(&r);
}
END_TEST

START_TEST(wrong_ca_refused)
{
    th_redis_t r;
    core_tls_opts_t o = opts(T.other_ca);
    core_tls_t *t = (core_tls_t *)1;
    char err[512] = "", at[64];
    int fd = 5;

    start(&r, "no");
    ck_assert_int_eq(core_tls_connect(&o, "127.0.0.1", r.port, 3000, &t, &fd, err, sizeof err),
                     CORE_EAUTH);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(fd, -1);
    snprintf(at, sizeof at, "127.0.0.1:%d", r.port);
    /* (OpenSSL's words depend on whether the server sends its CA too.) */
    ck_assert_msg(strstr(err, at) && strstr(err, "server certificate refused") &&
                      (strstr(err, "unable to get local issuer certificate") ||
                       strstr(err, "self-signed certificate in certificate chain")),
                  "%s", err);
    th_redis_stop(&r);
}
END_TEST

START_TEST(wrong_name_refused)
{
    th_redis_t r;
    core_tls_opts_t o = opts(T.ca);
    core_tls_t *t = NULL;
    char err[512] = "";
    int fd;

    start(&r, "no");
    snprintf(o.server_name, sizeof o.server_name, "redis.example.com");
    ck_assert_int_eq(core_tls_connect(&o, "127.0.0.1", r.port, 3000, &t, &fd, err, sizeof err),
                     CORE_EAUTH);
    ck_assert_msg(strstr(err, "hostname mismatch") && strstr(err, "as redis.example.com"), "%s",
                  err);
    /* An IP the certificate does not carry. */
    snprintf(o.server_name, sizeof o.server_name, "127.0.0.2");
    ck_assert_int_eq(core_tls_connect(&o, "127.0.0.1", r.port, 3000, &t, &fd, err, sizeof err),
                     CORE_EAUTH);
    ck_assert_msg(strstr(err, "IP address mismatch"), "%s", err);
    th_redis_stop(&r);
}
END_TEST

START_TEST(client_certificate)
{
    th_redis_t r;
    core_tls_opts_t o = opts(T.ca);
    core_tls_t *t = NULL;
    char err[512] = "", buf[64];
    core_err_t rc;
    int fd = -1;

    start(&r, "yes");
    /* None given: TLS 1.3 finishes the client's handshake before the
     * server checks; its refusal arrives as an alert on the first read. */
    rc = core_tls_connect(&o, "127.0.0.1", r.port, 3000, &t, &fd, err, sizeof err);
    if (rc == CORE_OK) {
        send_all(fd, "PING\r\n", 6);
        line(fd, buf, sizeof buf);
        ck_assert_str_eq(buf, ""); /* EOF */
        rc = core_tls_status(t, err, sizeof err);
        close(fd);
        core_tls_free(t);
    }
    ck_assert_int_eq(rc, CORE_EAUTH);
    ck_assert_msg(strstr(err, "certificate required"), "%s", err);
    /* Given: accepted. */
    snprintf(o.cert, sizeof o.cert, "%s", T.client_crt);
    snprintf(o.key, sizeof o.key, "%s", T.client_key);
    fd = connect_ok(&o, "127.0.0.1", r.port, &t);
    ping(fd);
    close(fd);
    core_tls_free(t);
    th_redis_stop(&r);
}
END_TEST

START_TEST(server_killed)
{
    th_redis_t r;
    core_tls_opts_t o = opts(T.ca);
    core_tls_t *t = NULL;
    struct timeval tv = {60, 0};
    char buf[64], err[512];
    int fd;

    start(&r, "no");
    fd = connect_ok(&o, "127.0.0.1", r.port, &t);
    ping(fd);
    /* A hang would end in EAGAIN after 60 s (past the test's timeout); the
     * proxy must pass the loss on as EOF at once. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    th_redis_kill(&r);
    send_all(fd, "PING\r\n", 6); /* swallowed or sent into the void: no SIGPIPE */
    errno = 0;
    ck_assert_int_eq(read(fd, buf, sizeof buf), 0);
    ck_assert_int_eq(core_tls_status(t, err, sizeof err), CORE_ENET);
    ck_assert_msg(strstr(err, "connection lost") || strstr(err, "closed"), "%s", err);
    /* Writing after the loss does not raise SIGPIPE either. */
    send_all(fd, "PING\r\n", 6);
    close(fd);
    core_tls_free(t);
    th_redis_stop(&r);
}
END_TEST

START_TEST(handshake_timeout_and_refused)
{
    core_tls_opts_t o = opts(T.ca);
    core_tls_t *t = NULL;
    char err[512] = "";
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = -1, ls = socket(AF_INET, SOCK_STREAM, 0), port;

    ck_assert_msg(T.dir[0], "could not make the test certificates (openssl)");
    /* A listener that never accepts: TCP connects, TLS never answers. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    port = ntohs(a.sin_port);
    ck_assert_int_eq(core_tls_connect(&o, "127.0.0.1", port, 300, &t, &fd, err, sizeof err),
                     CORE_ENET);
    ck_assert_msg(strstr(err, "TLS handshake") && strstr(err, "timed out"), "%s", err);
    close(ls);
    /* Nothing listening. */
    ck_assert_int_eq(
        core_tls_connect(&o, "127.0.0.1", th_free_port(), 1000, &t, &fd, err, sizeof err),
        CORE_ENET);
    ck_assert_msg(strstr(err, "Connection refused"), "%s", err);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(fd, -1);
}
END_TEST

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(no_fd_or_thread_left)
{
    th_redis_t r;
    core_tls_opts_t good = opts(T.ca), bad = opts(T.other_ca);
    core_tls_t *t = NULL;
    char err[512];
    int fds, threads, fd;

    start(&r, "no");
    /* One connection first: what the first one starts for good (OpenSSL's
     * init, ThreadSanitizer's background thread) is not a leak. */
    fd = connect_ok(&good, "127.0.0.1", r.port, &t);
    ping(fd);
    core_tls_free(t);
    close(fd);
    fds = count_dir("/proc/self/fd");
    threads = count_dir("/proc/self/task");
    for (int i = 0; i < 20; i++) {
        fd = connect_ok(&good, "127.0.0.1", r.port, &t);
        ping(fd);
        if (i % 2) { /* both orders: caller's end closed first, or not */
            close(fd);
            core_tls_free(t);
        } else {
            core_tls_free(t);
            close(fd);
        }
        ck_assert_int_ne(
            core_tls_connect(&bad, "127.0.0.1", r.port, 3000, &t, &fd, err, sizeof err), CORE_OK);
    }
    /* A connection whose server died, freed while the caller's end is open. */
    fd = connect_ok(&good, "127.0.0.1", r.port, &t);
    th_redis_kill(&r);
    core_tls_free(t);
    close(fd);
    ck_assert_int_eq(count_dir("/proc/self/fd"), fds);
    ck_assert_int_eq(count_dir("/proc/self/task"), threads);
    th_redis_stop(&r);
}
END_TEST

START_TEST(check_options)
{
    core_tls_opts_t o = opts(T.ca);
    char err[512] = "";

    ck_assert_msg(T.dir[0], "could not make the test certificates (openssl)");
    ck_assert_msg(core_tls_check(&o, err, sizeof err) == CORE_OK, "%s", err);
    /* System store: no CA given. */
    o = opts(NULL);
    ck_assert_msg(core_tls_check(&o, err, sizeof err) == CORE_OK, "%s", err);
    /* A CA with TLS off would send in plain text: refused. */
    o = opts(T.ca);
    o.enabled = 0;
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "redis.tls_ca_file is set but redis.tls is off"), "%s", err);
    /* Off and nothing set: fine. */
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_OK);
    /* Missing CA file. */
    o = opts("/nonexistent/ca.pem");
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "redis.tls_ca_file /nonexistent/ca.pem"), "%s", err);
    /* A file that holds no certificate. */
    o = opts(T.client_key);
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "cannot load CA certificates"), "%s", err);
    /* CA directory that is a file. */
    o = opts(NULL);
    snprintf(o.ca_dir, sizeof o.ca_dir, "%s", T.ca);
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "not a directory"), "%s", err);
    /* Certificate without key, and a key that is not the certificate's. */
    o = opts(T.ca);
    snprintf(o.cert, sizeof o.cert, "%s", T.client_crt);
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "go together"), "%s", err);
    snprintf(o.key, sizeof o.key, "%s", T.server_key);
    ck_assert_int_eq(core_tls_check(&o, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "redis.tls_key") && strstr(err, "mismatch"), "%s", err);
    snprintf(o.key, sizeof o.key, "%s", T.client_key);
    ck_assert_msg(core_tls_check(&o, err, sizeof err) == CORE_OK, "%s", err);
}
END_TEST

Suite *suite_tls(void)
{
    Suite *s = suite_create("core_tls");
    TCase *tc = tcase_create("redis_tls");
    tcase_add_unchecked_fixture(tc, make_certs, free_certs);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, verified_round_trip);
    tcase_add_test(tc, wrong_ca_refused);
    tcase_add_test(tc, wrong_name_refused);
    tcase_add_test(tc, client_certificate);
    tcase_add_test(tc, server_killed);
    tcase_add_test(tc, handshake_timeout_and_refused);
    tcase_add_test(tc, no_fd_or_thread_left);
    tcase_add_test(tc, check_options);
    suite_add_tcase(s, tc);
    return s;
}
