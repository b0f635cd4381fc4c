/* alr_rule: rule config, Wilson bound and the rule state machine; see
 * alr_rule.h. Pure: no I/O, no globals. */
#include "alerting/alr_rule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"

static const char *const state_names[] = {"inactive", "pending", "firing", "resolved"};

const char *alr_state_name(alr_state_t s)
{
    return (unsigned)s < 4 ? state_names[s] : "inactive";
}

alr_state_t alr_state_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++) {
        if (strcmp(s, state_names[i]) == 0)
            return (alr_state_t)i;
    }
    return ALR_ST_INACTIVE;
}

double alr_z_for_confidence(double confidence)
{
    /* Solve erf(z / sqrt 2) = confidence by bisection: erf is monotonic and
     * 60 halvings of [0, 40] are far below double precision needs. */
    double lo = 0.0, hi = 40.0;
    if (!(confidence > 0.0))
        return 0.0;
    if (confidence >= 1.0)
        return hi;
    for (int i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        if (erf(mid / sqrt(2.0)) < confidence)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double alr_wilson_lower(uint64_t k, uint64_t n, double z)
{
    double p, nn, z2, centre, spread, lower;
    if (n == 0 || k == 0)
        return 0.0; /* exactly: the formula leaves rounding noise */
    if (k > n)
        k = n;
    nn = (double)n;
    p = (double)k / nn;
    z2 = z * z;
    centre = p + z2 / (2.0 * nn);
    spread = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    lower = (centre - spread) / (1.0 + z2 / nn);
    return lower < 0.0 ? 0.0 : lower;
}

double alr_wilson_upper(uint64_t k, uint64_t n, double z)
{
    double p, nn, z2, centre, spread, upper;
    if (n == 0 || k >= n)
        return 1.0;
    nn = (double)n;
    p = (double)k / nn;
    z2 = z * z;
    centre = p + z2 / (2.0 * nn);
    spread = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    upper = (centre + spread) / (1.0 + z2 / nn);
    return upper > 1.0 ? 1.0 : upper;
}

double alr_newcombe_lower(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, double z)
{
    double p1, p2, d1, d2;
    if (n1 == 0 || n2 == 0)
        return -1.0;
    if (k1 > n1)
        k1 = n1;
    if (k2 > n2)
        k2 = n2;
    p1 = (double)k1 / (double)n1;
    p2 = (double)k2 / (double)n2;
    d1 = p1 - alr_wilson_lower(k1, n1, z);
    d2 = alr_wilson_upper(k2, n2, z) - p2;
    return p1 - p2 - sqrt(d1 * d1 + d2 * d2);
}

double alr_poisson_upper(uint64_t k, double lambda)
{
    double kk = (double)k, sum = 0.0, t;
    if (k == 0 || !(lambda > 0.0))
        return k == 0 ? 1.0 : 0.0;
    if (kk > lambda) {
        /* The tail from k up: terms fall at least geometrically. */
        t = exp(-lambda + kk * log(lambda) - lgamma(kk + 1.0));
        for (double i = kk + 1.0; t > 0.0; i += 1.0) {
            sum += t;
            if (t < sum * 1e-17 || i > kk + 1e6)
                break;
            t *= lambda / i;
        }
        return sum > 1.0 ? 1.0 : sum;
    }
    /* k <= lambda: one minus the head, each term in log space. */
    for (uint64_t i = 0; i < k; i++)
        sum += exp(-lambda + (double)i * log(lambda) - lgamma((double)i + 1.0));
    return sum >= 1.0 ? 0.0 : 1.0 - sum;
}

const char *alr_basis_name(alr_basis_t b)
{
    static const char *const names[] = {"rate", "wilson", "surge", "volume"};
    return (unsigned)b < 4 ? names[b] : "rate";
}

int alr_rule_has_baseline(const alr_rule_t *r)
{
    return r->basis == ALR_BASIS_SURGE || r->basis == ALR_BASIS_VOLUME;
}

void alr_rule_baseline_hours(const alr_rule_t *r, int64_t now_ms, int64_t *from, int64_t *to)
{
    /* The hour in which the window starts is left out whole. */
    *to = alr_hour(now_ms - (int64_t)r->window_min * 60000 + 60000);
    *from = *to - r->baseline_h;
}

void alr_rule_judge(const alr_rule_t *r, const alr_counts_t *c, alr_verdict_t *v)
{
    uint64_t n = c->n, neg = c->negative > c->n ? c->n : c->negative;
    int enough = 1;

    memset(v, 0, sizeof *v);
    v->threshold = r->threshold;
    v->clear_at = r->clear;
    if (alr_rule_has_baseline(r)) {
        double share = n ? (double)neg / (double)n : 0.0;
        v->with_baseline = 1;
        v->baseline_share = c->base_n ? (double)c->base_negative / (double)c->base_n : 0.0;
        v->lift = share - v->baseline_share;
        uint64_t hours = c->base_hours < (uint64_t)r->baseline_h ? c->base_hours
                                                                 : (uint64_t)r->baseline_h;
        v->expected = ((double)c->base_negative + 0.5) * (double)r->window_min /
                      ((double)(hours ? hours : 1) * 60.0);
        v->ratio = (double)neg / v->expected;
        v->p_value = alr_poisson_upper(neg, v->expected);
        enough = (int64_t)c->base_n >= r->baseline_min_count && hours > 0;
    }
    if (!enough) {
        v->fallback = 1;
        if (!r->fallback_threshold) {
            v->value = 0.0;
            v->cond = 0;
            v->clear = n == 0;
            return;
        }
        v->value = alr_wilson_lower(neg, n, r->z);
        v->cond = (int64_t)n >= r->min_count && v->value >= r->threshold;
        v->clear = n == 0 || v->value < r->clear;
        return;
    }
    switch (r->basis) {
    case ALR_BASIS_SURGE:
        v->value = alr_newcombe_lower(neg, n, c->base_negative, c->base_n, r->z);
        v->threshold = r->min_lift;
        v->clear_at = r->clear_lift;
        v->cond = (int64_t)n >= r->min_count && v->value >= r->min_lift;
        v->clear = n == 0 || v->value < r->clear_lift;
        break;
    case ALR_BASIS_VOLUME:
        v->value = v->ratio;
        v->threshold = r->min_ratio;
        v->clear_at = r->clear_ratio;
        v->cond = (int64_t)neg >= r->min_count && v->p_value <= 1.0 - r->confidence &&
                  v->ratio >= r->min_ratio;
        v->clear = n == 0 || v->ratio < r->clear_ratio;
        break;
    default:
        v->value = alr_rule_value(r, neg, n);
        v->cond = (int64_t)n >= r->min_count && v->value >= r->threshold;
        v->clear = n == 0 || v->value < r->clear;
        break;
    }
}

double alr_rule_value(const alr_rule_t *r, uint64_t negative, uint64_t n)
{
    if (n == 0)
        return 0.0;
    if (r->basis == ALR_BASIS_WILSON)
        return alr_wilson_lower(negative, n, r->z);
    return (double)(negative > n ? n : negative) / (double)n;
}

int alr_rule_matches(const alr_rule_t *r, const char *scope)
{
    switch (r->kind) {
    case ALR_RSCOPE_ALL:
        return strcmp(scope, "all") == 0;
    case ALR_RSCOPE_TOPICS:
        return strncmp(scope, "topic:", 6) == 0;
    case ALR_RSCOPE_ENTITIES:
        return strncmp(scope, "entity:", 7) == 0;
    case ALR_RSCOPE_ONE:
        return strcmp(scope, r->scope) == 0;
    }
    return 0;
}

alr_event_t alr_rule_step(const alr_rule_t *r, const alr_rule_state_t *cur,
                          const alr_verdict_t *v, int64_t now_ms, alr_rule_state_t *next)
{
    alr_event_t ev = ALR_EV_NONE;

    *next = *cur;
    switch (cur->state) {
    case ALR_ST_INACTIVE:
    case ALR_ST_RESOLVED:
        if (!v->cond)
            break;
        if (cur->resolved_ms > 0 && now_ms - cur->resolved_ms < r->cooldown_ms)
            break;
        if (r->for_ms <= 0) {
            next->state = ALR_ST_FIRING;
            ev = ALR_EV_FIRE;
        } else {
            next->state = ALR_ST_PENDING;
            ev = ALR_EV_PENDING;
        }
        next->since_ms = now_ms;
        break;
    case ALR_ST_PENDING:
        if (!v->cond) {
            next->state = ALR_ST_INACTIVE;
            next->since_ms = 0;
            ev = ALR_EV_CANCEL;
        } else if (now_ms - cur->since_ms >= r->for_ms) {
            next->state = ALR_ST_FIRING;
            next->since_ms = now_ms;
            ev = ALR_EV_FIRE;
        }
        break;
    case ALR_ST_FIRING:
        if (v->clear) {
            next->state = ALR_ST_RESOLVED;
            next->resolved_ms = now_ms;
            ev = ALR_EV_RESOLVE;
        }
        break;
    }
    if (ev != ALR_EV_NONE) {
        next->changed_ms = now_ms;
        next->ver = cur->ver + 1;
    }
    return ev;
}

alr_event_t alr_rule_eval(const alr_rule_t *r, const alr_rule_state_t *cur, uint64_t n,
                          uint64_t negative, int64_t now_ms, alr_rule_state_t *next)
{
    alr_counts_t c = {n, negative, 0, 0, 0};
    alr_verdict_t v;
    alr_rule_judge(r, &c, &v);
    return alr_rule_step(r, cur, &v, now_ms, next);
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static core_err_t baseline_from_config(const core_config_t *cfg, const char *sec, alr_rule_t *r,
                                       char *err, size_t errlen)
{
    int64_t base = core_config_inst_int(cfg, CORE_CFG_RULE_BASELINE, r->name);
    const char *fb = core_config_inst_str(cfg, CORE_CFG_RULE_FALLBACK, r->name);

    if (base % 3600000 != 0) {
        snprintf(err, errlen, "[%s] baseline: must be a whole number of hours (%s)", sec,
                 core_config_inst_origin(cfg, CORE_CFG_RULE_BASELINE, r->name));
        return CORE_ECONFIG;
    }
    r->baseline_h = (int)(base / 3600000);
    r->baseline_min_count = core_config_inst_int(cfg, CORE_CFG_RULE_BASELINE_MIN_COUNT, r->name);
    if (strcmp(fb, "silent") == 0) {
        r->fallback_threshold = 0;
    } else if (strcmp(fb, "threshold") == 0) {
        r->fallback_threshold = 1;
    } else {
        snprintf(err, errlen, "[%s] fallback: '%s' is not silent or threshold (%s)", sec, fb,
                 core_config_inst_origin(cfg, CORE_CFG_RULE_FALLBACK, r->name));
        return CORE_ECONFIG;
    }
    r->min_lift = core_config_inst_double(cfg, CORE_CFG_RULE_MIN_LIFT, r->name);
    r->clear_lift = core_config_inst_double(cfg, CORE_CFG_RULE_CLEAR_LIFT, r->name);
    if (r->clear_lift > r->min_lift) {
        snprintf(err, errlen, "[%s] clear_lift: %g is above min_lift %g (%s)", sec, r->clear_lift,
                 r->min_lift, core_config_inst_origin(cfg, CORE_CFG_RULE_CLEAR_LIFT, r->name));
        return CORE_ECONFIG;
    }
    r->min_ratio = core_config_inst_double(cfg, CORE_CFG_RULE_MIN_RATIO, r->name);
    r->clear_ratio = core_config_inst_double(cfg, CORE_CFG_RULE_CLEAR_RATIO, r->name);
    if (r->clear_ratio > r->min_ratio) {
        snprintf(err, errlen, "[%s] clear_ratio: %g is above min_ratio %g (%s)", sec,
                 r->clear_ratio, r->min_ratio,
                 core_config_inst_origin(cfg, CORE_CFG_RULE_CLEAR_RATIO, r->name));
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

core_err_t alr_rule_from_config(const core_config_t *cfg, const char *name, alr_rule_t *r,
                                char *err, size_t errlen)
{
    char sec[128];
    const char *scope, *basis;
    int64_t win;

    memset(r, 0, sizeof *r);
    if (strlen(name) >= sizeof r->name || !valid_name(name)) {
        snprintf(err, errlen, "[rule.%s]: a rule name is 1-63 characters of A-Z a-z 0-9 _ . -",
                 name);
        return CORE_ECONFIG;
    }
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(sec, sizeof sec, "rule.%s", name);

    scope = core_config_inst_str(cfg, CORE_CFG_RULE_SCOPE, name);
    if (strcmp(scope, "all") == 0) {
        r->kind = ALR_RSCOPE_ALL;
        snprintf(r->scope, sizeof r->scope, "all");
    } else if (strcmp(scope, "topic") == 0) {
        r->kind = ALR_RSCOPE_TOPICS;
    } else if (strcmp(scope, "entity") == 0) {
        r->kind = ALR_RSCOPE_ENTITIES;
    } else if (strncmp(scope, "topic:", 6) == 0 &&
               alr_scope_topic(scope + 6, r->scope, sizeof r->scope) > 0) {
        r->kind = ALR_RSCOPE_ONE;
    } else if (strncmp(scope, "entity:", 7) == 0 &&
               alr_scope_entity(scope + 7, r->scope, sizeof r->scope) > 0) {
        r->kind = ALR_RSCOPE_ONE;
    } else {
        snprintf(err, errlen,
                 "[%s] scope: '%s' is not all, topic, entity, topic:NAME or entity:TICKER (%s)",
                 sec, scope, core_config_inst_origin(cfg, CORE_CFG_RULE_SCOPE, name));
        return CORE_ECONFIG;
    }

    win = core_config_inst_int(cfg, CORE_CFG_RULE_WINDOW, name);
    if (win <= 0 || win % 60000 != 0) {
        snprintf(err, errlen, "[%s] window: must be a whole number of minutes (%s)", sec,
                 core_config_inst_origin(cfg, CORE_CFG_RULE_WINDOW, name));
        return CORE_ECONFIG;
    }
    r->window_min = (int)(win / 60000);
    r->threshold = core_config_inst_double(cfg, CORE_CFG_RULE_THRESHOLD, name);
    r->clear = core_config_inst_double(cfg, CORE_CFG_RULE_CLEAR, name);
    if (r->clear > r->threshold) {
        snprintf(err, errlen, "[%s] clear: %g is above threshold %g (%s)", sec, r->clear,
                 r->threshold, core_config_inst_origin(cfg, CORE_CFG_RULE_CLEAR, name));
        return CORE_ECONFIG;
    }
    r->min_count = core_config_inst_int(cfg, CORE_CFG_RULE_MIN_COUNT, name);
    r->for_ms = core_config_inst_int(cfg, CORE_CFG_RULE_FOR, name);
    r->cooldown_ms = core_config_inst_int(cfg, CORE_CFG_RULE_COOLDOWN, name);
    basis = core_config_inst_str(cfg, CORE_CFG_RULE_BASIS, name);
    if (strcmp(basis, "rate") == 0) {
        r->basis = ALR_BASIS_RATE;
    } else if (strcmp(basis, "wilson") == 0) {
        r->basis = ALR_BASIS_WILSON;
    } else if (strcmp(basis, "surge") == 0) {
        r->basis = ALR_BASIS_SURGE;
    } else if (strcmp(basis, "volume") == 0) {
        r->basis = ALR_BASIS_VOLUME;
    } else {
        snprintf(err, errlen, "[%s] basis: '%s' is not rate, wilson, surge or volume (%s)", sec,
                 basis, core_config_inst_origin(cfg, CORE_CFG_RULE_BASIS, name));
        return CORE_ECONFIG;
    }
    r->confidence = core_config_inst_double(cfg, CORE_CFG_RULE_CONFIDENCE, name);
    r->z = alr_z_for_confidence(r->confidence);
    if (alr_rule_has_baseline(r))
        return baseline_from_config(cfg, sec, r, err, errlen);
    return CORE_OK;
}

core_err_t alr_rules_load(const core_config_t *cfg, alr_rule_t **rules, size_t *n, char *err,
                          size_t errlen)
{
    size_t count = core_config_instance_count(cfg, "rule");
    alr_rule_t *v = NULL;
    core_err_t rc = CORE_OK;

    *rules = NULL;
    *n = 0;
    if (count == 0)
        return CORE_OK;
    v = core_calloc(count, sizeof *v);
    if (!v)
        return CORE_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        rc = alr_rule_from_config(cfg, core_config_instance_name(cfg, "rule", i), &v[i], err,
                                  errlen);
        if (rc != CORE_OK)
            goto out;
    }
    *rules = v;
    *n = count;
    v = NULL;
out:
    core_free(v);
    return rc;
}
