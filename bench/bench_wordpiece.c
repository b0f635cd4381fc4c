/*
 * bench_wordpiece: throughput of the WordPiece tokenizer on real lines.
 *
 *   bench_wordpiece VOCAB TEXTFILE [-s SECONDS] [-t THREADS] [-n MAX_LEN]
 *
 * TEXTFILE has one text per line; for a TSV the text is what precedes the last
 * tab, and a first line "text<TAB>..." is skipped. Each thread has its own
 * workspace and encodes every line over and over for SECONDS (default 3)
 * with max_len MAX_LEN (default 128, as the classifier). Prints items/s,
 * word pieces/s (without [CLS]/[SEP]) and input MB/s, per thread and in
 * total, by wall clock and by thread CPU time (the latter is the fairer figure
 * on a busy machine). Measurement only; nothing is asserted.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify/cls_wordpiece.h"
#include "core/core_time.h"

typedef struct bench_arg {
    const cls_wordpiece_t *wp;
    char **lines;
    size_t *lens;
    size_t n;
    double seconds;
    size_t items, pieces, bytes;
    double elapsed, cpu; /* wall and thread CPU seconds */
    int failed;
} bench_arg_t;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *bench_thread(void *p)
{
    bench_arg_t *a = p;
    cls_wordpiece_ws_t *ws = NULL;
    int32_t ids[4096];
    if (cls_wordpiece_ws_new(a->wp, &ws) != CORE_OK) {
        a->failed = 1;
        return NULL;
    }
    double c0 = thread_cpu_s();
    int64_t t0 = core_time_mono_ns(), limit = (int64_t)(a->seconds * 1e9), now = t0;
    while (now - t0 < limit) {
        for (size_t i = 0; i < a->n; i++) {
            size_t n = 0;
            if (cls_wordpiece_encode(a->wp, ws, a->lines[i], a->lens[i], ids, 4096, &n) != CORE_OK) {
                a->failed = 1;
                goto done;
            }
            a->pieces += n - 2;
            a->bytes += a->lens[i];
        }
        a->items += a->n;
        now = core_time_mono_ns();
    }
done:
    a->elapsed = (double)(core_time_mono_ns() - t0) / 1e9;
    a->cpu = thread_cpu_s() - c0;
    cls_wordpiece_ws_free(ws);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = 3.0;
    int threads = 1;
    size_t max_len = CLS_WORDPIECE_DEFAULT_MAX_LEN;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            max_len = (size_t)strtoul(argv[++i], NULL, 10);
        else if (npos < 2)
            pos[npos++] = argv[i];
    }
    if (npos != 2 || threads < 1 || threads > 64 || seconds <= 0) {
        fprintf(stderr, "usage: bench_wordpiece VOCAB TEXTFILE [-s SECONDS] [-t THREADS] [-n MAX_LEN]\n");
        return 2;
    }
    cls_wordpiece_opts_t o;
    cls_wordpiece_t *wp = NULL;
    char err[512];
    cls_wordpiece_opts_default(&o);
    o.max_len = max_len;
    if (cls_wordpiece_load(pos[0], &o, &wp, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "bench_wordpiece: %s\n", err);
        return 1;
    }
    FILE *fp = fopen(pos[1], "r");
    if (!fp) {
        perror(pos[1]);
        cls_wordpiece_free(wp);
        return 1;
    }
    char **lines = NULL, *line = NULL;
    size_t *lens = NULL, n = 0, cap = 0, lcap = 0, total_bytes = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, fp)) > 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        char *tab = memrchr(line, '\t', len);
        if (tab)
            len = (size_t)(tab - line);
        if (n == 0 && tab && len == 4 && memcmp(line, "text", 4) == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            lines = realloc(lines, cap * sizeof *lines);
            lens = realloc(lens, cap * sizeof *lens);
            if (!lines || !lens)
                return 1;
        }
        lines[n] = malloc(len + 1);
        if (!lines[n])
            return 1;
        memcpy(lines[n], line, len);
        lines[n][len] = '\0';
        lens[n++] = len;
        total_bytes += len;
    }
    free(line);
    fclose(fp);
    if (n == 0) {
        fprintf(stderr, "bench_wordpiece: %s has no lines\n", pos[1]);
        return 1;
    }
    bench_arg_t *args = calloc((size_t)threads, sizeof *args);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    for (int t = 0; t < threads; t++) {
        args[t] = (bench_arg_t){.wp = wp, .lines = lines, .lens = lens, .n = n, .seconds = seconds};
        pthread_create(&tids[t], NULL, bench_thread, &args[t]);
    }
    double items = 0, pieces = 0, bytes = 0, cpu_items = 0, cpu_pieces = 0;
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        items += (double)args[t].items / args[t].elapsed;
        pieces += (double)args[t].pieces / args[t].elapsed;
        bytes += (double)args[t].bytes / args[t].elapsed;
        cpu_items += (double)args[t].items / args[t].cpu;
        cpu_pieces += (double)args[t].pieces / args[t].cpu;
        failed |= args[t].failed;
    }
    printf("bench_wordpiece: %zu lines (%.1f bytes/line, %.1f pieces/item at max_len %zu), "
           "%d thread(s), %.1f s\n", n, (double)total_bytes / (double)n,
           args[0].items ? (double)args[0].pieces / (double)args[0].items : 0.0, max_len, threads,
           seconds);
    printf("  total:      %.0f items/s  %.2f M pieces/s  %.1f MB/s\n", items, pieces / 1e6,
           bytes / 1e6);
    printf("  per thread: %.0f items/s  %.2f M pieces/s  %.1f MB/s  (%.2f us/item)\n",
           items / threads, pieces / threads / 1e6, bytes / threads / 1e6,
           1e6 * threads / items);
    printf("  per CPU-s:  %.0f items/s  %.2f M pieces/s  (%.2f us CPU/item; wall figures above "
           "include time the thread was not running)\n",
           cpu_items / threads, cpu_pieces / threads / 1e6, 1e6 * threads / cpu_items);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(lens);
    free(args);
    free(tids);
    cls_wordpiece_free(wp);
    return failed ? 1 : 0;
}
