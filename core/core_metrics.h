/*
 * core_metrics: a registry of counters, gauges and histograms by name, and
 * their rendering in the Prometheus text exposition format (version 0.0.4).
 *
 * A metric is identified by its name plus a label set written as Prometheus
 * label pairs without braces (`source="kafka",reason="json"`; build values
 * with core_metrics_label so they are escaped). Registering the same name and
 * labels twice returns the same metric, so modules can look metrics up
 * instead of passing them around. Metric objects live as long as the
 * registry.
 *
 * Threads: registration takes a mutex; updates are lock-free atomics and may
 * come from any thread; rendering takes the mutex and reads the atomics.
 */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

typedef struct core_metrics core_metrics_t;
typedef struct core_metric core_counter_t;
typedef struct core_metric core_gauge_t;
typedef struct core_metric core_histogram_t;

core_err_t core_metrics_new(core_metrics_t **out);
void core_metrics_free(core_metrics_t *m);

/* Each returns the metric, or NULL when out of memory, when the name is not a
 * valid Prometheus name, or when the name is already registered with another
 * type or help text of another type. labels may be NULL or "". */
core_counter_t *core_metrics_counter(core_metrics_t *m, const char *name, const char *labels,
                                     const char *help);
core_gauge_t *core_metrics_gauge(core_metrics_t *m, const char *name, const char *labels,
                                 const char *help);
/* bounds: ascending upper bounds of the buckets (+Inf is implicit), copied. */
core_histogram_t *core_metrics_histogram(core_metrics_t *m, const char *name, const char *labels,
                                         const char *help, const double *bounds, size_t nbounds);

/* Updates; NULL metrics are ignored so a failed registration degrades to no
 * metric rather than a crash. */
void core_counter_add(core_counter_t *c, uint64_t n);
void core_gauge_set(core_gauge_t *g, double v);
void core_gauge_add(core_gauge_t *g, double delta);
void core_histogram_observe(core_histogram_t *h, double v);

uint64_t core_counter_value(const core_counter_t *c);
double core_gauge_value(const core_gauge_t *g);
uint64_t core_histogram_count(const core_histogram_t *h);

/* core_metrics_render writes the whole registry as Prometheus text into a
 * malloc'd string (*out, caller frees). */
core_err_t core_metrics_render(core_metrics_t *m, char **out, size_t *len);

/* core_metrics_label writes key="value" with value escaped (\\, \", \n)
 * into buf; returns buf. Truncates to cap. */
char *core_metrics_label(char *buf, size_t cap, const char *key, const char *value);

/* Standard latency buckets in seconds, 0.5 ms to 60 s. */
extern const double core_metrics_latency_buckets[];
extern const size_t core_metrics_latency_nbuckets;

#endif
