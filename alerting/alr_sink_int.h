/*
 * alr_sink internals shared by the files of the sink: alr_sink.c
 * (construction, counting, rate refreshes, the tick) and alr_alert.c (the
 * rules' baselines and the alert rounds). Internal to alerting/.
 *
 * Threads: as alr_sink.h; everything here runs on the sink's thread.
 */
#ifndef ALR_SINK_INT_H
#define ALR_SINK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/alr_args_int.h"
#include "alerting/alr_redis_int.h"
#include "alerting/alr_rule.h"
#include "alerting/alr_scopes_int.h"
#include "alerting/alr_sink.h"
#include "alerting/alr_windows_int.h"

/* The server-side scripts, loaded together on every new connection. */
enum { ALR_SCRIPT_COUNT = 0, ALR_SCRIPT_RATES, ALR_SCRIPT_ALERT, ALR_SCRIPT_BASE, ALR_SCRIPT__N };

/* Sources of the scripts alr_alert.c runs (argument lists beside them). */
extern const char alr_alert_lua[];
extern const char alr_base_lua[];

struct alr_sink {
    alr_redis_t *r;
    char prefix[64];
    int64_t retention_ms, seen_ttl_ms, future_skew_ms, hourly_retention_ms;
    long recent_max, alerts_log_max;
    alr_windows_t win;
    alr_rule_t *rules;
    size_t nrules;
    size_t nbase_rules; /* surge and volume rules */
    int pruned;         /* the active set was cleared of unknown rules */
    alr_script_t scripts[ALR_SCRIPT__N];
    int scripts_loaded;
    int64_t (*now)(void *);
    void *now_ctx;
    char instance[17];
    uint64_t alert_seq;
    alr_args_t a;
    alr_scopes_t touched; /* tick's working set */
    alr_scopes_t pending; /* counted into since their last rate refresh */
    int64_t refresh_ms, last_refresh_mono;
    int64_t last_full_minute; /* minute of the tick's last full refresh */
    core_counter_t *m_out[ALR_ITEM__COUNT], *m_fired, *m_resolved, *m_errors, *m_retries;
    core_histogram_t *m_latency;
    /* redis.wait_replicas / wait_timeout: WAIT after each batch (0: off). */
    int wait_replicas;
    int64_t wait_timeout_ms;
    core_metrics_t *metrics;
    core_counter_t *m_failovers, *m_wait_short;
    core_histogram_t *m_wait_s;
    core_gauge_t *m_primary;  /* finsent_redis_primary_info{addr=...} of the current one */
    uint64_t failovers_seen;  /* the handle's count already added to m_failovers */
    char primary_seen[300];   /* the primary m_primary names */
};

/* alr_sink_reply_failed handles a reply that is not the expected one: a
 * NOSCRIPT error makes the next call reload the scripts, and the first
 * failure of a round (*rc still CORE_OK) becomes CORE_EREDIS with the
 * reply's text (or `what` for an unexpected type) in the error string. */
void alr_sink_reply_failed(alr_sink_t *s, const redisReply *rep, const char *what, core_err_t *rc);

/* alr_alert_evaluate reads the baselines of the surge and volume rules, then
 * evaluates every rule on every scope of sc whose window counts are
 * cnt[(scope * win.n + window) * 4 + {n, negative, neutral, positive}] at
 * time now, and applies the transitions in three pipelined rounds (states,
 * sample ids, compare-and-set); fired / resolved are incremented by the
 * alerts this instance published. The connection must be up with the
 * scripts loaded. */
core_err_t alr_alert_evaluate(alr_sink_t *s, const alr_scopes_t *sc, const uint64_t *cnt,
                              int64_t now, size_t *fired, size_t *resolved);

#endif
