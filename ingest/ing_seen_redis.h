/*
 * ing_seen_redis: keeps the SEEN keys of an ing_seen_t in Redis, so feed
 * dedup survives restarts without a state file and is shared by every
 * finsent process using the same Redis.
 *
 * Layout: one sorted set per feed source, "<redis.prefix>feedseen:<source>"
 * (e.g. finsent:feedseen:rss:reuters), member = item id, score = the
 * acknowledgement time (epoch ms). Entries older than rss.seen_ttl are
 * removed (ZREMRANGEBYSCORE) whenever the set is written, and the key
 * expires rss.seen_ttl after its last write.
 *
 * Use: ing_seen_redis_load once at start (SCAN for the sets, ZRANGEBYSCORE of
 * the live members into the ing_seen_t, then the journal is enabled), then
 * ing_seen_redis_flush periodically from the poller thread: it takes the
 * ing_seen journal and writes it with one pipelined round trip. When Redis is
 * away the records are kept (bounded) and written on a later flush; a
 * reconnect is attempted on every flush. This is a hiredis adapter: it only
 * moves bytes and translates errors (CORE_EREDIS with err).
 *
 * Threads: one thread (the poller) at a time.
 */
#ifndef ING_SEEN_REDIS_H
#define ING_SEEN_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "ingest/ing_seen.h"

typedef struct ing_seen_redis ing_seen_redis_t;

/* ing_seen_redis_new reads the [redis] settings; does not connect. */
core_err_t ing_seen_redis_new(const core_config_t *cfg, ing_seen_redis_t **out);

/* ing_seen_redis_load connects and loads the live members of every
 * feedseen set into seen (as SEEN), then enables seen's journal (also on
 * failure, so later flushes still write). */
core_err_t ing_seen_redis_load(ing_seen_redis_t *r, ing_seen_t *seen, int64_t now_ms, char *err,
                               size_t errlen);

/* ing_seen_redis_flush writes the journal (and anything left over from a
 * failed flush). */
core_err_t ing_seen_redis_flush(ing_seen_redis_t *r, ing_seen_t *seen, int64_t now_ms, char *err,
                                size_t errlen);

/* ing_seen_redis_backlog: records waiting to be written. */
size_t ing_seen_redis_backlog(const ing_seen_redis_t *r);

/* ing_seen_redis_free disconnects. NULL is a no-op. */
void ing_seen_redis_free(ing_seen_redis_t *r);

#endif
