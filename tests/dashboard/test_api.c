/* test_api: the dashboard's HTTP read API and static page server (app_api,
 * app_static) over a real libmicrohttpd server and a real redis-server
 * filled with known keys (th_dash): answers equal the keys, bad parameters
 * are 400 with a JSON message naming them, ranges are capped, Redis away is
 * 503, and the page server never leaves its directory. */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app_api.h"
#include "app/app_http.h"
#include "app/app_static.h"
#include "core/core_time.h"
#include "tests/alerting/th_dash.h"
#include "tests/common/th.h"
#include "tests/dashboard/th_http.h"

static th_dash_t D;
static app_api_t *API;
static app_http_t *HTTP;
static int PORT;
static char WEB[512];
static char SECRET[600];

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(th_write_file(p, text, strlen(text)), 0);
}

static void setup(void)
{
    core_config_t *cfg;
    char err[512] = "", sub[600];
    const char *tmp = th_tmpdir("dash");

    /* web root: tmp/web; a secret next to it, reachable only by escaping */
    snprintf(WEB, sizeof WEB, "%s/web", tmp);
    ck_assert_int_eq(mkdir(WEB, 0700), 0);
    snprintf(sub, sizeof sub, "%s/vendor", WEB);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file(WEB, "index.html", "<!doctype html><title>finsent</title>");
    write_file(WEB, "app.js", "console.log('finsent');");
    write_file(WEB, "style.css", "body{}");
    write_file(WEB, "vendor/lib.min.js", "var lib=1;");
    write_file(WEB, ".hidden.js", "hidden");
    write_file(WEB, "tool.exe", "MZ");
    snprintf(SECRET, sizeof SECRET, "%s/secret.txt", tmp);
    ck_assert_int_eq(th_write_file(SECRET, "TOPSECRET", 9), 0);
    snprintf(sub, sizeof sub, "%s/link.txt", WEB);
    ck_assert_int_eq(symlink(SECRET, sub), 0);

    ck_assert_int_eq(th_dash_start(&D), 0);
    cfg = th_dash_config(&D);
    ck_assert_msg(app_api_new(cfg, WEB, &API, err, sizeof err) == CORE_OK, "%s", err);
    alr_reader_set_clock(app_api_reader(API), th_dash_clock, &D);
    core_config_free(cfg);
    ck_assert_int_eq(app_http_new("127.0.0.1:0", &HTTP, err, sizeof err), CORE_OK);
    ck_assert_int_eq(app_api_routes(API, HTTP), CORE_OK);
    ck_assert_msg(app_http_start(HTTP, err, sizeof err) == CORE_OK, "%s", err);
    PORT = app_http_port(HTTP);
}

static void teardown(void)
{
    app_http_free(HTTP);
    app_api_free(API);
    HTTP = NULL;
    API = NULL;
    th_dash_stop(&D);
}

/* get: GET path, expect status and JSON; returns the parsed body. */
static json_t *get_json(const char *path, int status)
{
    th_http_reply_t r;
    json_t *o;
    ck_assert_msg(th_http_get(PORT, path, &r) == 0, "GET %s failed", path);
    ck_assert_msg(r.status == status, "GET %s: status %d, want %d: %s", path, r.status, status,
                  r.body);
    ck_assert_str_eq(r.content_type, "application/json");
    o = json_loads(r.body, 0, NULL);
    ck_assert_msg(o != NULL, "GET %s: not JSON: %s", path, r.body);
    th_http_reply_free(&r);
    return o;
}

/* bad: GET path expecting 400 with an error message containing want. */
static void bad(const char *path, const char *want)
{
    json_t *o = get_json(path, 400);
    const char *e = json_string_value(json_object_get(o, "error"));
    ck_assert_msg(e && strstr(e, want), "GET %s: error '%s' lacks '%s'", path, e ? e : "(none)",
                  want);
    json_decref(o);
}

START_TEST(rates)
{
    json_t *o = get_json("/api/rates?window=15m", 200), *sc, *w;
    sc = json_object_get(o, "scopes");
    ck_assert_uint_eq(json_array_size(sc), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sc, 0), "scope")),
                     "entity:ACME");
    ck_assert(json_is_real(json_object_get(json_array_get(sc, 0), "lower")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(sc, 0), "negative")), 30);
    w = json_object_get(o, "windows");
    ck_assert_uint_eq(json_array_size(w), 3);
    ck_assert_str_eq(json_string_value(json_array_get(w, 2)), "1h");
    json_decref(o);
    /* default window: 15m when kept */
    o = get_json("/api/rates", 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "window")), "15m");
    json_decref(o);
    o = get_json("/api/rates?window=15m&min_n=20", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "scopes")), 3);
    json_decref(o);
    /* "0h15m" is the same window */
    o = get_json("/api/rates?window=5m", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "scopes")), 1);
    json_decref(o);
}
END_TEST

