/*
 * app_pipeline: see app_pipeline.h.
 *
 * Threads and queues:
 *   jsonl thread (optional)  --push-->  in_q (core_item_t *, run.queue_size)
 *   Kafka consumer thread    --push-->  in_q       (ingest/ing_kafka)
 *   feed poller thread       --push-->  in_q       (ingest/ing_rss)
 *   classify thread: pop_batch(in_q) -> entities -> cls_classifier_tag
 *                    --push--> tagged_q (cbatch *: one classified batch)
 *   redis thread:    pop_batch(tagged_q), several batches -> alr_sink_write
 *                    -> outputs -> ack
 *   tick thread:     alr_sink_tick every 2 s (idle scopes decay, rules) on a
 *                    sink and connection of its own, so a slow tick never
 *                    delays the counting of items; woken sooner (at most
 *                    every ALR_SINK_REFRESH_MS) after writes: the rates of
 *                    the scopes counted into are refreshed there, never in
 *                    the Redis thread's write path
 * Ownership follows the pointer: a queue push hands the item over. The only
 * way out of the pipeline for an item is core_item_ack + free (processed), or
 * free without ack (shutdown past the grace period: replayed later).
 *
 * Stop order matters: sources first (they wait for their in-flight acks, so
 * the threads behind them must still run), then close in_q; the classify
 * thread drains it and closes tagged_q; the Redis thread drains that. Past
 * the grace period the Redis write is cancelled and the rest is dropped
 * unacknowledged.
 */
#include "app/app_pipeline.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_sink.h"
#include "app/app.h"
#include "classify/cls_classifier.h"
#include "core/core_alloc.h"
#include "core/core_item.h"
#include "core/core_log.h"
#include "core/core_msg.h"
#include "core/core_queue.h"
#include "core/core_time.h"
#include "core/core_watchlist.h"
#include "ingest/ing_jsonl.h"
#include "ingest/ing_kafka.h"
#include "ingest/ing_rss.h"

#define MOD "run"
#define REDIS_BATCH 512
#define TICK_MS 2000
#define JSONL_WAIT_MS 200 /* how soon the JSONL reader sees a stop request */

/* The stages an item's latency is split into (finsent_stage_seconds), in
 * the order it goes through them; together they make up
 * finsent_e2e_latency_seconds{from="ingest"}. "source" is before ingest:
 * event time to ingest, which means something only when the producer
 * stamps the send time as the event time (bench/e2e does). */
#define STAGES(X)                                                                                  \
    X(SOURCE, "source")     /* event time -> consumed from the source */                          \
    X(QUEUE, "queue")       /* consumed -> the classify thread is free for it */                  \
    X(BATCH, "batch")       /* -> its batch closes (size or deadline) */                          \
    X(CLASSIFY, "classify") /* entities, tokenize + encode of its batch */                        \
    X(HANDOFF, "handoff")   /* classified -> the Redis thread takes it */                         \
    X(REDIS, "redis")       /* the Redis write of its batch */                                    \
    X(ACK, "ack")           /* counts in Redis -> acknowledged to its source */
enum {
#define STAGE_ENUM(N, s) STAGE_##N,
    STAGES(STAGE_ENUM)
#undef STAGE_ENUM
        STAGE__COUNT
};

struct app_pipeline {
    const core_config_t *cfg;
    core_metrics_t *metrics;

    core_queue_t *in_q;
    core_queue_t *tagged_q;
    cls_classifier_t *cls;
    alr_sink_t *sink;          /* used by the Redis thread only */
    alr_sink_t *next_sink;     /* set by a reload, swapped in by the Redis thread */
    alr_sink_t *tick_sink;     /* used by the tick thread only */
    alr_sink_t *next_tick_sink;
    pthread_mutex_t sink_mu;   /* the four sink pointers */
    core_config_t **old_cfgs;  /* configs of reloads, freed at the end */
    size_t n_old_cfgs;
    ing_kafka_t *kafka;
    ing_rss_t *rss;
    core_watchlist_t *watchlist;
    char *jsonl_path;

    size_t batch;
    int max_wait_ms;
    int adaptive_wait; /* classify.adaptive_wait */
    double busy;       /* classify thread only: EWMA of the classifier's busy share */
    int unhealthy_polls; /* rss.unhealthy_polls */
    int cashtags;
    int to_stdout;
    int kafka_output;
    core_msg_limits_t limits;

    pthread_t classify_th, redis_th, jsonl_th, tick_th;
    int classify_started, redis_started, jsonl_started, tick_started;
    atomic_int tick_stop;
    atomic_int tick_wanted; /* the Redis thread counted items since the last tick */
    atomic_int stop_sources; /* jsonl: stop reading */
    atomic_int jsonl_done;
    atomic_int redis_ok;     /* last Redis write or tick succeeded */
    atomic_long accepted;    /* items that entered in_q */
    atomic_long finished;    /* items acknowledged, or dropped unacknowledged */
    atomic_long dropped;     /* items dropped unacknowledged (replayed later) */
    pthread_mutex_t out_mu;  /* stdout lines */

    atomic_long tagged_items; /* items in tagged_q's batch records */

    core_counter_t *m_jsonl_in, *m_out, *m_classified;
    core_gauge_t *m_in_depth, *m_tagged_depth;
    core_histogram_t *m_batch, *m_classify_s, *m_e2e_ingest, *m_e2e_event, *m_tick_s;
    core_histogram_t *m_stage[STAGE__COUNT]; /* per item: finsent_stage_seconds{stage} */
};

/* One classified batch on its way from the classify thread to the Redis
 * thread (tagged_q holds these), with the time its tagging ended. */
