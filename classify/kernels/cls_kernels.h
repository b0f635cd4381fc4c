/*
 * cls_kernels: the kernel table of the encoder.
 *
 * Elementwise work (bias add, bias + activation, residual add + LayerNorm,
 * row softmax) and the attention of one head go through one table of
 * function pointers. Three tables
 * exist: `generic` (scalar C, libm; the reference every other variant is
 * tested against, always built), `avx2` (AVX2 + FMA) and `avx512`
 * (AVX-512F/DQ/BW/VL), each in its own file compiled with its own flags.
 * cls_kernels_get() chooses once, from core_cpu, the best table the CPU runs;
 * the environment variable FINSENT_KERNELS=generic|avx2|avx512 forces one
 * (a variant the CPU lacks falls back to the best available, with a warning
 * on stderr). The chosen table is the only process-wide state and is
 * immutable once chosen.
 *
 * Matrices are row-major float32. Every elementwise function works on `rows`
 * rows of `n` contiguous floats (row stride n); attention_head works on
 * column slices (row stride ld). All are thread-safe (no state).
 *
 * No BLAS here: the fp32 dense layers go through cls_gemm_xwt in
 * classify/cls_blas.h, the reduced-precision ones through cls_lowp.h.
 */
#ifndef CLS_KERNELS_H
#define CLS_KERNELS_H

#include <stddef.h>

typedef struct cls_kernels {
    const char *name; /* "generic", "avx2", "avx512" */
    /* y[r][j] += b[j] */
    void (*bias_add)(float *y, const float *b, size_t rows, size_t n);
    /* y = gelu(y + b), exact form 0.5 x (1 + erf(x / sqrt 2)) */
    void (*bias_gelu_erf)(float *y, const float *b, size_t rows, size_t n);
    /* y = gelu(y + b), tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    void (*bias_gelu_tanh)(float *y, const float *b, size_t rows, size_t n);
    /* y = max(y + b, 0) */
    void (*bias_relu)(float *y, const float *b, size_t rows, size_t n);
    /* y = tanh(y + b) */
    void (*bias_tanh)(float *y, const float *b, size_t rows, size_t n);
    /* x = LayerNorm(x + res) * gamma + beta over each row (res may be NULL);
     * population variance, eps inside the square root. */
    void (*add_layernorm)(float *x, const float *res, const float *gamma, const float *beta,
                          size_t rows, size_t n, float eps);
    /* x = softmax(x) over each row (max subtracted first). */
    void (*softmax_rows)(float *x, size_t rows, size_t n);
    /* Self-attention of one head of one sequence, without a GEMM library:
     *   ctx (nq, d) = softmax(scale * q (nq, d) k^T (d, nk)) v (nk, d),
     * the softmax over each row's nk keys with its maximum subtracted first.
     * q, k, v and ctx are column slices of (rows, ld) matrices: row r of each
     * starts at p + r * ld (ld >= d), and only the d columns of the slice are
     * read or written. s_scratch holds at least nq * nk floats (the scores,
     * clobbered). nq, nk, d >= 1. Thread-safe given distinct scratch and ctx. */
    void (*attention_head)(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                           size_t ld, size_t d, float scale, float *s_scratch, float *ctx);
} cls_kernels_t;

extern const cls_kernels_t cls_kernels_generic;
#if defined(__x86_64__)
extern const cls_kernels_t cls_kernels_avx2;
extern const cls_kernels_t cls_kernels_avx512;
#endif

/* cls_kernels_get returns the table chosen for this process (chosen on the
 * first call, from CPUID and FINSENT_KERNELS). Any thread. */
const cls_kernels_t *cls_kernels_get(void);

/* cls_kernels_named returns the table called name if this CPU can run it,
 * else NULL (unknown name or missing instruction set). Any thread. */
const cls_kernels_t *cls_kernels_named(const char *name);

#endif
