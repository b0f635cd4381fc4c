/* Tests of core_error: every code has a distinct name and a message; the
 * formatted error setter truncates to the buffer and ignores a NULL one. */
#include <string.h>

#include "core/core_error.h"
#include "tests/core/suites.h"

START_TEST(messages_and_names)
{
    for (int i = 0; i < CORE_E__COUNT; i++) {
        ck_assert_str_ne(core_strerror((core_err_t)i), "unknown error");
        for (int j = i + 1; j < CORE_E__COUNT; j++)
            ck_assert_str_ne(core_errname((core_err_t)i), core_errname((core_err_t)j));
    }
    ck_assert_str_eq(core_strerror(CORE_OK), "success");
    ck_assert_str_eq(core_errname(CORE_EJSON), "JSON");
    ck_assert_str_eq(core_strerror((core_err_t)-1), "unknown error");
    ck_assert_str_eq(core_strerror(CORE_E__COUNT), "unknown error");
}
END_TEST

START_TEST(err_set)
{
    char buf[8];
    core_err_set(buf, sizeof buf, "%s %d", "line", 42);
    ck_assert_str_eq(buf, "line 42");
    core_err_set(buf, sizeof buf, "%s", "longer than eight");
    ck_assert_str_eq(buf, "longer ");
    buf[0] = 'x';
    core_err_set(buf, 0, "%s", "nothing");
    ck_assert_int_eq(buf[0], 'x');
    core_err_set(NULL, 64, "%s", "nothing");
}
END_TEST

Suite *suite_error(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, messages_and_names);
    tcase_add_test(tc, err_set);
    suite_add_tcase(s, tc);
    return s;
}