START_TEST(series_matches_buckets)
{
    char path[256];
    int64_t first = D.now_min - TH_DASH_MINUTES + 1;
    json_t *o, *n, *neg;
    int64_t want_n = 0, want_neg = 0;

    /* the whole fixture in one 30m point: from aligned to 30 minutes */
    snprintf(path, sizeof path, "/api/series?scope=entity:acme&from=%lld&to=%lld&step=1m",
             (long long)first * 60000, (long long)D.now);
    o = get_json(path, 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "scope")), "entity:ACME");
    n = json_object_get(o, "n");
    neg = json_object_get(o, "negative");
    ck_assert_uint_eq(json_array_size(n), TH_DASH_MINUTES);
    for (int i = 0; i < TH_DASH_MINUTES; i++) {
        ck_assert_int_eq(json_integer_value(json_array_get(n, (size_t)i)), D.acme[i][0]);
        ck_assert_int_eq(json_integer_value(json_array_get(neg, (size_t)i)), D.acme[i][1]);
        want_n += D.acme[i][0];
        want_neg += D.acme[i][1];
    }
    json_decref(o);

    /* RFC 3339 bounds and a step covering everything after the first minute */
    {
        char f[32], t[32];
        core_time_format_rfc3339(first * 60000, f, sizeof f);
        core_time_format_rfc3339(D.now, t, sizeof t);
        snprintf(path, sizeof path, "/api/series?scope=entity:ACME&from=%s&to=%s&step=%dm", f, t,
                 TH_DASH_MINUTES);
    }
    o = get_json(path, 200);
    n = json_object_get(o, "n");
    {
        /* the grid aligns to 30 minutes: the points' sum is the fixture's
         * sum (plus the planted 1000 bucket when the grid reaches it) */
        int64_t total = 0;
        for (size_t i = 0; i < json_array_size(n); i++)
            total += json_integer_value(json_array_get(n, i));
        ck_assert(total == want_n || total == want_n + 1000);
    }
    json_decref(o);
    (void)want_neg;
}
END_TEST

START_TEST(series_default_range)
{
    /* no from/to: the last hour up to the reader's now at 1m */
    json_t *o = get_json("/api/series?scope=all", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "t")), 61);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "t"), 60)),
                     D.now_min * 60000);
    json_decref(o);
}
END_TEST

START_TEST(validation)
{
    char path[256];
    bad("/api/series", "scope: missing");
    bad("/api/series?scope=bogus", "scope 'bogus'");
    bad("/api/series?scope=entity:A%20B", "ticker");
    bad("/api/series?scope=topic:%21%21", "no letter or digit");
    bad("/api/series?scope=all&from=yesterday", "from 'yesterday'");
    bad("/api/series?scope=all&to=2026-13-01T00:00:00Z", "to '2026-13-01T00:00:00Z'");
    bad("/api/series?scope=all&from=1795874400000&to=1795874300000", "from is after to");
    bad("/api/series?scope=all&step=90s", "step '90s'");
    bad("/api/series?scope=all&step=0m", "step '0m'");
    bad("/api/series?scope=all&step=fast", "step 'fast'");
    snprintf(path, sizeof path, "/api/series?scope=all&from=%lld&to=%lld&step=1m",
             (long long)(D.now - 2LL * 86400000), (long long)D.now);
    bad(path, "at most 1440");
    snprintf(path, sizeof path, "/api/series?scope=all&from=%lld&to=%lld&step=1d",
             (long long)(D.now - 30LL * 86400000), (long long)D.now);
    bad(path, "7 days");
    bad("/api/rates?window=7m", "not kept");
    bad("/api/rates?window=abc", "window 'abc'");
    bad("/api/rates?window=30s", "window '30s'");
    bad("/api/rates?min_n=-1", "min_n");
    bad("/api/rates?min_n=x", "min_n");
    bad("/api/alerts?since=soon", "since 'soon'");
    bad("/api/alerts?limit=0", "limit '0'");
    bad("/api/alerts?limit=501", "limit '501'");
    bad("/api/recent?limit=x", "limit 'x'");
    bad("/api/recent?limit=201", "limit '201'");
    bad("/api/recent?scope=nope", "scope 'nope'");
}
END_TEST

