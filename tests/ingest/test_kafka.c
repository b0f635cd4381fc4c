/*
 * Tests of ing_kafka against librdkafka's mock cluster (real Kafka protocol
 * over loopback, in this process). Each test builds its own cluster, produces
 * messages with a plain producer, and runs the source with a "pipeline"
 * thread that pops items and acknowledges them (or keeps them unacked).
 * Waits are bounded (deadlines) and the assertions are on what was
 * delivered and committed, never on timings.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core_config.h"
#include "core/core_item.h"
#include "core/core_log.h"
#include "core/core_metrics.h"
#include "core/core_queue.h"
#include "core/core_time.h"
#include "ingest/ing_kafka.h"
#include "tests/common/th.h"
#include "tests/ingest/ipipe.h"

/* ---- mock cluster fixture ------------------------------------------------- */

typedef struct kfix {
    rd_kafka_t *mrk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *prod;
    char bootstrap[256];
} kfix;

static void kfix_init(kfix *f, int brokers)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    memset(f, 0, sizeof *f);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ck_assert_ptr_nonnull(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, brokers);
    ck_assert_ptr_nonnull(f->mc);
    snprintf(f->bootstrap, sizeof f->bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(f->mc));

    conf = rd_kafka_conf_new();
    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", f->bootstrap, errstr, sizeof errstr),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    f->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ck_assert_ptr_nonnull(f->prod);
}

static void kfix_topic(kfix *f, const char *topic, int partitions)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(f->mc, topic, partitions, 1), 0);
}

/* kfix_produce sends value (len < 0: NULL value) to topic, partition p (-1:
 * partitioner). */
