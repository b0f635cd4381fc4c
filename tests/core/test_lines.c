/* Tests of core_lines: line ends, the size limit (an over-long line is
 * skipped and the next one still read), the last line without a newline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_lines.h"
#include "tests/core/suites.h"

START_TEST(lines_and_limits)
{
    char buf[20000];
    FILE *f;
    core_lines_t *r;
    const char *line;
    size_t len;
    size_t n = 0;

    n += (size_t)sprintf(buf + n, "first\r\nsecond\n\n");
    memset(buf + n, 'x', 10000);
    n += 10000;
    n += (size_t)sprintf(buf + n, "\nexactly16bytes!!\nlast-no-newline");
    f = fmemopen(buf, n, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(core_lines_new(f, 16, &r), CORE_OK);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "first");
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "second");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ETOO_LARGE);
    ck_assert_uint_eq(core_lines_number(r), 4);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "exactly16bytes!!");
    ck_assert_uint_eq(core_lines_number(r), 5);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "last-no-newline");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    core_lines_free(r);
    core_lines_free(NULL);
    fclose(f);
}
END_TEST

START_TEST(long_lines_grow)
{
    size_t total = 300000;
    char *buf = malloc(total + 2);
    FILE *f;
    core_lines_t *r;
    const char *line;
    size_t len;
    for (size_t i = 0; i < total; i++)
        buf[i] = (char)('a' + i % 26);
    buf[total] = '\n';
    f = fmemopen(buf, total + 1, "r");
    ck_assert_int_eq(core_lines_new(f, 1 << 20, &r), CORE_OK);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_uint_eq(len, total);
    ck_assert_int_eq(memcmp(line, buf, total), 0);
    core_lines_free(r);
    fclose(f);
    free(buf);
}
END_TEST

Suite *suite_lines(void)
{
    Suite *s = suite_create("lines");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, lines_and_limits);
    tcase_add_test(tc, long_lines_grow);
    suite_add_tcase(s, tc);
    return s;
}
