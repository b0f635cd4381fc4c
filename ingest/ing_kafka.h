/*
 * ing_kafka: the Kafka source. A consumer in a consumer group that turns
 * every message into a core_item_t, pushes it into the pipeline's queue, and
 * stores the message's offset only once the pipeline has acknowledged the
 * item: at-least-once delivery (DESIGN.md, "Data flow"), never a lost
 * message, never a stopped partition.
 *
 * Threads. ing_kafka_start starts one consumer thread, which is the only
 * caller of rd_kafka_consumer_poll, the rebalance callback, offset storing
 * and committing; and, when a dead-letter or output topic is configured, one
 * producer thread serving delivery reports. Acks (core_item_ack) may come
 * from any thread: they only mark the offset done under a mutex; the consumer
 * thread stores the offsets within one poll interval (<= 100 ms).
 *
 * Offsets. enable.auto.offset.store and enable.auto.commit are off. Per
 * assigned partition an ing_ktrack_t keeps the offsets in flight; the stored
 * offset is the lowest one still pending (acks out of order never skip a
 * pending message). Stored offsets are committed every kafka.commit_interval
 * (async), and synchronously on partition revocation and at stop.
 *
 * Rebalance. On revocation the consumer thread waits up to
 * kafka.revoke_timeout for the in-flight items of the revoked partitions,
 * commits what is acknowledged, and lets the partitions go. Items acked after
 * that are ignored here: their messages are delivered again to the new owner
 * and deduplicated downstream by item id. That is why a derived id is
 * "kafka:<topic>:<partition>:<offset>": the same message always gets the
 * same id, whichever consumer reads it.
 *
 * Items. The value is decoded by core_msg_decode (limits kafka.max_message_bytes
 * and input.max_text_bytes). Missing id: "kafka:<topic>:<partition>:<offset>";
 * missing source: "kafka:<topic>"; missing ts: the message timestamp, else the
 * ingest time. Cashtags are added when entities.cashtags is on.
 *
 * Bad messages (every core_msg_decode error, a null value, a value over
 * kafka.max_message_bytes) are counted in
 * finsent_ingest_bad_total{source="kafka",reason="<ERRNAME>"} (reason
 * NULL_VALUE for a null value, TOO_LARGE, JSON, UTF8, ...), logged with
 * topic/partition/offset, produced to kafka.dead_letter_topic when set (value
 * and key unchanged, headers finsent-reason, finsent-error, finsent-topic,
 * finsent-partition, finsent-offset), and their offsets are stored like acked
 * ones (after the dead-letter delivery report, success or not; a failed
 * dead-letter delivery is logged and counted in
 * finsent_kafka_dead_letter_failed_total, it does not stop the partition).
 *
 * Backpressure. Items are pushed with timeout 0. When the queue is full the
 * item is held, every assigned partition is paused and polling continues
 * (the group session and max.poll.interval.ms stay alive); when the held
 * items have been pushed the partitions are resumed.
 *
 * Configuration: kafka.brokers, kafka.group, kafka.topics, plus every other
 * [kafka] key containing a dot, passed to librdkafka as it is (an unknown or
 * invalid property is a start-up error naming the key and its origin).
 * A librdkafka property without a dot in its name (debug, acks, retries) is
 * written with the prefix "rdkafka." (kafka.rdkafka.debug = consumer,fetch).
 * Defaults finsent sets and a config may override: auto.offset.reset=earliest,
 * client.id=finsent. Managed by finsent and refused in config:
 * bootstrap.servers, group.id, enable.auto.commit, enable.auto.offset.store.
 */
#ifndef ING_KAFKA_H
#define ING_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "core/core_metrics.h"
#include "core/core_queue.h"

typedef struct ing_kafka ing_kafka_t;

/* ing_kafka_new builds the consumer (and the producer when
 * kafka.dead_letter_topic or kafka.output_topic is set) from cfg. No
 * message is fetched before ing_kafka_start, but librdkafka's client
 * threads start here and a consumer with a group looks for its coordinator
 * at once (so this is no dry run: see ing_kafka_check_config). cfg, q and metrics are borrowed and must
 * outlive the object; metrics may be NULL. Returns CORE_ECONFIG with err
 * naming the key (e.g. "[kafka] foo.bar (f.conf:7): No such configuration
 * property") for bad settings, CORE_EINVAL when kafka.brokers is empty. */
