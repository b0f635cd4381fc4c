/*
 * bench/peaks.c: the arithmetic ceilings of this CPU, per instruction, on 1
 * and N threads: what a GEMM of each precision could reach if it did
 * nothing but multiply-accumulate from registers.
 *
 *   fma_zmm      vfmadd231ps zmm        32 flop / instruction (16 lanes x 2)
 *   fma_ymm      vfmadd231ps ymm        16 flop
 *   avx512_bf16  vdpbf16ps zmm          64 flop (16 lanes x 2 pairs x 2)
 *   avx512_vnni  vpdpbusd zmm          128 op   (16 lanes x 4 u8*s8 x 2)
 *   amx_bf16     tdpbf16ps          16 384 flop (16 x 16 x 32 x 2)
 *   amx_int8     tdpbusd            32 768 op   (16 x 16 x 64 x 2)
 *
 * Throughput, not latency: each loop body issues the instruction into
 * independent accumulators (16 zmm or 12 ymm registers; 4 AMX tiles fed by 2 A and
 * 2 B tiles, as a 2 x 2 GEMM micro-kernel does), more than latency x ports
 * on any of these CPUs. Operands stay in registers/tiles: no memory traffic
 * in the loop. Each variant runs on T threads at once (one loop each,
 * started together), for several samples; the best sample is the ceiling
 * (the machine may be shared).
 *
 * Every variant sits behind a run-time check (CPUID for the instruction set,
 * XGETBV for the OS-enabled register state, and for AMX the kernel's
 * permission, asked with arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA))
 * and is skipped with a message when missing. The file is compiled without
 * any -m flag; each kernel carries its own target attribute, so the rest of
 * the program runs on any x86-64.
 *
 * usage: peaks [--threads 1,2] [--json] [--ms 200] [--only NAME,...]
 * Output: `peak NAME threads T  X GFLOP/s` per variant (GOP/s for int8,
 * printed in the same column), or one JSON object per line with --json.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Inputs read through volatile so the compiler cannot fold the loops. */
static volatile float g_a = 0.999999f, g_b = 1e-7f;
static volatile int g_i = 0x01010101;

/* ---- kernels: each returns a value depending on every accumulator ---- */

#define REP16(X)                                                                                   \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) static float k_fma_zmm(long n)
{
    __m512 a = _mm512_set1_ps(g_a), b = _mm512_set1_ps(g_b);
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(i));
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, a, b);
#define SUM(i) s = _mm512_add_ps(s, c##i);
    REP16(DECL)
    for (long r = 0; r < n; r++) {
        REP16(STEP)
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3));
    }
    __m512 s = _mm512_setzero_ps();
    REP16(SUM)
#undef DECL
#undef STEP
#undef SUM
    return _mm512_reduce_add_ps(s);
}

/* 12 accumulators: without AVX-512 there are only 16 ymm registers */
__attribute__((target("avx2,fma"))) static float k_fma_ymm(long n)
{
    __m256 a = _mm256_set1_ps(g_a), b = _mm256_set1_ps(g_b);
#define DECL(i) __m256 c##i = _mm256_set1_ps((float)(i));
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, a, b);
#define SUM(i) s = _mm256_add_ps(s, c##i);
    REP12(DECL)
    for (long r = 0; r < n; r++) {
        REP12(STEP)
        __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3));
    }
    __m256 s = _mm256_setzero_ps();
    REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}

__attribute__((target("avx512f,avx512bf16"))) static float k_bf16(long n)
{
    /* bf16 pairs of small values: the sums stay finite */
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3a80), b = (__m512bh)_mm512_set1_epi16(0x3a80);
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(i));
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, a, b);
#define SUM(i) s = _mm512_add_ps(s, c##i);
    REP16(DECL)
    for (long r = 0; r < n; r++) {
        REP16(STEP)
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3));
    }
    __m512 s = _mm512_setzero_ps();
    REP16(SUM)
#undef DECL
#undef STEP
#undef SUM
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) static float k_vnni(long n)
{
    __m512i a = _mm512_set1_epi32(g_i), b = _mm512_set1_epi32(g_i);
#define DECL(i) __m512i c##i = _mm512_set1_epi32(i);
#define STEP(i) c##i = _mm512_dpbusd_epi32(c##i, a, b);
#define SUM(i) s = _mm512_add_epi32(s, c##i);
    REP16(DECL)
    for (long r = 0; r < n; r++) {
        REP16(STEP)
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3));
    }
    __m512i s = _mm512_setzero_si512();
    REP16(SUM)
#undef DECL
#undef STEP
#undef SUM
    return (float)_mm512_reduce_add_epi32(s);
}

