/*
 * finsent bench: classifier throughput.
 *
 * Two modes:
 *   fixed  (default): --batch items of exactly --seq-len tokens (random ids,
 *          [CLS] first), on a model directory (--model) or on a synthetic
 *          shape with random weights (--layers --hidden --heads
 *          --intermediate --vocab; default the finsent-mini shape).
 *   texts  (--texts FILE.tsv, needs --model): real texts (first column of a
 *          text<TAB>label file with a header line) through the tokenizer, in
 *          batches of --batch; measured twice, packed (finsent's way) and
 *          padded to the longest item of each batch (what a framework
 *          without packing computes), so the gain of packing is visible.
 * Each measurement runs --warmup untimed rounds, then --runs timed rounds of
 * --iters batches, and reports the median round: items/s, tokens/s (real
 * tokens), achieved GFLOP/s (dense layers + attention, cls_bert_flops),
 * ms per batch, and the process's peak RSS. --workers W splits each batch
 * between W encoder threads sharing the model, each with threads/W OpenBLAS
 * threads; the default W = threads is what the classifier does for full
 * batches; --workers 1 runs one encoder whose dense layers are split
 * across the threads by a team (what the classifier does for batches
 * smaller than its thread count; it used to measure one encoder on
 * OpenBLAS's own threads, docs/engine.md). --json prints one JSON object
 * per measurement for bench/compare.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "app/app.h"
#include "classify/cls_bert.h"
#include "classify/cls_blas.h"
#include "classify/cls_model.h"
#include "classify/cls_wordpiece.h"
#include "classify/kernels/cls_kernels.h"

typedef struct job {
    cls_bert_t *bert;
    const int32_t *ids;  /* all items, packed */
    const size_t *lens;  /* (n_items) */
    const size_t *offs;  /* (n_items) start of each item in ids */
    size_t first, count; /* items of this worker */
    size_t batch, iters;
    int padded;
    core_err_t rc;
} job_t;

/* A team for --workers 1 (cls_bert_set_team): parts-1 threads that sleep
 * between parts, as the classifier's own workers do for batches smaller
 * than its thread count; the caller runs part 0. */
typedef struct team {
    size_t parts;
    pthread_t tid[63];
    size_t started;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen;
    size_t busy;
    int stop;
    cls_bert_part_fn fn;
    void *arg;
} team_t;

typedef struct team_member {
    team_t *t;
    size_t part;
} team_member_t;

static team_member_t members[63];