typedef struct cbatch {
    size_t n;
    int64_t classified_ns; /* core_time_mono_ns when pushed */
    core_tagged_t *t[];    /* (n) owned */
} cbatch;

/* Latency buckets of the pipeline's histograms: finer than
 * core_metrics_latency_buckets between 50 ms and 2.5 s, where the targets
 * (p99 of 200 ms, 300 ms, 1 s) lie, so a quantile read from them is not
 * an interpolation across a quarter of a second. */
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                    0.1,    0.15,  0.2,    0.25,  0.3,  0.4,   0.5,  0.75,
                                    1,      1.5,   2,      2.5,   5,    10,    30,   60};
#define LAT_NBOUNDS (sizeof lat_bounds / sizeof lat_bounds[0])

static void register_metrics(app_pipeline_t *p)
{
    static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    static const char *const stage_names[] = {
#define STAGE_NAME(N, s) s,
        STAGES(STAGE_NAME)
#undef STAGE_NAME
    };
    core_metrics_t *m = p->metrics;

    for (int i = 0; i < STAGE__COUNT; i++) {
        char lab[48];
        core_metrics_label(lab, sizeof lab, "stage", stage_names[i]);
        p->m_stage[i] = core_metrics_histogram(
            m, "finsent_stage_seconds", lab,
            "per item, the time spent in each pipeline stage (docs/pipeline.md)", lat_bounds,
            LAT_NBOUNDS);
    }
    p->m_jsonl_in = core_metrics_counter(m, "finsent_ingest_items_total", "source=\"jsonl\"",
                                         "items handed to the pipeline, by source");
    p->m_classified = core_metrics_counter(m, "finsent_classified_total", NULL,
                                           "items classified");
    p->m_out = core_metrics_counter(m, "finsent_items_out_total", NULL,
                                    "items fully processed and acknowledged to their source");
    p->m_in_depth = core_metrics_gauge(m, "finsent_queue_depth", "queue=\"in\"",
                                       "items waiting in a pipeline queue");
    p->m_tagged_depth = core_metrics_gauge(m, "finsent_queue_depth", "queue=\"tagged\"",
                                           "items waiting in a pipeline queue");
    p->m_batch = core_metrics_histogram(m, "finsent_classify_batch_size", NULL,
                                        "items per classifier batch", batch_bounds,
                                        sizeof batch_bounds / sizeof batch_bounds[0]);
    p->m_classify_s = core_metrics_histogram(m, "finsent_classify_batch_seconds", NULL,
                                             "time to classify one batch",
                                             core_metrics_latency_buckets,
                                             core_metrics_latency_nbuckets);
    p->m_tick_s = core_metrics_histogram(m, "finsent_redis_tick_seconds", NULL,
                                         "time of one periodic rate refresh and rule evaluation",
                                         core_metrics_latency_buckets,
                                         core_metrics_latency_nbuckets);
    p->m_e2e_ingest = core_metrics_histogram(
        m, "finsent_e2e_latency_seconds", "from=\"ingest\"",
        "time from ingest (or event time) until the counts are in Redis", lat_bounds,
        LAT_NBOUNDS);
    p->m_e2e_event = core_metrics_histogram(
        m, "finsent_e2e_latency_seconds", "from=\"event\"",
        "time from ingest (or event time) until the counts are in Redis", lat_bounds,
        LAT_NBOUNDS);
}

