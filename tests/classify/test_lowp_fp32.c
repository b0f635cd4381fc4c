/*
 * Tests of the packed fp32 GEMM of classify/kernels/cls_lowp (the "own"
 * fp32 GEMM: cls_lowp_generic.c, cls_lowp_avx512f.c): the packed layout,
 * the generic reference against exact arithmetic, the AVX-512F variant
 * against the generic reference (ragged shapes, every tile tail, several k
 * slices and row chunks), both against OpenBLAS on odd shapes, and the
 * FINSENT_FP32_GEMM switch. The AVX-512F variant's tests report themselves
 * skipped on a CPU without it (need "avx512").
 *
 * Tolerances:
 *   avx512 vs generic: none. Both compute every output as fmaf(x_k, w_k,
 *     acc) in k order from 0, then + bias, then the same epilogue function,
 *     so they must agree bit for bit (a wrong index, a lost k step or a
 *     missed tail changes bits).
 *   generic vs exact (double): each of the k fused multiply-adds rounds
 *     once (relative u = 2^-24 of the partial sum, |partial| <= sum|x w|),
 *     the bias add once more: |err| <= (k + 1) u (sum_k |x_k w_k| + |b|)
 *     (the first-order bound; the second-order term is below 1e-6 of it
 *     for these k). A product dropped or misplaced moves an output by
 *     about sum|x w| / k, over 100 times this bound for k <= 4096.
 *   own vs OpenBLAS: both within the bound above of the exact value (any
 *     summation order: OpenBLAS's kernels also use FMA or a rounded product
 *     and sum, at most 2 roundings per step), so they differ by at most
 *     3 (k + 1) u (sum|x w| + |b|); through GELU (|gelu'| <= 1.13) 1.13x that
 *     plus the epilogue's rounding, which is the same function on both.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_blas.h"
#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

#define U 5.9604644775390625e-8 /* 2^-24 */

static unsigned long long rng = 0x243f6a8885a308d3ull;

/* The epilogues: a checkable affine one, and the model's erf-GELU through
 * the kernel table, as cls_bert passes it (rows of a tile, row stride ldy). */
static void epi_affine(float *y, size_t ldy, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            y[r * ldy + j] = 2.0f * (y[r * ldy + j] + (b ? b[j] : 0.0f)) - 1.0f;
}

static void epi_gelu(float *y, size_t ldy, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++)
        cls_kernels_get()->bias_gelu_erf(y + r * ldy, b, 1, n);
}

enum { EPI_NONE, EPI_AFFINE, EPI_GELU };

static cls_lowp_epi_fn epi_of(int e)
{
    return e == EPI_AFFINE ? epi_affine : e == EPI_GELU ? epi_gelu : NULL;
}

/* Runs kernels kk on x (m, k), w (n, k), bias b (may be NULL) into a fresh
 * (m, n) result; y is written with row stride n + 5 and the 5 guard columns
 * (and a guard row after the last) must stay untouched. */
static float *run(const cls_lowp_kernels_t *kk, const float *x, const float *w, const float *b,
                  size_t m, size_t n, size_t k, int epi)
{
    cls_wpack_t *p;
    size_t ldy = n + 5;
    float *y = malloc((m + 1) * ldy * sizeof *y), *out = malloc(m * n * sizeof *out);
    ck_assert(y && out);
    for (size_t i = 0; i < (m + 1) * ldy; i++)
        y[i] = 12345.0f;
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_FP32, w, n, k, &p), CORE_OK);
    ck_assert_ptr_null(kk->pack_a);
    kk->gemm(x, NULL, NULL, m, p, b, epi_of(epi), y, ldy);
    for (size_t r = 0; r <= m; r++)
        for (size_t j = r < m ? n : 0; j < ldy; j++)
            ck_assert_msg(y[r * ldy + j] == 12345.0f, "%s m=%zu n=%zu k=%zu: guard [%zu][%zu] hit",
                          kk->name, m, n, k, r, j);
    for (size_t r = 0; r < m; r++)
        memcpy(out + r * n, y + r * ldy, n * sizeof *out);
    cls_wpack_free(p);
    free(y);
    return out;
}

/* The same through OpenBLAS, as cls_bert's fp32 path does it. */
static float *run_blas(const float *x, const float *w, const float *b, size_t m, size_t n, size_t k,
                       int epi)
{
    float *y = malloc(m * n * sizeof *y);
    ck_assert_ptr_nonnull(y);
    if (b && epi == EPI_NONE) {
        cls_gemm_xwt_bias(x, m, k, w, n, b, y, n);
    } else {
        cls_gemm_xwt(x, m, k, w, n, y, n);
        if (epi != EPI_NONE)
            epi_of(epi)(y, n, b, m, n);
    }
    return y;
}

