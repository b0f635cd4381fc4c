/* alr_scopes: a set of scope names; see alr_scopes_int.h. */
#include "alerting/alr_scopes_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"
#include "core/core_hash.h"

void alr_scopes_clear(alr_scopes_t *l)
{
    l->n = 0;
    if (l->idx)
        memset(l->idx, 0, l->hcap * sizeof *l->idx);
}

void alr_scopes_free(alr_scopes_t *l)
{
    core_free(l->v);
    core_free(l->idx);
    memset(l, 0, sizeof *l);
}

/* rehash doubles the index (first use: 128 slots) and re-inserts every
 * member. */
static core_err_t rehash(alr_scopes_t *l)
{
    size_t nh = l->hcap ? l->hcap * 2 : 128, h;
    uint32_t *idx = core_calloc(nh, sizeof *idx);

    if (!idx)
        return CORE_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        for (h = core_fnv32(l->v[i], strlen(l->v[i])) & (nh - 1); idx[h]; h = (h + 1) & (nh - 1)) {
        }
        idx[h] = (uint32_t)(i + 1);
    }
    core_free(l->idx);
    l->idx = idx;
    l->hcap = nh;
    return CORE_OK;
}

core_err_t alr_scopes_add(alr_scopes_t *l, const char *scope)
{
    size_t h;

    if (2 * (l->n + 1) >= l->hcap && rehash(l) != CORE_OK)
        return CORE_ENOMEM;
    for (h = core_fnv32(scope, strlen(scope)) & (l->hcap - 1); l->idx[h];
         h = (h + 1) & (l->hcap - 1)) {
        if (strcmp(l->v[l->idx[h] - 1], scope) == 0)
            return CORE_OK;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        void *p = core_realloc(l->v, nc * sizeof *l->v);
        if (!p)
            return CORE_ENOMEM;
        l->v = p;
        l->cap = nc;
    }
    snprintf(l->v[l->n], ALR_SCOPE_MAX, "%s", scope);
    l->idx[h] = (uint32_t)(++l->n);
    return CORE_OK;
}
