/*
 * app_pipeline: the daemon's pipeline, wiring the subsystems together.
 *
 *   sources (Kafka, JSONL file/stdin, RSS/Atom feeds of [feed.NAME])
 *     -> in queue -> classify thread
 *     (batches of classify.batch items or an adaptive wait up to
 *     classify.max_wait, docs/pipeline.md) -> tagged queue
 *     -> Redis thread (alr_sink_write, then stdout JSONL / Kafka output)
 *     -> acknowledgement back to the source
 *
 * Beside the item path, a tick thread runs alr_sink_tick every 2 s (idle
 * scopes decay, rules are evaluated) on a sink and Redis connection of its
 * own, so a slow tick never delays the counting of items.
 *
 * An item is acknowledged to its source only after alr_sink_write says its
 * counters are in Redis, and, when kafka.output_topic is set, after the
 * broker has the tagged item too. Until then it may be replayed; the Redis
 * write is idempotent per item id, so a replay never counts twice.
 *
 * Shutdown (app_pipeline_stop): the sources stop fetching and wait for their
 * in-flight acknowledgements, the queues are closed and drained through
 * classification and Redis, the Kafka offsets are committed. All of it within
 * the grace period (run.grace); whatever is not acknowledged by then is
 * replayed on the next start. A Redis outage is backpressure: the Redis
 * thread retries, the queues fill, the Kafka source pauses its partitions.
 *
 * Threads: new/start/reload/stop/free from one thread (main). Health and metrics
 * readers from any thread (the HTTP server).
 */
#ifndef APP_PIPELINE_H
#define APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "core/core_metrics.h"

typedef struct app_pipeline app_pipeline_t;

/* app_pipeline_new loads the model, the watch-list, the Redis sink and the
 * sources the config names (kafka.brokers non-empty, input.jsonl non-empty,
 * [feed.NAME] sections).
 * cfg and metrics are borrowed and must outlive the pipeline. */
core_err_t app_pipeline_new(const core_config_t *cfg, core_metrics_t *metrics,
                            app_pipeline_t **out, char *err, size_t errlen);

/* app_pipeline_start starts the threads and the sources. */
core_err_t app_pipeline_start(app_pipeline_t *p, char *err, size_t errlen);

/* app_pipeline_finished: 1 once every source has reached its end (a JSONL
 * file read to the end with no Kafka configured); the daemon then stops. */
int app_pipeline_finished(app_pipeline_t *p);

/* app_pipeline_stop stops as described above, within grace_ms. Returns the
 * number of items dropped without acknowledgement since the start (to be
 * replayed by their source). */
size_t app_pipeline_stop(app_pipeline_t *p, int64_t grace_ms);

/* app_pipeline_free: after stop. NULL is a no-op. */
void app_pipeline_free(app_pipeline_t *p);

/* app_pipeline_health writes a JSON object describing the health of the
 * model, Redis, Kafka, the feeds and the queues into buf; returns 1 when
 * Redis and (if configured) Kafka are healthy. Failing feeds are listed but
 * do not make it unhealthy: the other sources go on. */
int app_pipeline_health(app_pipeline_t *p, char *buf, size_t cap);

/* app_pipeline_reload applies cfg's alert rules and feed list (SIGHUP)
 * without dropping items: the new rules take effect between two Redis
 * batches, feeds as ing_rss_reload describes. Other settings need a restart.
 * Takes cfg on success (kept until app_pipeline_free); on error nothing
 * changes and err says why. */
core_err_t app_pipeline_reload(app_pipeline_t *p, core_config_t *cfg, char *err, size_t errlen);

/* app_pipeline_tick updates gauges (queue depths); call every second. */
void app_pipeline_tick(app_pipeline_t *p);

#endif
