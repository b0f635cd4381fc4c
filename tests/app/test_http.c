/* test_http: app_http against real sockets (issue 18, finding 1 and the
 * HTTP part of its "what to build").
 *
 * - slow clients: 300 connections that trickle one header line every 5 s
 *   (the attack) used to hold every one of libmicrohttpd's 256
 *   connections for as long as they lasted (its idle timeout restarts at
 *   every byte), and /metrics timed out. Now one address gets
 *   http.per_ip_connections of them, a monitor on another address is
 *   answered all along, and http.request_timeout closes the trickling ones,
 *   after which a client on the attacker's own address is answered too.
 * - the operations listener: 300 trickling connections from ten addresses
 *   (within the per-address limit, filling the dashboard listener's 256)
 *   leave /metrics on http.ops_listen answering.
 * - the deadline counts from connect, so neither a trickled header, nor a
 *   stalled TLS handshake, nor a kept-alive connection extends it; it ends
 *   once the request is complete (a slow handler is not the client's).
 * - authentication: bearer and Basic credentials from files, per area, 401
 *   with WWW-Authenticate, configuration errors naming the key.
 * - HTTPS with a certificate made by `openssl req` at run time (not added
 *   when openssl or libmicrohttpd's TLS is missing; main.c reports skipped).
 *
 * Timings (answer times of /metrics, lifetimes of the trickling
 * connections) are printed, never asserted beyond generous bounds. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app_http.h"
#include "core/core_config.h"
#include "core/core_time.h"
#include "tests/common/th.h"

#define ATTACKERS 300

static void stub(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    (void)req;
    app_http_respond_text(resp, 200, NULL, ctx);
}

static void slow_stub(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    usleep(1500000); /* a handler slower than the test's 1 s request deadline */
    stub(ctx, req, resp);
}

/* server: an app_http from a config text (plus listen on a free port) with
 * /metrics, /healthz and a dashboard subtree "/" (body "page"). */
static app_http_t *server(const char *conf)
{
    core_config_t *cfg = NULL;
    app_http_t *h = NULL;
    char err[1024] = "", text[4096];

    snprintf(text, sizeof text, "[http]\nlisten = 127.0.0.1:0\n%s", conf);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_msg(app_http_new_config(cfg, &h, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    ck_assert_int_eq(app_http_route_area(h, APP_HTTP_METRICS, "/metrics", stub, "metrics"),
                     CORE_OK);
    ck_assert_int_eq(app_http_route_area(h, APP_HTTP_HEALTH, "/healthz", stub, "health"), CORE_OK);
    ck_assert_int_eq(app_http_route(h, "/", stub, "page"), CORE_OK);
    ck_assert_int_eq(app_http_route(h, "/slow", slow_stub, "slow"), CORE_OK);
    ck_assert_msg(app_http_start(h, err, sizeof err) == CORE_OK, "%s", err);
    return h;
}

/* config_error: app_http_new_config on conf must fail with want in err. */
static void config_error(const char *conf, const char *want)
{
    core_config_t *cfg = NULL;
    app_http_t *h = NULL;
    char err[1024] = "", text[4096];

    snprintf(text, sizeof text, "[http]\nlisten = 127.0.0.1:0\n%s", conf);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_msg(app_http_new_config(cfg, &h, err, sizeof err) != CORE_OK, "accepted: %s", conf);
    ck_assert_ptr_null(h);
    ck_assert_msg(strstr(err, want), "error '%s' lacks '%s'", err, want);
    core_config_free(cfg);
}

/* ---- a probe: one GET through libcurl -------------------------------- */

typedef struct probe {
    const char *from;   /* source address, or NULL */
    const char *auth;   /* an Authorization header value, or NULL */
    const char *cafile; /* https: the CA to trust */
    long timeout_ms;    /* default 5000 */
} probe_t;

typedef struct reply {
    long status; /* 0: no answer */
    double ms;
    char body[256];
    char www[256]; /* WWW-Authenticate values, '|'-separated */
} reply_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t have = strlen(r->body), add = sz * n;
    if (have + add < sizeof r->body) {
        memcpy(r->body + have, p, add);
        r->body[have + add] = '\0';
    }
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t len = sz * n;
    if (len > 18 && strncasecmp(p, "WWW-Authenticate: ", 18) == 0) {
        size_t have = strlen(r->www);
        snprintf(r->www + have, sizeof r->www - have, "%s%.*s", have ? "|" : "",
                 (int)(len - 18 - 2), p + 18);
    }
    return len;
}

static reply_t get(const char *scheme, int port, const char *path, const probe_t *p)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    reply_t r = {0};
    char url[256], auth[512];
    int64_t t0 = core_time_mono_ns();

    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof url, "%s://%s:%d%s", scheme, p && p->cafile ? "localhost" : "127.0.0.1",
             port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p && p->timeout_ms ? p->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_RESOLVE, NULL);
    if (p && p->from)
        curl_easy_setopt(c, CURLOPT_INTERFACE, p->from);
    if (p && p->auth) {
        snprintf(auth, sizeof auth, "Authorization: %s", p->auth);
        hdr = curl_slist_append(hdr, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    }
    if (p && p->cafile) {
        char resolve[64];
        struct curl_slist *res = NULL;
        snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", port);
        res = curl_slist_append(res, resolve);
        curl_easy_setopt(c, CURLOPT_RESOLVE, res);
        curl_easy_setopt(c, CURLOPT_CAINFO, p->cafile);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_slist_free_all(res);
    } else if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    }
    r.ms = (double)(core_time_mono_ns() - t0) / 1e6;
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return r;
}

