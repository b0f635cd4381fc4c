/*
 * cls_lowp: weight packing, the precision names, the choice of the packed
 * kernels (reduced precision, and our own fp32 GEMM against OpenBLAS) and
 * the fp32 GEMM's cache blocking (see cls_lowp.h). The only file that knows
 * which variants exist and what each needs from the CPU.
 */
#include "classify/kernels/cls_lowp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#endif

#include "core/core_alloc.h"
#include "core/core_cpu.h"

static const char *const prec_names[] = {"fp32", "bf16", "int8", "auto"};

const char *cls_precision_name(cls_precision_t p)
{
    return (unsigned)p < 4 ? prec_names[p] : "?";
}

int cls_precision_parse(const char *s, cls_precision_t *out)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, prec_names[i]) == 0) {
            *out = (cls_precision_t)i;
            return 0;
        }
    return -1;
}

uint16_t cls_lowp_f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float cls_lowp_bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void cls_lowp_quant_params(const float *x, size_t k, float *ascale, int32_t *azp)
{
    float lo = 0.0f, hi = 0.0f, s;
    long zp;
    for (size_t i = 0; i < k; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    s = (hi - lo) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s))
        s = 1.0f;
    zp = lrintf(-lo / s);
    *ascale = s;
    *azp = (int32_t)(zp < 0 ? 0 : zp > 255 ? 255 : zp);
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Bytes of one packed weight element. */
static size_t wsize(cls_precision_t prec)
{
    return prec == CLS_PREC_INT8 ? 1 : prec == CLS_PREC_FP32 ? 4 : 2;
}

size_t cls_lowp_kpad(cls_precision_t prec, size_t k)
{
    if (prec == CLS_PREC_FP32)
        return k;
    return round_up(k, prec == CLS_PREC_INT8 ? CLS_LOWP_KBLOCK_INT8 : CLS_LOWP_KBLOCK_BF16);
}

size_t cls_lowp_abytes(cls_precision_t prec, size_t m, size_t k)
{
    if (prec == CLS_PREC_FP32)
        return 0;
    return round_up(m ? m : 1, CLS_LOWP_MBLOCK) * cls_lowp_kpad(prec, k) *
           (prec == CLS_PREC_INT8 ? 1 : 2);
}

void cls_wpack_free(cls_wpack_t *p)
{
    if (!p)
        return;
    core_free(p->data);
    core_free(p->scale);
    core_free(p->wsum);
    core_free(p);
}

size_t cls_wpack_bytes(const cls_wpack_t *p)
{
    size_t b = sizeof *p + p->n_pad * p->k_pad * wsize(p->prec);
    if (p->prec == CLS_PREC_INT8)
        b += p->n_pad * (sizeof *p->scale + sizeof *p->wsum);
    return b;
}

static void pack_bf16(cls_wpack_t *p, const float *w)
{
    uint16_t *d = p->data;
    size_t kp2 = p->k_pad / 2;
    for (size_t j = 0; j < p->n; j++)
        for (size_t kk = 0; kk < p->k; kk++)
            d[((j / 16) * kp2 + kk / 2) * 32 + (j % 16) * 2 + kk % 2] =
                cls_lowp_f2bf(w[j * p->k + kk]);
}

static void pack_fp32(cls_wpack_t *p, const float *w)
{
    float *d = p->data;
    for (size_t j = 0; j < p->n; j++)
        for (size_t kk = 0; kk < p->k; kk++)
            d[((j / 16) * p->k + kk) * 16 + j % 16] = w[j * p->k + kk];
}

static void pack_int8(cls_wpack_t *p, const float *w)
{
    int8_t *d = p->data;
    size_t kp4 = p->k_pad / 4;
    for (size_t j = 0; j < p->n; j++) {
        const float *row = w + j * p->k;
        float amax = 0.0f, s, inv;
        int32_t sum = 0;
        for (size_t kk = 0; kk < p->k; kk++)
            amax = fabsf(row[kk]) > amax ? fabsf(row[kk]) : amax;
        s = amax > 0.0f && isfinite(amax) ? amax / 127.0f : 1.0f;
        inv = 1.0f / s;
        for (size_t kk = 0; kk < p->k; kk++) {
            long q = lrintf(row[kk] * inv);
            q = q < -127 ? -127 : q > 127 ? 127 : q;
            d[((j / 16) * kp4 + kk / 4) * 64 + (j % 16) * 4 + kk % 4] = (int8_t)q;
            sum += (int32_t)q;
        }
        p->scale[j] = s;
        p->wsum[j] = sum;
    }
}