core_err_t app_pipeline_new(const core_config_t *cfg, core_metrics_t *metrics,
                            app_pipeline_t **out, char *err, size_t errlen)
{
    app_pipeline_t *p = core_calloc(1, sizeof *p);
    cls_classifier_opts_t opts = {0};
    const char *wl, *jsonl;
    core_err_t rc;
    size_t qsize;

    *out = NULL;
    if (!p)
        return CORE_ENOMEM;
    p->cfg = cfg;
    p->metrics = metrics;
    pthread_mutex_init(&p->out_mu, NULL);
    pthread_mutex_init(&p->sink_mu, NULL);
    p->batch = (size_t)core_config_int(cfg, CORE_CFG_CLASSIFY_BATCH);
    p->max_wait_ms = (int)core_config_int(cfg, CORE_CFG_CLASSIFY_MAX_WAIT);
    p->adaptive_wait = core_config_bool(cfg, CORE_CFG_CLASSIFY_ADAPTIVE_WAIT);
    p->unhealthy_polls = (int)core_config_int(cfg, CORE_CFG_RSS_UNHEALTHY_POLLS);
    p->cashtags = core_config_bool(cfg, CORE_CFG_ENTITIES_CASHTAGS);
    p->to_stdout = core_config_bool(cfg, CORE_CFG_RUN_STDOUT);
    p->kafka_output = core_config_str(cfg, CORE_CFG_KAFKA_OUTPUT_TOPIC)[0] != '\0';
    p->limits.max_message_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_MESSAGE_BYTES);
    p->limits.max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES);
    atomic_store(&p->redis_ok, 1);
    register_metrics(p);

    qsize = (size_t)core_config_int(cfg, CORE_CFG_RUN_QUEUE_SIZE);
    if ((rc = core_queue_new(qsize, &p->in_q)) != CORE_OK ||
        (rc = core_queue_new(p->batch * 4 > 256 ? 4 : (256 + p->batch - 1) / p->batch,
                             &p->tagged_q)) != CORE_OK)
        goto out;

    app_classifier_opts(cfg, &opts);
    if ((rc = cls_classifier_new(&opts, &p->cls, err, errlen)) != CORE_OK)
        goto out;
    {
        char labels[128], l1[48], l2[48];
        core_metrics_label(l1, sizeof l1, "precision",
                           cls_precision_name(cls_classifier_precision(p->cls)));
        core_metrics_label(l2, sizeof l2, "kernels", cls_classifier_kernels(p->cls));
        snprintf(labels, sizeof labels, "%s,%s", l1, l2);
        core_gauge_set(core_metrics_gauge(metrics, "finsent_classifier_info", labels,
                                          "the classifier's precision and GEMM kernels (1)"),
                       1.0);
    }
    if (!cls_classifier_has_sentiment(p->cls)) {
        core_err_set(err, errlen, "model %s has no sentiment head; the daemon counts sentiment",
                     opts.model_dir);
        rc = CORE_EMODEL;
        goto out;
    }

    wl = core_config_str(cfg, CORE_CFG_ENTITIES_WATCHLIST);
    if (wl[0] && (rc = core_watchlist_load(wl, &p->watchlist, err, errlen)) != CORE_OK)
        goto out;

    if ((rc = alr_sink_new(cfg, metrics, &p->sink, err, errlen)) != CORE_OK ||
        (rc = alr_sink_new(cfg, metrics, &p->tick_sink, err, errlen)) != CORE_OK)
        goto out;
    alr_sink_set_refresh_interval(p->sink, ALR_SINK_REFRESH_NEVER);

    if (core_config_str(cfg, CORE_CFG_KAFKA_BROKERS)[0] &&
        (rc = ing_kafka_new(cfg, p->in_q, metrics, &p->kafka, err, errlen)) != CORE_OK)
        goto out;
    if (p->kafka_output && !p->kafka) {
        core_err_set(err, errlen, "kafka.output_topic is set but kafka.brokers is empty");
        rc = CORE_ECONFIG;
        goto out;
    }
    if (core_config_instance_count(cfg, "feed") > 0 &&
        (rc = ing_rss_new(cfg, p->in_q, metrics, &p->rss, err, errlen)) != CORE_OK)
        goto out;
    jsonl = core_config_str(cfg, CORE_CFG_INPUT_JSONL);
    if (jsonl[0] && !(p->jsonl_path = core_strdup(jsonl))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    if (!p->kafka && !p->jsonl_path && !p->rss) {
        core_err_set(
            err, errlen,
            "no source configured: set kafka.brokers, input.jsonl or a [feed.NAME] section");
        rc = CORE_ECONFIG;
        goto out;
    }
    *out = p;
    p = NULL;
out:
    app_pipeline_free(p);
    return rc;
}

/* ---- JSONL source ------------------------------------------------------ */

static void *jsonl_main(void *arg)
{
    app_pipeline_t *p = arg;
    ing_jsonl_t *src = NULL;
    char err[600];
    core_err_t rc;

    rc = ing_jsonl_open(p->jsonl_path, &p->limits, &src, err, sizeof err);
    if (rc != CORE_OK) {
        CORE_ERROR(MOD, "input.jsonl: %s", err);
        goto out;
    }
    while (!atomic_load(&p->stop_sources)) {
        core_item_t *item = NULL;
        /* Bounded waits: stdin or a pipe may stay open and idle, and a stop
         * must not wait for its next line (nor run past run.grace). */
        rc = ing_jsonl_next_wait(src, JSONL_WAIT_MS, &item, err, sizeof err);
        if (rc == CORE_ETIMEOUT)
            continue;
        if (rc == CORE_ECLOSED)
            break;
        if (rc != CORE_OK) {
            char lab[96];
            CORE_WARN(MOD, "%s: %s", p->jsonl_path, err);
            snprintf(lab, sizeof lab, "source=\"jsonl\",reason=\"%s\"", core_errname(rc));
            core_counter_add(core_metrics_counter(p->metrics, "finsent_ingest_bad_total", lab,
                                                  "messages rejected by reason, by source"),
                             1);
            continue;
        }
        core_counter_add(p->m_jsonl_in, 1);
        /* Blocking push with a timeout so a stop request is noticed. */
        for (;;) {
            rc = core_queue_push(p->in_q, item, 200);
            if (rc == CORE_OK) {
                atomic_fetch_add(&p->accepted, 1);
                break;
            }
            if (rc == CORE_ECLOSED || atomic_load(&p->stop_sources)) {
                core_item_free(item);
                goto out;
            }
        }
    }
out:
    ing_jsonl_free(src);
    atomic_store(&p->jsonl_done, 1);
    return NULL;
}

/* ---- classify thread --------------------------------------------------- */

static void ack_item(app_pipeline_t *p, core_item_t *item, core_err_t status)
{
    core_item_ack(item, status);
    atomic_fetch_add(&p->finished, 1);
}

/* An item leaves the pipeline without acknowledgement: it will be replayed
 * by its source (Kafka) after a restart. */
static void drop_item(app_pipeline_t *p, core_item_t *item)
{
    core_item_free(item);
    atomic_fetch_add(&p->finished, 1);
    atomic_fetch_add(&p->dropped, 1);
}

static void drop_tagged(app_pipeline_t *p, core_tagged_t *t)
{
    core_tagged_free(t);
    atomic_fetch_add(&p->finished, 1);
    atomic_fetch_add(&p->dropped, 1);
}

/* count_repaired: the UTF-8 gate (core_item_set) replaced invalid bytes in
 * this item, or hashed its over-long id; count them by source kind (the
 * part of the source before ':'). */
