/*
 * cls_lowp_amx: reduced-precision GEMMs on AMX tiles (Intel Sapphire Rapids
 * and later): TDPBF16PS (bf16, fp32 accumulation) and TDPBUSD (u8 x s8,
 * int32 accumulation). Compiled with -mamx-tile -mamx-bf16 -mamx-int8 and
 * AVX-512 for the conversions and epilogues; chosen only when CPUID says so
 * and the kernel granted the process AMX state (cls_lowp_amx_ready).
 *
 * Tiles: 0-3 are C (16 rows x 16 fp32/int32), 4-5 A (16 rows x 64 bytes:
 * 32 bf16 or 64 u8 of k), 6-7 B (16 rows x 64 bytes: one packed k block of
 * 16 output columns, cls_lowp.h's layout is exactly a B tile). One step
 * computes a 32 x 32 block of y: 2 A tiles x 2 B tiles -> 4 C tiles, over
 * every k block. Loop order: for rows of up to 2 KiB of packed k (the
 * encoder's k = 256, 768, 1024), each 32-row block meets every column pair
 * of a panel of weights (up to 512 KiB, in L2), so y is written row by
 * row; for longer rows (k = 3072) rows come in chunks whose packed
 * activations fit about 1 MiB (L2) and each column pair meets every
 * 32-row block of the chunk. The first order measured 1.03-1.46x the
 * second on the short-k shapes (bench/bench_lowp, docs/engine.md) and
 * 0.81-0.97x at k = 3072. The C tiles go through a small fp32 buffer into y
 * with the bias (and the dequantization for int8), then the epilogue runs
 * on that block while it is in L1. The packed activations are padded to 16
 * rows, so a tile load never reads past them; rows past m are not stored.
 *
 * Software pipeline: the tile products run in the AMX unit while the core
 * is free for vector work, so a block's epilogue (dequantization, bias,
 * GELU, the store into y) is not run after its own products but between
 * the k steps of the next block, a few rows per step (drain), from the
 * second of two C buffers. bench_lowp, best of 30-60 interleaved rounds
 * against the unpipelined kernel: 1.09-1.11x at n x k = 768 x 768, 1.20x
 * on the FFN's first layer with its GELU, 1.01x at k = 3072 (little
 * epilogue per product there); at k < 512 without an epilogue function
 * (256 x 256) slices of rows measured 0.85x, so there the pending block is
 * drained whole at the first k step (0.94-0.97x). In the two-thread encoder
 * the gain mostly vanishes (finsent-mini real text 1.00x over 8 pairs):
 * the two vCPUs share the AMX throughput (docs/engine.md), so one thread's
 * tile products already run during the other's vector work.
 *
 * Prefetch: the first row block to read a column pair's weights (every
 * block at batch 1, where each weight is used once and comes from memory)
 * prefetches PF_DIST bytes ahead in both of its weight streams, into the
 * next pair's at the end; the hardware prefetchers alone left the tile
 * loads waiting on memory (bench_lowp --m 32 --copies 200, best of 30
 * rounds: 1.05-1.18x over the same kernel without it).
 */
#include <immintrin.h>
#include <string.h>

#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"

#include "classify/kernels/cls_lowp_att.inc"

#define CHUNK_BYTES (1u << 20)
/* Row lengths of A up to SHORT_K_BYTES take the row-block-outer order;
 * a panel of column pairs holds up to PANEL_BYTES of weights (L2). */
#define SHORT_K_BYTES 2048u
#define PANEL_BYTES (512u << 10)
#define MIN_SLICE 4
/* bytes ahead of each weight stream that the first reader prefetches */
#define PF_DIST 4096u

typedef struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static void config_tiles(void)
{
    tilecfg_t c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) {
        c.colsb[i] = 64;
        c.rows[i] = 16;
    }
    _tile_loadconfig(&c);
}

/* The activations are converted by the AVX-512 variant's pack_a. */
extern const cls_lowp_kernels_t cls_lowp_avx512_bf16, cls_lowp_avx512_int8;

static void pack_a_bf16(const float *x, size_t m, size_t k, size_t ldx, void *a, float *ascale,
                        int32_t *azp)
{
    cls_lowp_avx512_bf16.pack_a(x, m, k, ldx, a, ascale, azp);
}

static void pack_a_int8(const float *x, size_t m, size_t k, size_t ldx, void *a, float *ascale,
                        int32_t *azp)
{
    cls_lowp_avx512_int8.pack_a(x, m, k, ldx, a, ascale, azp);
}

