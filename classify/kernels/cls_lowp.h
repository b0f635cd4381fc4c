/*
 * cls_lowp: the packed dense layers: reduced precision (bf16, int8) and our
 * own fp32 GEMM. A weight matrix W (n, k), stored (out, in) row-major as
 * PyTorch stores it, is packed ONCE (at model load) into the layout the
 * kernels read; each GEMM then converts its fp32 input rows once
 * (cls_lowp_kernels_t.pack_a; fp32 reads them as they are) and computes
 *     y (m, n) = epilogue(x W^T + b)
 * with fp32 accumulation (bf16, fp32) or int32 accumulation and a
 * dequantizing epilogue (int8). LayerNorm, softmax and GELU stay fp32.
 *
 * Packed weights (one layout per precision, read by every variant):
 *   n_pad = n rounded up to 16 (one 16-column block = one zmm of fp32
 *   outputs = one AMX C tile's columns), k_pad = k rounded up to
 *   CLS_LOWP_KBLOCK_BF16 = 32 or CLS_LOWP_KBLOCK_INT8 = 64 (one AMX A tile's
 *   row); padding is zero.
 *   bf16: uint16_t [n_pad/16][k_pad/2][16][2]: W[j][kk] at
 *         ((j/16) * (k_pad/2) + kk/2) * 32 + (j%16) * 2 + kk%2
 *   int8: int8_t   [n_pad/16][k_pad/4][16][4]: W8[j][kk] at
 *         ((j/16) * (k_pad/4) + kk/4) * 64 + (j%16) * 4 + kk%4
 *   which is both the operand of one VDPBF16PS / VPDPBUSD (64 bytes: 16
 *   columns x one pair / quad of k) and, 16 consecutive groups, one AMX B
 *   tile (16 rows of 64 bytes).
 *   fp32: float [n_pad/16][k][16], k_pad = k (no k padding: the input is
 *         broadcast one element at a time, so k has no grouping):
 *         W[j][kk] at ((j/16) * k + kk) * 16 + j%16. One 64-byte row is
 *         the weight operand of one VFMADD231PS (16 columns at one k); a
 *         16-column block is contiguous over k, so the kernel streams each
 *         block linearly and a team part (whole 16-column blocks, cls_bert)
 *         is one contiguous slice, as in the other layouts. The alternative
 *         of 64-column blocks ([n/64][k][64], one stream instead of four)
 *         would make the column tail and the team split coarser.
 *   int8 weights are symmetric per output channel: scale[j] = max|W[j,:]| /
 *   127 (1 for a zero row), W8 = round(W / scale) in [-127, 127]; wsum[j] =
 *   sum_k W8[j][k].
 *
 * Packed activations (pack_a): m_pad = m rounded up to 16 rows of k_pad
 * elements (row stride k_pad), zero padding.
 *   bf16: uint16_t, fp32 rounded to nearest even (NaN kept NaN).
 *   int8: uint8_t, asymmetric per row (token): lo = min(0, min x), hi =
 *         max(0, max x), ascale = (hi - lo) / 255 (1 when hi == lo), azp =
 *         round(-lo / ascale) in [0, 255], u = clamp(round(x / ascale) + azp,
 *         0, 255), so x ~ ascale (u - azp) and 0 is exact. Then
 *         y[r][j] = ascale[r] scale[j] (sum_k u[r][k] W8[j][k] - azp[r] wsum[j]).
 *
 * fp32 activations are not packed (pack_a NULL): gemm's a is the fp32
 * input itself, (m, k) with row stride k, and ascale/azp are unused.
 *
 * Epilogue: after the bias is added, an optional elementwise function of the
 * fp32 kernel table (cls_kernels_t: bias_gelu_erf etc. called with a zero
 * bias is avoided: the epilogue functions here take the bias themselves) is
 * applied to each finished tile while it is in cache.
 *
 * Kernel variants: "generic" (scalar C, the reference, always built),
 * "avx512" (AVX512-BF16 VDPBF16PS / AVX512-VNNI VPDPBUSD; for fp32
 * AVX-512F VFMADD231PS only, cls_lowp_avx512f.c) and "amx" (AMX tiles
 * TDPBF16PS / TDPBUSD, bf16 and int8; the process asks the kernel for AMX
 * state with arch_prctl(ARCH_REQ_XCOMP_PERM) once, and falls back when
 * refused). The best variant the CPU runs is chosen once;
 * FINSENT_LOWP=generic|avx512|amx forces one for bf16 and int8 (a variant
 * the CPU lacks falls back, with a warning).
 *
 * fp32 has two GEMMs: OpenBLAS cblas_sgemm on the weights as loaded (the
 * reference, cls_blas.h) and the packed one here. FINSENT_FP32_GEMM=blas|own
 * chooses (generic|avx512 choose own with that variant); the default is
 * own when its avx512 variant runs here, else OpenBLAS (docs/engine.md has
 * the measurements behind it). cls_lowp_fp32_own says which runs.
 *
 * Every function is thread-safe; AMX tile configuration is per thread and
 * loaded by each gemm call.
 */
