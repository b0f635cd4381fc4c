/*
 * Tests of app_backtest, the pure parts of `finsent backtest`: the time
 * shift, durations, the labels file (good forms and every error naming its
 * line) and the report built from a hand-made alert list (times moved
 * back, order, firing time with an episode left open, labels caught and
 * false alerts, the VALUES column with numbers it does not know).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_backtest.h"
#include "core/core_config.h"
#include "core/core_time.h"

#define DAY APP_BT_DAY_MS

static int64_t t3339(const char *s)
{
    int64_t t = 0;
    ck_assert_int_eq(core_time_parse_rfc3339(s, &t), CORE_OK);
    return t;
}

START_TEST(shift_whole_days)
{
    int64_t now = t3339("2026-12-01T10:00:00Z");
    ck_assert_int_eq(app_bt_shift_ms(now, now), 0);
    ck_assert_int_eq(app_bt_shift_ms(now, now + 5000), 0); /* a future history stays */
    ck_assert_int_eq(app_bt_shift_ms(now, now - 1), 0);
    ck_assert_int_eq(app_bt_shift_ms(now, now - DAY + 1), 0);
    ck_assert_int_eq(app_bt_shift_ms(now, now - DAY), DAY);
    ck_assert_int_eq(app_bt_shift_ms(now, now - 2 * DAY + 1), DAY);
    /* The demo stream's last event, replayed at 2026-12-01T10:00Z: 2 days
     * (to 2026-11-30T15:59:58.746Z). */
    ck_assert_int_eq(app_bt_shift_ms(now, t3339("2026-11-28T15:59:58.746Z")), 2 * DAY);
    /* The last event lands within the day before now. */
    for (int64_t back = 1; back < 40 * DAY; back = back * 3 + 7) {
        int64_t last = now - back, s = app_bt_shift_ms(now, last);
        ck_assert_int_eq(s % DAY, 0);
        ck_assert(last + s <= now && last + s > now - DAY);
    }
}
END_TEST

START_TEST(durations)
{
    char b[48];
    ck_assert_str_eq(app_bt_duration(0, b, sizeof b), "0s");
    ck_assert_str_eq(app_bt_duration(250, b, sizeof b), "250ms");
    ck_assert_str_eq(app_bt_duration(44720, b, sizeof b), "44s");
    ck_assert_str_eq(app_bt_duration(116320, b, sizeof b), "1m56s");
    ck_assert_str_eq(app_bt_duration(3600000, b, sizeof b), "1h");
    ck_assert_str_eq(app_bt_duration(DAY + 2 * 3600000 + 3000, b, sizeof b), "1d2h3s");
    ck_assert_str_eq(app_bt_duration(-90000, b, sizeof b), "-1m30s");
}
END_TEST

static const char LABELS[] = "# known events\n"
                             "scope,start,end\n"
                             "\n"
                             "entity:acme, 2026-11-28T15:10:00Z ,2026-11-28T15:16:00Z\r\n"
                             "topic:Energy | Oil\t1795878600000\t1795878960000\n"
                             "  # indented comment\n"
                             "all,2026-11-28T15:10:00+01:00,2026-11-28T15:10:00+01:00";

