/*
 * cls_lowp_generic: the scalar reference of the packed kernels (cls_lowp.h).
 * Plain C on the packed layouts: bf16 products summed in fp32 in k order,
 * int8 products summed exactly in int32, fp32 fused multiply-adds in k
 * order. Every SIMD variant is tested against these; they also run on any
 * CPU.
 */
#include <math.h>
#include <string.h>

#include "classify/kernels/cls_lowp.h"

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
        if (r < m)
            for (; kk < k; kk++)
                row[kk] = cls_lowp_f2bf(x[r * ldx + kk]);
        memset(row + kk, 0, (kp - kk) * sizeof *row);
    }
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
            cls_lowp_quant_params(xr, k, &ascale[r], &azp[r]);
            inv = 1.0f / ascale[r];
            for (; kk < k; kk++) {
                long q = lrintf(xr[kk] * inv) + azp[r];
                row[kk] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
        memset(row + kk, 0, kp - kk);
    }
}

static void finish_row(float *y, const float *bias, size_t n)
{
    if (bias)
        for (size_t j = 0; j < n; j++)
            y[j] += bias[j];
}

static void gemm_bf16(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const uint16_t *A = a, *W = w->data;
    size_t kp2 = w->k_pad / 2;
    (void)ascale;
    (void)azp;
    for (size_t r = 0; r < m; r++) {
        const uint16_t *ar = A + r * w->k_pad;
        for (size_t j = 0; j < w->n; j++) {
            const uint16_t *wj = W + (j / 16) * kp2 * 32 + (j % 16) * 2;
            float acc = 0.0f;
            for (size_t g = 0; g < kp2; g++)
                acc += cls_lowp_bf2f(ar[2 * g]) * cls_lowp_bf2f(wj[g * 32]) +
                       cls_lowp_bf2f(ar[2 * g + 1]) * cls_lowp_bf2f(wj[g * 32 + 1]);
            y[r * ldy + j] = acc;
        }
        if (epi)
            epi(y + r * ldy, ldy, bias, 1, w->n);
        else
            finish_row(y + r * ldy, bias, w->n);
    }
}

static void gemm_int8(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const uint8_t *A = a;
    const int8_t *W = w->data;
    size_t kp4 = w->k_pad / 4;
    for (size_t r = 0; r < m; r++) {
        const uint8_t *ar = A + r * w->k_pad;
        for (size_t j = 0; j < w->n; j++) {
            const int8_t *wj = W + (j / 16) * kp4 * 64 + (j % 16) * 4;
            int32_t acc = 0;
            for (size_t g = 0; g < kp4; g++)
                for (int q = 0; q < 4; q++)
                    acc += (int32_t)ar[4 * g + q] * (int32_t)wj[g * 64 + q];
            acc -= azp[r] * w->wsum[j];
            y[r * ldy + j] = (float)acc * ascale[r] * w->scale[j];
        }
        if (epi)
            epi(y + r * ldy, ldy, bias, 1, w->n);
        else
            finish_row(y + r * ldy, bias, w->n);
    }
}

/* fp32: each output is fmaf(x[k], w[k], acc) in k order from 0, then +
 * bias: one rounding per step, as the FMA of the SIMD variant does, so the
 * variants must agree with this bit for bit (fmaf is the FMA instruction
 * where the CPU has one, else libm's exact emulation). a is the input
 * itself, (m, k) row stride k. */
static void gemm_fp32(const void *a, const float *ascale, const int32_t *azp, size_t m,
                      const cls_wpack_t *w, const float *bias, cls_lowp_epi_fn epi, float *y,
                      size_t ldy)
{
    const float *A = a, *W = w->data;
    size_t k = w->k;
    (void)ascale;
    (void)azp;
    for (size_t r = 0; r < m; r++) {
        const float *ar = A + r * k;
        for (size_t j = 0; j < w->n; j++) {
            const float *wj = W + (j / 16) * k * 16 + j % 16;
            float acc = 0.0f;
            for (size_t kk = 0; kk < k; kk++)
                acc = fmaf(ar[kk], wj[kk * 16], acc);
            y[r * ldy + j] = acc;
        }
        if (epi)
            epi(y + r * ldy, ldy, bias, 1, w->n);
        else
            finish_row(y + r * ldy, bias, w->n);
    }
}

const cls_lowp_kernels_t cls_lowp_generic_bf16 = {"generic", CLS_PREC_BF16, pack_a_bf16, gemm_bf16,
                                                  NULL};
const cls_lowp_kernels_t cls_lowp_generic_int8 = {"generic", CLS_PREC_INT8, pack_a_int8, gemm_int8,
                                                  NULL};
const cls_lowp_kernels_t cls_lowp_generic_fp32 = {"generic", CLS_PREC_FP32, NULL, gemm_fp32, NULL};