static void kfix_produce(kfix *f, const char *topic, int32_t p, const char *value, ssize_t len)
{
    rd_kafka_resp_err_t e;
    void *v = len < 0 ? NULL : (void *)value;
    size_t n = len < 0 ? 0 : (size_t)len;
    e = rd_kafka_producev(f->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(v, n),
                          RD_KAFKA_V_END);
    ck_assert_int_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void kfix_produce_n(kfix *f, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "message %d about $MSFT", i);
        kfix_produce(f, topic, (int32_t)(i % 4), v, n);
    }
    ck_assert_int_eq(rd_kafka_flush(f->prod, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void kfix_free(kfix *f)
{
    rd_kafka_destroy(f->prod);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
}

/* committed offsets of group for topic's partitions 0..n-1 into out. */
static void committed(kfix *f, const char *group, const char *topic, int n, int64_t *out)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *c;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);

    rd_kafka_conf_set(conf, "bootstrap.servers", f->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    ck_assert_int_eq(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < n; i++)
        out[i] = l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static int64_t high_watermark(kfix *f, const char *topic, int32_t p)
{
    int64_t lo = -1, hi = -1;
    ck_assert_int_eq(rd_kafka_query_watermark_offsets(f->prod, topic, p, &lo, &hi, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    return hi;
}

/* ---- config ------------------------------------------------------------------ */

static core_config_t *kcfg(kfix *f, const char *group, const char *extra[])
{
    core_config_t *cfg;
    char err[512], a[512];
    const char *base[] = {"kafka.topics=news",
                          "kafka.commit_interval=200ms",
                          "kafka.revoke_timeout=5s",
                          "kafka.session.timeout.ms=6000",
                          "kafka.heartbeat.interval.ms=500",
                          "kafka.topic.metadata.refresh.interval.ms=1000",
                          NULL};

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    snprintf(a, sizeof a, "kafka.brokers=%s", f->bootstrap);
    ck_assert_int_eq(core_config_set(cfg, a, err, sizeof err), CORE_OK);
    snprintf(a, sizeof a, "kafka.group=%s", group);
    ck_assert_int_eq(core_config_set(cfg, a, err, sizeof err), CORE_OK);
    for (int i = 0; base[i]; i++)
        ck_assert_msg(core_config_set(cfg, base[i], err, sizeof err) == CORE_OK, "%s", err);
    for (int i = 0; extra && extra[i]; i++)
        ck_assert_msg(core_config_set(cfg, extra[i], err, sizeof err) == CORE_OK, "%s", err);
    return cfg;
}

static ing_kafka_t *kstart(const core_config_t *cfg, core_queue_t *q, core_metrics_t *m)
{
    ing_kafka_t *k = NULL;
    char err[512] = "";
    ck_assert_msg(ing_kafka_new(cfg, q, m, &k, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(ing_kafka_start(k, err, sizeof err) == CORE_OK, "%s", err);
    return k;
}

static void setup(void)
{
    core_log_setup(getenv("FINSENT_TEST_DEBUG") ? CORE_LOG_DEBUG : CORE_LOG_ERROR, CORE_LOG_TEXT);
}

/* ---- tests ---------------------------------------------------------------- */

/* Every message consumed exactly once, ids and times derived from the
 * message, and the committed offsets reach the end of every partition. */
START_TEST(normal_run_exactly_once)
{
    enum { N = 200 };
    kfix f;
    pipe_t p;
    pipe_t *ps[1] = {&p};
    size_t dups;
    int64_t c[4];
    core_metrics_t *m;

    kfix_init(&f, 3);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N);
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-normal", NULL);
    ing_kafka_t *k = kstart(cfg, p.q, m);

    ck_assert_uint_eq(pipe_wait(&p, N, 30000), N);
    ing_kafka_stop(k, 5000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, N);
    ck_assert_uint_eq(distinct(ps, 1, &dups), N);
    ck_assert_uint_eq(dups, 0);
    for (size_t i = 0; i < p.n; i++) {
        int part;
        long long off;
        ck_assert_int_eq(sscanf(p.ids[i], "kafka:news:%d:%lld", &part, &off), 2);
        ck_assert(part >= 0 && part < 4 && off >= 0);
    }
    committed(&f, "g-normal", "news", 4, c);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i], high_watermark(&f, "news", i));

    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
    kfix_free(&f);
}
END_TEST

/* Items carry source, event time, cashtags and an ack. */
START_TEST(item_fields)
{
    kfix f;
    pipe_t p;
    kfix_init(&f, 1);
    kfix_topic(&f, "news", 1);
    const char *json = "{\"id\":\"abc\",\"text\":\"$TSLA "
                       "up\",\"source\":\"wire\",\"ts\":\"2026-11-28T13:50:00Z\"}";
    kfix_produce(&f, "news", 0, json, (ssize_t)strlen(json));
    kfix_produce(&f, "news", 0, "plain text about $NVDA", 22);
    ck_assert_int_eq(rd_kafka_flush(f.prod, 10000), 0);
    pipe_start(&p, 8, 0);
    core_config_t *cfg = kcfg(&f, "g-fields", NULL);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 2, 30000), 2);
    pipe_stop(&p);

    core_item_t *a = p.kept[0], *b = p.kept[1];
    ck_assert_str_eq(a->id, "abc");
    ck_assert_str_eq(a->source, "wire");
    ck_assert_int_eq(a->event_ms, core_time_from_civil(2026, 11, 28, 13, 50, 0));
    ck_assert_uint_eq(a->n_entities, 1);
    ck_assert_str_eq(a->entities[0], "TSLA");
    ck_assert_str_eq(b->id, "kafka:news:0:1");
    ck_assert_str_eq(b->source, "kafka:news");
    ck_assert_str_eq(b->text, "plain text about $NVDA");
    ck_assert(b->event_ms > 1700000000000LL); /* the message timestamp */
    ck_assert_str_eq(b->entities[0], "NVDA");
    ck_assert_ptr_nonnull(a->ack.fn);
    core_item_ack(a, CORE_OK);
    core_item_ack(b, CORE_OK);
    ing_kafka_stop(k, 5000);
    int64_t c[1];
    committed(&f, "g-fields", "news", 1, c);
    ck_assert_int_eq(c[0], 2);
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* Offsets are committed only for acknowledged items: a consumer that acks
 * all but a few (out of order) and is destroyed commits, per partition, the
 * lowest unacknowledged offset; a new consumer gets the unacked ones again. */
START_TEST(unacked_items_come_back)
{
    enum { N = 120 };
    kfix f;
    pipe_t p, p2;
    int64_t lowest[4] = {-1, -1, -1, -1}, c[4];
    int unacked = 0;

    kfix_init(&f, 1);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N);
    pipe_start(&p, 256, 0);
    core_config_t *cfg = kcfg(&f, "g-replay", NULL);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, N, 30000), N);

    /* Ack in reverse order, skipping offsets 7 and 20 of each partition. */
    for (size_t i = p.n; i-- > 0;) {
        core_item_t *it = p.kept[i];
        int part;
        long long off;
        ck_assert_int_eq(sscanf(it->id, "kafka:news:%d:%lld", &part, &off), 2);
        if (off == 7 || off == 20) {
            unacked++;
            if (lowest[part] < 0 || off < lowest[part])
                lowest[part] = off;
            continue;
        }
        core_item_ack(it, CORE_OK);
    }
    ck_assert_int_eq(unacked, 8);
    ing_kafka_stop(k, 0);
    ing_kafka_free(k); /* the unacked items are never acked: a crash */
    committed(&f, "g-replay", "news", 4, c);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i], 7);

    /* A new consumer in the group gets offsets 7.. of every partition again,
     * in particular every unacked item. */
    pipe_start(&p2, 256, 1);
    k = kstart(cfg, p2.q, NULL);
    size_t expect = 0;
    for (int i = 0; i < 4; i++)
        expect += (size_t)(high_watermark(&f, "news", i) - 7);
    ck_assert_uint_eq(pipe_wait(&p2, expect, 30000), expect);
    ing_kafka_stop(k, 5000);
    pipe_stop(&p2);
    for (size_t i = 0; i < p.n; i++) {
        int part;
        long long off;
        sscanf(p.ids[i], "kafka:news:%d:%lld", &part, &off);
        if (off != 7 && off != 20)
            continue;
        int found = 0;
        for (size_t j = 0; j < p2.n; j++)
            found |= strcmp(p2.ids[j], p.ids[i]) == 0;
        ck_assert_msg(found, "%s not redelivered", p.ids[i]);
    }
    committed(&f, "g-replay", "news", 4, c);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i], high_watermark(&f, "news", i));
    ing_kafka_free(k);
    pipe_stop(&p);
    pipe_free(&p);
    pipe_free(&p2);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* Two consumers in one group: the second joining triggers a rebalance while
 * messages flow; every message is delivered (at least once).
 *
 * The test waits for the rebalance itself (both consumers hold partitions,
 * four in all) before it produces the last quarter: it used to produce
 * everything at once and check afterwards that the second consumer got
 * some, which failed under load when the first consumer took every message
 * before the second had joined, or when the health was read mid-rebalance. */
