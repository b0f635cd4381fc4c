/* Tests of core_gate: every generation is run by every worker exactly once
 * and its results are seen by the opener, whether the waits spin, sleep,
 * or both (spin 0, a short spin, and a spin longer than the test); slow
 * workers make the opener sleep in wait_done; stop ends every wait. The
 * shared data are plain (not atomic) ints, so ThreadSanitizer (scripts/test)
 * reports a missing happens-before edge. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "core/core_gate.h"
#include "tests/core/suites.h"

#define WORKERS 3
#define GENS 2000

typedef struct ctx {
    core_gate_t g;
    int input;         /* written by the opener before each open */
    int out[WORKERS];  /* written by each worker before it finishes */
    int runs[WORKERS]; /* generations each worker ran */
    long slow_ns;      /* each part sleeps this long */
} ctx_t;

typedef struct member {
    ctx_t *c;
    int id;
} member_t;

static void nap(long ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    member_t *m = arg;
    ctx_t *c = m->c;
    unsigned seen = 0;
    while (core_gate_wait(&c->g, &seen)) {
        if (c->slow_ns)
            nap(c->slow_ns);
        c->out[m->id] = c->input * (m->id + 1);
        c->runs[m->id]++;
        core_gate_finish(&c->g);
    }
    return NULL;
}

static void run_gens(unsigned spin_us, int gens, long slow_ns, long opener_nap_ns)
{
    ctx_t c = {.slow_ns = slow_ns};
    member_t m[WORKERS];
    pthread_t t[WORKERS];
    ck_assert_int_eq(core_gate_init(&c.g, spin_us), CORE_OK);
    for (int i = 0; i < WORKERS; i++) {
        m[i] = (member_t){&c, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &m[i]), 0);
    }
    for (int gen = 1; gen <= gens; gen++) {
        if (opener_nap_ns)
            nap(opener_nap_ns); /* the workers are asleep by now */
        c.input = gen;
        core_gate_open(&c.g, WORKERS);
        core_gate_wait_done(&c.g);
        for (int i = 0; i < WORKERS; i++) {
            ck_assert_int_eq(c.out[i], gen * (i + 1));
            ck_assert_int_eq(c.runs[i], gen);
        }
    }
    core_gate_stop(&c.g);
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(c.runs[i], gens);
    core_gate_destroy(&c.g);
}

START_TEST(sleep_only)
{
    run_gens(0, GENS, 0, 0);
}
END_TEST

START_TEST(short_spin)
{
    run_gens(CORE_GATE_SPIN_US, GENS, 0, 0);
}
END_TEST

START_TEST(spin_longer_than_the_test)
{
    /* 4 threads spin on 2 cores here: fewer generations */
    run_gens(10u * 1000 * 1000, 200, 0, 0);
}
END_TEST

START_TEST(workers_asleep_before_open)
{
    /* the opener naps past the spin, so every open wakes sleepers */
    run_gens(50, 20, 0, 2 * 1000 * 1000);
    run_gens(0, 20, 0, 2 * 1000 * 1000);
}
END_TEST

START_TEST(opener_asleep_in_wait_done)
{
    /* the parts outlast the spin, so the last finisher wakes the opener */
    run_gens(50, 20, 2 * 1000 * 1000, 0);
    run_gens(0, 20, 2 * 1000 * 1000, 0);
}
END_TEST

START_TEST(stop_without_work)
{
    /* no generation at all: stop alone ends the waits, asleep or spinning */
    run_gens(0, 0, 0, 0);
    run_gens(10u * 1000 * 1000, 0, 0, 0);
}
END_TEST

Suite *suite_gate(void)
{
    Suite *s = suite_create("gate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sleep_only);
    tcase_add_test(tc, short_spin);
    tcase_add_test(tc, spin_longer_than_the_test);
    tcase_add_test(tc, workers_asleep_before_open);
    tcase_add_test(tc, opener_asleep_in_wait_done);
    tcase_add_test(tc, stop_without_work);
    suite_add_tcase(s, tc);
    return s;
}
