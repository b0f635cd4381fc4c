/*
 * alr_args: one Redis command's argv, built piece by piece in a growable
 * arena, for the sink's pipelines. Internal to alerting/.
 *
 * Sticky error (SQLite's StrAccum): the first failure of an append (out of
 * memory, a key that does not fit ALR_KEY_MAX) is remembered and every later
 * append is a no-op, so a command is built as a straight list of appends and
 * checked once, by alr_args_send (or alr_args_err). alr_args_reset starts
 * the next command and clears the error. Offsets, not pointers, are
 * recorded while building because the arena may move; once it has grown to
 * the largest command, building allocates nothing.
 *
 * Threads: an arena is used by one thread.
 */
#ifndef ALR_ARGS_INT_H
#define ALR_ARGS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/alr_redis_int.h"
#include "core/core_error.h"

typedef struct alr_args {
    char *pool;
    size_t used, cap;
    size_t *off, *len;
    const char **argv;
    int argc, argcap;
    core_err_t err; /* first failure since the last reset, else CORE_OK */
} alr_args_t;

/* alr_args_reset empties the arena (keeping its memory) and clears the
 * error. */
void alr_args_reset(alr_args_t *a);

/* alr_args_free frees the arena's memory; the struct may be reused after a
 * reset. */
void alr_args_free(alr_args_t *a);

/* The appends: a no-op once a->err is set. alr_args_add copies s[0..n)
 * (binary-safe); alr_args_str a NUL-terminated string; alr_args_i64 a
 * decimal number. Failure: CORE_ENOMEM. */
void alr_args_add(alr_args_t *a, const char *s, size_t n);
void alr_args_str(alr_args_t *a, const char *s);
void alr_args_i64(alr_args_t *a, int64_t v);

/* Keys (alr_keys.h): prefix + kind [+ ":" rest]; a scope's minute bucket;
 * a scope's hourly roll-up. A key longer than ALR_KEY_MAX sets CORE_EINVAL. */
void alr_args_key(alr_args_t *a, const char *prefix, const char *kind, const char *rest);
void alr_args_bucket(alr_args_t *a, const char *prefix, const char *scope, int64_t minute);
void alr_args_hour(alr_args_t *a, const char *prefix, const char *scope, int64_t hour);

/* alr_args_seen_key adds the dedup key of an item id: the id itself when
 * short, else two independent 64-bit FNV-1a hashes of it (128 bits), so
 * that long ids (URLs) fit the key size bound. */
void alr_args_seen_key(alr_args_t *a, const char *prefix, const char *id);

/* alr_args_err: the sticky error (CORE_OK while every append succeeded). */
core_err_t alr_args_err(const alr_args_t *a);

/* alr_args_send appends the command to r's pipeline when it was built
 * whole; otherwise returns the sticky error and sends nothing. */
core_err_t alr_args_send(alr_args_t *a, alr_redis_t *r);

#endif