#ifndef CLS_LOWP_H
#define CLS_LOWP_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

#define CLS_LOWP_NBLOCK 16
#define CLS_LOWP_KBLOCK_BF16 32
#define CLS_LOWP_KBLOCK_INT8 64
#define CLS_LOWP_MBLOCK 16

/* Zero is fp32, so zeroed options mean the exact fp32 engine. AUTO is
 * resolved by cls_precision_resolve before use. */
typedef enum cls_precision {
    CLS_PREC_FP32 = 0,
    CLS_PREC_BF16 = 1,
    CLS_PREC_INT8 = 2,
    CLS_PREC_AUTO = 3,
    CLS_PREC__INVALID = 4, /* an unparsable setting, refused by cls_classifier_new */
} cls_precision_t;

/* "fp32", "bf16", "int8", "auto". */
const char *cls_precision_name(cls_precision_t p);
/* cls_precision_parse: 0 and *out set for one of the names above, else -1. */
int cls_precision_parse(const char *s, cls_precision_t *out);

typedef struct cls_wpack {
    cls_precision_t prec; /* BF16, INT8 or FP32 */
    size_t n, k, n_pad, k_pad;
    void *data;    /* the layout above; 64-byte aligned */
    float *scale;  /* int8: (n_pad) per-channel scales, 0 in the padding */
    int32_t *wsum; /* int8: (n_pad) sums of each channel's int8 weights */
} cls_wpack_t;

/* cls_wpack_new packs w (n, k) for prec (BF16, INT8 or FP32). CORE_EINVAL
 * for another precision or a zero size, CORE_ENOMEM. */
core_err_t cls_wpack_new(cls_precision_t prec, const float *w, size_t n, size_t k,
                         cls_wpack_t **out);
/* cls_wpack_free: NULL is a no-op. */
void cls_wpack_free(cls_wpack_t *p);
/* cls_wpack_bytes: memory held by the pack. */
size_t cls_wpack_bytes(const cls_wpack_t *p);

/* cls_lowp_kpad: k rounded up to the precision's k block (fp32: k). */
size_t cls_lowp_kpad(cls_precision_t prec, size_t k);
/* cls_lowp_abytes: bytes of the packed activations of m rows of k (0 for
 * fp32, which reads its input unpacked). */
size_t cls_lowp_abytes(cls_precision_t prec, size_t m, size_t k);

/* An epilogue applied to a finished tile: y (rows, n; row stride ldy) =
 * f(y + b). NULL means the bias add only. */
typedef void (*cls_lowp_epi_fn)(float *y, size_t ldy, const float *b, size_t rows, size_t n);

