/*
 * Tests of classify/kernels: every SIMD variant against the generic scalar
 * reference, on every length 1..67 (all tail sizes of 8 and 16 lanes, with
 * several rows so a tail bug spills into the next row) and on the real model
 * sizes 256, 384, 768, 1024, 3072. Variants this CPU lacks are reported as
 * skipped (TH_SKIP). Also: the selector and FINSENT_KERNELS, extreme inputs,
 * the GEMM wrappers of cls_blas against a naive product, and attention_head
 * of every variant against generic on query/key/head sizes 1..200 (head = a
 * column slice).
 *
 * Tolerances (absolute, plus a relative part where the value is large):
 *   bias_add, bias_relu: exact (same single rounding per element).
 *   bias_gelu_erf: the SIMD erf is Abramowitz & Stegun 7.1.28, |err| <=
 *     3e-7, times 0.5|x| in GELU, plus the float roundings of the
 *     polynomial, the division and the four squarings: 1e-6 + 2e-7 |x|
 *     (|x| <= 8 here; the largest error seen against exact erf, 7.1e-7 at
 *     x ~ 4, is 0.4 of it).
 *   bias_gelu_tanh, bias_tanh: Cephes tanhf/expf style, ~2-3 ulp of values
 *     <= |x|: 1e-6 + 1e-6 |y|.
 *   add_layernorm: the SIMD sums are reassociated (8/16 partial sums), which
 *     moves mean and variance by O(sqrt(n) eps); outputs are O(3): 2e-5.
 *   softmax_rows: exp differs by ~2 ulp, sums reassociated: 1e-6 + 1e-5 |p|.
 *   attention_head: a first-order worst-case bound, computed per query row
 *     (see attention_tol): both sides sum the same products in different
 *     orders, so each score differs by at most 2 d u A (u = 2^-24, A = scale
 *     * max_j sum_c |q_c k_jc|); a probability then moves by a relative
 *     2 dS plus the exp, sum and division roundings of both sides; a context
 *     value, a convex combination of values, by that relative error plus
 *     both sides' sums over nk keys, times max_j |v_jc|.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_blas.h"
#include "classify/kernels/cls_kernels.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

static const char *const variants[] = {"avx2", "avx512"};
static const size_t real_sizes[] = {256, 384, 768, 1024, 3072};
#define ROWS 3

static unsigned long long rng = 88172645463325252ull;

static void fill(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = th_urand(&rng, lo, hi);
}

typedef enum {
    K_BIAS,
    K_GELU,
    K_GELU_TANH,
    K_RELU,
    K_TANH,
    K_LN,
    K_LN_NORES,
    K_SOFTMAX,
    K__N
} kind_t;
static const char *const kind_names[] = {"bias_add",  "bias_gelu_erf", "bias_gelu_tanh",
                                         "bias_relu", "bias_tanh",     "add_layernorm",
                                         "layernorm", "softmax_rows"};

static void apply(const cls_kernels_t *k, kind_t kind, float *y, const float *b, const float *res,
                  const float *g, size_t n)
{
    switch (kind) {
    case K_BIAS:
        k->bias_add(y, b, ROWS, n);
        break;
    case K_GELU:
        k->bias_gelu_erf(y, b, ROWS, n);
        break;
    case K_GELU_TANH:
        k->bias_gelu_tanh(y, b, ROWS, n);
        break;
    case K_RELU:
        k->bias_relu(y, b, ROWS, n);
        break;
    case K_TANH:
        k->bias_tanh(y, b, ROWS, n);
        break;
    case K_LN:
        k->add_layernorm(y, res, g, b, ROWS, n, 1e-12f);
        break;
    case K_LN_NORES:
        k->add_layernorm(y, NULL, g, b, ROWS, n, 1e-5f);
        break;
    case K_SOFTMAX:
        k->softmax_rows(y, ROWS, n);
        break;
    default:
        break;
    }
}

static float tolerance(kind_t kind, float x, float ref)
{
    switch (kind) {
    case K_BIAS:
    case K_RELU:
        return 0.0f;
    case K_GELU:
        return 1e-6f + 2e-7f * fabsf(x);
    case K_GELU_TANH:
    case K_TANH:
        return 1e-6f + 1e-6f * fabsf(ref);
    case K_LN:
    case K_LN_NORES:
        return 2e-5f;
    case K_SOFTMAX:
        return 1e-6f + 1e-5f * fabsf(ref);
    default:
        return 0.0f;
    }
}

/* Compares variant v with generic for one kind and length n; returns the
 * worst error over tolerance (<= 1 passes). */
