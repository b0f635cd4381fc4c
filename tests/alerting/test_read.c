/* test_read: alr_read, the dashboard's read-only queries, against a real
 * redis-server filled with known keys and locked to read commands without
 * KEYS/SCAN (th_dash). Pure parts (scope names, series grid, item filter)
 * are tested without Redis. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "core/core_time.h"
#include "tests/common/th.h"
#include "tests/alerting/th_dash.h"

/* ---- pure ---------------------------------------------------------------- */

START_TEST(scope_normalize)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"all", "all"},
        {"topic:earnings", "topic:earnings"},
        {"topic:Energy | Oil", "topic:energy-oil"},
        {"topic:fed-central-banks", "topic:fed-central-banks"},
        {"entity:ACME", "entity:ACME"},
        {"entity:acme", "entity:ACME"},
        {"entity:BRK.B", "entity:BRK.B"},
    };
    static const char *const bad[] = {"",        "ALL",        "topic:",     "topic:!!!",
                                      "entity:", "entity:A B", "entity:A:B", "ticker:ACME",
                                      "foo",     "entity:$X"};
    char out[ALR_SCOPE_MAX], err[256];
    char longs[200];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(alr_read_scope_normalize(ok[i].in, out, sizeof out, err, sizeof err),
                         CORE_OK);
        ck_assert_str_eq(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(alr_read_scope_normalize(bad[i], out, sizeof out, err, sizeof err) ==
                          CORE_EINVAL,
                      "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err, "scope") != NULL, "message for '%s': %s", bad[i], err);
    }
    ck_assert_int_eq(alr_read_scope_normalize(NULL, out, sizeof out, err, sizeof err), CORE_EINVAL);
    memset(longs, 'A', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    memcpy(longs, "entity:", 7);
    ck_assert_int_eq(alr_read_scope_normalize(longs, out, sizeof out, err, sizeof err),
                     CORE_EINVAL);
}
END_TEST

START_TEST(series_plan)
{
    int64_t first;
    size_t np;
    char err[256];
    int64_t t0 = 1795874400000; /* 14:00:00Z, minute 29931240 (a multiple of 60) */

    /* one minute, step 1 */
    ck_assert_int_eq(alr_read_series_plan(t0 + 5000, t0 + 59000, 1, &first, &np, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(first, t0 / 60000);
    ck_assert_uint_eq(np, 1);
    /* from 14:07:10 to 14:21:00 at 5m: grid starts at 14:05, points 14:05 .. 14:20 */
    ck_assert_int_eq(alr_read_series_plan(t0 + 7 * 60000 + 10000, t0 + 21 * 60000, 5, &first, &np,
                                          err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(first, t0 / 60000 + 5);
    ck_assert_uint_eq(np, 4);
    /* exactly the cap: 1440 points at 1m */
    ck_assert_int_eq(alr_read_series_plan(t0, t0 + 1439 * 60000, 1, &first, &np, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(np, ALR_READ_MAX_POINTS);
    /* one more is refused, with the way out in the message */
    ck_assert_int_eq(alr_read_series_plan(t0, t0 + 1440 * 60000, 1, &first, &np, err, sizeof err),
                     CORE_ETOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err, "1440"));
    ck_assert_ptr_nonnull(strstr(err, "larger step"));
    /* 8 days at 1h: few points but too many buckets */
    ck_assert_int_eq(
        alr_read_series_plan(t0, t0 + 8LL * 86400000, 60, &first, &np, err, sizeof err),
        CORE_ETOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err, "7 days"));
    /* 7 days at 1h is fine: 168 points */
    ck_assert_int_eq(
        alr_read_series_plan(t0, t0 + 7LL * 86400000 - 60000, 60, &first, &np, err, sizeof err),
        CORE_OK);
    ck_assert_uint_eq(np, 168);
    /* 7 days from an unaligned minute at 1h: the grid starts up to 59
     * minutes earlier, which does not count against the cap */
    ck_assert_int_eq(alr_read_series_plan(t0 + 59 * 60000, t0 + 7LL * 86400000 + 58 * 60000, 60,
                                          &first, &np, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(first, t0 / 60000);
    ck_assert_uint_eq(np, 169);
    ck_assert_int_eq(alr_read_series_plan(t0 + 1, t0, 1, &first, &np, err, sizeof err),
                     CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "from is after to"));
    ck_assert_int_eq(alr_read_series_plan(t0, t0, 0, &first, &np, err, sizeof err), CORE_EINVAL);
}
END_TEST

START_TEST(item_in_scope)
{
    json_t *it = json_loads("{\"id\":\"x\",\"topic\":\"Energy | Oil\",\"entities\":[\"ACME\","
                            "\"brk.b\"]}",
                            0, NULL);
    json_t *bare = json_loads("{\"id\":\"y\",\"topic\":null}", 0, NULL);
    ck_assert_ptr_nonnull(it);
    ck_assert_int_eq(alr_read_item_in_scope(it, "all"), 1);
    ck_assert_int_eq(alr_read_item_in_scope(it, "topic:energy-oil"), 1);
    ck_assert_int_eq(alr_read_item_in_scope(it, "topic:energy"), 0);
    ck_assert_int_eq(alr_read_item_in_scope(it, "entity:ACME"), 1);
    ck_assert_int_eq(alr_read_item_in_scope(it, "entity:BRK.B"), 1);
    ck_assert_int_eq(alr_read_item_in_scope(it, "entity:XOM"), 0);
    ck_assert_int_eq(alr_read_item_in_scope(bare, "all"), 1);
    ck_assert_int_eq(alr_read_item_in_scope(bare, "topic:energy-oil"), 0);
    ck_assert_int_eq(alr_read_item_in_scope(bare, "entity:ACME"), 0);
    json_decref(it);
    json_decref(bare);
}
END_TEST

/* ---- against Redis ------------------------------------------------------- */

static th_dash_t D;
static alr_reader_t *R;

static void setup(void)
{
    core_config_t *cfg;
    char err[512] = "";
    ck_assert_int_eq(th_dash_start(&D), 0);
    cfg = th_dash_config(&D);
    ck_assert_msg(alr_reader_new(cfg, &R, err, sizeof err) == CORE_OK, "%s", err);
    alr_reader_set_clock(R, th_dash_clock, &D);
    core_config_free(cfg);
}

static void teardown(void)
{
    alr_reader_free(R);
    R = NULL;
    th_dash_stop(&D);
}

START_TEST(lock_is_real)
{
    /* The fixture's ACL must refuse KEYS, SCAN and writes, or the read-only
     * claim of the other tests would prove nothing. */
    redisContext *c = redisConnect("127.0.0.1", D.redis.port);
    redisReply *r;
    ck_assert_ptr_nonnull(c);
    r = redisCommand(c, "KEYS *");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "SCAN 0");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "HSET finsent:x a 1");
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "HGET finsent:rate:all:15m n");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
    redisFree(c);
}
END_TEST

START_TEST(windows_from_config)
{
    const int *w;
    size_t n = alr_reader_windows(R, &w);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(w[0], 5);
    ck_assert_int_eq(w[1], 15);
    ck_assert_int_eq(w[2], 60);
}
END_TEST

START_TEST(rates_sorted)
{
    json_t *o = NULL, *sc, *row;
    char err[512] = "";
    /* By the lower Wilson bound at 95%: ACME 30/40 (0.598) before TWO 2/2
     * (0.342, though its share is 100%), all 40/100 (0.309), energy-oil 10/50
     * (0.112), TIE 2/10 (0.057). */
    static const char *const order[] = {"entity:ACME", "entity:TWO", "all", "topic:energy-oil",
                                        "entity:TIE"};
    static const double lower[] = {0.5984, 0.3424, 0.3094, 0.1124, 0.0567};

    ck_assert_msg(alr_read_rates(R, 15, 1, &o, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(json_string_value(json_object_get(o, "window")), "15m");
    sc = json_object_get(o, "scopes");
    /* OLD has a rate hash but was last seen 3 h ago: not current. */
    ck_assert_uint_eq(json_array_size(sc), 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sc, i), "scope")),
                         order[i]);
        ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(sc, i), "lower")),
                                lower[i], 1e-3);
    }
    row = json_array_get(sc, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "negative")), 30);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "neutral")), 6);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "positive")), 4);
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "neg_rate")), 0.75, 1e-9);
    ck_assert(json_is_string(json_object_get(row, "updated")));
    ck_assert(json_is_false(json_object_get(o, "truncated")));
    json_decref(o);

    /* A minimum count hides the small scopes. */
    ck_assert_msg(alr_read_rates(R, 15, 20, &o, err, sizeof err) == CORE_OK, "%s", err);
    sc = json_object_get(o, "scopes");
    ck_assert_uint_eq(json_array_size(sc), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sc, 1), "scope")), "all");
    json_decref(o);

    /* 5m: only ACME has a 5m hash. */
    ck_assert_msg(alr_read_rates(R, 5, 1, &o, err, sizeof err) == CORE_OK, "%s", err);
    sc = json_object_get(o, "scopes");
    ck_assert_uint_eq(json_array_size(sc), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(sc, 0), "n")), 9);
    json_decref(o);
}
END_TEST