static void count_repaired(app_pipeline_t *p, const core_item_t *it)
{
    char kind[32], lab[64];
    const char *src = it->source ? it->source : "unknown";
    size_t k = strcspn(src, ":");
    snprintf(kind, sizeof kind, "%.*s", (int)(k < sizeof kind ? k : sizeof kind - 1), src);
    core_metrics_label(lab, sizeof lab, "source", kind);
    if (it->id_hashed)
        core_counter_add(core_metrics_counter(p->metrics, "finsent_ids_hashed_total", lab,
                                              "ids longer than 256 bytes replaced by a prefix "
                                              "and a hash, by source"),
                         1);
    if (!it->utf8_repaired)
        return;
    core_counter_add(core_metrics_counter(p->metrics, "finsent_utf8_repaired_total", lab,
                                          "invalid UTF-8 sequences replaced by U+FFFD, by source"),
                     it->utf8_repaired);
    CORE_DEBUG(MOD, "item %s from %s: %u invalid UTF-8 sequence(s) replaced by U+FFFD",
               it->id ? it->id : "?", src, it->utf8_repaired);
}

static void observe_ms(core_histogram_t *h, int64_t ms)
{
    core_histogram_observe(h, (double)(ms > 0 ? ms : 0) / 1000.0);
}

/* observe_wait: the queue and batch stages of items[0..n), whose batch the
 * classify thread began to wait for at call_ms and closed at close_ms
 * (wall clock, like ingest_ms). */
static void observe_wait(app_pipeline_t *p, core_item_t *const *items, size_t n, int64_t call_ms,
                         int64_t close_ms)
{
    for (size_t i = 0; i < n; i++) {
        int64_t in = items[i]->ingest_ms, from = in > call_ms ? in : call_ms;
        if (core_item_event_known(items[i]))
            observe_ms(p->m_stage[STAGE_SOURCE], in - items[i]->event_ms);
        observe_ms(p->m_stage[STAGE_QUEUE], from - in);
        observe_ms(p->m_stage[STAGE_BATCH], close_ms - from);
    }
}

/* batch_wait_ms: how long a batch may wait for more items once its first
 * has arrived. A batch always closes at once when it is full. Waiting only
 * pays when the classifier is the bottleneck (a fuller batch costs less per
 * item); under light load it only adds latency, since the items are
 * classified as soon as they are taken anyway. So the wait is
 * classify.max_wait scaled by the classifier's busy share (an EWMA over the
 * last batches of busy time / (busy + waiting time)): about 0 when idle,
 * max_wait when saturated -- and when saturated the queue holds a full batch
 * anyway, so batches close on size. */
static int batch_wait_ms(const app_pipeline_t *p)
{
    if (!p->adaptive_wait)
        return p->max_wait_ms;
    return (int)((double)p->max_wait_ms * p->busy + 0.5);
}

/* note_busy folds one batch (busy_ns of classification after idle_ns of
 * waiting for it) into p->busy. */
static void note_busy(app_pipeline_t *p, int64_t busy_ns, int64_t idle_ns)
{
    double total = (double)(busy_ns + idle_ns);
    if (total > 0)
        p->busy += 0.2 * ((double)busy_ns / total - p->busy);
}

static void *classify_main(void *arg)
{
    app_pipeline_t *p = arg;
    core_item_t **items = core_calloc(p->batch, sizeof *items);
    int64_t idle_from = core_time_mono_ns();

    if (!items) {
        CORE_ERROR(MOD, "classify thread: out of memory");
        core_queue_close(p->in_q);
    }
    for (;;) {
        size_t n = 0, k = 0;
        int64_t t0, call_ms;
        cbatch *cb;
        core_err_t rc;

        if (!items)
            break;
        call_ms = core_time_now_ms();
        rc = core_queue_pop_batch(p->in_q, (void **)items, p->batch, &n, 250, batch_wait_ms(p));
        if (rc == CORE_ECLOSED)
            break;
        if (rc != CORE_OK) {
            note_busy(p, 0, core_time_mono_ns() - idle_from);
            idle_from = core_time_mono_ns();
            continue;
        }
        t0 = core_time_mono_ns();
        observe_wait(p, items, n, call_ms, core_time_now_ms());
        cb = core_malloc(sizeof *cb + n * sizeof cb->t[0]);
        if (!cb) {
            CORE_ERROR(MOD, "out of memory for a batch of %zu; replayed later", n);
            for (size_t i = 0; i < n; i++)
                drop_item(p, items[i]);
            continue;
        }
        /* Entities, then the tagged wrappers (which take the items). */
        for (size_t i = 0; i < n; i++) {
            core_item_t *it = items[i];
            if (it->utf8_repaired || it->id_hashed)
                count_repaired(p, it);
            if ((p->cashtags && core_item_add_cashtags(it) != CORE_OK) ||
                (p->watchlist && core_watchlist_match(p->watchlist, it) != CORE_OK) ||
                core_tagged_new(it, &cb->t[k]) != CORE_OK) {
                /* Out of memory: leave it unacknowledged; replayed later. */
                CORE_ERROR(MOD, "out of memory preparing item %s; it will be replayed",
                           it->id ? it->id : "?");
                drop_item(p, it);
                continue;
            }
            k++;
        }
        cb->n = k;
        rc = k > 0 ? cls_classifier_tag(p->cls, cb->t, k) : CORE_OK; /* none left: no error */
        cb->classified_ns = core_time_mono_ns();
        note_busy(p, cb->classified_ns - t0, t0 - idle_from);
        idle_from = cb->classified_ns;
        core_histogram_observe(p->m_classify_s, (double)(cb->classified_ns - t0) / 1e9);
        core_histogram_observe(p->m_batch, (double)k);
        if (rc != CORE_OK) {
            /* Not a property of the input (the tokenizer takes any bytes), so
             * no item is blamed: they go back unacknowledged. */
            CORE_ERROR(MOD, "classifier failed on a batch of %zu: %s; replayed on restart", k,
                       core_strerror(rc));
            for (size_t i = 0; i < k; i++)
                drop_tagged(p, cb->t[i]);
            core_free(cb);
            continue;
        }
        core_counter_add(p->m_classified, k);
        for (size_t i = 0; i < k; i++)
            core_histogram_observe(p->m_stage[STAGE_CLASSIFY],
                                   (double)(cb->classified_ns - t0) / 1e9);
        if (k == 0) {
            core_free(cb);
            continue;
        }
        atomic_fetch_add(&p->tagged_items, (long)k);
        if (core_queue_push(p->tagged_q, cb, -1) != CORE_OK) {
            atomic_fetch_sub(&p->tagged_items, (long)k);
            for (size_t i = 0; i < k; i++)
                drop_tagged(p, cb->t[i]); /* closed early: hard stop */
            core_free(cb);
        }
    }
    core_free(items);
    core_queue_close(p->tagged_q);
    return NULL;
}

