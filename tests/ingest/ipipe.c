/* ipipe: the pipeline stand-in shared by the ingest source tests (see ipipe.h). */
#include "tests/ingest/ipipe.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_item.h"
#include "core/core_time.h"

static void *pipe_main(void *arg)
{
    pipe_t *p = arg;
    while (!atomic_load(&p->stop)) {
        void *v;
        if (!atomic_load(&p->go)) {
            usleep(2000);
            continue;
        }
        if (core_queue_pop(p->q, &v, 50) != CORE_OK)
            continue;
        core_item_t *it = v;
        pthread_mutex_lock(&p->mu);
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 256;
            p->ids = realloc(p->ids, p->cap * sizeof *p->ids);
            p->kept = realloc(p->kept, p->cap * sizeof *p->kept);
        }
        p->ids[p->n] = strdup(it->id);
        p->kept[p->n] = p->ack ? NULL : it;
        p->n++;
        pthread_mutex_unlock(&p->mu);
        if (p->ack) {
            core_item_ack(it, CORE_OK);
            core_item_free(it);
        }
    }
    return NULL;
}

void pipe_start_stopped(pipe_t *p, size_t qcap, int ack)
{
    memset(p, 0, sizeof *p);
    ck_assert_int_eq(core_queue_new(qcap, &p->q), CORE_OK);
    pthread_mutex_init(&p->mu, NULL);
    p->ack = ack;
    ck_assert_int_eq(pthread_create(&p->thr, NULL, pipe_main, p), 0);
}

void pipe_start(pipe_t *p, size_t qcap, int ack)
{
    memset(p, 0, sizeof *p);
    ck_assert_int_eq(core_queue_new(qcap, &p->q), CORE_OK);
    pthread_mutex_init(&p->mu, NULL);
    p->ack = ack;
    atomic_store(&p->go, 1);
    ck_assert_int_eq(pthread_create(&p->thr, NULL, pipe_main, p), 0);
}

size_t pipe_count(pipe_t *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* pipe_wait waits until n items arrived (up to timeout_ms); returns the count. */
size_t pipe_wait(pipe_t *p, size_t n, int timeout_ms)
{
    int64_t end = core_time_mono_ms() + timeout_ms;
    while (pipe_count(p) < n && core_time_mono_ms() < end)
        usleep(10000);
    return pipe_count(p);
}

void pipe_stop(pipe_t *p)
{
    void *v;
    atomic_store(&p->stop, 1);
    pthread_join(p->thr, NULL);
    while (core_queue_pop(p->q, &v, 0) == CORE_OK)
        core_item_free(v);
}

void pipe_free(pipe_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->ids[i]);
        core_item_free(p->kept[i]);
    }
    free(p->ids);
    free(p->kept);
    core_queue_free(p->q);
    pthread_mutex_destroy(&p->mu);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* distinct ids across pipes; *dups receives the number of repeats. */
size_t distinct(pipe_t **ps, size_t np, size_t *dups)
{
    size_t total = 0, k = 0, d = 0;
    char **all;
    for (size_t i = 0; i < np; i++)
        total += ps[i]->n;
    all = malloc((total + 1) * sizeof *all);
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < ps[i]->n; j++)
            all[k++] = ps[i]->ids[j];
    qsort(all, total, sizeof *all, cmp_str);
    for (size_t i = 0; i < total; i++)
        if (i > 0 && strcmp(all[i], all[i - 1]) == 0)
            d++;
    free(all);
    if (dups)
        *dups = d;
    return total - d;
}