START_TEST(rates_unknown_window)
{
    json_t *o = NULL;
    char err[512] = "";
    ck_assert_int_eq(alr_read_rates(R, 7, 1, &o, err, sizeof err), CORE_EINVAL);
    ck_assert_ptr_null(o);
    ck_assert_msg(strstr(err, "7m") && strstr(err, "5m, 15m, 1h"), "%s", err);
}
END_TEST

/* check_series compares a series answer with the fixture's buckets. */
static void check_series(json_t *o, int64_t rows[][4], int64_t first_min, int step)
{
    static const char *const f[4] = {"n", "negative", "neutral", "positive"};
    json_t *t = json_object_get(o, "t"), *nr = json_object_get(o, "neg_rate");
    int64_t fixture_first = D.now_min - TH_DASH_MINUTES + 1;
    size_t np = json_array_size(t);

    ck_assert_uint_gt(np, 0);
    for (int k = 0; k < 4; k++)
        ck_assert_uint_eq(json_array_size(json_object_get(o, f[k])), np);
    ck_assert_uint_eq(json_array_size(nr), np);
    for (size_t p = 0; p < np; p++) {
        int64_t start = first_min + (int64_t)p * step;
        int lo = (int)(start - fixture_first), hi = lo + step - 1;
        /* the planted bucket one minute before the fixture (n = negative =
         * 1000, entity:ACME only) belongs to a point whose grid covers it */
        int64_t extra = (rows == D.acme && lo <= -1 && hi >= -1) ? 1000 : 0;
        int64_t n = th_dash_sum(rows, lo, hi, 0) + extra;
        ck_assert_int_eq(json_integer_value(json_array_get(t, p)), start * 60000);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(json_integer_value(json_array_get(json_object_get(o, f[k]), p)) ==
                              th_dash_sum(rows, lo, hi, k) + (k < 2 ? extra : 0),
                          "point %zu field %s", p, f[k]);
        if (n == 0)
            ck_assert(json_is_null(json_array_get(nr, p)));
        else
            ck_assert_double_eq_tol(json_real_value(json_array_get(nr, p)),
                                    (double)(th_dash_sum(rows, lo, hi, 1) + extra) / (double)n,
                                    1e-9);
    }
}

