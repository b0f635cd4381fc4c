/*
 * Tests of alr_sink against a real redis-server (one per test, on a free
 * port): exact counts, replays, window edges, late and future items, the
 * rule life cycle with alerts on the channel and the stream, two processes
 * racing for one transition, and a Redis crash mid-stream with AOF.
 */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "alerting/alr_sink.h"
#include "core/core_metrics.h"
#include "tests/alerting/th_alr.h"

/* ---- a generated stream of known labels -------------------------------- */

static const char *const TOPICS[] = {"Fed | Central Banks", "Earnings", "M&A", "Crypto"};
static const char *const TICKERS[] = {"AAPL", "MSFT", "TSLA", "NVDA", "BRK.B"};

typedef struct expect {
    char scope[ALR_SCOPE_MAX];
    int64_t minute;
    long long c[4]; /* n, negative, neutral, positive */
} expect_t;

typedef struct stream {
    core_tagged_t **items;
    size_t n;
    expect_t *ex;
    size_t nex;
} stream_t;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void expect_add(stream_t *st, const char *scope, int64_t minute, int sentiment)
{
    expect_t *e = NULL;
    for (size_t i = 0; i < st->nex && !e; i++) {
        if (st->ex[i].minute == minute && strcmp(st->ex[i].scope, scope) == 0)
            e = &st->ex[i];
    }
    if (!e) {
        e = &st->ex[st->nex++];
        memset(e, 0, sizeof *e);
        snprintf(e->scope, sizeof e->scope, "%s", scope);
        e->minute = minute;
    }
    e->c[0]++;
    e->c[1 + sentiment]++;
}

/* make_stream: n items over the `span_min` minutes before now, with
 * deterministic topics, sentiments and 0-2 tickers, and the expected
 * bucket counts computed independently of the sink. */
static void make_stream(stream_t *st, size_t n, int64_t now, int span_min, uint32_t seed)
{
    st->items = calloc(n, sizeof *st->items);
    st->ex = calloc(n * 8, sizeof *st->ex);
    st->n = n;
    st->nex = 0;
    for (size_t i = 0; i < n; i++) {
        char id[32], ents[64] = "", scope[ALR_SCOPE_MAX];
        int topic = (int)(lcg(&seed) % 4), sent = (int)(lcg(&seed) % 3);
        int64_t ev = now - (int64_t)(lcg(&seed) % ((uint32_t)span_min * 60000u));
        int ne = (int)(lcg(&seed) % 3);
        int t1 = (int)(lcg(&seed) % 5), t2 = (int)(lcg(&seed) % 5);
        int64_t minute = alr_minute(ev);
        snprintf(id, sizeof id, "item-%u-%zu", seed % 1000, i);
        if (ne >= 1)
            snprintf(ents, sizeof ents, "%s", TICKERS[t1]);
        if (ne == 2 && t2 != t1)
            snprintf(ents + strlen(ents), sizeof ents - strlen(ents), ",%s", TICKERS[t2]);
        st->items[i] = th_alr_item(id, TOPICS[topic], sent, ev, ents);
        expect_add(st, "all", minute, sent);
        alr_scope_topic(TOPICS[topic], scope, sizeof scope);
        expect_add(st, scope, minute, sent);
        for (size_t e = 0; e < st->items[i]->item->n_entities; e++) {
            alr_scope_entity(st->items[i]->item->entities[e], scope, sizeof scope);
            expect_add(st, scope, minute, sent);
        }
    }
}

static void free_stream(stream_t *st)
{
    for (size_t i = 0; i < st->n; i++)
        core_tagged_free(st->items[i]);
    free(st->items);
    free(st->ex);
}

/* write_all writes the stream in batches and checks each call succeeded. */
static void write_all(alr_sink_t *s, const stream_t *st, size_t batch, alr_outcome_t want)
{
    alr_outcome_t out[64];
    for (size_t i = 0; i < st->n; i += batch) {
        size_t k = st->n - i < batch ? st->n - i : batch;
        alr_write_result_t res = {.outcomes = out};
        ck_assert_uint_le(k, 64);
        ck_assert_int_eq(alr_sink_write(s, st->items + i, k, &res), CORE_OK);
        for (size_t j = 0; j < k; j++)
            ck_assert_int_eq(out[j], want);
        ck_assert_uint_eq(want == ALR_ITEM_COUNTED ? res.counted : res.duplicate, k);
    }
}

/* check_buckets asserts every expected bucket holds exactly its counts and
 * that no other bucket exists. */
static void check_buckets(redisContext *c, const stream_t *st)
{
    static const char *const f[4] = {"n", "negative", "neutral", "positive"};
    redisReply *rep;
    for (size_t i = 0; i < st->nex; i++) {
        char key[ALR_KEY_MAX];
        alr_key_bucket(key, sizeof key, "finsent:", st->ex[i].scope, st->ex[i].minute);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(th_alr_hget(c, key, f[k]) == st->ex[i].c[k], "%s %s: %lld != %lld", key,
                          f[k], th_alr_hget(c, key, f[k]), st->ex[i].c[k]);
    }
    rep = redisCommand(c, "KEYS finsent:b:*");
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(rep->elements, st->nex);
    freeReplyObject(rep);
}

/* window_sum: expected counts of scope over the w minutes ending at now. */
static void window_sum(const stream_t *st, const char *scope, int64_t now, int w, long long *c)
{
    int64_t m = alr_minute(now);
    memset(c, 0, 4 * sizeof *c);
    for (size_t i = 0; i < st->nex; i++) {
        if (strcmp(st->ex[i].scope, scope) == 0 && st->ex[i].minute > m - w &&
            st->ex[i].minute <= m) {
            for (int k = 0; k < 4; k++)
                c[k] += st->ex[i].c[k];
        }
    }
}

static alr_sink_t *mksink(const th_redis_t *r, const char *extra, th_clock_t *clk)
{
    core_config_t *cfg = th_alr_config(r, extra);
    alr_sink_t *s = NULL;
    char err[256] = "";
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    if (clk)
        alr_sink_set_clock(s, th_clock_now, clk);
    alr_sink_set_refresh_interval(s, 0); /* rates after every write */
    return s;
}

