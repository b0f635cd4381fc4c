/* Tests of core_queue: order, timeouts, close-and-drain, pop_batch, and a
 * multi-producer multi-consumer stress test that checks every element
 * arrives exactly once (run under ThreadSanitizer by scripts/test). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core_queue.h"
#include "core/core_time.h"
#include "tests/core/suites.h"

START_TEST(fifo_and_bounds)
{
    core_queue_t *q;
    void *p;
    ck_assert_int_eq(core_queue_new(0, &q), CORE_EINVAL);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(core_queue_new(3, &q), CORE_OK);
    ck_assert_uint_eq(core_queue_capacity(q), 3);
    for (intptr_t i = 1; i <= 3; i++)
        ck_assert_int_eq(core_queue_push(q, (void *)i, 0), CORE_OK);
    ck_assert_uint_eq(core_queue_depth(q), 3);
    ck_assert_int_eq(core_queue_push(q, (void *)4, 0), CORE_ETIMEOUT);
    for (intptr_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(core_queue_pop(q, &p, 0), CORE_OK);
        ck_assert_ptr_eq(p, (void *)i);
    }
    ck_assert_int_eq(core_queue_pop(q, &p, 0), CORE_ETIMEOUT);
    /* wrap around the ring */
    for (intptr_t r = 0; r < 10; r++) {
        ck_assert_int_eq(core_queue_push(q, (void *)(r + 100), 0), CORE_OK);
        ck_assert_int_eq(core_queue_pop(q, &p, 0), CORE_OK);
        ck_assert_ptr_eq(p, (void *)(r + 100));
    }
    core_queue_free(q);
    core_queue_free(NULL);
}
END_TEST

START_TEST(timeouts_wait)
{
    core_queue_t *q;
    void *p;
    int64_t t0;
    ck_assert_int_eq(core_queue_new(1, &q), CORE_OK);
    t0 = core_time_mono_ms();
    ck_assert_int_eq(core_queue_pop(q, &p, 50), CORE_ETIMEOUT);
    ck_assert_int_ge(core_time_mono_ms() - t0, 45);
    ck_assert_int_eq(core_queue_push(q, (void *)1, 0), CORE_OK);
    t0 = core_time_mono_ms();
    ck_assert_int_eq(core_queue_push(q, (void *)2, 50), CORE_ETIMEOUT);
    ck_assert_int_ge(core_time_mono_ms() - t0, 45);
    ck_assert_uint_eq(core_queue_depth(q), 1);
    core_queue_free(q);
}
END_TEST

static void *close_later(void *arg)
{
    usleep(30000);
    core_queue_close(arg);
    return NULL;
}

START_TEST(close_and_drain)
{
    core_queue_t *q;
    pthread_t th;
    void *p;
    ck_assert_int_eq(core_queue_new(4, &q), CORE_OK);
    ck_assert_int_eq(core_queue_push(q, (void *)1, 0), CORE_OK);
    ck_assert_int_eq(core_queue_push(q, (void *)2, 0), CORE_OK);
    core_queue_close(q);
    core_queue_close(q); /* idempotent */
    ck_assert_int_eq(core_queue_push(q, (void *)3, -1), CORE_ECLOSED);
    ck_assert_int_eq(core_queue_pop(q, &p, -1), CORE_OK);
    ck_assert_ptr_eq(p, (void *)1);
    ck_assert_int_eq(core_queue_pop(q, &p, -1), CORE_OK);
    ck_assert_ptr_eq(p, (void *)2);
    ck_assert_int_eq(core_queue_pop(q, &p, -1), CORE_ECLOSED);
    core_queue_free(q);

    /* close wakes a consumer blocked forever on an empty queue */
    ck_assert_int_eq(core_queue_new(1, &q), CORE_OK);
    ck_assert_int_eq(pthread_create(&th, NULL, close_later, q), 0);
    ck_assert_int_eq(core_queue_pop(q, &p, -1), CORE_ECLOSED);
    pthread_join(th, NULL);
    core_queue_free(q);

    /* and a producer blocked forever on a full one */
    ck_assert_int_eq(core_queue_new(1, &q), CORE_OK);
    ck_assert_int_eq(core_queue_push(q, (void *)1, 0), CORE_OK);
    ck_assert_int_eq(pthread_create(&th, NULL, close_later, q), 0);
    ck_assert_int_eq(core_queue_push(q, (void *)2, -1), CORE_ECLOSED);
    pthread_join(th, NULL);
    ck_assert_int_eq(core_queue_pop(q, &p, 0), CORE_OK);
    ck_assert_ptr_eq(p, (void *)1);
    core_queue_free(q);
}
END_TEST

static void *push_slowly(void *arg)
{
    for (intptr_t i = 1; i <= 3; i++) {
        usleep(5000);
        core_queue_push(arg, (void *)i, -1);
    }
    return NULL;
}

