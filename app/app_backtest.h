/*
 * app_backtest: the pure parts of `finsent backtest` (app/app_cmd_backtest.c):
 * the time shift, the labels file, and the report built from the alerts a
 * replay produced, printed as tables or JSON. No I/O except the FILE the
 * printers write to; no clock (callers pass times).
 *
 * Times. The replay moves every event by a whole number of days (the
 * shift) so that Redis, whose expiries are wall-clock, keeps what the
 * replay writes; the report moves the alerts' times ("ts", "since") back
 * by the same amount, so everything it shows is in the history's own time.
 *
 * The report is one JSON object, the same for the tables and for --json:
 *   {"input","messages","skipped","counted","duplicate","not_counted",
 *    "from","to","span_ms","shift_days",
 *    "alerts":[{"ts","rule","scope","state","basis","window","since",
 *               the alert's numbers..., "samples"}],     oldest first
 *    "rules":[{"rule","basis","window","fired","resolved","per_day",
 *              "firing_ms","scopes","labels"?}],          config order
 *    "labels"?:{"file","events"}}
 * An alert keeps every field the sink wrote except its random "id", so new
 * bases' numbers (baseline_share, lift, ratio, p_value, ...) appear without
 * changes here. firing_ms sums, per scope, firing -> resolved intervals,
 * an episode still open counting until `to`. With labels, each rule's
 * "labels" is {"events","caught","missed","false_alerts","detail":[{"scope",
 * "start","end","caught","fired"?,"lag_ms"?}]} over the events whose scope
 * the rule applies to: an event is caught when the rule fired for its scope
 * between start and end + the rule's window (lag = first such firing -
 * start); a firing that catches no event is a false alert.
 */
#ifndef APP_BACKTEST_H
#define APP_BACKTEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_rule.h"
#include "core/core_error.h"

#define APP_BT_DAY_MS ((int64_t)86400000)

/* app_bt_shift_ms: the whole number of days, in ms, that moves max_ts to
 * within the day before now (now - 1 day < max_ts + shift <= now):
 * floor((now - max_ts) / 1 day) days, 0 when max_ts is not before now. */
int64_t app_bt_shift_ms(int64_t now_ms, int64_t max_ts_ms);

/* app_bt_duration writes a duration as "1d2h3m4s" (largest units first, zero
 * units left out, "0s" for 0, "-" sign for negatives, ms dropped unless the
 * duration is under a second). Returns out. */
char *app_bt_duration(int64_t ms, char *out, size_t cap);

/* One known event of a labels file. */
typedef struct app_bt_label {
    char scope[ALR_SCOPE_MAX]; /* canonical: all, topic:{slug}, entity:{TICKER} */
    int64_t start_ms, end_ms;
    size_t line;
} app_bt_label_t;

/* app_bt_labels_parse reads a labels file's text (len bytes; name is used in
 * messages): one event per line, "scope,start,end" or the same separated by
 * tabs; start and end RFC 3339 or epoch milliseconds, end >= start; blank
 * lines and lines starting with '#' are skipped, and so is a first line
 * "scope,start,end". *out is malloc'd (free(); NULL when there are no
 * events). On a bad line CORE_EPARSE with err "NAME:LINE: what is wrong". */
core_err_t app_bt_labels_parse(const char *name, const char *text, size_t len, app_bt_label_t **out,
                               size_t *n, char *err, size_t errlen);

/* A rule as the report needs it. */
typedef struct app_bt_rule {
    const alr_rule_t *rule; /* name, window, scope matching (borrowed) */
    const char *basis;      /* the configured basis name (borrowed) */
} app_bt_rule_t;

/* What the replay did, for the report's header. */
typedef struct app_bt_run {
    const char *input; /* file name, "-" for stdin */
    size_t messages;   /* good lines replayed */
    size_t skipped;    /* bad lines */
    size_t counted, duplicate, not_counted;
    int64_t from_ms, to_ms;  /* first and last event, history time */
    int64_t shift_ms;        /* added to every event for the replay */
    const char *labels_file; /* NULL: no labels */
} app_bt_run_t;

/* app_bt_report builds the report (see above). alerts is a JSON array of
 * the alert objects read from the stream, oldest first, with times still
 * shifted (borrowed; objects that are not alerts are skipped). *out is the
 * caller's (json_decref). CORE_ENOMEM. */
core_err_t app_bt_report(const app_bt_run_t *run, const json_t *alerts, const app_bt_rule_t *rules,
                         size_t nrules, const app_bt_label_t *labels, size_t nlabels, json_t **out);

/* app_bt_print_text writes the report as text: a header line, the table of
 * alert transitions (TIME RULE SCOPE STATE BASIS VALUES), the summary per
 * rule and, with labels, the events each rule caught. */
void app_bt_print_text(const json_t *report, FILE *out);

/* app_bt_values writes the VALUES column of one alert: "key=value" for n,
 * negative, neg_rate, value, threshold, baseline_share, baseline_n, lift,
 * ratio, expected, p_value when present, then any other number or true flag
 * of the alert except the bookkeeping ones (clear, window, ...), keys sorted. */
void app_bt_values(const json_t *alert, char *out, size_t cap);

#endif
