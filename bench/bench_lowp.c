/*
 * bench/bench_lowp.c: the reduced-precision GEMMs alone (classify/kernels/
 * cls_lowp.h), one thread, on the encoder's shapes: y (m, n) = x W^T + b
 * for the packed weights of W (n, k). Prints GOP/s (2 m n k per call) per
 * kernel variant, precision and shape, and the activation packing (pack_a)
 * separately. Time is this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so
 * another process sharing the core does not count (its cache traffic
 * still does); variants are timed interleaved, round by round, and the
 * median round is reported, so a ratio between two variants on a shared
 * machine compares like with like; so is the best (fastest) round. On the
 * shared 2-vCPU VMs the median of 15 rounds still moved by up to 1.5x
 * between two copies of the same kernel, the best round by under 3%
 * (docs/engine.md): compare variants on "best" there.
 *
 * usage: bench_lowp [--prec bf16,int8] [--variants amx,avx512,generic]
 *                   [--m 1024] [--shapes 768x768,3072x768,768x3072]
 *                   [--rounds 7] [--ms 150] [--gelu] [--copies 1]
 * Shapes are n x k. --copies N packs N copies of each weight matrix and
 * uses them in turn, so that with enough of them (more than the L3 holds)
 * every call streams its weights from memory, as the encoder's layers do
 * at batch 1. A variant this CPU lacks is skipped with a message.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"

#define MAX_ITEMS 8

static size_t split(char *s, char **out, size_t cap)
{
    size_t n = 0;
    for (char *t = strtok(s, ","); t && n < cap; t = strtok(NULL, ","))
        out[n++] = t;
    return n;
}

/* The engine's epilogue of the FFN's first layer (bias + erf GELU, the
 * fp32 kernel table's, as cls_bert calls it) to time a GEMM with one. */
static void epi_gelu(float *y, size_t ldy, const float *b, size_t rows, size_t n)
{
    const cls_kernels_t *k = cls_kernels_get();
    for (size_t r = 0; r < rows; r++)
        k->bias_gelu_erf(y + r * ldy, b, 1, n);
}

#define MAX_COPIES 256

typedef struct job {
    const cls_lowp_kernels_t *k;
    cls_wpack_t **w; /* ncopies packs of the same weights, used in turn */
    size_t ncopies;
    size_t m, n, kk;
    double gemm_s[64], pack_s[64];
} job_t;

/* seconds per call of gemm and of pack_a, each repeated for about ms. */
static void time_one(job_t *j, const float *x, void *a, float *as, int32_t *az, const float *bias,
                     float *y, cls_lowp_epi_fn epi, double ms, size_t round)
{
    double t0 = bench_now(), t;
    size_t reps = 0;
    do {
        j->k->pack_a(x, j->m, j->kk, j->kk, a, as, az);
        reps++;
    } while ((t = bench_now()) - t0 < ms * 1e-3 / 4);
    j->pack_s[round] = (t - t0) / (double)reps;
    j->k->pack_a(x, j->m, j->kk, j->kk, a, as, az);
    reps = 0;
    t0 = bench_now();
    do {
        j->k->gemm(a, as, az, j->m, j->w[reps % j->ncopies], bias, epi, y, j->n);
        reps++;
    } while ((t = bench_now()) - t0 < ms * 1e-3);
    j->gemm_s[round] = (t - t0) / (double)reps;
}

