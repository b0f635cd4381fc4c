/* test_explain_api: GET /api/explain (app_explain, alr_explain_read) over a
 * real libmicrohttpd server, a real redis-server holding a recent list
 * (locked by ACL to read commands without KEYS/SCAN, as th_dash does) and
 * the shipped model: a known id is explained (found beyond the first LRANGE
 * page too), an unknown id is 404, text= explains any text, bad or missing
 * parameters are 400, a second explanation while one runs is 429 with
 * Retry-After, and Redis away is 503 for id= while text= still works.
 * Reported as skipped (TH_SKIP) when the shipped model is not in the tree. */
#include <arpa/inet.h>
#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "app/app_api.h"
#include "app/app_explain.h"
#include "app/app_http.h"
#include "tests/common/th.h"
#include "tests/common/th_redis.h"

#define HEADLINE "Acme shares plunge after refinery explosion"
#define FILLERS 600 /* items pushed after the deep one: past two LRANGE pages */

static th_redis_t R;
static app_api_t *API;
static app_http_t *HTTP;
static int PORT;
static char MODEL[1024];

static int have_model(void)
{
    char p[1200];
    th_data_path(MODEL, sizeof MODEL, "../../models/finsent-mini");
    snprintf(p, sizeof p, "%s/model.safetensors", MODEL);
    return access(p, R_OK) == 0;
}

static void cmd_ok(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "redis: %s", c->errstr);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "redis %s: %s", fmt, r->str);
    freeReplyObject(r);
}

static void push_item(redisContext *c, const char *id, const char *title, const char *sent)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:{s:f, s:f, s:f}, s:[]}", "id", id, "ts",
                  "2026-11-28T14:00:00.000Z", "source", "test", "title", title, "topic",
                  "Stock Movement", "topic_p", 0.8, "sentiment", sent, "sentiment_p", "negative",
                  0.8, "neutral", 0.1, "positive", 0.1, "entities");
    char *s = json_dumps(o, JSON_COMPACT);
    ck_assert_ptr_nonnull(s);
    cmd_ok(c, "LPUSH finsent:recent %s", s);
    free(s);
    json_decref(o);
}

static void setup(void)
{
    core_config_t *cfg = NULL;
    redisContext *c;
    char text[2000], err[512] = "";

    if (!have_model())
        return;
    ck_assert_int_eq(th_redis_start(&R, TH_REDIS_EPHEMERAL), 0);
    c = redisConnect("127.0.0.1", R.port);
    ck_assert_msg(c && !c->err, "connect: %s", c ? c->errstr : "oom");
    /* oldest first: "deep" ends up behind FILLERS newer items */
    push_item(c, "deep", "Gold steady as dollar slips", "neutral");
    for (int i = 0; i < FILLERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "f%d", i);
        push_item(c, id, "Filler headline about markets", "neutral");
    }
    cmd_ok(c, "LPUSH finsent:recent %s", "not json");
    push_item(c, "neg1", HEADLINE, "negative");
    push_item(c, "we\"ird/id", "Acme cuts outlook", "negative");
    cmd_ok(c, "ACL SETUSER default on nopass ~* &* -@all +@read +@connection -keys -scan");
    redisFree(c);

    snprintf(text, sizeof text,
             "[redis]\nhost = 127.0.0.1\nport = %d\nrecent_max = 1000\n"
             "[classify]\nmodel = %s\nthreads = 2\n",
             R.port, MODEL);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_msg(app_api_new(cfg, "", &API, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg); /* the API keeps copies of what it needs */
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
    if (R.pid)
        th_redis_stop(&R);
}

typedef struct reply {
    int status;
    char *raw;        /* whole response, NUL-terminated */
    const char *body; /* into raw */
} reply_t;

/* get: GET path (any length) on a fresh connection; the whole response. */
static void get(const char *path, reply_t *out)
{
    struct sockaddr_in a;
    struct timeval tv = {30, 0};
    size_t plen = strlen(path), len = 0, cap = 16384;
    char *req = malloc(plen + 128), *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;

    ck_assert(fd >= 0 && req && buf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)PORT);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = snprintf(req, plen + 128, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 path);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    for (;;) {
        ssize_t got;
        if (len + 4097 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        got = read(fd, buf + len, cap - len - 1);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    free(req);
    buf[len] = '\0';
    out->raw = buf;
    ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &out->status) == 1, "no status: %s", buf);
    out->body = strstr(buf, "\r\n\r\n");
    out->body = out->body ? out->body + 4 : "";
}

