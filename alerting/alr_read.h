/*
 * alr_read: read-only queries over the documented Redis keys (docs/redis.md),
 * for the dashboard's read API (app/app_api.c), `finsent stats` and anything
 * else that wants the same answers: the current rates of every scope (as the
 * daemon last wrote them, or summed afresh from the minute buckets), a
 * per-minute series of one scope, the alert stream, the current alert states
 * and the latest tagged items. Every answer is a jansson object the caller
 * owns, except the bucket sums, which are plain rows.
 *
 * Design. The reader never writes and never enumerates the keyspace (no
 * KEYS, no SCAN): it starts from the keys the schema makes enumerable, the
 * scope index finsent:scopes (sorted set, score = last event ms), the alert
 * set finsent:alerts:active, the stream finsent:alerts:log and the list
 * finsent:recent, and reads only keys it can name from them. Every range is
 * bounded (ALR_READ_MAX_*): a request beyond a bound is refused with
 * CORE_ETOO_LARGE rather than silently cut, except the scope list, which
 * keeps the ALR_READ_MAX_SCOPES most recently active scopes. The pure parts
 * (argument validation, bucket summation, JSON building) are separate
 * functions so they are tested without I/O.
 *
 * Threads: a reader owns one Redis connection guarded by a mutex, so any
 * thread may call any query (HTTP handler threads do); queries run one at a
 * time, and one that waits more than 250 ms for another returns CORE_EAGAIN
 * instead of blocking its thread. The reader caps the [redis] timeouts at
 * 1 s (connect) and 2 s (command). A lost connection is re-made (one
 * attempt) by the next query.
 * Errors: CORE_EINVAL / CORE_ETOO_LARGE for bad or too large arguments
 * (err says which and why, in words fit for an HTTP 400), CORE_ENET when
 * Redis cannot be reached, CORE_EREDIS for an error reply, CORE_EAGAIN when
 * busy (above), CORE_ENOMEM.
 */
#ifndef ALR_READ_H
#define ALR_READ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alr_keys.h"
#include "core/core_config.h"
#include "core/core_error.h"

#define ALR_READ_MAX_POINTS 1440   /* points in one series */
#define ALR_READ_MAX_BUCKETS 10080 /* minutes one series may span (7 days) */
#define ALR_READ_MAX_ALERTS 500    /* alerts per answer */
#define ALR_READ_MAX_ACTIVE 500    /* active alert states per answer */
#define ALR_READ_MAX_RECENT 200    /* items per answer */
#define ALR_READ_RECENT_SCAN 1000  /* newest entries of finsent:recent looked at */
#define ALR_READ_MAX_SCOPES 2000   /* scopes in a rates answer (most recent first) */

typedef struct alr_reader alr_reader_t;

/* alr_reader_new reads [redis] (connection, prefix, windows) and the rule
 * windows from cfg and makes a reader; it does not connect. The windows are
 * the sink's (alr_sink_windows), and a config whose windows or rules the
 * sink refuses is refused here with the same words: CORE_ECONFIG, err
 * saying which key is wrong. */
core_err_t alr_reader_new(const core_config_t *cfg, alr_reader_t **out, char *err, size_t errlen);

/* alr_reader_free closes the connection. NULL is a no-op. No query may be
 * running. */
void alr_reader_free(alr_reader_t *r);

/* alr_reader_set_clock replaces the wall clock (tests); now(ctx) returns
 * epoch ms. Call before use. */
void alr_reader_set_clock(alr_reader_t *r, int64_t (*now)(void *ctx), void *ctx);

/* alr_reader_now: the reader's clock, epoch ms. Any thread. */
int64_t alr_reader_now(const alr_reader_t *r);

/* alr_reader_windows: the windows (minutes, ascending) that have rate
 * hashes: redis.windows plus every rule's window. The array belongs to the
 * reader. */
size_t alr_reader_windows(const alr_reader_t *r, const int **minutes);

/* alr_read_scope_normalize checks a scope given by a user and writes its
 * canonical form: "all"; "topic:" + a label or slug (slugified, so
 * "topic:Energy | Oil" = "topic:energy-oil"); "entity:" + a ticker of
 * [A-Za-z0-9._-] (upper-cased). CORE_EINVAL otherwise (err explains). Pure. */
core_err_t alr_read_scope_normalize(const char *in, char *out, size_t cap, char *err,
                                    size_t errlen);

/* alr_read_series_plan checks a series request and computes its grid: the
 * first point's minute (from's minute rounded down to a multiple of
 * step_min, so grids of one step line up across requests) and the number of
 * points, each covering step_min minutes, until the one holding to's
 * minute. CORE_EINVAL for from > to or step_min < 1, CORE_ETOO_LARGE beyond
 * ALR_READ_MAX_POINTS points or ALR_READ_MAX_BUCKETS requested minutes
 * (the aligned grid then reads fewer than 2 * ALR_READ_MAX_BUCKETS buckets).
 * Pure. */
core_err_t alr_read_series_plan(int64_t from_ms, int64_t to_ms, int step_min, int64_t *first_minute,
                                size_t *npoints, char *err, size_t errlen);