START_TEST(rebalance_two_consumers)
{
    enum { N = 400 };
    kfix f;
    pipe_t a, b;
    pipe_t *ps[2] = {&a, &b};
    size_t dups;
    ing_kafka_health_t ha, hb;

    kfix_init(&f, 2);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N / 2);
    pipe_start(&a, 64, 1);
    pipe_start(&b, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-rebalance", NULL);
    ing_kafka_t *ka = kstart(cfg, a.q, NULL);
    ck_assert(pipe_wait(&a, 1, 30000) >= 1);
    ing_kafka_t *kb = kstart(cfg, b.q, NULL);
    kfix_produce_n(&f, "news", N / 2, 3 * N / 4);
    int64_t end = core_time_mono_ms() + 60000;
    for (;;) {
        ing_kafka_health(ka, &ha);
        ing_kafka_health(kb, &hb);
        if (ha.assigned > 0 && hb.assigned > 0 && ha.assigned + hb.assigned == 4)
            break;
        ck_assert_msg(core_time_mono_ms() < end, "no rebalance in 60 s: %zu + %zu partitions",
                      ha.assigned, hb.assigned);
        usleep(20000);
    }
    /* the last quarter goes to all four partitions, so to both consumers */
    kfix_produce_n(&f, "news", 3 * N / 4, N);
    end = core_time_mono_ms() + 60000;
    while (core_time_mono_ms() < end) {
        pthread_mutex_lock(&a.mu);
        pthread_mutex_lock(&b.mu);
        size_t d = distinct(ps, 2, NULL);
        pthread_mutex_unlock(&b.mu);
        pthread_mutex_unlock(&a.mu);
        if (d == N)
            break;
        usleep(20000);
    }
    ing_kafka_stop(kb, 5000);
    ing_kafka_stop(ka, 5000);
    pipe_stop(&a);
    pipe_stop(&b);
    ck_assert_uint_eq(distinct(ps, 2, &dups), N);
    /* Both took part (the partitions were split, checked above). */
    ck_assert(b.n > 0);
    ing_kafka_free(ka);
    ing_kafka_free(kb);
    pipe_free(&a);
    pipe_free(&b);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* A broker taken down while consuming and brought back: nothing lost. */
START_TEST(broker_down_and_up)
{
    enum { N = 200 };
    kfix f;
    pipe_t p;
    pipe_t *ps[1] = {&p};

    kfix_init(&f, 3);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N / 2);
    pipe_start(&p, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-down", NULL);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    ck_assert(pipe_wait(&p, N / 2, 30000) == N / 2);
    ing_kafka_health_t h;
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(f.mc, b);
    /* Health says disconnected... */
    int64_t t_end = core_time_mono_ms() + 15000;
    do {
        usleep(50000);
        ing_kafka_health(k, &h);
    } while (h.connected && core_time_mono_ms() < t_end);
    ck_assert_int_eq(h.connected, 0);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(f.mc, b);
    /* ...and connected again with no message flowing (the probe). */
    t_end = core_time_mono_ms() + 20000;
    do {
        usleep(50000);
        ing_kafka_health(k, &h);
    } while (!h.connected && core_time_mono_ms() < t_end);
    ck_assert_int_eq(h.connected, 1);
    ck_assert_uint_eq(pipe_count(&p), N / 2);
    kfix_produce_n(&f, "news", N / 2, N);
    int64_t end = core_time_mono_ms() + 60000;
    while (core_time_mono_ms() < end) {
        pthread_mutex_lock(&p.mu);
        size_t d = distinct(ps, 1, NULL);
        pthread_mutex_unlock(&p.mu);
        if (d == N)
            break;
        usleep(20000);
    }
    ing_kafka_stop(k, 5000);
    pipe_stop(&p);
    ck_assert_uint_eq(distinct(ps, 1, NULL), N);
    int64_t c[4];
    committed(&f, "g-down", "news", 4, c);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(c[i], high_watermark(&f, "news", i));
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* The broker answers a fetch with OFFSET_OUT_OF_RANGE after everything was
 * acknowledged: librdkafka resets to the earliest offset and the position
 * goes back; the source tracks from there (the messages come again, to be
 * deduplicated downstream) instead of skipping them, and new messages flow. */
START_TEST(offset_reset_goes_back)
{
    enum { N = 20 };
    kfix f;
    pipe_t p;

    kfix_init(&f, 1);
    kfix_topic(&f, "news", 1);
    for (int i = 0; i < N; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "first %d", i);
        kfix_produce(&f, "news", 0, v, n);
    }
    ck_assert_int_eq(rd_kafka_flush(f.prod, 10000), 0);
    pipe_start(&p, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-reset", NULL);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, N, 30000), N);
    rd_kafka_mock_push_request_errors(f.mc, 1 /* Fetch */, 1,
                                      RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
    kfix_produce(&f, "news", 0, "after the reset", 15);
    ck_assert_int_eq(rd_kafka_flush(f.prod, 10000), 0);
    /* 0..N-1 again, then offset N. */
    ck_assert_uint_eq(pipe_wait(&p, 2 * N + 1, 30000), 2 * N + 1);
    ing_kafka_stop(k, 5000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, 2 * N + 1);
    ck_assert_str_eq(p.ids[2 * N], "kafka:news:0:20");
    int64_t c[1];
    committed(&f, "g-reset", "news", 1, c);
    ck_assert_int_eq(c[0], N + 1);
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* Bad messages of every kind go to the dead-letter topic with headers, are
 * counted by reason, and their offsets are committed, while good ones flow. */
START_TEST(bad_messages_dead_lettered)
{
    static const struct {
        const char *value;
        ssize_t len;
        const char *reason;
    } bad[] = {
        {"{\"text\": \"unterminated", -2, "JSON"},
        {"caf\xc3\x28 bad utf8", -2, "UTF8"},
        {"[1, 2, 3]", -2, "NOT_OBJECT"},
        {"{\"text\": \"   \"}", -2, "EMPTY_TEXT"},
        {"{\"text\": 42}", -2, "BAD_FIELD"},
        {"{\"text\": \"x\", \"ts\": \"yesterday\"}", -2, "BAD_TIME"},
        {NULL, -1, "NULL_VALUE"},
        {NULL, 3000, "TOO_LARGE"},
    };
    enum { NBAD = sizeof bad / sizeof bad[0] };
    static char big[3000];
    kfix f;
    pipe_t p;
    core_metrics_t *m;
    const char *extra[] = {"kafka.dead_letter_topic=dlq", "kafka.max_message_bytes=1KiB", NULL};
    int good = 0;

    memset(big, 'a', sizeof big);
    kfix_init(&f, 1);
    kfix_topic(&f, "news", 1);
    kfix_topic(&f, "dlq", 1);
    for (int i = 0; i < NBAD; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "good %d", i);
        kfix_produce(&f, "news", 0, v, n);
        good++;
        if (bad[i].len == -1)
            kfix_produce(&f, "news", 0, NULL, -1);
        else if (bad[i].len == 3000)
            kfix_produce(&f, "news", 0, big, sizeof big);
        else
            kfix_produce(&f, "news", 0, bad[i].value, (ssize_t)strlen(bad[i].value));
    }
    kfix_produce(&f, "news", 0, "last good", 9);
    good++;
    ck_assert_int_eq(rd_kafka_flush(f.prod, 10000), 0);

    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-dlq", extra);
    ing_kafka_t *k = kstart(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, (size_t)good, 30000), (size_t)good);
    /* The offsets of the bad ones are stored after their dead-letter
     * delivery: wait for the commit to reach the end. */
    int64_t hw = high_watermark(&f, "news", 0), c[1] = {-1};
    ing_kafka_stop(k, 5000);
    committed(&f, "g-dlq", "news", 1, c);
    ck_assert_int_eq(c[0], hw);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, (size_t)good);

    for (int i = 0; i < NBAD; i++) {
        char labels[128];
        snprintf(labels, sizeof labels, "source=\"kafka\",reason=\"%s\"", bad[i].reason);
        core_counter_t *ctr = core_metrics_counter(m, "finsent_ingest_bad_total", labels,
                                                   "messages rejected by reason, by source");
        ck_assert_msg(core_counter_value(ctr) == 1, "reason %s counted %llu", bad[i].reason,
                      (unsigned long long)core_counter_value(ctr));
    }

    /* Read the dead-letter topic back. */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f.bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "dlq-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *c2 = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c2, l);
    rd_kafka_topic_partition_list_destroy(l);
    int got = 0;
    int64_t end = core_time_mono_ms() + 20000;
    while (got < NBAD && core_time_mono_ms() < end) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c2, 200);
        if (!msg)
            continue;
        if (msg->err) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        rd_kafka_headers_t *h = NULL;
        const void *val;
        size_t sz;
        char reason[32] = "", topic[32] = "", part[8] = "", off[24] = "";
        ck_assert_int_eq(rd_kafka_message_headers(msg, &h), 0);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-reason", &val, &sz), 0);
        snprintf(reason, sizeof reason, "%.*s", (int)sz, (const char *)val);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-topic", &val, &sz), 0);
        snprintf(topic, sizeof topic, "%.*s", (int)sz, (const char *)val);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-partition", &val, &sz), 0);
        snprintf(part, sizeof part, "%.*s", (int)sz, (const char *)val);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-offset", &val, &sz), 0);
        snprintf(off, sizeof off, "%.*s", (int)sz, (const char *)val);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-error", &val, &sz), 0);
        ck_assert(sz > 0);
        /* Bad message i sits at offset 2i+1 (after good i). */
        ck_assert_str_eq(reason, bad[got].reason);
        ck_assert_str_eq(topic, "news");
        ck_assert_str_eq(part, "0");
        ck_assert_int_eq(atoll(off), 2 * got + 1);
        if (bad[got].len == -1)
            ck_assert_ptr_null(msg->payload);
        else if (bad[got].len == 3000)
            ck_assert_uint_eq(msg->len, 3000);
        else
            ck_assert_mem_eq(msg->payload, bad[got].value, strlen(bad[got].value));
        got++;
        rd_kafka_message_destroy(msg);
    }
    ck_assert_int_eq(got, NBAD);
    rd_kafka_consumer_close(c2);
    rd_kafka_destroy(c2);

    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
    kfix_free(&f);
}
END_TEST

