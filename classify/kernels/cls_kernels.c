/*
 * cls_kernels: the selector of the kernel table (see cls_kernels.h). The
 * choice is made once under pthread_once from core_cpu's CPUID reading;
 * FINSENT_KERNELS may force a variant. This is the only file that knows
 * which ISA variants exist.
 */
#include "classify/kernels/cls_kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_cpu.h"

static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;
static const cls_kernels_t *chosen;

const cls_kernels_t *cls_kernels_named(const char *name)
{
    core_cpu_features_t f;

    if (!name)
        return NULL;
    if (strcmp(name, "generic") == 0)
        return &cls_kernels_generic;
#if defined(__x86_64__)
    core_cpu_detect(&f);
    if (strcmp(name, "avx2") == 0)
        return f.avx2 && f.fma ? &cls_kernels_avx2 : NULL;
    if (strcmp(name, "avx512") == 0)
        return f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl && f.fma ? &cls_kernels_avx512
                                                                            : NULL;
#else
    (void)f;
#endif
    return NULL;
}

static void choose(void)
{
    const char *force = getenv("FINSENT_KERNELS");
    const cls_kernels_t *best = cls_kernels_named("avx512");

    if (!best)
        best = cls_kernels_named("avx2");
    if (!best)
        best = &cls_kernels_generic;
    if (force && *force) {
        const cls_kernels_t *k = cls_kernels_named(force);
        if (k)
            best = k;
        else
            fprintf(stderr,
                    "finsent: FINSENT_KERNELS=%s is unknown or not supported by this CPU; "
                    "using %s\n",
                    force, best->name);
    }
    chosen = best;
}

const cls_kernels_t *cls_kernels_get(void)
{
    pthread_once(&chosen_once, choose);
    return chosen;
}
