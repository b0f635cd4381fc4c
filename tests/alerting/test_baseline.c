/* Tests of the baselines against a real redis-server: hourly roll-ups
 * written by the count script, and the surge and volume rules judged on a
 * day of each scope's own history (event time runs 25 hours forward from
 * TH_T0 on the sink's clock; the keys expire far in the future).
 *
 * Three entity scopes, 40 items an hour each:
 *   COIN  sceptical and stable: 45% negative all day (9 of every 20);
 *   BLUE  a blue chip at 5% (1 of 20), then half an hour of 100 items at 20%;
 *   VOL   10% negative, then half an hour of 100 items, still 10% negative.
 * Rules on `entity`: surge (min_lift 0.05), volume (3x, 99.9%), and a fixed
 * threshold of 0.4 for contrast. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_sink.h"
#include "tests/alerting/th_alr.h"

static const char RULES[] =
    "[rule.surge]\nscope = entity\nwindow = 30m\nbasis = surge\nbaseline = 24h\n"
    "min_lift = 0.05\nclear_lift = 0.02\nmin_count = 20\nbaseline_min_count = 100\n"
    "cooldown = 0s\n"
    "[rule.volume]\nscope = entity\nwindow = 30m\nbasis = volume\nbaseline = 24h\n"
    "min_ratio = 3\nclear_ratio = 1.5\nmin_count = 8\nbaseline_min_count = 20\n"
    "confidence = 0.999\ncooldown = 0s\n"
    "[rule.fixed]\nscope = entity\nwindow = 30m\nthreshold = 0.4\nclear = 0.3\nmin_count = 20\n"
    "cooldown = 0s\n";

#define DAY_MS (25 * 3600000LL) /* the normal phase */
#define STEP_MS 90000LL         /* 40 items an hour per scope */

/* spread: item i of a scope is negative when k of every 20 are, evenly. */
static int spread(long i, int k)
{
    return (i * k) % 20 < k;
}

typedef struct feeder {
    alr_sink_t *s;
    th_clock_t *clk;
    long seq;
    int64_t next_tick;
} feeder_t;

static void put(feeder_t *f, const char *ticker, int negative, int64_t ev)
{
    char id[64];
    core_tagged_t *t;
    alr_write_result_t res = {0};
    size_t fired = 0, resolved = 0;
    snprintf(id, sizeof id, "%s-%ld", ticker, f->seq++);
    t = th_alr_item(id, "Markets", negative ? 0 : 1, ev, ticker);
    f->clk->now = ev;
    ck_assert_int_eq(alr_sink_write(f->s, &t, 1, &res), CORE_OK);
    core_tagged_free(t);
    if (ev >= f->next_tick) { /* rules every 5 minutes of event time */
        ck_assert_int_eq(alr_sink_tick(f->s, &fired, &resolved), CORE_OK);
        f->next_tick = ev + 300000;
    }
}

/* day writes the normal phase. */
static void day(feeder_t *f)
{
    long i = 0;
    for (int64_t ev = TH_T0; ev < TH_T0 + DAY_MS; ev += STEP_MS, i++) {
        put(f, "COIN", spread(i, 9), ev);
        put(f, "BLUE", spread(i, 1), ev + 1);
        put(f, "VOL", spread(i, 2), ev + 2);
    }
}

/* burst writes the half hour after it: BLUE at 20%, VOL at its usual 10%
 * but ten times the items, COIN as usual. */
static void burst(feeder_t *f)
{
    size_t fired = 0, resolved = 0;
    for (long k = 0; k < 100; k++) {
        int64_t ev = TH_T0 + DAY_MS + k * 18000; /* 100 items in 30 minutes */
        put(f, "BLUE", spread(k, 4), ev);
        put(f, "VOL", spread(k, 2), ev + 1);
        if (k % 5 == 0)
            put(f, "COIN", spread(k / 5, 9), ev + 2);
    }
    f->clk->now = TH_T0 + DAY_MS + 1800000;
    ck_assert_int_eq(alr_sink_tick(f->s, &fired, &resolved), CORE_OK);
}

/* alerts_of returns the logged alerts (firing) as "rule scope" lines and
 * the JSON of the first one matching want_rule/want_scope in *match. */