static void start(th_redis_t *r, th_redis_mode_t mode)
{
    ck_assert_msg(th_redis_start(r, mode) == 0, "redis-server did not start (log %s)", r->log);
}

/* ---- counting ---------------------------------------------------------- */

START_TEST(counts_exact_and_rates)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    stream_t st;
    alr_sink_t *s;
    redisContext *c;
    alr_rate_t *rows = NULL;
    size_t nrows = 0;

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, "[redis]\nrecent_max = 50\n", &clk);
    make_stream(&st, 400, TH_T0, 20, 7);
    write_all(s, &st, 32, ALR_ITEM_COUNTED);
    c = th_alr_connect(&r);
    check_buckets(c, &st);

    /* Rate hashes of every scope and window equal the sums of the buckets. */
    for (size_t i = 0; i < st.nex; i++) {
        static const int wins[3] = {5, 15, 60};
        static const char *const names[3] = {"5m", "15m", "1h"};
        for (int w = 0; w < 3; w++) {
            char key[ALR_KEY_MAX];
            long long want[4];
            window_sum(&st, st.ex[i].scope, TH_T0, wins[w], want);
            snprintf(key, sizeof key, "finsent:rate:%s:%s", st.ex[i].scope, names[w]);
            ck_assert_int_eq(th_alr_hget(c, key, "n"), want[0]);
            ck_assert_int_eq(th_alr_hget(c, key, "negative"), want[1]);
            ck_assert_int_eq(th_alr_hget(c, key, "neutral"), want[2]);
            ck_assert_int_eq(th_alr_hget(c, key, "positive"), want[3]);
            ck_assert_int_eq(th_alr_hget(c, key, "updated"), TH_T0);
        }
    }
    /* The 1h window holds the whole 20-minute stream. */
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:1h", "n"), 400);
    ck_assert_int_eq(th_alr_int(c, "LLEN finsent:recent"), 50);
    ck_assert_int_eq(th_alr_int(c, "ZCARD finsent:scopes"), 1 + 4 + 5);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:rate:topic:fed-central-banks:15m"), 1);
    ck_assert_int_gt(th_alr_int(c, "PTTL finsent:rate:all:5m"), 0);

    /* The reader's sums straight from the buckets (`finsent stats`)
     * agree: one window, then every window. */
    {
        core_config_t *cfg = th_alr_config(&r, NULL);
        alr_reader_t *rd = NULL;
        char err[256] = "";
        ck_assert_msg(alr_reader_new(cfg, &rd, err, sizeof err) == CORE_OK, "%s", err);
        core_config_free(cfg);
        alr_reader_set_clock(rd, th_clock_now, &clk);
        ck_assert_msg(alr_read_bucket_rates(rd, 15, &rows, &nrows, err, sizeof err) == CORE_OK,
                      "%s", err);
        ck_assert_uint_eq(nrows, 10);
        for (size_t i = 0; i < nrows; i++) {
            long long want[4];
            window_sum(&st, rows[i].scope, TH_T0, 15, want);
            ck_assert_int_eq(rows[i].window_min, 15);
            ck_assert_int_eq((long long)rows[i].n, want[0]);
            ck_assert_int_eq((long long)rows[i].negative, want[1]);
        }
        free(rows);
        ck_assert_msg(alr_read_bucket_rates(rd, 0, &rows, &nrows, err, sizeof err) == CORE_OK,
                      "%s", err);
        ck_assert_uint_eq(nrows, 30);
        for (size_t i = 0; i < nrows; i++) {
            long long want[4];
            window_sum(&st, rows[i].scope, TH_T0, rows[i].window_min, want);
            static const int wins[3] = {5, 15, 60};
            ck_assert_int_eq(rows[i].window_min, wins[i % 3]);
            ck_assert_int_eq((long long)rows[i].n, want[0]);
            ck_assert_int_eq((long long)rows[i].negative, want[1]);
            ck_assert_int_eq((long long)rows[i].neutral, want[2]);
            ck_assert_int_eq((long long)rows[i].positive, want[3]);
            ck_assert_double_eq_tol(rows[i].neg_rate,
                                    want[0] ? (double)want[1] / (double)want[0] : 0.0, 1e-12);
        }
        free(rows);
        /* A window that is not kept: CORE_EINVAL naming the kept ones. */
        ck_assert_int_eq(alr_read_bucket_rates(rd, 7, &rows, &nrows, err, sizeof err),
                         CORE_EINVAL);
        ck_assert_ptr_null(rows);
        ck_assert_msg(strstr(err, "7m: not kept; kept windows: 5m, 15m, 1h"), "%s", err);
        alr_reader_free(rd);
    }
    redisFree(c);
    alr_sink_free(s);
    free_stream(&st);
    th_redis_stop(&r);
}
END_TEST

/* Sums from the buckets over more scopes than one pipelined round trip
 * holds (8192 HMGETs: 136 scopes of a 1h window): 300 tickers, one item
 * each, every 3rd negative. */