/* A rejected message larger than the producer takes still reaches the
 * dead-letter topic, cut, with finsent-truncated = its length, and its
 * offset is stored: nothing stalls. An output larger than the producer takes
 * is refused at once with CORE_ETOO_LARGE (permanent). */
START_TEST(oversized_dead_letter_truncated)
{
    static char huge[30000], badjson[10000];
    kfix f;
    pipe_t p;
    const char *extra[] = {"kafka.dead_letter_topic=dlq", "kafka.output_topic=tagged",
                           "kafka.max_message_bytes=20000", "kafka.message.max.bytes=6000", NULL};
    memset(huge, 'a', sizeof huge);
    memset(badjson, 'b', sizeof badjson);
    memcpy(badjson, "{\"text\": \"", 10); /* unterminated JSON */
    kfix_init(&f, 1);
    kfix_topic(&f, "news", 1);
    kfix_topic(&f, "dlq", 1);
    kfix_topic(&f, "tagged", 1);
    kfix_produce(&f, "news", 0, badjson, sizeof badjson);
    kfix_produce(&f, "news", 0, huge, sizeof huge);
    kfix_produce(&f, "news", 0, "good", 4);
    ck_assert_int_eq(rd_kafka_flush(f.prod, 10000), 0);

    pipe_start(&p, 16, 1);
    core_config_t *cfg = kcfg(&f, "g-big", extra);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 1, 30000), 1);
    ck_assert_int_eq(ing_kafka_produce(k, "x", 1, huge, sizeof huge, NULL, NULL),
                     CORE_ETOO_LARGE);
    int64_t hw = high_watermark(&f, "news", 0), c[1] = {-1};
    ing_kafka_stop(k, 5000);
    committed(&f, "g-big", "news", 1, c);
    ck_assert_int_eq(c[0], hw); /* both dead letters delivered: offsets stored */
    pipe_stop(&p);

    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f.bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "dlq-reader-big", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *c2 = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c2, l);
    rd_kafka_topic_partition_list_destroy(l);
    static const size_t want_len[2] = {sizeof badjson, sizeof huge};
    static const char *const want_reason[2] = {"JSON", "TOO_LARGE"};
    int got = 0;
    int64_t end = core_time_mono_ms() + 20000;
    while (got < 2 && core_time_mono_ms() < end) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c2, 200);
        rd_kafka_headers_t *h = NULL;
        const void *val;
        size_t sz;
        char buf[32];
        if (!msg)
            continue;
        if (msg->err) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        ck_assert_int_eq(rd_kafka_message_headers(msg, &h), 0);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-reason", &val, &sz), 0);
        snprintf(buf, sizeof buf, "%.*s", (int)sz, (const char *)val);
        ck_assert_str_eq(buf, want_reason[got]);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "finsent-truncated", &val, &sz), 0);
        snprintf(buf, sizeof buf, "%.*s", (int)sz, (const char *)val);
        ck_assert_uint_eq((size_t)atoll(buf), want_len[got]);
        ck_assert_uint_le(msg->len, 6000 - 2048);
        ck_assert_uint_gt(msg->len, 1000);
        got++;
        rd_kafka_message_destroy(msg);
    }
    ck_assert_int_eq(got, 2);
    rd_kafka_consumer_close(c2);
    rd_kafka_destroy(c2);
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* A tiny queue and a pipeline that starts late: the source pauses its
 * partitions, keeps polling, resumes when the queue drains; nothing lost,
 * nothing twice. */