/* The finished 32 x 32 (or smaller) block lives in blk, row stride 32
 * floats, contiguous and in L1: the dequantization (int8), the bias and the
 * epilogue run there, then each row goes to y once. Working in y directly
 * is slow: y's rows are 4-12 KiB apart (the hidden or FFN width), so the 32
 * rows of a block land in one L1 set. */
#define BLK 32

/* int8 with an epilogue function: blk = dequantized raw int32 sums, for
 * nb 16-column halves, in place (blk is raw); the epilogue adds the bias. */
static void dequant_block(float *blk, size_t rows, size_t nb, size_t j0, const float *ascale,
                          const int32_t *azp, const float *scale, const int32_t *wsum)
{
    const int32_t *raw = (const int32_t *)blk;
    for (size_t h = 0; h < nb; h++) {
        size_t j = j0 + 16 * h;
        __m512 sc = _mm512_loadu_ps(scale + j);
        __m512i ws = _mm512_loadu_si512(wsum + j);
        for (size_t r = 0; r < rows; r++) {
            __m512i v = _mm512_sub_epi32(_mm512_loadu_si512(raw + r * BLK + 16 * h),
                                         _mm512_mullo_epi32(_mm512_set1_epi32(azp[r]), ws));
            _mm512_storeu_ps(
                blk + r * BLK + 16 * h,
                _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(_mm512_set1_ps(ascale[r]), sc)));
        }
    }
}

/* int8 without an epilogue function: y rows [0, rows), columns
 * [0, ncols) = dequantized raw + bias, straight from the raw sums into y
 * (no pass through blk: one load and one store less per vector). */
static void dequant_store(const int32_t *raw, float *y, size_t ldy, size_t rows, size_t ncols,
                          size_t j0, const float *ascale, const int32_t *azp, const float *scale,
                          const int32_t *wsum, const float *bias)
{
    __mmask16 m[2];
    att_half_masks(ncols, &m[0], &m[1]);
    for (size_t h = 0; h < 2 && m[h]; h++) {
        size_t j = j0 + 16 * h;
        __m512 sc = _mm512_loadu_ps(scale + j), b = _mm512_loadu_ps(bias + 16 * h);
        __m512i ws = _mm512_loadu_si512(wsum + j);
        for (size_t r = 0; r < rows; r++) {
            __m512i v = _mm512_sub_epi32(_mm512_loadu_si512(raw + r * BLK + 16 * h),
                                         _mm512_mullo_epi32(_mm512_set1_epi32(azp[r]), ws));
            _mm512_mask_storeu_ps(y + r * ldy + 16 * h, m[h],
                                  _mm512_fmadd_ps(_mm512_cvtepi32_ps(v),
                                                  _mm512_mul_ps(_mm512_set1_ps(ascale[r]), sc), b));
        }
    }
}

/* bf16 without an epilogue function: y = blk + bias, likewise. */
static void bias_store(const float *blk, float *y, size_t ldy, size_t rows, size_t ncols,
                       const float *bias)
{
    __mmask16 m[2];
    att_half_masks(ncols, &m[0], &m[1]);
    for (size_t h = 0; h < 2 && m[h]; h++) {
        __m512 b = _mm512_loadu_ps(bias + 16 * h);
        for (size_t r = 0; r < rows; r++)
            _mm512_mask_storeu_ps(y + r * ldy + 16 * h, m[h],
                                  _mm512_add_ps(_mm512_loadu_ps(blk + r * BLK + 16 * h), b));
    }
}

/* y rows [0, rows), columns [0, ncols) (ncols <= 32) = blk. */
static void store_block(const float *blk, float *y, size_t ldy, size_t rows, size_t ncols)
{
    __mmask16 m0, m1;
    att_half_masks(ncols, &m0, &m1);
    for (size_t r = 0; r < rows; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, _mm512_loadu_ps(blk + r * BLK));
        if (m1)
            _mm512_mask_storeu_ps(y + r * ldy + 16, m1, _mm512_loadu_ps(blk + r * BLK + 16));
    }
}

/* The GEMM's shared state, and the block whose tile products are done but
 * whose epilogue is not: its C tiles sit in raw[cur ^ 1] while the next
 * block's products run. */
typedef struct gemm_state {
    int i8;
    const char *a;
    size_t lda, nk, wstride;
    const cls_wpack_t *w;
    const float *ascale, *bz;
    const int32_t *azp;
    cls_lowp_epi_fn epi;
    float *y;
    size_t ldy;
    size_t min_slice; /* fewest rows of the pending block per drain */
    /* the pending block */
    int live;
    size_t p_r0, p_rows, p_nb, p_j0, p_ncols, p_done;
    const float *p_bj;
    float *p_raw;
    /* double buffers: raw tile results, the padded bias of a lone block */
    _Alignas(64) float raw[2][BLK * BLK];
    _Alignas(64) float bpad[2][BLK];
    int cur;
} gemm_state_t;

