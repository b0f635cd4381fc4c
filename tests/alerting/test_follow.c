/* Tests of alr_follow: --since parsing, replay from the stream, live
 * delivery, and resuming after a lost connection without gaps or repeats. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_follow.h"
#include "alerting/alr_sink.h"
#include "tests/alerting/th_alr.h"

START_TEST(since_forms)
{
    char id[64];
    ck_assert_int_eq(alr_follow_parse_since("1795873800000-3", 0, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "1795873800000-3");
    ck_assert_int_eq(alr_follow_parse_since("1795873800000", 0, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "1795873800000-0");
    ck_assert_int_eq(alr_follow_parse_since("0", 0, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "0-0");
    ck_assert_int_eq(alr_follow_parse_since("2026-11-28T13:50:00Z", 0, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "1795873800000-0");
    ck_assert_int_eq(alr_follow_parse_since("15m", 1795873800000LL, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "1795872900000-0");
    ck_assert_int_eq(alr_follow_parse_since("2h", 1000, id, sizeof id), CORE_OK);
    ck_assert_str_eq(id, "0-0");
    ck_assert_int_eq(alr_follow_parse_since("", 0, id, sizeof id), CORE_EPARSE);
    ck_assert_int_eq(alr_follow_parse_since("yesterday", 0, id, sizeof id), CORE_EPARSE);
    ck_assert_int_eq(alr_follow_parse_since("12-", 0, id, sizeof id), CORE_EPARSE);
    ck_assert_int_eq(alr_follow_parse_since("-5", 0, id, sizeof id), CORE_EPARSE);
    ck_assert_int_eq(alr_follow_parse_since("12345678901234567", 0, id, sizeof id), CORE_EPARSE);
}
END_TEST

typedef struct got {
    char state[8][16];
    char id[8][40];
    int n;
} got_t;

static int collect(void *ctx, const char *json, size_t len)
{
    got_t *g = ctx;
    json_t *o = json_loadb(json, len, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_lt(g->n, 8);
    snprintf(g->state[g->n], sizeof g->state[0], "%s",
             json_string_value(json_object_get(o, "state")));
    snprintf(g->id[g->n], sizeof g->id[0], "%s", json_string_value(json_object_get(o, "id")));
    g->n++;
    json_decref(o);
    return 0;
}

static void write_n(alr_sink_t *s, int *seq, int n, int sentiment)
{
    core_tagged_t *it[32] = {0};
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "f-%d", (*seq)++);
        it[i] = th_alr_item(id, "Earnings", sentiment, TH_T0, NULL);
    }
    ck_assert_int_eq(alr_sink_write(s, it, (size_t)n, NULL), CORE_OK);
    for (int i = 0; i < n; i++)
        core_tagged_free(it[i]);
}

START_TEST(replay_live_and_resume)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    alr_follow_t *f = NULL;
    redisContext *c;
    redisReply *rep;
    got_t g = {0};
    char err[256];
    int seq = 0;
    core_err_t rc;

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    cfg = th_alr_config(&r, "[rule.all]\nscope = all\nwindow = 5m\nthreshold = 0.5\n"
                            "clear = 0.3\nmin_count = 2\nfor = 0s\ncooldown = 0s\n");
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_OK);
    alr_sink_set_clock(s, th_clock_now, &clk);
    alr_sink_set_refresh_interval(s, 0);
    ck_assert_int_eq(alr_follow_new(cfg, &f), CORE_OK);

    write_n(s, &seq, 2, 0); /* fires before anyone listens */
    ck_assert_int_eq(alr_follow_start(f, "0-0", collect, &g), CORE_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.state[0], "firing");
    ck_assert_int_eq(alr_follow_poll(f, 50, collect, &g), CORE_ETIMEOUT);

    write_n(s, &seq, 6, 2); /* 2/8 < clear: resolves, live */
    ck_assert_int_eq(alr_follow_poll(f, 3000, collect, &g), CORE_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(g.state[1], "resolved");

    /* The subscription is cut; an alert fires while the follower is away. */
    c = th_alr_connect(&r);
    rep = redisCommand(c, "CLIENT KILL TYPE pubsub");
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    write_n(s, &seq, 20, 0);
    do {
        rc = alr_follow_poll(f, 3000, collect, &g);
    } while (rc == CORE_OK);
    ck_assert_int_eq(rc, CORE_ENET);
    ck_assert_int_eq(alr_follow_resume(f, collect, &g), CORE_OK);
    /* Delivered once: the two it had seen are not repeated. */
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.state[2], "firing");
    ck_assert_str_ne(g.id[2], g.id[0]);
    /* And live delivery works again. */
    write_n(s, &seq, 30, 2);
    write_n(s, &seq, 30, 2); /* 22/88 < clear */
    ck_assert_int_eq(alr_follow_poll(f, 3000, collect, &g), CORE_OK);
    ck_assert_int_eq(g.n, 4);
    ck_assert_str_eq(g.state[3], "resolved");

    redisFree(c);
    alr_follow_free(f);
    alr_sink_free(s);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

START_TEST(one_scope)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    alr_follow_t *f = NULL;
    got_t g = {0};
    char err[256];
    core_tagged_t *it[6];

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    cfg = th_alr_config(&r, "[rule.t]\nscope = topic\nwindow = 5m\nthreshold = 0.5\n"
                            "clear = 0.3\nmin_count = 2\nfor = 0s\n");
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_OK);
    alr_sink_set_clock(s, th_clock_now, &clk);
    alr_sink_set_refresh_interval(s, 0);
    ck_assert_int_eq(alr_follow_new(cfg, &f), CORE_OK);
    ck_assert_int_eq(alr_follow_set_scope(f, "topic"), CORE_EINVAL);
    ck_assert_int_eq(alr_follow_set_scope(f, "sector:x"), CORE_EINVAL);
    ck_assert_int_eq(alr_follow_set_scope(f, "topic:Fed | Central Banks"), CORE_OK);
    /* Two topics fire before it starts, a third after: it sees only its own. */
    it[0] = th_alr_item("s0", "Earnings", 0, TH_T0, NULL);
    it[1] = th_alr_item("s1", "Earnings", 0, TH_T0, NULL);
    it[2] = th_alr_item("s2", "Fed | Central Banks", 0, TH_T0, NULL);
    it[3] = th_alr_item("s3", "Fed | Central Banks", 0, TH_T0, NULL);
    it[4] = th_alr_item("s4", "Crypto", 0, TH_T0, NULL);
    it[5] = th_alr_item("s5", "Crypto", 0, TH_T0, NULL);
    ck_assert_int_eq(alr_sink_write(s, it, 4, NULL), CORE_OK);
    ck_assert_int_eq(alr_follow_start(f, "0", collect, &g), CORE_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.state[0], "firing");
    ck_assert_int_eq(alr_sink_write(s, it + 4, 2, NULL), CORE_OK);
    ck_assert_int_eq(alr_follow_poll(f, 300, collect, &g), CORE_ETIMEOUT);
    ck_assert_int_eq(g.n, 1);
    for (int i = 0; i < 6; i++)
        core_tagged_free(it[i]);
    alr_follow_free(f);
    alr_sink_free(s);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

Suite *suite_follow(void)
{
    Suite *s = suite_create("alr_follow");
    TCase *tc = tcase_create("follow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, since_forms);
    tcase_add_test(tc, replay_live_and_resume);
    tcase_add_test(tc, one_scope);
    suite_add_tcase(s, tc);
    return s;
}