START_TEST(bucket_rates_many_scopes)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    core_tagged_t *it[300];
    alr_write_result_t res = {0};
    alr_reader_t *rd = NULL;
    alr_rate_t *rows = NULL;
    core_config_t *cfg;
    size_t nrows = 0, seen = 0;
    char err[256] = "";
    alr_sink_t *s;

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, NULL, &clk);
    for (int i = 0; i < 300; i++) {
        char id[16], tk[16];
        snprintf(id, sizeof id, "many-%d", i);
        snprintf(tk, sizeof tk, "T%03d", i);
        it[i] = th_alr_item(id, "Markets", i % 3 == 0 ? 0 : 2, TH_T0 - 30 * 60000, tk);
    }
    ck_assert_int_eq(alr_sink_write(s, it, 300, &res), CORE_OK);
    ck_assert_uint_eq(res.counted, 300);
    cfg = th_alr_config(&r, NULL);
    ck_assert_msg(alr_reader_new(cfg, &rd, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    alr_reader_set_clock(rd, th_clock_now, &clk);
    ck_assert_msg(alr_read_bucket_rates(rd, 0, &rows, &nrows, err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_uint_eq(nrows, 302 * 3);
    for (size_t i = 0; i < nrows; i++) {
        int k;
        /* The items are 30 minutes old: only the 1h window holds them. */
        uint64_t want = rows[i].window_min == 60;
        if (strcmp(rows[i].scope, "all") == 0 || strcmp(rows[i].scope, "topic:markets") == 0) {
            ck_assert_uint_eq(rows[i].n, want * 300);
            ck_assert_uint_eq(rows[i].negative, want * 100);
            continue;
        }
        ck_assert_int_eq(sscanf(rows[i].scope, "entity:T%d", &k), 1);
        ck_assert_uint_eq(rows[i].n, want);
        ck_assert_uint_eq(rows[i].negative, want * (k % 3 == 0));
        ck_assert_uint_eq(rows[i].positive, want * (k % 3 != 0));
        seen += want;
    }
    ck_assert_uint_eq(seen, 300);
    free(rows);
    alr_reader_free(rd);
    for (int i = 0; i < 300; i++)
        core_tagged_free(it[i]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(replays_change_nothing)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    stream_t st;
    alr_sink_t *s, *s2;
    redisContext *c;
    long long recent;

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, NULL, &clk);
    make_stream(&st, 200, TH_T0, 10, 11);
    write_all(s, &st, 17, ALR_ITEM_COUNTED);
    c = th_alr_connect(&r);
    recent = th_alr_int(c, "LLEN finsent:recent");
    ck_assert_int_eq(recent, 200);
    /* Replay twice, with other batch sizes, and once more from a second
     * sink (another instance after a crash). */
    write_all(s, &st, 5, ALR_ITEM_DUPLICATE);
    write_all(s, &st, 64, ALR_ITEM_DUPLICATE);
    {
        /* The second instance reports its duplicates in metrics. */
        core_config_t *cfg = th_alr_config(&r, NULL);
        core_metrics_t *m = NULL;
        char err[256];
        ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
        ck_assert_int_eq(alr_sink_new(cfg, m, &s2, err, sizeof err), CORE_OK);
        alr_sink_set_clock(s2, th_clock_now, &clk);
        write_all(s2, &st, 32, ALR_ITEM_DUPLICATE);
        ck_assert_uint_eq(core_counter_value(core_metrics_counter(
                              m, "finsent_redis_items_total", "outcome=\"duplicate\"",
                              "items handled by the Redis stage, by outcome")),
                          200);
        ck_assert_uint_eq(core_counter_value(core_metrics_counter(
                              m, "finsent_redis_items_total", "outcome=\"counted\"",
                              "items handled by the Redis stage, by outcome")),
                          0);
        alr_sink_free(s2);
        core_metrics_free(m);
        core_config_free(cfg);
    }
    s2 = mksink(&r, NULL, &clk);
    write_all(s2, &st, 32, ALR_ITEM_DUPLICATE);
    check_buckets(c, &st);
    ck_assert_int_eq(th_alr_int(c, "LLEN finsent:recent"), recent);
    /* A batch mixing new and replayed items counts only the new ones. */
    {
        core_tagged_t *mix[3] = {st.items[0], th_alr_item("fresh-1", "Crypto", 0, TH_T0, NULL),
                                 st.items[1]};
        alr_outcome_t out[3];
        alr_write_result_t res = {.outcomes = out};
        ck_assert_int_eq(alr_sink_write(s, mix, 3, &res), CORE_OK);
        ck_assert_int_eq(out[0], ALR_ITEM_DUPLICATE);
        ck_assert_int_eq(out[1], ALR_ITEM_COUNTED);
        ck_assert_int_eq(out[2], ALR_ITEM_DUPLICATE);
        ck_assert_uint_eq(res.counted, 1);
        ck_assert_uint_eq(res.duplicate, 2);
        core_tagged_free(mix[1]);
    }
    redisFree(c);
    alr_sink_free(s);
    alr_sink_free(s2);
    free_stream(&st);
    th_redis_stop(&r);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* key_dump: one key's value in a comparable form (type, contents in
 * order, expiry), malloc'd. */
static char *key_dump(redisContext *c, const char *key)
{
    static const char *const cmds[][2] = {{"hash", "HGETALL"},
                                          {"list", "LRANGE"},
                                          {"zset", "ZRANGE"},
                                          {"set", "SMEMBERS"},
                                          {"string", "GET"}};
    redisReply *t = redisCommand(c, "TYPE %s", key), *v = NULL, *e;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    ck_assert(t && t->type == REDIS_REPLY_STATUS && f);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0] && !v; i++) {
        if (strcmp(t->str, cmds[i][0]) != 0)
            continue;
        if (i == 1 || i == 2)
            v = redisCommand(c, "%s %s 0 -1%s", cmds[i][1], key, i == 2 ? " WITHSCORES" : "");
        else
            v = redisCommand(c, "%s %s", cmds[i][1], key);
    }
    ck_assert_msg(v != NULL, "%s: type %s", key, t->str);
    fputs(t->str, f);
    if (v->type == REDIS_REPLY_ARRAY) {
        /* pairs (hash field and value, zset member and score) as one
         * element; hashes and sets come in no particular order: sorted */
        size_t step = strcmp(t->str, "hash") == 0 || strcmp(t->str, "zset") == 0 ? 2 : 1, n = 0;
        char **el = calloc(v->elements + 1, sizeof *el);
        ck_assert_ptr_nonnull(el);
        for (size_t i = 0; i + step <= v->elements; i += step) {
            size_t sz = v->element[i]->len + (step == 2 ? v->element[i + 1]->len : 0) + 2;
            el[n] = malloc(sz);
            ck_assert_ptr_nonnull(el[n]);
            snprintf(el[n++], sz, "%s=%s", v->element[i]->str,
                     step == 2 ? v->element[i + 1]->str : "");
        }
        if (strcmp(t->str, "hash") == 0 || strcmp(t->str, "set") == 0)
            qsort(el, n, sizeof *el, cmp_str);
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "|%s", el[i]);
            free(el[i]);
        }
        free(el);
    } else {
        fprintf(f, "|%s", v->str ? v->str : "(nil)");
    }
    e = redisCommand(c, "PEXPIRETIME %s", key);
    ck_assert(e && e->type == REDIS_REPLY_INTEGER);
    if (strstr(key, ":seen:") || strstr(key, ":rate:")) /* SET PX, PEXPIRE: relative */
        fprintf(f, "|expires %s", e->integer > 0 ? "set" : "never");
    else
        fprintf(f, "|expires %lld", e->integer);
    fclose(f);
    freeReplyObject(t);
    freeReplyObject(v);
    freeReplyObject(e);
    return out;
}