START_TEST(backpressure_pauses_and_resumes)
{
    enum { N = 200 };
    kfix f;
    pipe_t p;
    pipe_t *ps[1] = {&p};
    size_t dups;
    ing_kafka_health_t h;
    core_metrics_t *m;

    kfix_init(&f, 1);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N);
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start_stopped(&p, 4, 1);
    /* A short fetch wait makes each pause/resume round (which refetches)
     * quick. */
    const char *extra[] = {"kafka.fetch.wait.max.ms=50", NULL};
    core_config_t *cfg = kcfg(&f, "g-bp", extra);
    ing_kafka_t *k = kstart(cfg, p.q, m);
    int64_t end = core_time_mono_ms() + 30000;
    do {
        usleep(20000);
        ing_kafka_health(k, &h);
    } while (!h.paused && core_time_mono_ms() < end);
    ck_assert_int_eq(h.paused, 1);
    ck_assert_uint_eq(core_queue_depth(p.q), 4);
    atomic_store(&p.go, 1);
    size_t got = pipe_wait(&p, N, 60000);
    ing_kafka_health(k, &h);
    ck_assert_msg(got == N,
                  "got %zu of %d; paused %d in_flight %zu consumed %llu assigned %zu queue %zu",
                  got, N, h.paused, h.in_flight, (unsigned long long)h.consumed, h.assigned,
                  core_queue_depth(p.q));
    end = core_time_mono_ms() + 10000;
    do {
        ing_kafka_health(k, &h);
    } while (h.paused && core_time_mono_ms() < end && usleep(10000) == 0);
    ck_assert_int_eq(h.paused, 0);
    ing_kafka_stop(k, 5000);
    pipe_stop(&p);
    ck_assert_uint_eq(distinct(ps, 1, &dups), N);
    ck_assert_uint_eq(dups, 0);
    ck_assert(core_counter_value(core_metrics_counter(
                  m, "finsent_kafka_pauses_total", NULL,
                  "times the partitions were paused because the queue was full")) >= 1);
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
    kfix_free(&f);
}
END_TEST

