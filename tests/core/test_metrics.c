/* Tests of core_metrics: registration by name, updates from threads, and
 * the Prometheus text rendering. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_metrics.h"
#include "tests/core/suites.h"

START_TEST(register_and_render)
{
    core_metrics_t *m;
    char lab[64], *out;
    size_t len;
    static const double b[] = {0.1, 1};

    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    core_counter_t *c1 = core_metrics_counter(m, "finsent_items_in_total",
                                              core_metrics_label(lab, sizeof lab, "source", "kafka"),
                                              "Items read");
    core_counter_t *c2 = core_metrics_counter(m, "finsent_items_in_total", "source=\"rss\"",
                                              "Items read");
    core_gauge_t *g = core_metrics_gauge(m, "finsent_queue_depth", NULL, "Queue depth");
    core_histogram_t *h = core_metrics_histogram(m, "finsent_latency_seconds", "", "Latency", b, 2);
    ck_assert_ptr_nonnull(c1);
    ck_assert_ptr_nonnull(c2);
    ck_assert_ptr_ne(c1, c2);
    ck_assert_ptr_eq(core_metrics_counter(m, "finsent_items_in_total", "source=\"kafka\"", "x"),
                     c1);
    /* same name, other type: refused */
    ck_assert_ptr_null(core_metrics_gauge(m, "finsent_items_in_total", "", "x"));
    ck_assert_ptr_null(core_metrics_counter(m, "bad name", "", "x"));
    ck_assert_ptr_null(core_metrics_counter(m, "9lives", "", "x"));
    static const double unsorted[] = {1, 0.5};
    ck_assert_ptr_null(core_metrics_histogram(m, "h2", "", "x", unsorted, 2));
    core_counter_add(c1, 3);
    core_counter_add(c2, 1);
    core_counter_add(NULL, 1);
    core_gauge_set(g, 7);
    core_gauge_add(g, -2.5);
    core_histogram_observe(h, 0.05);
    core_histogram_observe(h, 0.5);
    core_histogram_observe(h, 5);
    ck_assert_uint_eq(core_counter_value(c1), 3);
    ck_assert(core_gauge_value(g) == 4.5);
    ck_assert_uint_eq(core_histogram_count(h), 3);
    ck_assert_int_eq(core_metrics_render(m, &out, &len), CORE_OK);
    ck_assert_uint_eq(strlen(out), len);
    ck_assert_str_eq(out, "# HELP finsent_items_in_total Items read\n"
                          "# TYPE finsent_items_in_total counter\n"
                          "finsent_items_in_total{source=\"kafka\"} 3\n"
                          "finsent_items_in_total{source=\"rss\"} 1\n"
                          "# HELP finsent_queue_depth Queue depth\n"
                          "# TYPE finsent_queue_depth gauge\n"
                          "finsent_queue_depth 4.5\n"
                          "# HELP finsent_latency_seconds Latency\n"
                          "# TYPE finsent_latency_seconds histogram\n"
                          "finsent_latency_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
                          "finsent_latency_seconds_bucket{le=\"1\"} 2\n"
                          "finsent_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                          "finsent_latency_seconds_sum 5.5499999999999998\n"
                          "finsent_latency_seconds_count 3\n");
    free(out);
    core_metrics_free(m);
    core_metrics_free(NULL);
}
END_TEST

START_TEST(label_escaping)
{
    char lab[64];
    ck_assert_str_eq(core_metrics_label(lab, sizeof lab, "feed", "a\"b\\c\nd"),
                     "feed=\"a\\\"b\\\\c\\nd\"");
    core_metrics_label(lab, 8, "feed", "abcdefghij");
    ck_assert_uint_lt(strlen(lab), 8);
}
END_TEST

static void *hammer(void *arg)
{
    core_metrics_t *m = arg;
    core_counter_t *c = core_metrics_counter(m, "hits_total", "", "hits");
    core_histogram_t *h = core_metrics_histogram(m, "lat", "", "lat", core_metrics_latency_buckets,
                                                 core_metrics_latency_nbuckets);
    for (int i = 0; i < 100000; i++) {
        core_counter_add(c, 1);
        core_histogram_observe(h, 0.001);
    }
    return NULL;
}

START_TEST(concurrent_updates)
{
    core_metrics_t *m;
    pthread_t th[4];
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(core_counter_value(core_metrics_counter(m, "hits_total", "", "hits")),
                      400000);
    ck_assert_uint_eq(core_histogram_count(core_metrics_histogram(
                          m, "lat", "", "lat", core_metrics_latency_buckets,
                          core_metrics_latency_nbuckets)),
                      400000);
    core_metrics_free(m);
}
END_TEST

Suite *suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, register_and_render);
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, concurrent_updates);
    suite_add_tcase(s, tc);
    return s;
}
