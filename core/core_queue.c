/*
 * core_queue: see core_queue.h. Invariants, under q->lock: 0 <= count <= cap;
 * elements live at slots head, head+1, ... (mod cap); closed only goes from 0
 * to 1. Waits use CLOCK_MONOTONIC deadlines so a wall-clock jump cannot
 * stretch or cut a timeout. Signals are sent while holding the lock so a
 * waiter cannot miss a wake-up between its check and its wait.
 */
#include "core/core_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/core_alloc.h"
#include "core/core_time.h"

struct core_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **slots;
    size_t cap, head, count;
    int closed;
};

core_err_t core_queue_new(size_t capacity, core_queue_t **out)
{
    core_queue_t *q = NULL;
    pthread_condattr_t attr;

    *out = NULL;
    if (capacity == 0)
        return CORE_EINVAL;
    q = core_calloc(1, sizeof *q);
    if (!q)
        return CORE_ENOMEM;
    q->slots = core_calloc(capacity, sizeof(void *));
    if (!q->slots) {
        core_free(q);
        return CORE_ENOMEM;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    *out = q;
    return CORE_OK;
}

void core_queue_free(core_queue_t *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    core_free(q->slots);
    core_free(q);
}

/* Waits on cv until pred holds, the queue closes, or the deadline passes.
 * Returns 0 when it may proceed to check the predicate again, ETIMEDOUT
 * otherwise. Caller holds q->lock. */
static int wait_on(core_queue_t *q, pthread_cond_t *cv, int timeout_ms,
                   const struct timespec *deadline)
{
    if (timeout_ms == 0)
        return ETIMEDOUT;
    if (timeout_ms < 0)
        return pthread_cond_wait(cv, &q->lock);
    return pthread_cond_timedwait(cv, &q->lock, deadline);
}

core_err_t core_queue_push(core_queue_t *q, void *p, int timeout_ms)
{
    struct timespec dl = core_time_deadline(CLOCK_MONOTONIC, timeout_ms);
    core_err_t err = CORE_OK;

    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->count == q->cap) {
        if (wait_on(q, &q->not_full, timeout_ms, &dl) == ETIMEDOUT) {
            if (!q->closed && q->count == q->cap)
                err = CORE_ETIMEOUT;
            break;
        }
    }
    if (err == CORE_OK) {
        if (q->closed) {
            err = CORE_ECLOSED;
        } else {
            q->slots[(q->head + q->count) % q->cap] = p;
            q->count++;
            pthread_cond_signal(&q->not_empty);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return err;
}

/* Takes the head element. Caller holds the lock and has checked count > 0. */
static void *take(core_queue_t *q)
{
    void *p = q->slots[q->head];
    q->slots[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    return p;
}

core_err_t core_queue_pop(core_queue_t *q, void **out, int timeout_ms)
{
    size_t n = 0;
    return core_queue_pop_batch(q, out, 1, &n, timeout_ms, 0);
}

core_err_t core_queue_pop_batch(core_queue_t *q, void **out, size_t max, size_t *n,
                                int first_timeout_ms, int linger_ms)
{
    struct timespec dl = core_time_deadline(CLOCK_MONOTONIC, first_timeout_ms);
    core_err_t err = CORE_OK;

    *n = 0;
    if (max == 0)
        return CORE_EINVAL;
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed) {
        if (wait_on(q, &q->not_empty, first_timeout_ms, &dl) == ETIMEDOUT)
            break;
    }
    if (q->count == 0) {
        err = q->closed ? CORE_ECLOSED : CORE_ETIMEOUT;
        goto out;
    }
    out[(*n)++] = take(q);
    dl = core_time_deadline(CLOCK_MONOTONIC, linger_ms);
    while (*n < max) {
        if (q->count > 0) {
            out[(*n)++] = take(q);
            continue;
        }
        if (q->closed || linger_ms <= 0)
            break;
        if (pthread_cond_timedwait(&q->not_empty, &q->lock, &dl) == ETIMEDOUT && q->count == 0)
            break;
    }
    /* More room may have opened for several producers at once. */
    pthread_cond_broadcast(&q->not_full);
out:
    pthread_mutex_unlock(&q->lock);
    return err;
}

void core_queue_close(core_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t core_queue_depth(core_queue_t *q)
{
    size_t n;
    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t core_queue_capacity(const core_queue_t *q)
{
    return q->cap;
}
