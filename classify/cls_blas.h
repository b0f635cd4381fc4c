/*
 * cls_blas: OpenBLAS for the process: the right core type, the thread
 * count, and the GEMM wrappers of the fp32 dense layers (the only calls into
 * cblas; classify/kernels/ knows no BLAS).
 *
 * Why: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent
 * Xeons and falls back to core "Prescott" (SSE3 kernels), about 6x slower
 * for sgemm than its SkylakeX (AVX-512) kernels. The core is chosen from
 * OPENBLAS_CORETYPE by a library constructor, i.e. before main() runs, so
 * the only fix from inside the program is to set the variable and re-exec
 * itself. cls_blas_prepare does that, only when it is needed.
 */
#ifndef CLS_BLAS_H
#define CLS_BLAS_H

#include <stddef.h>

/* cls_blas_prepare: call first thing in main(), before any thread exists.
 * When OPENBLAS_CORETYPE is unset, FINSENT_BLAS_REEXEC is unset (the loop
 * guard), and openblas_get_corename() reports a core weaker than this CPU
 * supports (AVX-512 -> "SkylakeX", AVX2 -> "Haswell"), it sets
 * OPENBLAS_CORETYPE and FINSENT_BLAS_REEXEC=1 and execv()s /proc/self/exe
 * with argv. Returns only when no re-exec was needed or it failed (then the
 * program simply runs on the slower kernels). FINSENT_BLAS_CORE_SEEN=NAME
 * makes it act as if OpenBLAS had detected core NAME (for tests of the
 * re-exec on machines where OpenBLAS detects the core right). */
void cls_blas_prepare(char **argv);

/* cls_blas_corename: the core OpenBLAS uses ("SkylakeX", "Prescott", ...). */
const char *cls_blas_corename(void);

/* cls_blas_core_origin: how the core was chosen: "detected by OpenBLAS",
 * "OPENBLAS_CORETYPE set by finsent" (after the re-exec) or
 * "OPENBLAS_CORETYPE from the environment". */
const char *cls_blas_core_origin(void);

/* cls_blas_set_threads: the number of threads OpenBLAS uses for one call
 * (its own pool; finsent runs no other compute pool next to it). */
void cls_blas_set_threads(int n);

/* cls_blas_get_threads: OpenBLAS's current thread count. */
int cls_blas_get_threads(void);

/* GEMM: every fp32 dense layer is Y = X W^T + b with W stored (out, in)
 * row-major as PyTorch stores it; these are the one entry to cblas_sgemm for
 * it (CblasTrans on W). Both run on the calling thread with OpenBLAS's
 * thread count (cls_blas_set_threads): the classifier sets it to 1 and
 * splits the work between its own workers (cls_classifier.h); only
 * `finsent bench --workers 1` lets OpenBLAS's pool do it. */

/* cls_gemm_xwt: y (m, n; row stride ldy) = x (m, k) * w^T, w (n, k). */
void cls_gemm_xwt(const float *x, size_t m, size_t k, const float *w, size_t n, float *y,
                  size_t ldy);

/* cls_gemm_xwt_bias: y = x w^T + bias (bias (n) broadcast over rows): y is
 * filled with the bias and the product accumulated onto it (beta = 1), which
 * costs one pass less than a product followed by a bias add. */
void cls_gemm_xwt_bias(const float *x, size_t m, size_t k, const float *w, size_t n,
                       const float *bias, float *y, size_t ldy);

#endif