START_TEST(labels_good)
{
    app_bt_label_t *l = NULL;
    size_t n = 0;
    char err[256] = "";

    ck_assert_int_eq(app_bt_labels_parse("l.csv", LABELS, strlen(LABELS), &l, &n, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(l[0].scope, "entity:ACME");
    ck_assert_int_eq(l[0].start_ms, t3339("2026-11-28T15:10:00Z"));
    ck_assert_int_eq(l[0].end_ms, t3339("2026-11-28T15:16:00Z"));
    ck_assert_uint_eq(l[0].line, 4);
    ck_assert_str_eq(l[1].scope, "topic:energy-oil");
    ck_assert_int_eq(l[1].start_ms, 1795878600000LL);
    ck_assert_int_eq(l[1].end_ms, 1795878960000LL);
    ck_assert_str_eq(l[2].scope, "all");
    ck_assert_int_eq(l[2].start_ms, t3339("2026-11-28T14:10:00Z"));
    free(l);

    /* Nothing but comments: no events, no error. */
    ck_assert_int_eq(app_bt_labels_parse("e.csv", "# none\n", 7, &l, &n, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(l);
}
END_TEST

static void bad_label(const char *text, const char *want)
{
    app_bt_label_t *l = (app_bt_label_t *)1;
    size_t n = 9;
    char err[512] = "";
    ck_assert_int_eq(app_bt_labels_parse("x.csv", text, strlen(text), &l, &n, err, sizeof err),
                     CORE_EPARSE);
    ck_assert_ptr_null(l);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(err, want), "'%s' does not say '%s'", err, want);
}

START_TEST(labels_bad)
{
    bad_label("entity:ACME,2026-11-28T15:10:00Z\n", "x.csv:1: expected 3 fields");
    bad_label("# c\nentity:ACME,1,2,3\n", "x.csv:2: expected 3 fields");
    bad_label("entity:ACME,1,2\nentity:ACME,yesterday,2\n", "x.csv:2: start 'yesterday'");
    bad_label("entity:ACME,1,tomorrow\n", "x.csv:1: end 'tomorrow'");
    bad_label("entity:ACME,2026-11-28T15:16:00Z,2026-11-28T15:10:00Z\n",
              "x.csv:1: end '2026-11-28T15:10:00Z' is before start");
    bad_label("ent:ACME,1,2\n", "x.csv:1: scope");
    bad_label("entity:AC ME,1,2\n", "x.csv:1: scope");
    bad_label("scope,start,end\nscope,start,end\n", "x.csv:2:"); /* a header only first */
}
END_TEST

/* The alerts of a replay shifted by 2 days, as the sink writes them (out
 * of order within one evaluation, with random ids). */
static json_t *alerts_fixture(void)
{
    const char *text =
        "["
        "{\"id\":\"a-1\",\"rule\":\"w\",\"scope\":\"entity:ACME\",\"window\":\"5m\","
        "\"state\":\"firing\",\"neg_rate\":0.85,\"n\":20,\"negative\":17,\"basis\":\"wilson\","
        "\"value\":0.6396,\"threshold\":0.45,\"clear\":0.3,"
        "\"since\":\"2026-11-30T15:11:56.320Z\",\"ts\":\"2026-11-30T15:11:56.320Z\","
        "\"samples\":[\"burst-001\"],\"stream_id\":\"1-0\"},"
        "{\"id\":\"a-2\",\"rule\":\"r\",\"scope\":\"entity:SPY\",\"window\":\"5m\","
        "\"state\":\"firing\",\"n\":3,\"negative\":2,\"neg_rate\":0.6667,\"basis\":\"rate\","
        "\"value\":0.6667,\"threshold\":0.6,\"clear\":0.3,"
        "\"since\":\"2026-11-30T14:00:00.000Z\",\"ts\":\"2026-11-30T14:00:00.000Z\"},"
        "{\"id\":\"a-3\",\"rule\":\"r\",\"scope\":\"entity:ACME\",\"window\":\"5m\","
        "\"state\":\"firing\",\"n\":10,\"negative\":6,\"neg_rate\":0.6,\"basis\":\"rate\","
        "\"value\":0.6,\"threshold\":0.6,\"clear\":0.3,"
        "\"since\":\"2026-11-30T15:10:44.720Z\",\"ts\":\"2026-11-30T15:10:44.720Z\"},"
        "{\"id\":\"a-4\",\"rule\":\"w\",\"scope\":\"entity:ACME\",\"window\":\"5m\","
        "\"state\":\"resolved\",\"n\":15,\"negative\":0,\"neg_rate\":0,\"basis\":\"wilson\","
        "\"value\":0,\"threshold\":0.45,\"clear\":0.3,"
        "\"since\":\"2026-11-30T15:11:56.320Z\",\"ts\":\"2026-11-30T15:20:00.000Z\"},"
        "{\"id\":\"a-5\",\"rule\":\"r\",\"scope\":\"entity:SPY\",\"window\":\"5m\","
        "\"state\":\"resolved\",\"n\":0,\"negative\":0,\"neg_rate\":0,\"basis\":\"rate\","
        "\"value\":0,\"threshold\":0.6,\"clear\":0.3,"
        "\"since\":\"2026-11-30T14:00:00.000Z\",\"ts\":\"2026-11-30T14:05:00.000Z\"},"
        "\"not an alert\""
        "]";
    json_error_t je;
    json_t *a = json_loads(text, 0, &je);
    ck_assert_msg(a != NULL, "%s", je.text);
    return a;
}

static alr_rule_t mkrule(const char *name, const char *scope)
{
    alr_rule_t r;
    core_config_t *cfg = NULL;
    char set[128], err[256];
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    snprintf(set, sizeof set, "rule.%s.scope=%s", name, scope);
    ck_assert_int_eq(core_config_set(cfg, set, err, sizeof err), CORE_OK);
    snprintf(set, sizeof set, "rule.%s.window=5m", name);
    ck_assert_int_eq(core_config_set(cfg, set, err, sizeof err), CORE_OK);
    ck_assert_int_eq(alr_rule_from_config(cfg, name, &r, err, sizeof err), CORE_OK);
    core_config_free(cfg);
    return r;
}

static const json_t *rule_of(const json_t *rep, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rep, "rules"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "rule")), name) == 0)
            return r;
    }
    ck_abort_msg("no rule %s in the report", name);
    return NULL;
}

