/* Tests of core_time: RFC 3339, RFC 822/1123 with real-world zones, epoch
 * ms, rejection of everything else, and deadlines for timed waits. */
#include <string.h>

#include "core/core_time.h"
#include "tests/core/suites.h"

/* 2026-11-28T13:50:00Z */
#define T0 1795873800000LL

typedef struct {
    const char *s;
    int64_t want;
} good_case;

START_TEST(rfc3339_good)
{
    static const good_case cases[] = {
        {"2026-11-28T13:50:00Z", T0},
        {"2026-11-28t13:50:00z", T0},
        {"2026-11-28 13:50:00Z", T0},
        {"2026-11-28T13:50:00.123Z", T0 + 123},
        {"2026-11-28T13:50:00.1Z", T0 + 100},
        {"2026-11-28T13:50:00.123456789Z", T0 + 123},
        {"2026-11-28T14:50:00+01:00", T0},
        {"2026-11-28T08:20:00-05:30", T0},
        {"  2026-11-28T13:50:00Z  ", T0},
        {"1970-01-01T00:00:00Z", 0},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -1;
        ck_assert_msg(core_time_parse_rfc3339(cases[i].s, &v) == CORE_OK, "rejected %s",
                      cases[i].s);
        ck_assert_msg(v == cases[i].want, "%s -> %lld", cases[i].s, (long long)v);
    }
}
END_TEST

START_TEST(rfc3339_bad)
{
    static const char *const bad[] = {
        "",
        "2026-11-28",
        "2026-11-28T13:50:00",      /* no zone */
        "2026-11-28T13:50Z",        /* no seconds */
        "2026-13-28T13:50:00Z",     /* month 13 */
        "2026-02-29T00:00:00Z",     /* not a leap year */
        "2026-04-31T00:00:00Z",     /* 31 April */
        "2026-11-28T24:00:00Z",     /* hour 24 */
        "2026-11-28T13:60:00Z",     /* minute 60 */
        "2026-11-28T13:50:00+1:00", /* short offset */
        "2026-11-28T13:50:00.Z",    /* empty fraction */
        "2026-11-28T13:50:00Z junk",
        "26-11-28T13:50:00Z",
        "2026/11/28T13:50:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        ck_assert_msg(core_time_parse_rfc3339(bad[i], &v) == CORE_EBAD_TIME, "accepted '%s'",
                      bad[i]);
        ck_assert_int_eq(v, 42);
    }
}
END_TEST