int main(int argc, char **argv)
{
    char precs[64] = "bf16,int8", variants[64] = "amx,avx512", shapes[256] = "768x768,3072x768,768x3072";
    size_t m = 1024, rounds = 7, copies = 1;
    double ms = 150;
    int gelu = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--gelu") == 0) {
            gelu = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_lowp: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--prec") == 0)
            snprintf(precs, sizeof precs, "%s", v);
        else if (strcmp(argv[i], "--variants") == 0)
            snprintf(variants, sizeof variants, "%s", v);
        else if (strcmp(argv[i], "--shapes") == 0)
            snprintf(shapes, sizeof shapes, "%s", v);
        else if (strcmp(argv[i], "--m") == 0)
            m = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--copies") == 0)
            copies = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--ms") == 0)
            ms = strtod(v, NULL);
        else {
            fprintf(stderr, "bench_lowp: unknown option %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (m == 0 || rounds == 0 || rounds > 64 || !(ms > 0) || copies == 0 || copies > MAX_COPIES) {
        fprintf(stderr,
                "bench_lowp: --m, --rounds (1-64), --copies (1-%d) and --ms must be "
                "positive\n",
                MAX_COPIES);
        return 2;
    }
    char *pv[MAX_ITEMS], *vv[MAX_ITEMS], *sv[MAX_ITEMS];
    size_t np = split(precs, pv, MAX_ITEMS), nv = split(variants, vv, MAX_ITEMS),
           ns = split(shapes, sv, MAX_ITEMS);
    srand(1);
    for (size_t si = 0; si < ns; si++) {
        size_t n = 0, kk = 0;
        if (sscanf(sv[si], "%zux%zu", &n, &kk) != 2 || n == 0 || kk == 0) {
            fprintf(stderr, "bench_lowp: bad shape %s (want NxK)\n", sv[si]);
            return 2;
        }
        /* x and y start on cache lines, as the encoder's buffers do */
        float *w = malloc(n * kk * sizeof *w);
        float *x = aligned_alloc(64, (m * kk * sizeof *x + 63) / 64 * 64);
        float *bias = calloc(n + 32, sizeof *bias);
        float *y = aligned_alloc(64, (m * n * sizeof *y + 63) / 64 * 64);
        if (!w || !x || !bias || !y)
            return 1;
        for (size_t i = 0; i < n * kk; i++)
            w[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (size_t i = 0; i < m * kk; i++)
            x[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 4.0f;
        for (size_t pi = 0; pi < np; pi++) {
            cls_precision_t prec;
            if (cls_precision_parse(pv[pi], &prec) != 0 ||
                (prec != CLS_PREC_BF16 && prec != CLS_PREC_INT8)) {
                fprintf(stderr, "bench_lowp: precision %s: bf16 or int8\n", pv[pi]);
                return 2;
            }
            cls_wpack_t *wp[MAX_COPIES];
            for (size_t c = 0; c < copies; c++)
                if (cls_wpack_new(prec, w, n, kk, &wp[c]) != CORE_OK)
                    return 1;
            void *a = aligned_alloc(64, (cls_lowp_abytes(prec, m, kk) + 63) / 64 * 64);
            float *as = malloc((m + 16) * sizeof *as);
            int32_t *az = malloc((m + 16) * sizeof *az);
            job_t jobs[MAX_ITEMS];
            size_t nj = 0;
            for (size_t vi = 0; vi < nv; vi++) {
                const cls_lowp_kernels_t *k = cls_lowp_named(vv[vi], prec);
                if (!k) {
                    printf("skip %s %s: not run by this CPU\n", vv[vi], pv[pi]);
                    continue;
                }
                jobs[nj++] = (job_t){.k = k, .w = wp, .ncopies = copies, .m = m, .n = n, .kk = kk};
            }
            for (size_t r = 0; r < rounds; r++)
                for (size_t ji = 0; ji < nj; ji++)
                    time_one(&jobs[ji], x, a, as, az, bias, y, gelu ? epi_gelu : NULL, ms, r);
            for (size_t ji = 0; ji < nj; ji++) {
                qsort(jobs[ji].gemm_s, rounds, sizeof(double), bench_cmp_double);
                qsort(jobs[ji].pack_s, rounds, sizeof(double), bench_cmp_double);
                double g = jobs[ji].gemm_s[rounds / 2], p = jobs[ji].pack_s[rounds / 2];
                double gb = jobs[ji].gemm_s[0], ops = 2.0 * (double)m * (double)n * (double)kk;
                printf("%-8s %-5s m %zu n %zu k %zu%s  gemm %8.1f GOP/s (%.3f ms)  best %8.1f "
                       "GOP/s  pack_a %.3f ms\n",
                       jobs[ji].k->name, pv[pi], m, n, kk, gelu ? " gelu" : "", ops / g * 1e-9,
                       g * 1e3, ops / gb * 1e-9, p * 1e3);
            }
            free(a);
            free(as);
            free(az);
            for (size_t c = 0; c < copies; c++)
                cls_wpack_free(wp[c]);
        }
        free(w);
        free(x);
        free(bias);
        free(y);
    }
    return 0;
}