/* ---- trickling clients ------------------------------------------------ */

typedef struct trickle {
    int n;
    int fd[ATTACKERS];
    int64_t opened[ATTACKERS], closed[ATTACKERS]; /* mono ms; closed 0: open */
    int interval_ms;
    volatile int stop;
    pthread_t thread;
} trickle_t;

static int open_from(const char *from, int port)
{
    struct sockaddr_in a = {0}, src = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    src.sin_family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, from, &src.sin_addr), 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                  strerror(errno));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* reap notes the connections the server has closed (EOF or reset). */
static void reap(trickle_t *t)
{
    for (int i = 0; i < t->n; i++) {
        char b[256];
        ssize_t got;
        if (t->closed[i])
            continue;
        got = recv(t->fd[i], b, sizeof b, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            t->closed[i] = core_time_mono_ms();
    }
}

static void *trickle_main(void *arg)
{
    trickle_t *t = arg;
    int64_t next = core_time_mono_ms() + t->interval_ms;
    unsigned line = 0;
    while (!t->stop) {
        usleep(20000);
        reap(t);
        if (core_time_mono_ms() < next)
            continue;
        next += t->interval_ms;
        for (int i = 0; i < t->n; i++) {
            char h[64];
            int len = snprintf(h, sizeof h, "X-Slow-%u: %u\r\n", line, line);
            if (!t->closed[i])
                (void)send(t->fd[i], h, (size_t)len, MSG_NOSIGNAL);
        }
        line++;
    }
    return NULL;
}

/* trickle_start opens n connections to port, connection i from
 * froms[i % nfrom], each sending a request line at once and a header line
 * every interval_ms (never the blank line that ends a header). */
static void trickle_start(trickle_t *t, int n, const char *const *froms, int nfrom, int port,
                          int interval_ms)
{
    static const char line[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    memset(t, 0, sizeof *t);
    t->n = n;
    t->interval_ms = interval_ms;
    for (int i = 0; i < n; i++) {
        t->fd[i] = open_from(froms[i % nfrom], port);
        t->opened[i] = core_time_mono_ms();
        (void)send(t->fd[i], line, sizeof line - 1, MSG_NOSIGNAL);
    }
    ck_assert_int_eq(pthread_create(&t->thread, NULL, trickle_main, t), 0);
}

static int trickle_open(trickle_t *t)
{
    int open = 0;
    for (int i = 0; i < t->n; i++)
        open += t->closed[i] == 0;
    return open;
}

static void trickle_stop(trickle_t *t)
{
    t->stop = 1;
    pthread_join(t->thread, NULL);
    for (int i = 0; i < t->n; i++)
        close(t->fd[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summary(const char *what, double *ms, int n)
{
    if (n == 0) {
        printf("%s: no sample\n", what);
        return;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    printf("%s: %d answers, min %.1f ms, median %.1f ms, max %.1f ms\n", what, n, ms[0], ms[n / 2],
           ms[n - 1]);
    fflush(stdout);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2048 && rl.rlim_max >= 2048) {
        rl.rlim_cur = 2048;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- tests -------------------------------------------------------------- */

/* The attack on the default limits: 300 connections from one
 * address, one header line every 5 s. */
START_TEST(slow_clients_one_address)
{
    static const char *const attacker[] = {"127.0.0.1"};
    probe_t other = {"127.0.0.2", NULL, NULL, 5000}, same = {"127.0.0.1", NULL, NULL, 5000};
    app_http_t *h;
    trickle_t *t = calloc(1, sizeof *t);
    double ms[64];
    int n = 0, held;
    int64_t t0, deadline_ms = 10000;

    raise_fd_limit();
    h = server(""); /* every limit at its default: 256, 32 per address, 10 s, 15 s */
    trickle_start(t, ATTACKERS, attacker, 1, app_http_port(h), 5000);
    t0 = t->opened[0];
    usleep(500000);
    held = trickle_open(t);
    printf("slow_clients_one_address: %d of %d trickling connections held (per-address limit "
           "32)\n",
           held, ATTACKERS);
    ck_assert_int_le(held, 32);
    /* a monitor on another address, every 500 ms while the trickle lasts */
    while (core_time_mono_ms() - t0 < deadline_ms - 1000 && n < 64) {
        reply_t r = get("http", app_http_port(h), "/metrics", &other);
        ck_assert_msg(r.status == 200,
                      "/metrics from 127.0.0.2 at %lld ms: status %ld after %.0f ms",
                      (long long)(core_time_mono_ms() - t0), r.status, r.ms);
        ms[n++] = r.ms;
        usleep(500000);
    }
    summary("  /metrics from 127.0.0.2 under the trickle", ms, n);
    /* the trickle cannot extend http.request_timeout: 11.5 s after they
     * connected, the held connections are closed, and the attacker's own
     * address is answered again */
    while (core_time_mono_ms() - t0 < deadline_ms + 1500)
        usleep(100000);
    {
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < t->n; i++) {
            int64_t life = t->closed[i] ? t->closed[i] - t->opened[i] : -1;
            if (life > 500) { /* held ones (refused ones close at once) */
                lo = life < lo ? life : lo;
                hi = life > hi ? life : hi;
            }
        }
        printf("  held connections closed after %lld..%lld ms (http.request_timeout 10 s; "
               "%llu closed by the deadline); still open: %d\n",
               (long long)lo, (long long)hi, app_http_timed_out(h), trickle_open(t));
    }
    ck_assert_int_eq(trickle_open(t), 0);
    ck_assert_uint_ge(app_http_timed_out(h), (unsigned long long)held);
    n = 0;
    for (int i = 0; i < 5; i++) {
        reply_t r = get("http", app_http_port(h), "/metrics", &same);
        ck_assert_msg(r.status == 200, "/metrics from 127.0.0.1 after the deadline: %ld", r.status);
        ms[n++] = r.ms;
    }
    summary("  /metrics from 127.0.0.1 after the deadline", ms, n);
    trickle_stop(t);
    free(t);
    app_http_free(h);
}
END_TEST

/* 300 trickling connections from ten addresses, 30 each (within the
 * per-address limit): the dashboard listener is full, /metrics on
 * http.ops_listen is answered. */
START_TEST(ops_listener_under_load)
{
    static const char *const many[] = {"127.0.0.2",  "127.0.0.3", "127.0.0.4", "127.0.0.5",
                                       "127.0.0.6",  "127.0.0.7", "127.0.0.8", "127.0.0.9",
                                       "127.0.0.10", "127.0.0.11"};
    probe_t p = {"127.0.0.1", NULL, NULL, 5000};
    char conf[128];
    app_http_t *h;
    trickle_t *t = calloc(1, sizeof *t);
    double ms[64];
    int n = 0, held;
    reply_t dash, moved;

    raise_fd_limit();
    snprintf(conf, sizeof conf, "ops_listen = 127.0.0.1:%d\n", th_free_port());
    h = server(conf);
    ck_assert_int_gt(app_http_ops_port(h), 0);
    /* the operations routes moved: not on the dashboard's listener */
    moved = get("http", app_http_port(h), "/metrics", &p);
    ck_assert_int_eq(moved.status, 200);
    ck_assert_str_eq(moved.body, "page"); /* the "/" subtree, not /metrics */
    trickle_start(t, ATTACKERS, many, 10, app_http_port(h), 5000);
    usleep(500000);
    held = trickle_open(t);
    dash = get("http", app_http_port(h), "/", &(probe_t){"127.0.0.12", NULL, NULL, 2000});
    printf("ops_listener_under_load: %d of %d trickling connections open on the dashboard "
           "listener (it accepts 256, the rest wait in its listen backlog); a dashboard request "
           "from a new address: status %ld after %.0f ms\n",
           held, ATTACKERS, dash.status, dash.ms);
    ck_assert_int_ge(held, 250);
    for (int i = 0; i < 10; i++) {
        reply_t r = get("http", app_http_ops_port(h), "/metrics", &p);
        ck_assert_msg(r.status == 200, "/metrics on ops_listen: status %ld", r.status);
        ck_assert_str_eq(r.body, "metrics");
        ms[n++] = r.ms;
        r = get("http", app_http_ops_port(h), "/healthz", &p);
        ck_assert_int_eq(r.status, 200);
        r = get("http", app_http_ops_port(h), "/", &p); /* no dashboard there */
        ck_assert_int_eq(r.status, 404);
        usleep(300000);
    }
    summary("  /metrics on http.ops_listen under the trickle", ms, n);
    trickle_stop(t);
    free(t);
    app_http_free(h);
}
END_TEST

/* The deadline counts from connect: a header trickled every 200 ms, a
 * connection that never sends a byte, and a kept-alive connection that
 * trickles its second request are all closed at http.request_timeout
 * (1 s here; libmicrohttpd's idle timeout is 15 s). A request that is
 * complete in time is answered; a POST is answered 405 before its body. */
START_TEST(deadline_from_connect)
{
    static const char *const from[] = {"127.0.0.1"};
    app_http_t *h = server("request_timeout = 1s\n");
    trickle_t *t = calloc(1, sizeof *t);
    int port = app_http_port(h), fd;
    char buf[4096];
    ssize_t got;
    int64_t t0;

    trickle_start(t, 2, from, 1, port, 200);
    fd = open_from("127.0.0.1", port); /* silent */
    t0 = core_time_mono_ms();
    while (core_time_mono_ms() - t0 < 4000 && trickle_open(t) > 0)
        usleep(50000);
    printf("deadline_from_connect: trickling connections closed after %lld and %lld ms "
           "(request_timeout 1 s)\n",
           (long long)(t->closed[0] - t->opened[0]), (long long)(t->closed[1] - t->opened[1]));
    ck_assert_int_eq(trickle_open(t), 0);
    ck_assert_int_lt(t->closed[0] - t->opened[0], 3000);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    got = recv(fd, buf, sizeof buf, 0);
    ck_assert_int_le(got, 0); /* closed without a word */
    close(fd);
    trickle_stop(t);
    free(t);

    /* keep-alive: one answered request, then a trickled second one */
    fd = open_from("127.0.0.1", port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    {
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ck_assert_int_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
        got = recv(fd, buf, sizeof buf - 1, 0);
        ck_assert_int_gt(got, 0);
        buf[got] = '\0';
        ck_assert_msg(strstr(buf, "200 OK") && strstr(buf, "health"), "%s", buf);
        t0 = core_time_mono_ms();
        for (int i = 0; i < 30; i++) {
            if (send(fd, "G", 1, MSG_NOSIGNAL) != 1)
                break;
            usleep(200000);
        }
        printf("  kept-alive connection trickling its next request: closed after %lld ms\n",
               (long long)(core_time_mono_ms() - t0));
        ck_assert_int_lt(core_time_mono_ms() - t0, 4000);
    }
    close(fd);

    /* a POST: 405 at once, its (endless) body never read */
    fd = open_from("127.0.0.1", port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    {
        static const char req[] =
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc";
        ck_assert_int_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
        got = recv(fd, buf, sizeof buf - 1, 0);
        ck_assert_int_gt(got, 0);
        buf[got] = '\0';
        ck_assert_msg(strstr(buf, "405") && strstr(buf, "Allow: GET, HEAD"), "%s", buf);
    }
    close(fd);
    /* the deadline is the client's: a handler slower than it still answers */
    {
        reply_t r = get("http", port, "/slow", NULL);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "slow");
        printf("  a 1.5 s handler under a 1 s request deadline: %ld after %.0f ms\n", r.status,
               r.ms);
    }
    ck_assert_uint_ge(app_http_timed_out(h), 4);
    app_http_free(h);
}
END_TEST

static char DIR_[512];

static const char *secret_file(const char *name, const char *text)
{
    static char paths[8][600];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 600, "%s/%s", DIR_, name);
    ck_assert_int_eq(th_write_file(p, text, strlen(text)), 0);
    ck_assert_int_eq(chmod(p, 0600), 0);
    return p;
}

static void auth_setup(void)
{
    snprintf(DIR_, sizeof DIR_, "%s", th_tmpdir("http"));
}

static void auth_teardown(void)
{
    th_rmtree(DIR_);
}

static void expect(int port, const char *path, const char *auth, long status, const char *www)
{
    probe_t p = {NULL, auth, NULL, 5000};
    reply_t r = get("http", port, path, &p);
    ck_assert_msg(r.status == status, "GET %s with %s: %ld, want %ld", path,
                  auth ? auth : "no credentials", r.status, status);
    if (www)
        ck_assert_msg(strcmp(r.www, www) == 0, "GET %s: WWW-Authenticate '%s', want '%s'", path,
                      r.www, www);
}

START_TEST(authentication)
{
    char conf[2048];
    app_http_t *h;
    int port;
    /* "ops:s3cret pass" and "finsent:dash-pw" in base64 */
    const char *basic_ops = "Basic b3BzOnMzY3JldCBwYXNz";
    const char *basic_dash = "Basic Zmluc2VudDpkYXNoLXB3";

    snprintf(conf, sizeof conf,
             "auth_token_file = %s\nauth_basic_file = %s\nmetrics_auth_token_file = %s\n"
             "metrics_auth_basic_file = %s\n",
             secret_file("dash.token", "dash-token-0123456789\n"),
             secret_file("dash.basic", "finsent:dash-pw\r\n"),
             secret_file("metrics.token", "metrics-token-abcdef"),
             secret_file("metrics.basic", "ops:s3cret pass\n"));
    h = server(conf);
    port = app_http_port(h);
    expect(port, "/", NULL, 401,
           "Basic realm=\"finsent\", charset=\"UTF-8\"|Bearer realm=\"finsent\"");
    expect(port, "/api/rates", "Bearer dash-token-0123456789", 200, NULL);
    expect(port, "/", "bearer   dash-token-0123456789", 200, NULL); /* scheme in any case */
    expect(port, "/", basic_dash, 200, NULL);
    expect(port, "/", "Bearer dash-token-012345678", 401, NULL);   /* a prefix */
    expect(port, "/", "Bearer dash-token-01234567890", 401, NULL); /* longer */
    expect(port, "/", "Bearer metrics-token-abcdef", 401, NULL);   /* another area's */
    expect(port, "/", basic_ops, 401, NULL);
    expect(port, "/", "Basic !!!notbase64", 401, NULL);
    expect(port, "/", "Digest username=\"finsent\"", 401, NULL);
    expect(port, "/metrics", NULL, 401, NULL);
    expect(port, "/metrics", "Bearer metrics-token-abcdef", 200, NULL);
    expect(port, "/metrics", basic_ops, 200, NULL);
    expect(port, "/metrics", "Bearer dash-token-0123456789", 401, NULL);
    expect(port, "/healthz", NULL, 200, NULL); /* open by default */
    expect(port, "/nope", NULL, 401, NULL);    /* the page server's subtree */
    app_http_free(h);

    /* token only for /metrics; /healthz with it (http.healthz_auth) */
    snprintf(conf, sizeof conf, "metrics_auth_token_file = %s\nhealthz_auth = true\n",
             secret_file("m2.token", "tok"));
    h = server(conf);
    port = app_http_port(h);
    expect(port, "/", NULL, 200, NULL); /* the dashboard stays open */
    expect(port, "/metrics", NULL, 401, "Bearer realm=\"finsent\"");
    expect(port, "/healthz", NULL, 401, "Bearer realm=\"finsent\"");
    expect(port, "/healthz", "Bearer tok", 200, NULL);
    expect(port, "/metrics", "Basic dG9rOg==", 401, NULL); /* no Basic configured */
    app_http_free(h);
}
END_TEST

START_TEST(config_errors)
{
    char conf[1024];
    config_error("auth_token_file = /nonexistent/token\n",
                 "http.auth_token_file '/nonexistent/token' (test:3): cannot read: No such file");
    snprintf(conf, sizeof conf, "auth_token_file = %s\n", secret_file("empty", "\n"));
    config_error(conf, "empty");
    snprintf(conf, sizeof conf, "auth_token_file = %s\n", secret_file("sp", "two words\n"));
    config_error(conf, "a token of visible ASCII characters");
    snprintf(conf, sizeof conf, "auth_token_file = %s\n", secret_file("ml", "a\nb\n"));
    config_error(conf, "byte 1 is a line end");
    snprintf(conf, sizeof conf, "metrics_auth_basic_file = %s\n",
             secret_file("nocolon", "justapassword\n"));
    config_error(conf, "http.metrics_auth_basic_file");
    snprintf(conf, sizeof conf, "auth_basic_file = %s\n", secret_file("nouser", ":pw\n"));
    config_error(conf, "expected one line USER:PASSWORD");
    snprintf(conf, sizeof conf, "auth_token_file = %s\n", DIR_);
    config_error(conf, "not a regular file");
    config_error("healthz_auth = true\n", "http.healthz_auth (test:3)");
    config_error("tls_cert = /x.pem\n", "http.tls_cert and http.tls_key: set both");
    config_error("ops_listen = 10.0.0.1:x\n", "http.ops_listen '10.0.0.1:x': bad port");
    config_error("ops_listen = 127.0.0.1:9464\nlisten = 127.0.0.1:9464\n", "the same port");
    if (app_http_tls_supported()) {
        snprintf(conf, sizeof conf, "tls_cert = %s\ntls_key = %s\n",
                 secret_file("cert.pem", "not a certificate"), secret_file("key.pem", "x"));
        config_error(conf, "no PEM certificate in it");
    }
}
END_TEST

/* HTTPS with a certificate made now by openssl; plain HTTP to it fails, a
 * client that does not trust the certificate fails, the deadline covers a
 * stalled handshake. */
START_TEST(https)
{
    char cmd[2048], cert[600], key[600], conf[1400];
    app_http_t *h;
    probe_t trusted = {NULL, "Bearer tls-token", cert, 5000}, plain = {NULL, NULL, NULL, 3000};
    reply_t r;
    int port, fd;
    int64_t t0;
    char b[64];

    snprintf(cert, sizeof cert, "%s/cert.pem", DIR_);
    snprintf(key, sizeof key, "%s/key.pem", DIR_);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 1 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null",
             key, cert);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(chmod(key, 0600), 0);
    snprintf(conf, sizeof conf,
             "tls_cert = %s\ntls_key = %s\nmetrics_auth_token_file = %s\nrequest_timeout = 1s\n",
             cert, key, secret_file("tls.token", "tls-token"));
    h = server(conf);
    port = app_http_port(h);
    r = get("https", port, "/metrics", &trusted);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "metrics");
    printf("https: GET /metrics over TLS with the token: %ld in %.1f ms\n", r.status, r.ms);
    trusted.auth = NULL;
    ck_assert_int_eq(get("https", port, "/metrics", &trusted).status, 401);
    ck_assert_int_eq(get("https", port, "/", &trusted).status, 200);
    ck_assert_int_eq(get("http", port, "/", &plain).status, 0); /* no plain HTTP */
    {
        probe_t untrusted = {NULL, NULL, "/etc/ssl/certs/ca-certificates.crt", 3000};
        ck_assert_int_eq(get("https", port, "/", &untrusted).status, 0);
    }
    /* a handshake that never comes: closed at the request deadline */
    fd = open_from("127.0.0.1", port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    t0 = core_time_mono_ms();
    ck_assert_int_le(recv(fd, b, sizeof b, 0), 0);
    printf("  silent TLS connection closed after %lld ms (request_timeout 1 s)\n",
           (long long)(core_time_mono_ms() - t0));
    ck_assert_int_lt(core_time_mono_ms() - t0, 4000);
    close(fd);
    app_http_free(h);
}
END_TEST

Suite *suite_http(int with_tls)
{
    Suite *s = suite_create("app_http");
    TCase *slow = tcase_create("slow_clients");
    TCase *auth = tcase_create("auth");
    tcase_set_timeout(slow, 120);
    tcase_add_test(slow, slow_clients_one_address);
    tcase_add_test(slow, ops_listener_under_load);
    tcase_add_test(slow, deadline_from_connect);
    suite_add_tcase(s, slow);
    tcase_add_checked_fixture(auth, auth_setup, auth_teardown);
    tcase_set_timeout(auth, 60);
    tcase_add_test(auth, authentication);
    tcase_add_test(auth, config_errors);
    if (with_tls)
        tcase_add_test(auth, https);
    suite_add_tcase(s, auth);
    return s;
}
