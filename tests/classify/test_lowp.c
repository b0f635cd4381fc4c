/*
 * Tests of classify/kernels/cls_lowp: the packed layouts, the generic
 * reference against exact arithmetic, and every SIMD variant this CPU runs
 * ("avx512": AVX512-BF16 / VNNI, "amx": AMX tiles) against the generic
 * reference on random shapes: ragged m (1..70, not multiples of the 16-row
 * tile), n and k that are not multiples of the 16-column or 32/64-deep k
 * blocks, and the real model sizes. Variants the CPU lacks are reported as
 * skipped (TH_SKIP, one test per variant and precision; the generic tests
 * still run).
 *
 * Tolerances:
 *   bf16 activations and weights: pack_a is exact (round to nearest even,
 *     the same bits from VCVTNE2PS2BF16 as from the scalar rounding for
 *     normal numbers). The products of two bf16 are exact in fp32; only the
 *     order of the fp32 sums differs between variants (pairs for
 *     VDPBF16PS, 32-deep tiles for AMX), so variant vs generic agree within
 *     a few ulp of sum_k |a_k w_k|: 1e-5 of that sum.
 *   int8: the integer dot products are exact in every variant; only the
 *     final fp32 scaling differs in rounding order: 1e-5 relative.
 *   generic vs the fp32 product of the unrounded inputs: bf16 rounds each
 *     operand by <= 2^-9 relative, so |err| <= 2 * 2^-9 * sum|x w| (4e-3);
 *     int8 rounds x by <= ascale/2 and w by <= scale/2 per element, so
 *     |err| <= sum_k (|w_k| ascale/2 + |x_k| scale/2 + ascale scale/4).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static void *abuf(cls_precision_t prec, size_t m, size_t k)
{
    size_t b = cls_lowp_abytes(prec, m, k);
    void *p = aligned_alloc(64, (b + 63) / 64 * 64);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xa5, b); /* pack_a must write every byte, padding included */
    return p;
}

static const cls_precision_t precs[] = {CLS_PREC_BF16, CLS_PREC_INT8};

START_TEST(test_names)
{
    cls_precision_t p;
    ck_assert_int_eq(cls_precision_parse("bf16", &p), 0);
    ck_assert_int_eq(p, CLS_PREC_BF16);
    ck_assert_int_eq(cls_precision_parse("int8", &p), 0);
    ck_assert_int_eq(p, CLS_PREC_INT8);
    ck_assert_int_eq(cls_precision_parse("auto", &p), 0);
    ck_assert_int_eq(p, CLS_PREC_AUTO);
    ck_assert_int_eq(cls_precision_parse("fp32", &p), 0);
    ck_assert_int_eq(p, CLS_PREC_FP32);
    ck_assert_int_eq(cls_precision_parse("fp16", &p), -1);
    ck_assert_int_eq(cls_precision_parse("", &p), -1);
    ck_assert_int_eq(cls_precision_parse(NULL, &p), -1);
    ck_assert_str_eq(cls_precision_name(CLS_PREC_INT8), "int8");
    ck_assert_ptr_null(cls_lowp_get(CLS_PREC_AUTO));
    ck_assert_ptr_nonnull(cls_lowp_get(CLS_PREC_BF16));
    ck_assert_ptr_nonnull(cls_lowp_named("generic", CLS_PREC_INT8));
    ck_assert_ptr_null(cls_lowp_named("nonesuch", CLS_PREC_INT8));
    ck_assert_ptr_null(cls_lowp_named("generic", CLS_PREC_AUTO));
    /* fp32: our own packed GEMM (test_lowp_fp32.c); no AMX variant */
    ck_assert_ptr_nonnull(cls_lowp_get(CLS_PREC_FP32));
    ck_assert_ptr_nonnull(cls_lowp_named("generic", CLS_PREC_FP32));
    ck_assert_ptr_null(cls_lowp_named("amx", CLS_PREC_FP32));
    /* fp32 is always what auto falls back to */
    ck_assert_int_eq(cls_lowp_auto(1u << CLS_PREC_FP32), CLS_PREC_FP32);
}
END_TEST