START_TEST(series_step_1m)
{
    json_t *o = NULL;
    char err[512] = "";
    int64_t from = (D.now_min - TH_DASH_MINUTES + 1) * 60000;
    ck_assert_msg(alr_read_series(R, "entity:ACME", from, D.now, 1, &o, err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "t")), TH_DASH_MINUTES);
    ck_assert_str_eq(json_string_value(json_object_get(o, "step")), "1m");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "step_ms")), 60000);
    check_series(o, D.acme, D.now_min - TH_DASH_MINUTES + 1, 1);
    json_decref(o);
}
END_TEST

START_TEST(series_step_sums)
{
    static const int steps[] = {2, 5, 7, 60};
    /* From a time inside the first filled minute: the grid is aligned to
     * the step, so the first point may start before `from` and then also
     * holds the buckets of its earlier minutes (none for energy-oil); the
     * sums must match the buckets point by point. */
    int64_t from = (D.now_min - TH_DASH_MINUTES + 1) * 60000 + 12345;
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        json_t *o = NULL;
        char err[512] = "";
        int st = steps[s];
        int64_t fm = D.now_min - TH_DASH_MINUTES + 1;
        int64_t first = fm - ((fm % st) + st) % st;
        ck_assert_msg(
            alr_read_series(R, "topic:energy-oil", from, D.now, st, &o, err, sizeof err) == CORE_OK,
            "%s", err);
        ck_assert_uint_eq(json_array_size(json_object_get(o, "t")),
                          (size_t)((D.now_min - first) / st + 1));
        check_series(o, D.oil, first, st);
        json_decref(o);
    }
}
END_TEST