/* ---- Redis thread ------------------------------------------------------ */

typedef struct delivery {
    app_pipeline_t *p;
    core_tagged_t *t;
    int64_t written_ns; /* the counts went into Redis (core_time_mono_ns) */
} delivery;

/* output_too_large: the tagged output of an item is larger than Kafka
 * takes. Its counts are in Redis; retrying cannot help, and leaving it
 * unacknowledged would stall its partition and re-send everything behind it
 * after every restart. So it is acknowledged, counted and logged. */
static void output_too_large(app_pipeline_t *p, core_tagged_t *t, const char *errstr)
{
    CORE_ERROR(MOD, "output of item %.200s dropped: larger than Kafka takes (%s); acknowledged, "
                    "its counts are in Redis",
               t->item->id ? t->item->id : "?", errstr ? errstr : "message too large");
    core_counter_add(core_metrics_counter(p->metrics, "finsent_output_dropped_total",
                                          "reason=\"too_large\"",
                                          "tagged outputs not produced, by reason (the item is "
                                          "acknowledged)"),
                     1);
    ack_item(p, t->item, CORE_ETOO_LARGE);
    core_counter_add(p->m_out, 1);
}

static void on_delivered(void *opaque, core_err_t status, const char *errstr)
{
    delivery *d = opaque;
    if (status == CORE_OK) {
        ack_item(d->p, d->t->item, CORE_OK);
        core_counter_add(d->p->m_out, 1);
        core_histogram_observe(d->p->m_stage[STAGE_ACK],
                               (double)(core_time_mono_ns() - d->written_ns) / 1e9);
    } else if (status == CORE_ETOO_LARGE) {
        output_too_large(d->p, d->t, errstr);
    } else {
        /* Left unacknowledged: the message is replayed after a restart, its
         * counts deduplicated, and the output produced again. */
        CORE_ERROR(MOD, "output of item %s failed: %s; not acknowledged",
                   d->t->item->id ? d->t->item->id : "?", errstr ? errstr : "");
        atomic_fetch_add(&d->p->finished, 1);
        atomic_fetch_add(&d->p->dropped, 1);
    }
    core_tagged_free(d->t);
    core_free(d);
}

static void emit(app_pipeline_t *p, core_tagged_t *t, int64_t now, int64_t written_ns)
{
    char *json = NULL;
    size_t len = 0;
    const core_item_t *it = t->item;

    core_histogram_observe(p->m_e2e_ingest, (double)(now - it->ingest_ms) / 1000.0);
    core_histogram_observe(
        p->m_e2e_event,
        (double)(now - (core_item_event_known(it) ? it->event_ms : it->ingest_ms)) / 1000.0);
    if ((p->to_stdout || p->kafka_output) && core_msg_encode_tagged(t, &json, &len) != CORE_OK) {
        CORE_ERROR(MOD, "out of memory encoding item %s; replayed later", it->id);
        drop_tagged(p, t);
        return;
    }
    if (p->to_stdout) {
        pthread_mutex_lock(&p->out_mu);
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        pthread_mutex_unlock(&p->out_mu);
    }
    if (p->kafka_output) {
        delivery *d = core_malloc(sizeof *d);
        core_err_t rc = CORE_ENOMEM;
        if (d) {
            d->p = p;
            d->t = t;
            d->written_ns = written_ns;
            while ((rc = ing_kafka_produce(p->kafka, it->id, strlen(it->id), json, len,
                                           on_delivered, d)) == CORE_EFULL)
                usleep(10000);
        }
        if (rc == CORE_ETOO_LARGE) {
            core_free(d);
            output_too_large(p, t, "the producer's message.max.bytes");
            core_tagged_free(t);
        } else if (rc != CORE_OK) {
            CORE_ERROR(MOD, "output of item %s failed: %s; not acknowledged", it->id,
                       core_strerror(rc));
            core_free(d);
            drop_tagged(p, t);
        }
        core_free(json);
        return;
    }
    core_free(json);
    ack_item(p, t->item, CORE_OK);
    core_counter_add(p->m_out, 1);
    core_histogram_observe(p->m_stage[STAGE_ACK], (double)(core_time_mono_ns() - written_ns) / 1e9);
    core_tagged_free(t);
}

