/* The Check suites of tests/classify, one per classify module. */
#ifndef TESTS_CLASSIFY_SUITES_H
#define TESTS_CLASSIFY_SUITES_H
#include <check.h>
Suite *suite_wordpiece(void);
Suite *suite_safetensors(void);
Suite *suite_kernels(void);
Suite *suite_model(void);
Suite *suite_bert(void);
Suite *suite_classifier(void);
Suite *suite_explain(void);
Suite *suite_lowp(void);
Suite *suite_classifier_oom(void);
#endif