START_TEST(series_outside_minute_excluded)
{
    /* A range starting one minute before the filled ones reads the planted
     * 1000-item bucket there, and only there. */
    json_t *o = NULL;
    char err[512] = "";
    int64_t before = D.now_min - TH_DASH_MINUTES;
    ck_assert_int_eq(alr_read_series(R, "entity:ACME", before * 60000, before * 60000 + 59999, 1,
                                     &o, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "n"), 0)), 1000);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "n")), 1);
    json_decref(o);
}
END_TEST

START_TEST(series_bounds)
{
    json_t *o = NULL;
    char err[512] = "";
    ck_assert_int_eq(
        alr_read_series(R, "all", D.now - 2LL * 86400000, D.now, 1, &o, err, sizeof err),
        CORE_ETOO_LARGE);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(alr_read_series(R, "all", D.now, D.now - 1, 1, &o, err, sizeof err),
                     CORE_EINVAL);
    /* unknown scope: zeros, not an error */
    ck_assert_int_eq(
        alr_read_series(R, "entity:NOPE", D.now - 600000, D.now, 5, &o, err, sizeof err), CORE_OK);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "n"), 0)), 0);
    ck_assert(json_is_null(json_array_get(json_object_get(o, "neg_rate"), 0)));
    json_decref(o);
}
END_TEST

static const char *alert_field(json_t *arr, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(arr, i), k));
}

