/*
 * alr_json: the JSON documents alerting writes to Redis, built with jansson:
 * the compact item of finsent:recent and the alert of the alert channels and
 * stream. Their schema is in docs/redis.md. Pure; any thread.
 */
#ifndef ALR_JSON_H
#define ALR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"
#include "core/core_item.h"

#define ALR_ALERT_SAMPLES 5

typedef struct alr_alert {
    char id[40]; /* unique per alert event */
    const char *rule;
    const char *scope;
    const char *window; /* "15m" */
    const char *state;  /* "firing" or "resolved" */
    const char *basis;  /* "rate", "wilson", "surge" or "volume" */
    double neg_rate;    /* negative / n */
    double value;       /* what the threshold applied to (= neg_rate for basis rate) */
    uint64_t n, negative;
    double threshold, clear;
    /* surge and volume (with_baseline set): the scope's own history */
    int with_baseline;
    int fallback;          /* judged on the absolute threshold: baseline too short */
    const char *baseline;  /* "24h" */
    uint64_t baseline_n, baseline_negative;
    double baseline_share; /* baseline_negative / baseline_n */
    double lift;           /* neg_rate - baseline_share */
    double expected;       /* negatives expected in the window from the baseline */
    double ratio;          /* negative / expected */
    double p_value;        /* P(X >= negative), X ~ Poisson(expected) */
    int64_t since_ms;                       /* when it began firing */
    int64_t ts_ms;                          /* when this event happened */
    const char *samples[ALR_ALERT_SAMPLES]; /* recent negative item ids */
    size_t n_samples;
} alr_alert_t;

/* alr_json_item writes the compact item JSON ({"id","ts","topic",
 * "sentiment","sentiment_p","entities"}) into a malloc'd string (*out,
 * caller frees). */
core_err_t alr_json_item(const core_tagged_t *t, char **out);

/* alr_json_alert writes the alert JSON into a malloc'd string (*out, caller
 * frees). */
core_err_t alr_json_alert(const alr_alert_t *a, char **out);

#endif