/* The batched count script leaves Redis exactly as one call per item does:
 * the same stream (topics, 0-2 tickers, every sentiment, one id repeated
 * inside a batch and 40 replayed in a later one) written one item per call
 * under the prefix one: and 150 per call (three COUNT calls: more than
 * COUNT_BATCH_MAX) under many:. Every key of one: exists under many: with
 * the same type, contents (lists in the same order) and expiry, and each
 * item has the same outcome. */
START_TEST(batch_equals_item_by_item)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    stream_t st;
    alr_sink_t *one, *many;
    redisContext *c;
    redisReply *keys;
    core_tagged_t *list[341];
    alr_outcome_t out1[341], outn[341];
    size_t n = 0;

    start(&r, TH_REDIS_EPHEMERAL);
    one = mksink(&r, "[redis]\nprefix = one:\n", &clk);
    many = mksink(&r, "[redis]\nprefix = many:\n", &clk);
    make_stream(&st, 300, TH_T0, 20, 5);
    for (size_t i = 0; i < 300; i++) {
        list[n++] = st.items[i];
        if (i == 9)
            list[n++] = st.items[5]; /* a repeat inside the first batch */
    }
    for (size_t i = 0; i < 40; i++)
        list[n++] = st.items[i]; /* replayed in the last batch */
    for (size_t i = 0; i < n; i++) {
        alr_write_result_t res = {.outcomes = &out1[i]};
        ck_assert_int_eq(alr_sink_write(one, &list[i], 1, &res), CORE_OK);
    }
    for (size_t i = 0; i < n; i += 150) {
        alr_write_result_t res = {.outcomes = &outn[i]};
        ck_assert_int_eq(alr_sink_write(many, &list[i], n - i < 150 ? n - i : 150, &res), CORE_OK);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out1[i] == outn[i], "item %zu (%s): %s one by one, %s batched", i,
                      list[i]->item->id, alr_outcome_name(out1[i]), alr_outcome_name(outn[i]));
    ck_assert_int_eq(out1[10], ALR_ITEM_DUPLICATE);
    ck_assert_int_eq(out1[n - 1], ALR_ITEM_DUPLICATE);
    c = th_alr_connect(&r);
    keys = redisCommand(c, "KEYS one:*");
    ck_assert(keys && keys->type == REDIS_REPLY_ARRAY);
    ck_assert_uint_gt(keys->elements, 300); /* seen markers, buckets, roll-ups, lists, rates */
    ck_assert_int_eq((long long)keys->elements,
                     th_alr_int(c, "EVAL %s 0", "return #redis.call('KEYS', 'many:*')"));
    for (size_t i = 0; i < keys->elements; i++) {
        char other[ALR_KEY_MAX];
        char *a, *b;
        snprintf(other, sizeof other, "many:%s", keys->element[i]->str + 4);
        a = key_dump(c, keys->element[i]->str);
        b = key_dump(c, other);
        ck_assert_msg(strcmp(a, b) == 0, "%s: %s\n%s: %s", keys->element[i]->str, a, other, b);
        free(a);
        free(b);
    }
    freeReplyObject(keys);
    redisFree(c);
    alr_sink_free(one);
    alr_sink_free(many);
    free_stream(&st);
    th_redis_stop(&r);
}
END_TEST

