/*
 * bench/bench_util.h: what the single-thread kernel benchmarks
 * (bench_lowp, bench_kernels) share: this thread's CPU time, and a qsort
 * comparison for the rounds' times (the best and the median round are
 * reported). Header-only: each bench_*.c is its own executable.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <time.h>

/* bench_now: this thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID:
 * time the thread did not run does not count; another tenant's cache and
 * core traffic still does). Needs _POSIX_C_SOURCE >= 199309L. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* bench_cmp_double: ascending order of doubles, for qsort. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
