/*
 * finsent bench: classifier throughput.
 *
 * Two modes:
 *   fixed  (default): --batch items of exactly --seq-len tokens (random ids,
 *          [CLS] first), on a model directory (--model) or on a synthetic
 *          shape with random weights (--layers --hidden --heads
 *          --intermediate --vocab; default the 4 x 256 "mini shape").
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
 * OpenBLAS's own threads, docs/engine.md). Each worker runs its share in
 * encoder calls of about cls_classifier_chunk_tokens tokens, as the
 * classifier cuts a batch (padded mode pads each call to its longest item,
 * as the classifier does); --chunk N makes them N items. --json prints one
 * JSON object per measurement for bench/compare.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "app/app.h"
#include "app/app_opts.h"
#include "classify/cls_bert.h"
#include "classify/cls_blas.h"
#include "classify/cls_classifier.h"
#include "classify/cls_model.h"
#include "classify/cls_wordpiece.h"
#include "classify/kernels/cls_kernels.h"
#include "core/core_gate.h"

typedef struct job {
    cls_bert_t *bert;
    const int32_t *ids;  /* all items, packed */
    const size_t *lens;  /* (n_items) */
    const size_t *offs;  /* (n_items) start of each item in ids */
    size_t first, count; /* items of this worker */
    size_t batch, iters;
    size_t chunk;        /* items per encoder call (0: about chunk_tokens tokens) */
    size_t chunk_tokens; /* cls_classifier_chunk_tokens */
    int padded;
    core_err_t rc;
} job_t;

/* A team for --workers 1 (cls_bert_set_team): parts-1 threads that wait at
 * a core_gate between parts, as the classifier's own workers do for batches
 * smaller than its thread count; the caller runs part 0. */
typedef struct team {
    size_t parts;
    pthread_t tid[63];
    size_t started;
    core_gate_t gate;
    int gate_ok;
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
    while (core_gate_wait(&t->gate, &seen)) {
        t->fn(t->arg, me->part, t->parts);
        core_gate_finish(&t->gate);
    }
    return NULL;
}

static void team_run(void *team, cls_bert_part_fn fn, void *arg)
{
    team_t *t = team;
    t->fn = fn;
    t->arg = arg;
    core_gate_open(&t->gate, t->started);
    fn(arg, 0, t->parts);
    core_gate_wait_done(&t->gate);
}

/* Starts parts-1 threads; parts is lowered to what could be started (1
 * without a gate: no team). */