core_err_t cls_wpack_new(cls_precision_t prec, const float *w, size_t n, size_t k,
                         cls_wpack_t **out)
{
    cls_wpack_t *p;
    size_t bytes;

    *out = NULL;
    if ((prec != CLS_PREC_BF16 && prec != CLS_PREC_INT8 && prec != CLS_PREC_FP32) || n == 0 ||
        k == 0 || !w)
        return CORE_EINVAL;
    if (!(p = core_calloc(1, sizeof *p)))
        return CORE_ENOMEM;
    p->prec = prec;
    p->n = n;
    p->k = k;
    p->n_pad = round_up(n, CLS_LOWP_NBLOCK);
    p->k_pad = cls_lowp_kpad(prec, k);
    bytes = p->n_pad * p->k_pad * wsize(prec);
    if (!(p->data = core_aligned_alloc(64, round_up(bytes, 64)))) {
        cls_wpack_free(p);
        return CORE_ENOMEM;
    }
    memset(p->data, 0, bytes);
    if (prec == CLS_PREC_INT8) {
        p->scale = core_calloc(p->n_pad, sizeof *p->scale);
        p->wsum = core_calloc(p->n_pad, sizeof *p->wsum);
        if (!p->scale || !p->wsum) {
            cls_wpack_free(p);
            return CORE_ENOMEM;
        }
        pack_int8(p, w);
    } else if (prec == CLS_PREC_FP32) {
        pack_fp32(p, w);
    } else {
        pack_bf16(p, w);
    }
    *out = p;
    return CORE_OK;
}

/* --- choice of variant ---------------------------------------------------- */

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_ok;