START_TEST(alerts_stream)
{
    json_t *o = NULL, *a;
    char err[512] = "", id[48];

    /* newest 2, answered oldest first */
    ck_assert_msg(alr_read_alerts(R, NULL, -1, 2, &o, err, sizeof err) == CORE_OK, "%s", err);
    a = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(alert_field(a, 0, "state"), "resolved");
    ck_assert_str_eq(alert_field(a, 1, "scope"), "topic:energy-oil");
    snprintf(id, sizeof id, "%lld-0", (long long)(D.now - 50000));
    ck_assert_str_eq(json_string_value(json_object_get(o, "last_id")), id);
    ck_assert_str_eq(alert_field(a, 1, "stream_id"), id);
    json_decref(o);

    /* all of them: the broken entry is skipped */
    ck_assert_int_eq(alr_read_alerts(R, NULL, -1, 100, &o, err, sizeof err), CORE_OK);
    a = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(a), 3);
    ck_assert_str_eq(alert_field(a, 0, "state"), "firing");
    ck_assert_str_eq(alert_field(a, 0, "rule"), "r");
    ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(a, 0), "neg_rate")),
                            0.75, 1e-9);
    ck_assert(json_is_false(json_object_get(o, "more")));
    json_decref(o);

    /* after the first id (exclusive), one at a time: more = true */
    snprintf(id, sizeof id, "%lld-0", (long long)(D.now - 300000));
    ck_assert_int_eq(alr_read_alerts(R, id, -1, 1, &o, err, sizeof err), CORE_OK);
    a = json_object_get(o, "alerts");
    /* the next entry is the broken one: skipped, but last_id moves past it */
    ck_assert_uint_eq(json_array_size(a), 0);
    snprintf(id, sizeof id, "%lld-0", (long long)(D.now - 200000));
    ck_assert_str_eq(json_string_value(json_object_get(o, "last_id")), id);
    ck_assert(json_is_true(json_object_get(o, "more")));
    json_decref(o);
    ck_assert_int_eq(alr_read_alerts(R, id, -1, 10, &o, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 2);
    ck_assert(json_is_false(json_object_get(o, "more")));
    json_decref(o);

    /* since a time (inclusive) */
    ck_assert_int_eq(alr_read_alerts(R, NULL, D.now - 100000, 10, &o, err, sizeof err), CORE_OK);
    a = json_object_get(o, "alerts");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(alert_field(a, 0, "state"), "resolved");
    json_decref(o);

    /* nothing new */
    ck_assert_int_eq(alr_read_alerts(R, NULL, D.now + 1, 10, &o, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 0);
    ck_assert(json_is_null(json_object_get(o, "last_id")));
    json_decref(o);
}
END_TEST

START_TEST(alerts_bad_args)
{
    json_t *o = NULL;
    char err[512] = "";
    ck_assert_int_eq(alr_read_alerts(R, "12-x", -1, 10, &o, err, sizeof err), CORE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "stream id"));
    ck_assert_int_eq(alr_read_alerts(R, "", -1, 10, &o, err, sizeof err), CORE_EINVAL);
    ck_assert_int_eq(alr_read_alerts(R, NULL, -1, 0, &o, err, sizeof err), CORE_EINVAL);
    ck_assert_int_eq(alr_read_alerts(R, NULL, -1, ALR_READ_MAX_ALERTS + 1, &o, err, sizeof err),
                     CORE_EINVAL);
    ck_assert_ptr_null(o);
    /* Issue 18: ids Redis would refuse are the caller's error, never
     * CORE_EREDIS (which the API answers 503): a part over 2^64 - 1 is caught
     * before the query, and "(MAX-MAX", which Redis refuses as a start, is
     * mapped to CORE_EINVAL. */
    ck_assert_int_eq(alr_read_alerts(R, "99999999999999999999-1", -1, 10, &o, err, sizeof err),
                     CORE_EINVAL);
    ck_assert_int_eq(alr_read_alerts(R, "18446744073709551615-18446744073709551615", -1, 10, &o,
                                     err, sizeof err),
                     CORE_EINVAL);
    ck_assert_msg(strstr(err, "start ID"), "%s", err);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(alr_read_alerts(R, "18446744073709551615", -1, 10, &o, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "alerts")), 0);
    json_decref(o);
}
END_TEST

/* alr_read_stream_id_ok: "MS" or "MS-SEQ", each part a decimal that fits in
 * 64 bits unsigned (issue 18: "99999999999999999999-1" used to pass). */
START_TEST(stream_id_ok)
{
    static const char *const good[] = {"0", "1-0", "1795882787724-0",
                                       "18446744073709551615-18446744073709551615",
                                       "00000000000000000000000000001-0"};
    static const char *const bad[] = {"",
                                      "-1",
                                      "1-",
                                      "1-2-3",
                                      "a",
                                      "1-x",
                                      " 1",
                                      "+1",
                                      "18446744073709551616",
                                      "1-18446744073709551616",
                                      "99999999999999999999-1",
                                      "000000000000000000000000000000000000000001-0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(alr_read_stream_id_ok(good[i]), "'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!alr_read_stream_id_ok(bad[i]), "'%s' accepted", bad[i]);
    ck_assert(!alr_read_stream_id_ok(NULL));
}
END_TEST

START_TEST(active_states)
{
    json_t *o = NULL, *a;
    char err[512] = "";
    ck_assert_msg(alr_read_active(R, &o, err, sizeof err) == CORE_OK, "%s", err);
    a = json_object_get(o, "active");
    /* GONE has no hash, DONE is resolved: both left out; firing first */
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(alert_field(a, 0, "state"), "firing");
    ck_assert_str_eq(alert_field(a, 0, "scope"), "entity:ACME");
    ck_assert_str_eq(alert_field(a, 0, "window"), "15m");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "n")), 40);
    ck_assert(json_is_string(json_object_get(json_array_get(a, 0), "since")));
    ck_assert_str_eq(alert_field(a, 1, "state"), "pending");
    ck_assert(json_is_null(json_object_get(json_array_get(a, 1), "since")));
    json_decref(o);
}
END_TEST