core_err_t ing_kafka_new(const core_config_t *cfg, core_queue_t *q, core_metrics_t *metrics,
                         ing_kafka_t **out, char *err, size_t errlen);

/* ing_kafka_start subscribes to kafka.topics and starts the threads. */
core_err_t ing_kafka_start(ing_kafka_t *k, char *err, size_t errlen);

/* ing_kafka_stop stops fetching, frees items held back by backpressure
 * (unacknowledged: they are redelivered), waits up to grace_ms for the
 * outstanding acks (so the pipeline must still be running), stores and
 * commits the acknowledged offsets, leaves the group, flushes the producer
 * (within what is left of the grace) and joins the threads. Idempotent. Call
 * from the thread that started it. */
void ing_kafka_stop(ing_kafka_t *k, int64_t grace_ms);

/* ing_kafka_free stops (grace 0) and frees the object. Acks must not arrive
 * after this: call it only once every item from this source has been
 * acknowledged or freed (the pipeline is drained). NULL is a no-op. */
void ing_kafka_free(ing_kafka_t *k);

typedef struct ing_kafka_health {
    int running;             /* started and not stopped */
    int connected;           /* 0 after "all brokers down", 1 once the group works again */
    int fatal;               /* librdkafka reported a fatal error */
    size_t assigned;         /* partitions assigned to this consumer */
    int paused;              /* partitions paused by backpressure */
    size_t in_flight;        /* items handed out and not yet acknowledged */
    uint64_t consumed;       /* messages consumed */
    int64_t last_message_ms; /* wall clock of the last message; 0: none yet */
    char last_error[256];    /* "" when none */
} ing_kafka_health_t;

/* ing_kafka_health fills a snapshot for /healthz. Any thread. */
void ing_kafka_health(ing_kafka_t *k, ing_kafka_health_t *h);

/* Delivery callback of ing_kafka_produce: status CORE_OK once the broker has
 * the message, CORE_ETOO_LARGE when the broker refused its size (permanent:
 * retrying cannot help), else CORE_EKAFKA with errstr saying why. Runs on
 * the producer thread; must be cheap (e.g. core_item_ack). */
typedef void (*ing_kafka_delivery_fn)(void *opaque, core_err_t status, const char *errstr);

/* ing_kafka_check_config checks the [kafka] section of cfg as ing_kafka_new
 * uses it, without a Kafka client (librdkafka's rd_kafka_new starts threads,
 * and a consumer with a group connects at once): at least one topic, no
 * property finsent manages, every other property known to librdkafka with a
 * valid value, valid brokers and group; the producer's too when a
 * dead-letter or output topic is set. It builds the same rd_kafka_conf_t
 * objects ing_kafka_new builds and frees them, so the messages are the same.
 * Nothing is checked when kafka.brokers is empty. CORE_ECONFIG with err
 * naming the key and its origin; CORE_ENOMEM. Any thread, no I/O. Checks
 * librdkafka makes only inside rd_kafka_new still fail at start. */
core_err_t ing_kafka_check_config(const core_config_t *cfg, char *err, size_t errlen);

/* ing_kafka_produce sends value (copied) keyed by key (copied; may be NULL)
 * to kafka.output_topic. cb (may be NULL) is called exactly once if and only
 * if this returns CORE_OK. Returns CORE_EINVAL when no output topic is
 * configured, CORE_EFULL when the producer queue is full (retry later),
 * CORE_ETOO_LARGE when the message exceeds the producer's message.max.bytes
 * (permanent), CORE_ECLOSED after stop, CORE_EKAFKA for other errors. Any
 * thread. */
core_err_t ing_kafka_produce(ing_kafka_t *k, const char *key, size_t keylen, const char *value,
                             size_t len, ing_kafka_delivery_fn cb, void *opaque);

#endif