START_TEST(test_bf16_rounding)
{
    ck_assert_uint_eq(cls_lowp_f2bf(1.0f), 0x3f80);
    ck_assert_float_eq(cls_lowp_bf2f(cls_lowp_f2bf(-2.5f)), -2.5f);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1) */
    ck_assert_uint_eq(cls_lowp_f2bf(1.0f + 1.0f / 256.0f), 0x3f80);
    /* 1 + 3 * 2^-8 ties up to 1 + 2^-6 (even mantissa) */
    ck_assert_uint_eq(cls_lowp_f2bf(1.0f + 3.0f / 256.0f), 0x3f82);
    ck_assert(isnan(cls_lowp_bf2f(cls_lowp_f2bf(NAN))));
    ck_assert(isinf(cls_lowp_bf2f(cls_lowp_f2bf(INFINITY))));
}
END_TEST

START_TEST(test_pack_layout)
{
    size_t n = 37, k = 70;
    float *w = th_urand_new(&rng, n * k, -1.0f, 1.0f);
    cls_wpack_t *p;

    ck_assert_int_eq(cls_wpack_new(CLS_PREC_AUTO, w, n, k, &p), CORE_EINVAL);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_BF16, w, 0, k, &p), CORE_EINVAL);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_BF16, w, n, k, &p), CORE_OK);
    ck_assert_uint_eq(p->n_pad, 48);
    ck_assert_uint_eq(p->k_pad, 96);
    for (size_t j = 0; j < p->n_pad; j++)
        for (size_t kk = 0; kk < p->k_pad; kk++) {
            uint16_t got = ((uint16_t *)p->data)[((j / 16) * (p->k_pad / 2) + kk / 2) * 32 +
                                                 (j % 16) * 2 + kk % 2];
            uint16_t want = j < n && kk < k ? cls_lowp_f2bf(w[j * k + kk]) : 0;
            ck_assert_uint_eq(got, want);
        }
    cls_wpack_free(p);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_INT8, w, n, k, &p), CORE_OK);
    ck_assert_uint_eq(p->k_pad, 128);
    for (size_t j = 0; j < n; j++) {
        int32_t sum = 0;
        float amax = 0;
        for (size_t kk = 0; kk < k; kk++)
            amax = fmaxf(amax, fabsf(w[j * k + kk]));
        ck_assert_float_eq_tol(p->scale[j], amax / 127.0f, 1e-7f);
        for (size_t kk = 0; kk < p->k_pad; kk++) {
            int8_t q = ((int8_t *)p->data)[((j / 16) * (p->k_pad / 4) + kk / 4) * 64 +
                                           (j % 16) * 4 + kk % 4];
            if (kk >= k) {
                ck_assert_int_eq(q, 0);
                continue;
            }
            ck_assert_int_le(abs(q), 127);
            ck_assert_float_eq_tol((float)q * p->scale[j], w[j * k + kk], p->scale[j] * 0.5001f);
            sum += q;
        }
        ck_assert_int_eq(sum, p->wsum[j]);
    }
    cls_wpack_free(p);
    /* an all-zero row gets scale 1 and zero weights, never a division by 0 */
    memset(w, 0, k * sizeof *w);
    ck_assert_int_eq(cls_wpack_new(CLS_PREC_INT8, w, 1, k, &p), CORE_OK);
    ck_assert_float_eq(p->scale[0], 1.0f);
    ck_assert_int_eq(p->wsum[0], 0);
    cls_wpack_free(p);
    free(w);
}
END_TEST

/* y = x W^T + b in double from the unrounded inputs, and sum |x||w|. */
static void exact(const float *x, const float *w, const float *b, size_t m, size_t n, size_t k,
                  double *y, double *mag)
{
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < n; j++) {
            double s = b[j], a = 0;
            for (size_t kk = 0; kk < k; kk++) {
                s += (double)x[r * k + kk] * w[j * k + kk];
                a += fabs((double)x[r * k + kk] * w[j * k + kk]);
            }
            y[r * n + j] = s;
            mag[r * n + j] = a;
        }
}

