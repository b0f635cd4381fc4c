/* cls_blas: see cls_blas.h. */
#include "classify/cls_blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core_cpu.h"

const char *cls_blas_corename(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

void cls_blas_prepare(char **argv)
{
    core_cpu_features_t f;
    const char *want = NULL, *have = cls_blas_corename();
    const char *cur = getenv("OPENBLAS_CORETYPE"), *seen = getenv("FINSENT_BLAS_CORE_SEEN");

    if ((cur && *cur) || getenv("FINSENT_BLAS_REEXEC"))
        return;
    if (seen && *seen)
        have = seen; /* tests: act as if OpenBLAS had detected this core */
    core_cpu_detect(&f);
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)
        want = "SkylakeX";
    else if (f.avx2 && f.fma)
        want = "Haswell";
    if (!want)
        return;
    /* Already a core at least as good: cooperlake/sapphirerapids/skylakex
     * for AVX-512, anything AVX2 (haswell, zen, ...) when AVX2 is wanted. */
    if (strcasecmp(have, "skylakex") == 0 || strcasecmp(have, "cooperlake") == 0 ||
        strcasecmp(have, "sapphirerapids") == 0)
        return;
    if (want[0] == 'H' && (strcasecmp(have, "haswell") == 0 || strcasecmp(have, "zen") == 0))
        return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0 || setenv("FINSENT_BLAS_REEXEC", "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow kernels */
    unsetenv("OPENBLAS_CORETYPE");
}

const char *cls_blas_core_origin(void)
{
    const char *cur = getenv("OPENBLAS_CORETYPE");

    if (!cur || !*cur)
        return "detected by OpenBLAS";
    return getenv("FINSENT_BLAS_REEXEC") ? "OPENBLAS_CORETYPE set by finsent"
                                         : "OPENBLAS_CORETYPE from the environment";
}

void cls_blas_set_threads(int n)
{
    openblas_set_num_threads(n > 0 ? n : 1);
}

int cls_blas_get_threads(void)
{
    return openblas_get_num_threads();
}

void cls_gemm_xwt(const float *x, size_t m, size_t k, const float *w, size_t n, float *y,
                  size_t ldy)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f,
                x, (blasint)k, w, (blasint)k, 0.0f, y, (blasint)ldy);
}

void cls_gemm_xwt_bias(const float *x, size_t m, size_t k, const float *w, size_t n,
                       const float *bias, float *y, size_t ldy)
{
    for (size_t r = 0; r < m; r++)
        memcpy(y + r * ldy, bias, n * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f,
                x, (blasint)k, w, (blasint)k, 1.0f, y, (blasint)ldy);
}