START_TEST(pop_batch_linger)
{
    core_queue_t *q;
    void *out[8];
    size_t n;
    pthread_t th;
    int64_t t0;

    ck_assert_int_eq(core_queue_new(16, &q), CORE_OK);
    ck_assert_int_eq(core_queue_pop_batch(q, out, 8, &n, 0, 0), CORE_ETIMEOUT);
    ck_assert_uint_eq(n, 0);
    for (intptr_t i = 1; i <= 10; i++)
        ck_assert_int_eq(core_queue_push(q, (void *)i, 0), CORE_OK);
    /* size-bound flush */
    ck_assert_int_eq(core_queue_pop_batch(q, out, 8, &n, 0, 1000), CORE_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_ptr_eq(out[0], (void *)1);
    ck_assert_ptr_eq(out[7], (void *)8);
    /* no linger: returns what is there */
    ck_assert_int_eq(core_queue_pop_batch(q, out, 8, &n, 0, 0), CORE_OK);
    ck_assert_uint_eq(n, 2);
    /* linger collects elements that arrive after the first: three pushed 5 ms
     * apart, a batch of three. It returns when the batch is full, so the
     * 30 s linger is only a deadline for a busy machine (with a batch of 8
     * and a 1 s linger, a pusher thread descheduled for a second made the
     * batch end short). */
    ck_assert_int_eq(pthread_create(&th, NULL, push_slowly, q), 0);
    ck_assert_int_eq(core_queue_pop_batch(q, out, 3, &n, 30000, 30000), CORE_OK);
    pthread_join(th, NULL);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_eq(out[2], (void *)3);
    /* the linger ends at its deadline when the batch does not fill */
    ck_assert_int_eq(core_queue_push(q, (void *)4, 0), CORE_OK);
    t0 = core_time_mono_ms();
    ck_assert_int_eq(core_queue_pop_batch(q, out, 8, &n, 0, 100), CORE_OK);
    ck_assert_int_ge(core_time_mono_ms() - t0, 95);
    ck_assert_uint_eq(n, 1);
    core_queue_close(q);
    ck_assert_int_eq(core_queue_pop_batch(q, out, 8, &n, -1, 100), CORE_ECLOSED);
    core_queue_free(q);
}
END_TEST

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 20000

typedef struct stress {
    core_queue_t *q;
    int id;
    _Atomic unsigned char *seen;
    atomic_long popped;
    atomic_int dupes;
} stress;

typedef struct worker {
    stress *st;
    int id;
} worker;

static void *producer(void *arg)
{
    worker *w = arg;
    for (intptr_t i = 0; i < PER_PRODUCER; i++) {
        intptr_t v = w->id * PER_PRODUCER + i + 1;
        core_err_t rc;
        while ((rc = core_queue_push(w->st->q, (void *)v, (int)(i % 3))) == CORE_ETIMEOUT)
            ;
        ck_assert_int_eq(rc, CORE_OK);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    worker *w = arg;
    void *batch[16];
    size_t n;
    for (;;) {
        core_err_t rc = w->id % 2 ? core_queue_pop_batch(w->st->q, batch, 16, &n, 5, 1)
                                  : core_queue_pop(w->st->q, batch, 5);
        if (rc == CORE_ECLOSED)
            break;
        if (rc == CORE_ETIMEOUT)
            continue;
        if (w->id % 2 == 0)
            n = 1;
        for (size_t k = 0; k < n; k++) {
            intptr_t v = (intptr_t)batch[k];
            if (atomic_fetch_add(&w->st->seen[v - 1], 1) != 0)
                atomic_fetch_add(&w->st->dupes, 1);
            atomic_fetch_add(&w->st->popped, 1);
        }
    }
    return NULL;
}

START_TEST(stress_exactly_once)
{
    stress st = {0};
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    worker pw[PRODUCERS], cw[CONSUMERS];
    const long total = (long)PRODUCERS * PER_PRODUCER;

    ck_assert_int_eq(core_queue_new(64, &st.q), CORE_OK);
    st.seen = calloc((size_t)total, 1);
    ck_assert_ptr_nonnull(st.seen);
    for (int i = 0; i < CONSUMERS; i++) {
        cw[i] = (worker){&st, i};
        ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer, &cw[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pw[i] = (worker){&st, i};
        ck_assert_int_eq(pthread_create(&pt[i], NULL, producer, &pw[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    core_queue_close(st.q);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(ct[i], NULL);
    ck_assert_int_eq(atomic_load(&st.dupes), 0);
    ck_assert_int_eq(atomic_load(&st.popped), total);
    for (long i = 0; i < total; i++)
        ck_assert_msg(st.seen[i] == 1, "element %ld seen %d times", i + 1, st.seen[i]);
    ck_assert_uint_eq(core_queue_depth(st.q), 0);
    free((void *)st.seen);
    core_queue_free(st.q);
}
END_TEST

Suite *suite_queue(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("basic");
    TCase *ts = tcase_create("stress");
    tcase_add_test(tc, fifo_and_bounds);
    tcase_add_test(tc, timeouts_wait);
    tcase_add_test(tc, close_and_drain);
    tcase_add_test(tc, pop_batch_linger);
    tcase_add_test(ts, stress_exactly_once);
    tcase_set_timeout(ts, 300);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, ts);
    return s;
}