START_TEST(rfc822_good)
{
    static const good_case cases[] = {
        {"Sat, 28 Nov 2026 13:50:00 GMT", T0},
        {"Sat, 28 Nov 2026 13:50:00 +0000", T0},
        {"Sat, 28 Nov 2026 13:50:00 UT", T0},
        {"Sat, 28 Nov 2026 13:50:00 UTC", T0},
        {"Sat, 28 Nov 2026 13:50:00 Z", T0},
        {"28 Nov 2026 13:50:00 GMT", T0},
        {"Saturday, 28 November 2026 13:50:00 GMT", T0},
        {"Sat, 28 Nov 2026 13:50 GMT", T0},
        {"Sat, 28 Nov 26 13:50:00 GMT", T0},
        {"Sat, 28 Nov 2026 08:50:00 EST", T0},
        {"Sat, 28 Nov 2026 09:50:00 EDT", T0},
        {"Sat, 28 Nov 2026 07:50:00 CST", T0},
        {"Sat, 28 Nov 2026 05:50:00 PST", T0},
        {"Sat, 28 Nov 2026 14:50:00 CET", T0},
        {"Sat, 28 Nov 2026 14:50:00 BST", T0},
        {"Sat, 28 Nov 2026 19:20:00 IST", T0},
        {"Sat, 28 Nov 2026 22:50:00 JST", T0},
        {"Sat, 28 Nov 2026 14:50:00 +01:00", T0},
        {"Sat, 28 Nov 2026 08:50:00 -0500", T0},
        {"Sat, 28 Nov 2026 13:50:00", T0}, /* no zone: UTC */
        {"sat, 28 nov 2026 13:50:00 gmt", T0},
        {"Sat,28 Nov 2026 13:50:00 GMT", T0},
        {"Mon, 1 Jan 2024 00:00:00 GMT", 1704067200000LL},
        {"Thu, 1 Sept 2022 00:00:00 GMT", 1661990400000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -1;
        ck_assert_msg(core_time_parse_rfc822(cases[i].s, &v) == CORE_OK, "rejected %s",
                      cases[i].s);
        ck_assert_msg(v == cases[i].want, "%s -> %lld", cases[i].s, (long long)v);
    }
}
END_TEST

START_TEST(rfc822_bad)
{
    static const char *const bad[] = {
        "",
        "Sat, 28 Nov 2026",               /* no time */
        "Sat, 28 Foo 2026 13:50:00 GMT",  /* month */
        "Sat, 31 Apr 2026 13:50:00 GMT",  /* day */
        "Sat, 28 Nov 2026 13:50:00 XYZ",  /* zone */
        "Sat, 28 Nov 2026 25:50:00 GMT",  /* hour */
        "Sat, 28 Nov 2026 13:50:00 +2500",
        "Funday, 28 Nov 2026 13:50:00 GMT",
        "Sat, 28 Nov 202 13:50:00 GMT",   /* 3-digit year */
        "Sat, 28 Nov 2026 13:50:00 GMT trailing",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        ck_assert_msg(core_time_parse_rfc822(bad[i], &v) == CORE_EBAD_TIME, "accepted '%s'",
                      bad[i]);
        ck_assert_int_eq(v, 42);
    }
}
END_TEST

START_TEST(epoch_and_any)
{
    int64_t v;
    ck_assert_int_eq(core_time_parse_epoch_ms("1795873800000", &v), CORE_OK);
    ck_assert_int_eq(v, T0);
    ck_assert_int_eq(core_time_parse_epoch_ms("0", &v), CORE_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(core_time_parse_epoch_ms("-5", &v), CORE_EBAD_TIME);
    ck_assert_int_eq(core_time_parse_epoch_ms("12.5", &v), CORE_EBAD_TIME);
    ck_assert_int_eq(core_time_parse_epoch_ms("12345678901234567", &v), CORE_EBAD_TIME);
    ck_assert_int_eq(core_time_parse_epoch_ms("", &v), CORE_EBAD_TIME);
    ck_assert_int_eq(core_time_parse_any("2026-11-28T13:50:00Z", &v), CORE_OK);
    ck_assert_int_eq(v, T0);
    ck_assert_int_eq(core_time_parse_any("Sat, 28 Nov 2026 13:50:00 GMT", &v), CORE_OK);
    ck_assert_int_eq(v, T0);
    ck_assert_int_eq(core_time_parse_any("1795873800000", &v), CORE_OK);
    ck_assert_int_eq(v, T0);
    ck_assert_int_eq(core_time_parse_any("next tuesday", &v), CORE_EBAD_TIME);
    ck_assert_int_eq(core_time_parse_any("2026-11-28", &v), CORE_EBAD_TIME);
}
END_TEST

START_TEST(format_roundtrip)
{
    char buf[40];
    int64_t back;
    static const int64_t vals[] = {0, T0 + 7, 951782400000LL /* 2000-02-29 */, 4102444799999LL};
    ck_assert_uint_eq(core_time_format_rfc3339(T0 + 123, buf, sizeof buf), 24);
    ck_assert_str_eq(buf, "2026-11-28T13:50:00.123Z");
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        ck_assert(core_time_format_rfc3339(vals[i], buf, sizeof buf) > 0);
        ck_assert_int_eq(core_time_parse_rfc3339(buf, &back), CORE_OK);
        ck_assert_int_eq(back, vals[i]);
    }
    ck_assert_uint_eq(core_time_format_rfc3339(T0, buf, 10), 0);
}
END_TEST

/* A deadline is now plus ms on the clock asked for, normalised (tv_nsec
 * below 1e9 however many ms are added), and a negative ms is now. */
START_TEST(deadline)
{
    static const int64_t ms[] = {0, 1, 999, 1000, 1500, 2999, 86400000};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int64_t before = core_time_mono_ns();
        struct timespec ts = core_time_deadline(CLOCK_MONOTONIC, ms[i]);
        int64_t after = core_time_mono_ns(), at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        ck_assert_int_ge(ts.tv_nsec, 0);
        ck_assert_int_lt(ts.tv_nsec, 1000000000L);
        ck_assert_int_ge(at, before + ms[i] * 1000000);
        ck_assert_int_le(at, after + ms[i] * 1000000);
    }
    struct timespec a, b = core_time_deadline(CLOCK_REALTIME, -5000);
    clock_gettime(CLOCK_REALTIME, &a);
    ck_assert(b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec <= a.tv_nsec));
    ck_assert_int_ge((int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000, core_time_now_ms() - 1000);
}
END_TEST

Suite *suite_time(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, rfc3339_good);
    tcase_add_test(tc, rfc3339_bad);
    tcase_add_test(tc, rfc822_good);
    tcase_add_test(tc, rfc822_bad);
    tcase_add_test(tc, epoch_and_any);
    tcase_add_test(tc, format_roundtrip);
    tcase_add_test(tc, deadline);
    suite_add_tcase(s, tc);
    return s;
}