static void team_start(team_t *t, size_t parts)
{
    memset(t, 0, sizeof *t);
    t->parts = 1;
    if (core_gate_init(&t->gate, CORE_GATE_SPIN_US) != CORE_OK)
        return;
    t->gate_ok = 1;
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
    if (!t->gate_ok)
        return;
    core_gate_stop(&t->gate);
    for (size_t i = 0; i < t->started; i++)
        pthread_join(t->tid[i], NULL);
    core_gate_destroy(&t->gate);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Items of the encoder call that starts at item i of a share of n: --chunk
 * items, else about chunk_tokens tokens, as the classifier cuts its
 * batches. */
static size_t chunk_items(const job_t *j, size_t i, size_t n)
{
    const size_t *lens = j->lens + j->first;
    size_t tok = 0, c = 0;
    if (j->chunk)
        return j->chunk < n - i ? j->chunk : n - i;
    do
        tok += lens[i + c++];
    while (i + c < n && tok + lens[i + c] / 2 < j->chunk_tokens);
    return c;
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
        for (size_t c = 0; c < n && j->rc == CORE_OK;) {
            size_t cn = chunk_items(j, next + c, next + n), i = j->first + next + c;
            j->rc = cls_bert_run(j->bert, j->ids + j->offs[i], j->lens + i, cn, j->padded);
            c += cn;
        }
        next += n;
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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

/* One benchmark: what the options asked for and what it set up. */
typedef struct bench {
    cls_bert_config_t cfg; /* the synthetic shape, then the model's */
    const char *model_dir, *texts_path, *precision;
    size_t seq, batch, threads, workers, runs, warmup, iters, limit, chunk;
    int json;
    cls_precision_t prec;
    cls_model_t *m;
    cls_bert_packed_t *packed;
    cls_wordpiece_t *wp;
    cls_wordpiece_ws_t *ws;
    char **texts; /* (n_items) with --texts, else NULL */
    size_t n_items;
    int32_t *ids;        /* all items, packed */
    size_t *lens, *offs; /* (n_items) */
    job_t *jobs;         /* (workers) */
    pthread_t *tids;     /* (workers) */
    team_t team;         /* --workers 1 with more threads */
    int team_on;
} bench_t;

/* load_model loads --model or builds the synthetic model, and packs its
 * weights for the precision asked for. 0, or -1 after saying why. */
static int load_model(bench_t *b)
{
    char err[1024] = "";
    if (b->model_dir) {
        if (cls_model_load(b->model_dir, &b->m, err, sizeof err) != CORE_OK) {
            fprintf(stderr, "finsent bench: %s\n", err);
            return -1;
        }
    } else {
        if (b->seq > b->cfg.max_pos)
            b->cfg.max_pos = b->seq;
        if (cls_model_new_random(&b->cfg, 20, 42, &b->m) != CORE_OK) {
            fprintf(stderr, "finsent bench: cannot build the synthetic model\n");
            return -1;
        }
    }
    b->cfg = *cls_model_config(b->m);
    cls_precision_parse(b->precision, &b->prec); /* checked by the option table */
    if (b->prec == CLS_PREC_AUTO)
        b->prec = cls_lowp_auto(cls_model_precisions(b->m));
    /* as the classifier: fp32 packs too when it runs on our own GEMM, and
     * the originals' pages go back to the kernel (the bench never runs them) */
    if ((b->prec != CLS_PREC_FP32 || cls_lowp_fp32_own()) &&
        cls_bert_pack(b->m, b->prec, CLS_PACK_DROP_ORIGINALS, &b->packed) != CORE_OK) {
        fprintf(stderr, "finsent bench: cannot pack the weights for %s\n",
                cls_precision_name(b->prec));
        return -1;
    }
    return 0;
}

/* load_texts reads --texts and sets seq to the tokenizer's length. */
static int load_texts(bench_t *b)
{
    char err[1024] = "";
    if (cls_wordpiece_load_dir(b->model_dir, b->cfg.max_pos, &b->wp, err, sizeof err) != CORE_OK ||
        cls_wordpiece_ws_new(b->wp, &b->ws) != CORE_OK) {
        fprintf(stderr, "finsent bench: %s\n", err);
        return -1;
    }
    b->texts = read_texts(b->texts_path, b->limit, &b->n_items);
    if (!b->texts || b->n_items == 0) {
        fprintf(stderr, "finsent bench: no texts in %s\n", b->texts_path);
        return -1;
    }
    b->seq = cls_wordpiece_max_len(b->wp);
    return 0;
}

/* make_inputs fills ids/lens/offs: the texts' tokens, or --batch items of
 * --seq-len random ids. */
static int make_inputs(bench_t *b)
{
    uint64_t s = 12345;
    size_t total = 0;

    if (b->texts_path) {
        if (load_texts(b) != 0)
            return -1;
    } else {
        b->n_items = b->batch;
        if (b->seq > b->cfg.max_pos) {
            fprintf(stderr, "finsent bench: --seq-len %zu over the model's %zu positions\n", b->seq,
                    b->cfg.max_pos);
            return -1;
        }
    }
    b->ids = malloc(b->n_items * b->seq * sizeof *b->ids);
    b->lens = malloc(b->n_items * sizeof *b->lens);
    b->offs = malloc(b->n_items * sizeof *b->offs);
    if (!b->ids || !b->lens || !b->offs)
        return -1;
    for (size_t i = 0; i < b->n_items; i++) {
        b->offs[i] = total;
        if (b->texts) {
            if (cls_wordpiece_encode(b->wp, b->ws, b->texts[i], strlen(b->texts[i]), b->ids + total,
                                     b->seq, &b->lens[i]) != CORE_OK)
                return -1;
        } else {
            b->lens[i] = b->seq;
            for (size_t t = 0; t < b->seq; t++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                b->ids[total + t] = t == 0 ? 2 : (int32_t)(5 + (s >> 33) % (b->cfg.vocab_size - 5));
            }
        }
        total += b->lens[i];
    }
    return 0;
}

/* make_workers splits the items and each batch of --batch items between
 * the workers, as the classifier does, and gives each an encoder. */
static int make_workers(bench_t *b)
{
    size_t w, nw = b->workers;
    b->jobs = calloc(nw, sizeof *b->jobs);
    b->tids = calloc(nw, sizeof *b->tids);
    if (!b->jobs || !b->tids)
        return -1;
    for (w = 0; w < nw; w++) {
        job_t *j = &b->jobs[w];
        j->first = b->n_items * w / nw;
        j->count = b->n_items * (w + 1) / nw - j->first;
        j->ids = b->ids;
        j->lens = b->lens;
        j->offs = b->offs;
        j->batch = b->batch * (w + 1) / nw - b->batch * w / nw;
        j->iters = b->iters;
        j->chunk = b->chunk;
        j->chunk_tokens = cls_classifier_chunk_tokens(cls_model_config(b->m), b->prec);
        if (cls_bert_new_packed(b->m, b->packed, j->batch, b->seq, &j->bert) != CORE_OK) {
            fprintf(stderr, "finsent bench: cannot allocate the encoder\n");
            return -1;
        }
    }
    if (nw == 1 && b->threads > 1) {
        /* one encoder, its dense layers split across the threads */
        team_start(&b->team, b->threads);
        b->team_on = 1;
        if (cls_bert_set_team(b->jobs[0].bert, team_run, &b->team, b->team.parts) != CORE_OK) {
            fprintf(stderr, "finsent bench: cannot allocate the team's attention buffers\n");
            return -1;
        }
    }
    return 0;
}

/* round_work sums what one round computes over the workers' batches. */
static void round_work(const bench_t *b, int padded, double *items, double *toks, double *flops)
{
    *items = *toks = *flops = 0;
    for (size_t w = 0; w < b->workers; w++) {
        const job_t *j = &b->jobs[w];
        size_t next = 0;
        for (size_t it = 0; it < b->iters; it++) {
            size_t n = j->batch > j->count ? j->count : j->batch;
            if (next + n > j->count)
                next = 0;
            *items += (double)n;
            for (size_t i = 0; i < n; i++)
                *toks += (double)b->lens[j->first + next + i];
            for (size_t c = 0; c < n;) { /* padded: each call pads to its longest */
                size_t cn = chunk_items(j, next + c, next + n);
                *flops += cls_bert_flops(b->m, b->lens + j->first + next + c, cn, padded);
                c += cn;
            }
            next += n;
        }
    }
}

/* run_round runs one round on every worker and returns its seconds, or a
 * negative value after saying why it failed. */
static double run_round(bench_t *b, int padded)
{
    double t0 = now_s(), dt;
    size_t started = 0;
    int ok = 1;

    for (size_t w = 0; w < b->workers; w++)
        b->jobs[w].padded = padded;
    if (b->workers == 1) {
        work(&b->jobs[0]);
    } else {
        for (; started < b->workers; started++) {
            int e = pthread_create(&b->tids[started], NULL, work, &b->jobs[started]);
            if (e != 0) {
                fprintf(stderr, "finsent bench: cannot start a worker thread: %s\n", strerror(e));
                ok = 0;
                break;
            }
        }
        for (size_t w = 0; w < started; w++)
            pthread_join(b->tids[w], NULL);
    }
    dt = now_s() - t0;
    for (size_t w = 0; ok && w < b->workers; w++)
        if (b->jobs[w].rc != CORE_OK) {
            fprintf(stderr, "finsent bench: run failed: %s\n", core_strerror(b->jobs[w].rc));
            ok = 0;
        }
    return ok ? dt : -1.0;
}

/* The dense layers' GEMM: the precision's kernels; at fp32 "openblas" or
 * "own avx512" / "own generic" (FINSENT_FP32_GEMM). */
static const char *gemm_name(const bench_t *b)
{
    if (b->prec != CLS_PREC_FP32)
        return cls_lowp_get(b->prec)->name;
    if (!cls_lowp_fp32_own())
        return "openblas";
    return cls_lowp_native(CLS_PREC_FP32) ? "own avx512" : "own generic";
}

/* measure runs --warmup and --runs rounds (packed, or padded) and prints
 * the median round. */
static int measure(bench_t *b, int padded)
{
    double *rate = calloc(b->runs, sizeof *rate), items, toks, flops, med, rss;
    const char *mode = b->texts ? (padded ? "padded" : "packed") : "fixed";
    struct rusage ru;

    if (!rate)
        return -1;
    round_work(b, padded, &items, &toks, &flops);
    for (size_t r = 0; r < b->warmup + b->runs; r++) {
        double dt = run_round(b, padded);
        if (dt < 0) {
            free(rate);
            return -1;
        }
        if (r >= b->warmup)
            rate[r - b->warmup] = dt;
    }
    qsort(rate, b->runs, sizeof *rate, cmp_d);
    med = rate[b->runs / 2];
    free(rate);
    getrusage(RUSAGE_SELF, &ru);
    rss = (double)ru.ru_maxrss / 1024.0;
    if (b->json)
        printf("{\"engine\":\"finsent\",\"mode\":\"%s\",\"layers\":%zu,\"hidden\":%zu,"
               "\"seq\":%zu,\"batch\":%zu,\"threads\":%zu,\"workers\":%zu,"
               "\"items_per_s\":%.2f,\"tokens_per_s\":%.1f,\"gflops\":%.4g,"
               "\"ms_per_batch\":%.3f,\"rss_mib\":%.1f,\"blas_core\":\"%s\","
               "\"precision\":\"%s\",\"gemm\":\"%s\"}\n",
               mode, b->cfg.layers, b->cfg.hidden, b->texts ? 0 : b->seq, b->batch, b->threads,
               b->workers, items / med, toks / med, flops / med * 1e-9,
               med * 1e3 / (double)b->iters, rss, cls_blas_corename(), cls_precision_name(b->prec),
               gemm_name(b));
    else
        printf("%-7s %10.1f items/s %12.0f tokens/s %8.1f GFLOP/s %8.2f ms/batch  (median "
               "of %zu rounds of %zu batches; peak RSS %.1f MiB)\n",
               mode, items / med, toks / med, flops / med * 1e-9, med * 1e3 / (double)b->iters,
               b->runs, b->iters, rss);
    return 0;
}

static void print_setup(const bench_t *b)
{
    printf("finsent bench: %s L=%zu H=%zu A=%zu I=%zu vocab=%zu, %s, batch %zu, threads %zu, "
           "workers %zu, kernels %s, precision %s (%s), OpenBLAS core %s\n",
           b->model_dir ? b->model_dir : "synthetic", b->cfg.layers, b->cfg.hidden, b->cfg.heads,
           b->cfg.intermediate, b->cfg.vocab_size, b->texts ? "real texts" : "fixed length",
           b->batch, b->threads, b->workers, cls_kernels_get()->name, cls_precision_name(b->prec),
           gemm_name(b), cls_blas_corename());
}

static int bench_run(bench_t *b)
{
    /* W workers of threads/W OpenBLAS threads each; one worker with more
     * threads is a team that splits each dense layer's columns, as the
     * classifier runs batches smaller than its thread count */
    cls_blas_set_threads(b->workers == 1 ? 1 : (int)(b->threads / b->workers));
    if (load_model(b) != 0 || make_inputs(b) != 0 || make_workers(b) != 0)
        return APP_EXIT_FAIL;
    if (!b->json)
        print_setup(b);
    for (int padded = 0; padded <= (b->texts ? 1 : 0); padded++)
        if (measure(b, padded) != 0)
            return APP_EXIT_FAIL;
    return APP_EXIT_OK;
}

static void bench_free(bench_t *b)
{
    if (b->team_on)
        team_stop(&b->team);
    if (b->jobs)
        for (size_t w = 0; w < b->workers; w++)
            cls_bert_free(b->jobs[w].bert);
    free(b->jobs);
    free(b->tids);
    cls_bert_packed_free(b->packed);
    if (b->texts)
        for (size_t i = 0; i < b->n_items; i++)
            free(b->texts[i]);
    free(b->texts);
    free(b->ids);
    free(b->lens);
    free(b->offs);
    cls_wordpiece_ws_free(b->ws);
    cls_wordpiece_free(b->wp);
    cls_model_free(b->m);
}

int app_cmd_bench(int argc, char **argv)
{
    bench_t b = {.cfg = {.vocab_size = 12000,
                         .hidden = 256,
                         .layers = 4,
                         .heads = 4,
                         .intermediate = 1024,
                         .max_pos = 512,
                         .type_vocab = 2,
                         .eps = 1e-12f,
                         .act = CLS_ACT_GELU_ERF},
                 .precision = "fp32",
                 .seq = 32,
                 .batch = 32,
                 .threads = 2,
                 .runs = 5,
                 .warmup = 1,
                 .iters = 8,
                 .limit = 1024};
    app_args_t args;
    const app_opt_t opts[] = {
        APP_STR("model", 0, "DIR", &b.model_dir, NULL),
        APP_SIZE("layers", 0, "L", 1, 256, &b.cfg.layers, NULL),
        APP_SIZE("hidden", 0, "H", 1, 16384, &b.cfg.hidden, NULL),
        APP_SIZE("heads", 0, "A", 1, 1024, &b.cfg.heads, NULL),
        APP_SIZE("intermediate", 0, "I", 1, 65536, &b.cfg.intermediate, NULL),
        APP_SIZE("vocab", 0, "V", 8, 1 << 22, &b.cfg.vocab_size, NULL),
        APP_SIZE("seq-len", 0, "N", 2, 512, &b.seq, "tokens per item in fixed mode (default 32)"),
        APP_SIZE("batch", 0, "N", 1, 4096, &b.batch, "items per batch (default 32)"),
        APP_SIZE("threads", 0, "N", 1, 256, &b.threads, "compute threads (default 2)"),
        APP_SIZE("workers", 0, "W", 1, 64, &b.workers,
                 "encoder threads; each uses threads/W OpenBLAS threads\n"
                 "(default: threads, as the classifier does); 1: one encoder\n"
                 "whose layers are split across the threads (small batches)"),
        APP_SIZE("runs", 0, "N", 1, 1000, &b.runs,
                 "timed rounds, the median is reported (default 5)"),
        APP_SIZE("warmup", 0, "N", 0, 1000, &b.warmup, "untimed rounds first (default 1)"),
        APP_SIZE("iters", 0, "N", 1, 100000, &b.iters, "batches per round (default 8)"),
        APP_SIZE("chunk", 0, "N", 1, 4096, &b.chunk,
                 "items per encoder call within a worker's share of a\n"
                 "batch (default: chunks of about 64 tokens, 256 for\n"
                 "models of over 32 MiB of weights, as the classifier cuts\n"
                 "its batches)"),
        APP_STR("texts", 0, "FILE", &b.texts_path,
                "real texts (text<TAB>label TSV); packed and padded"),
        APP_SIZE("limit", 0, "N", 1, 1 << 20, &b.limit, "at most N texts (default 1024)"),
        {.name = "precision",
         .kind = APP_OPT_STR,
         .arg = "P",
         .dst = &b.precision,
         .check = app_check_precision,
         .help = "dense layers in fp32 (default), bf16, int8 or auto\n"
                 "(the fastest this CPU runs natively; docs/engine.md)"},
        APP_FLAG("json", 0, &b.json, "one JSON object per measurement"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent bench",
        .usage = "usage: finsent bench [--model DIR | --layers L --hidden H --heads A\n"
                 "                      --intermediate I --vocab V] [options]\n\n",
        .footer = "Synthetic defaults: 4 layers, hidden 256, 4 heads, intermediate 1024,\n"
                  "vocab 12000, random weights (the \"mini shape\" of docs/engine.md; the\n"
                  "shipped finsent-mini has 8 such layers). Exit 0, or 1 on errors.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 18,
    };
    int rc = app_opts_parse(&spec, argc, argv, &args);

    if (rc != APP_OPTS_RUN)
        goto out;
    if (!b.workers)
        b.workers = b.threads;
    rc = APP_EXIT_USAGE;
    if (b.cfg.hidden % b.cfg.heads)
        fprintf(stderr, "finsent bench: --hidden %zu is not divisible by --heads %zu\n",
                b.cfg.hidden, b.cfg.heads);
    else if (b.texts_path && !b.model_dir)
        fprintf(stderr, "finsent bench: --texts needs --model\n");
    else if (b.workers > b.threads || b.workers > b.batch)
        fprintf(stderr,
                "finsent bench: --workers %zu must be at most --threads (%zu) and "
                "--batch (%zu)\n",
                b.workers, b.threads, b.batch);
    else
        rc = bench_run(&b);
out:
    bench_free(&b);
    app_args_cleanup(&args);
    return rc;
}
