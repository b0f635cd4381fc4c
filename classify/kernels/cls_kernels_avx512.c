/*
 * cls_kernels_avx512: the AVX-512 (F, DQ, BW, VL) variant of the kernel
 * table (16 lanes). Compiled with its own -mavx512* flags
 * (classify/CMakeLists.txt) and only called after the selector checked the
 * CPU. Tails use AVX-512 lane masks.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "classify/kernels/cls_kernels.h"

typedef __m512 V;
#define W 16

static inline __mmask16 tail_mask(size_t cnt)
{
    return (__mmask16)((1u << cnt) - 1u);
}

#define v_ld(p) _mm512_loadu_ps(p)
#define v_st(p, v) _mm512_storeu_ps((p), (v))
#define v_set1(x) _mm512_set1_ps(x)
#define v_add _mm512_add_ps
#define v_sub _mm512_sub_ps
#define v_mul _mm512_mul_ps
#define v_div _mm512_div_ps
#define v_max _mm512_max_ps
#define v_min _mm512_min_ps
#define v_fmadd _mm512_fmadd_ps
#define v_fnmadd _mm512_fnmadd_ps
#define v_round(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define v_abs _mm512_abs_ps
#define v_hsum _mm512_reduce_add_ps
#define v_hmax _mm512_reduce_max_ps

static inline V v_ld_tail(const float *p, size_t cnt, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(cnt), p);
}

static inline void v_st_tail(float *p, V v, size_t cnt)
{
    _mm512_mask_storeu_ps(p, tail_mask(cnt), v);
}

static inline V v_zero_tail(V v, size_t cnt)
{
    return _mm512_maskz_mov_ps(tail_mask(cnt), v);
}

static inline V v_copysign(V mag, V sign)
{
    V s = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(s, mag), _mm512_and_ps(s, sign));
}

static inline V v_blend_neg(V x, V a, V b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), b, a);
}

static inline V v_blend_lt(V x, V lim, V a, V b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v_abs(x), lim, _CMP_LT_OQ), b, a);
}

static inline V v_pow2i(V n)
{
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}

#define KTABLE cls_kernels_avx512
#define KNAME "avx512"
#include "classify/kernels/cls_kernels_simd.inc"