/* The pending block's epilogue for its rows [p_done, upto), a few rows at
 * a time so the vector work runs while the AMX unit computes the next
 * block. Without an epilogue function the dequantized sums (int8) or the
 * fp32 sums plus the bias go from raw straight into y; with one, raw is
 * dequantized in place (int32 -> fp32), the function runs there, in L1,
 * and the rows are then stored into y. The direct store measured 1.04-1.09x
 * on bench_lowp's int8 shapes without GELU (best of 21 rounds, m 256). */
static void drain(gemm_state_t *g, size_t upto)
{
    if (!g->live || upto <= g->p_done)
        return;
    if (upto > g->p_rows)
        upto = g->p_rows;
    size_t r = g->p_done, n = upto - r;
    float *buf = g->p_raw + r * BLK, *y = g->y + (g->p_r0 + r) * g->ldy + g->p_j0;
    if (!g->epi) {
        if (g->i8)
            dequant_store((const int32_t *)buf, y, g->ldy, n, g->p_ncols, g->p_j0,
                          g->ascale + g->p_r0 + r, g->azp + g->p_r0 + r, g->w->scale, g->w->wsum,
                          g->p_bj);
        else
            bias_store(buf, y, g->ldy, n, g->p_ncols, g->p_bj);
    } else {
        if (g->i8)
            dequant_block(buf, n, g->p_nb, g->p_j0, g->ascale + g->p_r0 + r, g->azp + g->p_r0 + r,
                          g->w->scale, g->w->wsum);
        g->epi(buf, BLK, g->p_bj, n, g->p_ncols);
        store_block(buf, y, g->ldy, n, g->p_ncols);
    }
    g->p_done = upto;
    if (upto == g->p_rows)
        g->live = 0;
}

/* One block of y: rows r0 .. r0 + rows - 1 (rows <= 32) of the column pair
 * starting at 16-column block nb0 (its second block absent past n_pad).
 * Between its k steps the previous block's epilogue runs a slice of rows
 * at a time (drain); then its C tiles are stored into the free raw buffer
 * and it becomes the pending block. */
