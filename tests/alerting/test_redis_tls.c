/* Tests of alr_redis with redis.tls against a real redis-server that
 * listens with TLS only, on certificates made at run time: the sink counts
 * and fires through TLS and the dashboard's reader reads it back; a wrong
 * CA, a wrong name and a missing client certificate are CORE_EAUTH at
 * connect with OpenSSL's reason; TLS with a unix socket is CORE_ECONFIG; a
 * server killed under an open connection is a prompt CORE_ENET, and the
 * next connect works once it is back. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alerting/alr_read.h"
#include "alerting/alr_redis_int.h"
#include "alerting/alr_sink.h"
#include "tests/alerting/th_alr.h"
#include "tests/common/th.h"
#include "tests/common/th_tls.h"

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

static void start(th_redis_t *r, const char *auth_clients)
{
    ck_assert_msg(T.dir[0], "could not make the test certificates (openssl)");
    ck_assert_msg(th_redis_start_tls(r, &T, auth_clients) == 0,
                  "redis-server did not start with TLS (see its log)");
}

/* config: the test server over TLS, CA = ca, plus extra [redis] lines. */
static core_config_t *config(const th_redis_t *r, const char *ca, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[redis]\ntls = true\ntls_ca_file = %s\n%s"
             "[rule.neg]\nscope = all\nwindow = 5m\nthreshold = 0.5\nclear = 0.3\n"
             "min_count = 20\n",
             ca, extra ? extra : "");
    return th_alr_config(r, text);
}

static alr_redis_t *handle(const core_config_t *cfg)
{
    alr_redis_opts_t o;
    alr_redis_t *h = NULL;
    alr_redis_opts_from_config(cfg, &o);
    ck_assert_int_eq(alr_redis_new(&o, &h), CORE_OK);
    return h;
}

START_TEST(sink_counts_and_reader_reads)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    alr_reader_t *rd = NULL;
    alr_write_result_t res = {0};
    core_tagged_t *it[30];
    json_t *o = NULL, *scopes;
    char err[512] = "";
    int found = 0;

    start(&r, "optional");
    cfg = config(&r, T.ca, NULL);
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    alr_sink_set_clock(s, th_clock_now, &clk);
    alr_sink_set_refresh_interval(s, 0);
    ck_assert_msg(alr_sink_connect(s) == CORE_OK, "%s", alr_sink_error(s));
    for (int i = 0; i < 30; i++) {
        char id[16];
        snprintf(id, sizeof id, "tls-%d", i);
        it[i] = th_alr_item(id, "Markets", 0, TH_T0, NULL);
    }
    ck_assert_msg(alr_sink_write(s, it, 30, &res) == CORE_OK, "%s", alr_sink_error(s));
    ck_assert_uint_eq(res.counted, 30);
    ck_assert_uint_eq(res.fired, 1);
    /* Replayed: not counted twice. */
    memset(&res, 0, sizeof res);
    ck_assert_int_eq(alr_sink_write(s, it, 30, &res), CORE_OK);
    ck_assert_uint_eq(res.duplicate, 30);
    for (int i = 0; i < 30; i++)
        core_tagged_free(it[i]);
    alr_sink_free(s);

    /* The dashboard's reader, through the same [redis] settings. */
    ck_assert_msg(alr_reader_new(cfg, &rd, err, sizeof err) == CORE_OK, "%s", err);
    alr_reader_set_clock(rd, th_clock_now, &clk);
    ck_assert_msg(alr_read_rates(rd, 5, 1, &o, err, sizeof err) == CORE_OK, "%s", err);
    scopes = json_object_get(o, "scopes");
    for (size_t i = 0; i < json_array_size(scopes); i++) {
        json_t *sc = json_array_get(scopes, i);
        if (strcmp(json_string_value(json_object_get(sc, "scope")), "all") == 0) {
            ck_assert_int_eq(json_integer_value(json_object_get(sc, "n")), 30);
            found = 1;
        }
    }
    ck_assert_msg(found, "no scope 'all' in the rates read over TLS");
    json_decref(o);
    alr_reader_free(rd);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

