/* alr_windows: the kept windows from the config; see alr_windows_int.h. */
#include "alerting/alr_windows_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "core/core_alloc.h"

int alr_windows_index(const alr_windows_t *w, int minutes)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->min[i] == minutes)
            return (int)i;
    }
    return -1;
}

/* add inserts a window in ascending order unless it is there already;
 * CORE_ECONFIG when the set is full. */
static core_err_t add(alr_windows_t *w, int m)
{
    size_t i;
    if (alr_windows_index(w, m) >= 0)
        return CORE_OK;
    if (w->n == ALR_WINDOWS_MAX)
        return CORE_ECONFIG;
    for (i = w->n; i > 0 && w->min[i - 1] > m; i--)
        w->min[i] = w->min[i - 1];
    w->min[i] = m;
    w->n++;
    return CORE_OK;
}

/* from_list adds the windows of [redis] windows. */
static core_err_t from_list(const core_config_t *cfg, alr_windows_t *w, char *err, size_t errlen)
{
    const char *origin = core_config_origin(cfg, CORE_CFG_REDIS_WINDOWS);
    char **wl = NULL;
    size_t nwl = 0;
    core_err_t rc = core_config_split_list(core_config_str(cfg, CORE_CFG_REDIS_WINDOWS), &wl, &nwl);

    for (size_t i = 0; i < nwl && rc == CORE_OK; i++) {
        int m;
        if (alr_window_parse(wl[i], &m) != CORE_OK) {
            snprintf(err, errlen,
                     "[redis] windows: '%s' is not a whole number of minutes up to 7d (%s)", wl[i],
                     origin);
            rc = CORE_ECONFIG;
        } else if (add(w, m) != CORE_OK) {
            snprintf(err, errlen,
                     "[redis] windows: '%s' is one window too many: at most %d distinct "
                     "windows, rules' windows included (%s)",
                     wl[i], ALR_WINDOWS_MAX, origin);
            rc = CORE_ECONFIG;
        }
    }
    core_free(wl); /* one allocation */
    return rc;
}

core_err_t alr_windows_from_config(const core_config_t *cfg, const alr_rule_t *rules, size_t nrules,
                                   alr_windows_t *w, char *err, size_t errlen)
{
    core_err_t rc;

    memset(w, 0, sizeof *w);
    rc = from_list(cfg, w, err, errlen);
    if (rc != CORE_OK)
        return rc;
    for (size_t i = 0; i < nrules; i++) {
        if (add(w, rules[i].window_min) != CORE_OK) {
            char name[16];
            alr_window_name(rules[i].window_min, name, sizeof name);
            snprintf(err, errlen,
                     "[rule.%s] window: %s is one window too many: at most %d distinct "
                     "windows, redis.windows and the rules' windows together",
                     rules[i].name, name, ALR_WINDOWS_MAX);
            return CORE_ECONFIG;
        }
    }
    if (w->n == 0) {
        snprintf(err, errlen, "[redis] windows: no window configured (%s)",
                 core_config_origin(cfg, CORE_CFG_REDIS_WINDOWS));
        return CORE_ECONFIG;
    }
    for (size_t i = 0; i < w->n; i++)
        alr_window_name(w->min[i], w->name[i], sizeof w->name[i]);
    return CORE_OK;
}
