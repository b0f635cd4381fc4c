/*
 * ing_kafka: see ing_kafka.h for the contract. This file is the librdkafka
 * adapter: it moves messages into items, tracks acks per partition with
 * ing_ktrack, and translates librdkafka errors into core_err_t and log lines.
 *
 * Locking: one mutex (k->mu) guards the partition records (their trackers,
 * assignment flags) and the health fields; the condition variable k->cv is
 * signalled on every ack so the consumer thread can wait for in-flight items
 * on revocation and at stop. librdkafka is never called with k->mu held
 * except rd_kafka_offsets_store-free paths, so an ack never waits on the
 * network. Partition records live until ing_kafka_free, so an item's
 * ack.ref stays valid across rebalances.
 */
#include "ingest/ing_kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_alloc.h"
#include "core/core_item.h"
#include "core/core_log.h"
#include "core/core_msg.h"
#include "core/core_time.h"
#include "ingest/ing_ktrack.h"

#define MOD "kafka"
/* Room kept in a dead letter for its headers (the error text is at most 512
 * bytes) and the protocol's per-message overhead. */
#define DLQ_OVERHEAD 2048
#define POLL_MS 100
#define HELD_POLL_MS 20

typedef struct kpart {
    char *topic;
    int32_t partition;
    int assigned;
    ing_ktrack_t track;
    int64_t stored;   /* last offset handed to rd_kafka_offsets_store; -1 none */
    size_t abandoned; /* pending offsets that will never be acked (dropped held items) */
    int consumed;     /* a message was consumed since the assignment (consumer thread) */
    int paused;       /* paused by us (consumer thread) */
    struct kpart *next;
} kpart;

typedef struct held {
    core_item_t *item;
    kpart *p;
    struct held *next;
} held;

/* opaque of a produced message: a dead-letter record or an output delivery. */
typedef struct dr_ref {
    kpart *p; /* dead letter: the partition to ack; NULL for output */
    int64_t offset;
    ing_kafka_delivery_fn cb;
    void *opaque;
} dr_ref;

struct ing_kafka {
    rd_kafka_t *rk;
    rd_kafka_t *prod;
    core_queue_t *q;
    core_metrics_t *metrics;
    char **topics;
    size_t ntopics;
    char dlq[256];
    size_t prod_max; /* the producer's message.max.bytes */
    char out_topic[256];
    core_msg_limits_t limits;
    int cashtags;
    int64_t commit_interval_ms;
    int64_t revoke_timeout_ms;

    pthread_t thr, pthr;
    int started, pstarted, stopped;
    atomic_int stop;      /* consumer thread: leave the loop */
    atomic_int pstop;     /* producer thread: leave the loop */
    atomic_int dirty;     /* some tracker moved: store offsets */
    atomic_int producing; /* ing_kafka_produce accepted (cleared at stop) */
    int64_t grace_deadline;
    int stopping; /* consumer thread only: revocations do not wait */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    kpart *parts;
    size_t in_flight; /* pending across partitions, held items included */
    size_t abandoned; /* of which never to be acked (sum of kpart.abandoned) */
    size_t assigned;
    int connected, fatal, paused;
    uint64_t consumed;
    int64_t last_message_ms;
    char last_error[256];

    held *hold_head, *hold_tail;
    size_t nheld;
    int queue_closed;

    core_counter_t *m_items, *m_acked, *m_failed, *m_rebalances, *m_commit_err, *m_dlq,
        *m_dlq_failed, *m_errors, *m_pauses, *m_produced, *m_produce_err;
    core_gauge_t *m_assigned, *m_paused, *m_in_flight;
};

static void note_error(ing_kafka_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_error(ing_kafka_t *k, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&k->mu);
    va_start(ap, fmt);
    vsnprintf(k->last_error, sizeof k->last_error, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&k->mu);
}

/* ---- metrics --------------------------------------------------------------- */

static void metrics_init(ing_kafka_t *k)
{
    core_metrics_t *m = k->metrics;
    const char *src = "source=\"kafka\"";
    if (!m)
        return;
    k->m_items = core_metrics_counter(m, "finsent_ingest_items_total", src,
                                      "items handed to the pipeline, by source");
    k->m_acked = core_metrics_counter(m, "finsent_ingest_acked_total", src,
                                      "items acknowledged by the pipeline, by source");
    k->m_failed = core_metrics_counter(m, "finsent_ingest_ack_failed_total", src,
                                       "items the pipeline gave up (acknowledged with an error)");
    k->m_rebalances = core_metrics_counter(m, "finsent_kafka_rebalances_total", NULL,
                                           "consumer group rebalances (assign and revoke)");
    k->m_commit_err =
        core_metrics_counter(m, "finsent_kafka_commit_errors_total", NULL, "failed offset commits");
    k->m_dlq = core_metrics_counter(m, "finsent_kafka_dead_letter_total", NULL,
                                    "messages produced to the dead-letter topic");
    k->m_dlq_failed = core_metrics_counter(m, "finsent_kafka_dead_letter_failed_total", NULL,
                                           "dead-letter deliveries that failed");
    k->m_errors = core_metrics_counter(m, "finsent_kafka_errors_total", NULL,
                                       "consumer errors reported by librdkafka");
    k->m_pauses =
        core_metrics_counter(m, "finsent_kafka_pauses_total", NULL,
                             "times the partitions were paused because the queue was full");
    k->m_produced = core_metrics_counter(m, "finsent_kafka_output_total", NULL,
                                         "tagged items delivered to the output topic");
    k->m_produce_err = core_metrics_counter(m, "finsent_kafka_output_errors_total", NULL,
                                            "tagged items the output topic did not take");
    k->m_assigned = core_metrics_gauge(m, "finsent_kafka_assigned_partitions", NULL,
                                       "partitions assigned to this consumer");
    k->m_paused = core_metrics_gauge(m, "finsent_kafka_paused", NULL,
                                     "1 while partitions are paused by backpressure");
    k->m_in_flight = core_metrics_gauge(m, "finsent_kafka_in_flight", NULL,
                                        "items handed out and not yet acknowledged");
}

