/*
 * core_alloc: see core_alloc.h. With FINSENT_ALLOC_HOOK each allocation pays
 * one relaxed atomic load and one predictable branch before calling libc
 * while the hook is disarmed (an atomic increment more while armed);
 * without it this file is empty and the wrappers are inline.
 */
#include "core/core_alloc.h"

#ifdef FINSENT_ALLOC_HOOK

#include <stdatomic.h>

static atomic_long fail_at;  /* 0: disarmed; else the count that fails */
static atomic_int sticky;    /* CORE_ALLOC_STICKY */
static atomic_long count;    /* allocations since core_alloc_fail_at */
static atomic_long failures; /* allocations failed since core_alloc_fail_at */

/* should_fail counts one allocation and says whether the hook fails it.
 * Disarmed (the daemon, most tests) it costs one relaxed load and one
 * predictable branch: no counting, so threads share no written line. */
static int should_fail(void)
{
    long at = atomic_load_explicit(&fail_at, memory_order_relaxed), c;

    if (__builtin_expect(at == 0, 1))
        return 0;
    c = atomic_fetch_add_explicit(&count, 1, memory_order_relaxed) + 1;
    if (c < at)
        return 0;
    if (c > at && !atomic_load_explicit(&sticky, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
    return 1;
}

void *core_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *core_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

void *core_realloc(void *p, size_t n)
{
    if (n == 0)
        return realloc(p, n);
    return should_fail() ? NULL : realloc(p, n);
}

char *core_strdup(const char *s)
{
    return should_fail() ? NULL : strdup(s);
}

char *core_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : strndup(s, n);
}

void *core_aligned_alloc(size_t align, size_t n)
{
    return should_fail() ? NULL : aligned_alloc(align, n);
}

void core_alloc_fail_at(long n, core_alloc_mode_t mode)
{
    atomic_store(&fail_at, 0);
    atomic_store(&count, 0);
    atomic_store(&failures, 0);
    atomic_store(&sticky, mode == CORE_ALLOC_STICKY);
    atomic_store(&fail_at, n > 0 ? n : 0);
}

long core_alloc_count(void)
{
    return atomic_load(&count);
}

long core_alloc_failures(void)
{
    return atomic_load(&failures);
}

#else

/* ISO C wants a translation unit to declare something. */
typedef int core_alloc_unused;

#endif
