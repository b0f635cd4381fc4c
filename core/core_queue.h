/*
 * core_queue: a bounded multi-producer multi-consumer queue of pointers.
 *
 * A ring buffer under one mutex with two condition variables. Producers block
 * while it is full, consumers while it is empty, each up to a timeout.
 * Shutdown is close-and-drain: after core_queue_close, pushes fail with
 * CORE_ECLOSED at once, while pops keep returning the remaining elements and
 * fail with CORE_ECLOSED only once the queue is empty. Every blocked thread
 * is woken by close. The queue never owns what the pointers point to; the
 * element's owner changes from pusher to popper.
 *
 * All functions may be called from any thread. Timeouts are in milliseconds:
 * 0 means do not wait, a negative value means wait forever.
 */
#ifndef CORE_QUEUE_H
#define CORE_QUEUE_H

#include <stddef.h>

#include "core/core_error.h"

typedef struct core_queue core_queue_t;

/* core_queue_new makes a queue holding at most capacity (>= 1) elements. */
core_err_t core_queue_new(size_t capacity, core_queue_t **out);

/* core_queue_free frees the queue; elements still in it are not freed (drain
 * it first). No thread may be using it. NULL is a no-op. */
void core_queue_free(core_queue_t *q);

/* core_queue_push appends p. Returns CORE_OK, CORE_ETIMEOUT (still full when
 * the timeout ran out; p not taken) or CORE_ECLOSED (p not taken). */
core_err_t core_queue_push(core_queue_t *q, void *p, int timeout_ms);

/* core_queue_pop removes the oldest element into *out. Returns CORE_OK,
 * CORE_ETIMEOUT, or CORE_ECLOSED when closed and empty. */
core_err_t core_queue_pop(core_queue_t *q, void **out, int timeout_ms);

/* core_queue_pop_batch is the batcher's pop: it waits up to first_timeout_ms
 * for a first element, then keeps taking elements until it has max of them
 * or linger_ms have passed since the first one arrived. *n receives the
 * count. Returns CORE_OK when *n > 0, else CORE_ETIMEOUT or CORE_ECLOSED. */
core_err_t core_queue_pop_batch(core_queue_t *q, void **out, size_t max, size_t *n,
                                int first_timeout_ms, int linger_ms);

/* core_queue_close stops pushes and wakes every waiter. Idempotent. */
void core_queue_close(core_queue_t *q);

/* core_queue_depth: elements now in the queue (a snapshot). */
size_t core_queue_depth(core_queue_t *q);

/* core_queue_capacity: the bound given at creation. */
size_t core_queue_capacity(const core_queue_t *q);

#endif