static void compare(const cls_kernels_t *v, kind_t kind, size_t n)
{
    size_t total = ROWS * n + 1; /* +1: a guard element after the rows */
    float *in = malloc(total * sizeof(float)), *a = malloc(total * sizeof(float)),
          *c = malloc(total * sizeof(float)), *b = malloc(n * sizeof(float)),
          *g = malloc(n * sizeof(float)), *res = malloc(ROWS * n * sizeof(float));
    ck_assert(in && a && c && b && g && res);
    fill(in, total, kind == K_SOFTMAX ? -20.0f : -6.0f, kind == K_SOFTMAX ? 20.0f : 6.0f);
    fill(b, n, -2.0f, 2.0f);
    fill(g, n, 0.5f, 1.5f);
    fill(res, ROWS * n, -3.0f, 3.0f);
    memcpy(a, in, total * sizeof(float));
    memcpy(c, in, total * sizeof(float));
    apply(&cls_kernels_generic, kind, a, b, res, g, n);
    apply(v, kind, c, b, res, g, n);
    ck_assert_msg(c[ROWS * n] == in[ROWS * n], "%s %s n=%zu wrote past the rows", v->name,
                  kind_names[kind], n);
    for (size_t i = 0; i < ROWS * n; i++) {
        float x = in[i] + (kind <= K_TANH ? b[i % n] : 0.0f);
        float tol = tolerance(kind, x, a[i]);
        ck_assert_msg(isfinite(c[i]), "%s %s n=%zu [%zu]: %g", v->name, kind_names[kind], n, i,
                      c[i]);
        ck_assert_msg(fabsf(c[i] - a[i]) <= tol,
                      "%s %s n=%zu [%zu] x=%g: %.9g vs generic %.9g (tol %g)", v->name,
                      kind_names[kind], n, i, x, c[i], a[i], tol);
    }
    free(in);
    free(a);
    free(c);
    free(b);
    free(g);
    free(res);
}

START_TEST(test_variant_vs_generic)
{
    const cls_kernels_t *v = cls_kernels_named(variants[_i]);
    if (!v)
        TH_SKIP(variants[_i], "%s kernels: not supported by this CPU", variants[_i]);
    ck_assert_str_eq(v->name, variants[_i]);
    for (int kind = 0; kind < K__N; kind++) {
        for (size_t n = 1; n <= 67; n++)
            compare(v, (kind_t)kind, n);
        for (size_t s = 0; s < sizeof real_sizes / sizeof real_sizes[0]; s++)
            compare(v, (kind_t)kind, real_sizes[s]);
    }
}
END_TEST

