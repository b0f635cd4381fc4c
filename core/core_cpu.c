/* core_cpu: see core_cpu.h. x86-64 only; on other architectures every
 * feature reads as absent and the generic kernels are used. */
#include "core/core_cpu.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

void core_cpu_detect(core_cpu_features_t *f)
{
    unsigned int a, b, c, d, max;
    int os_avx = 0, os_avx512 = 0, os_amx = 0;

    memset(f, 0, sizeof *f);
    max = (unsigned int)__get_cpuid_max(0, NULL);
    if (max < 1)
        return;
    __cpuid(1, a, b, c, d);
    f->sse42 = (c >> 20) & 1;
    if ((c >> 27) & 1) { /* OSXSAVE */
        unsigned long long x = xgetbv0();
        os_avx = (x & 0x6) == 0x6;
        os_avx512 = (x & 0xE6) == 0xE6;
        os_amx = (x & 0x60000) == 0x60000;
    }
    f->avx = os_avx && ((c >> 28) & 1);
    f->fma = f->avx && ((c >> 12) & 1);
    f->f16c = f->avx && ((c >> 29) & 1);
    if (max < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = f->avx && ((b >> 5) & 1);
    f->avx512f = os_avx512 && ((b >> 16) & 1);
    f->avx512dq = f->avx512f && ((b >> 17) & 1);
    f->avx512bw = f->avx512f && ((b >> 30) & 1);
    f->avx512vl = f->avx512f && ((b >> 31) & 1);
    f->avx512vnni = f->avx512f && ((c >> 11) & 1);
    f->avx512fp16 = f->avx512f && ((d >> 23) & 1);
    f->amx_bf16 = os_amx && ((d >> 22) & 1);
    f->amx_tile = os_amx && ((d >> 24) & 1);
    f->amx_int8 = os_amx && ((d >> 25) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    f->avxvnni = f->avx && ((a >> 4) & 1);
    f->avx512bf16 = f->avx512f && ((a >> 5) & 1);
}

void core_cpu_model_name(char *buf, size_t cap)
{
    unsigned int regs[12];
    if ((unsigned int)__get_cpuid_max(0x80000000, NULL) < 0x80000004u) {
        snprintf(buf, cap, "unknown");
        return;
    }
    for (unsigned int i = 0; i < 3; i++)
        __cpuid(0x80000002 + i, regs[i * 4], regs[i * 4 + 1], regs[i * 4 + 2], regs[i * 4 + 3]);
    char name[49];
    memcpy(name, regs, 48);
    name[48] = '\0';
    char *p = name;
    while (*p == ' ')
        p++;
    snprintf(buf, cap, "%s", p);
}
#else
void core_cpu_detect(core_cpu_features_t *f)
{
    memset(f, 0, sizeof *f);
}

void core_cpu_model_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
}
#endif

void core_cpu_describe(const core_cpu_features_t *f, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
#define F(x) {#x, offsetof(core_cpu_features_t, x)}
        F(sse42),      F(avx),        F(avx2),       F(fma),       F(f16c),
        F(avx512f),    F(avx512bw),   F(avx512vl),   F(avx512dq),  F(avx512vnni),
        F(avx512bf16), F(avx512fp16), F(avxvnni),    F(amx_tile),  F(amx_bf16),
        F(amx_int8),
#undef F
    };
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int on;
        memcpy(&on, (const char *)f + names[i].off, sizeof on);
        if (on && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", names[i].name);
    }
}