typedef struct cls_lowp_kernels {
    const char *name; /* "generic", "avx512", "amx" */
    cls_precision_t prec;
    /* pack_a: x (m, k; row stride ldx) into a (m_pad, k_pad) as above;
     * int8 also fills ascale (m) and azp (m). a must be 64-byte aligned.
     * NULL for fp32: gemm reads x (m, k; row stride k) itself. */
    void (*pack_a)(const float *x, size_t m, size_t k, size_t ldx, void *a, float *ascale,
                   int32_t *azp);
    /* gemm: y (m, n; row stride ldy) = epi(A W^T + bias) for the m real rows
     * of the packed activations a (from pack_a with the same k). */
    void (*gemm)(const void *a, const float *ascale, const int32_t *azp, size_t m,
                 const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                 size_t ldy);
    /* attention: one head, as cls_kernels_t's attention_head (same
     * arguments), with q, k, v, and the probabilities rounded to bf16 at
     * the two products (fp32 sums, fp32 softmax). Returns 0, or -1 for a
     * shape it does not take (the caller then runs the fp32 kernel). NULL
     * where the variant has none; amx has one, and so does avx512 where the
     * CPU has AVX512-BF16, both for d = 64 and nq, nk <= 128. */
    int (*attention)(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                     size_t ld, size_t d, float scale, float *s_scratch, float *ctx);
} cls_lowp_kernels_t;

extern const cls_lowp_kernels_t cls_lowp_generic_bf16, cls_lowp_generic_int8, cls_lowp_generic_fp32;
#if defined(__x86_64__)
extern const cls_lowp_kernels_t cls_lowp_avx512_bf16, cls_lowp_avx512_int8,
    cls_lowp_avx512_int8_vnni;
extern const cls_lowp_kernels_t cls_lowp_amx_bf16, cls_lowp_amx_int8;
extern const cls_lowp_kernels_t cls_lowp_avx512_fp32;
#endif

/* cls_lowp_get: the kernels chosen for this process for prec (BF16, INT8,
 * or FP32: the variant of our own fp32 GEMM, whether or not it is the one
 * fp32 runs, see cls_lowp_fp32_own; NULL otherwise). Any thread. */
const cls_lowp_kernels_t *cls_lowp_get(cls_precision_t prec);
/* cls_lowp_named: variant name for prec if this CPU (and OS) runs it, else
 * NULL. Any thread. */
const cls_lowp_kernels_t *cls_lowp_named(const char *name, cls_precision_t prec);
/* cls_lowp_native: 1 when the kernels chosen for prec are a SIMD variant
 * (not the scalar reference, which FINSENT_LOWP=generic forces); what
 * `auto` requires. */
int cls_lowp_native(cls_precision_t prec);

/* cls_lowp_auto: what `auto` means for a model allowing `allowed` (bit 1 <<
 * cls_precision_t each): int8 if it has a native variant here and is
 * allowed, else bf16 likewise, else fp32. */
cls_precision_t cls_lowp_auto(unsigned allowed);

/* cls_lowp_amx_ready: asks the kernel for AMX tile state for the process
 * (once); 1 when AMX may be used. */
int cls_lowp_amx_ready(void);

/* cls_lowp_fp32_own: 1 when the fp32 dense layers run on our packed GEMM
 * (cls_lowp_get(CLS_PREC_FP32)), 0 when on OpenBLAS: FINSENT_FP32_GEMM
 * (own, blas, or an own variant's name), else own when its SIMD variant
 * runs here. Chosen once (an unknown value is reported on stderr and the
 * default used). Any thread. */
int cls_lowp_fp32_own(void);
/* cls_lowp_fp32_gemm: what the fp32 dense layers run on: "openblas" or the
 * own variant's name ("avx512", "generic"). */
const char *cls_lowp_fp32_gemm(void);

/* Helpers for the kernels (cls_lowp.c). */
uint16_t cls_lowp_f2bf(float f);
float cls_lowp_bf2f(uint16_t h);
/* cls_lowp_quant_row: the int8 activation parameters of one row of k. */
void cls_lowp_quant_params(const float *x, size_t k, float *ascale, int32_t *azp);
/* cls_lowp_fp32_blocking: the fp32 kernels' cache blocking for a product
 * of m rows and depth k: rows in chunks of *mc, k in slices of *kc (both
 * >= 1), from the L2 size the CPU reports (read once). */
void cls_lowp_fp32_blocking(size_t m, size_t k, size_t *mc, size_t *kc);

#endif
