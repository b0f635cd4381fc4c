/*
 * ipipe: a stand-in for the pipeline in the ingest source tests. A thread
 * pops items from the source's queue (once `go` is set), records their ids,
 * and either acknowledges and frees them at once (ack = 1) or keeps them
 * unacknowledged in `kept` for the test (ack = 0).
 */
#ifndef TESTS_INGEST_IPIPE_H
#define TESTS_INGEST_IPIPE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/core_item.h"
#include "core/core_queue.h"

typedef struct pipe {
    core_queue_t *q;
    pthread_t thr;
    atomic_int stop;
    atomic_int go; /* pop only once set */
    int ack;       /* 1: ack at once; 0: keep items for the test */
    pthread_mutex_t mu;
    char **ids;
    core_item_t **kept;
    size_t n, cap;
} pipe_t;

void pipe_start(pipe_t *p, size_t qcap, int ack);
/* pipe_start_stopped: the same, but the thread pops nothing until go is set. */
void pipe_start_stopped(pipe_t *p, size_t qcap, int ack);
size_t pipe_count(pipe_t *p);
/* pipe_wait waits until n items arrived (up to timeout_ms); returns the count. */
size_t pipe_wait(pipe_t *p, size_t n, int timeout_ms);
/* pipe_stop joins the thread and frees what is left in the queue. */
void pipe_stop(pipe_t *p);
void pipe_free(pipe_t *p);
/* distinct ids across pipes (callers hold the locks or the threads are
 * stopped); *dups (may be NULL) receives the number of repeats. */
size_t distinct(pipe_t **ps, size_t np, size_t *dups);

#endif