static char *fired_list(redisContext *c, const char *want_rule, const char *want_scope,
                        json_t **match)
{
    redisReply *rep = redisCommand(c, "XRANGE finsent:alerts:log - +");
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    if (match)
        *match = NULL;
    for (size_t i = 0; i < rep->elements; i++) {
        json_t *a = json_loads(rep->element[i]->element[1]->element[1]->str, 0, NULL);
        const char *rule = json_string_value(json_object_get(a, "rule"));
        const char *scope = json_string_value(json_object_get(a, "scope"));
        const char *state = json_string_value(json_object_get(a, "state"));
        if (strcmp(state, "firing") == 0 && len + 128 < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s %s\n", rule, scope);
        if (match && !*match && want_rule && strcmp(rule, want_rule) == 0 &&
            strcmp(scope, want_scope) == 0 && strcmp(state, "firing") == 0)
            *match = json_incref(a);
        json_decref(a);
    }
    freeReplyObject(rep);
    return out;
}

static alr_sink_t *sink(const th_redis_t *r, th_clock_t *clk)
{
    core_config_t *cfg = th_alr_config(r, RULES);
    alr_sink_t *s = NULL;
    char err[256] = "";
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    alr_sink_set_clock(s, th_clock_now, clk);
    alr_sink_set_refresh_interval(s, 60000);
    return s;
}

START_TEST(surge_and_volume_against_own_history)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    feeder_t f = {0};
    redisContext *c;
    json_t *a = NULL;
    char *list;

    ck_assert_msg(th_redis_start(&r, TH_REDIS_EPHEMERAL) == 0, "redis-server did not start");
    c = th_alr_connect(&r);
    f.s = sink(&r, &clk);
    f.clk = &clk;
    f.next_tick = TH_T0;

    /* A day of normal news: only the fixed threshold fires, on the
     * sceptical scope it cannot tell from a surge. */
    day(&f);
    list = fired_list(c, NULL, NULL, NULL);
    ck_assert_msg(strstr(list, "fixed entity:COIN\n") != NULL, "%s", list);
    ck_assert_msg(!strstr(list, "surge ") && !strstr(list, "volume "), "%s", list);
    free(list);

    /* The hourly roll-up of an hour equals its minute buckets' sum. */
    {
        int64_t h = (TH_T0 + 3 * 3600000) / 3600000;
        char key[128];
        long long n = 0, neg = 0;
        for (int64_t m = h * 60; m < h * 60 + 60; m++) {
            snprintf(key, sizeof key, "finsent:b:entity:COIN:%lld", (long long)m);
            n += th_alr_hget(c, key, "n");
            neg += th_alr_hget(c, key, "negative");
        }
        snprintf(key, sizeof key, "finsent:h:entity:COIN:%lld", (long long)h);
        ck_assert_int_eq(th_alr_hget(c, key, "n"), n);
        ck_assert_int_eq(th_alr_hget(c, key, "negative"), neg);
        ck_assert_int_eq(n, 40);
        ck_assert_int_eq(neg, 18);
        ck_assert(th_alr_int(c, "PTTL %s", key) > 7 * 86400000LL);
    }

    /* The bursts. */
    burst(&f);
    list = fired_list(c, "surge", "entity:BLUE", &a);
    ck_assert_msg(strstr(list, "surge entity:BLUE\n"), "%s", list);
    ck_assert_msg(strstr(list, "volume entity:VOL\n"), "%s", list);
    ck_assert_msg(!strstr(list, "surge entity:COIN") && !strstr(list, "volume entity:COIN"), "%s",
                  list);
    ck_assert_msg(!strstr(list, "surge entity:VOL"), "%s", list); /* same share */
    ck_assert_msg(!strstr(list, "fixed entity:BLUE"), "%s", list);  /* 20% < 0.4 */
    free(list);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(json_string_value(json_object_get(a, "basis")), "surge");
    ck_assert_str_eq(json_string_value(json_object_get(a, "baseline")), "1d");
    ck_assert_double_eq_tol(json_real_value(json_object_get(a, "baseline_share")), 0.05, 0.001);
    ck_assert_int_ge(json_integer_value(json_object_get(a, "baseline_n")), 900);
    ck_assert(json_real_value(json_object_get(a, "lift")) > 0.1);
    ck_assert(json_real_value(json_object_get(a, "value")) >= 0.05);
    ck_assert(json_is_false(json_object_get(a, "fallback")));
    json_decref(a);
    list = fired_list(c, "volume", "entity:VOL", &a);
    free(list);
    ck_assert_str_eq(json_string_value(json_object_get(a, "basis")), "volume");
    ck_assert(json_real_value(json_object_get(a, "ratio")) >= 3.0);
    ck_assert(json_real_value(json_object_get(a, "p_value")) < 0.001);
    ck_assert_double_eq_tol(json_real_value(json_object_get(a, "expected")),
                            (96 + 0.5) * 30.0 / 1440.0, 0.02); /* 4 an hour */
    json_decref(a);

    redisFree(c);
    alr_sink_free(f.s);
    th_redis_stop(&r);
}
END_TEST