static void *redis_main(void *arg)
{
    app_pipeline_t *p = arg;
    size_t max_rec = p->batch < REDIS_BATCH ? REDIS_BATCH / p->batch : 1;
    cbatch **recs = core_calloc(max_rec, sizeof *recs);
    core_tagged_t **batch = core_calloc(max_rec * p->batch, sizeof *batch);

    if (!recs || !batch) {
        /* Nothing can be written: what comes is dropped unacknowledged
         * (replayed after a restart) rather than blocking the stages. */
        CORE_ERROR(MOD, "Redis thread: out of memory");
        atomic_store(&p->redis_ok, 0);
    }
    for (;;) {
        size_t nrec = 0, n = 0;
        core_err_t rc;
        alr_sink_t *old = NULL;
        int64_t taken_ns, t0;

        if (!recs || !batch)
            break;
        rc = core_queue_pop_batch(p->tagged_q, (void **)recs, max_rec, &nrec, 250, 0);
        taken_ns = core_time_mono_ns();
        for (size_t r = 0; r < nrec; r++) {
            for (size_t i = 0; i < recs[r]->n; i++) {
                batch[n++] = recs[r]->t[i];
                core_histogram_observe(p->m_stage[STAGE_HANDOFF],
                                       (double)(taken_ns - recs[r]->classified_ns) / 1e9);
            }
            core_free(recs[r]);
        }
        atomic_fetch_sub(&p->tagged_items, (long)n);

        /* A reload swaps the sink between batches, so no item is in a
         * half-done write of the old one. */
        pthread_mutex_lock(&p->sink_mu);
        if (p->next_sink) {
            old = p->sink;
            p->sink = p->next_sink;
            p->next_sink = NULL;
        }
        pthread_mutex_unlock(&p->sink_mu);
        if (old) {
            alr_sink_free(old);
            CORE_INFO(MOD, "reload: new alert rules in effect");
        }

        if (rc == CORE_ECLOSED)
            break;
        if (rc == CORE_OK) {
            t0 = core_time_mono_ns();
            rc = alr_sink_write(p->sink, batch, n, NULL); /* outcomes go to metrics */
            if (rc != CORE_OK) {
                /* Cancelled (stop past the grace period) or out of memory:
                 * nothing of this batch is acknowledged. */
                CORE_WARN(MOD, "Redis write of %zu items not completed (%s); they will be "
                               "replayed",
                          n, core_strerror(rc));
                for (size_t i = 0; i < n; i++)
                    drop_tagged(p, batch[i]);
                atomic_store(&p->redis_ok, 0);
                continue;
            }
            atomic_store(&p->redis_ok, 1);
            atomic_store(&p->tick_wanted, 1);
            int64_t now = core_time_now_ms(), written_ns = core_time_mono_ns();
            for (size_t i = 0; i < n; i++) {
                core_histogram_observe(p->m_stage[STAGE_REDIS], (double)(written_ns - t0) / 1e9);
                emit(p, batch[i], now, written_ns);
            }
        }
    }
    /* Drain what is left, unacknowledged: nothing after a normal stop;
     * after out of memory above, everything the classify thread still
     * pushes, until it closes the queue (freed and counted as dropped, not
     * left in the queue, and the stages do not block). */
    for (;;) {
        void *r;
        core_err_t e = core_queue_pop(p->tagged_q, &r, 250);
        if (e == CORE_ETIMEOUT)
            continue;
        if (e != CORE_OK)
            break;
        for (size_t i = 0; i < ((cbatch *)r)->n; i++)
            drop_tagged(p, ((cbatch *)r)->t[i]);
        atomic_fetch_sub(&p->tagged_items, (long)((cbatch *)r)->n);
        core_free(r);
    }
    core_free(recs);
    core_free(batch);
    return NULL;
}