/* sum_k |x_k w_k| + |b| for every output. */
static double *magnitudes(const float *x, const float *w, const float *b, size_t m, size_t n,
                          size_t k, double *exact)
{
    double *mag = malloc(m * n * sizeof *mag);
    ck_assert_ptr_nonnull(mag);
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < n; j++) {
            double s = b ? b[j] : 0.0, a = b ? fabs(b[j]) : 0.0;
            for (size_t kk = 0; kk < k; kk++) {
                s += (double)x[r * k + kk] * w[j * k + kk];
                a += fabs((double)x[r * k + kk] * w[j * k + kk]);
            }
            if (exact)
                exact[r * n + j] = s;
            mag[r * n + j] = a;
        }
    return mag;
}

START_TEST(test_fp32_pack_layout)
{
    size_t n = 37, k = 70;
    float *w = th_urand_new(&rng, n * k, -1.0f, 1.0f);
    const float *d;
    cls_wpack_t *p;

    ck_assert_int_eq(cls_wpack_new(CLS_PREC_FP32, w, 0, k, &p), CORE_EINVAL);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_FP32, w, n, 0, &p), CORE_EINVAL);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_FP32, w, n, k, &p), CORE_OK);
    ck_assert_int_eq(p->prec, CLS_PREC_FP32);
    ck_assert_uint_eq(p->n_pad, 48);
    ck_assert_uint_eq(p->k_pad, k);
    ck_assert_uint_eq(cls_lowp_kpad(CLS_PREC_FP32, k), k);
    ck_assert_uint_eq(cls_lowp_abytes(CLS_PREC_FP32, 10, k), 0);
    ck_assert_uint_eq((uintptr_t)p->data % 64, 0);
    ck_assert_uint_ge(cls_wpack_bytes(p), 48 * k * sizeof(float));
    d = p->data;
    for (size_t j = 0; j < p->n_pad; j++)
        for (size_t kk = 0; kk < k; kk++) {
            float want = j < n ? w[j * k + kk] : 0.0f;
            ck_assert_msg(d[((j / 16) * k + kk) * 16 + j % 16] == want, "[%zu][%zu]", j, kk);
        }
    cls_wpack_free(p);
    cls_wpack_free(NULL);
    free(w);
}
END_TEST

START_TEST(test_fp32_generic_vs_exact)
{
    static const size_t shapes[][3] = {{1, 16, 32}, {5, 37, 70}, {17, 64, 256}, {33, 20, 1029}};
    const cls_lowp_kernels_t *g = cls_lowp_named("generic", CLS_PREC_FP32);

    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g->name, "generic");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *x = th_urand_new(&rng, m * k, -2.0f, 3.0f),
              *w = th_urand_new(&rng, n * k, -0.5f, 0.5f), *b = th_urand_new(&rng, n, -1.0f, 1.0f);
        double *ye = malloc(m * n * sizeof *ye), *mag;
        float *y = run(g, x, w, b, m, n, k, EPI_NONE);
        mag = magnitudes(x, w, b, m, n, k, ye);
        for (size_t i = 0; i < m * n; i++) {
            double tol = (double)(k + 1) * U * mag[i];
            ck_assert_msg(fabs(y[i] - ye[i]) <= tol,
                          "m=%zu n=%zu k=%zu [%zu]: %.9g vs %.9g (tol %g)", m, n, k, i, y[i], ye[i],
                          tol);
        }
        free(x);
        free(w);
        free(b);
        free(ye);
        free(mag);
        free(y);
    }
}
END_TEST

/* avx512 vs generic, bit for bit. */
static void same_as_generic(size_t m, size_t n, size_t k, int with_bias, int epi)
{
    const cls_lowp_kernels_t *v = cls_lowp_named("avx512", CLS_PREC_FP32),
                             *g = cls_lowp_named("generic", CLS_PREC_FP32);
    float *x = th_urand_new(&rng, m * k, -3.0f, 2.0f), *w = th_urand_new(&rng, n * k, -0.3f, 0.3f),
          *b = th_urand_new(&rng, n, -1.0f, 1.0f);
    float *yv, *yg;
    if (!with_bias && epi == EPI_GELU)
        epi = EPI_AFFINE; /* the kernel table's GELU takes a bias (cls_bert always has one) */
    yv = run(v, x, w, with_bias ? b : NULL, m, n, k, epi);
    yg = run(g, x, w, with_bias ? b : NULL, m, n, k, epi);
    for (size_t i = 0; i < m * n; i++)
        ck_assert_msg(memcmp(&yv[i], &yg[i], sizeof(float)) == 0,
                      "avx512 m=%zu n=%zu k=%zu bias=%d epi=%d [%zu][%zu]: %.9g vs generic %.9g", m,
                      n, k, with_bias, epi, i / n, i % n, yv[i], yg[i]);
    free(x);
    free(w);
    free(b);
    free(yv);
    free(yg);
}

