/*
 * alr_sink: the daemon's Redis stage. It counts tagged items into event-time
 * minute buckets idempotently, refreshes the rolling rates of the scopes it
 * touched, evaluates the alert rules and applies their transitions
 * atomically in Redis, publishing the alerts. Key schema: docs/redis.md.
 *
 * Counting (alr_sink_write): one Lua script call per item (EVALSHA,
 * pipelined for the whole batch; scripts are loaded on every new connection
 * and reloaded on NOSCRIPT) does SET NX PX seen_ttl on finsent:seen:{id}
 * and, only when the id was new, HINCRBY n and the sentiment in the minute
 * bucket of every scope of the item (all, topic:{slug}, entity:{TICKER}...),
 * sets the buckets' expiry, records negative ids per scope, updates the
 * scope index finsent:scopes and pushes the item to finsent:recent. A replay
 * of an item therefore changes nothing, which together with
 * acknowledge-after-write gives effectively-once counts.
 *
 * Write contract: alr_sink_write returns CORE_OK only when every countable
 * item of the batch is in Redis (with appendfsync always, durably: Redis
 * replies after the fsync) and, with redis.wait_replicas = N, when WAIT N
 * says N replicas have it; a WAIT shortfall replays the batch within the
 * call (see count_all in alr_sink.c) like a connection failure does. On a connection failure or an error reply it
 * reconnects / waits with exponential backoff capped at redis.reconnect_max
 * and sends again the items Redis has not answered (safe: idempotent; an
 * item counted by an attempt whose reply was lost then reads as a
 * duplicate), for as long as it takes, so a Redis outage becomes
 * backpressure. alr_sink_cancel makes a pending or
 * later write return CORE_ECLOSED; then none of that batch may be
 * acknowledged (some of it may be counted already; the replay is harmless).
 * Items too old (event time before now - redis.retention), too far in the
 * future (after now + redis.future_skew), without an id or without a
 * sentiment are not counted but are reported as processed: the daemon
 * acknowledges them with the others.
 *
 * After the counts are in, the rates of the scopes counted into are
 * refreshed and the rules evaluated on them, at most once per refresh
 * interval (ALR_SINK_REFRESH_MS; scopes counted into meanwhile wait for the
 * next write after the interval or the next tick), so a busy stream pays for
 * one refresh per scope per interval rather than one per batch. This part
 * is best effort: a failure is logged and does not fail the write (the tick
 * catches up).
 *
 * Threads: a sink is used by one thread (the Redis stage), which calls
 * alr_sink_write and alr_sink_tick. alr_sink_cancel may be called from any
 * thread. Metrics (if given) are updated lock-free.
 */
#ifndef ALR_SINK_H
#define ALR_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "core/core_item.h"
#include "core/core_metrics.h"

typedef struct alr_sink alr_sink_t;

/* Default shortest interval between two rate refreshes by writes. */
#define ALR_SINK_REFRESH_MS 1000

/* The outcomes of one item in alr_sink_write, X(NAME, name): one list makes
 * the enum (ALR_ITEM_NAME), the counters of alr_write_result_t, the names of
 * alr_outcome_name and the outcome="name" series of
 * finsent_redis_items_total. */
#define ALR_OUTCOMES(X)                                                                            \
    X(COUNTED, counted)     /* new: its counters were added */                                     \
    X(DUPLICATE, duplicate) /* seen before: nothing changed */                                     \
    X(TOO_OLD, too_old)     /* event time before the retention window */                           \
    X(FUTURE, future)       /* event time beyond redis.future_skew */                              \
    X(UNCOUNTED, uncounted) /* no id or no sentiment */

typedef enum alr_outcome {
#define ALR_OUTCOME_ENUM(NAME, name) ALR_ITEM_##NAME,
    ALR_OUTCOMES(ALR_OUTCOME_ENUM)
#undef ALR_OUTCOME_ENUM
        ALR_ITEM__COUNT
} alr_outcome_t;