START_TEST(window_edges_and_decay)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c;
    int64_t m0 = alr_minute(TH_T0) * 60000; /* start of the current minute */
    core_tagged_t *it[4];

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, "[redis]\nwindows = 5m,15m\n", &clk);
    /* 5m covers the current minute and the 4 before it. */
    it[0] = th_alr_item("e0", "Earnings", 0, m0 - 4 * 60000, NULL);      /* first in 5m */
    it[1] = th_alr_item("e1", "Earnings", 0, m0 - 4 * 60000 - 1, NULL);  /* last out of 5m */
    it[2] = th_alr_item("e2", "Earnings", 2, m0 - 14 * 60000, NULL);     /* first in 15m */
    it[3] = th_alr_item("e3", "Earnings", 2, m0 - 14 * 60000 - 1, NULL); /* out of 15m */
    ck_assert_int_eq(alr_sink_write(s, it, 4, NULL), CORE_OK);
    c = th_alr_connect(&r);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:5m", "n"), 1);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:5m", "negative"), 1);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:15m", "n"), 3);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:15m", "positive"), 1);

    /* One ms before the next minute nothing moves; at the minute it does:
     * the tick refreshes idle scopes, so they decay without new items. */
    clk.now = m0 + 60000 - 1;
    ck_assert_int_eq(alr_sink_tick(s, NULL, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:5m", "n"), 1);
    clk.now = m0 + 60000;
    ck_assert_int_eq(alr_sink_tick(s, NULL, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:5m", "n"), 0);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:15m", "n"), 2);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:earnings:15m", "updated"), m0 + 60000);
    clk.now = m0 + 16 * 60000;
    ck_assert_int_eq(alr_sink_tick(s, NULL, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:15m", "n"), 0);
    redisFree(c);
    for (int i = 0; i < 4; i++)
        core_tagged_free(it[i]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(late_future_and_uncounted_items)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c;
    core_tagged_t *it[8];
    alr_outcome_t out[8];
    alr_write_result_t res = {.outcomes = out};
    char key[ALR_KEY_MAX];

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, "[redis]\nretention = 2h\nfuture_skew = 5m\n", &clk);
    it[0] = th_alr_item("old", "Crypto", 0, TH_T0 - 2 * 3600000 - 1, NULL);
    it[1] = th_alr_item("edge-old", "Crypto", 0, TH_T0 - 2 * 3600000, NULL);
    it[2] = th_alr_item("future", "Crypto", 0, TH_T0 + 5 * 60000 + 1, NULL);
    it[3] = th_alr_item("edge-future", "Crypto", 0, TH_T0 + 5 * 60000, NULL);
    it[4] = th_alr_item(NULL, "Crypto", 0, TH_T0, NULL);      /* no id */
    it[5] = th_alr_item("nosent", "Crypto", -1, TH_T0, NULL); /* no sentiment */
    it[6] = th_alr_item("now", "Crypto", 1, 0, NULL);         /* no event time: now */
    it[7] = th_alr_item("inside", "Crypto", 0, TH_T0 - 2 * 3600000 + 60000, NULL);
    ck_assert_int_eq(alr_sink_write(s, it, 8, &res), CORE_OK);
    ck_assert_int_eq(out[0], ALR_ITEM_TOO_OLD);
    ck_assert_int_eq(out[1], ALR_ITEM_COUNTED);
    ck_assert_int_eq(out[2], ALR_ITEM_FUTURE);
    ck_assert_int_eq(out[3], ALR_ITEM_COUNTED);
    ck_assert_int_eq(out[4], ALR_ITEM_UNCOUNTED);
    ck_assert_int_eq(out[5], ALR_ITEM_UNCOUNTED);
    ck_assert_int_eq(out[6], ALR_ITEM_COUNTED);
    ck_assert_uint_eq(res.too_old, 1);
    ck_assert_uint_eq(res.future, 1);
    ck_assert_uint_eq(res.uncounted, 2);
    ck_assert_uint_eq(res.counted, 4);
    c = th_alr_connect(&r);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:seen:old"), 0);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:seen:future"), 0);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:seen:edge-old"), 1);
    /* A bucket expires `retention` after the end of its minute: the one a
     * minute inside the retention ends 2 minutes after the minute of now
     * (now is 0-60 s into it), so it has 60-120 s left. */
    alr_key_bucket(key, sizeof key, "finsent:", "all", alr_minute(TH_T0 - 2 * 3600000 + 60000));
    ck_assert_int_eq(th_alr_hget(c, key, "n"), 1);
    ck_assert_int_gt(th_alr_int(c, "PTTL %s", key), 0);
    ck_assert_int_le(th_alr_int(c, "PTTL %s", key), 120000);
    /* An item within the skew is counted in its own (future) minute. */
    alr_key_bucket(key, sizeof key, "finsent:", "topic:crypto", alr_minute(TH_T0 + 5 * 60000));
    ck_assert_int_eq(th_alr_hget(c, key, "n"), 1);
    alr_key_bucket(key, sizeof key, "finsent:", "all", alr_minute(TH_T0));
    ck_assert_int_eq(th_alr_hget(c, key, "neutral"), 1);
    redisFree(c);
    for (int i = 0; i < 8; i++)
        core_tagged_free(it[i]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

/* Issue 18: an item whose message said "ts": 0 (event_set, event_ms 0) is
 * judged by that time: too old, counted in the too_old outcome, not in the
 * current minute. Before the fix the sink read event_ms 0 as "no time" and
 * used the ingest time (or now) instead. An item with no event time at all
 * still counts as now. */
START_TEST(explicit_epoch_zero_is_too_old)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    core_tagged_t *it[2];
    alr_outcome_t out[2];
    alr_write_result_t res = {.outcomes = out};

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, "[redis]\nretention = 2h\n", &clk);
    it[0] = th_alr_item("epoch0", "Crypto", 0, 0, NULL);
    it[0]->item->event_set = 1; /* what core_msg_decode makes of "ts": 0 */
    it[0]->item->ingest_ms = TH_T0;
    it[1] = th_alr_item("unknown", "Crypto", 0, 0, NULL);
    it[1]->item->ingest_ms = TH_T0;
    ck_assert_int_eq(alr_sink_write(s, it, 2, &res), CORE_OK);
    ck_assert_int_eq(out[0], ALR_ITEM_TOO_OLD);
    ck_assert_int_eq(out[1], ALR_ITEM_COUNTED);
    ck_assert_uint_eq(res.too_old, 1);
    ck_assert_uint_eq(res.counted, 1);
    for (int i = 0; i < 2; i++)
        core_tagged_free(it[i]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(long_ids_and_noscript)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c;
    char longid[600];
    core_tagged_t *it[2];
    alr_outcome_t out[2];
    alr_write_result_t res = {.outcomes = out};
    redisReply *rep;

    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, NULL, &clk);
    it[0] = th_alr_item(longid, "Crypto", 0, TH_T0, NULL);
    longid[0] = 'y'; /* differs only in the first byte */
    it[1] = th_alr_item(longid, "Crypto", 0, TH_T0, NULL);
    ck_assert_int_eq(alr_sink_write(s, it, 2, &res), CORE_OK);
    ck_assert_uint_eq(res.counted, 2);
    /* Someone flushes the scripts: the sink reloads them and goes on. */
    c = th_alr_connect(&r);
    rep = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(rep);
    ck_assert_int_eq(alr_sink_write(s, it, 2, &res), CORE_OK);
    ck_assert_uint_eq(res.duplicate, 2);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 2);
    redisFree(c);
    core_tagged_free(it[0]);
    core_tagged_free(it[1]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(refresh_interval_defers_to_tick)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c;
    core_tagged_t *it[2];

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, NULL, &clk);
    alr_sink_set_refresh_interval(s, 3600000);
    it[0] = th_alr_item("t0", "Crypto", 0, TH_T0, "AAPL");
    it[1] = th_alr_item("t1", "Macro", 2, TH_T0, NULL);
    c = th_alr_connect(&r);
    /* The first write refreshes (none before), the second waits. */
    ck_assert_int_eq(alr_sink_write(s, it, 1, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 1);
    ck_assert_int_eq(alr_sink_write(s, it + 1, 1, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 1);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:rate:topic:macro:5m"), 0);
    /* The counts are in; the tick brings the rates up to date. */
    ck_assert_int_eq(th_alr_int(c, "ZCARD finsent:scopes:live"), 4);
    ck_assert_int_eq(alr_sink_tick(s, NULL, NULL), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 2);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:macro:5m", "positive"), 1);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:entity:AAPL:5m", "negative"), 1);
    /* The daemon ticks on a sink of its own: it refreshes what the writer
     * deferred, also within one minute (after its full refresh). */
    {
        alr_sink_t *ticker = mksink(&r, NULL, &clk);
        core_tagged_t *more = th_alr_item("t2", "Macro", 0, TH_T0, NULL);
        ck_assert_int_eq(alr_sink_tick(ticker, NULL, NULL), CORE_OK);
        ck_assert_int_eq(th_alr_int(c, "SCARD finsent:scopes:dirty"), 0);
        ck_assert_int_eq(alr_sink_write(s, &more, 1, NULL), CORE_OK);
        ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:macro:5m", "n"), 1);
        ck_assert_int_eq(th_alr_int(c, "SCARD finsent:scopes:dirty"), 2);
        ck_assert_int_eq(alr_sink_tick(ticker, NULL, NULL), CORE_OK);
        ck_assert_int_eq(th_alr_hget(c, "finsent:rate:topic:macro:5m", "n"), 2);
        ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 3);
        core_tagged_free(more);
        alr_sink_free(ticker);
    }
    redisFree(c);
    core_tagged_free(it[0]);
    core_tagged_free(it[1]);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