/* Issue 18: every parameter is checked before it is used. Invalid UTF-8 or
 * a NUL (%00) in any parameter, name or value, known or not, is 400 naming
 * it: before, "scope=%ff" made the error message itself invalid UTF-8,
 * jansson refused it and the answer was 500 "out of memory", and
 * "scope=all%00x" was silently read as "all". A stream id is checked before
 * it reaches Redis: "since=99999999999999999999-1" used to be sent and come
 * back as Redis' "Invalid stream ID", answered 503 as if Redis were down. A
 * parameter quoted in a message and cut inside a character stays a 400. */
START_TEST(invalid_bytes_and_stream_ids)
{
    char path[600];
    json_t *o;
    bad("/api/series?scope=%ff", "parameter 'scope': invalid UTF-8 at byte 0");
    bad("/api/series?scope=all%00x", "parameter 'scope': a NUL byte (%00) at byte 3");
    bad("/api/series?scope=all&from=%c3", "parameter 'from'");
    bad("/api/rates?window=15m%00", "parameter 'window'");
    bad("/api/alerts?since=%ed%a0%80", "parameter 'since'");             /* a surrogate */
    bad("/api/recent?limit=5&scope=entity:%c0%af", "parameter 'scope'"); /* overlong */
    bad("/api/explain?text=Acme%ffplunges", "parameter 'text'");
    bad("/api/explain?id=a%00b", "parameter 'id'");
    bad("/api/rates?foo=%fe", "parameter 'foo'");             /* unknown ones too */
    bad("/api/rates?a%ffb=1", "parameter 'a%FFb': its name"); /* the name, printable */
    bad("/api/alerts?since=99999999999999999999-1", "since '99999999999999999999-1'");
    bad("/api/alerts?since=1-99999999999999999999", "at most 18446744073709551615");
    /* in range but nothing can follow it: Redis refuses it, still a 400 */
    bad("/api/alerts?since=18446744073709551615-18446744073709551615", "since '");
    o = get_json("/api/alerts?since=18446744073709551615-0", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 0);
    json_decref(o);
    /* the quoted value is cut at 64 bytes, inside an "é": repaired, 400 */
    snprintf(path, sizeof path, "/api/series?scope=all&from=a");
    for (int i = 0; i < 40; i++)
        strcat(path, "%C3%A9");
    bad(path, "from 'a\xc3\xa9");
    /* an unknown API path stays 404 whatever its parameters */
    o = get_json("/api/nope?x=%ff", 404);
    json_decref(o);
}
END_TEST

static void stub(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    (void)req;
    app_http_respond_text(resp, 200, NULL, ctx);
}

/* Issue 18: routes are exact. "/metricsfoo" used to be served by "/metrics"
 * and "/healthzX" by "/healthz" (prefix routing). Now only a route ending in
 * '/' ("/api/", "/") serves a subtree, and "/" leaves its paths to the page
 * server's own checks. */
START_TEST(routes_are_exact)
{
    static const struct {
        const char *path;
        int status;
        const char *body; /* NULL: not checked */
    } cases[] = {
        {"/metrics", 200, "metrics"},
        {"/healthz", 200, "health"},
        {"/metricsfoo", 404, NULL},
        {"/healthzX", 404, NULL},
        {"/metrics/", 404, NULL},
        {"/metrics/x", 404, NULL},
        {"/healthz.html", 404, NULL},
        {"/api", 404, NULL},
        {"/", 200, "<!doctype html><title>finsent</title>"},
        {"/app.js", 200, "console.log('finsent');"},
    };
    app_http_t *h = NULL;
    char err[512] = "";
    int port;

    ck_assert_int_eq(app_http_new("127.0.0.1:0", &h, err, sizeof err), CORE_OK);
    ck_assert_int_eq(app_http_route(h, "/metrics", stub, "metrics"), CORE_OK);
    ck_assert_int_eq(app_http_route(h, "/healthz", stub, "health"), CORE_OK);
    ck_assert_int_eq(app_api_routes(API, h), CORE_OK);
    ck_assert_msg(app_http_start(h, err, sizeof err) == CORE_OK, "%s", err);
    port = app_http_port(h);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_http_reply_t r;
        ck_assert_int_eq(th_http_get(port, cases[i].path, &r), 0);
        ck_assert_msg(r.status == cases[i].status, "GET %s: %d, want %d (%s)", cases[i].path,
                      r.status, cases[i].status, r.body);
        if (cases[i].body)
            ck_assert_str_eq(r.body, cases[i].body);
        th_http_reply_free(&r);
    }
    {
        th_http_reply_t r;
        ck_assert_int_eq(th_http_get(port, "/api/rates", &r), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.content_type, "application/json");
        th_http_reply_free(&r);
    }
    app_http_free(h);
    /* a route is a path: it starts with '/' */
    ck_assert_int_eq(app_http_new("127.0.0.1:0", &h, err, sizeof err), CORE_OK);
    ck_assert_int_eq(app_http_route(h, "metrics", stub, "x"), CORE_EINVAL);
    app_http_free(h);
}
END_TEST