/* Scopes rank by the lower bound of the Wilson interval of their negative
 * share at this confidence (the rules' default). */
#define ALR_READ_RANK_CONFIDENCE 0.95

/* alr_read_rates answers the current rates of every scope active within
 * the window (window_min must be one of alr_reader_windows, else
 * CORE_EINVAL) with at least min_n items, read from the rate hashes, sorted
 * by `lower` (the lower bound of the Wilson interval of neg_rate at
 * ALR_READ_RANK_CONFIDENCE) descending, then neg_rate, then n descending,
 * then scope, so a scope with 2 items at 100% ranks below a busy one at 80%:
 *   {"window":"15m","now":ms,"scopes":[{"scope","n","negative","neutral",
 *    "positive","neg_rate","lower","updated"},...],"truncated":bool}
 * *out is the caller's (json_decref). */
core_err_t alr_read_rates(alr_reader_t *r, int window_min, uint64_t min_n, json_t **out,
                          char *err, size_t errlen);

/* One row of alr_read_bucket_rates. */
typedef struct alr_rate {
    char scope[ALR_SCOPE_MAX];
    int window_min;
    uint64_t n, negative, neutral, positive;
    double neg_rate; /* negative / n; 0 when n is 0 */
} alr_rate_t;

/* alr_read_bucket_rates sums, without writing anything, the minute buckets
 * of every scope with an event within the longest window (a few minutes'
 * margin included) over each kept window (window_min = 0), or over
 * window_min only (one of alr_reader_windows, else CORE_EINVAL): the same
 * sums the daemon writes to the rate hashes, current even when no daemon
 * runs (`finsent stats`). Plain reads (HMGET, pipelined by whole scopes),
 * so the read-only ACL user of docs/redis.md may call it. Rows come scope
 * by scope, windows ascending; rows with n = 0 are included. *rows is
 * malloc'd (free()); NULL with *n = 0 when there is none. */
core_err_t alr_read_bucket_rates(alr_reader_t *r, int window_min, alr_rate_t **rows, size_t *n,
                                 char *err, size_t errlen);

/* alr_read_series answers the counts of scope (canonical, see
 * alr_read_scope_normalize) per step from the minute buckets between from
 * and to (plan: alr_read_series_plan), as columns:
 *   {"scope","from","to","step":"5m","step_ms","t":[ms...],"n":[...],
 *    "negative":[...],"neutral":[...],"positive":[...],"neg_rate":[x|null]}
 * t[i] is the start of point i; neg_rate is null where n is 0. */
core_err_t alr_read_series(alr_reader_t *r, const char *scope, int64_t from_ms, int64_t to_ms,
                           int step_min, json_t **out, char *err, size_t errlen);

/* alr_read_alerts answers alerts from the stream finsent:alerts:log, oldest
 * first: after stream id after_id (exclusive) when it is not NULL, else from
 * time since_ms (inclusive) when it is >= 0, else the newest `limit`
 * (1..ALR_READ_MAX_ALERTS). after_id must pass alr_read_stream_id_ok
 * (CORE_EINVAL otherwise, and also when Redis refuses it as the start of a
 * range: never CORE_EREDIS for the caller's own id).
 *   {"alerts":[{...the alert JSON..., "stream_id"}],"last_id":"..."|null,
 *    "more":bool}
 * "more" is true when further alerts follow the last one returned; a
 * client pages with after_id = last_id. Entries that are not valid alert
 * JSON are skipped. */
core_err_t alr_read_alerts(alr_reader_t *r, const char *after_id, int64_t since_ms, size_t limit,
                           json_t **out, char *err, size_t errlen);

/* alr_read_stream_id_ok: 1 when s is a stream id Redis accepts, "MS" or
 * "MS-SEQ" with each part a decimal integer of at most 2^64 - 1 (at most 41
 * characters in all); 0 otherwise. Pure; any thread. */
int alr_read_stream_id_ok(const char *s);

/* alr_read_active answers the pending and firing alerts (from
 * finsent:alerts:active and their state hashes), firing first:
 *   {"active":[{"rule","scope","state","window","neg_rate","n","since",
 *    "changed"}],"truncated":bool} */
core_err_t alr_read_active(alr_reader_t *r, json_t **out, char *err, size_t errlen);

/* alr_read_recent answers the newest tagged items of finsent:recent, newest
 * first, at most limit (1..ALR_READ_MAX_RECENT); when scope is not NULL
 * only those in that scope (canonical), looking at the newest
 * ALR_READ_RECENT_SCAN entries:
 *   {"scope":...|null,"items":[{"id","ts","topic","sentiment",
 *    "sentiment_p":{...},"entities":[...]}...]} */
core_err_t alr_read_recent(alr_reader_t *r, const char *scope, size_t limit, json_t **out,
                           char *err, size_t errlen);

/* alr_read_item_in_scope: 1 when the compact item JSON belongs to the
 * canonical scope (all; its topic's slug; one of its entities). Pure. */
int alr_read_item_in_scope(const json_t *item, const char *scope);

#endif
