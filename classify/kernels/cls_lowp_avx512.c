/*
 * cls_lowp_avx512: reduced-precision GEMMs on AVX-512 registers:
 * AVX512-BF16 VDPBF16PS (bf16 pairs, fp32 accumulation) and AVX512-VNNI
 * VPDPBUSD (u8 x s8 quads, int32 accumulation). Compiled with
 * -mavx512f/bw/dq/vl -mavx512bf16 -mavx512vnni; chosen only when CPUID says
 * so (cls_lowp.c). Present on the Intel (Sapphire Rapids and later) and the
 * AMD (Zen 4 and later) machines.
 *
 * Blocking: rows in chunks whose packed activations fit about 1 MiB (L2);
 * within a chunk, each block of up to 64 output columns (4 zmm; its
 * weights, K x 64, stay in L1/L2) meets every 6-row block of the chunk: 6
 * rows x 4 zmm = 24 accumulators in registers, per k group 4 weight loads
 * and one broadcast per row. A chunk's last block may have 1-5 rows, each
 * count its own instance (one row at a time was 2-5% slower at m 32). Row
 * count and column blocks are compile-time constants in each
 * micro-kernel instance so nothing spills.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"

#include "classify/kernels/cls_lowp_att.inc"

#define MR 6
#define CHUNK_BYTES (1u << 20)

/* --- activations ------------------------------------------------------------ */

static void pack_a_bf16(const float *x, size_t m, size_t k, size_t ldx, void *a, float *ascale,
                        int32_t *azp)
{
    size_t kp = cls_lowp_kpad(CLS_PREC_BF16, k), mp = (m + 15) / 16 * 16;
    uint16_t *d = a;
    (void)ascale;
    (void)azp;
    for (size_t r = 0; r < mp; r++) {
        uint16_t *row = d + r * kp;
        size_t kk = 0;
        if (r < m) {
            const float *xr = x + r * ldx;
            for (; kk + 32 <= k; kk += 32) {
                __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xr + kk + 16),
                                                 _mm512_loadu_ps(xr + kk));
                _mm512_storeu_si512((void *)(row + kk), (__m512i)v);
            }
            for (; kk < k; kk++)
                row[kk] = cls_lowp_f2bf(xr[kk]);
        }
        memset(row + kk, 0, (kp - kk) * sizeof *row);
    }
}

static void quant_params(const float *x, size_t k, float *ascale, int32_t *azp)
{
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    __m512 lo1 = lo, hi1 = hi, lo2 = lo, hi2 = hi, lo3 = lo, hi3 = hi;
    size_t i = 0;
    float l, h, s;
    long zp;
    /* four chains: one min and one max chain alone wait on the latency of
     * each (bench_lowp, pack_a of 256 x 768: 0.035 -> 0.026 ms) */
    for (; i + 64 <= k; i += 64) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        lo = _mm512_min_ps(lo, v0);
        hi = _mm512_max_ps(hi, v0);
        lo1 = _mm512_min_ps(lo1, v1);
        hi1 = _mm512_max_ps(hi1, v1);
        lo2 = _mm512_min_ps(lo2, v2);
        hi2 = _mm512_max_ps(hi2, v2);
        lo3 = _mm512_min_ps(lo3, v3);
        hi3 = _mm512_max_ps(hi3, v3);
    }
    lo = _mm512_min_ps(_mm512_min_ps(lo, lo1), _mm512_min_ps(lo2, lo3));
    hi = _mm512_max_ps(_mm512_max_ps(hi, hi1), _mm512_max_ps(hi2, hi3));
    for (; i + 16 <= k; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
    }
    l = _mm512_reduce_min_ps(lo);
    h = _mm512_reduce_max_ps(hi);
    for (; i < k; i++) {
        l = x[i] < l ? x[i] : l;
        h = x[i] > h ? x[i] : h;
    }
    s = (h - l) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s))
        s = 1.0f;
    zp = lrintf(-l / s);
    *ascale = s;
    *azp = (int32_t)(zp < 0 ? 0 : zp > 255 ? 255 : zp);
}

/* round(x / ascale) + azp for 16 inputs, unclamped */
static inline __m512i quant16(const float *x, __m512 vinv, __m512i vzp)
{
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), vinv)), vzp);
}