static void amx_request(void)
{
#if defined(__linux__) && defined(__x86_64__)
    core_cpu_features_t f;
    core_cpu_detect(&f);
    if (!f.amx_tile || !f.amx_bf16 || !f.amx_int8 || !f.avx512f || !f.avx512bw || !f.avx512bf16 ||
        !f.avx512dq || !f.avx512vl)
        return;
    if (getenv("FINSENT_NO_AMX") && *getenv("FINSENT_NO_AMX"))
        return;
    amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

int cls_lowp_amx_ready(void)
{
    pthread_once(&amx_once, amx_request);
    return amx_ok;
}

const cls_lowp_kernels_t *cls_lowp_named(const char *name, cls_precision_t prec)
{
    int i8 = prec == CLS_PREC_INT8;
#if defined(__x86_64__)
    core_cpu_features_t f;
#endif

    if (!name || (prec != CLS_PREC_BF16 && prec != CLS_PREC_INT8 && prec != CLS_PREC_FP32))
        return NULL;
    if (strcmp(name, "generic") == 0)
        return prec == CLS_PREC_FP32 ? &cls_lowp_generic_fp32
               : i8                  ? &cls_lowp_generic_int8
                                     : &cls_lowp_generic_bf16;
#if defined(__x86_64__)
    core_cpu_detect(&f);
    if (prec == CLS_PREC_FP32) /* AVX-512F and FMA, nothing else */
        return strcmp(name, "avx512") == 0 && f.avx512f && f.fma ? &cls_lowp_avx512_fp32 : NULL;
    if (strcmp(name, "avx512") == 0) {
        int base = f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
        if (i8)
            return !base || !f.avx512vnni ? NULL
                   : f.avx512bf16         ? &cls_lowp_avx512_int8
                                          : &cls_lowp_avx512_int8_vnni;
        return base && f.avx512bf16 ? &cls_lowp_avx512_bf16 : NULL;
    }
    if (strcmp(name, "amx") == 0)
        return cls_lowp_amx_ready() ? (i8 ? &cls_lowp_amx_int8 : &cls_lowp_amx_bf16) : NULL;
#endif
    return NULL;
}

static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;
static const cls_lowp_kernels_t *chosen[3]; /* bf16, int8, fp32 */
static int fp32_own;

/* The fp32 GEMM: our own best variant by default when it is SIMD, else
 * OpenBLAS; FINSENT_FP32_GEMM overrides. */
static void choose_fp32(void)
{
    const char *force = getenv("FINSENT_FP32_GEMM");
    const cls_lowp_kernels_t *best = cls_lowp_named("avx512", CLS_PREC_FP32);

    if (!best)
        best = &cls_lowp_generic_fp32;
    fp32_own = best != &cls_lowp_generic_fp32;
    if (force && *force) {
        const cls_lowp_kernels_t *k = cls_lowp_named(force, CLS_PREC_FP32);
        if (strcmp(force, "blas") == 0) {
            fp32_own = 0;
        } else if (strcmp(force, "own") == 0 || k) {
            best = k ? k : best;
            fp32_own = 1;
            if (best == &cls_lowp_generic_fp32 && !k)
                fprintf(stderr, "finsent: FINSENT_FP32_GEMM=own: no AVX-512F on this CPU, the "
                                "scalar reference GEMM runs (slow)\n");
        } else {
            fprintf(stderr,
                    "finsent: FINSENT_FP32_GEMM=%s is unknown or not supported by this CPU "
                    "(own, blas, generic, avx512); using %s\n",
                    force,
                    fp32_own ? (best == &cls_lowp_generic_fp32 ? "own generic" : "own avx512")
                             : "openblas");
        }
    }
    chosen[2] = best;
}

static void choose(void)
{
    const char *force = getenv("FINSENT_LOWP");
    static const char *const order[] = {"amx", "avx512", "generic"};

    for (int p = 0; p < 2; p++) {
        cls_precision_t prec = p ? CLS_PREC_INT8 : CLS_PREC_BF16;
        const cls_lowp_kernels_t *best = NULL;
        for (size_t i = 0; !best && i < sizeof order / sizeof *order; i++)
            best = cls_lowp_named(order[i], prec);
        if (force && *force) {
            const cls_lowp_kernels_t *k = cls_lowp_named(force, prec);
            if (k)
                best = k;
            else
                fprintf(stderr,
                        "finsent: FINSENT_LOWP=%s is unknown or not supported by this CPU for "
                        "%s; using %s\n",
                        force, cls_precision_name(prec), best->name);
        }
        chosen[p] = best;
    }
    choose_fp32();
}

const cls_lowp_kernels_t *cls_lowp_get(cls_precision_t prec)
{
    if (prec != CLS_PREC_BF16 && prec != CLS_PREC_INT8 && prec != CLS_PREC_FP32)
        return NULL;
    pthread_once(&chosen_once, choose);
    return chosen[prec == CLS_PREC_FP32 ? 2 : prec == CLS_PREC_INT8];
}

int cls_lowp_native(cls_precision_t prec)
{
    const cls_lowp_kernels_t *k = cls_lowp_get(prec);
    return k && strcmp(k->name, "generic") != 0;
}

int cls_lowp_fp32_own(void)
{
    pthread_once(&chosen_once, choose);
    return fp32_own;
}

const char *cls_lowp_fp32_gemm(void)
{
    return cls_lowp_fp32_own() ? cls_lowp_get(CLS_PREC_FP32)->name : "openblas";
}

cls_precision_t cls_lowp_auto(unsigned allowed)
{
    if ((allowed & (1u << CLS_PREC_INT8)) && cls_lowp_native(CLS_PREC_INT8))
        return CLS_PREC_INT8;
    if ((allowed & (1u << CLS_PREC_BF16)) && cls_lowp_native(CLS_PREC_BF16))
        return CLS_PREC_BF16;
    return CLS_PREC_FP32;
}

/* --- fp32 cache blocking ---------------------------------------------------- */

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static size_t cache_l2 = 1u << 20; /* per core; when the CPU says nothing */

/* glibc's sysconf reads the cache size from CPUID (leaf 4 on Intel,
 * 0x8000001D or 0x80000006 on AMD); 0 or -1 when unknown. */
static void cache_read(void)
{
#if defined(_SC_LEVEL2_CACHE_SIZE)
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 >= 65536 && l2 <= (1l << 28))
        cache_l2 = (size_t)l2;
#endif
}

void cls_lowp_fp32_blocking(size_t m, size_t k, size_t *mc, size_t *kc)
{
    size_t kmax, slices, rows;

    pthread_once(&cache_once, cache_read);
    /* k slices: one 64-column weight panel of the slice (kc x 64 floats)
     * in a quarter of L2, where it stays while every row block of the chunk
     * meets it; equal slices, so the last is not a sliver. (Slices sized for
     * L1 instead, kc = 96 on a 48 KiB L1, measured no faster: the partial
     * sums then go through memory k / kc times.) */
    kmax = cache_l2 / 4 / (64 * sizeof(float));
    kmax = kmax < 64 ? 64 : kmax;
    slices = (k + kmax - 1) / kmax;
    *kc = (k + slices - 1) / slices;
    /* row chunks: the chunk's input slice (mc x kc) in half of L2, so each
     * panel re-reads it from L2, not memory; a multiple of the 6-row tile */
    rows = cache_l2 / 2 / (*kc * sizeof(float));
    rows = rows < 6 ? 6 : rows / 6 * 6;
    *mc = rows < m ? rows : (m ? m : 1);
}