static void count_bad(ing_kafka_t *k, const char *reason)
{
    char labels[128];
    if (!k->metrics)
        return;
    snprintf(labels, sizeof labels, "source=\"kafka\",reason=\"%s\"", reason);
    core_counter_add(core_metrics_counter(k->metrics, "finsent_ingest_bad_total", labels,
                                          "messages rejected by reason, by source"),
                     1);
}

/* ---- partition records (k->mu held) --------------------------------------- */

static kpart *part_find(ing_kafka_t *k, const char *topic, int32_t partition, int create)
{
    kpart *p;
    for (p = k->parts; p; p = p->next)
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    if (!create)
        return NULL;
    p = core_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->topic = core_strdup(topic);
    if (!p->topic) {
        core_free(p);
        return NULL;
    }
    p->partition = partition;
    p->stored = -1;
    ing_ktrack_init(&p->track);
    p->next = k->parts;
    k->parts = p;
    return p;
}

static void ack_offset_locked(ing_kafka_t *k, kpart *p, int64_t offset)
{
    if (ing_ktrack_ack(&p->track, offset)) {
        k->in_flight--;
        atomic_store(&k->dirty, 1);
        pthread_cond_broadcast(&k->cv);
    }
}

/* abandon_locked: the item of a pending offset was freed without an ack (it
 * will be redelivered); the offset keeps blocking the store position, but
 * nobody waits for it. */
static void abandon_locked(ing_kafka_t *k, kpart *p)
{
    p->abandoned++;
    k->abandoned++;
    pthread_cond_broadcast(&k->cv);
}

/* part_reset_locked forgets the partition's pending offsets. */
static void part_reset_locked(ing_kafka_t *k, kpart *p)
{
    size_t pend = ing_ktrack_pending(&p->track);
    k->in_flight -= pend > k->in_flight ? k->in_flight : pend;
    k->abandoned -= p->abandoned > k->abandoned ? k->abandoned : p->abandoned;
    p->abandoned = 0;
    ing_ktrack_clear(&p->track);
    p->stored = -1;
}

/* ---- the ack callback (any thread) ------------------------------------------ */

static void item_ack(void *ctx, const core_item_t *item, core_err_t status)
{
    ing_kafka_t *k = ctx;
    kpart *p = item->ack.ref;

    core_counter_add(status == CORE_OK ? k->m_acked : k->m_failed, 1);
    pthread_mutex_lock(&k->mu);
    ack_offset_locked(k, p, item->ack.seq);
    core_gauge_set(k->m_in_flight, (double)k->in_flight);
    pthread_mutex_unlock(&k->mu);
}

/* ---- librdkafka callbacks ------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    core_log_level_t l = level <= 2   ? CORE_LOG_ERROR
                         : level <= 4 ? CORE_LOG_WARN
                         : level <= 6 ? CORE_LOG_INFO
                                      : CORE_LOG_DEBUG;
    core_log(l, MOD, "librdkafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ing_kafka_t *k = opaque;
    rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;

    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        CORE_ERROR(MOD, "fatal error: %s", why);
        pthread_mutex_lock(&k->mu);
        k->fatal = 1;
        snprintf(k->last_error, sizeof k->last_error, "fatal: %s", why);
        pthread_mutex_unlock(&k->mu);
        return;
    }
    core_counter_add(k->m_errors, 1);
    pthread_mutex_lock(&k->mu);
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        k->connected = 0;
    snprintf(k->last_error, sizeof k->last_error, "%s: %s", rd_kafka_err2name(e), reason);
    pthread_mutex_unlock(&k->mu);
    CORE_WARN(MOD, "%s: %s", rd_kafka_err2name(e), reason);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    ing_kafka_t *k = opaque;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    core_counter_add(k->m_commit_err, 1);
    note_error(k, "commit: %s", rd_kafka_err2str(err));
    CORE_WARN(MOD, "offset commit failed: %s (retried at the next commit)", rd_kafka_err2str(err));
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ing_kafka_t *k = opaque;
    dr_ref *r = m->_private;

    if (!r)
        return;
    if (r->p) { /* dead letter: the source offset is done either way */
        if (m->err) {
            core_counter_add(k->m_dlq_failed, 1);
            CORE_ERROR(
                MOD, "dead-letter delivery of %s [%d] @%lld failed: %s; offset stored anyway",
                r->p->topic, (int)r->p->partition, (long long)r->offset, rd_kafka_err2str(m->err));
        } else {
            core_counter_add(k->m_dlq, 1);
        }
        pthread_mutex_lock(&k->mu);
        ack_offset_locked(k, r->p, r->offset);
        pthread_mutex_unlock(&k->mu);
    } else {
        core_counter_add(m->err ? k->m_produce_err : k->m_produced, 1);
        if (r->cb)
            r->cb(r->opaque,
                  !m->err                                            ? CORE_OK
                  : m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? CORE_ETOO_LARGE
                                                                     : CORE_EKAFKA,
                  m->err ? rd_kafka_err2str(m->err) : "");
    }
    core_free(r);
}