static void pack_a_int8(const float *x, size_t m, size_t k, size_t ldx, void *a, float *ascale,
                        int32_t *azp)
{
    size_t kp = cls_lowp_kpad(CLS_PREC_INT8, k), mp = (m + 15) / 16 * 16;
    uint8_t *d = a;
    for (size_t r = 0; r < mp; r++) {
        uint8_t *row = d + r * kp;
        size_t kk = 0;
        if (r < m) {
            const float *xr = x + r * ldx;
            float inv;
            __m512 vinv;
            __m512i vzp, v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
            quant_params(xr, k, &ascale[r], &azp[r]);
            inv = 1.0f / ascale[r];
            vinv = _mm512_set1_ps(inv);
            vzp = _mm512_set1_epi32(azp[r]);
            /* 64 at a time: int32 -> u16 with unsigned saturation (below 0
             * -> 0), u16 -> u8 likewise (above 255 -> 255), the clamp of the
             * reference; both packs work within 128-bit lanes, so lane i
             * then holds elements 4i..4i+3 of each of the four vectors, and
             * the permute puts those dwords back in order. 5 instructions
             * per 16 elements where min, max and vpmovdb took 6. */
            for (; kk + 64 <= k; kk += 64) {
                const __m512i order =
                    _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
                __m512i q0 = quant16(xr + kk, vinv, vzp), q1 = quant16(xr + kk + 16, vinv, vzp);
                __m512i q2 = quant16(xr + kk + 32, vinv, vzp),
                        q3 = quant16(xr + kk + 48, vinv, vzp);
                __m512i b =
                    _mm512_packus_epi16(_mm512_packus_epi32(q0, q1), _mm512_packus_epi32(q2, q3));
                _mm512_storeu_si512((void *)(row + kk), _mm512_permutexvar_epi32(order, b));
            }
            for (; kk + 16 <= k; kk += 16) {
                __m512i q =
                    _mm512_min_epi32(_mm512_max_epi32(quant16(xr + kk, vinv, vzp), v0), v255);
                _mm_storeu_si128((__m128i *)(row + kk), _mm512_cvtepi32_epi8(q));
            }
            for (; kk < k; kk++) {
                long q = lrintf(xr[kk] * inv) + azp[r];
                row[kk] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
        memset(row + kk, 0, kp - kk);
    }
}

/* --- epilogues ---------------------------------------------------------------- */

/* The epilogue function on rows r0..r0+rows of y, columns j0..j0+ncols,
 * while they are in L1 (without one, the micro-kernels add the bias as
 * they store). */
static void finish(float *y, size_t ldy, size_t rows, size_t j0, size_t ncols, const float *bias,
                   cls_lowp_epi_fn epi)
{
    if (epi)
        epi(y + j0, ldy, bias ? bias + j0 : NULL, rows, ncols);
}

/* The bias of the 16 columns from j (0 past n, and none read there), or 0
 * without one. */
static inline __m512 bias16(const float *bias, size_t j, size_t n)
{
    if (!bias || j >= n)
        return _mm512_setzero_ps();
    return j + 16 <= n ? _mm512_loadu_ps(bias + j)
                       : _mm512_maskz_loadu_ps((__mmask16)((1u << (n - j)) - 1), bias + j);
}

/* Stores one zmm of 16 results into row y at column j, masking the columns
 * at or past n. */
static inline void store16(float *y, size_t j, size_t n, __m512 v)
{
    if (j + 16 <= n)
        _mm512_storeu_ps(y + j, v);
    else if (j < n)
        _mm512_mask_storeu_ps(y + j, (__mmask16)((1u << (n - j)) - 1), v);
}

/* --- bf16 --------------------------------------------------------------------- */

/* rows (1..MR) and nb (1..4) are compile-time constants at every call, so
 * the loops unroll and the accumulators live in registers. */
static inline __attribute__((always_inline)) void
micro_bf16(const uint16_t *A, size_t lda, const int rows, const uint16_t *W, size_t kp2,
           const int nb, const float *bias, float *y, size_t ldy, size_t j0, size_t n,
           const uint16_t *pf)
{
    __m512 acc[MR][4], bv[4];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            acc[r][c] = _mm512_setzero_ps();
    for (size_t g = 0; g < kp2; g++) {
        __m512bh b[4];
        if (pf)
            _mm_prefetch((const char *)(pf + g * 32), _MM_HINT_T1);
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            b[c] = (__m512bh)_mm512_loadu_si512((const void *)(W + ((size_t)c * kp2 + g) * 32));
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            uint32_t pair;
            __m512bh av;
            memcpy(&pair, A + (size_t)r * lda + 2 * g, 4);
            av = (__m512bh)_mm512_set1_epi32((int)pair);
#pragma GCC unroll 4
            for (int c = 0; c < nb; c++)
                acc[r][c] = _mm512_dpbf16_ps(acc[r][c], av, b[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < nb; c++)
        bv[c] = bias16(bias, j0 + 16 * (size_t)c, n);
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            store16(y + (size_t)r * ldy, j0 + 16 * (size_t)c, n,
                    bias ? _mm512_add_ps(acc[r][c], bv[c]) : acc[r][c]);
}

#define DISPATCH(MICRO, ROWS, ...)                                                                 \
    switch (nb) {                                                                                  \
    case 4: MICRO(ROWS, 4, __VA_ARGS__); break;                                                    \
    case 3: MICRO(ROWS, 3, __VA_ARGS__); break;                                                    \
    case 2: MICRO(ROWS, 2, __VA_ARGS__); break;                                                    \
    default: MICRO(ROWS, 1, __VA_ARGS__); break;                                                   \
    }

/* F(R, ...) with R the compile-time constant equal to rows (1..MR). */
#define BY_ROWS(F, rows, ...)                                                                      \
    switch (rows) {                                                                                \
    case MR:                                                                                       \
        F(MR, __VA_ARGS__);                                                                        \
        break;                                                                                     \
    case 5:                                                                                        \
        F(5, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 4:                                                                                        \
        F(4, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 3:                                                                                        \
        F(3, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 2:                                                                                        \
        F(2, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    default:                                                                                       \
        F(1, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    }
/* a micro-kernel instance of R rows and the block's nb */
#define ROWS_NB(R, MICRO) DISPATCH(MICRO, R, 0)

static void gemm_bf16(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const uint16_t *A = a, *W = w->data;
    size_t kp2 = w->k_pad / 2, lda = w->k_pad, nblocks = w->n_pad / 16;
    size_t chunk = CHUNK_BYTES / (w->k_pad * 2);
    (void)ascale;
    (void)azp;
    const float *sbias = epi ? NULL : bias; /* with epi, it adds the bias */
    chunk = chunk < MR ? MR : chunk / MR * MR;
    for (size_t m0 = 0; m0 < m; m0 += chunk) {
        size_t m1 = m0 + chunk < m ? m0 + chunk : m;
        for (size_t nb0 = 0; nb0 < nblocks; nb0 += 4) {
            size_t nb = nblocks - nb0 < 4 ? nblocks - nb0 : 4, j0 = nb0 * 16;
            const uint16_t *Wb = W + nb0 * kp2 * 32;
            size_t ncols = (j0 + nb * 16 < w->n ? j0 + nb * 16 : w->n) - j0;
            for (size_t r0 = m0; r0 < m1; r0 += MR) {
                size_t rows = m1 - r0 < MR ? m1 - r0 : MR;
                float *yr = y + r0 * ldy;
                size_t rb = (r0 - m0) / MR, nbn = nblocks - nb0 - nb; /* as in gemm_int8 */
                const uint16_t *pf = rb < (nbn < 4 ? nbn : 4) ? Wb + (nb + rb) * kp2 * 32 : NULL;
#define MB(R, NB, r)                                                                               \
    micro_bf16(A + (r0 + (r)) * lda, lda, R, Wb, kp2, NB, sbias, yr + (r)*ldy, ldy, j0, w->n, pf)
                /* the last block of a chunk may be short */
                BY_ROWS(ROWS_NB, rows, MB)
#undef MB
                finish(yr, ldy, rows, j0, ncols, bias, epi);
            }
        }
    }
}

/* --- int8 --------------------------------------------------------------------- */

/* acc += a (u8) . b (s8) in each dword. GCC 12 compiles the intrinsic in
 * the 6 x 4 kernel below with a register copy and a stack store around
 * every VPDPBUSD (three extra instructions each; 305 GOP/s on Zen 5 where
 * the same loop in bf16 ran 386, bench_lowp); the asm names the
 * accumulator as both input and output, so it stays in its register. */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, a, b);
#endif
}

static inline __attribute__((always_inline)) void
micro_int8(const uint8_t *A, size_t lda, const int rows, const int8_t *W, size_t kp4, const int nb,
           const float *ascale, const int32_t *azp, const float *scale, const int32_t *wsum,
           const float *bias, float *y, size_t ldy, size_t j0, size_t n, const int8_t *pf)
{
    __m512i acc[MR][4];
    __m512 bv[4];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            acc[r][c] = _mm512_setzero_si512();
    for (size_t g = 0; g < kp4; g++) {
        __m512i b[4];
        if (pf)
            _mm_prefetch((const char *)(pf + g * 64), _MM_HINT_T1);
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++)
            b[c] = _mm512_loadu_si512((const void *)(W + ((size_t)c * kp4 + g) * 64));
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            uint32_t quad;
            __m512i av;
            memcpy(&quad, A + (size_t)r * lda + 4 * g, 4);
            av = _mm512_set1_epi32((int)quad);
#pragma GCC unroll 4
            for (int c = 0; c < nb; c++)
                acc[r][c] = dpbusd(acc[r][c], av, b[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < nb; c++)
        bv[c] = bias16(bias, j0 + 16 * (size_t)c, n);
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++) {
        __m512i zp = _mm512_set1_epi32(azp[r]);
        __m512 as = _mm512_set1_ps(ascale[r]);
#pragma GCC unroll 4
        for (int c = 0; c < nb; c++) {
            size_t j = j0 + 16 * (size_t)c;
            __m512i s = _mm512_sub_epi32(acc[r][c],
                                         _mm512_mullo_epi32(zp, _mm512_loadu_si512(wsum + j)));
            __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                       _mm512_mul_ps(as, _mm512_loadu_ps(scale + j)), bv[c]);
            store16(y + (size_t)r * ldy, j, n, v);
        }
    }
}

static void gemm_int8(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const uint8_t *A = a;
    const int8_t *W = w->data;
    size_t kp4 = w->k_pad / 4, lda = w->k_pad, nblocks = w->n_pad / 16;
    size_t chunk = CHUNK_BYTES / w->k_pad;
    const float *sbias = epi ? NULL : bias; /* with epi, it adds the bias */
    chunk = chunk < MR ? MR : chunk / MR * MR;
    for (size_t m0 = 0; m0 < m; m0 += chunk) {
        size_t m1 = m0 + chunk < m ? m0 + chunk : m;
        for (size_t nb0 = 0; nb0 < nblocks; nb0 += 4) {
            size_t nb = nblocks - nb0 < 4 ? nblocks - nb0 : 4, j0 = nb0 * 16;
            const int8_t *Wb = W + nb0 * kp4 * 64;
            size_t ncols = (j0 + nb * 16 < w->n ? j0 + nb * 16 : w->n) - j0;
            for (size_t r0 = m0; r0 < m1; r0 += MR) {
                size_t rows = m1 - r0 < MR ? m1 - r0 : MR;
                const uint8_t *Ar = A + r0 * lda;
                const float *as = ascale + r0;
                const int32_t *az = azp + r0;
                float *yr = y + r0 * ldy;
                /* the first four row blocks fetch the next panel (the
                 * next 64 columns' weights) into L2, one 16-column block
                 * each, a line per k group: where the weights stream from
                 * memory (batch 1; every 256-row call of BERT-base) the
                 * hardware prefetcher alone left the kernel waiting
                 * (bench_lowp --copies, Zen 5: 1.16-1.30x at m 32,
                 * 1.09-1.12x at m 256, 0.99x hot) */
                size_t rb = (r0 - m0) / MR, nbn = nblocks - nb0 - nb;
                const int8_t *pf = rb < (nbn < 4 ? nbn : 4) ? Wb + (nb + rb) * kp4 * 64 : NULL;
#define MI(R, NB, r)                                                                               \
    micro_int8(Ar + (r)*lda, lda, R, Wb, kp4, NB, as + (r), az + (r), w->scale, w->wsum, sbias,    \
               yr + (r)*ldy, ldy, j0, w->n, pf)
                /* the last block of a chunk may be short */
                BY_ROWS(ROWS_NB, rows, MI)
#undef MI
                finish(yr, ldy, rows, j0, ncols, bias, epi);
            }
        }
    }
}

/* --- attention ----------------------------------------------------------------
 *
 * One head of d = 64 with at most ATT_MAX queries and keys in bf16 with
 * fp32 sums, as the AMX kernel computes it (same layouts, cls_lowp_att.inc)
 * but with VDPBF16PS in registers: half the instructions of the fp32
 * kernel's FMAs for the two products. Scores: tiles of up to 6 query rows
 * x 4 blocks of 16 keys (24 accumulators), per pair of d one broadcast of
 * the query pair per row and one kt line per block. Context: tiles of up
 * to 6 rows x the 4 blocks of 16 columns of d, per pair of keys one
 * broadcast of the probability pair per row and one vt line per block. */

/* sc rows [0, rows) x key blocks [kb, kb + nv) of 16 (all stored: keys
 * past nk score 0 and are left out by the softmax). */
static inline __attribute__((always_inline)) void att_qk(const uint16_t *qb, const uint32_t *kt,
                                                         size_t kb, const int rows, const int nv,
                                                         float *sc, size_t lds)
{
    __m512 acc[MR][4];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int u = 0; u < nv; u++)
            acc[r][u] = _mm512_setzero_ps();
    for (size_t p = 0; p < ATT_D / 2; p++) {
        __m512bh kv[4];
#pragma GCC unroll 4
        for (int u = 0; u < nv; u++)
            kv[u] = (__m512bh)_mm512_load_si512((const void *)(kt + ((kb + u) * 32 + p) * 16));
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            uint32_t pair;
            memcpy(&pair, qb + (size_t)r * ATT_D + 2 * p, 4);
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)pair);
#pragma GCC unroll 4
            for (int u = 0; u < nv; u++)
                acc[r][u] = _mm512_dpbf16_ps(acc[r][u], a, kv[u]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int u = 0; u < nv; u++)
            _mm512_store_ps(sc + (size_t)r * lds + (kb + u) * 16, acc[r][u]);
}

/* ctx rows [0, rows) (row stride ld) = pb rows times v, over npairs pairs
 * of keys. */
static inline __attribute__((always_inline)) void att_pv(const uint16_t *pb, size_t ldp,
                                                         const uint32_t *vt, size_t npairs,
                                                         const int rows, float *ctx, size_t ld)
{
    __m512 acc[MR][4];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm512_setzero_ps();
    for (size_t j = 0; j < npairs; j++) {
        __m512bh vv[4];
        const uint32_t *vs = vt + (j / 16) * 4 * 256 + (j % 16) * 16;
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            vv[c] = (__m512bh)_mm512_load_si512((const void *)(vs + c * 256));
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            uint32_t pair;
            memcpy(&pair, pb + (size_t)r * ldp + 2 * j, 4);
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)pair);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[r][c] = _mm512_dpbf16_ps(acc[r][c], a, vv[c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            _mm512_storeu_ps(ctx + (size_t)r * ld + c * 16, acc[r][c]);
}

#define QK(R, NV) att_qk(qb + r0 * ATT_D, kt, kb, R, NV, sc + r0 * lds, lds)
#define QK_NV(R, nv)                                                                               \
    do {                                                                                           \
        if (nv == 4)                                                                               \
            QK(R, 4);                                                                              \
        else if (nv == 3)                                                                          \
            QK(R, 3);                                                                              \
        else if (nv == 2)                                                                          \
            QK(R, 2);                                                                              \
        else                                                                                       \
            QK(R, 1);                                                                              \
    } while (0)
#define PV(R, unused) att_pv(pb + r0 * ldp, ldp, vt, ldp / 2, R, ctx + r0 * ld, ld)

static int attention(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                     size_t ld, size_t d, float scale, float *s_scratch, float *ctx)
{
    size_t nkb = (nk + 15) / 16, nks = (nk + 31) / 32;
    size_t lds = nkb * 16, ldp = nks * 32;
    att_work_t w;
    const uint16_t *qb = w.qb, *pb = w.pb;
    const uint32_t *kt = w.kt, *vt = w.vt;
    float *sc = w.sc;

    (void)s_scratch;
    if (att_prepare(&w, q, nq, k, v, nk, ld, d, scale) != 0)
        return -1;
    for (size_t r0 = 0; r0 < nq; r0 += MR) {
        size_t rows = nq - r0 < MR ? nq - r0 : MR;
        for (size_t kb = 0; kb < nkb; kb += 4) {
            size_t nv = nkb - kb < 4 ? nkb - kb : 4;
            BY_ROWS(QK_NV, rows, nv)
        }
    }
    att_probs(sc, lds, nq, nk, nq, w.pb, ldp);
    for (size_t r0 = 0; r0 < nq; r0 += MR) {
        size_t rows = nq - r0 < MR ? nq - r0 : MR;
        BY_ROWS(PV, rows, 0)
    }
    return 0;
}

#undef QK
#undef QK_NV
#undef PV

const cls_lowp_kernels_t cls_lowp_avx512_bf16 = {"avx512", CLS_PREC_BF16, pack_a_bf16, gemm_bf16,
                                                 attention};
const cls_lowp_kernels_t cls_lowp_avx512_int8 = {"avx512", CLS_PREC_INT8, pack_a_int8, gemm_int8,
                                                 attention};
/* int8 on a CPU with VNNI but no AVX512-BF16 (Cascade Lake, Ice Lake):
 * the attention stays fp32 */
const cls_lowp_kernels_t cls_lowp_avx512_int8_vnni = {"avx512", CLS_PREC_INT8, pack_a_int8,
                                                      gemm_int8, NULL};
