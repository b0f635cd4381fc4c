/*
 * alr_keys: the Redis key schema, scopes and window arithmetic, as pure
 * functions on strings and numbers (no I/O). docs/redis.md documents the
 * schema for users; this module is its one implementation.
 *
 * Scopes: "all", "topic:{slug}" and "entity:{TICKER}". A topic's slug is its
 * label lower-cased (ASCII) with every run of other bytes turned into one '-'
 * and no '-' at either end ("Fed | Central Banks" -> "fed-central-banks").
 * A ticker keeps its upper-case ASCII form; bytes outside [A-Z0-9.-_] are
 * replaced by '_' so that a key never holds ':' or whitespace from input.
 *
 * Time: a bucket is one event-time minute, named by its epoch minute
 * (floor(epoch_ms / 60000), a decimal integer). A window of W minutes at time
 * now covers the W buckets now_minute-W+1 .. now_minute (the current, partial
 * minute included), so an item leaves a window W minutes after the start of
 * its minute.
 *
 * Every function is pure and may be called from any thread.
 */
#ifndef ALR_KEYS_H
#define ALR_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

/* Longest scope name ("entity:" + ticker, "topic:" + slug) including NUL. */
#define ALR_SCOPE_MAX 96
/* Longest key built here, including NUL (prefix up to 64 bytes). */
#define ALR_KEY_MAX 256

/* alr_slug writes the slug of label into out (cap bytes, truncated at a
 * character boundary of the slug). Returns the slug's length; 0 when the label
 * has no ASCII letter or digit (such an item has no topic scope). */
size_t alr_slug(const char *label, char *out, size_t cap);

/* alr_scope_topic writes "topic:{slug}"; returns 0 when the slug is empty. */
size_t alr_scope_topic(const char *label, char *out, size_t cap);

/* alr_scope_entity writes "entity:{TICKER}" (upper-cased, sanitised);
 * returns 0 when the ticker is empty. */
size_t alr_scope_entity(const char *ticker, char *out, size_t cap);

/* alr_minute: the epoch minute of a time in ms (floor, also for negatives). */
int64_t alr_minute(int64_t ms);

/* alr_key writes prefix + kind + ":" + rest, e.g. alr_key(buf, cap,
 * "finsent:", "rate", "topic:fed:15m") = "finsent:rate:topic:fed:15m". rest
 * may be NULL or "" (then no ':' is added: "finsent:recent"). Returns the
 * length, or 0 when it does not fit. */
size_t alr_key(char *out, size_t cap, const char *prefix, const char *kind, const char *rest);

/* alr_key_bucket: prefix "b:" scope ":" minute. Returns the length or 0. */
size_t alr_key_bucket(char *out, size_t cap, const char *prefix, const char *scope, int64_t minute);

/* alr_hour: the epoch hour of a time in ms (floor, also for negatives). */
int64_t alr_hour(int64_t ms);

/* alr_key_hour: prefix "h:" scope ":" hour, the hourly roll-up of a scope
 * (same fields as a minute bucket). Returns the length or 0. */
size_t alr_key_hour(char *out, size_t cap, const char *prefix, const char *scope, int64_t hour);

/* alr_window_parse reads a window such as "5m", "15m", "1h", "1d" or
 * "1h30m" into whole minutes (1 .. 1440*7). A window that is not a whole
 * number of minutes is CORE_EINVAL; bad syntax is CORE_EPARSE. */
core_err_t alr_window_parse(const char *s, int *minutes);

/* alr_window_name writes the canonical name of a window of `minutes`:
 * "5m", "15m", "1h", "90m", "1d" (hours or days only when exact). This name
 * is the {window} part of rate keys. */
size_t alr_window_name(int minutes, char *out, size_t cap);

#endif
