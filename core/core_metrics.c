/*
 * core_metrics: see core_metrics.h. Metrics are kept in one array in
 * registration order; rendering emits HELP and TYPE once per name, then every
 * label set of that name, in the order first registered. Doubles (gauges,
 * histogram sums) are stored as their bit patterns in atomic 64-bit words and
 * updated with compare-and-swap.
 */
#include "core/core_metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;

struct core_metric {
    mtype type;
    char *name, *labels, *help;
    _Atomic uint64_t value; /* counter value, or gauge double bits */
    double *bounds;
    size_t nbounds;
    _Atomic uint64_t *buckets; /* nbounds + 1 (the last is +Inf), not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits;
};

struct core_metrics {
    pthread_mutex_t lock;
    struct core_metric **all;
    size_t n, cap;
};

const double core_metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10,
                                               30,     60};
const size_t core_metrics_latency_nbuckets =
    sizeof core_metrics_latency_buckets / sizeof core_metrics_latency_buckets[0];

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

core_err_t core_metrics_new(core_metrics_t **out)
{
    core_metrics_t *m = core_calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return CORE_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return CORE_OK;
}

static void metric_free(struct core_metric *x)
{
    if (!x)
        return;
    core_free(x->name);
    core_free(x->labels);
    core_free(x->help);
    core_free(x->bounds);
    core_free((void *)x->buckets);
    core_free(x);
}

void core_metrics_free(core_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        metric_free(m->all[i]);
    core_free(m->all);
    pthread_mutex_destroy(&m->lock);
    core_free(m);
}

static int valid_name(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != ':')
            return 0;
    }
    return 1;
}

static struct core_metric *reg(core_metrics_t *m, mtype type, const char *name,
                               const char *labels, const char *help, const double *bounds,
                               size_t nb)
{
    struct core_metric *x = NULL;

    if (!valid_name(name))
        return NULL;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        struct core_metric *y = m->all[i];
        if (strcmp(y->name, name) != 0)
            continue;
        if (y->type != type) {
            x = NULL;
            goto out;
        }
        if (strcmp(y->labels, labels) == 0) {
            x = y;
            goto out;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        struct core_metric **grown = core_realloc(m->all, cap * sizeof *grown);
        if (!grown)
            goto out;
        m->all = grown;
        m->cap = cap;
    }
    x = core_calloc(1, sizeof *x);
    if (!x)
        goto out;
    x->type = type;
    x->name = core_strdup(name);
    x->labels = core_strdup(labels);
    x->help = core_strdup(help ? help : "");
    if (type == M_HISTOGRAM) {
        x->bounds = core_malloc((nb ? nb : 1) * sizeof(double));
        x->buckets = core_calloc(nb + 1, sizeof(uint64_t));
        if (x->bounds)
            memcpy(x->bounds, bounds, nb * sizeof(double));
        x->nbounds = nb;
    }
    if (!x->name || !x->labels || !x->help ||
        (type == M_HISTOGRAM && (!x->bounds || !x->buckets))) {
        metric_free(x);
        x = NULL;
        goto out;
    }
    if (type == M_GAUGE)
        atomic_store(&x->value, dbits(0.0));
    atomic_store(&x->sum_bits, dbits(0.0));
    m->all[m->n++] = x;
out:
    pthread_mutex_unlock(&m->lock);
    return x;
}

core_counter_t *core_metrics_counter(core_metrics_t *m, const char *name, const char *labels,
                                     const char *help)
{
    return reg(m, M_COUNTER, name, labels, help, NULL, 0);
}

core_gauge_t *core_metrics_gauge(core_metrics_t *m, const char *name, const char *labels,
                                 const char *help)
{
    return reg(m, M_GAUGE, name, labels, help, NULL, 0);
}

core_histogram_t *core_metrics_histogram(core_metrics_t *m, const char *name, const char *labels,
                                         const char *help, const double *bounds, size_t nbounds)
{
    for (size_t i = 1; i < nbounds; i++) {
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    }
    return reg(m, M_HISTOGRAM, name, labels, help, bounds, nbounds);
}

void core_counter_add(core_counter_t *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void core_gauge_set(core_gauge_t *g, double v)
{
    if (g)
        atomic_store_explicit(&g->value, dbits(v), memory_order_relaxed);
}

static void add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbits(bitsd(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void core_gauge_add(core_gauge_t *g, double delta)
{
    if (g)
        add_double(&g->value, delta);
}

void core_histogram_observe(core_histogram_t *h, double v)
{
    size_t i = 0;
    if (!h)
        return;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

uint64_t core_counter_value(const core_counter_t *c)
{
    return c ? atomic_load(&((struct core_metric *)c)->value) : 0;
}

double core_gauge_value(const core_gauge_t *g)
{
    return g ? bitsd(atomic_load(&((struct core_metric *)g)->value)) : 0.0;
}

uint64_t core_histogram_count(const core_histogram_t *h)
{
    return h ? atomic_load(&((struct core_metric *)h)->count) : 0;
}

char *core_metrics_label(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = (size_t)snprintf(buf, cap, "%s=\"", key);
    for (const char *v = value; *v && n + 4 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            buf[n++] = '\\';
            buf[n++] = *v;
        } else if (*v == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = *v;
        }
    }
    if (n + 2 <= cap) {
        buf[n++] = '"';
        buf[n] = '\0';
    } else if (cap) {
        buf[cap - 1] = '\0';
    }
    return buf;
}

/* A growable string for rendering. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *grown = core_realloc(b->p, cap);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
}

static void fmt_double(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.17g", v);
}

core_err_t core_metrics_render(core_metrics_t *m, char **out, size_t *len)
{
    static const char *const tnames[] = {"counter", "gauge", "histogram"};
    sbuf b = {0};
    unsigned char *done;

    *out = NULL;
    b.cap = 4096;
    b.p = core_malloc(b.cap);
    if (!b.p)
        return CORE_ENOMEM;
    b.p[0] = '\0';
    pthread_mutex_lock(&m->lock);
    done = core_calloc(m->n ? m->n : 1, 1);
    if (!done) {
        pthread_mutex_unlock(&m->lock);
        core_free(b.p);
        return CORE_ENOMEM;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (done[i])
            continue;
        struct core_metric *head = m->all[i];
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", head->name, head->help, head->name,
                  tnames[head->type]);
        for (size_t j = i; j < m->n; j++) {
            struct core_metric *x = m->all[j];
            const char *lb = x->labels, *sep = x->labels[0] ? "," : "";
            char num[64];
            if (done[j] || strcmp(x->name, head->name) != 0)
                continue;
            done[j] = 1;
            if (x->type == M_COUNTER) {
                sb_printf(&b, "%s%s%s%s %llu\n", x->name, lb[0] ? "{" : "", lb, lb[0] ? "}" : "",
                          (unsigned long long)atomic_load(&x->value));
            } else if (x->type == M_GAUGE) {
                fmt_double(num, sizeof num, bitsd(atomic_load(&x->value)));
                sb_printf(&b, "%s%s%s%s %s\n", x->name, lb[0] ? "{" : "", lb, lb[0] ? "}" : "",
                          num);
            } else {
                uint64_t cum = 0;
                for (size_t k = 0; k <= x->nbounds; k++) {
                    cum += atomic_load(&x->buckets[k]);
                    if (k < x->nbounds)
                        fmt_double(num, sizeof num, x->bounds[k]);
                    else
                        snprintf(num, sizeof num, "+Inf");
                    sb_printf(&b, "%s_bucket{%s%sle=\"%s\"} %llu\n", x->name, lb, sep, num,
                              (unsigned long long)cum);
                }
                fmt_double(num, sizeof num, bitsd(atomic_load(&x->sum_bits)));
                sb_printf(&b, "%s_sum%s%s%s %s\n", x->name, lb[0] ? "{" : "", lb,
                          lb[0] ? "}" : "", num);
                sb_printf(&b, "%s_count%s%s%s %llu\n", x->name, lb[0] ? "{" : "", lb,
                          lb[0] ? "}" : "", (unsigned long long)atomic_load(&x->count));
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    core_free(done);
    if (b.oom) {
        core_free(b.p);
        return CORE_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return CORE_OK;
}