/* A rebalance while paused with held items: the held items of revoked
 * partitions are dropped (not acked), the unacked items in the stalled
 * pipeline delay the revocation by at most revoke_timeout, and in the end
 * every message is delivered by one consumer or the other. */
START_TEST(rebalance_while_paused)
{
    enum { N = 200 };
    kfix f;
    pipe_t a, b;
    pipe_t *ps[2] = {&a, &b};
    ing_kafka_health_t h;
    const char *extra[] = {"kafka.fetch.wait.max.ms=50", "kafka.revoke_timeout=1s", NULL};

    kfix_init(&f, 1);
    kfix_topic(&f, "news", 4);
    kfix_produce_n(&f, "news", 0, N);
    pipe_start_stopped(&a, 4, 1);
    pipe_start(&b, 64, 1);
    core_config_t *cfg = kcfg(&f, "g-rbp", extra);
    ing_kafka_t *ka = kstart(cfg, a.q, NULL);
    int64_t end = core_time_mono_ms() + 30000;
    do {
        usleep(20000);
        ing_kafka_health(ka, &h);
    } while (!h.paused && core_time_mono_ms() < end);
    ck_assert_int_eq(h.paused, 1);
    ing_kafka_t *kb = kstart(cfg, b.q, NULL);
    ck_assert(pipe_wait(&b, 1, 30000) >= 1); /* the rebalance happened */
    atomic_store(&a.go, 1);
    end = core_time_mono_ms() + 60000;
    while (core_time_mono_ms() < end) {
        pthread_mutex_lock(&a.mu);
        pthread_mutex_lock(&b.mu);
        size_t d = distinct(ps, 2, NULL);
        pthread_mutex_unlock(&b.mu);
        pthread_mutex_unlock(&a.mu);
        if (d == N)
            break;
        usleep(20000);
    }
    ing_kafka_stop(kb, 5000);
    ing_kafka_stop(ka, 5000);
    pipe_stop(&a);
    pipe_stop(&b);
    ck_assert_uint_eq(distinct(ps, 2, NULL), N);
    ing_kafka_free(ka);
    ing_kafka_free(kb);
    pipe_free(&a);
    pipe_free(&b);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

static atomic_int delivered_ok, delivered_err;
static void on_delivery(void *opaque, core_err_t status, const char *errstr)
{
    (void)opaque;
    (void)errstr;
    if (status == CORE_OK)
        atomic_fetch_add(&delivered_ok, 1);
    else
        atomic_fetch_add(&delivered_err, 1);
}

/* Tagged output: produced keyed by id; the callback reports delivery. */
START_TEST(output_topic_delivery)
{
    kfix f;
    pipe_t p;
    const char *extra[] = {"kafka.output_topic=tagged", NULL};
    kfix_init(&f, 1);
    kfix_topic(&f, "news", 1);
    kfix_topic(&f, "tagged", 1);
    pipe_start(&p, 8, 1);
    core_config_t *cfg = kcfg(&f, "g-out", extra);
    ing_kafka_t *k = kstart(cfg, p.q, NULL);
    for (int i = 0; i < 10; i++) {
        char key[16], val[64];
        int kl = snprintf(key, sizeof key, "id-%d", i);
        int vl = snprintf(val, sizeof val, "{\"id\":\"id-%d\"}", i);
        ck_assert_int_eq(ing_kafka_produce(k, key, (size_t)kl, val, (size_t)vl, on_delivery, NULL),
                         CORE_OK);
    }
    int64_t end = core_time_mono_ms() + 20000;
    while (atomic_load(&delivered_ok) + atomic_load(&delivered_err) < 10 &&
           core_time_mono_ms() < end)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&delivered_ok), 10);
    ck_assert_int_eq(high_watermark(&f, "tagged", 0), 10);
    ing_kafka_stop(k, 1000);
    ck_assert_int_eq(ing_kafka_produce(k, "x", 1, "y", 1, on_delivery, NULL), CORE_ECLOSED);
    pipe_stop(&p);
    ing_kafka_free(k);
    pipe_free(&p);
    core_config_free(cfg);

    /* Without an output topic, produce is refused. */
    cfg = kcfg(&f, "g-out2", NULL);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_kafka_produce(k, "x", 1, "y", 1, NULL, NULL), CORE_EINVAL);
    ing_kafka_free(k);
    core_config_free(cfg);
    kfix_free(&f);
}
END_TEST