static json_int_t ival(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

START_TEST(report_times_and_summary)
{
    json_t *alerts = alerts_fixture(), *rep = NULL, *a;
    alr_rule_t r = mkrule("r", "entity"), w = mkrule("w", "entity"), t = mkrule("t", "topic");
    app_bt_rule_t rules[] = {{&r, "rate"}, {&w, "wilson"}, {&t, "wilson"}};
    app_bt_label_t labels[2] = {{"entity:ACME", 0, 0, 6}, {"topic:energy", 0, 0, 7}};
    app_bt_run_t run = {0};
    const json_t *s;

    labels[0].start_ms = t3339("2026-11-28T15:10:00Z");
    labels[0].end_ms = t3339("2026-11-28T15:16:00Z");
    labels[1].start_ms = t3339("2026-11-28T14:00:00Z");
    labels[1].end_ms = t3339("2026-11-28T14:30:00Z");
    run.input = "h.jsonl";
    run.messages = 100;
    run.from_ms = t3339("2026-11-28T14:00:00Z");
    run.to_ms = t3339("2026-11-28T16:00:00Z");
    run.shift_ms = 2 * DAY;
    run.labels_file = "l.csv";
    ck_assert_int_eq(app_bt_report(&run, alerts, rules, 3, labels, 2, &rep), CORE_OK);

    /* Times moved back, ids gone, ordered by time; the string skipped. */
    a = json_object_get(rep, "alerts");
    ck_assert_uint_eq(json_array_size(a), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "ts")),
                     "2026-11-28T14:00:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "scope")),
                     "entity:SPY");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 2), "ts")),
                     "2026-11-28T15:10:44.720Z");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 3), "since")),
                     "2026-11-28T15:11:56.320Z");
    for (size_t i = 0; i < 5; i++) {
        ck_assert_ptr_null(json_object_get(json_array_get(a, i), "id"));
        ck_assert_ptr_null(json_object_get(json_array_get(a, i), "stream_id"));
    }
    ck_assert_int_eq(ival(rep, "shift_days"), 2);
    ck_assert_int_eq(ival(rep, "span_ms"), 2 * 3600000);

    /* rate: SPY 5 min, ACME open from 15:10:44.720 to the end (16:00). */
    s = rule_of(rep, "r");
    ck_assert_int_eq(ival(s, "fired"), 2);
    ck_assert_int_eq(ival(s, "resolved"), 1);
    ck_assert_int_eq(ival(s, "scopes"), 2);
    ck_assert_int_eq(ival(s, "firing_ms"), 300000 + (3600000 - 10 * 60000 - 44720));
    ck_assert(json_real_value(json_object_get(s, "per_day")) == 24.0);
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "events"), 1); /* not the topic one */
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "caught"), 1);
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "false_alerts"), 1); /* SPY */
    {
        const json_t *d =
            json_array_get(json_object_get(json_object_get(s, "labels"), "detail"), 0);
        ck_assert(json_is_true(json_object_get(d, "caught")));
        ck_assert_int_eq(ival(d, "lag_ms"), 44720);
        ck_assert_str_eq(json_string_value(json_object_get(d, "fired")),
                         "2026-11-28T15:10:44.720Z");
    }
    /* wilson: one episode 15:11:56.320 .. 15:20:00. */
    s = rule_of(rep, "w");
    ck_assert_int_eq(ival(s, "fired"), 1);
    ck_assert_int_eq(ival(s, "firing_ms"), 8 * 60000 + 3680);
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "false_alerts"), 0);
    {
        const json_t *d =
            json_array_get(json_object_get(json_object_get(s, "labels"), "detail"), 0);
        ck_assert_int_eq(ival(d, "lag_ms"), 116320);
    }
    /* topic rule: nothing fired, the topic event missed. */
    s = rule_of(rep, "t");
    ck_assert_int_eq(ival(s, "fired"), 0);
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "events"), 1);
    ck_assert_int_eq(ival(json_object_get(s, "labels"), "missed"), 1);
    json_decref(rep);
    json_decref(alerts);
}
END_TEST

