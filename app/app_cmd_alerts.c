/* finsent alerts: follow alerts live from channel finsent:alerts and, with
 * --since, first replay them from stream finsent:alerts:log. Each alert is
 * printed once (JSON line, or a one-line summary with --text), in order;
 * after a lost connection it reconnects and catches up from the stream.
 * SIGINT/SIGTERM end it with status 0. --since is long-only: -s is --set,
 * as in every command. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_follow.h"
#include "app/app.h"
#include "app/app_opts.h"
#include "core/core_log.h"
#include "core/core_time.h"

static volatile sig_atomic_t stop_flag;
static alr_follow_t *volatile signal_follow;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    if (signal_follow)
        alr_follow_stop(signal_follow); /* only sets an atomic flag */
}

static const char *str(json_t *a, const char *key)
{
    const char *s = json_string_value(json_object_get(a, key));
    return s ? s : "?";
}

typedef struct out {
    int text;
} out_t;

static int print_alert(void *ctx, const char *json, size_t len)
{
    const out_t *o = ctx;
    if (o->text) {
        json_t *a = json_loadb(json, len, 0, NULL);
        if (a) {
            const char *st = json_string_value(json_object_get(a, "state"));
            printf("%s %-8s rule=%s scope=%s window=%s neg_rate=%.4f n=%lld basis=%s value=%g "
                   "threshold=%g",
                   str(a, "ts"), st && strcmp(st, "firing") == 0 ? "FIRING" : "RESOLVED",
                   str(a, "rule"), str(a, "scope"), str(a, "window"),
                   json_number_value(json_object_get(a, "neg_rate")),
                   (long long)json_integer_value(json_object_get(a, "n")), str(a, "basis"),
                   json_number_value(json_object_get(a, "value")),
                   json_number_value(json_object_get(a, "threshold")));
            if (json_object_get(a, "baseline"))
                printf(" baseline=%s baseline_n=%lld baseline_share=%.4f lift=%.4f expected=%g "
                       "ratio=%g p_value=%g%s",
                       str(a, "baseline"),
                       (long long)json_integer_value(json_object_get(a, "baseline_n")),
                       json_number_value(json_object_get(a, "baseline_share")),
                       json_number_value(json_object_get(a, "lift")),
                       json_number_value(json_object_get(a, "expected")),
                       json_number_value(json_object_get(a, "ratio")),
                       json_number_value(json_object_get(a, "p_value")),
                       json_is_true(json_object_get(a, "fallback")) ? " fallback" : "");
            printf(" since=%s\n", str(a, "since"));
            json_decref(a);
        }
    } else {
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
    return 0;
}

/* follow replays the alerts since since_id (NULL: none) and, with live,
 * follows them until a signal. Returns the exit status. */
static int follow(alr_follow_t *f, const char *since_id, out_t *o, int live)
{
    struct sigaction sa;
    core_err_t e;

    signal_follow = f;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll(2) returns on a signal */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    e = alr_follow_start(f, since_id, print_alert, o);
    if (e != CORE_OK) {
        fprintf(stderr, "finsent alerts: %s\n", alr_follow_error(f));
        signal_follow = NULL;
        return APP_EXIT_FAIL;
    }
    while (live && !stop_flag) {
        e = alr_follow_poll(f, 500, print_alert, o);
        if (e == CORE_ENET) {
            CORE_WARN("alerts", "%s; reconnecting", alr_follow_error(f));
            while (!stop_flag && (e = alr_follow_resume(f, print_alert, o)) != CORE_OK) {
                if (e == CORE_ECLOSED)
                    break;
            }
        }
    }
    signal_follow = NULL;
    return APP_EXIT_OK;
}

int app_cmd_alerts(int argc, char **argv)
{
    const char *since = NULL, *scope = NULL;
    char since_id[64];
    int rc, no_follow = 0;
    out_t o = {0};
    core_config_t *cfg = NULL;
    alr_follow_t *f = NULL;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(&args, "config file (FINSENT_* variables and --set apply on top)"),
        APP_SET_ROW("override one key (repeatable)"),
        APP_STR("since", 0, "X", &since,
                "first replay the alerts logged in <prefix>alerts:log since X:\n"
                "a time (2026-11-28T13:50:00Z), a duration back from now (2h),\n"
                "a stream ID (1795873800000-0) or 0 for everything kept"),
        APP_STR("scope", 0, "S", &scope,
                "only the alerts of scope S (channel <prefix>alerts:S): all,\n"
                "topic:LABEL (e.g. 'topic:Fed | Central Banks') or\n"
                "entity:TICKER"),
        APP_FLAG("text", 0, &o.text, "one readable line per alert instead of JSON"),
        APP_FLAG("no-follow", 0, &no_follow, "exit after the replay instead of following live"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent alerts",
        .usage =
            "usage: finsent alerts [-c FILE] [--set S.K=V ...] [--since TIME|ID] [--scope S] "
            "[--text] [--no-follow]\n\n"
            "Print alerts as they are published on the Redis channel <prefix>alerts (one JSON\n"
            "object per line: id, rule, scope, window, state, neg_rate, n, basis, value, "
            "threshold,\n"
            "since, samples, ...; surge and volume alerts add baseline, baseline_n, "
            "baseline_share,\n"
            "lift, expected, ratio, p_value).\n\n",
        .footer = "Stops on SIGINT/SIGTERM (status 0). Status 1 when Redis cannot be reached at "
                  "start.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 21,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_USAGE;
    if (since &&
        alr_follow_parse_since(since, core_time_now_ms(), since_id, sizeof since_id) != CORE_OK) {
        fprintf(stderr, "finsent alerts: --since: '%s' is not a time, a duration or a stream ID\n",
                since);
        goto out;
    }
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    if (alr_follow_new(cfg, &f) != CORE_OK)
        goto out;
    if (scope && alr_follow_set_scope(f, scope) != CORE_OK) {
        fprintf(stderr, "finsent alerts: --scope: '%s' is not all, topic:LABEL or entity:TICKER\n",
                scope);
        rc = APP_EXIT_USAGE;
        goto out;
    }
    rc = follow(f, since ? since_id : NULL, &o, !no_follow);
out:
    alr_follow_free(f);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