/* get_json: GET path expecting status; the parsed body. */
static json_t *get_json(const char *path, int status)
{
    reply_t r;
    json_t *o;
    get(path, &r);
    ck_assert_msg(r.status == status, "GET %.200s: status %d, want %d: %s", path, r.status, status,
                  r.body);
    ck_assert_ptr_nonnull(strcasestr(r.raw, "\r\nContent-Type: application/json"));
    o = json_loads(r.body, 0, NULL);
    ck_assert_msg(o != NULL, "GET %.200s: not JSON: %s", path, r.body);
    free(r.raw);
    return o;
}

static void error_is(const char *path, int status, const char *want)
{
    json_t *o = get_json(path, status);
    const char *e = json_string_value(json_object_get(o, "error"));
    ck_assert_msg(e && strstr(e, want), "GET %.200s: error '%s' lacks '%s'", path, e ? e : "(none)",
                  want);
    json_decref(o);
}

static const json_t *word_named(const json_t *words, const char *w)
{
    size_t i;
    const json_t *x;
    json_array_foreach(words, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "word")), w) == 0)
            return x;
    }
    ck_abort_msg("no word '%s'", w);
    return NULL;
}

START_TEST(known_id)
{
    json_t *o, *words;
    const json_t *w;

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    o = get_json("/api/explain?id=neg1", 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "neg1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "text")), HEADLINE);
    ck_assert_str_eq(json_string_value(json_object_get(o, "sentiment")), "negative");
    ck_assert(json_real_value(json_object_get(json_object_get(o, "sentiment_p"), "negative")) >
              0.6);
    ck_assert(json_is_string(json_object_get(o, "topic")));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "model")), "finsent-mini@"));
    ck_assert(json_is_false(json_object_get(o, "truncated")));
    ck_assert(json_number_value(json_object_get(o, "ms")) > 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "stored"), "sentiment")),
                     "negative");
    words = json_object_get(o, "words");
    ck_assert_uint_eq(json_array_size(words), 6);
    w = word_named(words, "plunge");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "start")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(w, "len")), 6);
    ck_assert(json_real_value(json_object_get(json_object_get(w, "delta"), "negative")) > 0.3);
    ck_assert(json_is_number(json_object_get(w, "topic_delta")));
    w = word_named(words, "after");
    ck_assert(fabs(json_real_value(json_object_get(json_object_get(w, "delta"), "negative"))) <
              0.05);
    json_decref(o);

    /* beyond the first LRANGE pages */
    o = get_json("/api/explain?id=deep", 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "text")), "Gold steady as dollar slips");
    json_decref(o);
    /* an id with characters JSON escapes, URL-encoded */
    o = get_json("/api/explain?id=we%22ird%2Fid", 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "we\"ird/id");
    json_decref(o);
}
END_TEST

START_TEST(unknown_id)
{
    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    error_is("/api/explain?id=nope", 404, "no item nope in the recent list");
    error_is("/api/explain?id=neg", 404, "no item neg in");
}
END_TEST

START_TEST(text_param)
{
    json_t *o;
    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    o = get_json("/api/explain?text=Acme%20shares%20plunge%20after%20refinery%20explosion", 200);
    ck_assert(json_is_null(json_object_get(o, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "text")), HEADLINE);
    ck_assert_str_eq(json_string_value(json_object_get(o, "sentiment")), "negative");
    ck_assert_ptr_null(json_object_get(o, "stored"));
    ck_assert_uint_eq(json_array_size(json_object_get(o, "words")), 6);
    json_decref(o);
    /* UTF-8, percent-encoded: offsets in bytes */
    o = get_json("/api/explain?text=Z%C3%BCrich%20stocks%20fall", 200);
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_array_get(json_object_get(o, "words"), 1), "start")),
                     8);
    json_decref(o);
    /* long text: cut at 64 words and said so */
    {
        char path[3000];
        size_t p = (size_t)snprintf(path, sizeof path, "/api/explain?text=");
        for (int i = 0; i < 80; i++)
            p += (size_t)snprintf(path + p, sizeof path - p, "oil%%20");
        o = get_json(path, 200);
        ck_assert_uint_eq(json_array_size(json_object_get(o, "words")), 64);
        ck_assert(json_is_true(json_object_get(o, "truncated")));
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "text"))), 64 * 4 - 1);
        json_decref(o);
    }
}
END_TEST