#define PIPE_BLOCK(DP)                                                                             \
    do {                                                                                           \
        _tile_zero(0);                                                                             \
        _tile_zero(1);                                                                             \
        _tile_zero(2);                                                                             \
        _tile_zero(3);                                                                             \
        size_t per = g->live ? (g->p_rows - g->p_done + nk - 1) / nk : 0, upto = g->p_done;        \
        per = per && per < g->min_slice ? g->min_slice : per;                                      \
        for (size_t kb = 0; kb < nk; kb++) {                                                       \
            const char *ak = ar + kb * 64, *wk = wb + kb * 1024;                                   \
            _tile_loadd(4, ak, lda);                                                               \
            _tile_loadd(6, wk, 64);                                                                \
            DP(0, 4, 6);                                                                           \
            if (nb > 1) {                                                                          \
                _tile_loadd(7, wk + wstride, 64);                                                  \
                DP(1, 4, 7);                                                                       \
            }                                                                                      \
            if (ma > 1) {                                                                          \
                _tile_loadd(5, ak + 16 * lda, lda);                                                \
                DP(2, 5, 6);                                                                       \
                if (nb > 1)                                                                        \
                    DP(3, 5, 7);                                                                   \
            }                                                                                      \
            if (pf) {                                                                              \
                size_t off = kb * 1024 + PF_DIST;                                                  \
                const char *q = off < wstride ? wb + off : wb + wstride + off;                     \
                for (int s = 0; s < 2; s++, q += wstride)                                          \
                    if (q + 1024 <= wend)                                                          \
                        for (int l = 0; l < 1024; l += 64)                                         \
                            _mm_prefetch(q + l, _MM_HINT_T0);                                      \
            }                                                                                      \
            if (per) {                                                                             \
                upto += per;                                                                       \
                drain(g, upto);                                                                    \
                per = g->live ? per : 0;                                                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void one_block(gemm_state_t *g, size_t nb0, size_t r0, size_t rows, int pf)
{
    const cls_wpack_t *w = g->w;
    size_t nblocks = w->n_pad / 16, nb = nblocks - nb0 < 2 ? 1 : 2, j0 = nb0 * 16;
    size_t ncols = (j0 + nb * 16 < w->n ? j0 + nb * 16 : w->n) - j0, ma = rows > 16 ? 2 : 1;
    size_t lda = g->lda, nk = g->nk, wstride = g->wstride;
    const char *wb = (const char *)w->data + nb0 * wstride, *ar = g->a + r0 * lda;
    const char *wend = (const char *)w->data + nblocks * wstride;
    int c = g->cur;
    float *raw = g->raw[c];
    /* a lone last block reads the bias (and int8 scales) of 32 columns:
     * past n_pad they would be out of bounds */
    const float *bj = g->bz + j0;

    if (nb == 1 || j0 + BLK > w->n) {
        memset(g->bpad[c], 0, sizeof g->bpad[c]);
        memcpy(g->bpad[c], g->bz + j0, ncols * sizeof(float));
        bj = g->bpad[c];
    }
    if (g->i8)
        PIPE_BLOCK(_tile_dpbusd);
    else
        PIPE_BLOCK(_tile_dpbf16ps);
    drain(g, BLK);
    _tile_stored(0, raw, BLK * 4);
    if (nb > 1)
        _tile_stored(1, raw + 16, BLK * 4);
    if (ma > 1) {
        _tile_stored(2, raw + 16 * BLK, BLK * 4);
        if (nb > 1)
            _tile_stored(3, raw + 16 * BLK + 16, BLK * 4);
    }
    g->live = 1;
    g->p_r0 = r0;
    g->p_rows = rows;
    g->p_nb = nb;
    g->p_j0 = j0;
    g->p_ncols = ncols;
    g->p_done = 0;
    g->p_bj = bj;
    g->p_raw = raw;
    g->cur = c ^ 1;
}

static void gemm_any(const void *a, const float *ascale, const int32_t *azp, size_t m,
                     const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                     size_t ldy)
{
    int i8 = w->prec == CLS_PREC_INT8;
    size_t esz = i8 ? 1 : 2, lda = w->k_pad * esz, nk = lda / 64, nblocks = w->n_pad / 16;
    size_t wstride = w->k_pad * 16 * esz; /* bytes of one 16-column block */
    _Alignas(64) float zbias[BLK] = {0};
    gemm_state_t g = {.i8 = i8,
                      .a = a,
                      .lda = lda,
                      .nk = nk,
                      .wstride = wstride,
                      .w = w,
                      .ascale = ascale,
                      .azp = azp,
                      .bz = bias ? bias : zbias,
                      .epi = epi,
                      .y = y,
                      .ldy = ldy};

    /* the padding columns of a lone 16-column block are zero */
    memset(g.raw, 0, sizeof g.raw);
    /* a short k without an epilogue function leaves too little vector work
     * to spread: the pending block is drained whole at the first k step */
    g.min_slice = nk < 8 && !epi ? BLK : MIN_SLICE;
    config_tiles();
    if (lda <= SHORT_K_BYTES) {
        /* row blocks across a panel of column pairs: a 32-row block of A
         * (at most 64 KiB) is reused by every pair of the panel from L1 or
         * L2, and each row of y is written left to right, a stream the
         * prefetchers follow, where the other order writes 128 bytes per
         * row, rows 1-12 KiB apart */
        size_t panel = PANEL_BYTES / wstride / 2 * 2;
        panel = panel < 2 ? 2 : panel;
        for (size_t p0 = 0; p0 < nblocks; p0 += panel) {
            size_t p1 = p0 + panel < nblocks ? p0 + panel : nblocks;
            for (size_t r0 = 0; r0 < m; r0 += 32)
                for (size_t nb0 = p0; nb0 < p1; nb0 += 2)
                    one_block(&g, nb0, r0, m - r0 < 32 ? m - r0 : 32, r0 == 0);
        }
    } else {
        /* long k: each column pair's weights (>= 64 KiB) meet every row
         * block of an L2-sized chunk of rows */
        size_t chunk = CHUNK_BYTES / lda;
        chunk = chunk < 32 ? 32 : chunk / 32 * 32;
        for (size_t m0 = 0; m0 < m; m0 += chunk) {
            size_t m1 = m0 + chunk < m ? m0 + chunk : m;
            for (size_t nb0 = 0; nb0 < nblocks; nb0 += 2)
                for (size_t r0 = m0; r0 < m1; r0 += 32)
                    one_block(&g, nb0, r0, m1 - r0 < 32 ? m1 - r0 : 32, r0 == m0);
        }
    }
    drain(&g, BLK);
    _tile_release();
}

/* --- attention on tiles ---------------------------------------------------
 *
 * One head of d = 64 with at most ATT_MAX queries and keys, as two tile
 * products in bf16 with fp32 sums, on the layouts of cls_lowp_att.inc:
 * scores: A tiles of qb (rows of 32 bf16 of d per k step, two steps) times
 * the B tiles of kt (a block of 16 keys per step); ctx: A tiles of pb (32
 * keys per step) times the B tiles of vt (a block of 16 columns of d per
 * step). Keys past nk are zero in k and v and get probability 0. */
static int attention(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                     size_t ld, size_t d, float scale, float *s_scratch, float *ctx)
{
    size_t nkb = (nk + 15) / 16, nks = (nk + 31) / 32, nqb = (nq + 15) / 16;
    size_t lds = nkb * 16, ldp = nks * 32;
    att_work_t w;
    const uint16_t *qb = w.qb, *pb = w.pb;
    const uint32_t *kt = w.kt, *vt = w.vt;
    float *sc = w.sc;
    _Alignas(64) float part[4 * 16 * 16];

    (void)s_scratch;
    if (att_prepare(&w, q, nq, k, v, nk, ld, d, scale) != 0)
        return -1;

    config_tiles();
    for (size_t b = 0; b < nqb; b++) {
        const uint16_t *qa = qb + b * 16 * ATT_D;
        for (size_t kb = 0; kb < nkb; kb += 4) {
            size_t g = nkb - kb < 4 ? nkb - kb : 4;
            float *sb = sc + b * 16 * lds + kb * 16;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (size_t st = 0; st < 2; st++) {
                const uint32_t *kk = kt + (kb * 2 + st) * 256;
                _tile_loadd(4, qa + st * 32, ATT_D * 2);
                _tile_loadd(6, kk, 64);
                _tile_dpbf16ps(0, 4, 6);
                if (g > 1) {
                    _tile_loadd(7, kk + 2 * 256, 64);
                    _tile_dpbf16ps(1, 4, 7);
                }
                if (g > 2) {
                    _tile_loadd(6, kk + 4 * 256, 64);
                    _tile_dpbf16ps(2, 4, 6);
                }
                if (g > 3) {
                    _tile_loadd(7, kk + 6 * 256, 64);
                    _tile_dpbf16ps(3, 4, 7);
                }
            }
            _tile_stored(0, sb, lds * 4);
            if (g > 1)
                _tile_stored(1, sb + 16, lds * 4);
            if (g > 2)
                _tile_stored(2, sb + 32, lds * 4);
            if (g > 3)
                _tile_stored(3, sb + 48, lds * 4);
        }
    }
    att_probs(sc, lds, nq, nk, nqb * 16, w.pb, ldp);
    for (size_t b = 0; b < nqb; b++) {
        size_t rows = nq - b * 16 < 16 ? nq - b * 16 : 16;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (size_t st = 0; st < nks; st++) {
            const uint32_t *vv = vt + st * 4 * 256;
            _tile_loadd(4, pb + b * 16 * ldp + st * 32, ldp * 2);
            _tile_loadd(6, vv, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_loadd(7, vv + 256, 64);
            _tile_dpbf16ps(1, 4, 7);
            _tile_loadd(6, vv + 512, 64);
            _tile_dpbf16ps(2, 4, 6);
            _tile_loadd(7, vv + 768, 64);
            _tile_dpbf16ps(3, 4, 7);
        }
        float *cb = ctx + b * 16 * ld;
        if (rows == 16) {
            _tile_stored(0, cb, ld * 4);
            _tile_stored(1, cb + 16, ld * 4);
            _tile_stored(2, cb + 32, ld * 4);
            _tile_stored(3, cb + 48, ld * 4);
        } else { /* the block's real rows only */
            _tile_stored(0, part, 64);
            _tile_stored(1, part + 256, 64);
            _tile_stored(2, part + 512, 64);
            _tile_stored(3, part + 768, 64);
            for (size_t t = 0; t < 4; t++)
                for (size_t r = 0; r < rows; r++)
                    _mm512_storeu_ps(cb + r * ld + t * 16, _mm512_load_ps(part + t * 256 + r * 16));
        }
    }
    return 0;
}

const cls_lowp_kernels_t cls_lowp_amx_bf16 = {"amx", CLS_PREC_BF16, pack_a_bf16, gemm_any,
                                              attention};
const cls_lowp_kernels_t cls_lowp_amx_int8 = {"amx", CLS_PREC_INT8, pack_a_int8, gemm_any,
                                              attention};
