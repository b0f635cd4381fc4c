/*
 * core_gate: how a thread hands work to a fixed set of sleeping threads and
 * waits for them to finish, with a short bounded spin before each sleep.
 *
 * The opener sets up the work, then core_gate_open(g, n): n threads are
 * expected to finish it and the generation moves on. Each worker waits for
 * a new generation in core_gate_wait (returns 0 once the gate is stopped),
 * does its share and calls core_gate_finish; the opener waits for all n in
 * core_gate_wait_done. Everything the opener wrote before core_gate_open is
 * visible to a worker that core_gate_wait returned to, and everything the
 * workers wrote before core_gate_finish to the opener after
 * core_gate_wait_done.
 *
 * Why spin: the encoder hands out one part of every dense layer to its team
 * (a batch of one item at light load), 48 hand-overs per BERT-base item,
 * each a few tens to a few hundred microseconds of work. A condition
 * variable alone costs a futex wake-up per hand-over, and on a VM the woken
 * vCPU takes tens of microseconds to run: batch 1 on two threads was slower
 * than on one (docs/engine.md). So each wait first polls for up to spin_us
 * microseconds (the CPU's pause instruction between polls), then sleeps on
 * the condition variable as before; the waker signals only when somebody
 * sleeps. A worker idle for longer than spin_us costs nothing, and the spin
 * is bounded, so a daemon sharing two cores with Redis loses at most that
 * much CPU per hand-over. spin_us 0 never spins.
 *
 * A gate is used by one opener at a time; any number of workers.
 */
#ifndef CORE_GATE_H
#define CORE_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/core_error.h"

/* The default spin before sleeping, microseconds (docs/engine.md). */
#define CORE_GATE_SPIN_US 200

typedef struct core_gate {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_uint gen;
    atomic_size_t busy;
    atomic_int stop;
    atomic_int sleepers_go, sleepers_done; /* threads asleep on go / done */
    unsigned spin_us;
} core_gate_t;

/* core_gate_init: CORE_OK or CORE_ENOMEM (the mutex or a condition variable
 * could not be made; nothing is left to destroy). */
core_err_t core_gate_init(core_gate_t *g, unsigned spin_us);
/* core_gate_destroy: no thread may be waiting. */
void core_gate_destroy(core_gate_t *g);

/* core_gate_open: n workers will finish this generation; wakes them. */
void core_gate_open(core_gate_t *g, size_t n);
/* core_gate_wait: waits until the generation differs from *seen (then 1,
 * *seen updated) or the gate is stopped (0). */
int core_gate_wait(core_gate_t *g, unsigned *seen);
/* core_gate_finish: this worker's share is done. */
void core_gate_finish(core_gate_t *g);
/* core_gate_wait_done: waits until every worker of the generation finished. */
void core_gate_wait_done(core_gate_t *g);
/* core_gate_stop: every core_gate_wait returns 0 from now on. */
void core_gate_stop(core_gate_t *g);

#endif