START_TEST(recent_items)
{
    json_t *o = NULL, *it;
    char err[512] = "";

    ck_assert_msg(alr_read_recent(R, NULL, 10, &o, err, sizeof err) == CORE_OK, "%s", err);
    it = json_object_get(o, "items");
    /* 5 entries, one not JSON: 4 items, newest first */
    ck_assert_uint_eq(json_array_size(it), 4);
    ck_assert_str_eq(alert_field(it, 0, "id"), "i4");
    ck_assert_str_eq(alert_field(it, 3, "id"), "i1");
    ck_assert(json_is_null(json_object_get(o, "scope")));
    json_decref(o);

    ck_assert_int_eq(alr_read_recent(R, NULL, 2, &o, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "items")), 2);
    json_decref(o);

    ck_assert_int_eq(alr_read_recent(R, "entity:ACME", 10, &o, err, sizeof err), CORE_OK);
    it = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(it), 2); /* "acme" in i3 counts as ACME */
    ck_assert_str_eq(alert_field(it, 0, "id"), "i3");
    ck_assert_str_eq(alert_field(it, 1, "id"), "i1");
    ck_assert_double_eq_tol(json_real_value(json_object_get(
                                json_object_get(json_array_get(it, 1), "sentiment_p"), "negative")),
                            0.9, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(o, "scope")), "entity:ACME");
    json_decref(o);

    ck_assert_int_eq(alr_read_recent(R, "topic:energy-oil", 1, &o, err, sizeof err), CORE_OK);
    it = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(it), 1);
    ck_assert_str_eq(alert_field(it, 0, "id"), "i3");
    json_decref(o);

    ck_assert_int_eq(alr_read_recent(R, NULL, 0, &o, err, sizeof err), CORE_EINVAL);
    ck_assert_int_eq(alr_read_recent(R, NULL, ALR_READ_MAX_RECENT + 1, &o, err, sizeof err),
                     CORE_EINVAL);
}
END_TEST

START_TEST(redis_away)
{
    json_t *o = NULL;
    char err[512] = "";
    th_redis_kill(&D.redis);
    ck_assert_int_eq(alr_read_rates(R, 15, 1, &o, err, sizeof err), CORE_ENET);
    ck_assert_ptr_null(o);
    ck_assert_msg(strncmp(err, "redis:", 6) == 0, "%s", err);
    ck_assert_int_eq(alr_read_recent(R, NULL, 5, &o, err, sizeof err), CORE_ENET);
    /* back again: the next query reconnects */
    ck_assert_int_eq(th_redis_restart(&D.redis), 0);
    ck_assert_msg(alr_read_recent(R, NULL, 5, &o, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "items")), 0); /* ephemeral: empty */
    json_decref(o);
}
END_TEST

START_TEST(rates_scope_cap)
{
    /* More current scopes than ALR_READ_MAX_SCOPES: the most recently active
     * ones are answered, sorted, and "truncated" says so. */
    th_redis_t rs;
    redisContext *c;
    core_config_t *cfg;
    alr_reader_t *r = NULL;
    json_t *o = NULL, *sc;
    char err[512] = "", text[256];
    int64_t now = core_time_now_ms();
    int total = ALR_READ_MAX_SCOPES + 5;

    ck_assert_int_eq(th_redis_start(&rs, TH_REDIS_EPHEMERAL), 0);
    c = redisConnect("127.0.0.1", rs.port);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < total; i++) {
        /* scope i was active i ms ago; its neg_rate grows with i */
        redisAppendCommand(c, "ZADD finsent:scopes %lld entity:S%d", (long long)(now - i), i);
        redisAppendCommand(c,
                           "HSET finsent:rate:entity:S%d:15m n 100 negative %d neg_rate %.4f "
                           "updated %lld",
                           i, i % 100, (double)(i % 100) / 100.0, (long long)now);
    }
    for (int i = 0; i < 2 * total; i++) {
        redisReply *rep;
        ck_assert_int_eq(redisGetReply(c, (void **)&rep), REDIS_OK);
        ck_assert_int_ne(rep->type, REDIS_REPLY_ERROR);
        freeReplyObject(rep);
    }
    redisFree(c);
    snprintf(text, sizeof text, "[redis]\nport = %d\nwindows = 15m\n", rs.port);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_int_eq(core_config_load_string(cfg, "t", text, err, sizeof err), CORE_OK);
    ck_assert_msg(alr_reader_new(cfg, &r, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(alr_read_rates(r, 15, 1, &o, err, sizeof err) == CORE_OK, "%s", err);
    sc = json_object_get(o, "scopes");
    ck_assert_uint_eq(json_array_size(sc), ALR_READ_MAX_SCOPES);
    ck_assert(json_is_true(json_object_get(o, "truncated")));
    for (size_t i = 1; i < json_array_size(sc); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(sc, i), "scope"));
        ck_assert(json_real_value(json_object_get(json_array_get(sc, i - 1), "neg_rate")) >=
                  json_real_value(json_object_get(json_array_get(sc, i), "neg_rate")));
        /* the oldest five (S2000..S2004) are the ones left out */
        ck_assert_int_lt(atoi(name + strlen("entity:S")), ALR_READ_MAX_SCOPES);
    }
    json_decref(o);
    alr_reader_free(r);
    core_config_free(cfg);
    th_redis_stop(&rs);
}
END_TEST

