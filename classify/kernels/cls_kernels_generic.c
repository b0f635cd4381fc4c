/*
 * cls_kernels_generic: the scalar reference of every elementwise kernel.
 * Plain C and libm (erff, tanhf, expf), written to mirror PyTorch's float32
 * formulas: it defines what the SIMD variants must reproduce, so clarity wins
 * over speed here. LayerNorm uses two passes (mean, then centred variance).
 * attention_head is the textbook three steps per query row.
 */
#include <math.h>

#include "classify/kernels/cls_kernels.h"

static void bias_add(float *y, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++, y += n)
        for (size_t j = 0; j < n; j++)
            y[j] += b[j];
}

static void bias_gelu_erf(float *y, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++, y += n)
        for (size_t j = 0; j < n; j++) {
            float x = y[j] + b[j];
            y[j] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
        }
}

static void bias_gelu_tanh(float *y, const float *b, size_t rows, size_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t r = 0; r < rows; r++, y += n)
        for (size_t j = 0; j < n; j++) {
            float x = y[j] + b[j];
            y[j] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
        }
}

static void bias_relu(float *y, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++, y += n)
        for (size_t j = 0; j < n; j++) {
            float x = y[j] + b[j];
            y[j] = x > 0.0f ? x : 0.0f;
        }
}

static void bias_tanh(float *y, const float *b, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++, y += n)
        for (size_t j = 0; j < n; j++)
            y[j] = tanhf(y[j] + b[j]);
}

static void add_layernorm(float *x, const float *res, const float *g, const float *b, size_t rows,
                          size_t n, float eps)
{
    for (size_t r = 0; r < rows; r++, x += n) {
        float mean = 0.0f, var = 0.0f, rstd;
        if (res) {
            for (size_t j = 0; j < n; j++)
                x[j] += res[j];
            res += n;
        }
        for (size_t j = 0; j < n; j++)
            mean += x[j];
        mean /= (float)n;
        for (size_t j = 0; j < n; j++)
            var += (x[j] - mean) * (x[j] - mean);
        var /= (float)n;
        rstd = 1.0f / sqrtf(var + eps);
        for (size_t j = 0; j < n; j++)
            x[j] = (x[j] - mean) * rstd * g[j] + b[j];
    }
}

static void softmax_rows(float *x, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++, x += n) {
        float m = x[0], s = 0.0f;
        for (size_t j = 1; j < n; j++)
            m = x[j] > m ? x[j] : m;
        for (size_t j = 0; j < n; j++) {
            x[j] = expf(x[j] - m);
            s += x[j];
        }
        s = 1.0f / s;
        for (size_t j = 0; j < n; j++)
            x[j] *= s;
    }
}

/* One query row at a time: its scores in s (nk), softmax, then the weighted
 * sum of the value rows. Sums run in index order in float, as a plain
 * float32 matmul would. */
static void attention_head(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                           size_t ld, size_t d, float scale, float *s, float *ctx)
{
    for (size_t i = 0; i < nq; i++, q += ld, ctx += ld, s += nk) {
        for (size_t j = 0; j < nk; j++) {
            const float *kj = k + j * ld;
            float dot = 0.0f;
            for (size_t c = 0; c < d; c++)
                dot += q[c] * kj[c];
            s[j] = scale * dot;
        }
        softmax_rows(s, 1, nk);
        for (size_t c = 0; c < d; c++) {
            float acc = 0.0f;
            for (size_t j = 0; j < nk; j++)
                acc += s[j] * v[j * ld + c];
            ctx[c] = acc;
        }
    }
}

const cls_kernels_t cls_kernels_generic = {
    .name = "generic",
    .bias_add = bias_add,
    .bias_gelu_erf = bias_gelu_erf,
    .bias_gelu_tanh = bias_gelu_tanh,
    .bias_relu = bias_relu,
    .bias_tanh = bias_tanh,
    .add_layernorm = add_layernorm,
    .softmax_rows = softmax_rows,
    .attention_head = attention_head,
};