/* ---- rules and alerts -------------------------------------------------- */

static const char RULE_CFG[] = "[rule.neg]\nscope = topic:Fed | Central Banks\nwindow = 5m\n"
                               "threshold = 0.5\nclear = 0.3\nmin_count = 4\nfor = 1m\n"
                               "cooldown = 10m\n";

static void write_n(alr_sink_t *s, const char *prefix, int *seq, int n, int sentiment, int64_t ev,
                    alr_write_result_t *res)
{
    core_tagged_t *it[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        char id[48];
        snprintf(id, sizeof id, "%s-%d", prefix, (*seq)++);
        it[i] = th_alr_item(id, "Fed | Central Banks", sentiment, ev, NULL);
    }
    ck_assert_int_eq(alr_sink_write(s, it, (size_t)n, res), CORE_OK);
    for (int i = 0; i < n; i++)
        core_tagged_free(it[i]);
}

static char *state_of(redisContext *c)
{
    redisReply *rep = redisCommand(c, "HGET finsent:alert:neg:topic:fed-central-banks state");
    char *s = strdup(rep->type == REDIS_REPLY_STRING ? rep->str : "(none)");
    freeReplyObject(rep);
    return s;
}

#define ASSERT_STATE(c, want)                                                                      \
    do {                                                                                           \
        char *st_ = state_of(c);                                                                   \
        ck_assert_str_eq(st_, want);                                                               \
        free(st_);                                                                                 \
    } while (0)

/* next_message reads one pub/sub message (blocking, 5 s timeout) and
 * returns its channel and payload parsed. */
static json_t *next_message(redisContext *sub, char *channel, size_t cap)
{
    void *raw = NULL;
    redisReply *rep;
    json_t *o;
    ck_assert_int_eq(redisGetReply(sub, &raw), REDIS_OK);
    rep = raw;
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq(rep->element[0]->str, "message");
    snprintf(channel, cap, "%s", rep->element[1]->str);
    o = json_loads(rep->element[2]->str, 0, NULL);
    ck_assert_ptr_nonnull(o);
    freeReplyObject(rep);
    return o;
}