START_TEST(bad_parameters)
{
    char *path;
    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    error_is("/api/explain", 400, "id or text: missing");
    error_is("/api/explain?id=neg1&text=x", 400, "not both");
    error_is("/api/explain?id=", 400, "id: empty");
    error_is("/api/explain?text=", 400, "text: empty");
    error_is("/api/explain?text=%20%20", 400, "no words");
    error_is("/api/explain?text=ab%FFcd", 400, "invalid UTF-8 at byte 2");
    path = malloc(APP_EXPLAIN_TEXT_MAX + 64);
    ck_assert_ptr_nonnull(path);
    strcpy(path, "/api/explain?text=");
    memset(path + 18, 'a', APP_EXPLAIN_TEXT_MAX + 1);
    path[18 + APP_EXPLAIN_TEXT_MAX + 1] = '\0';
    error_is(path, 400, "text: longer than 8192 bytes");
    free(path);
    error_is("/api/explainX", 404, "no such API");
}
END_TEST

START_TEST(busy_is_429)
{
    reply_t r;
    json_t *o;
    app_explain_t *x;

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    x = app_api_explainer(API);
    ck_assert(app_explain_hold(x));
    get("/api/explain?id=neg1", &r);
    ck_assert_int_eq(r.status, 429);
    ck_assert_ptr_nonnull(strcasestr(r.raw, "\r\nRetry-After: 1\r\n"));
    o = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o, "error")), "busy, retry");
    json_decref(o);
    free(r.raw);
    /* a bad request is 400 even while busy: parameters are checked first */
    error_is("/api/explain", 400, "missing");
    /* the rest of the API keeps answering */
    o = get_json("/api/recent?limit=1", 200);
    json_decref(o);
    app_explain_release(x);
    o = get_json("/api/explain?id=neg1", 200);
    json_decref(o);
}
END_TEST

static void *explain_long(void *arg)
{
    static const char path[] =
        "/api/explain?text=Acme%20Corp%20shares%20plunge%2018%25%20after%20a%20refinery"
        "%20explosion%20in%20Texas%20kills%20two%20workers%20and%20analysts%20cut%20their"
        "%20price%20targets%20while%20the%20company%20warns%20of%20a%20long%20shutdown";
    reply_t r;
    (void)arg;
    get(path, &r);
    free(r.raw);
    return (void *)(intptr_t)r.status;
}

/* two explanations at once: one runs, the other is 200 (it came after) or
 * 429 (it overlapped); never anything else */
START_TEST(concurrent_explains)
{
    pthread_t t[2];
    int ok = 0;
    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, explain_long, NULL), 0);
        for (int i = 0; i < 2; i++) {
            void *st;
            pthread_join(t[i], &st);
            ck_assert_msg((intptr_t)st == 200 || (intptr_t)st == 429, "status %ld",
                          (long)(intptr_t)st);
            ok += (intptr_t)st == 200;
        }
    }
    ck_assert_int_ge(ok, 3);
}
END_TEST

START_TEST(redis_away_is_503)
{
    json_t *o;
    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", MODEL);
    o = get_json("/api/explain?id=neg1", 200);
    json_decref(o);
    th_redis_kill(&R);
    error_is("/api/explain?id=neg1", 503, "redis");
    /* text= needs no Redis */
    o = get_json("/api/explain?text=Gold%20steady", 200);
    json_decref(o);
}
END_TEST

Suite *suite_explain_api(void)
{
    Suite *s = suite_create("explain_api");
    TCase *t = tcase_create("http");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, known_id);
    tcase_add_test(t, unknown_id);
    tcase_add_test(t, text_param);
    tcase_add_test(t, bad_parameters);
    tcase_add_test(t, busy_is_429);
    tcase_add_test(t, concurrent_explains);
    tcase_add_test(t, redis_away_is_503);
    suite_add_tcase(s, t);
    return s;
}