START_TEST(test_fp32_avx512_vs_generic)
{
    /* every row tail of the 6-row tile, every column tail of the 16-column
     * block and of the 64-column panel, k from 1 */
    static const size_t ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 33, 70};
    static const size_t nks[][2] = {{1, 1},   {16, 16}, {17, 3}, {24, 40},   {33, 129}, {48, 7},
                                    {63, 64}, {64, 31}, {65, 1}, {100, 100}, {130, 17}, {200, 257}};

    if (!cls_lowp_named("avx512", CLS_PREC_FP32))
        TH_SKIP("avx512", "fp32 avx512 GEMM: no AVX-512F (or no OS support) on this CPU");
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t s = 0; s < sizeof nks / sizeof *nks; s++)
            same_as_generic(ms[mi], nks[s][0], nks[s][1], (int)((mi + s) % 3 != 0),
                            (int)((mi + 2 * s) % 3));
}
END_TEST

START_TEST(test_fp32_avx512_model_sizes)
{
    /* BERT-base (QKV/attention output, FFN in, FFN out) and mini shapes on
     * ragged row counts; FFN in with the GELU epilogue as cls_bert runs it
     * (few rows at the base sizes: the scalar reference is slow under the
     * sanitizers, and the row tails are covered above) */
    static const size_t shapes[][4] = {{7, 768, 768, EPI_NONE},   {7, 3072, 768, EPI_GELU},
                                       {1, 768, 3072, EPI_NONE},  {29, 256, 256, EPI_NONE},
                                       {29, 1024, 256, EPI_GELU}, {29, 256, 1024, EPI_NONE}};

    if (!cls_lowp_named("avx512", CLS_PREC_FP32))
        TH_SKIP("avx512", "fp32 avx512 GEMM: no AVX-512F (or no OS support) on this CPU");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        same_as_generic(shapes[s][0], shapes[s][1], shapes[s][2], 1, (int)shapes[s][3]);
}
END_TEST

START_TEST(test_fp32_avx512_blocking)
{
    /* a product of at least two k slices and two row chunks of this
     * machine's blocking, so partial sums are stored and reloaded and the
     * second chunk starts mid-matrix; the epilogue must run once per tile,
     * after the last slice (the affine one would show a second run) */
    size_t mc, kc, k = 5000, m, n = 17;

    if (!cls_lowp_named("avx512", CLS_PREC_FP32))
        TH_SKIP("avx512", "fp32 avx512 GEMM: no AVX-512F (or no OS support) on this CPU");
    cls_lowp_fp32_blocking(100000, k, &mc, &kc);
    if (kc >= k)
        k = 3 * kc + 7;
    cls_lowp_fp32_blocking(100000, k, &mc, &kc);
    ck_assert_uint_lt(kc, k);
    m = mc + 7;
    cls_lowp_fp32_blocking(m, k, &mc, &kc);
    ck_assert_uint_lt(mc, m);
    same_as_generic(m, n, k, 1, EPI_AFFINE);
    same_as_generic(m, n, k, 1, EPI_NONE);
}
END_TEST

