/* finsent stats: the current rolling negative rates per scope and window,
 * computed from the minute buckets in Redis (so they are current even when
 * no daemon is running), as a table ranked by the lower Wilson bound of
 * neg_rate (as the dashboard ranks them) or as JSON. Reads
 * only: nothing in Redis is changed. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "alerting/alr_rule.h"
#include "app/app.h"
#include "app/app_opts.h"
#include "core/core_log.h"

static double lower95(const alr_rate_t *r)
{
    return alr_wilson_lower(r->negative, r->n, alr_z_for_confidence(ALR_READ_RANK_CONFIDENCE));
}

static int by_rate(const void *a, const void *b)
{
    const alr_rate_t *x = a, *y = b;
    double lx = lower95(x), ly = lower95(y);
    int c;
    if (lx != ly)
        return lx < ly ? 1 : -1;
    if (x->neg_rate != y->neg_rate)
        return x->neg_rate < y->neg_rate ? 1 : -1;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    c = strcmp(x->scope, y->scope);
    return c ? c : x->window_min - y->window_min;
}

static int print_json(const alr_rate_t *rows, size_t n)
{
    json_t *arr = json_array();
    char *s;
    for (size_t i = 0; arr && i < n; i++) {
        char w[16];
        alr_window_name(rows[i].window_min, w, sizeof w);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f}", "scope", rows[i].scope,
                           "window", w, "n", (json_int_t)rows[i].n, "negative",
                           (json_int_t)rows[i].negative, "neutral", (json_int_t)rows[i].neutral,
                           "positive", (json_int_t)rows[i].positive, "neg_rate", rows[i].neg_rate,
                           "lower", round(lower95(&rows[i]) * 10000.0) / 10000.0));
    }
    s = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(arr);
    if (!s)
        return APP_EXIT_FAIL;
    printf("%s\n", s);
    free(s);
    return APP_EXIT_OK;
}

static void print_table(const alr_rate_t *rows, size_t n)
{
    printf("%-32s %6s %8s %8s %8s %8s %8s %8s\n", "SCOPE", "WINDOW", "N", "NEG", "NEU", "POS",
           "NEG_RATE", "LOWER95");
    for (size_t i = 0; i < n; i++) {
        char w[16];
        alr_window_name(rows[i].window_min, w, sizeof w);
        printf("%-32s %6s %8llu %8llu %8llu %8llu %8.4f %8.4f\n", rows[i].scope, w,
               (unsigned long long)rows[i].n, (unsigned long long)rows[i].negative,
               (unsigned long long)rows[i].neutral, (unsigned long long)rows[i].positive,
               rows[i].neg_rate, lower95(&rows[i]));
    }
    if (n == 0)
        printf("(no items in the window)\n");
}

/* window_kept: 1 when wmin is one of the reader's windows, else 0 after
 * listing them. */
static int window_kept(alr_reader_t *reader, int wmin, const char *window)
{
    const int *w;
    size_t nw = alr_reader_windows(reader, &w);
    for (size_t i = 0; i < nw; i++)
        if (w[i] == wmin)
            return 1;
    fprintf(stderr, "finsent stats: --window %s is not kept; windows are:", window);
    for (size_t i = 0; i < nw; i++) {
        char name[16];
        alr_window_name(w[i], name, sizeof name);
        fprintf(stderr, " %s", name);
    }
    fprintf(stderr, " (redis.windows and the rules' windows)\n");
    return 0;
}

int app_cmd_stats(int argc, char **argv)
{
    const char *window = NULL;
    size_t min_count = 1, nrows = 0, kept = 0;
    int json = 0, rc, wmin = 0;
    core_config_t *cfg = NULL;
    alr_reader_t *reader = NULL;
    alr_rate_t *rows = NULL;
    char err[512] = "";
    core_err_t e;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(&args, "config file (FINSENT_* variables and --set apply on top)"),
        APP_SET_ROW("override one key (repeatable)"),
        APP_STR("window", 'w', "W", &window,
                "only this window (one of redis.windows or a rule's window,\n"
                "e.g. 15m); default: every window"),
        APP_SIZE("min-count", 'n', "N", 0, LLONG_MAX, &min_count,
                 "hide rows with fewer than N items (default 1)"),
        APP_FLAG("json", 0, &json,
                 "print a JSON array of {scope, window, n, negative, neutral,\n"
                 "positive, neg_rate, lower} instead of a table"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent stats",
        .usage =
            "usage: finsent stats [-c FILE] [--set S.K=V ...] [--window W] [--min-count N] "
            "[--json]\n\n"
            "Print the rolling negative-sentiment rate of every scope (all, topic:*, entity:*)\n"
            "with items in the window, from the Redis named by [redis], ranked by the evidence "
            "for a\n"
            "high negative share: the lower bound of its Wilson interval at 95% (LOWER95), so\n"
            "2 negatives of 2 items rank below 105 of 126.\n\n",
        .footer = "Exit status 0, 1 when Redis cannot be read, 2 on bad usage.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 21,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_USAGE;
    if (window && alr_window_parse(window, &wmin) != CORE_OK) {
        fprintf(stderr, "finsent stats: --window: '%s' is not a window such as 5m, 15m, 1h\n",
                window);
        goto out;
    }
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    if (alr_reader_new(cfg, &reader, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent stats: config error: %s\n", err);
        goto out;
    }
    if (wmin && !window_kept(reader, wmin, window)) {
        rc = APP_EXIT_USAGE;
        goto out;
    }
    e = alr_read_bucket_rates(reader, wmin, &rows, &nrows, err, sizeof err);
    if (e != CORE_OK) {
        fprintf(stderr, "finsent stats: %s: %s\n", core_strerror(e), err);
        goto out;
    }
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].n >= (uint64_t)min_count && rows[i].n > 0)
            rows[kept++] = rows[i];
    }
    qsort(rows, kept, sizeof *rows, by_rate);
    if (json) {
        rc = print_json(rows, kept);
    } else {
        print_table(rows, kept);
        rc = APP_EXIT_OK;
    }
out:
    free(rows);
    alr_reader_free(reader);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
