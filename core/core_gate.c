/*
 * core_gate: see core_gate.h. No wake-up is lost although the waker skips
 * the condition variable when nobody sleeps: a sleeper counts itself in
 * (sleepers_*) before it reads the condition once more under the mutex, and
 * the waker changes the condition before it reads the count (all sequentially
 * consistent), so either the sleeper sees the change and does not sleep, or
 * the waker sees the sleeper and signals under the mutex, which the sleeper
 * holds until it waits.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/core_gate.h"

#include <stdint.h>
#include <time.h>

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

core_err_t core_gate_init(core_gate_t *g, unsigned spin_us)
{
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        return CORE_ENOMEM;
    if (pthread_cond_init(&g->go, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        return CORE_ENOMEM;
    }
    if (pthread_cond_init(&g->done, NULL) != 0) {
        pthread_cond_destroy(&g->go);
        pthread_mutex_destroy(&g->mu);
        return CORE_ENOMEM;
    }
    atomic_init(&g->gen, 0);
    atomic_init(&g->busy, 0);
    atomic_init(&g->stop, 0);
    atomic_init(&g->sleepers_go, 0);
    atomic_init(&g->sleepers_done, 0);
    g->spin_us = spin_us;
    return CORE_OK;
}

void core_gate_destroy(core_gate_t *g)
{
    pthread_cond_destroy(&g->done);
    pthread_cond_destroy(&g->go);
    pthread_mutex_destroy(&g->mu);
}

static void wake_all(core_gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->go);
    pthread_mutex_unlock(&g->mu);
}

void core_gate_open(core_gate_t *g, size_t n)
{
    atomic_store(&g->busy, n);
    atomic_fetch_add(&g->gen, 1);
    if (atomic_load(&g->sleepers_go) > 0)
        wake_all(g);
}

void core_gate_stop(core_gate_t *g)
{
    atomic_store(&g->stop, 1);
    wake_all(g);
}

typedef int (*ready_fn)(core_gate_t *g, const void *arg);

/* Polls until ready(g, arg) or spin_us have passed; 1 when ready. */
static int spin(core_gate_t *g, ready_fn ready, const void *arg)
{
    if (g->spin_us == 0)
        return ready(g, arg);
    int64_t end = now_ns() + (int64_t)g->spin_us * 1000;
    for (unsigned i = 1;; i++) {
        if (ready(g, arg))
            return 1;
        cpu_relax();
        if (i % 64 == 0 && now_ns() >= end)
            return ready(g, arg);
    }
}

static int opened(core_gate_t *g, const void *seen)
{
    return atomic_load(&g->stop) || atomic_load(&g->gen) != *(const unsigned *)seen;
}

static int finished(core_gate_t *g, const void *unused)
{
    (void)unused;
    return atomic_load(&g->busy) == 0;
}

/* Spins, then sleeps on cv (counted in sleepers), until ready(g, arg). */
static void wait_for(core_gate_t *g, ready_fn ready, const void *arg, pthread_cond_t *cv,
                     atomic_int *sleepers)
{
    if (spin(g, ready, arg))
        return;
    pthread_mutex_lock(&g->mu);
    atomic_fetch_add(sleepers, 1);
    while (!ready(g, arg))
        pthread_cond_wait(cv, &g->mu);
    atomic_fetch_sub(sleepers, 1);
    pthread_mutex_unlock(&g->mu);
}

int core_gate_wait(core_gate_t *g, unsigned *seen)
{
    wait_for(g, opened, seen, &g->go, &g->sleepers_go);
    if (atomic_load(&g->stop))
        return 0;
    *seen = atomic_load(&g->gen);
    return 1;
}

void core_gate_finish(core_gate_t *g)
{
    if (atomic_fetch_sub(&g->busy, 1) == 1 && atomic_load(&g->sleepers_done) > 0) {
        pthread_mutex_lock(&g->mu);
        pthread_cond_signal(&g->done);
        pthread_mutex_unlock(&g->mu);
    }
}

void core_gate_wait_done(core_gate_t *g)
{
    wait_for(g, finished, NULL, &g->done, &g->sleepers_done);
}
