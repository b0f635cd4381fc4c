/*
 * alr_explain_read: find one tagged item by id in the recent list
 * {prefix}recent (docs/redis.md), for the dashboard's explain API
 * (app/app_explain.c), which classifies the item's title again.
 *
 * Design. A reader of its own (one Redis connection, [redis] options with
 * the timeouts capped at 1 s connect and 2 s command, as alr_read's), so a
 * slow explanation never holds the dashboard reader's connection. It reads
 * only the recent list, newest first, in pages of ALR_EXPLAIN_PAGE entries
 * with LRANGE, up to redis.recent_max entries, and stops at the first entry
 * whose "id" is the one asked for. Read-only; never enumerates keys.
 *
 * Threads: one thread at a time per reader (the explain API serialises
 * its requests). A lost connection is re-made (one attempt) by the next
 * call.
 * Errors: CORE_EINVAL for an empty or too long id, CORE_ENOT_FOUND when no
 * entry has the id, CORE_ENET when Redis cannot be reached or times out,
 * CORE_EREDIS for an error reply, CORE_ENOMEM; err says why.
 */
#ifndef ALR_EXPLAIN_READ_H
#define ALR_EXPLAIN_READ_H

#include <jansson.h>
#include <stddef.h>

#include "core/core_config.h"
#include "core/core_error.h"

#define ALR_EXPLAIN_PAGE 256   /* entries per LRANGE */
#define ALR_EXPLAIN_ID_MAX 512 /* longest id looked for, bytes */

typedef struct alr_explain_reader alr_explain_reader_t;

/* alr_explain_reader_new reads [redis] from cfg (connection, prefix,
 * recent_max); it does not connect. CORE_ECONFIG (err says which key),
 * CORE_ENOMEM. */
core_err_t alr_explain_reader_new(const core_config_t *cfg, alr_explain_reader_t **out, char *err,
                                  size_t errlen);

/* alr_explain_reader_free closes the connection. NULL is a no-op. */
void alr_explain_reader_free(alr_explain_reader_t *r);

/* alr_explain_read_item finds the newest entry of the recent list whose
 * "id" equals id and returns it parsed (the compact item JSON: id, ts,
 * source, title, topic, sentiment, sentiment_p, entities...); *out is the
 * caller's (json_decref). Entries that are not JSON objects are skipped. */
core_err_t alr_explain_read_item(alr_explain_reader_t *r, const char *id, json_t **out, char *err,
                                 size_t errlen);

/* alr_explain_entry_is: 1 when the stored entry (len bytes of JSON) is an
 * object whose "id" is id; then *item (if not NULL) gets it parsed. Pure. */
int alr_explain_entry_is(const char *entry, size_t len, const char *id, json_t **item);

#endif