START_TEST(rule_lifecycle_and_alerts)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c, *sub;
    redisReply *rep;
    alr_write_result_t res = {0};
    size_t fired = 0, resolved = 0;
    char ch[128];
    json_t *a;
    int seq = 0;
    struct timeval tv = {5, 0};

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, RULE_CFG, &clk);
    c = th_alr_connect(&r);
    sub = th_alr_connect(&r);
    redisSetTimeout(sub, tv);
    rep = redisCommand(sub, "SUBSCRIBE finsent:alerts finsent:alerts:topic:fed-central-banks");
    freeReplyObject(rep);
    for (int i = 0; i < 1; i++) { /* the second subscribe confirmation */
        void *raw;
        ck_assert_int_eq(redisGetReply(sub, &raw), REDIS_OK);
        freeReplyObject(raw);
    }

    /* 3 negatives: below min_count. */
    write_n(s, "n", &seq, 3, 0, TH_T0, &res);
    ASSERT_STATE(c, "(none)");
    /* A 4th: the condition holds, pending (for = 1m). */
    write_n(s, "n", &seq, 1, 0, TH_T0, &res);
    ASSERT_STATE(c, "pending");
    ck_assert_uint_eq(res.fired, 0);
    clk.now = TH_T0 + 59999;
    ck_assert_int_eq(alr_sink_tick(s, &fired, &resolved), CORE_OK);
    ck_assert_uint_eq(fired, 0);
    ASSERT_STATE(c, "pending");
    clk.now = TH_T0 + 60000;
    ck_assert_int_eq(alr_sink_tick(s, &fired, &resolved), CORE_OK);
    ck_assert_uint_eq(fired, 1);
    ASSERT_STATE(c, "firing");
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active neg:topic:fed-central-banks"),
                     1);

    /* The alert arrives on both channels with the documented fields. */
    for (int k = 0; k < 2; k++) {
        a = next_message(sub, ch, sizeof ch);
        ck_assert(strcmp(ch, "finsent:alerts") == 0 ||
                  strcmp(ch, "finsent:alerts:topic:fed-central-banks") == 0);
        ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "firing");
        ck_assert_str_eq(json_string_value(json_object_get(a, "rule")), "neg");
        ck_assert_str_eq(json_string_value(json_object_get(a, "scope")), "topic:fed-central-banks");
        ck_assert_str_eq(json_string_value(json_object_get(a, "window")), "5m");
        ck_assert_int_eq(json_integer_value(json_object_get(a, "n")), 4);
        ck_assert_double_eq(json_real_value(json_object_get(a, "neg_rate")), 1.0);
        ck_assert_double_eq(json_real_value(json_object_get(a, "threshold")), 0.5);
        ck_assert_uint_eq(json_array_size(json_object_get(a, "samples")), 4);
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(a, "samples"), 0)),
                         "n-3");
        ck_assert_ptr_nonnull(json_string_value(json_object_get(a, "id")));
        json_decref(a);
    }

    /* Hysteresis: 4 neg of 10 (0.4) is below threshold but above clear. */
    write_n(s, "p", &seq, 6, 2, clk.now, &res);
    ck_assert_uint_eq(res.resolved, 0);
    ASSERT_STATE(c, "firing");
    /* 4 of 14 = 0.29 < clear: resolved. */
    write_n(s, "p", &seq, 4, 2, clk.now, &res);
    ck_assert_uint_eq(res.resolved, 1);
    ASSERT_STATE(c, "resolved");
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:alerts:active neg:topic:fed-central-banks"),
                     0);
    for (int k = 0; k < 2; k++) {
        a = next_message(sub, ch, sizeof ch);
        ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "resolved");
        ck_assert_int_eq(json_integer_value(json_object_get(a, "n")), 14);
        json_decref(a);
    }

    /* Cooldown: a new burst within 10 minutes does not even go pending. */
    clk.now = TH_T0 + 2 * 60000;
    write_n(s, "n", &seq, 30, 0, clk.now, &res);
    ASSERT_STATE(c, "resolved");
    clk.now = TH_T0 + 60000 + 600000 - 1;
    write_n(s, "n", &seq, 1, 0, clk.now, &res);
    ASSERT_STATE(c, "resolved");
    clk.now = TH_T0 + 60000 + 600000;
    write_n(s, "n", &seq, 10, 0, clk.now, &res);
    ASSERT_STATE(c, "pending");

    /* Exactly two alerts were logged in the stream: firing, resolved. */
    rep = redisCommand(c, "XRANGE finsent:alerts:log - +");
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(rep->elements, 2);
    a = json_loads(rep->element[0]->element[1]->element[1]->str, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "firing");
    json_decref(a);
    a = json_loads(rep->element[1]->element[1]->element[1]->str, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "resolved");
    json_decref(a);
    freeReplyObject(rep);
    redisFree(sub);
    redisFree(c);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(wilson_rule_waits_for_evidence)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c;
    alr_write_result_t res = {0};
    int seq = 0;

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r,
               "[rule.w]\nscope = all\nwindow = 15m\nthreshold = 0.5\nclear = 0.4\n"
               "min_count = 1\nbasis = wilson\n",
               &clk);
    c = th_alr_connect(&r);
    write_n(s, "a", &seq, 2, 0, TH_T0, &res);
    write_n(s, "b", &seq, 1, 2, TH_T0, &res); /* 2/3 negative */
    ck_assert_uint_eq(res.fired, 0);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:alert:w:all"), 0);
    write_n(s, "c", &seq, 39, 2, TH_T0, &res); /* 2/42 */
    write_n(s, "d", &seq, 57, 0, TH_T0, &res); /* 59/99: bound 0.492 */
    ck_assert_uint_eq(res.fired, 0);
    write_n(s, "e", &seq, 1, 0, TH_T0, &res); /* 60/100: bound 0.502 */
    ck_assert_uint_eq(res.fired, 1);
    redisFree(c);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

/* Two processes evaluate the same rule on the same data at the same time:
 * exactly one alert is published. */
START_TEST(two_processes_fire_once)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    redisContext *c, *sub;
    redisReply *rep;
    int go[2], seq = 0;
    pid_t kids[4];
    alr_write_result_t res = {0};
    const char *cfg = "[rule.race]\nscope = topic\nwindow = 15m\nthreshold = 0.5\nclear = 0.2\n"
                      "min_count = 5\nfor = 0s\n";

    start(&r, TH_REDIS_EPHEMERAL);
    /* Write the data without the rule, so no one has evaluated it yet. */
    s = mksink(&r, NULL, &clk);
    write_n(s, "x", &seq, 10, 0, TH_T0, &res);
    alr_sink_free(s);
    sub = th_alr_connect(&r);
    rep = redisCommand(sub, "SUBSCRIBE finsent:alerts");
    freeReplyObject(rep);

    ck_assert_int_eq(pipe(go), 0);
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            char b;
            size_t fired = 0, total = 0;
            alr_sink_t *ks = mksink(&r, cfg, &clk);
            close(go[1]);
            if (alr_sink_connect(ks) != CORE_OK || read(go[0], &b, 1) != 0)
                _exit(2);
            for (int i = 0; i < 20; i++) {
                if (alr_sink_tick(ks, &fired, NULL) != CORE_OK)
                    _exit(3);
                total += fired;
            }
            alr_sink_free(ks);
            _exit(total > 1 ? 4 : (int)total * 10);
        }
    }
    close(go[0]);
    close(go[1]); /* all children start ticking at once */
    {
        int won = 0;
        for (int k = 0; k < 4; k++) {
            int status = 0;
            ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
            ck_assert(WIFEXITED(status));
            ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 10, "child exit %d",
                          WEXITSTATUS(status));
            won += WEXITSTATUS(status) == 10;
        }
        ck_assert_int_eq(won, 1);
    }
    c = th_alr_connect(&r);
    ck_assert_int_eq(th_alr_int(c, "XLEN finsent:alerts:log"), 1);
    ck_assert_int_eq(th_alr_hget(c, "finsent:alert:race:topic:fed-central-banks", "ver"), 1);
    {
        /* One message on the channel, then nothing. */
        void *raw = NULL;
        struct timeval tv = {0, 300000};
        redisSetTimeout(sub, tv);
        ck_assert_int_eq(redisGetReply(sub, &raw), REDIS_OK);
        freeReplyObject(raw);
        redisSetTimeout(sub, tv);
        ck_assert_int_ne(redisGetReply(sub, &raw), REDIS_OK);
    }
    redisFree(sub);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