static void *tick_main(void *arg)
{
    app_pipeline_t *p = arg;
    int64_t last = core_time_mono_ms();

    while (!atomic_load(&p->tick_stop)) {
        alr_sink_t *old = NULL;
        int64_t t0;
        core_err_t rc;

        /* every TICK_MS, or sooner once items were counted and the refresh
         * interval has passed (the write path leaves the rates to us) */
        while (!atomic_load(&p->tick_stop)) {
            int64_t since = core_time_mono_ms() - last;
            if (since >= TICK_MS ||
                (since >= ALR_SINK_REFRESH_MS && atomic_load(&p->tick_wanted)))
                break;
            usleep(50000);
        }
        last = core_time_mono_ms();
        atomic_store(&p->tick_wanted, 0);
        if (atomic_load(&p->tick_stop))
            break;
        pthread_mutex_lock(&p->sink_mu);
        if (p->next_tick_sink) {
            old = p->tick_sink;
            p->tick_sink = p->next_tick_sink;
            p->next_tick_sink = NULL;
        }
        pthread_mutex_unlock(&p->sink_mu);
        alr_sink_free(old);
        t0 = core_time_mono_ns();
        rc = alr_sink_tick(p->tick_sink, NULL, NULL);
        core_histogram_observe(p->m_tick_s, (double)(core_time_mono_ns() - t0) / 1e9);
        /* The tick also keeps /healthz honest while no items flow. */
        if (rc == CORE_OK) {
            atomic_store(&p->redis_ok, 1);
        } else if (rc != CORE_ECLOSED) {
            atomic_store(&p->redis_ok, 0);
            CORE_DEBUG(MOD, "rate refresh failed: %s", alr_sink_error(p->tick_sink));
        }
    }
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

core_err_t app_pipeline_start(app_pipeline_t *p, char *err, size_t errlen)
{
    core_err_t rc;

    rc = alr_sink_connect(p->sink);
    if (rc == CORE_EAUTH || rc == CORE_ECONFIG) {
        /* Wrong credentials, a certificate that does not verify or TLS
         * files that do not load do not fix themselves: fail at start,
         * clearly. (At run time a refusal is retried and /healthz is
         * degraded.) */
        core_err_set(err, errlen, "%s (check %s)", alr_sink_error(p->sink),
                     core_config_bool(p->cfg, CORE_CFG_REDIS_TLS)
                         ? "redis.user, redis.password and the redis.tls* settings"
                         : "redis.user and redis.password");
        return rc;
    }
    if (rc != CORE_OK)
        CORE_WARN(MOD, "Redis not reachable yet (%s); items wait until it is",
                  alr_sink_error(p->sink));
    if (pthread_create(&p->redis_th, NULL, redis_main, p) != 0)
        goto thread_fail;
    p->redis_started = 1;
    if (pthread_create(&p->classify_th, NULL, classify_main, p) != 0)
        goto thread_fail;
    p->classify_started = 1;
    if (pthread_create(&p->tick_th, NULL, tick_main, p) != 0)
        goto thread_fail;
    p->tick_started = 1;
    if (p->kafka && (rc = ing_kafka_start(p->kafka, err, errlen)) != CORE_OK)
        return rc;
    if (p->rss && (rc = ing_rss_start(p->rss, err, errlen)) != CORE_OK)
        return rc;
    if (p->jsonl_path) {
        if (pthread_create(&p->jsonl_th, NULL, jsonl_main, p) != 0)
            goto thread_fail;
        p->jsonl_started = 1;
    }
    return CORE_OK;
thread_fail:
    core_err_set(err, errlen, "cannot start a thread: %s", strerror(errno));
    return CORE_EINTERNAL;
}

int app_pipeline_finished(app_pipeline_t *p)
{
    /* Only a pipeline fed by a file alone ends by itself, once everything
     * it accepted has been processed. */
    return !p->kafka && !p->rss && p->jsonl_path && atomic_load(&p->jsonl_done) &&
           atomic_load(&p->finished) >= atomic_load(&p->accepted);
}

static int64_t left_ms(int64_t deadline)
{
    int64_t l = deadline - core_time_mono_ms();
    return l > 0 ? l : 0;
}

/* Joins th unless the deadline passes first; then cancels Redis writes
 * (which unblocks the Redis thread) and joins. */
static void join_by(app_pipeline_t *p, pthread_t th, int64_t deadline)
{
    struct timespec ts;
    int64_t ms;
    for (;;) {
        ms = left_ms(deadline);
        if (ms > 200)
            ms = 200;
        ts = core_time_deadline(CLOCK_REALTIME, ms);
        if (pthread_timedjoin_np(th, NULL, &ts) == 0)
            return;
        if (left_ms(deadline) == 0)
            break;
    }
    CORE_WARN(MOD, "grace period over: abandoning in-flight items (they will be replayed)");
    pthread_mutex_lock(&p->sink_mu);
    alr_sink_cancel(p->sink);
    if (p->next_sink)
        alr_sink_cancel(p->next_sink);
    pthread_mutex_unlock(&p->sink_mu);
    core_queue_close(p->tagged_q);
    pthread_join(th, NULL);
}

size_t app_pipeline_stop(app_pipeline_t *p, int64_t grace_ms)
{
    int64_t deadline = core_time_mono_ms() + grace_ms;

    atomic_store(&p->stop_sources, 1);
    if (p->jsonl_started) {
        pthread_join(p->jsonl_th, NULL);
        p->jsonl_started = 0;
    }
    if (p->kafka)
        ing_kafka_stop(p->kafka, left_ms(deadline)); /* waits for acks, commits */
    if (p->rss)
        ing_rss_stop(p->rss, left_ms(deadline)); /* waits for acks, saves seen set */
    core_queue_close(p->in_q);
    if (p->classify_started) {
        join_by(p, p->classify_th, deadline);
        p->classify_started = 0;
    }
    if (p->redis_started) {
        join_by(p, p->redis_th, deadline);
        p->redis_started = 0;
    }
    if (p->tick_started) {
        atomic_store(&p->tick_stop, 1);
        pthread_mutex_lock(&p->sink_mu);
        alr_sink_cancel(p->tick_sink); /* cuts a tick in progress short */
        pthread_mutex_unlock(&p->sink_mu);
        pthread_join(p->tick_th, NULL);
        p->tick_started = 0;
    }
    /* Items still queued after a hard stop are dropped unacknowledged. */
    for (;;) {
        void *it;
        if (core_queue_pop(p->in_q, &it, 0) != CORE_OK)
            break;
        drop_item(p, it);
    }
    return (size_t)atomic_load(&p->dropped);
}

void app_pipeline_free(app_pipeline_t *p)
{
    if (!p)
        return;
    if (p->classify_started || p->redis_started || p->jsonl_started || p->tick_started)
        app_pipeline_stop(p, 0);
    ing_kafka_free(p->kafka);
    ing_rss_free(p->rss);
    alr_sink_free(p->sink);
    alr_sink_free(p->next_sink);
    alr_sink_free(p->tick_sink);
    alr_sink_free(p->next_tick_sink);
    for (size_t i = 0; i < p->n_old_cfgs; i++)
        core_config_free(p->old_cfgs[i]);
    core_free(p->old_cfgs);
    pthread_mutex_destroy(&p->sink_mu);
    cls_classifier_free(p->cls);
    core_watchlist_free(p->watchlist);
    core_queue_free(p->in_q);
    core_queue_free(p->tagged_q);
    core_free(p->jsonl_path);
    pthread_mutex_destroy(&p->out_mu);
    core_free(p);
}

void app_pipeline_tick(app_pipeline_t *p)
{
    core_gauge_set(p->m_in_depth, (double)core_queue_depth(p->in_q));
    core_gauge_set(p->m_tagged_depth, (double)atomic_load(&p->tagged_items));
}

/* rss_health: counts of feeds failing and empty, and the feeds that have
 * been failing or empty for rss.unhealthy_polls polls in a row (the first
 * HEALTH_FEEDS_MAX of them; "more" counts the rest). A dead feed does not
 * make finsent unhealthy: the other sources go on. */
#define HEALTH_FEEDS_MAX 40
static json_t *rss_health(app_pipeline_t *p)
{
    size_t cap = ing_rss_health(p->rss, NULL, 0), nf = 0, bad = 0, empty = 0, listed = 0,
           more = 0;
    ing_rss_feed_health_t *fh = cap ? core_calloc(cap, sizeof *fh) : NULL;
    json_t *att = json_array();

    if (fh) { /* the list may have changed in between (reload): take what fits */
        nf = ing_rss_health(p->rss, fh, cap);
        if (nf > cap)
            nf = cap;
    }
    for (size_t i = 0; fh && i < nf; i++) {
        int failing = !fh[i].ok && fh[i].fetches > 0;
        int is_empty = fh[i].ok && fh[i].empty_polls > 0;
        bad += failing;
        empty += is_empty;
        if ((failing && fh[i].failures >= p->unhealthy_polls) ||
            (is_empty && fh[i].empty_polls >= p->unhealthy_polls)) {
            if (listed++ >= HEALTH_FEEDS_MAX) {
                more++;
                continue;
            }
            json_array_append_new(
                att, json_pack("{s:s,s:s,s:i,s:s}", "feed", fh[i].name, "state",
                               failing ? "failing" : "empty", "polls",
                               failing ? fh[i].failures : fh[i].empty_polls, "error",
                               failing ? fh[i].last_error : "the document yields no item"));
        }
    }
    core_free(fh);
    return json_pack("{s:I,s:I,s:I,s:o,s:I}", "feeds", (json_int_t)nf, "failing", (json_int_t)bad,
                     "empty", (json_int_t)empty, "attention", att, "more", (json_int_t)more);
}

int app_pipeline_health(app_pipeline_t *p, char *buf, size_t cap)
{
    int redis = atomic_load(&p->redis_ok), kafka_ok = 1;
    json_t *o = json_object();
    char *s;

    /* jansson escapes the model id (a directory name may hold anything). */
    json_object_set_new(
        o, "model",
        json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "id", cls_classifier_model_id(p->cls), "precision",
                  cls_precision_name(cls_classifier_precision(p->cls)), "kernels",
                  cls_classifier_kernels(p->cls)));
    {
        char primary[300];
        uint64_t failovers;
        pthread_mutex_lock(&p->sink_mu); /* the Redis thread swaps p->sink on a reload */
        failovers = alr_sink_primary(p->sink, primary, sizeof primary);
        pthread_mutex_unlock(&p->sink_mu);
        json_object_set_new(o, "redis", json_pack("{s:b,s:s,s:s,s:I}", "ok", redis, "error",
                                                  redis ? "" : "unavailable", "primary", primary,
                                                  "failovers", (json_int_t)failovers));
    }
    if (p->kafka) {
        ing_kafka_health_t h;
        ing_kafka_health(p->kafka, &h);
        kafka_ok = h.running && h.connected && !h.fatal;
        json_object_set_new(o, "kafka",
                            json_pack("{s:b,s:I,s:b,s:I,s:I}", "ok", kafka_ok, "assigned",
                                      (json_int_t)h.assigned, "paused", h.paused, "in_flight",
                                      (json_int_t)h.in_flight, "consumed",
                                      (json_int_t)h.consumed));
    }
    if (p->rss)
        json_object_set_new(o, "rss", rss_health(p));
    json_object_set_new(o, "queue", json_pack("{s:I,s:I}", "in",
                                              (json_int_t)core_queue_depth(p->in_q), "tagged",
                                              (json_int_t)atomic_load(&p->tagged_items)));
    json_object_set_new(o, "status", json_string(redis && kafka_ok ? "ok" : "degraded"));
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    snprintf(buf, cap, "%s\n", s ? s : "{\"status\":\"degraded\"}");
    core_free(s);
    json_decref(o);
    return redis && kafka_ok;
}

