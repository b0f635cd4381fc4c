/*
 * core_alloc: the project's allocator, with a fail-the-N-th hook for tests.
 *
 * Our code allocates through core_malloc, core_calloc, core_realloc,
 * core_strdup, core_strndup and core_aligned_alloc, and releases with
 * core_free; they behave like
 * the C library calls they wrap (memory from one may be released with
 * free(), and memory from libc, jansson or librdkafka with core_free).
 * Allocations made inside jansson, hiredis, librdkafka, libcurl or libxml2
 * do not go through here.
 *
 * The hook exists only when the build defines FINSENT_ALLOC_HOOK (CMake
 * option of the same name, on with the test suites). Without it every
 * wrapper is an inline call of the libc function: release builds pay
 * nothing. With it, core_alloc_fail_at(n) makes the n-th allocation from
 * now fail (return NULL), like SQLite's test_malloc.c: once
 * (CORE_ALLOC_ONCE, later ones succeed again) or from there on
 * (CORE_ALLOC_STICKY). A test loops n = 1, 2, ... over an operation until
 * it succeeds with core_alloc_failures() == 0: then every allocation the
 * operation makes has been failed once. core_free and a core_realloc to
 * size 0 are never failed. The counters are atomics, so allocations on
 * other threads count too; a test that arms the hook makes sure no other
 * thread of its process allocates through here meanwhile.
 */
#ifndef CORE_ALLOC_H
#define CORE_ALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef FINSENT_ALLOC_HOOK

void *core_malloc(size_t n);
void *core_calloc(size_t n, size_t size);
void *core_realloc(void *p, size_t n);
char *core_strdup(const char *s);
char *core_strndup(const char *s, size_t n);
void *core_aligned_alloc(size_t align, size_t n);

typedef enum core_alloc_mode {
    CORE_ALLOC_ONCE = 0,  /* only the n-th allocation fails */
    CORE_ALLOC_STICKY = 1 /* the n-th and all later ones fail */
} core_alloc_mode_t;

/* core_alloc_fail_at arms the hook: the n-th allocation from now fails (n
 * >= 1); n == 0 disarms it. Resets the counts below. Any thread. */
void core_alloc_fail_at(long n, core_alloc_mode_t mode);

/* core_alloc_count: allocations attempted since core_alloc_fail_at armed
 * the hook (disarmed, nothing is counted: arm it at a large n to count). */
long core_alloc_count(void);

/* core_alloc_failures: allocations the hook failed since core_alloc_fail_at. */
long core_alloc_failures(void);

#else

static inline void *core_malloc(size_t n)
{
    return malloc(n);
}
static inline void *core_calloc(size_t n, size_t size)
{
    return calloc(n, size);
}
static inline void *core_realloc(void *p, size_t n)
{
    return realloc(p, n);
}
static inline char *core_strdup(const char *s)
{
    return strdup(s);
}
static inline char *core_strndup(const char *s, size_t n)
{
    return strndup(s, n);
}
static inline void *core_aligned_alloc(size_t align, size_t n)
{
    return aligned_alloc(align, n);
}

#endif

static inline void core_free(void *p)
{
    free(p);
}

#endif