/* Runs kernels kk on x (m, k), w (n, k), bias b into y (m, n; ldy = n + 3,
 * the extra columns must stay untouched). */
static float *run(const cls_lowp_kernels_t *kk, const float *x, const float *w, const float *b,
                  size_t m, size_t n, size_t k, cls_lowp_epi_fn epi)
{
    cls_wpack_t *p;
    size_t ldy = n + 3;
    void *a = abuf(kk->prec, m, k);
    float *as = malloc((m + 16) * sizeof *as), *y = malloc(m * ldy * sizeof *y);
    int32_t *az = malloc((m + 16) * sizeof *az);
    ck_assert(as && y && az);
    for (size_t i = 0; i < m * ldy; i++)
        y[i] = 12345.0f;
    ck_assert_int_eq(cls_wpack_new(kk->prec, w, n, k, &p), CORE_OK);
    kk->pack_a(x, m, k, k, a, as, az);
    kk->gemm(a, as, az, m, p, b, epi, y, ldy);
    for (size_t r = 0; r < m; r++)
        for (size_t j = n; j < ldy; j++)
            ck_assert_float_eq(y[r * ldy + j], 12345.0f);
    /* compact to (m, n) */
    for (size_t r = 0; r < m; r++)
        memmove(y + r * n, y + r * ldy, n * sizeof *y);
    cls_wpack_free(p);
    free(a);
    free(as);
    free(az);
    return y;
}