/* Configuration errors name the key and its origin. */
START_TEST(config_errors)
{
    core_config_t *cfg;
    ing_kafka_t *k = (ing_kafka_t *)1;
    char err[512];

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_EINVAL);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(core_config_set(cfg, "kafka.brokers=127.0.0.1:1", err, sizeof err), CORE_OK);
    ck_assert_int_eq(core_config_set(cfg, "kafka.no.such.property=1", err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "no.such.property") && strstr(err, "--set"), "%s", err);
    core_config_free(cfg);

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_int_eq(
        core_config_load_string(cfg, "t.conf",
                                "[kafka]\nbrokers = 127.0.0.1:1\nsession.timeout.ms = banana\n",
                                err, sizeof err),
        CORE_OK);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "session.timeout.ms") && strstr(err, "t.conf:3"), "%s", err);
    core_config_free(cfg);

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_set(cfg, "kafka.brokers=127.0.0.1:1", err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_msg(core_config_set(cfg, "kafka.enable.auto.commit=true", err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "enable.auto.commit") && strstr(err, "managed"), "%s", err);
    core_config_free(cfg);

    /* rdkafka.NAME reaches dot-less properties: a bad value is refused... */
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_set(cfg, "kafka.brokers=127.0.0.1:1", err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_msg(core_config_set(cfg, "kafka.rdkafka.acks=some", err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "acks") && strstr(err, "--set"), "%s", err);
    core_config_free(cfg);
    /* ...and a good one accepted. */
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_set(cfg, "kafka.brokers=127.0.0.1:1", err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_msg(core_config_set(cfg, "kafka.rdkafka.retries=3", err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_OK);
    ing_kafka_free(k);
    core_config_free(cfg);

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_set(cfg, "kafka.brokers=127.0.0.1:1", err, sizeof err) == CORE_OK,
                  "%s", err);
    ck_assert_msg(core_config_set(cfg, "kafka.topics=", err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_int_eq(ing_kafka_new(cfg, NULL, NULL, &k, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "topics"), "%s", err);
    core_config_free(cfg);
}
END_TEST

/* ---- finsent kafka-mock ------------------------------------------------------- */

/* run_mock starts the finsent binary's kafka-mock with args, waits for the
 * bootstrap line on its stdout and returns the pid. */
static pid_t run_mock(char *const extra[], char *bootstrap, size_t cap, const char *log)
{
    char bin[1024];
    char *argv[16];
    int n = 0;
    snprintf(bin, sizeof bin, "%s/app/finsent", FINSENT_BINARY_DIR);
    ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
    argv[n++] = bin;
    argv[n++] = "kafka-mock";
    for (int i = 0; extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        FILE *o = freopen(log, "w", stdout);
        FILE *e = freopen("/dev/null", "w", stderr);
        (void)o;
        (void)e;
        execv(bin, argv);
        _exit(127);
    }
    int64_t end = core_time_mono_ms() + 15000;
    bootstrap[0] = '\0';
    while (core_time_mono_ms() < end) {
        FILE *f = fopen(log, "r");
        if (f) {
            if (fgets(bootstrap, (int)cap, f) && strchr(bootstrap, '\n')) {
                *strchr(bootstrap, '\n') = '\0';
                fclose(f);
                return pid;
            }
            fclose(f);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_abort_msg("kafka-mock printed no bootstrap line");
    return -1;
}

static int partitions_of(const char *bootstrap, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return n;
}

/* The kafka-mock command: bootstrap on the first stdout line, topics created
 * with their partitions, --port forwarding, clean exit on SIGTERM. */
START_TEST(kafka_mock_command)
{
    char bootstrap[256], log[600], want[64];
    int status = -1;
    const char *dir = th_tmpdir("kmock");
    snprintf(log, sizeof log, "%s/out", dir);

    char *a1[] = {"--brokers", "2", "--topic", "demo:3", "--topic", "other", NULL};
    pid_t pid = run_mock(a1, bootstrap, sizeof bootstrap, log);
    ck_assert_msg(strncmp(bootstrap, "127.0.0.1:", 10) == 0 && strchr(bootstrap, ','), "%s",
                  bootstrap);
    ck_assert_int_eq(partitions_of(bootstrap, "demo"), 3);
    ck_assert_int_eq(partitions_of(bootstrap, "other"), 4);
    kill(pid, SIGTERM);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    int port = th_free_port();
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    char *a2[] = {"--port", portstr, "--topic", "news:2", NULL};
    snprintf(log, sizeof log, "%s/out2", dir);
    pid = run_mock(a2, bootstrap, sizeof bootstrap, log);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    ck_assert_str_eq(bootstrap, want);
    ck_assert_int_eq(partitions_of(bootstrap, "news"), 2);
    kill(pid, SIGINT);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

/* FINSENT_TEST_ONLY=name runs one test of this suite (for debugging). */
#define ADD(tc, t)                                                                                 \
    do {                                                                                           \
        const char *only = getenv("FINSENT_TEST_ONLY");                                            \
        if (!only || strcmp(only, #t) == 0)                                                        \
            tcase_add_test(tc, t);                                                                 \
    } while (0)

Suite *suite_kafka(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    ADD(tc, config_errors);
    ADD(tc, item_fields);
    ADD(tc, normal_run_exactly_once);
    ADD(tc, unacked_items_come_back);
    ADD(tc, bad_messages_dead_lettered);
    ADD(tc, oversized_dead_letter_truncated);
    ADD(tc, offset_reset_goes_back);
    ADD(tc, backpressure_pauses_and_resumes);
    ADD(tc, output_topic_delivery);
    ADD(tc, rebalance_two_consumers);
    ADD(tc, rebalance_while_paused);
    ADD(tc, broker_down_and_up);
    ADD(tc, kafka_mock_command);
    suite_add_tcase(s, tc);
    return s;
}