START_TEST(not_found)
{
    json_t *o = get_json("/api/nope", 404);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "error")), "/api/rates"));
    json_decref(o);
    o = get_json("/api/ratesX", 404);
    json_decref(o);
}
END_TEST

START_TEST(alerts_and_active)
{
    char path[128];
    json_t *o = get_json("/api/alerts", 200), *a;
    a = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(a), 3);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "active")), 2);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(o, "active"), 0), "state")),
                     "firing");
    json_decref(o);
    /* since a stream id: exclusive */
    snprintf(path, sizeof path, "/api/alerts?since=%lld-0", (long long)(D.now - 100000));
    o = get_json(path, 200);
    a = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(a), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "scope")),
                     "topic:energy-oil");
    json_decref(o);
    /* since a time (epoch ms): inclusive */
    snprintf(path, sizeof path, "/api/alerts?since=%lld", (long long)(D.now - 100000));
    o = get_json(path, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 2);
    json_decref(o);
    o = get_json("/api/alerts?limit=1", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 1);
    json_decref(o);
}
END_TEST

START_TEST(recent)
{
    json_t *o = get_json("/api/recent?scope=entity:acme&limit=5", 200), *it;
    it = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(it), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(it, 0), "sentiment")),
                     "positive");
    json_decref(o);
    o = get_json("/api/recent", 200);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "items")), 4);
    json_decref(o);
}
END_TEST

START_TEST(redis_away_is_503)
{
    json_t *o;
    th_redis_kill(&D.redis);
    o = get_json("/api/rates", 503);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "error")), "redis"));
    json_decref(o);
    o = get_json("/api/series?scope=all", 503);
    json_decref(o);
    /* validation still comes first */
    bad("/api/series?scope=bogus", "scope");
}
END_TEST

static void expect_static(const char *path, int status, const char *type, const char *body)
{
    th_http_reply_t r;
    ck_assert_int_eq(th_http_get(PORT, path, &r), 0);
    ck_assert_msg(r.status == status, "GET %s: %d, want %d", path, r.status, status);
    ck_assert_msg(!strstr(r.body, "TOPSECRET"), "GET %s leaked the secret", path);
    if (type)
        ck_assert_str_eq(r.content_type, type);
    if (body)
        ck_assert_str_eq(r.body, body);
    th_http_reply_free(&r);
}

START_TEST(static_files)
{
    expect_static("/", 200, "text/html; charset=utf-8", "<!doctype html><title>finsent</title>");
    expect_static("/index.html", 200, "text/html; charset=utf-8", NULL);
    expect_static("/app.js", 200, "text/javascript; charset=utf-8", "console.log('finsent');");
    expect_static("/style.css", 200, "text/css; charset=utf-8", "body{}");
    expect_static("/vendor/lib.min.js", 200, "text/javascript; charset=utf-8", "var lib=1;");
    expect_static("/vendor/", 404, NULL, NULL); /* no index.html there */
    expect_static("/missing.js", 404, NULL, NULL);
    expect_static("/tool.exe", 404, NULL, NULL);   /* unknown type */
    expect_static("/.hidden.js", 404, NULL, NULL); /* dot files */
}
END_TEST

START_TEST(static_traversal)
{
    static const char *const paths[] = {
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/vendor/../../secret.txt",
        "/vendor/%2e%2e/%2e%2e/secret.txt",
        "//secret.txt",
        "/link.txt",
        "/..%2fsecret.txt",
        "/%2fetc/passwd",
        "/vendor/..",
        "/a\\..\\secret.txt",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        th_http_reply_t r;
        ck_assert_int_eq(th_http_get(PORT, paths[i], &r), 0);
        ck_assert_msg(r.status == 404 || r.status == 400, "GET %s: %d", paths[i], r.status);
        ck_assert_msg(!strstr(r.body, "TOPSECRET"), "GET %s leaked the secret", paths[i]);
        th_http_reply_free(&r);
    }
}
END_TEST

