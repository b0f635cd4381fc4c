/* finsent version: version, git commit, compiler and detected CPU features. */
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "app/app_opts.h"
#include "classify/cls_blas.h"
#include "classify/kernels/cls_lowp.h"
#include "core/core_cpu.h"
#include "core_version.h"

int app_cmd_version(int argc, char **argv)
{
    core_cpu_features_t f;
    char feats[512], model[64];
    app_args_t args;
    const app_cmd_spec_t spec = {
        .name = "finsent version",
        .usage = "usage: finsent version\n\nPrints the finsent version, the git commit it was "
                 "built from, the compiler, the CPU features detected at run time and the "
                 "OpenBLAS core in use, and the GEMM of each precision.\n",
    };
    int rc = app_opts_parse(&spec, argc, argv, &args);

    app_args_cleanup(&args);
    if (rc != APP_OPTS_RUN)
        return rc;
    core_cpu_detect(&f);
    core_cpu_describe(&f, feats, sizeof feats);
    core_cpu_model_name(model, sizeof model);
    printf("finsent %s\n", FINSENT_VERSION);
    printf("commit:   %s\n", FINSENT_GIT_COMMIT);
#if defined(__clang__)
    printf("compiler: clang %s\n", __clang_version__);
#elif defined(__GNUC__)
    printf("compiler: gcc %s\n", __VERSION__);
#else
    printf("compiler: unknown\n");
#endif
    printf("cpu:      %s\n", model);
    printf("features: %s\n", feats[0] ? feats : "(none detected)");
    printf("blas:     OpenBLAS core %s (%s)\n", cls_blas_corename(), cls_blas_core_origin());
    {
        const cls_lowp_kernels_t *b = cls_lowp_get(CLS_PREC_BF16), *i = cls_lowp_get(CLS_PREC_INT8),
                                 *fk = cls_lowp_get(CLS_PREC_FP32);
        const char *fenv = getenv("FINSENT_FP32_GEMM");
        printf("gemm:     fp32 %s%s%s (%s%s), bf16 %s%s, int8 %s%s; precision auto = %s\n",
               cls_lowp_fp32_own() ? "own " : "openblas", cls_lowp_fp32_own() ? fk->name : "",
               cls_lowp_fp32_own() && !cls_lowp_native(CLS_PREC_FP32) ? ", scalar reference" : "",
               fenv && *fenv ? "FINSENT_FP32_GEMM=" : "default; FINSENT_FP32_GEMM=own|blas",
               fenv && *fenv ? fenv : "", b->name,
               cls_lowp_native(CLS_PREC_BF16) ? "" : " (scalar, slow)", i->name,
               cls_lowp_native(CLS_PREC_INT8) ? "" : " (scalar, slow)",
               cls_precision_name(cls_lowp_auto(~0u)));
    }
    return APP_EXIT_OK;
}
