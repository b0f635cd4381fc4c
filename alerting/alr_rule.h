/*
 * alr_rule: alert rules from the config and their pure evaluation.
 *
 * A rule ([rule.NAME] in the config) watches the negative share of one
 * window in a set of scopes: `all`, every topic (`topic`), every entity
 * (`entity`), or one named scope (`topic:NAME`, NAME slugified, or
 * `entity:TICKER`). Its value is neg_rate = negative / n (basis `rate`), or
 * the lower bound of the two-sided Wilson score interval of neg_rate at the
 * rule's confidence (basis `wilson`), so that few items cannot fire a rule:
 * at 95 % 2 negatives out of 3 give 0.21 while 60 out of 100 give 0.50.
 *
 * State machine of one (rule, scope), evaluated by alr_rule_eval:
 *
 *   inactive/resolved --cond, cooldown over--> pending --cond held `for`--> firing
 *        ^    ^                                   |                          |
 *        |    +------------ !cond ----------------+                          |
 *        +------------------- n == 0 or value < clear -----------------------+
 *                                 (becomes resolved)
 *
 * cond is n >= min_count and value >= threshold. With `for` = 0 the pending
 * step is skipped. A resolved (rule, scope) does not go pending again before
 * `cooldown` has passed since it resolved. Only fire and resolve are alerts;
 * the other transitions are silent state changes.
 *
 * Bases against the scope's own history: the baseline is the `baseline`
 * (whole hours, default 24h) of hourly roll-ups before the hour in which the
 * rule's window starts, so the window never counts in its own baseline.
 *   surge   p = negative / n in the window, p0 = the baseline's share. The
 *           value is the lower bound of p - p0 at `confidence` (Newcombe's
 *           hybrid score interval: the difference minus the root of the
 *           squared Wilson half-distances, lower of p, upper of p0), so a
 *           lift on a few items cannot fire. cond: n >= min_count, baseline
 *           n >= baseline_min_count, value >= min_lift; resolve when n == 0
 *           or value < clear_lift.
 *   volume  k = negatives in the window, expected = (baseline negatives +
 *           0.5) * window / the baseline hours with history (from the
 *           scope's first hour with data in it: a scope first seen 3 hours
 *           ago is measured over 3 hours, not 24; the 0.5 keeps a scope that
 *           never had a negative from dividing by zero). p_value = P(X >= k) for X
 *           Poisson(expected). cond: k >= min_count, baseline n >=
 *           baseline_min_count, p_value <= 1 - confidence and k / expected
 *           >= min_ratio; resolve when n == 0 or k / expected < clear_ratio.
 * A scope whose baseline has fewer than baseline_min_count items (or no
 * hour with history) is silent
 * (fallback = silent: it never fires, and a firing one resolves only when
 * its window empties) or is judged as a wilson rule against threshold and
 * clear (fallback = threshold).
 *
 * This module does no I/O: alr_sink applies the transitions atomically in
 * Redis. Everything here is pure and may be called from any thread.
 */
#ifndef ALR_RULE_H
#define ALR_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/alr_keys.h"
#include "core/core_config.h"
#include "core/core_error.h"

typedef enum alr_scope_kind {
    ALR_RSCOPE_ALL = 0,  /* the "all" scope */
    ALR_RSCOPE_TOPICS,   /* every topic:* scope */
    ALR_RSCOPE_ENTITIES, /* every entity:* scope */
    ALR_RSCOPE_ONE       /* exactly rule->scope */
} alr_scope_kind_t;

typedef enum alr_basis {
    ALR_BASIS_RATE = 0,
    ALR_BASIS_WILSON,
    ALR_BASIS_SURGE,
    ALR_BASIS_VOLUME
} alr_basis_t;

/* alr_basis_name: "rate", "wilson", "surge", "volume". */
const char *alr_basis_name(alr_basis_t b);

typedef struct alr_rule {
    char name[64];
    alr_scope_kind_t kind;
    char scope[ALR_SCOPE_MAX]; /* the scope for ALR_RSCOPE_ONE, "all" for ALL */
    int window_min;            /* window in minutes */
    double threshold, clear;   /* clear <= threshold */
    int64_t min_count;
    int64_t for_ms, cooldown_ms;
    alr_basis_t basis;
    double confidence;
    double z; /* two-sided normal quantile of confidence */
    /* surge and volume */
    int baseline_h;             /* baseline length in hours */
    int64_t baseline_min_count; /* items the baseline needs */
    int fallback_threshold;     /* 1: judge as wilson when the baseline is short */
    double min_lift, clear_lift;   /* surge */
    double min_ratio, clear_ratio; /* volume */
} alr_rule_t;


typedef enum alr_state {
    ALR_ST_INACTIVE = 0,
    ALR_ST_PENDING,
    ALR_ST_FIRING,
    ALR_ST_RESOLVED
} alr_state_t;

/* The persisted state of one (rule, scope): the hash finsent:alert:{rule}:{scope}. */
typedef struct alr_rule_state {
    alr_state_t state;
    int64_t since_ms;    /* pending: condition began; firing/resolved: fired at */
    int64_t changed_ms;  /* last transition */
    int64_t resolved_ms; /* last resolve (cooldown reference), 0 = never */
    int64_t ver;         /* transition counter, the compare-and-set token */
} alr_rule_state_t;