core_err_t app_pipeline_reload(app_pipeline_t *p, core_config_t *cfg, char *err, size_t errlen)
{
    alr_sink_t *sink = NULL, *tick = NULL;
    core_config_t **grown;
    core_err_t rc;

    if ((rc = alr_sink_new(cfg, p->metrics, &sink, err, errlen)) != CORE_OK ||
        (rc = alr_sink_new(cfg, p->metrics, &tick, err, errlen)) != CORE_OK)
        goto out;
    alr_sink_set_refresh_interval(sink, ALR_SINK_REFRESH_NEVER);
    if (p->rss && (rc = ing_rss_reload(p->rss, cfg, err, errlen)) != CORE_OK)
        goto out;
    grown = core_realloc(p->old_cfgs, (p->n_old_cfgs + 1) * sizeof *grown);
    if (!grown) {
        rc = CORE_ENOMEM;
        goto out;
    }
    p->old_cfgs = grown;
    p->old_cfgs[p->n_old_cfgs++] = cfg;
    pthread_mutex_lock(&p->sink_mu);
    alr_sink_free(p->next_sink); /* a reload that was never picked up */
    alr_sink_free(p->next_tick_sink);
    p->next_sink = sink;
    p->next_tick_sink = tick;
    sink = tick = NULL;
    pthread_mutex_unlock(&p->sink_mu);
out:
    alr_sink_free(sink);
    alr_sink_free(tick);
    return rc;
}