/* snapshot: every hourly roll-up as "key n negative neutral positive" lines. */
static char *snapshot(redisContext *c)
{
    redisReply *keys = redisCommand(c, "KEYS finsent:h:*");
    size_t cap = 1 << 20, len = 0;
    char *out = calloc(1, cap);
    ck_assert_int_eq(keys->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_gt(keys->elements, 50);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        len += (size_t)snprintf(out + len, cap - len, "%s %lld %lld %lld %lld\n", k,
                                th_alr_hget(c, k, "n"), th_alr_hget(c, k, "negative"),
                                th_alr_hget(c, k, "neutral"), th_alr_hget(c, k, "positive"));
    }
    freeReplyObject(keys);
    return out;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted returns s's lines sorted (a new string) and frees s. */
static char *sorted(char *s)
{
    char *lines[8192], *save = NULL, *out;
    size_t n = 0, len = 0, cap = strlen(s) + 1;
    for (char *t = strtok_r(s, "\n", &save); t && n < 8192; t = strtok_r(NULL, "\n", &save))
        lines[n++] = t;
    qsort(lines, n, sizeof lines[0], cmp_lines);
    out = calloc(1, cap + 1);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap + 1 - len, "%s\n", lines[i]);
    free(s);
    return out;
}

/* Roll-ups are written by the same idempotent script as the minute buckets:
 * replaying the stream (same ids) through a new sink (a restart) changes no
 * hourly key. */
START_TEST(rollups_idempotent_across_restart_and_replay)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    feeder_t f = {0};
    redisContext *c;
    char *before, *after, *a1, *a2;

    ck_assert_msg(th_redis_start(&r, TH_REDIS_EPHEMERAL) == 0, "redis-server did not start");
    c = th_alr_connect(&r);
    f.s = sink(&r, &clk);
    f.clk = &clk;
    f.next_tick = TH_T0;
    day(&f);
    burst(&f);
    before = sorted(snapshot(c));
    a1 = fired_list(c, NULL, NULL, NULL);
    alr_sink_free(f.s);

    clk.now = TH_T0;
    f.s = sink(&r, &clk); /* a restart */
    f.seq = 0;
    f.next_tick = TH_T0;
    day(&f);
    burst(&f);
    after = sorted(snapshot(c));
    ck_assert_str_eq(before, after);
    /* The new sink judged the same bursts against the same baselines. */
    a2 = fired_list(c, NULL, NULL, NULL);
    ck_assert_msg(strstr(a1, "surge entity:BLUE") && strstr(a2, "surge entity:BLUE"), "%s", a2);
    free(before);
    free(after);
    free(a1);
    free(a2);
    redisFree(c);
    alr_sink_free(f.s);
    th_redis_stop(&r);
}
END_TEST

/* A reload (a new sink) with fewer rules clears the active set of the
 * rules that are gone, once, and leaves the others. */
START_TEST(active_set_pruned_of_removed_rules)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    redisContext *c;
    alr_sink_t *s;
    size_t fired = 0, resolved = 0;

    ck_assert_msg(th_redis_start(&r, TH_REDIS_EPHEMERAL) == 0, "redis-server did not start");
    c = th_alr_connect(&r);
    ck_assert_int_eq(th_alr_int(c, "SADD finsent:alerts:active gone:entity:X surge:entity:Y "
                                   "old.rule:topic:fed"),
                     3);
    s = sink(&r, &clk);
    ck_assert_int_eq(alr_sink_tick(s, &fired, &resolved), CORE_OK);
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active gone:entity:X"), 0);
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active old.rule:topic:fed"), 0);
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active surge:entity:Y"), 1);
    /* Only once per sink: an entry added later by another instance stays. */
    ck_assert_int_eq(th_alr_int(c, "SADD finsent:alerts:active gone:entity:Z"), 1);
    ck_assert_int_eq(alr_sink_tick(s, &fired, &resolved), CORE_OK);
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active gone:entity:Z"), 1);
    alr_sink_free(s);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

Suite *suite_baseline(void)
{
    Suite *s = suite_create("alr_baseline");
    TCase *tc = tcase_create("baseline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, surge_and_volume_against_own_history);
    tcase_add_test(tc, rollups_idempotent_across_restart_and_replay);
    tcase_add_test(tc, active_set_pruned_of_removed_rules);
    suite_add_tcase(s, tc);
    return s;
}