/* ---- offsets ------------------------------------------------------------- */

/* store_offsets hands every tracker's new store position to librdkafka. When
 * only is non-NULL, only those partitions. Consumer thread. */
static void store_offsets(ing_kafka_t *k, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);

    atomic_store(&k->dirty, 0);
    pthread_mutex_lock(&k->mu);
    for (kpart *p = k->parts; p; p = p->next) {
        if (!p->assigned || p->track.store_pos < 0 || p->track.store_pos == p->stored)
            continue;
        if (only && !rd_kafka_topic_partition_list_find(only, p->topic, p->partition))
            continue;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
            p->track.store_pos;
        p->stored = p->track.store_pos;
    }
    pthread_mutex_unlock(&k->mu);
    if (list->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(k->rk, list);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            CORE_DEBUG(MOD, "offsets_store: %s", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void commit_sync(ing_kafka_t *k, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t e;

    (void)parts;
    e = rd_kafka_commit(k->rk, NULL, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        core_counter_add(k->m_commit_err, 1);
        note_error(k, "commit: %s", rd_kafka_err2str(e));
        CORE_WARN(MOD, "synchronous offset commit failed: %s", rd_kafka_err2str(e));
    }
}

/* ---- held items (consumer thread) -------------------------------------- */

/* Pausing: librdkafka purges a paused partition's fetch queue and, on
 * resume, fetches from the position after the last message the application
 * consumed. For a partition with nothing consumed since its assignment it
 * has no such position and keeps whatever start position it had, which we
 * do not control. So only partitions with a consumed message are paused;
 * another partition is paused when its first message arrives (that message
 * is held). Each partition is paused and resumed once per episode (repeated
 * pause calls are avoided). Every pause costs a refetch on resume, so the
 * pipeline's queue should be much larger than a fetch batch. */
static void pause_one(ing_kafka_t *k, kpart *p, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause)
        rd_kafka_pause_partitions(k->rk, l);
    else
        rd_kafka_resume_partitions(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->paused = pause;
}

static void set_paused(ing_kafka_t *k, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);

    pthread_mutex_lock(&k->mu);
    for (kpart *p = k->parts; p; p = p->next) {
        if (pause && p->assigned && p->consumed && !p->paused) {
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
            p->paused = 1;
        } else if (!pause && p->paused) {
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
            p->paused = 0;
        }
    }
    if (pause && !k->paused)
        core_counter_add(k->m_pauses, 1);
    k->paused = pause;
    pthread_mutex_unlock(&k->mu);
    if (l->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(k->rk, l);
        else
            rd_kafka_resume_partitions(k->rk, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
    core_gauge_set(k->m_paused, pause);
    if (pause)
        CORE_DEBUG(MOD, "queue full: partitions paused");
    else
        CORE_DEBUG(MOD, "queue drained: partitions resumed");
}

static void hold(ing_kafka_t *k, core_item_t *item, kpart *p)
{
    held *h = core_malloc(sizeof *h);
    if (!h) {
        /* Cannot keep it: give the message up for redelivery by leaving its
         * offset pending; the partition blocks at it until revocation/stop. */
        CORE_ERROR(MOD, "out of memory holding item %s; it will be redelivered", item->id);
        core_item_free(item);
        pthread_mutex_lock(&k->mu);
        abandon_locked(k, p);
        pthread_mutex_unlock(&k->mu);
        return;
    }
    h->item = item;
    h->p = p;
    h->next = NULL;
    if (k->hold_tail)
        k->hold_tail->next = h;
    else
        k->hold_head = h;
    k->hold_tail = h;
    k->nheld++;
}

/* drop_held frees held items (of partitions in only, or all when NULL)
 * without acknowledging them: they are fetched again by whoever owns the
 * partition next. */
static void drop_held(ing_kafka_t *k, const rd_kafka_topic_partition_list_t *only)
{
    held **pp = &k->hold_head;
    k->hold_tail = NULL;
    while (*pp) {
        held *h = *pp;
        if (!only || rd_kafka_topic_partition_list_find(only, h->p->topic, h->p->partition)) {
            *pp = h->next;
            core_item_free(h->item);
            pthread_mutex_lock(&k->mu);
            abandon_locked(k, h->p);
            pthread_mutex_unlock(&k->mu);
            core_free(h);
            k->nheld--;
        } else {
            k->hold_tail = h;
            pp = &h->next;
        }
    }
}

/* push_held pushes held items in order until the queue is full again. */
static void push_held(ing_kafka_t *k)
{
    while (k->hold_head && !k->queue_closed) {
        held *h = k->hold_head;
        core_err_t rc = core_queue_push(k->q, h->item, 0);
        if (rc == CORE_ETIMEOUT)
            return;
        if (rc == CORE_ECLOSED) {
            k->queue_closed = 1;
            return;
        }
        core_counter_add(k->m_items, 1);
        k->hold_head = h->next;
        if (!k->hold_head)
            k->hold_tail = NULL;
        core_free(h);
        k->nheld--;
    }
}

/* ---- rebalance (consumer thread, from rd_kafka_consumer_poll) -------------- */

static size_t pending_of(ing_kafka_t *k, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = 0;
    for (kpart *p = k->parts; p; p = p->next)
        if (p->assigned && rd_kafka_topic_partition_list_find(parts, p->topic, p->partition))
            n += ing_ktrack_pending(&p->track) - p->abandoned;
    return n;
}

static void wait_acks(ing_kafka_t *k, const rd_kafka_topic_partition_list_t *parts,
                      int64_t deadline_mono)
{
    pthread_mutex_lock(&k->mu);
    for (;;) {
        size_t n = parts ? pending_of(k, parts) : k->in_flight - k->abandoned;
        int64_t now = core_time_mono_ms();
        if (n == 0 || now >= deadline_mono) {
            if (n > 0)
                CORE_WARN(MOD, "%zu item(s) still unacknowledged; they will be redelivered", n);
            break;
        }
        int64_t wait = deadline_mono - now;
        if (wait > 100)
            wait = 100; /* re-check periodically: dead-letter acks also signal */
        struct timespec ts = core_time_deadline(CLOCK_REALTIME, wait);
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
    }
    pthread_mutex_unlock(&k->mu);
}

static void on_assign(ing_kafka_t *k, rd_kafka_topic_partition_list_t *parts, int incremental)
{
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;

    pthread_mutex_lock(&k->mu);
    for (int i = 0; i < parts->cnt; i++) {
        kpart *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 1);
        if (!p) {
            CORE_ERROR(MOD, "out of memory tracking %s [%d]", parts->elems[i].topic,
                       (int)parts->elems[i].partition);
            continue;
        }
        part_reset_locked(k, p);
        p->consumed = 0;
        p->paused = 0;
        if (!p->assigned)
            k->assigned++;
        p->assigned = 1;
    }
    k->connected = 1;
    core_gauge_set(k->m_assigned, (double)k->assigned);
    pthread_mutex_unlock(&k->mu);
    if (incremental)
        e = rd_kafka_incremental_assign(k->rk, parts);
    else
        re = rd_kafka_assign(k->rk, parts);
    if (e) {
        CORE_ERROR(MOD, "incremental assign: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (re) {
        CORE_ERROR(MOD, "assign: %s", rd_kafka_err2str(re));
    }
    CORE_INFO(MOD, "assigned %d partition(s)", parts->cnt);
    /* New partitions start unpaused; while held items wait, each is paused
     * when its first message arrives (see pause_one). */
}

static void on_revoke(ing_kafka_t *k, rd_kafka_topic_partition_list_t *parts, int incremental,
                      int lost)
{
    drop_held(k, parts);
    if (!k->hold_head && k->paused)
        set_paused(k, 0); /* nothing held any more */
    if (!lost) {
        int64_t wait = k->stopping ? 0 : k->revoke_timeout_ms;
        int64_t deadline = core_time_mono_ms() + wait;
        if (k->stopping && k->grace_deadline > core_time_mono_ms())
            deadline = k->grace_deadline;
        wait_acks(k, parts, deadline);
        store_offsets(k, parts);
        commit_sync(k, parts);
    }
    pthread_mutex_lock(&k->mu);
    for (int i = 0; i < parts->cnt; i++) {
        kpart *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (!p || !p->assigned)
            continue;
        part_reset_locked(k, p);
        p->assigned = 0;
        p->consumed = 0;
        p->paused = 0;
        k->assigned--;
    }
    core_gauge_set(k->m_assigned, (double)k->assigned);
    core_gauge_set(k->m_in_flight, (double)k->in_flight);
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (incremental) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(k->rk, parts);
        if (e) {
            CORE_ERROR(MOD, "incremental unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(k->rk, NULL);
    }
    CORE_INFO(MOD, "%s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ing_kafka_t *k = opaque;
    int incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    core_counter_add(k->m_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(k, parts, incremental);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(k, parts, incremental, rd_kafka_assignment_lost(rk));
    } else {
        CORE_ERROR(MOD, "rebalance error: %s", rd_kafka_err2str(err));
        on_revoke(k, parts, 0, 1);
    }
}

/* ---- messages ------------------------------------------------------------- */

/* dead_letter produces m to the dead-letter topic with headers saying why.
 * A value the producer could not send (message.max.bytes, headers and key
 * included) is cut to fit and header finsent-truncated gives its original
 * length: a rejected message must reach the dead-letter topic and let its
 * offset be stored, never stall the partition. */
static void dead_letter(ing_kafka_t *k, kpart *p, const rd_kafka_message_t *m, const char *reason,
                        const char *why)
{
    char off[24], part[16], orig[24];
    dr_ref *r;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t e;
    size_t vlen = m->len, room;

    if (!k->dlq[0] || !k->prod)
        goto ack;
    r = core_calloc(1, sizeof *r);
    hdrs = rd_kafka_headers_new(5);
    if (!r || !hdrs) {
        core_free(r);
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        goto ack;
    }
    r->p = p;
    r->offset = m->offset;
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    snprintf(part, sizeof part, "%d", (int)m->partition);
    rd_kafka_header_add(hdrs, "finsent-reason", -1, reason, -1);
    rd_kafka_header_add(hdrs, "finsent-error", -1, why, -1);
    rd_kafka_header_add(hdrs, "finsent-topic", -1, p->topic, -1);
    rd_kafka_header_add(hdrs, "finsent-partition", -1, part, -1);
    rd_kafka_header_add(hdrs, "finsent-offset", -1, off, -1);
    room = k->prod_max > DLQ_OVERHEAD + m->key_len ? k->prod_max - DLQ_OVERHEAD - m->key_len : 0;
    if (m->payload && vlen > room) {
        snprintf(orig, sizeof orig, "%zu", m->len);
        rd_kafka_header_add(hdrs, "finsent-truncated", -1, orig, -1);
        vlen = room;
    }
    e = rd_kafka_producev(k->prod, RD_KAFKA_V_TOPIC(k->dlq),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, vlen),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return; /* the delivery report acks the offset; hdrs now owned by librdkafka */
    rd_kafka_headers_destroy(hdrs);
    core_free(r);
    core_counter_add(k->m_dlq_failed, 1);
    CORE_ERROR(MOD, "dead-letter produce of %s [%d] @%lld failed: %s", p->topic, (int)p->partition,
               (long long)m->offset, rd_kafka_err2str(e));
ack:
    pthread_mutex_lock(&k->mu);
    ack_offset_locked(k, p, m->offset);
    pthread_mutex_unlock(&k->mu);
}

static void handle_message(ing_kafka_t *k, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    core_item_t *item = NULL;
    char why[512];
    const char *reason = NULL;
    core_err_t rc;
    kpart *p;
    int64_t now = core_time_now_ms();

    pthread_mutex_lock(&k->mu);
    k->connected = 1;
    k->consumed++;
    k->last_message_ms = now;
    p = part_find(k, topic, m->partition, 0);
    rc = p && p->assigned ? ing_ktrack_add(&p->track, m->offset) : CORE_EINVAL;
    if (rc == CORE_EINVAL && p && p->assigned && p->track.n == 0) {
        /* The position went back with nothing in flight: librdkafka reset
         * it (offset out of range, topic recreated). Track from there. */
        CORE_WARN(MOD, "%s [%d]: offset went back to %lld; tracking from there", topic,
                  (int)m->partition, (long long)m->offset);
        ing_ktrack_clear(&p->track);
        p->stored = -1;
        rc = ing_ktrack_add(&p->track, m->offset);
    }
    if (rc == CORE_OK)
        k->in_flight++;
    core_gauge_set(k->m_in_flight, (double)k->in_flight);
    pthread_mutex_unlock(&k->mu);
    if (p)
        p->consumed = 1; /* librdkafka now has an application position for it */
    if (rc == CORE_ENOMEM) {
        /* Not tracked: the tracker stores no offset past it from now on, so
         * it is redelivered after a restart or rebalance. */
        CORE_ERROR(MOD,
                   "%s [%d] @%lld: out of memory tracking the offset; it will be "
                   "redelivered",
                   topic, (int)m->partition, (long long)m->offset);
        return;
    }
    if (rc != CORE_OK) {
        /* Not ours (a message of a partition being revoked) or a duplicate
         * delivery: skipping it loses nothing, its offset is not stored. */
        CORE_DEBUG(MOD, "skipping %s [%d] @%lld (%s)", topic, (int)m->partition,
                   (long long)m->offset, core_strerror(rc));
        return;
    }

    if (!m->payload) {
        reason = "NULL_VALUE";
        snprintf(why, sizeof why, "null value (tombstone)");
    } else if (m->len > k->limits.max_message_bytes) {
        reason = "TOO_LARGE";
        snprintf(why, sizeof why, "value of %zu bytes exceeds kafka.max_message_bytes (%zu)",
                 m->len, k->limits.max_message_bytes);
    } else {
        rc = core_msg_decode(m->payload, m->len, &k->limits, now, &item, why, sizeof why);
        if (rc == CORE_ENOMEM) {
            /* Not the message's fault: never dead-lettered; its offset stays
             * pending, so it comes back after a restart. */
            CORE_ERROR(MOD, "%s [%d] @%lld: %s", topic, (int)m->partition, (long long)m->offset,
                       core_strerror(rc));
            pthread_mutex_lock(&k->mu);
            abandon_locked(k, p);
            pthread_mutex_unlock(&k->mu);
            return;
        }
        if (rc != CORE_OK)
            reason = core_errname(rc);
    }
    if (reason) {
        count_bad(k, reason);
        CORE_WARN(MOD, "bad message %s [%d] @%lld: %s: %s%s", topic, (int)m->partition,
                  (long long)m->offset, reason, why, k->dlq[0] ? " (dead-lettered)" : " (skipped)");
        dead_letter(k, p, m, reason, why);
        return;
    }

    rc = CORE_OK;
    if (!item->id) {
        char id[400];
        int n = snprintf(id, sizeof id, "kafka:%s:%d:%lld", topic, (int)m->partition,
                         (long long)m->offset);
        rc = core_item_set(item, &item->id, id, (size_t)n);
    }
    if (rc == CORE_OK && !item->source) {
        char src[300];
        int n = snprintf(src, sizeof src, "kafka:%s", topic);
        rc = core_item_set(item, &item->source, src, (size_t)n);
    }
    if (!core_item_event_known(item)) { /* no ts in the message; "ts": 0 is 1970 and kept */
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);
        item->event_ms = tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts > 0 ? ts : item->ingest_ms;
    }
    if (rc == CORE_OK && k->cashtags)
        rc = core_item_add_cashtags(item);
    if (rc != CORE_OK) {
        /* Out of memory: leave the offset pending so the message comes back
         * after a restart rather than being lost. */
        CORE_ERROR(MOD, "%s [%d] @%lld: %s", topic, (int)m->partition, (long long)m->offset,
                   core_strerror(rc));
        core_item_free(item);
        pthread_mutex_lock(&k->mu);
        abandon_locked(k, p);
        pthread_mutex_unlock(&k->mu);
        return;
    }
    item->ack.fn = item_ack;
    item->ack.ctx = k;
    item->ack.ref = p;
    item->ack.seq = m->offset;

    if (k->hold_head || k->queue_closed) {
        hold(k, item, p);
        if (!k->paused)
            set_paused(k, 1);
        else if (!p->paused)
            pause_one(k, p, 1);
        return;
    }
    rc = core_queue_push(k->q, item, 0);
    if (rc == CORE_OK) {
        core_counter_add(k->m_items, 1);
        return;
    }
    if (rc == CORE_ECLOSED)
        k->queue_closed = 1;
    hold(k, item, p);
    if (!k->paused)
        set_paused(k, 1);
    else if (!p->paused)
        pause_one(k, p, 1);
}

static void handle_error(ing_kafka_t *k, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    core_counter_add(k->m_errors, 1);
    note_error(k, "%s: %s", rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
    CORE_WARN(MOD, "consumer error%s%s: %s", m->rkt ? " on " : "",
              m->rkt ? rd_kafka_topic_name(m->rkt) : "", rd_kafka_message_errstr(m));
}

/* ---- threads ----------------------------------------------------------------- */

static void *consumer_main(void *arg)
{
    ing_kafka_t *k = arg;
    int64_t next_commit = core_time_mono_ms() + k->commit_interval_ms;
    int64_t next_probe = core_time_mono_ms() + 5000;

    while (!atomic_load(&k->stop)) {
        rd_kafka_message_t *m;
        /* After "all brokers down" nothing says they are back while the
         * topics are idle: probe with a metadata request every 5 s. */
        if (core_time_mono_ms() >= next_probe) {
            int connected;
            pthread_mutex_lock(&k->mu);
            connected = k->connected;
            pthread_mutex_unlock(&k->mu);
            if (!connected) {
                const struct rd_kafka_metadata *md = NULL;
                if (rd_kafka_metadata(k->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                    rd_kafka_metadata_destroy(md);
                    pthread_mutex_lock(&k->mu);
                    k->connected = 1;
                    pthread_mutex_unlock(&k->mu);
                }
            }
            next_probe = core_time_mono_ms() + 5000;
        }
        if (k->hold_head) {
            push_held(k);
            if (!k->hold_head)
                set_paused(k, 0);
        }
        m = rd_kafka_consumer_poll(k->rk, k->hold_head ? HELD_POLL_MS : POLL_MS);
        if (m) {
            if (m->err)
                handle_error(k, m);
            else
                handle_message(k, m);
            rd_kafka_message_destroy(m);
        }
        if (atomic_load(&k->dirty))
            store_offsets(k, NULL);
        if (core_time_mono_ms() >= next_commit) {
            rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, NULL, 1);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
                CORE_DEBUG(MOD, "commit: %s", rd_kafka_err2str(e));
            next_commit = core_time_mono_ms() + k->commit_interval_ms;
        }
    }

    /* Stop: nothing new is handed out; wait for what is in flight. */
    k->stopping = 1;
    drop_held(k, NULL);
    wait_acks(k, NULL, k->grace_deadline);
    store_offsets(k, NULL);
    commit_sync(k, NULL);
    {
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(k->rk);
        if (e)
            CORE_WARN(MOD, "consumer close: %s", rd_kafka_err2str(e));
    }
    return NULL;
}

static void *producer_main(void *arg)
{
    ing_kafka_t *k = arg;
    while (!atomic_load(&k->pstop))
        rd_kafka_poll(k->prod, POLL_MS);
    return NULL;
}

/* ---- construction ---------------------------------------------------------- */

static const char *const managed_props[] = {"bootstrap.servers", "metadata.broker.list", "group.id",
                                            "enable.auto.commit", "enable.auto.offset.store"};

static core_err_t conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           const char *origin, char *err, size_t errlen)
{
    char why[256];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, value, why, sizeof why);
    if (r == RD_KAFKA_CONF_OK)
        return CORE_OK;
    core_err_set(err, errlen, "[kafka] %s (%s): %s", key, origin, why);
    return CORE_ECONFIG;
}

/* build_conf makes a librdkafka configuration for the consumer (consumer=1)
 * or the producer. */
static core_err_t build_conf(ing_kafka_t *k, const core_config_t *cfg, int consumer,
                             rd_kafka_conf_t **out, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    core_err_t rc;
    size_t n = core_config_passthrough_count(cfg, "kafka");
    const char *brokers = core_config_str(cfg, CORE_CFG_KAFKA_BROKERS);

    *out = NULL;
    if (!conf)
        return CORE_ENOMEM;
    rc = conf_set(conf, "client.id", "finsent", "default", err, errlen);
    if (rc == CORE_OK && consumer)
        rc = conf_set(conf, "auto.offset.reset", "earliest", "default", err, errlen);
    /* A fetch must not hold messages back: fetch.min.bytes 1 makes a broker
     * answer as soon as it has one, and a short fetch.wait.max.ms bounds the
     * wait of brokers that do not cut a long poll short when data arrives
     * (librdkafka's mock cluster is one; its default is 500 ms). Both can
     * be overridden in [kafka]. */
    if (rc == CORE_OK && consumer)
        rc = conf_set(conf, "fetch.min.bytes", "1", "default", err, errlen);
    if (rc == CORE_OK && consumer)
        rc = conf_set(conf, "fetch.wait.max.ms", "100", "default", err, errlen);
    if (rc == CORE_OK && !consumer)
        rc = conf_set(conf, "acks", "all", "default", err, errlen);
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        const char *key, *value, *origin;
        core_config_passthrough(cfg, "kafka", i, &key, &value, &origin);
        for (size_t j = 0; j < sizeof managed_props / sizeof managed_props[0]; j++) {
            if (strcmp(key, managed_props[j]) == 0) {
                core_err_set(
                    err, errlen,
                    "[kafka] %s (%s): managed by finsent (use kafka.brokers / kafka.group; "
                    "offsets are stored on acknowledgement)",
                    key, origin);
                rc = CORE_ECONFIG;
                break;
            }
        }
        if (rc != CORE_OK)
            break;
        /* "rdkafka.NAME" reaches librdkafka properties without a dot in
         * their name (debug, acks, retries), which the [kafka] section
         * would otherwise take for finsent keys. */
        if (strncmp(key, "rdkafka.", 8) == 0 && key[8])
            key += 8;
        rc = conf_set(conf, key, value, origin, err, errlen);
    }
    if (rc == CORE_OK)
        rc = conf_set(conf, "bootstrap.servers", brokers,
                      core_config_origin(cfg, CORE_CFG_KAFKA_BROKERS), err, errlen);
    if (rc == CORE_OK && consumer) {
        rc = conf_set(conf, "group.id", core_config_str(cfg, CORE_CFG_KAFKA_GROUP),
                      core_config_origin(cfg, CORE_CFG_KAFKA_GROUP), err, errlen);
        if (rc == CORE_OK)
            rc = conf_set(conf, "enable.auto.commit", "false", "finsent", err, errlen);
        if (rc == CORE_OK)
            rc = conf_set(conf, "enable.auto.offset.store", "false", "finsent", err, errlen);
    }
    if (rc != CORE_OK) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (consumer) {
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    } else {
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    }
    *out = conf;
    return CORE_OK;
}

core_err_t ing_kafka_check_config(const core_config_t *cfg, char *err, size_t errlen)
{
    char **topics = NULL;
    size_t ntopics = 0;
    rd_kafka_conf_t *conf = NULL;
    core_err_t rc;

    if (!core_config_str(cfg, CORE_CFG_KAFKA_BROKERS)[0])
        return CORE_OK;
    rc = core_config_split_list(core_config_str(cfg, CORE_CFG_KAFKA_TOPICS), &topics, &ntopics);
    core_free(topics);
    if (rc != CORE_OK)
        return rc;
    if (ntopics == 0) {
        core_err_set(err, errlen, "[kafka] topics (%s): no topic to consume",
                     core_config_origin(cfg, CORE_CFG_KAFKA_TOPICS));
        return CORE_ECONFIG;
    }
    /* The very configurations ing_kafka_new builds, without a handle. */
    rc = build_conf(NULL, cfg, 1, &conf, err, errlen);
    if (conf)
        rd_kafka_conf_destroy(conf);
    conf = NULL;
    if (rc == CORE_OK && (core_config_str(cfg, CORE_CFG_KAFKA_DEAD_LETTER_TOPIC)[0] ||
                          core_config_str(cfg, CORE_CFG_KAFKA_OUTPUT_TOPIC)[0]))
        rc = build_conf(NULL, cfg, 0, &conf, err, errlen);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}

core_err_t ing_kafka_new(const core_config_t *cfg, core_queue_t *q, core_metrics_t *metrics,
                         ing_kafka_t **out, char *err, size_t errlen)
{
    ing_kafka_t *k = NULL;
    rd_kafka_conf_t *conf = NULL;
    core_err_t rc;
    char why[512];

    *out = NULL;
    if (!core_config_str(cfg, CORE_CFG_KAFKA_BROKERS)[0]) {
        core_err_set(err, errlen, "[kafka] brokers is empty: Kafka is not configured");
        return CORE_EINVAL;
    }
    k = core_calloc(1, sizeof *k);
    if (!k)
        return CORE_ENOMEM;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->q = q;
    k->metrics = metrics;
    k->limits.max_message_bytes = (size_t)core_config_int(cfg, CORE_CFG_KAFKA_MAX_MESSAGE_BYTES);
    k->limits.max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES);
    k->cashtags = core_config_bool(cfg, CORE_CFG_ENTITIES_CASHTAGS);
    k->commit_interval_ms = core_config_int(cfg, CORE_CFG_KAFKA_COMMIT_INTERVAL);
    k->revoke_timeout_ms = core_config_int(cfg, CORE_CFG_KAFKA_REVOKE_TIMEOUT);
    snprintf(k->dlq, sizeof k->dlq, "%s", core_config_str(cfg, CORE_CFG_KAFKA_DEAD_LETTER_TOPIC));
    snprintf(k->out_topic, sizeof k->out_topic, "%s",
             core_config_str(cfg, CORE_CFG_KAFKA_OUTPUT_TOPIC));
    rc = core_config_split_list(core_config_str(cfg, CORE_CFG_KAFKA_TOPICS), &k->topics,
                                &k->ntopics);
    if (rc != CORE_OK)
        goto out;
    if (k->ntopics == 0) {
        core_err_set(err, errlen, "[kafka] topics (%s): no topic to consume",
                     core_config_origin(cfg, CORE_CFG_KAFKA_TOPICS));
        rc = CORE_ECONFIG;
        goto out;
    }
    metrics_init(k);

    rc = build_conf(k, cfg, 1, &conf, err, errlen);
    if (rc != CORE_OK)
        goto out;
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!k->rk) {
        core_err_set(err, errlen, "[kafka] cannot create consumer: %s", why);
        rc = CORE_ECONFIG;
        goto out;
    }
    conf = NULL; /* owned by k->rk */
    rd_kafka_poll_set_consumer(k->rk);

    if (k->dlq[0] || k->out_topic[0]) {
        char mmb[32];
        size_t mmbl = sizeof mmb;
        rc = build_conf(k, cfg, 0, &conf, err, errlen);
        if (rc != CORE_OK)
            goto out;
        k->prod_max = 1000000; /* librdkafka's default */
        if (rd_kafka_conf_get(conf, "message.max.bytes", mmb, &mmbl) == RD_KAFKA_CONF_OK)
            k->prod_max = (size_t)strtoull(mmb, NULL, 10);
        if (k->dlq[0] && k->limits.max_message_bytes + DLQ_OVERHEAD > k->prod_max)
            CORE_INFO(MOD,
                      "kafka.max_message_bytes (%zu) is more than the producer's message.max.bytes "
                      "(%zu) allows in a dead letter: larger rejected messages are dead-lettered "
                      "cut, with header finsent-truncated",
                      k->limits.max_message_bytes, k->prod_max);
        k->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
        if (!k->prod) {
            core_err_set(err, errlen, "[kafka] cannot create producer: %s", why);
            rc = CORE_ECONFIG;
            goto out;
        }
        conf = NULL;
    }
    *out = k;
    k = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    ing_kafka_free(k);
    return rc;
}

