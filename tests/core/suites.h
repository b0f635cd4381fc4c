/* The Check suites of tests/core, one per core module. */
#ifndef TESTS_CORE_SUITES_H
#define TESTS_CORE_SUITES_H
#include <check.h>
Suite *suite_error(void);
Suite *suite_time(void);
Suite *suite_queue(void);
Suite *suite_config(void);
Suite *suite_metrics(void);
Suite *suite_msg(void);
Suite *suite_item(void);
Suite *suite_lines(void);
Suite *suite_log(void);
Suite *suite_watchlist(void);
Suite *suite_utf8(void);
Suite *suite_hash(void);
Suite *suite_tls(void);
Suite *suite_alloc(void);
Suite *suite_gate(void);
#endif
