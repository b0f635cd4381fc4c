/*
 * alr_windows: the set of windows rate hashes are kept for, one definition
 * for the sink (which writes them) and the reader (which reads them): the
 * windows of redis.windows plus every rule's window, distinct, ascending,
 * at most ALR_WINDOWS_MAX. Internal to alerting/.
 *
 * Both sides build it with alr_windows_from_config, so they agree: a config
 * whose windows the sink refuses (a bad value, none at all, more than
 * ALR_WINDOWS_MAX distinct ones) is refused by the reader too, with the same
 * words. Pure; any thread.
 */
#ifndef ALR_WINDOWS_INT_H
#define ALR_WINDOWS_INT_H

#include <stddef.h>

#include "alerting/alr_rule.h"
#include "core/core_config.h"
#include "core/core_error.h"

#define ALR_WINDOWS_MAX 16

typedef struct alr_windows {
    int min[ALR_WINDOWS_MAX];       /* minutes, ascending */
    char name[ALR_WINDOWS_MAX][16]; /* alr_window_name of each: the {window} of rate keys */
    size_t n;
} alr_windows_t;

/* alr_windows_from_config fills *w from [redis] windows and the windows of
 * rules[0..nrules) (already loaded by alr_rules_load). CORE_ECONFIG with err
 * naming the key and where it was set when a value is not a window, when
 * there would be more than ALR_WINDOWS_MAX, or when there is none. */
core_err_t alr_windows_from_config(const core_config_t *cfg, const alr_rule_t *rules, size_t nrules,
                                   alr_windows_t *w, char *err, size_t errlen);

/* alr_windows_index: the index of a window of `minutes` in w, or -1. */
int alr_windows_index(const alr_windows_t *w, int minutes);

#endif