START_TEST(test_extremes)
{
    const cls_kernels_t *v = _i == 0 ? &cls_kernels_generic : cls_kernels_named(variants[_i - 1]);
    float x[20], zero[20] = {0};
    if (!v)
        TH_SKIP(variants[_i - 1], "%s kernels: not supported by this CPU", variants[_i - 1]);
    /* softmax of huge and tiny logits: no overflow, sums to 1 */
    for (int i = 0; i < 20; i++)
        x[i] = i == 3 ? 1000.0f : -1000.0f + (float)i;
    v->softmax_rows(x, 1, 20);
    ck_assert_float_eq_tol(x[3], 1.0f, 1e-6f);
    for (int i = 0; i < 20; i++)
        ck_assert(isfinite(x[i]) && x[i] >= 0.0f);
    /* GELU and tanh saturate cleanly */
    for (int i = 0; i < 20; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(i * 10);
    v->bias_gelu_erf(x, zero, 1, 20);
    for (int i = 0; i < 20; i++) {
        float in = (i % 2 ? -1.0f : 1.0f) * (float)(i * 10);
        ck_assert(isfinite(x[i]));
        ck_assert_float_eq_tol(x[i], in > 0 ? in : 0.0f, 1e-5f);
    }
    for (int i = 0; i < 20; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(i * 10);
    v->bias_gelu_tanh(x, zero, 1, 20);
    for (int i = 0; i < 20; i++) {
        float in = (i % 2 ? -1.0f : 1.0f) * (float)(i * 10);
        ck_assert_float_eq_tol(x[i], in > 0 ? in : 0.0f, 1e-5f);
    }
    for (int i = 0; i < 20; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(i * 10);
    v->bias_tanh(x, zero, 1, 20);
    for (int i = 1; i < 20; i++)
        ck_assert_float_eq_tol(x[i], i % 2 ? -1.0f : 1.0f, 1e-6f);
    /* LayerNorm of a constant row: (x - mean) = 0, so the output is beta */
    for (int i = 0; i < 20; i++)
        x[i] = 5.0f;
    {
        float g[20], b[20];
        for (int i = 0; i < 20; i++) {
            g[i] = 2.0f;
            b[i] = (float)i;
        }
        v->add_layernorm(x, NULL, g, b, 1, 20, 1e-12f);
        for (int i = 0; i < 20; i++)
            ck_assert_float_eq_tol(x[i], (float)i, 1e-6f);
    }
}
END_TEST

START_TEST(test_generic_reference)
{
    /* The reference itself against libm in double precision. */
    float y[4] = {-1.0f, 0.0f, 0.5f, 2.0f}, b[4] = {0};
    double want[4];
    for (int i = 0; i < 4; i++)
        want[i] = 0.5 * y[i] * (1.0 + erf(y[i] / sqrt(2.0)));
    cls_kernels_generic.bias_gelu_erf(y, b, 1, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq_tol(y[i], want[i], 1e-7);
    {
        float x[3] = {1.0f, 2.0f, 3.0f}, g[3] = {1, 1, 1}, z[3] = {0};
        cls_kernels_generic.add_layernorm(x, NULL, g, z, 1, 3, 0.0f);
        /* mean 2, var 2/3 */
        ck_assert_double_eq_tol(x[0], -1.0 / sqrt(2.0 / 3.0), 1e-6);
        ck_assert_double_eq_tol(x[1], 0.0, 1e-7);
    }
}
END_TEST

START_TEST(test_selector_forced)
{
    ck_assert_int_eq(setenv("FINSENT_KERNELS", "generic", 1), 0);
    ck_assert_str_eq(cls_kernels_get()->name, "generic");
    ck_assert_ptr_eq(cls_kernels_get(), cls_kernels_get());
}
END_TEST

START_TEST(test_selector_default)
{
    const cls_kernels_t *best = cls_kernels_named("avx512");
    unsetenv("FINSENT_KERNELS");
    if (!best)
        best = cls_kernels_named("avx2");
    if (!best)
        best = &cls_kernels_generic;
    ck_assert_ptr_eq(cls_kernels_get(), best);
    ck_assert_ptr_null(cls_kernels_named("sse9"));
    ck_assert_ptr_null(cls_kernels_named(NULL));
}
END_TEST

START_TEST(test_selector_unknown)
{
    ck_assert_int_eq(setenv("FINSENT_KERNELS", "nonsense", 1), 0);
    ck_assert_ptr_nonnull(cls_kernels_get()); /* falls back to the best, with a warning */
    ck_assert_str_ne(cls_kernels_get()->name, "nonsense");
}
END_TEST

/* Attention of one head: q, k, v, ctx are (rows, ld) matrices and the head
 * the column slice [col, col + d), as in the encoder. */
typedef struct {
    size_t nq, nk, d, ld, col;
    float scale;
    float *q, *k, *v, *ctx, *s;
} att_case_t;

static void att_case_init(att_case_t *a, size_t nq, size_t nk, size_t d, float qk_range)
{
    a->nq = nq;
    a->nk = nk;
    a->d = d;
    a->col = d + 3; /* a slice neither first nor aligned */
    a->ld = 2 * d + 3 + 5;
    a->scale = 1.0f / sqrtf((float)d);
    a->q = malloc(nq * a->ld * sizeof(float));
    a->k = malloc(nk * a->ld * sizeof(float));
    a->v = malloc(nk * a->ld * sizeof(float));
    a->ctx = malloc(nq * a->ld * sizeof(float));
    a->s = malloc(nq * nk * sizeof(float)); /* exactly what the contract promises */
    ck_assert(a->q && a->k && a->v && a->ctx && a->s);
    fill(a->q, nq * a->ld, -qk_range, qk_range);
    fill(a->k, nk * a->ld, -qk_range, qk_range);
    fill(a->v, nk * a->ld, -1.0f, 1.0f);
}

static void att_case_cleanup(att_case_t *a)
{
    free(a->q);
    free(a->k);
    free(a->v);
    free(a->ctx);
    free(a->s);
}

/* Runs kernel table t on a into out (nq, ld), every element outside the
 * head's slice preset to a sentinel that must survive. */
static void att_run(const cls_kernels_t *t, const att_case_t *a, float *out)
{
    for (size_t i = 0; i < a->nq * a->ld; i++)
        out[i] = -777.0f;
    t->attention_head(a->q + a->col, a->nq, a->k + a->col, a->v + a->col, a->nk, a->ld, a->d,
                      a->scale, a->s, out + a->col);
    for (size_t i = 0; i < a->nq; i++)
        for (size_t c = 0; c < a->ld; c++)
            if (c < a->col || c >= a->col + a->d)
                ck_assert_msg(out[i * a->ld + c] == -777.0f,
                              "%s attention nq=%zu nk=%zu d=%zu wrote row %zu column %zu", t->name,
                              a->nq, a->nk, a->d, i, c);
}

/* The bound described at the top of this file, for query row i, column c. */
static double attention_tol(const att_case_t *a, size_t i, size_t c)
{
    const double u = 0x1p-24;
    double A = 0.0, vmax = 0.0, ds, ep;
    for (size_t j = 0; j < a->nk; j++) {
        double m = 0.0;
        for (size_t x = 0; x < a->d; x++)
            m += fabs((double)a->q[i * a->ld + a->col + x] * a->k[j * a->ld + a->col + x]);
        A = fmax(A, a->scale * m);
        vmax = fmax(vmax, fabs(a->v[j * a->ld + a->col + c]));
    }
    ds = 2.0 * (double)(a->d + 1) * u * A;
    /* 2 dS; |s - max| <= 2A rounded on both sides; exp (<= 3 ulp each),
     * the sum over nk and the normalisation on both sides */
    ep = 2.0 * ds + 4.0 * u * A + (12.0 + 2.0 * (double)a->nk) * u;
    return (ep + 2.0 * (double)a->nk * u) * vmax + 1e-30;
}

/* the worst |variant - generic| and its share of the tolerance seen by
 * att_compare in this process (FINSENT_TEST_VERBOSE=1 prints them) */
static double att_worst_err, att_worst_ratio;

static void att_compare(const cls_kernels_t *t, size_t nq, size_t nk, size_t d, float range)
{
    att_case_t a;
    float *ref, *got;
    att_case_init(&a, nq, nk, d, range);
    ref = malloc(nq * a.ld * sizeof(float));
    got = malloc(nq * a.ld * sizeof(float));
    ck_assert(ref && got);
    att_run(&cls_kernels_generic, &a, ref);
    att_run(t, &a, got);
    for (size_t i = 0; i < nq; i++)
        for (size_t c = 0; c < d; c++) {
            double r = ref[i * a.ld + a.col + c], g = got[i * a.ld + a.col + c];
            double tol = attention_tol(&a, i, c);
            att_worst_err = fmax(att_worst_err, fabs(g - r));
            att_worst_ratio = fmax(att_worst_ratio, fabs(g - r) / tol);
            ck_assert_msg(isfinite(g) && fabs(g - r) <= tol,
                          "%s attention nq=%zu nk=%zu d=%zu [%zu][%zu]: %.9g vs generic %.9g "
                          "(tol %.3g)",
                          t->name, nq, nk, d, i, c, g, r, tol);
        }
    free(ref);
    free(got);
    att_case_cleanup(&a);
}

START_TEST(test_attention_vs_generic)
{
    static const size_t nqs[] = {1, 3, 17, 128}, nks[] = {1, 5, 33, 128}, ds[] = {32, 64, 80};
    const cls_kernels_t *v = cls_kernels_named(variants[_i]);
    if (!v)
        TH_SKIP(variants[_i], "%s kernels: not supported by this CPU", variants[_i]);
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t c = 0; c < 3; c++)
                att_compare(v, nqs[a], nks[b], ds[c], 2.0f);
    /* odd head sizes (every tail of 8 and 16 lanes, d past one 128-column
     * tile), key counts across tile edges, peaked softmax (scores ~ +-100) */
    for (size_t d = 1; d <= 40; d++)
        att_compare(v, 5, 9, d, 2.0f);
    att_compare(v, 9, 65, 200, 1.0f);
    for (size_t nk = 60; nk <= 70; nk++)
        att_compare(v, 7, nk, 64, 2.0f);
    /* every key count up to past the one-pass softmax's 4 vectors of keys
     * (64 with 16 lanes, 32 with 8), so each of its 1-4 vector widths and
     * each tail; d = 20 leaves 4 columns to the transposes' single copies */
    for (size_t nk = 1; nk <= 70; nk++)
        att_compare(v, 6, nk, 20, 2.0f);
    att_compare(v, 33, 47, 64, 12.0f);
    if (getenv("FINSENT_TEST_VERBOSE"))
        fprintf(stderr, "attention %s: max |diff| vs generic %.3g, max diff / tolerance %.3g\n",
                v->name, att_worst_err, att_worst_ratio);
}
END_TEST

/* The reference itself in double precision, and the one-key and
 * saturated cases every variant must get exactly or nearly exactly. */
START_TEST(test_attention_exact)
{
    const cls_kernels_t *t = _i == 0 ? &cls_kernels_generic : cls_kernels_named(variants[_i - 1]);
    att_case_t a;
    float *out;
    if (!t)
        TH_SKIP(variants[_i - 1], "%s kernels: not supported by this CPU", variants[_i - 1]);
    /* double-precision softmax(scale q k^T) v */
    att_case_init(&a, 6, 11, 24, 2.0f);
    out = malloc(a.nq * a.ld * sizeof(float));
    ck_assert_ptr_nonnull(out);
    att_run(t, &a, out);
    for (size_t i = 0; i < a.nq; i++) {
        double sc[11], m = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < a.nk; j++) {
            double dot = 0.0;
            for (size_t x = 0; x < a.d; x++)
                dot += (double)a.q[i * a.ld + a.col + x] * a.k[j * a.ld + a.col + x];
            sc[j] = dot * a.scale;
            m = fmax(m, sc[j]);
        }
        for (size_t j = 0; j < a.nk; j++)
            sum += (sc[j] = exp(sc[j] - m));
        for (size_t c = 0; c < a.d; c++) {
            double want = 0.0;
            for (size_t j = 0; j < a.nk; j++)
                want += sc[j] / sum * a.v[j * a.ld + a.col + c];
            ck_assert_double_eq_tol(out[i * a.ld + a.col + c], want, 1e-5);
        }
    }
    free(out);
    att_case_cleanup(&a);
    /* one key: its probability is exactly 1, so ctx is exactly v */
    att_case_init(&a, 4, 1, 19, 50.0f);
    out = malloc(a.nq * a.ld * sizeof(float));
    ck_assert_ptr_nonnull(out);
    att_run(t, &a, out);
    for (size_t i = 0; i < a.nq; i++)
        for (size_t c = 0; c < a.d; c++)
            ck_assert_float_eq(out[i * a.ld + a.col + c], a.v[a.col + c]);
    free(out);
    att_case_cleanup(&a);
    /* saturated: key 3 scores 1e4 above the others, no overflow, ctx = v[3] */
    att_case_init(&a, 2, 20, 16, 1.0f);
    out = malloc(a.nq * a.ld * sizeof(float));
    ck_assert_ptr_nonnull(out);
    for (size_t x = 0; x < a.d; x++) {
        a.q[a.col + x] = a.q[a.ld + a.col + x] = 100.0f;
        a.k[3 * a.ld + a.col + x] = 25.0f;
    }
    att_run(t, &a, out);
    for (size_t i = 0; i < a.nq; i++)
        for (size_t c = 0; c < a.d; c++)
            ck_assert_float_eq_tol(out[i * a.ld + a.col + c], a.v[3 * a.ld + a.col + c], 1e-6f);
    free(out);
    att_case_cleanup(&a);
}
END_TEST

START_TEST(test_gemm)
{
    size_t m = 7, k = 13, n = 5;
    float x[7 * 13], w[5 * 13], b[5], y[7 * 6], yb[7 * 6];
    fill(x, m * k, -1, 1);
    fill(w, n * k, -1, 1);
    fill(b, n, -1, 1);
    for (size_t i = 0; i < m * 6; i++)
        y[i] = yb[i] = 99.0f;
    cls_gemm_xwt(x, m, k, w, n, y, 6);          /* ldy 6: column 5 untouched */
    cls_gemm_xwt_bias(x, m, k, w, n, b, yb, 6); /* the same plus the bias */
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t q = 0; q < k; q++)
                s += (double)x[i * k + q] * w[j * k + q];
            ck_assert_double_eq_tol(y[i * 6 + j], s, 1e-5);
            ck_assert_double_eq_tol(yb[i * 6 + j], s + b[j], 1e-5);
        }
        ck_assert_float_eq(y[i * 6 + 5], 99.0f);
        ck_assert_float_eq(yb[i * 6 + 5], 99.0f);
    }
}
END_TEST

