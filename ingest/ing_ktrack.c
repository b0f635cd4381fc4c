/* ing_ktrack: see ing_ktrack.h. */
#include "ingest/ing_ktrack.h"

#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"

void ing_ktrack_init(ing_ktrack_t *t)
{
    memset(t, 0, sizeof *t);
    t->store_pos = -1;
    t->hole = -1;
}

void ing_ktrack_cleanup(ing_ktrack_t *t)
{
    core_free(t->off);
    core_free(t->acked);
    ing_ktrack_init(t);
}

static size_t slot(const ing_ktrack_t *t, size_t i)
{
    return (t->head + i) % t->cap;
}

static core_err_t grow(ing_ktrack_t *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    int64_t *off = core_malloc(ncap * sizeof *off);
    unsigned char *acked = core_malloc(ncap);

    if (!off || !acked) {
        core_free(off);
        core_free(acked);
        return CORE_ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        off[i] = t->off[slot(t, i)];
        acked[i] = t->acked[slot(t, i)];
    }
    core_free(t->off);
    core_free(t->acked);
    t->off = off;
    t->acked = acked;
    t->cap = ncap;
    t->head = 0;
    return CORE_OK;
}

core_err_t ing_ktrack_add(ing_ktrack_t *t, int64_t offset)
{
    if (offset < 0)
        return CORE_EINVAL;
    if (t->n > 0 && offset <= t->off[slot(t, t->n - 1)])
        return CORE_EINVAL;
    if (t->n == 0 && t->store_pos > offset)
        return CORE_EINVAL;
    if (t->n == t->cap) {
        core_err_t rc = grow(t);
        if (rc != CORE_OK) {
            if (t->hole < 0)
                t->hole = offset;
            return rc;
        }
    }
    size_t s = slot(t, t->n);
    t->off[s] = offset;
    t->acked[s] = 0;
    t->n++;
    return CORE_OK;
}

int ing_ktrack_ack(ing_ktrack_t *t, int64_t offset)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->off[slot(t, mid)] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->n || t->off[slot(t, lo)] != offset || t->acked[slot(t, lo)])
        return 0;
    t->acked[slot(t, lo)] = 1;
    while (t->n > 0 && t->acked[t->head]) {
        t->store_pos = t->off[t->head] + 1;
        if (t->hole >= 0 && t->store_pos > t->hole)
            t->store_pos = t->hole;
        t->head = (t->head + 1) % t->cap;
        t->n--;
    }
    return 1;
}

size_t ing_ktrack_pending(const ing_ktrack_t *t)
{
    size_t pending = 0;
    for (size_t i = 0; i < t->n; i++)
        pending += !t->acked[slot(t, i)];
    return pending;
}

void ing_ktrack_clear(ing_ktrack_t *t)
{
    t->head = 0;
    t->n = 0;
    t->store_pos = -1;
    t->hole = -1;
}