START_TEST(test_generic_vs_exact)
{
    static const size_t shapes[][3] = {{1, 16, 32}, {5, 37, 70}, {17, 64, 256}, {33, 20, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t pi = 0; pi < 2; pi++) {
            size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            float *x = th_urand_new(&rng, m * k, -2.0f, 3.0f),
                  *w = th_urand_new(&rng, n * k, -0.5f, 0.5f),
                  *b = th_urand_new(&rng, n, -1.0f, 1.0f);
            double *ye = malloc(m * n * sizeof *ye), *mag = malloc(m * n * sizeof *mag);
            const cls_lowp_kernels_t *g = cls_lowp_named("generic", precs[pi]);
            float *y = run(g, x, w, b, m, n, k, NULL);
            exact(x, w, b, m, n, k, ye, mag);
            for (size_t r = 0; r < m; r++) {
                float lo = 0, hi = 0, as;
                for (size_t kk = 0; kk < k; kk++) {
                    lo = fminf(lo, x[r * k + kk]);
                    hi = fmaxf(hi, x[r * k + kk]);
                }
                as = (hi - lo) / 255.0f;
                for (size_t j = 0; j < n; j++) {
                    double tol;
                    if (precs[pi] == CLS_PREC_BF16) {
                        tol = 4e-3 * mag[r * n + j] + 1e-5;
                    } else {
                        double sw = 0, sx = 0, amax = 0;
                        for (size_t kk = 0; kk < k; kk++) {
                            sw += fabs(w[j * k + kk]);
                            sx += fabs(x[r * k + kk]);
                            amax = fmax(amax, fabs(w[j * k + kk]));
                        }
                        tol = sw * as * 0.5 + sx * amax / 127.0 * 0.5 +
                              (double)k * as * amax / 127.0 * 0.25 + 1e-4;
                    }
                    ck_assert_msg(fabs(y[r * n + j] - ye[r * n + j]) <= tol,
                                  "%s m=%zu n=%zu k=%zu [%zu][%zu]: %g vs %g (tol %g)",
                                  cls_precision_name(precs[pi]), m, n, k, r, j, y[r * n + j],
                                  ye[r * n + j], tol);
                }
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

/* An epilogue the tests can check: y = 2 (y + b) - 1 on every element of
 * the tile it is given. */
static void epi_test(float *y, size_t ldy, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            y[r * ldy + j] = 2.0f * (y[r * ldy + j] + b[j]) - 1.0f;
}

static void compare_variant(const char *name, cls_precision_t prec, size_t m, size_t n, size_t k,
                            int with_epi)
{
    const cls_lowp_kernels_t *v = cls_lowp_named(name, prec),
                             *g = cls_lowp_named("generic", prec);
    float *x = th_urand_new(&rng, m * k, -3.0f, 2.0f), *w = th_urand_new(&rng, n * k, -0.3f, 0.3f),
          *b = th_urand_new(&rng, n, -1.0f, 1.0f);
    float *yv, *yg;
    double *ye = malloc(m * n * sizeof *ye), *mag = malloc(m * n * sizeof *mag);

    ck_assert_ptr_nonnull(v);
    exact(x, w, b, m, n, k, ye, mag);
    /* pack_a: the same bytes as the reference */
    {
        void *av = abuf(prec, m, k), *ag = abuf(prec, m, k);
        float *asv = malloc((m + 16) * sizeof(float)), *asg = malloc((m + 16) * sizeof(float));
        int32_t *azv = malloc((m + 16) * sizeof(int32_t)), *azg = malloc((m + 16) * sizeof(int32_t));
        v->pack_a(x, m, k, k, av, asv, azv);
        g->pack_a(x, m, k, k, ag, asg, azg);
        ck_assert_msg(memcmp(av, ag, cls_lowp_abytes(prec, m, k)) == 0,
                      "%s %s pack_a m=%zu k=%zu differs from generic", name,
                      cls_precision_name(prec), m, k);
        if (prec == CLS_PREC_INT8)
            for (size_t r = 0; r < m; r++) {
                ck_assert_float_eq(asv[r], asg[r]);
                ck_assert_int_eq(azv[r], azg[r]);
            }
        free(av);
        free(ag);
        free(asv);
        free(asg);
        free(azv);
        free(azg);
    }
    yv = run(v, x, w, b, m, n, k, with_epi ? epi_test : NULL);
    yg = run(g, x, w, b, m, n, k, with_epi ? epi_test : NULL);
    for (size_t i = 0; i < m * n; i++) {
        double scale = with_epi ? 2.0 : 1.0;
        double tol = prec == CLS_PREC_BF16 ? scale * (1e-5 * mag[i] + 1e-6)
                                           : 1e-5 * fabs((double)yg[i]) + scale * 1e-5;
        ck_assert_msg(fabs((double)yv[i] - yg[i]) <= tol,
                      "%s %s m=%zu n=%zu k=%zu epi=%d [%zu]: %g vs generic %g (tol %g)", name,
                      cls_precision_name(prec), m, n, k, with_epi, i, yv[i], yg[i], tol);
    }
    free(x);
    free(w);
    free(b);
    free(ye);
    free(mag);
    free(yv);
    free(yg);
}

const char *lowp_need(const char *variant, cls_precision_t prec)
{
    if (strcmp(variant, "avx512") == 0)
        return prec == CLS_PREC_INT8   ? "avx512-vnni"
               : prec == CLS_PREC_FP32 ? "avx512"
                                       : "avx512-bf16";
    return variant;
}

/* The SIMD variants, one loop iteration per variant and precision:
 * _i = variant * 2 + precision. */
static const char *const simd_names[] = {"avx512", "amx"};
#define N_SIMD (2 * 2)

START_TEST(test_variants)
{
    static const size_t ms[] = {1, 2, 7, 16, 17, 31, 32, 33, 70};
    static const size_t nks[][2] = {{16, 32}, {24, 40}, {48, 64}, {80, 100}, {33, 129}, {64, 256}};
    const char *name = simd_names[_i / 2];
    cls_precision_t prec = precs[_i % 2];

    if (!cls_lowp_named(name, prec))
        TH_SKIP(lowp_need(name, prec), "%s %s kernels: not supported by this CPU", name,
                cls_precision_name(prec));
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t s = 0; s < sizeof nks / sizeof *nks; s++)
            compare_variant(name, prec, ms[mi], nks[s][0], nks[s][1], (mi + s) % 2);
    /* AMX's two loop orders (cls_lowp_amx.c): at int8, k = 2048 takes the
     * panel order with 16 column blocks (512 KiB) per panel, so n = 300 (19
     * blocks) makes two panels, the second ending on a lone block; at bf16
     * it takes the long-k order, its 19 blocks in 9 pairs and a lone one */
    compare_variant(name, prec, 37, 300, 2048, 1);
}
END_TEST

START_TEST(test_variants_model_sizes)
{
    /* the BERT-base shapes (QKV/attention output, FFN in, FFN out) on a
     * ragged batch, and the mini ones */
    static const size_t shapes[][3] = {{45, 768, 768}, {45, 3072, 768}, {45, 768, 3072},
                                       {29, 256, 256}, {29, 1024, 256}, {29, 256, 1024}};
    const char *name = simd_names[_i / 2];
    cls_precision_t prec = precs[_i % 2];

    if (!cls_lowp_named(name, prec))
        TH_SKIP(lowp_need(name, prec), "%s %s kernels: not supported by this CPU", name,
                cls_precision_name(prec));
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
#ifdef TH_SANITIZED
        /* of the BERT-base shapes only the deepest (k = 3072) under the
         * sanitizers: the double-precision reference and the generic
         * kernel on the other two took 12 s there; release runs them all */
        if (s < 2)
            continue;
#endif
        compare_variant(name, prec, shapes[s][0], shapes[s][1], shapes[s][2], (int)(s % 2));
    }
}
END_TEST

START_TEST(test_int8_extremes)
{
    /* rows that are all zero, all negative, all positive, constant, with
     * one huge outlier: the zero point keeps 0 exact, nothing overflows */
    size_t m = 6, n = 16, k = 64;
    float *x = calloc(m * k, sizeof *x), *w = th_urand_new(&rng, n * k, -1.0f, 1.0f),
          *b = calloc(n, sizeof *b);
    const cls_lowp_kernels_t *g = cls_lowp_named("generic", CLS_PREC_INT8);
    float *y;
    for (size_t kk = 0; kk < k; kk++) {
        x[1 * k + kk] = -1.0f - (float)kk;
        x[2 * k + kk] = 1.0f + (float)kk;
        x[3 * k + kk] = 0.25f;
        x[4 * k + kk] = kk == 5 ? 1e6f : 0.01f;
        x[5 * k + kk] = kk % 2 ? 1e-30f : -1e-30f;
    }
    y = run(g, x, w, b, m, n, k, NULL);
    for (size_t j = 0; j < n; j++) {
        ck_assert_float_eq(y[j], 0.0f); /* zero row, zero bias */
        for (size_t r = 0; r < m; r++)
            ck_assert(isfinite(y[r * n + j]));
    }
    free(y);
    free(x);
    free(w);
    free(b);
}
END_TEST

/* A bf16 attention (AMX tiles or AVX512-BF16; bf16 products, fp32 softmax) against the fp32 generic
 * kernel, on heads cut from wider rows as BERT's are (ld > d). Tolerance
 * per query row i and column c: the bf16 roundings of q and k move a score
 * by at most 2^-8 of scale * sum_c |q_ic k_jc| (d_i, its largest over j),
 * which moves each probability by a relative 2 d_i at most (to first
 * order); the probabilities and v are rounded to bf16 (2^-9 each), so
 * |ctx - ref| <= max_j |v_jc| (2.5 d_i + 2^-7) + 1e-6. Outside the head's
 * slice and past nq, ctx must be untouched. */
static void check_attention(const cls_lowp_kernels_t *a)
{
    static const size_t shapes[][2] = {{1, 1},     {1, 37},    {5, 16},  {6, 65},   {16, 16},
                                       {17, 33},   {32, 32},   {33, 64}, {64, 100}, {7, 127},
                                       {100, 128}, {128, 128}, {128, 1}};
    const size_t d = 64, ld = 3 * 64 + 8, off = 72;
    const float scale = 0.125f;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t nq = shapes[si][0], nk = shapes[si][1], rows = nq > nk ? nq : nk;
        float *q = th_urand_new(&rng, rows * ld, -2.0f, 2.0f),
              *k = th_urand_new(&rng, rows * ld, -2.0f, 2.0f),
              *v = th_urand_new(&rng, rows * ld, -3.0f, 3.0f);
        float *ref = calloc(rows * ld, sizeof *ref), *got = malloc(rows * ld * sizeof *got),
              *sc = malloc(nq * nk * sizeof *sc);
        for (size_t i = 0; i < rows * ld; i++)
            got[i] = 12345.0f;
        cls_kernels_generic.attention_head(q + off, nq, k + off, v + off, nk, ld, d, scale, sc,
                                           ref + off);
        ck_assert_int_eq(
            a->attention(q + off, nq, k + off, v + off, nk, ld, d, scale, sc, got + off), 0);
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < ld; c++) {
                size_t cc = c - off;
                if (i >= nq || c < off || cc >= d) {
                    ck_assert_msg(got[i * ld + c] == 12345.0f,
                                  "nq=%zu nk=%zu: [%zu][%zu] written outside the head", nq, nk, i,
                                  c);
                    continue;
                }
                double di = 0, vmax = 0, tol;
                for (size_t j = 0; j < nk; j++) {
                    double dot = 0;
                    for (size_t e = 0; e < d; e++)
                        dot += fabs((double)q[i * ld + off + e] * k[j * ld + off + e]);
                    di = dot > di ? dot : di;
                    vmax = fabs(v[j * ld + c]) > vmax ? fabs(v[j * ld + c]) : vmax;
                }
                di *= scale / 256.0;
                tol = vmax * (2.5 * di + 1.0 / 128) + 1e-6;
                ck_assert_msg(fabs((double)got[i * ld + c] - ref[i * ld + c]) <= tol,
                              "nq=%zu nk=%zu [%zu][%zu]: %g vs fp32 %g (tol %g)", nq, nk, i, cc,
                              got[i * ld + c], ref[i * ld + c], tol);
            }
        free(q);
        free(k);
        free(v);
        free(ref);
        free(got);
        free(sc);
    }
    /* shapes it does not take: the caller runs the fp32 kernel */
    {
        float *x = calloc(200 * 64, sizeof *x), *y = calloc(200 * 64, sizeof *y), s1[4];
        ck_assert_int_eq(a->attention(x, 4, x, x, 4, 32, 32, 0.2f, s1, y), -1);
        ck_assert_int_eq(a->attention(x, 4, x, x, 129, 64, 64, scale, s1, y), -1);
        ck_assert_int_eq(a->attention(x, 129, x, x, 4, 64, 64, scale, s1, y), -1);
        free(x);
        free(y);
    }
}

