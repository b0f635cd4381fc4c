/*
 * cls_lowp_avx512f: the fp32 GEMM on AVX-512F registers, y (m, n) =
 * epi(x W^T + b) on weights packed once at load (cls_lowp.h: float
 * [n_pad/16][k][16]) and the fp32 input rows as they are (no pack_a).
 * Compiled with -mavx512f -mfma only, chosen when CPUID and XGETBV say the
 * CPU and the OS run AVX-512F (cls_lowp.c), so it runs on every AVX-512
 * machine (Skylake-X and later, AMD Zen 4 and later) whatever else they
 * have.
 *
 * Micro-kernel: 6 rows x 64 columns (4 zmm) of accumulators, 24 of the 32
 * registers; per k step 4 aligned weight loads (one 64-byte line from each
 * of the 4 column blocks) and one broadcast of x per row feed 24
 * vfmadd231ps. Row and block counts are compile-time constants in each
 * instance (1..6 rows x 1..4 blocks) so the accumulators never spill.
 *
 * Loops, outer to inner: row chunks of mc, k slices of kc, 64-column
 * panels, 6-row tiles. Cache blocking (cls_lowp_fp32_blocking, from the L2
 * size the CPU reports): one panel of a slice (kc x 64 floats) stays in L2
 * while every tile of the chunk passes over it, and so does the chunk's
 * input slice (mc x kc) while every panel passes over it; only the weights
 * come from further out, once per chunk. On the 2 MiB L2 of the Xeon here
 * kc is at most 2048 (k 768 in one slice, 3072 in two of 1536) and mc is
 * 336 rows at k 768, so a worker's 512 rows are two chunks. With more than
 * one slice the partial sums are stored and reloaded, which is exact: each
 * output is still summed in k order. Bias, and the epilogue when there is
 * one, are applied to each tile right after its last k slice, while it is
 * in L1.
 *
 * Summation: every output is acc = fma(x[k], w[k], acc) for k = 0, 1, ...
 * from acc = 0, then + bias: exactly the generic reference's arithmetic
 * (cls_lowp_generic.c), so the two agree bit for bit.
 */
#include <immintrin.h>
#include <stdint.h>

#include "classify/kernels/cls_lowp.h"

#define MR 6
#define NB 4 /* 16-column blocks per tile */

/* Rows (1..MR) and nb (1..NB) are constants at every call. A: row 0 of the
 * tile at the slice's first k, row stride lda. B: block 0 of the panel at
 * the slice's first k; block c starts bstride floats further. first: start
 * from 0, else from the partial sums in y. bias (last slice, no epilogue):
 * added before the store; the masked load keeps it inside its n columns. */
static inline __attribute__((always_inline)) void
micro(const float *A, size_t lda, const int rows, const float *B, size_t bstride, const int nb,
      size_t kc, float *y, size_t ldy, size_t j0, size_t n, int first, const float *bias)
{
    __m512 acc[MR][NB];
    __mmask16 mask[NB];

#pragma GCC unroll 4
    for (int c = 0; c < nb; c++) {
        size_t j = j0 + 16 * (size_t)c;
        mask[c] = j + 16 <= n ? (__mmask16)0xffff
                  : j < n     ? (__mmask16)((1u << (n - j)) - 1)
                              : (__mmask16)0;
    }
    if (first) {
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
            for (int c = 0; c < nb; c++)
                acc[r][c] = _mm512_setzero_ps();
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
            for (int c = 0; c < nb; c++)
                acc[r][c] = _mm512_maskz_loadu_ps(mask[c], y + (size_t)r * ldy + j0 + 16 * c);
    }
    for (size_t t = 0; t < kc; t++) {
        __m512 b[NB];
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            b[c] = _mm512_load_ps(B + (size_t)c * bstride + t * 16);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            __m512 a = _mm512_set1_ps(A[(size_t)r * lda + t]);
#pragma GCC unroll 4
            for (int c = 0; c < nb; c++)
                acc[r][c] = _mm512_fmadd_ps(a, b[c], acc[r][c]);
        }
    }
    if (bias) {
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++) {
            __m512 bv = _mm512_maskz_loadu_ps(mask[c], bias + j0 + 16 * c);
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++)
                acc[r][c] = _mm512_add_ps(acc[r][c], bv);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + j0 + 16 * c, mask[c], acc[r][c]);
}

/* One tile: rows (1..MR, run-time) x nb blocks (1..NB, run-time), one
 * instance per combination. */
static void tile(const float *A, size_t lda, int rows, const float *B, size_t bstride, int nb,
                 size_t kc, float *y, size_t ldy, size_t j0, size_t n, int first, const float *bias)
{
    /* clang-format off */
#define CALL(R, NB_) micro(A, lda, R, B, bstride, NB_, kc, y, ldy, j0, n, first, bias)
#define ROWS(R)                                                                                    \
    switch (nb) {                                                                                  \
    case 4: CALL(R, 4); break;                                                                     \
    case 3: CALL(R, 3); break;                                                                     \
    case 2: CALL(R, 2); break;                                                                     \
    default: CALL(R, 1); break;                                                                    \
    }
    switch (rows) {
    case 6: ROWS(6) break;
    case 5: ROWS(5) break;
    case 4: ROWS(4) break;
    case 3: ROWS(3) break;
    case 2: ROWS(2) break;
    default: ROWS(1) break;
    }
#undef ROWS
#undef CALL
    /* clang-format on */
}

static void gemm_fp32(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const float *A = a, *W = w->data;
    size_t k = w->k, lda = w->k, nblocks = w->n_pad / 16, kc, mc;
    (void)ascale;
    (void)azp;

    cls_lowp_fp32_blocking(m, k, &mc, &kc);
    for (size_t m0 = 0; m0 < m; m0 += mc) {
        size_t m1 = m0 + mc < m ? m0 + mc : m;
        for (size_t k0 = 0; k0 < k; k0 += kc) {
            size_t kl = k0 + kc < k ? kc : k - k0;
            int first = k0 == 0, last = k0 + kl == k;
            for (size_t nb0 = 0; nb0 < nblocks; nb0 += NB) {
                int nb = (int)(nblocks - nb0 < NB ? nblocks - nb0 : NB);
                size_t j0 = nb0 * 16;
                size_t ncols = (j0 + (size_t)nb * 16 < w->n ? j0 + (size_t)nb * 16 : w->n) - j0;
                const float *B = W + (nb0 * k + k0) * 16;
                for (size_t r0 = m0; r0 < m1; r0 += MR) {
                    int rows = (int)(m1 - r0 < MR ? m1 - r0 : MR);
                    float *yr = y + r0 * ldy;
                    tile(A + r0 * lda + k0, lda, rows, B, k * 16, nb, kl, yr, ldy, j0, w->n, first,
                         last && !epi ? bias : NULL);
                    if (last && epi)
                        epi(yr + j0, ldy, bias ? bias + j0 : NULL, (size_t)rows, ncols);
                }
            }
        }
    }
}

const cls_lowp_kernels_t cls_lowp_avx512_fp32 = {"avx512", CLS_PREC_FP32, NULL, gemm_fp32, NULL};
