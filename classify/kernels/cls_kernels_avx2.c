/*
 * cls_kernels_avx2: the AVX2 + FMA variant of the kernel table (8 lanes).
 * Compiled with -mavx2 -mfma (classify/CMakeLists.txt) and only ever called
 * after cls_kernels_get / cls_kernels_named checked the CPU has both. Tails
 * use masked loads and stores, so no lane reads or writes past a row.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "classify/kernels/cls_kernels.h"

typedef __m256 V;
#define W 8

static inline __m256i tail_mask(size_t cnt)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define v_ld(p) _mm256_loadu_ps(p)
#define v_st(p, v) _mm256_storeu_ps((p), (v))
#define v_set1(x) _mm256_set1_ps(x)
#define v_add _mm256_add_ps
#define v_sub _mm256_sub_ps
#define v_mul _mm256_mul_ps
#define v_div _mm256_div_ps
#define v_max _mm256_max_ps
#define v_min _mm256_min_ps
#define v_fmadd _mm256_fmadd_ps
#define v_fnmadd _mm256_fnmadd_ps
#define v_round(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline V v_ld_tail(const float *p, size_t cnt, float fill)
{
    __m256i m = tail_mask(cnt);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}

static inline void v_st_tail(float *p, V v, size_t cnt)
{
    _mm256_maskstore_ps(p, tail_mask(cnt), v);
}

static inline V v_zero_tail(V v, size_t cnt)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(tail_mask(cnt)));
}

static inline V v_abs(V x)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

static inline V v_copysign(V mag, V sign)
{
    V s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sign));
}

static inline V v_blend_neg(V x, V a, V b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

static inline V v_blend_lt(V x, V lim, V a, V b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(v_abs(x), lim, _CMP_LT_OQ));
}

static inline V v_pow2i(V n)
{
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}

static inline float v_hsum(V v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float v_hmax(V v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define KTABLE cls_kernels_avx2
#define KNAME "avx2"
#include "classify/kernels/cls_kernels_simd.inc"