core_err_t ing_kafka_start(ing_kafka_t *k, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_resp_err_t e;

    if (k->started || k->stopped) {
        core_err_set(err, errlen, "kafka source already started");
        return CORE_EINVAL;
    }
    subs = rd_kafka_topic_partition_list_new((int)k->ntopics);
    for (size_t i = 0; i < k->ntopics; i++)
        rd_kafka_topic_partition_list_add(subs, k->topics[i], RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(k->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        core_err_set(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
        note_error(k, "subscribe: %s", rd_kafka_err2str(e));
        return CORE_EKAFKA;
    }
    if (k->prod) {
        if (pthread_create(&k->pthr, NULL, producer_main, k) != 0) {
            core_err_set(err, errlen, "cannot start the kafka producer thread");
            return CORE_EINTERNAL;
        }
        k->pstarted = 1;
        atomic_store(&k->producing, 1);
    }
    if (pthread_create(&k->thr, NULL, consumer_main, k) != 0) {
        core_err_set(err, errlen, "cannot start the kafka consumer thread");
        return CORE_EINTERNAL;
    }
    k->started = 1;
    CORE_INFO(MOD, "consuming %zu topic(s) in group as %s", k->ntopics, rd_kafka_name(k->rk));
    return CORE_OK;
}

void ing_kafka_stop(ing_kafka_t *k, int64_t grace_ms)
{
    if (!k || k->stopped)
        return;
    k->stopped = 1;
    k->grace_deadline = core_time_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
    if (k->started) {
        atomic_store(&k->stop, 1);
        pthread_join(k->thr, NULL);
    }
    if (k->pstarted) {
        int64_t left = k->grace_deadline - core_time_mono_ms();
        atomic_store(&k->producing, 0);
        if (rd_kafka_flush(k->prod, (int)(left > 0 ? left : 0)) != RD_KAFKA_RESP_ERR_NO_ERROR)
            CORE_WARN(MOD, "%d produced message(s) undelivered at stop",
                      rd_kafka_outq_len(k->prod));
        atomic_store(&k->pstop, 1);
        pthread_join(k->pthr, NULL);
    }
    CORE_INFO(MOD, "kafka source stopped");
}

void ing_kafka_free(ing_kafka_t *k)
{
    if (!k)
        return;
    ing_kafka_stop(k, 0);
    drop_held(k, NULL);
    if (k->prod) {
        /* Undelivered messages: their delivery reports (with a purge error)
         * free the references. */
        rd_kafka_purge(k->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(k->prod, 1000);
        rd_kafka_destroy(k->prod);
    }
    if (k->rk)
        rd_kafka_destroy(k->rk);
    while (k->parts) {
        kpart *p = k->parts;
        k->parts = p->next;
        ing_ktrack_cleanup(&p->track);
        core_free(p->topic);
        core_free(p);
    }
    core_free(k->topics);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    core_free(k);
}

void ing_kafka_health(ing_kafka_t *k, ing_kafka_health_t *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_lock(&k->mu);
    h->running = k->started && !k->stopped;
    h->connected = k->connected;
    h->fatal = k->fatal;
    h->assigned = k->assigned;
    h->paused = k->paused;
    h->in_flight = k->in_flight;
    h->consumed = k->consumed;
    h->last_message_ms = k->last_message_ms;
    snprintf(h->last_error, sizeof h->last_error, "%s", k->last_error);
    pthread_mutex_unlock(&k->mu);
}

core_err_t ing_kafka_produce(ing_kafka_t *k, const char *key, size_t keylen, const char *value,
                             size_t len, ing_kafka_delivery_fn cb, void *opaque)
{
    dr_ref *r;
    rd_kafka_resp_err_t e;

    if (!k->prod || !k->out_topic[0])
        return CORE_EINVAL;
    if (!atomic_load(&k->producing))
        return CORE_ECLOSED;
    r = core_calloc(1, sizeof *r);
    if (!r)
        return CORE_ENOMEM;
    r->cb = cb;
    r->opaque = opaque;
    e = rd_kafka_producev(
        k->prod, RD_KAFKA_V_TOPIC(k->out_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key ? keylen : 0), RD_KAFKA_V_VALUE((void *)value, len),
        RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CORE_OK;
    core_free(r);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return CORE_EFULL;
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        return CORE_ETOO_LARGE; /* permanent: the caller decides */
    note_error(k, "produce: %s", rd_kafka_err2str(e));
    return CORE_EKAFKA;
}