START_TEST(error_reply_mid_pipeline)
{
    /* An error reply to one of a query's pipelined reads fails the query
     * (even when later replies are fine), and the connection stays usable. */
    th_redis_t rs;
    redisContext *c;
    core_config_t *cfg;
    alr_reader_t *r = NULL;
    json_t *o = NULL;
    char err[512] = "", text[256];
    int64_t now = core_time_now_ms(), m = now / 60000;
    redisReply *rep;

    ck_assert_int_eq(th_redis_start(&rs, TH_REDIS_EPHEMERAL), 0);
    c = redisConnect("127.0.0.1", rs.port);
    ck_assert_ptr_nonnull(c);
    rep = redisCommand(c, "ZADD finsent:scopes %lld entity:A %lld entity:B", (long long)now,
                       (long long)now - 1);
    freeReplyObject(rep);
    rep = redisCommand(c, "SET finsent:rate:entity:A:15m not-a-hash");
    freeReplyObject(rep);
    rep = redisCommand(c, "HSET finsent:rate:entity:B:15m n 3 negative 1 neg_rate 0.3333");
    freeReplyObject(rep);
    rep = redisCommand(c, "SET finsent:b:entity:A:%lld not-a-hash", (long long)(m - 1));
    freeReplyObject(rep);
    rep = redisCommand(c, "HSET finsent:b:entity:A:%lld n 2", (long long)m);
    freeReplyObject(rep);
    rep = redisCommand(c, "LPUSH finsent:recent {\"id\":\"z\"}");
    freeReplyObject(rep);
    redisFree(c);
    snprintf(text, sizeof text, "[redis]\nport = %d\nwindows = 15m\n", rs.port);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_int_eq(core_config_load_string(cfg, "t", text, err, sizeof err), CORE_OK);
    ck_assert_msg(alr_reader_new(cfg, &r, err, sizeof err) == CORE_OK, "%s", err);

    ck_assert_int_eq(alr_read_rates(r, 15, 1, &o, err, sizeof err), CORE_EREDIS);
    ck_assert_ptr_null(o);
    ck_assert_msg(strstr(err, "WRONGTYPE") != NULL, "%s", err);
    ck_assert_int_eq(alr_read_series(r, "entity:A", now - 120000, now, 1, &o, err, sizeof err),
                     CORE_EREDIS);
    ck_assert_ptr_null(o);
    /* in step: the next query reads its own reply */
    ck_assert_msg(alr_read_recent(r, NULL, 5, &o, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(o, "items"), 0), "id")),
        "z");
    json_decref(o);
    alr_reader_free(r);
    core_config_free(cfg);
    th_redis_stop(&rs);
}
END_TEST

/* A "Redis" that accepts one connection and never answers. */
typedef struct silent {
    int lfd, cfd, port;
    int accepted_pipe[2];
} silent_t;

static void *silent_accept(void *arg)
{
    silent_t *sv = arg;
    char one = 1;
    sv->cfd = accept(sv->lfd, NULL, NULL);
    ck_assert_int_eq(write(sv->accepted_pipe[1], &one, 1), 1);
    return NULL;
}

