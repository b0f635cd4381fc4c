/*
 * bench/bench_kernels.c: the elementwise kernels of classify/kernels alone,
 * one thread, every variant this CPU runs (generic, avx2, avx512) on the
 * same rows: ns per element of bias_gelu_erf, bias_gelu_tanh, bias_add
 * (the floor: the copy that restores the input, and one add) and
 * add_layernorm (residual add and LayerNorm, as the encoder runs it). Rows of n floats (default
 * 3072, the BERT-base FFN width; 12 KiB, in L1/L2) are processed over and over for about --ms per
 * round; the variants run interleaved, round by round, and the best (fastest) round is reported
 * next to the median: on a shared VM the best round is the stable figure (docs/engine.md). Timed
 * with CLOCK_THREAD_CPUTIME_ID.
 *
 * usage: bench_kernels [--n 3072] [--rows 8] [--rounds 15] [--ms 30]
 * To compare two builds of the kernels, run this file's binary from each.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "classify/kernels/cls_kernels.h"

#define MAX_ROUNDS 64

typedef void (*bias_fn)(float *y, const float *b, size_t rows, size_t n);

static bias_fn pick(const cls_kernels_t *k, int op)
{
    return op == 0 ? k->bias_gelu_erf : op == 1 ? k->bias_gelu_tanh : k->bias_add;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"generic", "avx2", "avx512"};
    static const char *const ops[] = {"bias_gelu_erf", "bias_gelu_tanh", "bias_add",
                                      "add_layernorm"};
    size_t n = 3072, rows = 8, rounds = 15;
    double ms = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--n") == 0)
            n = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rows") == 0)
            rows = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--ms") == 0)
            ms = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "bench_kernels: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc % 2 == 0 || n == 0 || rows == 0 || rounds == 0 || rounds > MAX_ROUNDS || !(ms > 0)) {
        fprintf(stderr,
                "bench_kernels: --n, --rows, --rounds (1-%d) and --ms take positive "
                "values\n",
                MAX_ROUNDS);
        return 2;
    }
    /* rows start on cache lines when n is a multiple of 16, as the
     * encoder's do */
    float *x = aligned_alloc(64, (rows * n * sizeof *x + 63) / 64 * 64),
          *y = aligned_alloc(64, (rows * n * sizeof *y + 63) / 64 * 64), *b = malloc(n * sizeof *b),
          *g = malloc(n * sizeof *g);
    if (!x || !y || !b || !g)
        return 1;
    srand(1);
    for (size_t i = 0; i < rows * n; i++)
        x[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 8.0f; /* pre-activations in [-4, 4] */
    for (size_t j = 0; j < n; j++) {
        b[j] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.2f;
        g[j] = 1.0f + b[j];
    }
    for (int op = 0; op < 4; op++) {
        const cls_kernels_t *ks[3];
        double t[3][MAX_ROUNDS];
        size_t nk = 0;
        for (size_t v = 0; v < 3; v++) {
            const cls_kernels_t *k = cls_kernels_named(names[v]);
            if (k)
                ks[nk++] = k;
        }
        for (size_t r = 0; r < rounds; r++)
            for (size_t v = 0; v < nk; v++) {
                bias_fn f = op < 3 ? pick(ks[v], op) : NULL;
                size_t reps = 0;
                double t0 = bench_now(), t1;
                do {
                    /* the kernel works in place: restore its input each time
                     * (the copy is timed too, the same for every variant) */
                    memcpy(y, x, rows * n * sizeof *y);
                    if (f)
                        f(y, b, rows, n);
                    else /* x is the residual, as the encoder adds it */
                        ks[v]->add_layernorm(y, x, g, b, rows, n, 1e-12f);
                    reps++;
                } while ((t1 = bench_now()) - t0 < ms * 1e-3);
                t[v][r] = (t1 - t0) / (double)(reps * rows * n) * 1e9;
            }
        for (size_t v = 0; v < nk; v++) {
            qsort(t[v], rounds, sizeof(double), bench_cmp_double);
            printf("%-8s %-15s n %zu  best %.3f ns/element  median %.3f\n", ks[v]->name, ops[op], n,
                   t[v][0], t[v][rounds / 2]);
        }
    }
    free(x);
    free(y);
    free(b);
    free(g);
    return 0;
}
