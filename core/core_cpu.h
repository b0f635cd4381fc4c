/*
 * core_cpu: CPU feature detection, read once from CPUID (and XGETBV, so a
 * feature the OS does not enable is reported absent). Pure reads of the
 * hardware; any thread.
 */
#ifndef CORE_CPU_H
#define CORE_CPU_H

#include <stddef.h>

typedef struct core_cpu_features {
    int sse42, avx, avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avx512fp16;
    int avxvnni, amx_tile, amx_bf16, amx_int8;
} core_cpu_features_t;

/* core_cpu_detect fills *f from CPUID. */
void core_cpu_detect(core_cpu_features_t *f);

/* core_cpu_describe writes the present features, space-separated. */
void core_cpu_describe(const core_cpu_features_t *f, char *buf, size_t cap);

/* core_cpu_model_name writes the CPUID brand string. */
void core_cpu_model_name(char *buf, size_t cap);

#endif
