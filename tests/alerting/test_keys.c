/* Tests of alr_keys: slugs, scopes, key names, minutes and windows. */
#include <check.h>
#include <string.h>

#include "alerting/alr_keys.h"

START_TEST(slug_examples)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Fed | Central Banks", "fed-central-banks"},
        {"  M&A  ", "m-a"},
        {"Earnings", "earnings"},
        {"--Crypto--Assets--", "crypto-assets"},
        {"Stock 2 Watch", "stock-2-watch"},
        {"Caf\xc3\xa9 Talk", "caf-talk"},
        {"", ""},
        {"|||", ""},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = alr_slug(cases[i].in, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].out);
        ck_assert_uint_eq(n, strlen(cases[i].out));
    }
}
END_TEST

START_TEST(slug_truncates_without_trailing_dash)
{
    char buf[8];
    size_t n = alr_slug("abc def ghi", buf, sizeof buf);
    ck_assert_uint_lt(n, sizeof buf);
    ck_assert_int_ne(buf[n - 1], '-');
    ck_assert_str_eq(buf, "abc-def");
}
END_TEST

START_TEST(scopes)
{
    char buf[ALR_SCOPE_MAX];
    ck_assert_uint_eq(alr_scope_topic("Fed | Central Banks", buf, sizeof buf), 23);
    ck_assert_str_eq(buf, "topic:fed-central-banks");
    ck_assert_uint_eq(alr_scope_topic("!!", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_gt(alr_scope_entity("brk.b", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "entity:BRK.B");
    alr_scope_entity("A:B C", buf, sizeof buf);
    ck_assert_str_eq(buf, "entity:A_B_C");
    ck_assert_uint_eq(alr_scope_entity("", buf, sizeof buf), 0);
}
END_TEST

START_TEST(keys_and_minutes)
{
    char buf[ALR_KEY_MAX];
    ck_assert_int_eq(alr_minute(0), 0);
    ck_assert_int_eq(alr_minute(59999), 0);
    ck_assert_int_eq(alr_minute(60000), 1);
    ck_assert_int_eq(alr_minute(-1), -1);
    ck_assert_int_eq(alr_minute(1795873800000LL), 29931230);
    alr_key_bucket(buf, sizeof buf, "finsent:", "topic:fed", 29931230);
    ck_assert_str_eq(buf, "finsent:b:topic:fed:29931230");
    alr_key(buf, sizeof buf, "finsent:", "recent", NULL);
    ck_assert_str_eq(buf, "finsent:recent");
    alr_key(buf, sizeof buf, "x:", "rate", "all:15m");
    ck_assert_str_eq(buf, "x:rate:all:15m");
    ck_assert_uint_eq(alr_key(buf, 8, "finsent:", "recent", NULL), 0);
}
END_TEST

START_TEST(windows)
{
    static const struct {
        const char *in;
        int minutes;
        const char *name;
    } ok[] = {{"5m", 5, "5m"},      {"15m", 15, "15m"}, {"1h", 60, "1h"},
              {"1h30m", 90, "90m"}, {"1d", 1440, "1d"}, {"120m", 120, "2h"}};
    char name[16];
    int m;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(alr_window_parse(ok[i].in, &m), CORE_OK);
        ck_assert_int_eq(m, ok[i].minutes);
        alr_window_name(m, name, sizeof name);
        ck_assert_str_eq(name, ok[i].name);
    }
    ck_assert_int_eq(alr_window_parse("90s", &m), CORE_EINVAL);
    ck_assert_int_eq(alr_window_parse("30s", &m), CORE_EINVAL);
    ck_assert_int_eq(alr_window_parse("8d", &m), CORE_EINVAL);
    ck_assert_int_eq(alr_window_parse("5", &m), CORE_EPARSE);
    ck_assert_int_eq(alr_window_parse("five", &m), CORE_EPARSE);
    ck_assert_int_eq(alr_window_parse("", &m), CORE_EPARSE);
}
END_TEST

Suite *suite_keys(void)
{
    Suite *s = suite_create("alr_keys");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, slug_examples);
    tcase_add_test(tc, slug_truncates_without_trailing_dash);
    tcase_add_test(tc, scopes);
    tcase_add_test(tc, keys_and_minutes);
    tcase_add_test(tc, windows);
    suite_add_tcase(s, tc);
    return s;
}
