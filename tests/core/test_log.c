/* Tests of core_log: level parsing and filtering, and that the JSON form is
 * valid JSON even for hostile messages. stderr is redirected to a pipe. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core_log.h"
#include "tests/core/suites.h"

static size_t capture(void (*fn)(void), char *out, size_t cap)
{
    int fds[2], saved = dup(2);
    ssize_t n;
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(dup2(fds[1], 2), 2);
    close(fds[1]);
    fn();
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    n = read(fds[0], out, cap - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void emit_json(void)
{
    core_log_setup(CORE_LOG_INFO, CORE_LOG_JSON);
    CORE_DEBUG("test", "hidden");
    CORE_WARN("test", "quote \" backslash \\ newline \n tab \t done %d", 7);
}

static void emit_text(void)
{
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    CORE_INFO("test", "hidden");
    CORE_ERROR("ingest", "broker down");
}

START_TEST(json_lines_valid)
{
    char buf[4096];
    json_error_t je;
    json_t *j;
    capture(emit_json, buf, sizeof buf);
    ck_assert_ptr_null(strstr(buf, "hidden"));
    ck_assert_int_eq((int)(strchr(buf, '\n') - buf), (int)strlen(buf) - 1); /* one line */
    j = json_loads(buf, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", buf, je.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(j, "mod")), "test");
    ck_assert_str_eq(json_string_value(json_object_get(j, "msg")),
                     "quote \" backslash \\ newline \n tab \t done 7");
    json_decref(j);
}
END_TEST

START_TEST(text_and_levels)
{
    char buf[4096];
    core_log_level_t l;
    core_log_format_t f;
    capture(emit_text, buf, sizeof buf);
    ck_assert_ptr_null(strstr(buf, "hidden"));
    ck_assert_ptr_nonnull(strstr(buf, "ERROR ingest: broker down\n"));
    ck_assert_int_eq(core_log_parse_level("debug", &l), CORE_OK);
    ck_assert_int_eq(l, CORE_LOG_DEBUG);
    ck_assert_int_eq(core_log_parse_level("WARNING", &l), CORE_OK);
    ck_assert_int_eq(l, CORE_LOG_WARN);
    ck_assert_int_eq(core_log_parse_level("loud", &l), CORE_EINVAL);
    ck_assert_int_eq(core_log_parse_format("json", &f), CORE_OK);
    ck_assert_int_eq(f, CORE_LOG_JSON);
    ck_assert_int_eq(core_log_parse_format("xml", &f), CORE_EINVAL);
}
END_TEST

Suite *suite_log(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, json_lines_valid);
    tcase_add_test(tc, text_and_levels);
    suite_add_tcase(s, tc);
    return s;
}