/* AMX: all 8 tiles 16 rows x 64 bytes. C tiles 0-3, A tiles 4-5, B 6-7. */
struct tilecfg {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

static uint8_t g_tile_src[16 * 64] __attribute__((aligned(64)));
static float g_tile_dst[16 * 16] __attribute__((aligned(64)));

__attribute__((target("amx-tile"))) static void amx_setup(void)
{
    struct tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    /* gcc 12 does not see that ldtilecfg reads all 64 bytes and drops the
     * stores above; the barrier keeps them */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, g_tile_src, 64);
    _tile_loadd(5, g_tile_src, 64);
    _tile_loadd(6, g_tile_src, 64);
    _tile_loadd(7, g_tile_src, 64);
}

__attribute__((target("amx-tile"))) static float amx_finish(void)
{
    float dst[16 * 16] __attribute__((aligned(64)));
    _tile_stored(0, dst, 64);
    _tile_release();
    return dst[0] + g_tile_dst[0];
}

__attribute__((target("amx-tile,amx-bf16"))) static float k_amx_bf16(long n)
{
    amx_setup();
    for (long r = 0; r < n; r++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    return amx_finish();
}

__attribute__((target("amx-tile,amx-int8"))) static float k_amx_int8(long n)
{
    amx_setup();
    for (long r = 0; r < n; r++) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    return amx_finish();
}

/* ---- the table ---- */

struct variant {
    const char *name;
    const char *insn;
    float (*kernel)(long n);
    double flop_per_iter; /* per loop iteration */
    const char *unit;
    int ok;
    const char *why;
};

static struct variant g_variants[] = {
    {"fma_zmm", "vfmadd231ps zmm", k_fma_zmm, 16 * 32.0, "GFLOP/s", 0, NULL},
    {"fma_ymm", "vfmadd231ps ymm", k_fma_ymm, 12 * 16.0, "GFLOP/s", 0, NULL},
    {"avx512_bf16", "vdpbf16ps zmm", k_bf16, 16 * 64.0, "GFLOP/s", 0, NULL},
    {"avx512_vnni", "vpdpbusd zmm", k_vnni, 16 * 128.0, "GOP/s", 0, NULL},
    {"amx_bf16", "tdpbf16ps", k_amx_bf16, 4 * 16384.0, "GFLOP/s", 0, NULL},
    {"amx_int8", "tdpbusd", k_amx_int8, 4 * 32768.0, "GOP/s", 0, NULL},
};
#define NVARIANTS (sizeof g_variants / sizeof g_variants[0])

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(void)
{
    unsigned a, b, c, d, l7b = 0, l7c = 0, l7d = 0, l71a = 0, max = __get_cpuid_max(0, NULL);
    int osxsave = 0, ymm = 0, zmm = 0, tiles = 0, fma = 0, amx_perm = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        fma = (c >> 12) & 1;
        osxsave = (c >> 27) & 1;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, l7b, l7c, l7d);
        __cpuid_count(7, 1, l71a, b, c, d);
    }
    if (osxsave) {
        uint64_t x = xgetbv0();
        ymm = (x & 0x6) == 0x6;
        zmm = ymm && (x & 0xe0) == 0xe0;
        tiles = (x & 0x60000) == 0x60000;
    }
    int avx2 = ymm && fma && ((l7b >> 5) & 1), avx512f = zmm && ((l7b >> 16) & 1);
    int vnni = avx512f && ((l7c >> 11) & 1), bf16 = avx512f && ((l71a >> 5) & 1);
    int amx_tile = (l7d >> 24) & 1, amx_bf16 = amx_tile && ((l7d >> 22) & 1),
        amx_int8 = amx_tile && ((l7d >> 25) & 1);
    const char *amx_why = "the CPU has no AMX (CPUID.7.0:EDX[24])";
    if (amx_tile && !tiles)
        amx_why = "the OS has not enabled the AMX tile state (XCR0[18:17])";
    else if (amx_tile) {
        if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0)
            amx_perm = 1;
        else
            amx_why = "the kernel refused AMX (arch_prctl ARCH_REQ_XCOMP_PERM)";
    }
    for (size_t i = 0; i < NVARIANTS; i++) {
        struct variant *v = &g_variants[i];
        if (v->kernel == k_fma_zmm) {
            v->ok = avx512f && fma;
            v->why = "the CPU or OS lacks AVX-512F";
        } else if (v->kernel == k_fma_ymm) {
            v->ok = avx2;
            v->why = "the CPU or OS lacks AVX2+FMA";
        } else if (v->kernel == k_bf16) {
            v->ok = bf16;
            v->why = "the CPU lacks AVX512-BF16 (CPUID.7.1:EAX[5])";
        } else if (v->kernel == k_vnni) {
            v->ok = vnni;
            v->why = "the CPU lacks AVX512-VNNI (CPUID.7.0:ECX[11])";
        } else if (v->kernel == k_amx_bf16) {
            v->ok = amx_bf16 && amx_perm;
            v->why = amx_bf16 || !amx_tile ? amx_why : "the CPU lacks AMX-BF16";
        } else {
            v->ok = amx_int8 && amx_perm;
            v->why = amx_int8 || !amx_tile ? amx_why : "the CPU lacks AMX-INT8";
        }
    }
}

