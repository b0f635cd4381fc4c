/* finsent stats: the current rolling negative rates per scope and window,
 * computed from the minute buckets in Redis (so they are current even when
 * no daemon is running), as a table ranked by the lower Wilson bound of
 * neg_rate (as the dashboard ranks them) or as JSON. Reads
 * only: nothing in Redis is changed. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "alerting/alr_rule.h"
#include "app/app.h"
#include "core/core_log.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: finsent stats [-c FILE] [--set S.K=V ...] [--window W] [--min-count N] "
            "[--json]\n\n"
            "Print the rolling negative-sentiment rate of every scope (all, topic:*, entity:*)\n"
            "with items in the window, from the Redis named by [redis], ranked by the evidence for a\n"
            "high negative share: the lower bound of its Wilson interval at 95%% (LOWER95), so\n"
            "2 negatives of 2 items rank below 105 of 126.\n\n"
            "  -c, --config FILE  config file (FINSENT_* variables and --set apply on top)\n"
            "  --set S.K=V        override one key (repeatable)\n"
            "  -w, --window W     only this window (one of redis.windows or a rule's window,\n"
            "                     e.g. 15m); default: every window\n"
            "  -n, --min-count N  hide rows with fewer than N items (default 1)\n"
            "  --json             print a JSON array of {scope, window, n, negative, neutral,\n"
            "                     positive, neg_rate, lower} instead of a table\n"
            "Exit status 0, 1 when Redis cannot be read, 2 on bad usage.\n");
}

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

int app_cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"min-count", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *window = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0, nrows = 0, kept = 0;
    int json = 0, c, rc = APP_EXIT_USAGE, wmin = 0;
    long min_count = 1;
    core_config_t *cfg = NULL;
    alr_reader_t *reader = NULL;
    alr_rate_t *rows = NULL;
    char err[512] = "";
    core_err_t e;

    if (!sets)
        return APP_EXIT_FAIL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:w:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'w':
            window = optarg;
            break;
        case 'n': {
            char *end;
            min_count = strtol(optarg, &end, 10);
            if (*end || min_count < 0) {
                fprintf(stderr, "finsent stats: --min-count: '%s' is not a count\n", optarg);
                goto out;
            }
            break;
        }
        case 'j':
            json = 1;
            break;
        case 'h':
            help(stdout);
            rc = APP_EXIT_OK;
            goto out;
        default:
            help(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "finsent stats: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (window && alr_window_parse(window, &wmin) != CORE_OK) {
        fprintf(stderr, "finsent stats: --window: '%s' is not a window such as 5m, 15m, 1h\n",
                window);
        goto out;
    }
    rc = APP_EXIT_FAIL;
    cfg = app_config_build(path, sets, nsets);
    if (!cfg)
        goto out;
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    if (alr_reader_new(cfg, &reader, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent stats: config error: %s\n", err);
        goto out;
    }
    if (wmin) {
        const int *w;
        size_t nw = alr_reader_windows(reader, &w), i;
        for (i = 0; i < nw && w[i] != wmin; i++) {
        }
        if (i == nw) {
            fprintf(stderr, "finsent stats: --window %s is not kept; windows are:", window);
            for (i = 0; i < nw; i++) {
                char name[16];
                alr_window_name(w[i], name, sizeof name);
                fprintf(stderr, " %s", name);
            }
            fprintf(stderr, " (redis.windows and the rules' windows)\n");
            rc = APP_EXIT_USAGE;
            goto out;
        }
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
    free(sets);
    return rc;
}
