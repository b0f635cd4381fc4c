/*
 * alr_scopes: a set of distinct scope names, for the sink's working sets
 * (the scopes a batch counted into, the scopes a tick refreshes). Internal
 * to alerting/.
 *
 * An array in insertion order plus an open-addressing index (slot = array
 * index + 1, 0 = empty, kept under half full), so adding is O(1) and
 * iterating is v[0..n). Clearing keeps the memory.
 *
 * Threads: a set is used by one thread.
 */
#ifndef ALR_SCOPES_INT_H
#define ALR_SCOPES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/alr_keys.h"
#include "core/core_error.h"

typedef struct alr_scopes {
    char (*v)[ALR_SCOPE_MAX]; /* the members, in insertion order */
    size_t n, cap;
    uint32_t *idx;
    size_t hcap; /* power of two, > 2 n */
} alr_scopes_t;

/* alr_scopes_add adds scope (shorter than ALR_SCOPE_MAX) unless present.
 * CORE_ENOMEM leaves the set as it was. */
core_err_t alr_scopes_add(alr_scopes_t *l, const char *scope);

/* alr_scopes_clear empties the set, keeping its memory. */
void alr_scopes_clear(alr_scopes_t *l);

/* alr_scopes_free frees the set's memory; a zeroed set is empty. */
void alr_scopes_free(alr_scopes_t *l);

#endif
