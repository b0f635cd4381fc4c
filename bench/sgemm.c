/*
 * bench/sgemm.c: cblas_sgemm GFLOP/s at the shapes of the encoder
 * (Y = X W^T with X (tokens, in), W (out, in)), median of several runs.
 * Built and run by bench/sgemm, which runs it with and without
 * OPENBLAS_CORETYPE to show what the core type is worth.
 * usage: sgemm THREADS M K N [M K N ...]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5 || (argc - 2) % 3) {
        fprintf(stderr, "usage: sgemm THREADS M K N [M K N ...]\n");
        return 2;
    }
    openblas_set_num_threads(atoi(argv[1]));
    printf("OpenBLAS core %s, %d threads\n", openblas_get_corename(), openblas_get_num_threads());
    for (int a = 2; a + 2 < argc; a += 3) {
        int m = atoi(argv[a]), k = atoi(argv[a + 1]), n = atoi(argv[a + 2]);
        float *x = malloc(sizeof(float) * (size_t)m * k),
              *w = malloc(sizeof(float) * (size_t)n * k),
              *y = malloc(sizeof(float) * (size_t)m * n);
        double t[9], flops = 2.0 * m * k * n;
        int reps;
        for (size_t i = 0; i < (size_t)m * k; i++)
            x[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)n * k; i++)
            w[i] = (float)(i % 5) * 0.1f;
        reps = (int)(2e9 / flops) + 1; /* ~2 GFLOP per sample */
        for (int s = 0; s < 9; s++) {
            double t0 = now_s();
            for (int r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k,
                            0.0f, y, n);
            t[s] = (now_s() - t0) / reps;
        }
        qsort(t, 9, sizeof t[0], cmp);
        printf("M=%-6d K=%-5d N=%-5d %8.1f GFLOP/s\n", m, k, n, flops / t[4] * 1e-9);
        free(x);
        free(w);
        free(y);
    }
    return 0;
}