static void *team_main(void *arg)
{
    team_member_t *me = arg;
    team_t *t = me->t;
    unsigned seen = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->stop && t->gen == seen)
            pthread_cond_wait(&t->go, &t->mu);
        if (t->stop)
            break;
        seen = t->gen;
        pthread_mutex_unlock(&t->mu);
        t->fn(t->arg, me->part, t->parts);
        pthread_mutex_lock(&t->mu);
        if (--t->busy == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void team_run(void *team, cls_bert_part_fn fn, void *arg)
{
    team_t *t = team;
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->arg = arg;
    t->busy = t->started;
    t->gen++;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    fn(arg, 0, t->parts);
    pthread_mutex_lock(&t->mu);
    while (t->busy > 0)
        pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

/* Starts parts-1 threads; parts is lowered to what could be started. */
static void team_start(team_t *t, size_t parts)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    for (size_t i = 1; i < parts && i <= 63; i++) {
        members[i - 1] = (team_member_t){t, i};
        if (pthread_create(&t->tid[i - 1], NULL, team_main, &members[i - 1]) != 0)
            break;
        t->started++;
    }
    t->parts = t->started + 1;
}

static void team_stop(team_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < t->started; i++)
        pthread_join(t->tid[i], NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One round: iters batches, cycling over this worker's items. */
static void *work(void *arg)
{
    job_t *j = arg;
    size_t next = 0;
    if (j->count == 0) /* fewer texts than workers */
        return NULL;
    for (size_t it = 0; it < j->iters && j->rc == CORE_OK; it++) {
        size_t n = j->batch;
        if (next + n > j->count)
            next = 0;
        if (n > j->count)
            n = j->count;
        j->rc = cls_bert_run(j->bert, j->ids + j->offs[j->first + next], j->lens + j->first + next,
                             n, j->padded);
        next += n;
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void help(FILE *out)
{
    fprintf(out, "usage: finsent bench [--model DIR | --layers L --hidden H --heads A\n"
                 "                      --intermediate I --vocab V] [options]\n\n"
                 "  --seq-len N     tokens per item in fixed mode (default 32)\n"
                 "  --batch N       items per batch (default 32)\n"
                 "  --threads N     compute threads (default 2)\n"
                 "  --workers W     encoder threads; each uses threads/W OpenBLAS threads;\n"
                 "                  1: one encoder whose layers are split across the\n"
                 "                  threads (the classifier's way for small batches)\n"
                 "                  (default: threads, as the classifier does)\n"
                 "  --runs N        timed rounds, the median is reported (default 5)\n"
                 "  --warmup N      untimed rounds first (default 1)\n"
                 "  --iters N       batches per round (default 8)\n"
                 "  --texts FILE    real texts (text<TAB>label TSV); packed and padded\n"
                 "  --limit N       at most N texts (default 1024)\n"
                 "  --precision P   dense layers in fp32 (default), bf16, int8 or auto\n"
                 "                  (the fastest this CPU runs natively; docs/engine.md)\n"
                 "  --json          one JSON object per measurement\n"
                 "Synthetic defaults: the finsent-mini shape 4 layers, hidden 256, 4 heads,\n"
                 "intermediate 1024, vocab 12000, random weights. Exit 0, or 1 on errors.\n");
}

static int parse_sz(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = (size_t)v;
    return 1;
}

/* Reads the first column of a TSV (skipping the header) into texts. */
static char **read_texts(const char *path, size_t limit, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, **t = NULL;
    size_t cap = 0, k = 0;
    ssize_t len;
    int first = 1;

    *n = 0;
    if (!f)
        return NULL;
    t = calloc(limit ? limit : 1, sizeof *t);
    while (t && k < limit && (len = getline(&line, &cap, f)) >= 0) {
        char *tab = strchr(line, '\t');
        if (first) {
            first = 0;
            continue;
        }
        if (tab)
            *tab = '\0';
        else
            line[strcspn(line, "\r\n")] = '\0';
        if (!(t[k] = strdup(line)))
            break;
        k++;
    }
    free(line);
    fclose(f);
    *n = k;
    return t;
}

int app_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"layers", required_argument, NULL, 'L'},
                                         {"hidden", required_argument, NULL, 'H'},
                                         {"heads", required_argument, NULL, 'A'},
                                         {"intermediate", required_argument, NULL, 'I'},
                                         {"vocab", required_argument, NULL, 'V'},
                                         {"seq-len", required_argument, NULL, 'q'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"warmup", required_argument, NULL, 'u'},
                                         {"iters", required_argument, NULL, 'i'},
                                         {"texts", required_argument, NULL, 'x'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"precision", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cls_bert_config_t cfg = {.vocab_size = 12000,
                             .hidden = 256,
                             .layers = 4,
                             .heads = 4,
                             .intermediate = 1024,
                             .max_pos = 512,
                             .type_vocab = 2,
                             .eps = 1e-12f,
                             .act = CLS_ACT_GELU_ERF};
    const char *model_dir = NULL, *texts_path = NULL;
    size_t seq = 32, batch = 32, threads = 2, workers = 0, runs = 5, warmup = 1, iters = 8,
           limit = 1024, n_items = 0, total_ids = 0;
    int c, json = 0, rc = APP_EXIT_USAGE;
    cls_precision_t prec = CLS_PREC_FP32;
    cls_bert_packed_t *packed = NULL;
    team_t team;
    int team_on = 0;
    cls_model_t *m = NULL;
    cls_wordpiece_t *wp = NULL;
    cls_wordpiece_ws_t *ws = NULL;
    char **texts = NULL, err[1024] = "";
    int32_t *ids = NULL;
    size_t *lens = NULL, *offs = NULL;
    job_t *jobs = NULL;
    pthread_t *tids = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'm':
            model_dir = optarg;
            break;
        case 'L':
            ok = parse_sz(optarg, 1, 256, &cfg.layers);
            break;
        case 'H':
            ok = parse_sz(optarg, 1, 16384, &cfg.hidden);
            break;
        case 'A':
            ok = parse_sz(optarg, 1, 1024, &cfg.heads);
            break;
        case 'I':
            ok = parse_sz(optarg, 1, 65536, &cfg.intermediate);
            break;
        case 'V':
            ok = parse_sz(optarg, 8, 1 << 22, &cfg.vocab_size);
            break;
        case 'q':
            ok = parse_sz(optarg, 2, 512, &seq);
            break;
        case 'b':
            ok = parse_sz(optarg, 1, 4096, &batch);
            break;
        case 't':
            ok = parse_sz(optarg, 1, 256, &threads);
            break;
        case 'w':
            ok = parse_sz(optarg, 1, 64, &workers);
            break;
        case 'r':
            ok = parse_sz(optarg, 1, 1000, &runs);
            break;
        case 'u':
            ok = parse_sz(optarg, 0, 1000, &warmup);
            break;
        case 'i':
            ok = parse_sz(optarg, 1, 100000, &iters);
            break;
        case 'x':
            texts_path = optarg;
            break;
        case 'l':
            ok = parse_sz(optarg, 1, 1 << 20, &limit);
            break;
        case 'j':
            json = 1;
            break;
        case 'P':
            ok = cls_precision_parse(optarg, &prec) == 0;
            break;
        case 'h':
            help(stdout);
            return APP_EXIT_OK;
        default:
            help(stderr);
            return APP_EXIT_USAGE;
        }
        if (!ok) {
            fprintf(stderr, "finsent bench: bad value '%s' for %s\n", optarg, argv[optind - 1]);
            return APP_EXIT_USAGE;
        }
    }
    if (!workers)
        workers = threads;
    if (optind < argc || cfg.hidden % cfg.heads || (texts_path && !model_dir) ||
        workers > threads || workers > batch) {
        fprintf(stderr, "finsent bench: bad arguments (hidden divisible by heads, --texts needs "
                        "--model, workers <= threads and <= batch)\n");
        return APP_EXIT_USAGE;
    }
    rc = APP_EXIT_FAIL;
    /* W workers of threads/W OpenBLAS threads each; one worker with more
     * threads is a team that splits each dense layer's columns, as the
     * classifier runs batches smaller than its thread count */
    cls_blas_set_threads(workers == 1 ? 1 : (int)(threads / workers));
    if (model_dir) {
        if (cls_model_load(model_dir, &m, err, sizeof err) != CORE_OK) {
            fprintf(stderr, "finsent bench: %s\n", err);
            goto out;
        }
    } else {
        if (seq > cfg.max_pos)
            cfg.max_pos = seq;
        if (cls_model_new_random(&cfg, 20, 42, &m) != CORE_OK) {
            fprintf(stderr, "finsent bench: cannot build the synthetic model\n");
            goto out;
        }
    }
    cfg = *cls_model_config(m);
    if (texts_path) {
        if (cls_wordpiece_load_dir(model_dir, cfg.max_pos, &wp, err, sizeof err) != CORE_OK ||
            cls_wordpiece_ws_new(wp, &ws) != CORE_OK) {
            fprintf(stderr, "finsent bench: %s\n", err);
            goto out;
        }
        texts = read_texts(texts_path, limit, &n_items);
        if (!texts || n_items == 0) {
            fprintf(stderr, "finsent bench: no texts in %s\n", texts_path);
            goto out;
        }
        seq = cls_wordpiece_max_len(wp);
    } else {
        n_items = batch;
        if (seq > cfg.max_pos) {
            fprintf(stderr, "finsent bench: --seq-len %zu over the model's %zu positions\n", seq,
                    cfg.max_pos);
            goto out;
        }
    }
    ids = malloc(n_items * seq * sizeof *ids);
    lens = malloc(n_items * sizeof *lens);
    offs = malloc(n_items * sizeof *offs);
    if (!ids || !lens || !offs)
        goto out;
    {
        uint64_t s = 12345;
        for (size_t i = 0; i < n_items; i++) {
            offs[i] = total_ids;
            if (texts) {
                if (cls_wordpiece_encode(wp, ws, texts[i], strlen(texts[i]), ids + total_ids, seq,
                                         &lens[i]) != CORE_OK)
                    goto out;
            } else {
                lens[i] = seq;
                for (size_t t = 0; t < seq; t++) {
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    ids[total_ids + t] =
                        t == 0 ? 2 : (int32_t)(5 + (s >> 33) % (cfg.vocab_size - 5));
                }
            }
            total_ids += lens[i];
        }
    }
    if (prec == CLS_PREC_AUTO)
        prec = cls_lowp_auto(cls_model_precisions(m));
    if (prec != CLS_PREC_FP32 && cls_bert_pack(m, prec, 0, &packed) != CORE_OK) {
        fprintf(stderr, "finsent bench: cannot pack the weights for %s\n",
                cls_precision_name(prec));
        goto out;
    }
    jobs = calloc(workers, sizeof *jobs);
    tids = calloc(workers, sizeof *tids);
    if (!jobs || !tids)
        goto out;
    for (size_t w = 0; w < workers; w++) {
        jobs[w].first = n_items * w / workers;
        jobs[w].count = n_items * (w + 1) / workers - jobs[w].first;
        jobs[w].ids = ids;
        jobs[w].lens = lens;
        jobs[w].offs = offs;
        /* one batch of --batch items is split between the workers, as the
         * classifier does */
        jobs[w].batch = batch * (w + 1) / workers - batch * w / workers;
        jobs[w].iters = iters;
        if (cls_bert_new_packed(m, packed, jobs[w].batch, seq, &jobs[w].bert) != CORE_OK) {
            fprintf(stderr, "finsent bench: cannot allocate the encoder\n");
            goto out;
        }
    }
    if (workers == 1 && threads > 1) {
        team_start(&team, threads);
        team_on = 1;
        cls_bert_set_team(jobs[0].bert, team_run, &team, team.parts);
    }
    if (!json)
        printf("finsent bench: %s L=%zu H=%zu A=%zu I=%zu vocab=%zu, %s, batch %zu, threads %zu, "
               "workers %zu, kernels %s, precision %s (%s), OpenBLAS core %s\n",
               model_dir ? model_dir : "synthetic", cfg.layers, cfg.hidden, cfg.heads,
               cfg.intermediate, cfg.vocab_size, texts ? "real texts" : "fixed length", batch,
               threads, workers, cls_kernels_get()->name, cls_precision_name(prec),
               prec == CLS_PREC_FP32 ? "openblas" : cls_lowp_get(prec)->name,
               cls_blas_corename());
    for (int padded = 0; padded <= (texts ? 1 : 0); padded++) {
        double *rate = calloc(runs, sizeof *rate), items = 0, toks = 0, flops = 0, med;
        struct rusage ru;
        if (!rate)
            goto out;
        /* what one round computes, summed over the workers' batches */
        for (size_t w = 0; w < workers; w++) {
            size_t next = 0;
            for (size_t it = 0; it < iters; it++) {
                size_t n = jobs[w].batch > jobs[w].count ? jobs[w].count : jobs[w].batch;
                if (next + n > jobs[w].count)
                    next = 0;
                items += (double)n;
                for (size_t i = 0; i < n; i++)
                    toks += (double)lens[jobs[w].first + next + i];
                flops += cls_bert_flops(m, lens + jobs[w].first + next, n, padded);
                next += n;
            }
        }
        for (size_t r = 0; r < warmup + runs; r++) {
            double t0 = now_s(), dt;
            for (size_t w = 0; w < workers; w++) {
                jobs[w].padded = padded;
                if (workers == 1)
                    work(&jobs[w]);
                else
                    pthread_create(&tids[w], NULL, work, &jobs[w]);
            }
            if (workers > 1)
                for (size_t w = 0; w < workers; w++)
                    pthread_join(tids[w], NULL);
            dt = now_s() - t0;
            for (size_t w = 0; w < workers; w++)
                if (jobs[w].rc != CORE_OK) {
                    fprintf(stderr, "finsent bench: run failed: %s\n", core_strerror(jobs[w].rc));
                    free(rate);
                    goto out;
                }
            if (r >= warmup)
                rate[r - warmup] = dt;
        }
        qsort(rate, runs, sizeof *rate, cmp_d);
        med = rate[runs / 2];
        getrusage(RUSAGE_SELF, &ru);
        if (json)
            printf("{\"engine\":\"finsent\",\"mode\":\"%s\",\"layers\":%zu,\"hidden\":%zu,"
                   "\"seq\":%zu,\"batch\":%zu,\"threads\":%zu,\"workers\":%zu,"
                   "\"items_per_s\":%.2f,\"tokens_per_s\":%.1f,\"gflops\":%.4g,"
                   "\"ms_per_batch\":%.3f,\"rss_mib\":%.1f,\"blas_core\":\"%s\","
                   "\"precision\":\"%s\",\"gemm\":\"%s\"}\n",
                   texts ? (padded ? "padded" : "packed") : "fixed", cfg.layers, cfg.hidden,
                   texts ? 0 : seq, batch, threads, workers, items / med, toks / med,
                   flops / med * 1e-9, med * 1e3 / (double)iters, (double)ru.ru_maxrss / 1024.0,
                   cls_blas_corename(), cls_precision_name(prec),
                   prec == CLS_PREC_FP32 ? "openblas" : cls_lowp_get(prec)->name);
        else
            printf("%-7s %10.1f items/s %12.0f tokens/s %8.1f GFLOP/s %8.2f ms/batch  (median "
                   "of %zu rounds of %zu batches; peak RSS %.1f MiB)\n",
                   texts ? (padded ? "padded" : "packed") : "fixed", items / med, toks / med,
                   flops / med * 1e-9, med * 1e3 / (double)iters, runs, iters,
                   (double)ru.ru_maxrss / 1024.0);
        free(rate);
    }
    rc = APP_EXIT_OK;
out:
    if (team_on)
        team_stop(&team);
    if (jobs)
        for (size_t w = 0; w < workers; w++)
            cls_bert_free(jobs[w].bert);
    free(jobs);
    cls_bert_packed_free(packed);
    free(tids);
    if (texts)
        for (size_t i = 0; i < n_items; i++)
            free(texts[i]);
    free(texts);
    free(ids);
    free(lens);
    free(offs);
    cls_wordpiece_ws_free(ws);
    cls_wordpiece_free(wp);
    cls_model_free(m);
    return rc;
}
