/*
 * ing_seen: the set of feed items already delivered, so a feed item is
 * emitted once even though feeds repeat their items on every poll, reorder
 * them, and the process restarts.
 *
 * A key is (feed, item id). Each key is in one of two states:
 *   PENDING  claimed by the poller and handed to the pipeline, not yet
 *            acknowledged: a later poll does not emit it again, but it is not
 *            persisted (a crash forgets it, so it is emitted again after a
 *            restart: at-least-once);
 *   SEEN     acknowledged: persisted, remembered for ttl_ms after it was
 *            acknowledged, then forgotten.
 *
 * Persistence: a state file (path), rewritten atomically by ing_seen_save
 * (write to a temporary file in the same directory, fsync, rename, fsync the
 * directory), one line per SEEN key: "<seen_ms>\t<feed>\t<id>\n" after a
 * header line "finsent-seen 1"; tab, newline, CR and backslash in feed/id are
 * escaped as \t \n \r \\. A missing file is an empty set; a corrupt line is
 * skipped with a count (ing_seen_load_skipped), never fatal. Without a path
 * the set lives in memory only.
 *
 * Threads: every function may be called from any thread (one mutex), except
 * ing_seen_free. ing_seen_commit is cheap (no I/O): it is what an item's ack
 * calls; the I/O happens in ing_seen_save, called by the poller thread.
 */
#ifndef ING_SEEN_H
#define ING_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

typedef struct ing_seen ing_seen_t;

/* ing_seen_open loads path (may be NULL: memory only), dropping keys older
 * than ttl_ms at now_ms. CORE_EIO with err naming the file when it exists
 * but cannot be read. */
core_err_t ing_seen_open(const char *path, int64_t ttl_ms, int64_t now_ms, ing_seen_t **out,
                         char *err, size_t errlen);

/* ing_seen_claim returns 1 and marks the key PENDING when it is neither
 * PENDING nor SEEN; else 0. -1 when out of memory. */
int ing_seen_claim(ing_seen_t *s, const char *feed, const char *id);

/* ing_seen_commit marks the key SEEN at now_ms (adding it if absent). */
core_err_t ing_seen_commit(ing_seen_t *s, const char *feed, const char *id, int64_t now_ms);

/* ing_seen_release forgets a PENDING key (an item never handed out); a SEEN
 * key stays. */
void ing_seen_release(ing_seen_t *s, const char *feed, const char *id);

/* ing_seen_is_seen: 1 when the key is SEEN. */
int ing_seen_is_seen(ing_seen_t *s, const char *feed, const char *id);

/* ing_seen_save drops SEEN keys older than the TTL and, when anything
 * changed since the last save and a path is set, rewrites the file
 * atomically. CORE_EIO with err on failure (the old file stays intact). */
core_err_t ing_seen_save(ing_seen_t *s, int64_t now_ms, char *err, size_t errlen);

/* Counts (snapshots). */
size_t ing_seen_count(ing_seen_t *s);   /* SEEN keys */
size_t ing_seen_pending(ing_seen_t *s); /* PENDING keys */
size_t ing_seen_load_skipped(ing_seen_t *s);

/* Journal, for a mirror of the SEEN keys elsewhere (ing_seen_redis): once
 * enabled, every ing_seen_commit also records (feed, id, ms), and
 * ing_seen_take_journal moves the records collected so far to the caller
 * (*recs: one malloc'd array, free with ing_seen_journal_free). */
typedef struct ing_seen_rec {
    char *feed;
    char *id;
    int64_t ms;
} ing_seen_rec_t;
void ing_seen_journal_enable(ing_seen_t *s);
core_err_t ing_seen_take_journal(ing_seen_t *s, ing_seen_rec_t **recs, size_t *n);
void ing_seen_journal_free(ing_seen_rec_t *recs, size_t n);

/* ing_seen_ttl: the TTL given at open (ms). */
int64_t ing_seen_ttl(const ing_seen_t *s);

/* ing_seen_free frees the set without saving. NULL is a no-op. */
void ing_seen_free(ing_seen_t *s);

#endif