typedef struct alr_write_result {
#define ALR_OUTCOME_FIELD(NAME, name) size_t name;
    ALR_OUTCOMES(ALR_OUTCOME_FIELD) /* items per outcome */
#undef ALR_OUTCOME_FIELD
    size_t fired, resolved; /* alerts this call published */
    /* When not NULL, outcomes[i] receives item i's outcome (array of n,
     * caller's storage). Zero-initialise the struct when not using it. */
    alr_outcome_t *outcomes;
} alr_write_result_t;

/* alr_outcome_name: "counted", "duplicate", "too_old", "future",
 * "uncounted" (the metric's label); "?" out of range. Any thread. */
const char *alr_outcome_name(alr_outcome_t o);

/* alr_sink_new reads the [redis] and [rule.*] config and makes a sink; it
 * does not connect (the first write or alr_sink_connect does). metrics may
 * be NULL; the sink registers finsent_redis_* metrics in it. On CORE_ECONFIG
 * err says which key is wrong. Single-threaded start-up. */
core_err_t alr_sink_new(const core_config_t *cfg, core_metrics_t *metrics, alr_sink_t **out,
                        char *err, size_t errlen);

/* alr_sink_free: NULL is a no-op. No write may be running. */
void alr_sink_free(alr_sink_t *s);

/* alr_sink_set_clock replaces the wall clock (tests). now(ctx) returns epoch
 * ms. Call before use. */
void alr_sink_set_clock(alr_sink_t *s, int64_t (*now)(void *ctx), void *ctx);

/* alr_sink_set_refresh_interval sets the shortest interval between two
 * rate refreshes made by writes (0: after every write;
 * ALR_SINK_REFRESH_NEVER: writes never refresh, and leave every scope they
 * count into to the tick of some sink, which finds it in the dirty set).
 * Call before use. */
#define ALR_SINK_REFRESH_NEVER (-1)
void alr_sink_set_refresh_interval(alr_sink_t *s, int64_t ms);

/* alr_sink_connect tries once to connect and load the scripts (a start-up
 * check). CORE_ENET / CORE_EREDIS with alr_sink_error telling why. */
core_err_t alr_sink_connect(alr_sink_t *s);

/* alr_sink_write counts items[0..n) (borrowed; not freed, not acknowledged)
 * as described above and fills *res (may be NULL). Returns CORE_OK, or
 * CORE_ECLOSED after alr_sink_cancel, or CORE_ENOMEM. */
core_err_t alr_sink_write(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                          alr_write_result_t *res);

/* alr_sink_tick refreshes the rates of the scopes counted into since the
 * last tick by any sink sharing the Redis (the set finsent:scopes:dirty, so
 * the tick may run on a sink and thread of its own, or in another process)
 * and of every pending or firing alert, and, on the first tick of each
 * minute, of every scope that had items within the longest window (so idle
 * scopes decay); it evaluates the rules on them and prunes the scope index
 * of scopes older than the retention. One attempt, no retry loop: CORE_ENET /
 * CORE_EREDIS when Redis is away. fired/resolved (may be NULL) receive the
 * number of alerts published. Call every few seconds from the sink's
 * thread. */
core_err_t alr_sink_tick(alr_sink_t *s, size_t *fired, size_t *resolved);

/* alr_sink_cancel: the pending and every later write and tick return
 * CORE_ECLOSED. Any thread. */
void alr_sink_cancel(alr_sink_t *s);

/* alr_sink_error: the last Redis failure in words. */
const char *alr_sink_error(const alr_sink_t *s);

/* alr_sink_primary writes the Redis primary the sink's connection uses (or
 * last used; "" before the first connection) and returns the failovers seen
 * (finsent_redis_failovers_total when the sink has metrics, else this
 * sink's own count). Any thread. */
uint64_t alr_sink_primary(alr_sink_t *s, char *buf, size_t cap);

/* alr_sink_windows: the windows (minutes, ascending) rates are kept for:
 * redis.windows plus every rule's window. */
size_t alr_sink_windows(const alr_sink_t *s, const int **minutes);

#endif