START_TEST(static_pure)
{
    ck_assert_int_eq(app_static_path_ok("/"), 1);
    ck_assert_int_eq(app_static_path_ok("/vendor/uPlot.iife.min.js"), 1);
    ck_assert_int_eq(app_static_path_ok(""), 0);
    ck_assert_int_eq(app_static_path_ok("index.html"), 0);
    ck_assert_int_eq(app_static_path_ok("/../x"), 0);
    ck_assert_int_eq(app_static_path_ok("/a/./b"), 0);
    ck_assert_int_eq(app_static_path_ok("/a//b"), 0);
    ck_assert_int_eq(app_static_path_ok("/a b"), 0);
    ck_assert_int_eq(app_static_path_ok("/a%2e"), 0);
    ck_assert_str_eq(app_static_content_type("x.svg"), "image/svg+xml");
    ck_assert_ptr_null(app_static_content_type("x"));
    ck_assert_ptr_null(app_static_content_type("x.sh"));
    ck_assert_ptr_null(app_static_content_type("dir.js/x"));
    ck_assert_int_eq(setenv("FINSENT_WEB_DIR", "/srv/finsent-web", 1), 0);
    ck_assert_str_eq(app_static_default_root(), "/srv/finsent-web");
    unsetenv("FINSENT_WEB_DIR");
    /* the test binary is not installed: the source tree's web/ */
    ck_assert_ptr_nonnull(strstr(app_static_default_root(), "/web"));
}
END_TEST

START_TEST(missing_web_root)
{
    /* A web root that does not exist leaves the page out but keeps the API. */
    app_api_t *api = NULL;
    app_http_t *h = NULL;
    core_config_t *cfg = th_dash_config(&D);
    char err[512] = "";
    th_http_reply_t r;
    int port;
    ck_assert_int_eq(app_api_new(cfg, "/nonexistent/web", &api, err, sizeof err), CORE_OK);
    ck_assert_int_eq(app_http_new("127.0.0.1:0", &h, err, sizeof err), CORE_OK);
    ck_assert_int_eq(app_api_routes(api, h), CORE_OK);
    ck_assert_int_eq(app_http_start(h, err, sizeof err), CORE_OK);
    port = app_http_port(h);
    ck_assert_int_eq(th_http_get(port, "/", &r), 0);
    ck_assert_int_eq(r.status, 404);
    th_http_reply_free(&r);
    ck_assert_int_eq(th_http_get(port, "/api/recent", &r), 0);
    ck_assert_int_eq(r.status, 200);
    th_http_reply_free(&r);
    app_http_free(h);
    app_api_free(api);
    core_config_free(cfg);
}
END_TEST

/* Handlers run on several libmicrohttpd threads at once and share one
 * reader: concurrent requests of every kind must all succeed (run under
 * ASan/TSan builds too). */
static void *hammer(void *arg)
{
    static const char *const paths[] = {"/api/rates", "/api/series?scope=entity:ACME&step=5m",
                                        "/api/alerts", "/api/recent?scope=topic:energy-oil",
                                        "/app.js"};
    long id = (long)(intptr_t)arg, bad = 0;
    for (int i = 0; i < 25; i++) {
        th_http_reply_t r;
        const char *p = paths[(i + id) % 5];
        if (th_http_get(PORT, p, &r) != 0 || r.status != 200)
            bad++;
        th_http_reply_free(&r);
    }
    return (void *)(intptr_t)bad;
}

START_TEST(concurrent_requests)
{
    pthread_t t[6];
    for (long i = 0; i < 6; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 6; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_int_eq((long)(intptr_t)bad, 0);
    }
}
END_TEST

Suite *suite_api(void)
{
    Suite *s = suite_create("app_api");
    TCase *t = tcase_create("http");
    TCase *p = tcase_create("pure");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, rates);
    tcase_add_test(t, series_matches_buckets);
    tcase_add_test(t, series_default_range);
    tcase_add_test(t, validation);
    tcase_add_test(t, not_found);
    tcase_add_test(t, invalid_bytes_and_stream_ids);
    tcase_add_test(t, routes_are_exact);
    tcase_add_test(t, alerts_and_active);
    tcase_add_test(t, recent);
    tcase_add_test(t, redis_away_is_503);
    tcase_add_test(t, static_files);
    tcase_add_test(t, static_traversal);
    tcase_add_test(t, missing_web_root);
    tcase_add_test(t, concurrent_requests);
    suite_add_tcase(s, t);
    tcase_add_test(p, static_pure);
    suite_add_tcase(s, p);
    return s;
}