/* ---- failures ---------------------------------------------------------- */

typedef struct chaos {
    th_redis_t *r;
    atomic_size_t acked;
    size_t total;
    atomic_int kills;
} chaos_t;

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* chaos_run kills Redis (SIGKILL) twice while the stream is being written,
 * at a third and at two thirds, and restarts it after a pause. */
static void *chaos_run(void *arg)
{
    chaos_t *ch = arg;
    for (int k = 1; k <= 2; k++) {
        while (atomic_load(&ch->acked) < ch->total * (size_t)k / 3)
            nap(1);
        th_redis_kill(ch->r);
        atomic_fetch_add(&ch->kills, 1);
        nap(300);
        if (th_redis_restart(ch->r) != 0)
            return (void *)1;
    }
    return NULL;
}

START_TEST(redis_crash_mid_stream_is_exact)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    stream_t st;
    alr_sink_t *s;
    redisContext *c;
    chaos_t ch;
    pthread_t th;
    void *thr = NULL;
    size_t counted = 0;

    start(&r, TH_REDIS_AOF);
    s = mksink(&r, NULL, &clk);
    make_stream(&st, 600, TH_T0, 30, 23);
    ch.r = &r;
    atomic_init(&ch.acked, 0);
    atomic_init(&ch.kills, 0);
    ch.total = st.n;
    ck_assert_int_eq(pthread_create(&th, NULL, chaos_run, &ch), 0);
    for (size_t i = 0; i < st.n; i += 10) {
        alr_write_result_t res = {0};
        ck_assert_int_eq(alr_sink_write(s, st.items + i, 10, &res), CORE_OK);
        /* A retried batch sends again only the items whose answer was lost;
         * one the cut-off attempt had counted then reads as a duplicate. */
        ck_assert_uint_eq(res.counted + res.duplicate, 10);
        counted += res.counted;
        atomic_fetch_add(&ch.acked, 10);
        nap(2);
    }
    ck_assert_int_eq(pthread_join(th, &thr), 0);
    ck_assert_ptr_null(thr);
    ck_assert_int_eq(atomic_load(&ch.kills), 2);
    /* At most the items in flight at the two kills lost their answer. */
    ck_assert_uint_ge(counted, st.n - 2 * 10);
    /* Crash right after the last acknowledged write: with appendfsync
     * always, everything acknowledged must still be there. */
    th_redis_kill(&r);
    ck_assert_int_eq(th_redis_restart(&r), 0);
    c = th_alr_connect(&r);
    check_buckets(c, &st);
    ck_assert_int_eq(th_alr_int(c, "LLEN finsent:recent"), 600);
    /* And one more full replay changes nothing. */
    write_all(s, &st, 50, ALR_ITEM_DUPLICATE);
    check_buckets(c, &st);
    redisFree(c);
    alr_sink_free(s);
    free_stream(&st);
    th_redis_stop(&r);
}
END_TEST

static void *cancel_later(void *arg)
{
    nap(300);
    alr_sink_cancel(arg);
    return NULL;
}

START_TEST(outage_blocks_until_cancelled)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    alr_sink_t *s;
    core_tagged_t *it = th_alr_item("blocked", "Crypto", 0, TH_T0, NULL);
    pthread_t th;

    start(&r, TH_REDIS_EPHEMERAL);
    s = mksink(&r, NULL, &clk);
    ck_assert_int_eq(alr_sink_connect(s), CORE_OK);
    th_redis_kill(&r); /* Redis is gone and stays gone */
    ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, s), 0);
    ck_assert_int_eq(alr_sink_write(s, &it, 1, NULL), CORE_ECLOSED);
    pthread_join(th, NULL);
    ck_assert_ptr_nonnull(strstr(alr_sink_error(s), "127.0.0.1"));
    /* Cancelled for good. */
    ck_assert_int_eq(alr_sink_write(s, &it, 1, NULL), CORE_ECLOSED);
    core_tagged_free(it);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

START_TEST(config_errors)
{
    th_redis_t r = {.port = 6379};
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    char err[256] = "";

    cfg = th_alr_config(&r, "[redis]\nwindows = 5m,90s\n");
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_ECONFIG);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "windows"));
    core_config_free(cfg);
    cfg = th_alr_config(&r, "[rule.x]\nbasis = nope\n");
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "basis"));
    core_config_free(cfg);
    /* Rule windows join the rate windows. */
    cfg = th_alr_config(&r, "[redis]\nwindows = 15m,5m\n[rule.x]\nwindow = 30m\n");
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_OK);
    {
        const int *w;
        ck_assert_uint_eq(alr_sink_windows(s, &w), 3);
        ck_assert_int_eq(w[0], 5);
        ck_assert_int_eq(w[1], 15);
        ck_assert_int_eq(w[2], 30);
    }
    alr_sink_free(s);
    core_config_free(cfg);
}
END_TEST

Suite *suite_sink(void)
{
    Suite *s = suite_create("alr_sink");
    TCase *tc = tcase_create("sink");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, counts_exact_and_rates);
    tcase_add_test(tc, bucket_rates_many_scopes);
    tcase_add_test(tc, replays_change_nothing);
    tcase_add_test(tc, batch_equals_item_by_item);
    tcase_add_test(tc, window_edges_and_decay);
    tcase_add_test(tc, late_future_and_uncounted_items);
    tcase_add_test(tc, explicit_epoch_zero_is_too_old);
    tcase_add_test(tc, long_ids_and_noscript);
    tcase_add_test(tc, refresh_interval_defers_to_tick);
    tcase_add_test(tc, rule_lifecycle_and_alerts);
    tcase_add_test(tc, wilson_rule_waits_for_evidence);
    tcase_add_test(tc, two_processes_fire_once);
    tcase_add_test(tc, redis_crash_mid_stream_is_exact);
    tcase_add_test(tc, outage_blocks_until_cancelled);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}
