/* The Check suites of tests/classify, one per classify module. */
#ifndef TESTS_CLASSIFY_SUITES_H
#define TESTS_CLASSIFY_SUITES_H
#include <check.h>
Suite *suite_wordpiece(void);
#endif