struct job {
    struct variant *v;
    long n;
    pthread_barrier_t *start;
    float sink;
    double cpu_s; /* the thread's own CPU time in the kernel */
};

static double cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    double t0;
    pthread_barrier_wait(j->start);
    t0 = cpu_now_s();
    j->sink = j->v->kernel(j->n);
    j->cpu_s = cpu_now_s() - t0;
    return NULL;
}

/* Wall seconds for `threads` threads each running n iterations; *cpu_rate
 * gets the sum over threads of n / (the thread's CPU seconds). */
static double run_once(struct variant *v, int threads, long n, float *sink, double *cpu_rate)
{
    pthread_t tid[256];
    struct job jobs[256];
    pthread_barrier_t start;
    double t0, t;
    int started = 0;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){v, n, &start, 0.0f, 0.0};
        if (pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0)
            break;
        started++;
    }
    if (started < threads) {
        fprintf(stderr, "peaks: could not start %d threads\n", threads);
        exit(1);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    *cpu_rate = 0.0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        *sink += jobs[i].sink;
        *cpu_rate += (double)n / (jobs[i].cpu_s > 1e-9 ? jobs[i].cpu_s : 1e-9);
    }
    t = now_s() - t0;
    pthread_barrier_destroy(&start);
    return t;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int json = 0, nthreads = 0, threads[16];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double ms = 200.0;
    const char *only = NULL, *tlist = NULL;
    float sink = 0.0f;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            tlist = argv[++i];
        else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc)
            ms = atof(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: peaks [--threads 1,N] [--json] [--ms 200] [--only NAME,...]\n");
            return 2;
        }
    }
    if (tlist) {
        for (const char *p = tlist; p && *p && nthreads < 16;) {
            int t = atoi(p);
            if (t < 1 || t > 256) {
                fprintf(stderr, "peaks: bad thread count in %s\n", tlist);
                return 2;
            }
            threads[nthreads++] = t;
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
    } else {
        threads[nthreads++] = 1;
        if (ncpu > 1)
            threads[nthreads++] = (int)(ncpu > 256 ? 256 : ncpu);
    }
    if (ms < 1.0)
        ms = 1.0;
    detect();
    for (size_t i = 0; i < NVARIANTS; i++) {
        struct variant *v = &g_variants[i];
        if (only && !in_list(only, v->name))
            continue;
        if (!v->ok) {
            if (json)
                printf("{\"peak\":\"%s\",\"insn\":\"%s\",\"skipped\":\"%s\"}\n", v->name, v->insn,
                       v->why);
            else
                printf("peak %-12s skipped: %s\n", v->name, v->why);
            continue;
        }
        for (int ti = 0; ti < nthreads; ti++) {
            int t = threads[ti];
            long n = 1000;
            double dt, rate, best = 0.0, best_cpu = 0.0;
            /* calibrate: grow n until one run takes ms / 4 */
            while ((dt = run_once(v, 1, n, &sink, &rate)) < ms * 1e-3 / 4 && n < (1L << 40))
                n *= 2;
            n = (long)((double)n * (ms * 1e-3) / (dt > 0 ? dt : 1e-3)) + 1;
            for (int s = 0; s < 5; s++) {
                double g;
                dt = run_once(v, t, n, &sink, &rate);
                g = v->flop_per_iter * (double)n * t / dt * 1e-9;
                if (g > best)
                    best = g;
                g = v->flop_per_iter * rate * 1e-9;
                if (g > best_cpu)
                    best_cpu = g;
            }
            if (json)
                printf("{\"peak\":\"%s\",\"insn\":\"%s\",\"threads\":%d,\"gflops\":%.1f,"
                       "\"gflops_on_cpu\":%.1f,\"unit\":\"%s\"}\n",
                       v->name, v->insn, t, best, best_cpu, v->unit);
            else
                printf("peak %-12s threads %-3d %9.1f %-7s (%s; %.1f per CPU-second)\n", v->name, t,
                       best, v->unit, v->insn, best_cpu);
            fflush(stdout);
        }
    }
    return sink == 12345.678f ? 3 : 0; /* keeps the kernels' results alive */
}