START_TEST(report_catch_window)
{
    /* Caught until end + the rule's window (inclusive), not after. */
    json_t *alerts =
        json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "rule", "r", "scope", "entity:X",
                  "state", "firing", "ts", "2026-11-28T15:21:00.001Z", "rule", "r", "scope",
                  "entity:Y", "state", "firing", "ts", "2026-11-28T15:21:00.000Z");
    alr_rule_t r = mkrule("r", "entity");
    app_bt_rule_t rules[] = {{&r, "rate"}};
    app_bt_label_t labels[2] = {{"entity:X", 0, 0, 1}, {"entity:Y", 0, 0, 2}};
    app_bt_run_t run = {0};
    json_t *rep = NULL;
    const json_t *l;

    for (int i = 0; i < 2; i++) {
        labels[i].start_ms = t3339("2026-11-28T15:10:00Z");
        labels[i].end_ms = t3339("2026-11-28T15:16:00Z");
    }
    run.from_ms = t3339("2026-11-28T15:00:00Z");
    run.to_ms = t3339("2026-11-28T15:30:00Z");
    run.labels_file = "l";
    ck_assert_int_eq(app_bt_report(&run, alerts, rules, 1, labels, 2, &rep), CORE_OK);
    l = json_object_get(rule_of(rep, "r"), "labels");
    ck_assert_int_eq(ival(l, "caught"), 1);
    ck_assert_int_eq(ival(l, "false_alerts"), 1);
    /* X fired 1 ms after end + window: missed, and a false alert. */
    ck_assert(
        json_is_false(json_object_get(json_array_get(json_object_get(l, "detail"), 0), "caught")));
    ck_assert(
        json_is_true(json_object_get(json_array_get(json_object_get(l, "detail"), 1), "caught")));
    json_decref(rep);
    json_decref(alerts);
}
END_TEST

START_TEST(values_column)
{
    char out[512];
    json_t *a =
        json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:f, s:f, s:f, s:f, s:b, s:b, s:s, s:f, "
                  "s:I, s:f}",
                  "rule", "s", "scope", "entity:ACME", "state", "firing", "negative", (json_int_t)6,
                  "neg_rate", 0.6, "n", (json_int_t)10, "value", 0.2535, "threshold", 0.15, "clear",
                  0.05, "lift", 0.6, "fallback", 1, "quiet", 0, "baseline", "1h", "zeta", 1.5,
                  "baseline_negative", (json_int_t)0, "p_value", 7.01286e-12);
    app_bt_values(a, out, sizeof out);
    ck_assert_str_eq(out, "n=10 negative=6 neg_rate=0.6 value=0.2535 threshold=0.15 lift=0.6 "
                          "p_value=7.01286e-12 baseline_negative=0 fallback zeta=1.5");
    app_bt_values(a, out, 12); /* truncated, still terminated */
    ck_assert_uint_lt(strlen(out), 12);
    json_decref(a);
}
END_TEST

START_TEST(text_output)
{
    json_t *alerts = alerts_fixture(), *rep = NULL;
    alr_rule_t r = mkrule("r", "entity"), w = mkrule("w", "entity");
    app_bt_rule_t rules[] = {{&r, "rate"}, {&w, "wilson"}};
    app_bt_run_t run = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    run.input = "h.jsonl";
    run.from_ms = t3339("2026-11-28T14:00:00Z");
    run.to_ms = t3339("2026-11-28T16:00:00Z");
    run.shift_ms = 2 * DAY;
    ck_assert_int_eq(app_bt_report(&run, alerts, rules, 2, NULL, 0, &rep), CORE_OK);
    app_bt_print_text(rep, f);
    fclose(f);
    ck_assert_msg(strstr(buf, "TIME                      RULE  SCOPE        STATE     BASIS   "
                              "VALUES\n2026-11-28T14:00:00.000Z  r     entity:SPY   firing    "
                              "rate    n=3 negative=2 neg_rate=0.6667 value=0.6667 "
                              "threshold=0.6\n"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "\nr     rate    5m          2      24.0  54m15s        2\n"), "%s",
                  buf);
    ck_assert_msg(!strstr(buf, "labels:"), "%s", buf);
    free(buf);
    json_decref(rep);
    json_decref(alerts);
}
END_TEST

Suite *suite_backtest(void)
{
    Suite *s = suite_create("app_backtest");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, shift_whole_days);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, labels_good);
    tcase_add_test(tc, labels_bad);
    tcase_add_test(tc, report_times_and_summary);
    tcase_add_test(tc, report_catch_window);
    tcase_add_test(tc, values_column);
    tcase_add_test(tc, text_output);
    suite_add_tcase(s, tc);
    return s;
}