/* own (variant _i: 0 generic, 1 avx512) vs OpenBLAS on odd shapes. */
START_TEST(test_fp32_vs_openblas)
{
    static const size_t ms[] = {1, 7, 33};
    static const size_t nks[][2] = {{5, 3}, {17, 31}, {100, 129}, {250, 300}, {37, 1000}};
    const char *name = _i ? "avx512" : "generic";
    const cls_lowp_kernels_t *v = cls_lowp_named(name, CLS_PREC_FP32);

    if (!v)
        TH_SKIP("avx512", "fp32 avx512 GEMM: no AVX-512F (or no OS support) on this CPU");
    cls_blas_set_threads(1);
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t s = 0; s < sizeof nks / sizeof *nks; s++)
            for (int variant = 0; variant < 3; variant++) {
                /* no bias; bias; bias + GELU */
                size_t m = ms[mi], n = nks[s][0], k = nks[s][1];
                int with_bias = variant > 0, epi = variant == 2 ? EPI_GELU : EPI_NONE;
                float *x = th_urand_new(&rng, m * k, -2.0f, 2.0f),
                      *w = th_urand_new(&rng, n * k, -0.2f, 0.2f),
                      *b = th_urand_new(&rng, n, -1.0f, 1.0f);
                float *yo = run(v, x, w, with_bias ? b : NULL, m, n, k, epi),
                      *yb = run_blas(x, w, with_bias ? b : NULL, m, n, k, epi);
                double *mag = magnitudes(x, w, with_bias ? b : NULL, m, n, k, NULL);
                for (size_t i = 0; i < m * n; i++) {
                    double tol = 3.0 * (double)(k + 1) * U * mag[i];
                    if (epi == EPI_GELU)
                        tol = 1.13 * tol + 2.0 * U * fabs(yb[i]);
                    ck_assert_msg(fabs((double)yo[i] - yb[i]) <= tol,
                                  "%s m=%zu n=%zu k=%zu bias=%d epi=%d [%zu][%zu]: %.9g vs "
                                  "OpenBLAS %.9g (tol %g)",
                                  name, m, n, k, with_bias, epi, i / n, i % n, yo[i], yb[i], tol);
                }
                free(x);
                free(w);
                free(b);
                free(yo);
                free(yb);
                free(mag);
            }
}
END_TEST

/* FINSENT_FP32_GEMM, one value per loop iteration (fork mode: the choice is
 * made fresh in each test's process). */
START_TEST(test_fp32_switch)
{
    static const char *const values[] = {NULL, "blas", "own", "generic", "avx512", "nonesuch"};
    const char *v = values[_i];
    int simd = cls_lowp_named("avx512", CLS_PREC_FP32) != NULL;

    if (v)
        ck_assert_int_eq(setenv("FINSENT_FP32_GEMM", v, 1), 0);
    else
        ck_assert_int_eq(unsetenv("FINSENT_FP32_GEMM"), 0);
    ck_assert_ptr_nonnull(cls_lowp_get(CLS_PREC_FP32));
    if (!v || strcmp(v, "nonesuch") == 0 || (strcmp(v, "avx512") == 0 && !simd)) {
        /* the default: own where its SIMD variant runs, else OpenBLAS */
        ck_assert_int_eq(cls_lowp_fp32_own(), simd);
        ck_assert_str_eq(cls_lowp_fp32_gemm(), simd ? "avx512" : "openblas");
    } else if (strcmp(v, "blas") == 0) {
        ck_assert_int_eq(cls_lowp_fp32_own(), 0);
        ck_assert_str_eq(cls_lowp_fp32_gemm(), "openblas");
    } else if (strcmp(v, "own") == 0) {
        ck_assert_int_eq(cls_lowp_fp32_own(), 1);
        ck_assert_str_eq(cls_lowp_fp32_gemm(), simd ? "avx512" : "generic");
    } else {
        ck_assert_int_eq(cls_lowp_fp32_own(), 1);
        ck_assert_str_eq(cls_lowp_fp32_gemm(), v);
        ck_assert_str_eq(cls_lowp_get(CLS_PREC_FP32)->name, v);
    }
    ck_assert_int_eq(cls_lowp_native(CLS_PREC_FP32),
                     strcmp(cls_lowp_get(CLS_PREC_FP32)->name, "generic") != 0);
    /* bf16 and int8 are not affected */
    ck_assert_ptr_nonnull(cls_lowp_get(CLS_PREC_BF16));
    ck_assert_int_eq(cls_lowp_get(CLS_PREC_INT8)->prec, CLS_PREC_INT8);
}
END_TEST

Suite *suite_lowp_fp32(void)
{
    Suite *s = suite_create("lowp_fp32");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fp32_pack_layout);
    tcase_add_test(tc, test_fp32_generic_vs_exact);
    tcase_add_test(tc, test_fp32_avx512_vs_generic);
    tcase_add_test(tc, test_fp32_avx512_model_sizes);
    tcase_add_test(tc, test_fp32_avx512_blocking);
    tcase_add_loop_test(tc, test_fp32_vs_openblas, 0, 2);
    tcase_add_loop_test(tc, test_fp32_switch, 0, 6);
    suite_add_tcase(s, tc);
    return s;
}
