/*
 * ing_rss: the RSS/Atom poller. Fetches the [feed.NAME] feeds of the config
 * concurrently with one libcurl multi handle on one thread, parses them with
 * ing_feed, and pushes every item not seen before into the pipeline's queue.
 *
 * Fetching: conditional GET (If-None-Match from ETag, If-Modified-Since from
 * Last-Modified; a 304 costs no parsing), Accept-Encoding: every encoding
 * curl supports, at most rss.max_redirects redirects (http/https only),
 * rss.connect_timeout and rss.timeout, a body cap of rss.max_body on the
 * decoded bytes (the transfer is aborted past it, so a gzip bomb or an
 * endless body cannot grow memory), User-Agent "finsent/<version>".
 *
 * Scheduling: a feed is fetched every feed.NAME.interval (default
 * rss.interval). On failure (network, timeout, HTTP status other than 200 and
 * 304, body too large, not a feed) it backs off exponentially: the k-th
 * consecutive failure waits interval * 2^(k-1), capped at rss.backoff_max,
 * times a random factor in [0.5, 1] (jitter, so feeds of one host do not
 * retry in step). A 429 or 503 with Retry-After (seconds or an HTTP date)
 * waits at least that long. The first success returns to the interval. One
 * feed's failures never delay the others.
 *
 * Items: source "rss:<feed.NAME.source or NAME>", id "<source>:<feed item
 * id>" (the guid, Atom id, link or content hash: see ing_feed.h), event time
 * from the feed (else the ingest time), cashtags when entities.cashtags is
 * on. Within one document items are emitted oldest first (reverse document
 * order). An item is emitted only if (source, id) is neither pending nor seen
 * in the seen store (ing_seen); it becomes seen when the pipeline
 * acknowledges it (whatever the status), so a feed that repeats or reorders
 * its items produces no duplicates, and an item never acknowledged (crash)
 * is emitted again after a restart. Seen keys are forgotten after
 * rss.seen_ttl and persist according to rss.seen_store:
 *   redis   sorted sets <redis.prefix>feedseen:<source> (ing_seen_redis),
 *           loaded before the first fetch and written about once a second;
 *           when Redis is away the poller keeps going and retries;
 *   file    rss.state_file, rewritten atomically about once a second when
 *           something changed, and at stop;
 *   memory  nothing persists (a restart re-emits the feeds' current items,
 *           which the Redis sink then deduplicates by id);
 *   auto    (default) file when rss.state_file is set, else redis.
 *
 * Backpressure: pushing waits while the queue is full (the poller thread
 * blocks, so no new fetches start; transfers in progress may time out).
 *
 * Parsing: the response's Content-Type (its charset) and effective URL (the
 * base of relative links) go to ing_feed_parse with the body. The parser's
 * warning (encoding fallback, item-like elements that yielded nothing) is
 * logged when it changes; a document with no item counts as empty.
 *
 * Metrics, per feed (label feed="NAME"): finsent_rss_fetches_total,
 * finsent_rss_not_modified_total, finsent_rss_errors_total{kind=...} (kind:
 * connect, timeout, too_large, redirects, http, throttled, parse, network),
 * finsent_rss_items_total, finsent_feed_empty_total (documents that yielded
 * no item), finsent_rss_last_success_seconds; and
 * finsent_ingest_items_total / finsent_ingest_acked_total{source="rss"}.
 *
 * Threads: ing_rss_new, start, reload, stop and free from one control thread
 * (the app's); ing_rss_health from any thread; acks from any thread.
 */
#ifndef ING_RSS_H
#define ING_RSS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "core/core_metrics.h"
#include "core/core_queue.h"

typedef struct ing_rss ing_rss_t;

/* ing_rss_new reads the feeds and [rss] settings from cfg (copied: cfg need
 * not outlive the call) and opens the seen store. q and metrics (may be
 * NULL) are borrowed. CORE_ECONFIG with err naming the section for a feed
 * without a url or with a scheme other than http/https; CORE_EIO when the
 * state file cannot be read. Zero feeds is valid (nothing to do). Calls
 * ing_feed_init and curl_global_init: call from the main thread before other
 * threads use libxml2 or libcurl. */
core_err_t ing_rss_new(const core_config_t *cfg, core_queue_t *q, core_metrics_t *metrics,
                       ing_rss_t **out, char *err, size_t errlen);

/* ing_rss_start starts the poller thread; every feed is fetched at once. */
core_err_t ing_rss_start(ing_rss_t *r, char *err, size_t errlen);

/* ing_rss_reload replaces the feed list with cfg's (on SIGHUP). Feeds whose
 * name and url are unchanged keep their state (validators, backoff); new
 * feeds are fetched at once; removed ones stop after any transfer in
 * progress. Items already emitted are unaffected. Validates like
 * ing_rss_new; on error the old list stays. */
core_err_t ing_rss_reload(ing_rss_t *r, const core_config_t *cfg, char *err, size_t errlen);

/* ing_rss_stop aborts transfers, waits up to grace_ms for the acks of
 * emitted items (the pipeline must still run), saves the seen store and joins
 * the thread. Idempotent. */
void ing_rss_stop(ing_rss_t *r, int64_t grace_ms);

/* ing_rss_free stops (grace 0) and frees. Acks must not arrive afterwards.
 * NULL is a no-op. */
void ing_rss_free(ing_rss_t *r);

typedef struct ing_rss_feed_health {
    char name[64];
    int ok;       /* last fetch succeeded (200 or 304) */
    int failures; /* consecutive failures */
    uint64_t fetches;
    int64_t last_success_ms;  /* wall clock; 0: never */
    int64_t next_fetch_in_ms; /* from now; 0: due or in progress */
    char last_error[192];     /* "" when ok */
    int empty_polls;          /* consecutive fetched documents with no item */
    size_t last_items;        /* items in the last document parsed */
    char format[12];          /* of the last document: ing_feed_kind_name; "" before one */
    char encoding[32];        /* the last document was decoded from */
} ing_rss_feed_health_t;

/* ing_rss_health fills up to max feeds (out may be NULL when max is 0);
 * returns the number of feeds. */
size_t ing_rss_health(ing_rss_t *r, ing_rss_feed_health_t *out, size_t max);

#endif