typedef enum alr_event {
    ALR_EV_NONE = 0, /* no transition */
    ALR_EV_PENDING,  /* inactive/resolved -> pending (silent) */
    ALR_EV_CANCEL,   /* pending -> inactive (silent) */
    ALR_EV_FIRE,     /* -> firing (alert) */
    ALR_EV_RESOLVE   /* firing -> resolved (alert) */
} alr_event_t;

/* alr_rule_has_baseline: surge and volume rules read baselines. */
int alr_rule_has_baseline(const alr_rule_t *r);

/* alr_rule_baseline_hours: the epoch hours [*from, *to) of the baseline of
 * rule r at time now_ms (see above). */
void alr_rule_baseline_hours(const alr_rule_t *r, int64_t now_ms, int64_t *from, int64_t *to);

/* The counts a rule is judged on. */
typedef struct alr_counts {
    uint64_t n, negative;           /* the rule's window */
    uint64_t base_n, base_negative; /* the baseline (surge, volume) */
    uint64_t base_hours;            /* hours of it with history: from the first
                                       hour with data to its end */
} alr_counts_t;

/* The judgement of one (rule, scope) at one time: what fires it, what
 * clears it, and the numbers an alert reports. */
typedef struct alr_verdict {
    int cond;          /* the fire condition holds */
    int clear;         /* the resolve condition holds */
    int fallback;      /* judged on the absolute threshold (short baseline) */
    int with_baseline; /* the baseline numbers below are meaningful */
    double value;      /* what the threshold applies to */
    double threshold, clear_at;
    double baseline_share; /* base_negative / base_n */
    double lift;           /* share - baseline share (surge) */
    double ratio;          /* negative / expected (volume) */
    double expected;       /* expected negatives in the window (volume) */
    double p_value;        /* P(X >= negative), X ~ Poisson(expected) (volume) */
} alr_verdict_t;

/* alr_rule_judge computes the verdict of rule r on counts c. */
void alr_rule_judge(const alr_rule_t *r, const alr_counts_t *c, alr_verdict_t *v);

/* alr_rule_step applies a verdict to the state machine: the transition of
 * state cur at now_ms into *next (ver incremented when there is one). */
alr_event_t alr_rule_step(const alr_rule_t *r, const alr_rule_state_t *cur,
                          const alr_verdict_t *v, int64_t now_ms, alr_rule_state_t *next);

/* alr_newcombe_lower: lower bound of p1 - p2 (k1 of n1 against k2 of n2) by
 * Newcombe's hybrid score method at quantile z. -1 when either n is 0. */
double alr_newcombe_lower(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double z);

/* alr_poisson_upper: P(X >= k) for X ~ Poisson(lambda), lambda > 0. */
double alr_poisson_upper(uint64_t k, double lambda);

/* alr_state_name: "inactive", "pending", "firing", "resolved". */
const char *alr_state_name(alr_state_t s);

/* alr_state_parse maps a name back; unknown names read as inactive. */
alr_state_t alr_state_parse(const char *s);

/* alr_z_for_confidence: z with P(|Z| <= z) = confidence for a standard
 * normal Z (0.95 -> 1.95996). confidence in (0, 1). */
double alr_z_for_confidence(double confidence);

/* alr_wilson_lower: lower bound of the Wilson score interval of k successes
 * in n trials at quantile z; 0 when n == 0. */
double alr_wilson_lower(uint64_t k, uint64_t n, double z);

/* alr_wilson_upper: the upper bound; 1 when n == 0. */
double alr_wilson_upper(uint64_t k, uint64_t n, double z);

/* alr_rule_value: the number the rule's thresholds apply to. */
double alr_rule_value(const alr_rule_t *r, uint64_t negative, uint64_t n);

/* alr_rule_matches: whether the rule applies to scope. */
int alr_rule_matches(const alr_rule_t *r, const char *scope);

/* alr_rule_eval computes the transition of a (rule, scope) in state cur
 * given the window's counts at time now_ms (no baseline: a surge or volume
 * rule sees an empty one), writes the resulting state to *next (ver
 * incremented when there is a transition) and returns the event. */
alr_event_t alr_rule_eval(const alr_rule_t *r, const alr_rule_state_t *cur, uint64_t n,
                          uint64_t negative, int64_t now_ms, alr_rule_state_t *next);

/* alr_rule_from_config reads [rule.NAME] into *r and validates it (scope
 * syntax, window a whole number of minutes, basis, clear <= threshold,
 * clear_lift <= min_lift, clear_ratio <= min_ratio, baseline a whole number
 * of hours, fallback silent or threshold, a name of [A-Za-z0-9_.-]). On
 * CORE_ECONFIG err says what is wrong. */
core_err_t alr_rule_from_config(const core_config_t *cfg, const char *name, alr_rule_t *r,
                                char *err, size_t errlen);

/* alr_rules_load reads every [rule.*] section. *rules is malloc'd (free()),
 * NULL with *n = 0 when there are none. */
core_err_t alr_rules_load(const core_config_t *cfg, alr_rule_t **rules, size_t *n, char *err,
                          size_t errlen);

#endif
