/*
 * Allocation-failure tests of alr_sink_write against a real redis-server:
 * allocation N = 1, 2, ... of a write (connect and script load included,
 * on a fresh sink each time) fails until a write meets no failure. A
 * failed write must return CORE_ENOMEM (nothing of the batch may then be
 * acknowledged) and the same batch written again must leave exactly one
 * count per item; a write that returns CORE_OK although an allocation
 * failed (in the best-effort rate refresh) must already have every
 * countable item counted, since the daemon acknowledges them. Leaks are
 * the ASan build's to find. Allocations inside hiredis are not hooked.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_sink.h"
#include "core/core_alloc.h"
#include "tests/alerting/th_alr.h"

#ifdef FINSENT_ALLOC_HOOK

#define NITEMS 24
#define NCOUNTABLE (NITEMS - 2) /* one too old, one without a sentiment */

static const char *const SCOPES[] = {"all", "topic:fed-central-banks", "topic:earnings",
                                     "entity:AAPL", "entity:TSLA"};
#define NSCOPES (sizeof SCOPES / sizeof SCOPES[0])

static const char RULES[] = "[rule.neg]\nscope = all\nwindow = 5m\nthreshold = 0.3\n"
                            "clear = 0.1\nmin_count = 2\n"
                            "[rule.topic]\nscope = topic\nwindow = 15m\nthreshold = 0.2\n"
                            "clear = 0.1\nmin_count = 2\n";

/* make_items fills items and the expected counts want[scope][n, neg, neu, pos]. */
static void make_items(core_tagged_t **items, long long want[NSCOPES][4])
{
    memset(want, 0, NSCOPES * 4 * sizeof want[0][0]);
    for (int i = 0; i < NITEMS; i++) {
        char id[32];
        int fed = i % 2 == 0, sent = i % 3;
        const char *ents = i % 4 == 0 ? "AAPL,TSLA" : i % 4 == 1 ? "AAPL" : NULL;
        snprintf(id, sizeof id, "oom-%d", i);
        if (i == NITEMS - 2) { /* too old: reported, not counted */
            items[i] = th_alr_item(id, "Earnings", 0, TH_T0 - 48LL * 3600 * 1000, NULL);
            continue;
        }
        if (i == NITEMS - 1) { /* no sentiment: reported, not counted */
            items[i] = th_alr_item(id, "Earnings", -1, TH_T0, NULL);
            continue;
        }
        items[i] = th_alr_item(id, fed ? "Fed | Central Banks" : "Earnings", sent, TH_T0, ents);
        for (size_t s = 0; s < NSCOPES; s++) {
            int in = s == 0 || (s == 1 && fed) || (s == 2 && !fed) ||
                     (s == 3 && ents && strstr(ents, "AAPL")) ||
                     (s == 4 && ents && strstr(ents, "TSLA"));
            if (in) {
                want[s][0]++;
                want[s][1 + sent]++;
            }
        }
    }
}

/* check_counts: every bucket holds exactly its items, once. */
static void check_counts(redisContext *c, long long want[NSCOPES][4], long n)
{
    static const char *const f[4] = {"n", "negative", "neutral", "positive"};
    for (size_t s = 0; s < NSCOPES; s++) {
        char key[ALR_KEY_MAX];
        alr_key_bucket(key, sizeof key, "finsent:", SCOPES[s], alr_minute(TH_T0));
        for (int k = 0; k < 4; k++)
            ck_assert_msg(th_alr_hget(c, key, f[k]) == want[s][k], "N=%ld: %s %s: %lld != %lld",
                          n, key, f[k], th_alr_hget(c, key, f[k]), want[s][k]);
    }
    ck_assert_int_eq(th_alr_int(c, "EVAL %s 0", "return #redis.call('KEYS','finsent:b:*')"),
                     (long long)NSCOPES);
}

START_TEST(write_every_allocation_fails_cleanly)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    core_tagged_t *items[NITEMS];
    long long want[NSCOPES][4];
    redisContext *c;
    long n, failed = 0, ok_despite = 0;

    ck_assert_msg(th_redis_start(&r, TH_REDIS_EPHEMERAL) == 0, "redis-server did not start");
    c = th_alr_connect(&r);
    make_items(items, want);
    for (n = 1;; n++) {
        core_config_t *cfg = th_alr_config(&r, RULES);
        alr_sink_t *s = NULL;
        alr_write_result_t res = {0};
        char err[256] = "";
        core_err_t rc;
        long hit;

        ck_assert_int_lt(n, 5000);
        ck_assert_int_eq(th_alr_int(c, "EVAL %s 0", "redis.call('FLUSHALL') return 1"), 1);
        ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
        core_config_free(cfg);
        alr_sink_set_clock(s, th_clock_now, &clk);
        alr_sink_set_refresh_interval(s, 0);

        core_alloc_fail_at(n, CORE_ALLOC_ONCE);
        rc = alr_sink_write(s, items, NITEMS, &res);
        hit = core_alloc_failures();
        core_alloc_fail_at(0, CORE_ALLOC_ONCE);
        if (hit == 0) {
            ck_assert_msg(rc == CORE_OK, "N=%ld: %s", n, core_strerror(rc));
            ck_assert_uint_eq(res.counted, NCOUNTABLE);
            check_counts(c, want, n);
            alr_sink_free(s);
            break;
        }
        if (rc == CORE_OK) {
            /* Acknowledged: every countable item must be in Redis now. */
            ck_assert_msg(res.counted == NCOUNTABLE, "N=%ld: OK with %zu of %d counted", n,
                          res.counted, NCOUNTABLE);
            check_counts(c, want, n);
            ok_despite++;
        } else {
            ck_assert_msg(rc == CORE_ENOMEM, "N=%ld: %s, not CORE_ENOMEM", n, core_strerror(rc));
            failed++;
            /* Replayed: the same batch again, no failure: exact counts. */
            memset(&res, 0, sizeof res);
            rc = alr_sink_write(s, items, NITEMS, &res);
            ck_assert_msg(rc == CORE_OK, "N=%ld retry: %s (%s)", n, core_strerror(rc),
                          alr_sink_error(s));
            ck_assert_uint_eq(res.counted + res.duplicate, NCOUNTABLE);
            check_counts(c, want, n);
        }
        alr_sink_free(s);
    }
    printf("alloc-fail alr_sink_write: %ld allocations (connect, scripts, count, rates, rules); "
           "%ld failures returned CORE_ENOMEM and were replayed exactly, %ld fell in the "
           "best-effort refresh with every item counted\n",
           n - 1, failed, ok_despite);
    for (int i = 0; i < NITEMS; i++)
        core_tagged_free(items[i]);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

#endif

Suite *suite_sink_oom(void)
{
    Suite *s = suite_create("alr_sink_oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 300);
#ifdef FINSENT_ALLOC_HOOK
    tcase_add_test(tc, write_every_allocation_fails_cleanly);
#endif
    suite_add_tcase(s, tc);
    return s;
}