START_TEST(test_attention_amx)
{
    const cls_lowp_kernels_t *a = cls_lowp_named("amx", CLS_PREC_BF16);
    if (!a || !a->attention)
        TH_SKIP("amx", "no AMX on this CPU (or the kernel refused the tile state)");
    ck_assert_ptr_eq(cls_lowp_named("amx", CLS_PREC_INT8)->attention, a->attention);
    check_attention(a);
}
END_TEST

START_TEST(test_attention_avx512)
{
    const cls_lowp_kernels_t *a = cls_lowp_named("avx512", CLS_PREC_BF16);
    if (!a)
        TH_SKIP("avx512-bf16", "no AVX512-BF16 on this CPU");
    ck_assert_ptr_nonnull(a->attention);
    ck_assert_ptr_eq(cls_lowp_named("avx512", CLS_PREC_INT8)->attention, a->attention);
    check_attention(a);
}
END_TEST

Suite *suite_lowp(void)
{
    Suite *s = suite_create("lowp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_pack_layout);
    tcase_add_test(tc, test_generic_vs_exact);
    tcase_add_loop_test(tc, test_variants, 0, N_SIMD);
    tcase_add_loop_test(tc, test_variants_model_sizes, 0, N_SIMD);
    tcase_add_test(tc, test_int8_extremes);
    tcase_add_test(tc, test_attention_amx);
    tcase_add_test(tc, test_attention_avx512);
    suite_add_tcase(s, tc);
    return s;
}
