/* alr_args: a command's argv in a growable arena with a sticky error; see
 * alr_args_int.h. */
#include "alerting/alr_args_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "core/core_hash.h"
#include "core/core_alloc.h"

void alr_args_reset(alr_args_t *a)
{
    a->used = 0;
    a->argc = 0;
    a->err = CORE_OK;
}

void alr_args_free(alr_args_t *a)
{
    core_free(a->pool);
    core_free(a->off);
    core_free(a->len);
    core_free(a->argv);
    memset(a, 0, sizeof *a);
}

/* grow_slots makes room for one more argument's offset, length and argv
 * slot. */
static core_err_t grow_slots(alr_args_t *a)
{
    int nc = a->argcap ? a->argcap * 2 : 64;
    size_t *off, *len;
    const char **argv;

    if (a->argc < a->argcap)
        return CORE_OK;
    if (!(off = core_realloc(a->off, (size_t)nc * sizeof *off)))
        return CORE_ENOMEM;
    a->off = off;
    if (!(len = core_realloc(a->len, (size_t)nc * sizeof *len)))
        return CORE_ENOMEM;
    a->len = len;
    if (!(argv = core_realloc(a->argv, (size_t)nc * sizeof *argv)))
        return CORE_ENOMEM;
    a->argv = argv;
    a->argcap = nc;
    return CORE_OK;
}

/* grow_pool makes room for n more bytes and a NUL. */
static core_err_t grow_pool(alr_args_t *a, size_t n)
{
    size_t nc = a->cap ? a->cap : 4096;
    char *p;

    if (a->used + n + 1 <= a->cap)
        return CORE_OK;
    while (nc < a->used + n + 1)
        nc *= 2;
    if (!(p = core_realloc(a->pool, nc)))
        return CORE_ENOMEM;
    a->pool = p;
    a->cap = nc;
    return CORE_OK;
}

void alr_args_add(alr_args_t *a, const char *s, size_t n)
{
    if (a->err != CORE_OK)
        return;
    if ((a->err = grow_slots(a)) != CORE_OK || (a->err = grow_pool(a, n)) != CORE_OK)
        return;
    memcpy(a->pool + a->used, s, n);
    a->pool[a->used + n] = '\0';
    a->off[a->argc] = a->used;
    a->len[a->argc] = n;
    a->argc++;
    a->used += n + 1;
}

void alr_args_str(alr_args_t *a, const char *s)
{
    alr_args_add(a, s, strlen(s));
}

void alr_args_i64(alr_args_t *a, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    alr_args_add(a, buf, (size_t)n);
}

/* add_built adds a key a builder wrote (its length; 0: it did not fit). */
static void add_built(alr_args_t *a, const char *k, size_t n)
{
    if (n == 0 && a->err == CORE_OK)
        a->err = CORE_EINVAL;
    alr_args_add(a, k, n);
}

void alr_args_key(alr_args_t *a, const char *prefix, const char *kind, const char *rest)
{
    char k[ALR_KEY_MAX];
    add_built(a, k, alr_key(k, sizeof k, prefix, kind, rest));
}

void alr_args_bucket(alr_args_t *a, const char *prefix, const char *scope, int64_t minute)
{
    char k[ALR_KEY_MAX];
    add_built(a, k, alr_key_bucket(k, sizeof k, prefix, scope, minute));
}

void alr_args_hour(alr_args_t *a, const char *prefix, const char *scope, int64_t hour)
{
    char k[ALR_KEY_MAX];
    add_built(a, k, alr_key_hour(k, sizeof k, prefix, scope, hour));
}

void alr_args_seen_key(alr_args_t *a, const char *prefix, const char *id)
{
    char rest[48];
    size_t n = strlen(id);
    uint64_t h[2];

    if (n <= 128) {
        alr_args_key(a, prefix, "seen", id);
        return;
    }
    core_hash128(id, n, h);
    snprintf(rest, sizeof rest, "h:%016" PRIx64 "%016" PRIx64, h[0], h[1]);
    alr_args_key(a, prefix, "seen", rest);
}

core_err_t alr_args_err(const alr_args_t *a)
{
    return a->err;
}

core_err_t alr_args_send(alr_args_t *a, alr_redis_t *r)
{
    if (a->err != CORE_OK)
        return a->err;
    for (int i = 0; i < a->argc; i++)
        a->argv[i] = a->pool + a->off[i];
    return alr_redis_append(r, a->argc, a->argv, a->len);
}