typedef struct slow_query {
    alr_reader_t *r;
    core_err_t rc;
} slow_query_t;

static void *run_slow_query(void *arg)
{
    slow_query_t *q = arg;
    json_t *o = NULL;
    char err[256];
    q->rc = alr_read_recent(q->r, NULL, 5, &o, err, sizeof err);
    json_decref(o);
    return NULL;
}

START_TEST(busy_reader)
{
    /* While one query waits on a Redis that does not answer, another query
     * returns CORE_EAGAIN ("busy") instead of blocking its HTTP thread. */
    silent_t sv = {0};
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    pthread_t acc, q1;
    slow_query_t sq = {0};
    core_config_t *cfg;
    alr_reader_t *r = NULL;
    json_t *o = NULL;
    char err[512] = "", text[256], c;

    sv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(sv.lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(sv.lfd, 4), 0);
    ck_assert_int_eq(getsockname(sv.lfd, (struct sockaddr *)&a, &al), 0);
    sv.port = ntohs(a.sin_port);
    ck_assert_int_eq(pipe(sv.accepted_pipe), 0);
    ck_assert_int_eq(pthread_create(&acc, NULL, silent_accept, &sv), 0);

    snprintf(text, sizeof text, "[redis]\nport = %d\ncommand_timeout = 10s\nwindows = 15m\n",
             sv.port);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_int_eq(core_config_load_string(cfg, "t", text, err, sizeof err), CORE_OK);
    ck_assert_msg(alr_reader_new(cfg, &r, err, sizeof err) == CORE_OK, "%s", err);
    sq.r = r;
    ck_assert_int_eq(pthread_create(&q1, NULL, run_slow_query, &sq), 0);
    /* once accepted, the first query holds the reader (it locks before
     * connecting) and waits for a reply that never comes */
    ck_assert_int_eq(read(sv.accepted_pipe[0], &c, 1), 1);
    ck_assert_int_eq(alr_read_rates(r, 15, 1, &o, err, sizeof err), CORE_EAGAIN);
    ck_assert_ptr_null(o);
    ck_assert_ptr_nonnull(strstr(err, "busy"));
    /* the first query gives up at the reader's 2 s command cap, not 10 s */
    pthread_join(q1, NULL);
    ck_assert_int_ne(sq.rc, CORE_OK);
    pthread_join(acc, NULL);
    close(sv.cfd);
    close(sv.lfd);
    close(sv.accepted_pipe[0]);
    close(sv.accepted_pipe[1]);
    alr_reader_free(r);
    core_config_free(cfg);
}
END_TEST

/* suite_read: the pure cases, and the Redis ones when with_redis. */
Suite *suite_read(int with_redis)
{
    Suite *s = suite_create("alr_read");
    TCase *p = tcase_create("pure"), *r, *big;
    tcase_add_test(p, scope_normalize);
    tcase_add_test(p, series_plan);
    tcase_add_test(p, item_in_scope);
    tcase_add_test(p, stream_id_ok);
    suite_add_tcase(s, p);
    if (!with_redis)
        return s;
    r = tcase_create("redis");
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_set_timeout(r, 30);
    tcase_add_test(r, lock_is_real);
    tcase_add_test(r, windows_from_config);
    tcase_add_test(r, rates_sorted);
    tcase_add_test(r, rates_unknown_window);
    tcase_add_test(r, series_step_1m);
    tcase_add_test(r, series_step_sums);
    tcase_add_test(r, series_outside_minute_excluded);
    tcase_add_test(r, series_bounds);
    tcase_add_test(r, alerts_stream);
    tcase_add_test(r, alerts_bad_args);
    tcase_add_test(r, active_states);
    tcase_add_test(r, recent_items);
    tcase_add_test(r, redis_away);
    suite_add_tcase(s, r);
    big = tcase_create("caps");
    tcase_set_timeout(big, 30);
    tcase_add_test(big, rates_scope_cap);
    tcase_add_test(big, busy_reader);
    tcase_add_test(big, error_reply_mid_pipeline);
    suite_add_tcase(s, big);
    return s;
}
