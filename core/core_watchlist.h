/*
 * core_watchlist: the configured watch-list of tickers and the names that
 * stand for them, matched in item text to add entities.
 *
 * File format (entities.watchlist), UTF-8, one ticker per line:
 *     AAPL<TAB>Apple,Apple Inc,iPhone maker
 *     # comment lines and blank lines are ignored
 * The ticker is 1-12 characters of A-Z, 0-9, '.', '-' (upper-cased on load);
 * names are comma-separated, 2-100 bytes each, matched case-insensitively
 * (ASCII case folding) as whole words: the bytes around a match must not be
 * ASCII letters or digits. The ticker itself is not matched as a bare word
 * (too many tickers are common words); cashtags are handled separately.
 * Immutable after load; any thread may match.
 */
#ifndef CORE_WATCHLIST_H
#define CORE_WATCHLIST_H

#include <stddef.h>

#include "core/core_error.h"
#include "core/core_item.h"

typedef struct core_watchlist core_watchlist_t;

/* core_watchlist_load reads path. Errors name the file and line. */
core_err_t core_watchlist_load(const char *path, core_watchlist_t **out, char *err, size_t errlen);

/* core_watchlist_parse parses text (name is used in error messages). */
core_err_t core_watchlist_parse(const char *name, const char *text, core_watchlist_t **out,
                                char *err, size_t errlen);

void core_watchlist_free(core_watchlist_t *wl);

/* core_watchlist_count: number of tickers. */
size_t core_watchlist_count(const core_watchlist_t *wl);

/* core_watchlist_match adds to item the ticker of every name found in its
 * title or text. */
core_err_t core_watchlist_match(const core_watchlist_t *wl, core_item_t *item);

#endif