START_TEST(refusals_fail_fast)
{
    th_redis_t r;
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    alr_redis_t *h;
    char err[512] = "", extra[1400];

    start(&r, "yes");
    /* Wrong CA: the sink's connect (what finsent run fails on at start). */
    cfg = config(&r, T.other_ca, NULL);
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_int_eq(alr_sink_connect(s), CORE_EAUTH);
    ck_assert_msg(strstr(alr_sink_error(s), "server certificate refused"), "%s", alr_sink_error(s));
    alr_sink_free(s);
    core_config_free(cfg);
    /* Wrong name. */
    cfg = config(&r, T.ca, "tls_server_name = redis.example.com\n");
    h = handle(cfg);
    ck_assert_int_eq(alr_redis_connect(h), CORE_EAUTH);
    ck_assert_msg(strstr(alr_redis_error(h), "hostname mismatch"), "%s", alr_redis_error(h));
    alr_redis_free(h);
    core_config_free(cfg);
    /* Client certificate required, none given: refused at connect, not at
     * the first real command. */
    cfg = config(&r, T.ca, NULL);
    h = handle(cfg);
    ck_assert_int_eq(alr_redis_connect(h), CORE_EAUTH);
    ck_assert_msg(strstr(alr_redis_error(h), "certificate required"), "%s", alr_redis_error(h));
    alr_redis_free(h);
    core_config_free(cfg);
    /* Given: works, AUTH-less PING path and a command. */
    snprintf(extra, sizeof extra, "tls_cert = %s\ntls_key = %s\n", T.client_crt, T.client_key);
    cfg = config(&r, T.ca, extra);
    h = handle(cfg);
    ck_assert_msg(alr_redis_connect(h) == CORE_OK, "%s", alr_redis_error(h));
    {
        const char *argv[] = {"INCR", "k"};
        redisReply *rep = NULL;
        ck_assert_int_eq(alr_redis_cmd(h, &rep, 2, argv, NULL), CORE_OK);
        ck_assert_int_eq(rep->integer, 1);
        freeReplyObject(rep);
    }
    alr_redis_free(h);
    core_config_free(cfg);
    /* TLS over a unix socket is a configuration error. */
    cfg = config(&r, T.ca, "socket = /tmp/none.sock\n");
    h = handle(cfg);
    ck_assert_int_eq(alr_redis_connect(h), CORE_ECONFIG);
    ck_assert_msg(strstr(alr_redis_error(h), "redis.tls cannot be used with redis.socket"), "%s",
                  alr_redis_error(h));
    alr_redis_free(h);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

START_TEST(server_killed_then_back)
{
    th_redis_t r;
    core_config_t *cfg;
    alr_redis_t *h;
    redisReply *rep = NULL;
    const char *argv[] = {"INCR", "k"};

    start(&r, "no");
    /* A long command timeout: only the proxy's EOF can end the wait soon. */
    cfg = config(&r, T.ca, "command_timeout = 60s\n");
    h = handle(cfg);
    ck_assert_msg(alr_redis_connect(h) == CORE_OK, "%s", alr_redis_error(h));
    ck_assert_int_eq(alr_redis_cmd(h, &rep, 2, argv, NULL), CORE_OK);
    freeReplyObject(rep);
    th_redis_kill(&r);
    ck_assert_int_eq(alr_redis_cmd(h, &rep, 2, argv, NULL), CORE_ENET);
    ck_assert_ptr_null(rep);
    ck_assert(!alr_redis_connected(h));
    ck_assert_msg(strstr(alr_redis_error(h), "TLS connection to 127.0.0.1") &&
                      !strstr(alr_redis_error(h), "temporarily unavailable"),
                  "%s", alr_redis_error(h));
    ck_assert_int_eq(alr_redis_connect(h), CORE_ENET); /* still down */
    alr_redis_free(h);
    core_config_free(cfg);
    /* Another server (a new port): a fresh handle connects again. */
    th_redis_stop(&r);
    start(&r, "no");
    cfg = config(&r, T.ca, NULL);
    h = handle(cfg);
    ck_assert_msg(alr_redis_connect(h) == CORE_OK, "%s", alr_redis_error(h));
    alr_redis_free(h);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

Suite *suite_redis_tls(void)
{
    Suite *s = suite_create("alr_redis_tls");
    TCase *tc = tcase_create("redis_tls");
    tcase_add_unchecked_fixture(tc, make_certs, free_certs);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sink_counts_and_reader_reads);
    tcase_add_test(tc, refusals_fail_fast);
    tcase_add_test(tc, server_killed_then_back);
    suite_add_tcase(s, tc);
    return s;
}
