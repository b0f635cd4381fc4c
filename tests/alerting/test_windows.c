/* Tests of alr_windows: the sink and the reader keep the same windows from
 * one config and refuse the same configs with the same words (a 17th
 * window used to be an error in the sink and silently dropped by the
 * reader). Pure: neither connects. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "alerting/alr_read.h"
#include "alerting/alr_sink.h"
#include "alerting/alr_windows_int.h"
#include "core/core_config.h"

/* config makes a config from INI text (asserts). */
static core_config_t *config(const char *text)
{
    core_config_t *cfg = NULL;
    char err[256] = "";
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "t.conf", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    return cfg;
}

/* windows_list writes "[redis]\nwindows = 1m, 2m, ..., Nm\n". */
static void windows_list(char *out, size_t cap, int n)
{
    size_t len = (size_t)snprintf(out, cap, "[redis]\nwindows = ");
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%dm", i > 1 ? ", " : "", i);
    snprintf(out + len, cap - len, "\n");
}

/* both builds a sink and a reader from text: both succeed with the same
 * windows (returned in *n, w), or both fail with CORE_ECONFIG and the same
 * message (in err). Returns the code. */
static core_err_t both(const char *text, int *w, size_t *n, char *err, size_t errlen)
{
    core_config_t *cfg = config(text);
    alr_sink_t *s = NULL;
    alr_reader_t *r = NULL;
    char serr[512] = "", rerr[512] = "";
    core_err_t sc = alr_sink_new(cfg, NULL, &s, serr, sizeof serr);
    core_err_t rc = alr_reader_new(cfg, &r, rerr, sizeof rerr);

    ck_assert_msg(sc == rc, "sink %d (%s), reader %d (%s)", sc, serr, rc, rerr);
    ck_assert_str_eq(serr, rerr);
    snprintf(err, errlen, "%s", serr);
    if (sc == CORE_OK) {
        const int *sw, *rw;
        size_t sn = alr_sink_windows(s, &sw), rn = alr_reader_windows(r, &rw);
        ck_assert_uint_eq(sn, rn);
        ck_assert_int_eq(memcmp(sw, rw, sn * sizeof *sw), 0);
        memcpy(w, sw, sn * sizeof *sw);
        *n = sn;
    } else {
        ck_assert_ptr_null(s);
        ck_assert_ptr_null(r);
    }
    alr_sink_free(s);
    alr_reader_free(r);
    core_config_free(cfg);
    return sc;
}

START_TEST(same_windows_ascending)
{
    int w[ALR_WINDOWS_MAX];
    size_t n = 0;
    char err[512];
    ck_assert_int_eq(both("[redis]\nwindows = 1h, 5m, 15m, 5m\n"
                          "[rule.a]\nwindow = 30m\n[rule.b]\nwindow = 1h\n",
                          w, &n, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(w[0], 5);
    ck_assert_int_eq(w[1], 15);
    ck_assert_int_eq(w[2], 30);
    ck_assert_int_eq(w[3], 60);
}
END_TEST

/* 16 distinct windows are kept by both; repeats and a rule on a kept window
 * add none. */
START_TEST(sixteen_windows_kept)
{
    char text[1024];
    int w[ALR_WINDOWS_MAX];
    size_t n = 0;
    char err[512];
    windows_list(text, sizeof text, 16);
    snprintf(text + strlen(text), sizeof text - strlen(text),
             "[rule.r]\nwindow = 16m\n[rule.q]\nwindow = 1m\n");
    ck_assert_int_eq(both(text, w, &n, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(n, 16);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(w[i], i + 1);
}
END_TEST

/* The bug: a 17th window in redis.windows. */
START_TEST(seventeenth_window_refused_by_both)
{
    char text[1024], err[512];
    int w[ALR_WINDOWS_MAX + 1];
    size_t n = 0;
    windows_list(text, sizeof text, 17);
    ck_assert_int_eq(both(text, w, &n, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "[redis] windows: '17m' is one window too many: at most 16") &&
                      strstr(err, "t.conf:2"),
                  "%s", err);
}
END_TEST

/* ... and a rule's window as the 17th. */
START_TEST(seventeenth_rule_window_refused_by_both)
{
    char text[1024], err[512];
    int w[ALR_WINDOWS_MAX + 1];
    size_t n = 0;
    windows_list(text, sizeof text, 16);
    snprintf(text + strlen(text), sizeof text - strlen(text), "[rule.late]\nwindow = 1h\n");
    ck_assert_int_eq(both(text, w, &n, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "[rule.late] window: 1h is one window too many: at most 16"), "%s",
                  err);
}
END_TEST

START_TEST(bad_and_missing_windows_refused_by_both)
{
    char err[512];
    int w[ALR_WINDOWS_MAX];
    size_t n = 0;
    ck_assert_int_eq(both("[redis]\nwindows = 5m, 90s\n", w, &n, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "[redis] windows: '90s' is not a whole number of minutes"), "%s",
                  err);
    ck_assert_int_eq(both("[redis]\nwindows = 5m, 8d\n", w, &n, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "'8d'"), "%s", err);
    ck_assert_int_eq(both("[redis]\nwindows =\n", w, &n, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "[redis] windows: no window configured"), "%s", err);
    /* A rule's window alone is enough. */
    ck_assert_int_eq(
        both("[redis]\nwindows =\n[rule.only]\nwindow = 10m\n", w, &n, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(w[0], 10);
}
END_TEST

/* The module itself: names, and the index lookup. */
START_TEST(names_and_index)
{
    core_config_t *cfg = config("[redis]\nwindows = 1d, 90m, 5m\n");
    alr_windows_t win;
    char err[256] = "";
    ck_assert_msg(alr_windows_from_config(cfg, NULL, 0, &win, err, sizeof err) == CORE_OK, "%s",
                  err);
    ck_assert_uint_eq(win.n, 3);
    ck_assert_str_eq(win.name[0], "5m");
    ck_assert_str_eq(win.name[1], "90m");
    ck_assert_str_eq(win.name[2], "1d");
    ck_assert_int_eq(alr_windows_index(&win, 90), 1);
    ck_assert_int_eq(alr_windows_index(&win, 15), -1);
    core_config_free(cfg);
}
END_TEST

Suite *suite_windows(void)
{
    Suite *s = suite_create("alr_windows");
    TCase *tc = tcase_create("windows");
    tcase_add_test(tc, same_windows_ascending);
    tcase_add_test(tc, sixteen_windows_kept);
    tcase_add_test(tc, seventeenth_window_refused_by_both);
    tcase_add_test(tc, seventeenth_rule_window_refused_by_both);
    tcase_add_test(tc, bad_and_missing_windows_refused_by_both);
    tcase_add_test(tc, names_and_index);
    suite_add_tcase(s, tc);
    return s;
}
