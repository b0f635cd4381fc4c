/* The Check suites of tests/classify, one per classify module. */
#ifndef TESTS_CLASSIFY_SUITES_H
#define TESTS_CLASSIFY_SUITES_H
#include <check.h>

#include "classify/kernels/cls_lowp.h"

Suite *suite_wordpiece(void);
Suite *suite_safetensors(void);
Suite *suite_kernels(void);
Suite *suite_model(void);
Suite *suite_bert(void);
Suite *suite_classifier(void);
Suite *suite_explain(void);
Suite *suite_lowp(void);
Suite *suite_lowp_fp32(void);
Suite *suite_classifier_oom(void);

/* lowp_need: the need (th.h) of a packed kernel variant: "avx512-bf16",
 * "avx512-vnni", "avx512" (fp32) or "amx" (test_lowp.c). */
const char *lowp_need(const char *variant, cls_precision_t prec);
#endif