/* cls_blas_prepare never re-execs when the user chose a core or when the
 * loop guard is set (if it did, this test process would be replaced and the
 * test would not report). The thread setting round-trips. */
START_TEST(test_blas_prepare)
{
    char *argv[] = {(char *)"test_classify", NULL};
    ck_assert_str_ne(cls_blas_corename(), "");
    ck_assert_int_eq(setenv("OPENBLAS_CORETYPE", "Haswell", 1), 0);
    unsetenv("FINSENT_BLAS_REEXEC");
    cls_blas_prepare(argv);
    unsetenv("OPENBLAS_CORETYPE");
    ck_assert_int_eq(setenv("FINSENT_BLAS_REEXEC", "1", 1), 0);
    cls_blas_prepare(argv);
    cls_blas_set_threads(1);
    ck_assert_int_eq(cls_blas_get_threads(), 1);
    cls_blas_set_threads(0);
    ck_assert_int_eq(cls_blas_get_threads(), 1);
}
END_TEST

Suite *suite_kernels(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_variant_vs_generic, 0, 2);
    tcase_add_loop_test(tc, test_extremes, 0, 3);
    tcase_add_loop_test(tc, test_attention_vs_generic, 0, 2);
    tcase_add_loop_test(tc, test_attention_exact, 0, 3);
    tcase_add_test(tc, test_generic_reference);
    tcase_add_test(tc, test_selector_forced);
    tcase_add_test(tc, test_selector_default);
    tcase_add_test(tc, test_selector_unknown);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_blas_prepare);
    suite_add_tcase(s, tc);
    return s;
}
