/* Tests of alr_rule: Wilson bound, rule config, the rule state machine.
 * Pure: no Redis. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_rule.h"

START_TEST(z_quantiles)
{
    /* Textbook two-sided quantiles. */
    ck_assert_double_eq_tol(alr_z_for_confidence(0.95), 1.959964, 1e-5);
    ck_assert_double_eq_tol(alr_z_for_confidence(0.99), 2.575829, 1e-5);
    ck_assert_double_eq_tol(alr_z_for_confidence(0.6827), 1.0, 1e-3);
}
END_TEST

START_TEST(wilson_bound)
{
    double z = alr_z_for_confidence(0.95);
    /* The example: 2/3 cannot pass 0.5, 60/100 can. */
    ck_assert(alr_wilson_lower(2, 3, z) < 0.5);
    ck_assert(alr_wilson_lower(60, 100, z) >= 0.5);
    /* Published 95 % Wilson interval of 60/100: [0.502, 0.691]. */
    ck_assert_double_eq_tol(alr_wilson_lower(60, 100, z), 0.5020, 1e-4);
    ck_assert_double_eq_tol(alr_wilson_lower(2, 3, z), 0.2077, 1e-4);
    ck_assert_double_eq_tol(alr_wilson_lower(10, 10, z), 0.7225, 1e-4);
    ck_assert_double_eq(alr_wilson_lower(0, 10, z), 0.0);
    ck_assert_double_eq(alr_wilson_lower(0, 0, z), 0.0);
    /* More evidence at the same rate raises the bound; more negatives too. */
    for (uint64_t n = 2; n < 2000; n *= 2)
        ck_assert(alr_wilson_lower(n, 2 * n, z) < alr_wilson_lower(2 * n, 4 * n, z));
    for (uint64_t k = 0; k < 50; k++)
        ck_assert(alr_wilson_lower(k, 50, z) < alr_wilson_lower(k + 1, 50, z));
    /* Always below the observed rate. */
    for (uint64_t k = 1; k <= 20; k++)
        ck_assert(alr_wilson_lower(k, 20, z) < (double)k / 20.0);
    /* k > n is clamped, not a NaN. */
    ck_assert(!isnan(alr_wilson_lower(5, 3, z)));
}
END_TEST

static alr_rule_t mkrule(void)
{
    alr_rule_t r;
    memset(&r, 0, sizeof r);
    strcpy(r.name, "neg");
    r.kind = ALR_RSCOPE_TOPICS;
    r.window_min = 15;
    r.threshold = 0.5;
    r.clear = 0.3;
    r.min_count = 10;
    r.for_ms = 60000;
    r.cooldown_ms = 600000;
    r.basis = ALR_BASIS_RATE;
    r.z = alr_z_for_confidence(0.95);
    return r;
}

/* One step of a scenario: counts at a time, and the event expected. */
typedef struct step {
    int64_t t;
    uint64_t n, neg;
    alr_event_t ev;
    alr_state_t st;
} step_t;

static void run_steps(const alr_rule_t *r, const step_t *s, size_t ns)
{
    alr_rule_state_t cur = {0}, next;
    for (size_t i = 0; i < ns; i++) {
        alr_event_t ev = alr_rule_eval(r, &cur, s[i].n, s[i].neg, s[i].t, &next);
        ck_assert_msg(ev == s[i].ev, "step %zu: event %d, expected %d", i, ev, s[i].ev);
        ck_assert_msg(next.state == s[i].st, "step %zu: state %s, expected %s", i,
                      alr_state_name(next.state), alr_state_name(s[i].st));
        ck_assert_int_eq(next.ver, cur.ver + (ev != ALR_EV_NONE));
        cur = next;
    }
}

START_TEST(lifecycle_with_for_hysteresis_cooldown)
{
    alr_rule_t r = mkrule();
    const step_t steps[] = {
        {1000, 5, 5, ALR_EV_NONE, ALR_ST_INACTIVE},       /* below min_count */
        {2000, 20, 8, ALR_EV_NONE, ALR_ST_INACTIVE},      /* 0.4 < threshold */
        {3000, 20, 10, ALR_EV_PENDING, ALR_ST_PENDING},   /* 0.5 reaches it */
        {30000, 20, 12, ALR_EV_NONE, ALR_ST_PENDING},     /* waiting `for` */
        {40000, 20, 9, ALR_EV_CANCEL, ALR_ST_INACTIVE},   /* dropped: back */
        {50000, 20, 10, ALR_EV_PENDING, ALR_ST_PENDING},  /* again */
        {110000, 20, 10, ALR_EV_FIRE, ALR_ST_FIRING},     /* held 60 s */
        {120000, 20, 7, ALR_EV_NONE, ALR_ST_FIRING},      /* 0.35: above clear */
        {130000, 20, 6, ALR_EV_NONE, ALR_ST_FIRING},      /* 0.30: not below */
        {140000, 20, 5, ALR_EV_RESOLVE, ALR_ST_RESOLVED}, /* 0.25 < clear */
        {150000, 20, 20, ALR_EV_NONE, ALR_ST_RESOLVED},   /* cooldown */
        {739999, 20, 20, ALR_EV_NONE, ALR_ST_RESOLVED},   /* 1 ms short */
        {740000, 20, 20, ALR_EV_PENDING, ALR_ST_PENDING}, /* cooldown over */
        {800000, 20, 20, ALR_EV_FIRE, ALR_ST_FIRING},
        {900000, 0, 0, ALR_EV_RESOLVE, ALR_ST_RESOLVED}, /* window emptied */
    };
    run_steps(&r, steps, sizeof steps / sizeof steps[0]);
}
END_TEST

START_TEST(fire_at_once_without_for)
{
    alr_rule_t r = mkrule();
    alr_rule_state_t cur = {0}, next;
    r.for_ms = 0;
    ck_assert_int_eq(alr_rule_eval(&r, &cur, 10, 5, 5000, &next), ALR_EV_FIRE);
    ck_assert_int_eq(next.state, ALR_ST_FIRING);
    ck_assert_int_eq(next.since_ms, 5000);
    ck_assert_int_eq(next.changed_ms, 5000);
}
END_TEST

START_TEST(wilson_basis_needs_evidence)
{
    alr_rule_t r = mkrule();
    alr_rule_state_t cur = {0}, next;
    r.basis = ALR_BASIS_WILSON;
    r.for_ms = 0;
    r.min_count = 1;
    ck_assert_int_eq(alr_rule_eval(&r, &cur, 3, 2, 1, &next), ALR_EV_NONE);
    ck_assert_int_eq(alr_rule_eval(&r, &cur, 100, 60, 1, &next), ALR_EV_FIRE);
    /* The rate basis fires on 2/3. */
    r.basis = ALR_BASIS_RATE;
    ck_assert_int_eq(alr_rule_eval(&r, &cur, 3, 2, 1, &next), ALR_EV_FIRE);
}
END_TEST

START_TEST(scope_matching)
{
    alr_rule_t r = mkrule();
    ck_assert(alr_rule_matches(&r, "topic:fed"));
    ck_assert(!alr_rule_matches(&r, "entity:AAPL"));
    ck_assert(!alr_rule_matches(&r, "all"));
    r.kind = ALR_RSCOPE_ENTITIES;
    ck_assert(alr_rule_matches(&r, "entity:AAPL"));
    ck_assert(!alr_rule_matches(&r, "topic:fed"));
    r.kind = ALR_RSCOPE_ALL;
    ck_assert(alr_rule_matches(&r, "all"));
    r.kind = ALR_RSCOPE_ONE;
    strcpy(r.scope, "entity:AAPL");
    ck_assert(alr_rule_matches(&r, "entity:AAPL"));
    ck_assert(!alr_rule_matches(&r, "entity:AAP"));
    ck_assert_int_eq(alr_state_parse("firing"), ALR_ST_FIRING);
    ck_assert_int_eq(alr_state_parse("bogus"), ALR_ST_INACTIVE);
    ck_assert_int_eq(alr_state_parse(NULL), ALR_ST_INACTIVE);
}
END_TEST

static core_err_t load(const char *text, alr_rule_t **rules, size_t *n, char *err, size_t cap)
{
    core_config_t *cfg;
    core_err_t rc;
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    rc = core_config_load_string(cfg, "t.conf", text, err, cap);
    if (rc == CORE_OK)
        rc = alr_rules_load(cfg, rules, n, err, cap);
    core_config_free(cfg);
    return rc;
}

START_TEST(rules_from_config)
{
    alr_rule_t *r = NULL;
    size_t n = 0;
    char err[256] = "";
    ck_assert_int_eq(load("[rule.fed]\nscope = topic:Fed | Central Banks\nwindow = 1h\n"
                          "threshold = 0.6\nclear = 0.5\nmin_count = 30\nfor = 2m\n"
                          "cooldown = 30m\nbasis = wilson\nconfidence = 0.99\n"
                          "[rule.tickers]\nscope = entity\n"
                          "[rule.one]\nscope = entity:aapl\n",
                          &r, &n, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(r[0].name, "fed");
    ck_assert_int_eq(r[0].kind, ALR_RSCOPE_ONE);
    ck_assert_str_eq(r[0].scope, "topic:fed-central-banks");
    ck_assert_int_eq(r[0].window_min, 60);
    ck_assert_double_eq(r[0].threshold, 0.6);
    ck_assert_double_eq(r[0].clear, 0.5);
    ck_assert_int_eq(r[0].min_count, 30);
    ck_assert_int_eq(r[0].for_ms, 120000);
    ck_assert_int_eq(r[0].cooldown_ms, 1800000);
    ck_assert_int_eq(r[0].basis, ALR_BASIS_WILSON);
    ck_assert_double_eq_tol(r[0].z, 2.5758, 1e-3);
    ck_assert_int_eq(r[1].kind, ALR_RSCOPE_ENTITIES);
    ck_assert_int_eq(r[1].window_min, 15); /* template default */
    ck_assert_str_eq(r[2].scope, "entity:AAPL");
    free(r);
}
END_TEST

START_TEST(rule_config_errors)
{
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"[rule.x]\nscope = sector\n", "scope"},
        {"[rule.x]\nscope = topic:!!\n", "scope"},
        {"[rule.x]\nthreshold = 0.3\nclear = 0.4\n", "clear"},
        {"[rule.x]\nbasis = bayes\n", "basis"},
        {"[rule.x]\nwindow = 90s\n", "window"},
        {"[rule.x]\nbasis = surge\nbaseline = 90m\n", "baseline"},
        {"[rule.x]\nbasis = surge\nfallback = loud\n", "fallback"},
        {"[rule.x]\nbasis = surge\nmin_lift = 0.1\nclear_lift = 0.2\n", "clear_lift"},
        {"[rule.x]\nbasis = volume\nmin_ratio = 2\nclear_ratio = 3\n", "clear_ratio"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alr_rule_t *r = NULL;
        size_t n = 7;
        char err[256] = "";
        ck_assert_int_eq(load(bad[i].text, &r, &n, err, sizeof err), CORE_ECONFIG);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err, bad[i].needle) && strstr(err, "rule.x"), "case %zu: '%s'", i,
                      err);
    }
}
END_TEST

/* Newcombe (1998), Statistics in Medicine 17, p. 873, example (a):
 * 56/70 against 48/80, method 10 (hybrid score): 0.0524 to 0.3339. */
START_TEST(newcombe_and_poisson)
{
    double z = alr_z_for_confidence(0.95);
    ck_assert_double_eq_tol(alr_newcombe_lower(56, 70, 48, 80, z), 0.0524, 5e-4);
    ck_assert_double_eq(alr_newcombe_lower(1, 1, 0, 0, z), -1.0);
    ck_assert_double_eq(alr_wilson_upper(3, 3, z), 1.0);
    /* P(X >= k), X ~ Poisson(lambda): closed forms */
    ck_assert_double_eq_tol(alr_poisson_upper(3, 1.0), 0.0803014, 1e-6);
    ck_assert_double_eq_tol(alr_poisson_upper(10, 0.5), 1.70967e-10, 1e-14);
    ck_assert_double_eq_tol(alr_poisson_upper(5, 10.0), 0.9707473, 1e-6);
    ck_assert_double_eq(alr_poisson_upper(0, 3.0), 1.0);
    ck_assert(alr_poisson_upper(200, 0.01) >= 0.0); /* underflows to 0, never NaN */
}
END_TEST

static alr_rule_t base_rule(const char *text)
{
    alr_rule_t *r = NULL, out;
    size_t n = 0;
    char err[256] = "";
    ck_assert_msg(load(text, &r, &n, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_uint_eq(n, 1);
    out = r[0];
    free(r);
    return out;
}

START_TEST(surge_against_the_scope_baseline)
{
    alr_rule_t r = base_rule("[rule.s]\nscope = entity\nwindow = 30m\nbasis = surge\n"
                             "baseline = 24h\nmin_lift = 0.05\nclear_lift = 0.02\n"
                             "min_count = 20\nbaseline_min_count = 100\n");
    alr_verdict_t v;
    alr_counts_t c;
    ck_assert_int_eq(r.basis, ALR_BASIS_SURGE);
    ck_assert_int_eq(r.baseline_h, 24);
    ck_assert_str_eq(alr_basis_name(r.basis), "surge");
    /* A sceptical scope at its usual 45%: no lift, no alert. */
    c = (alr_counts_t){100, 45, 2400, 1080, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond && v.clear && !v.fallback && v.with_baseline);
    ck_assert_double_eq_tol(v.baseline_share, 0.45, 1e-9);
    /* A blue chip from 5% to 20% on 100 items: the lift's bound clears 0.05. */
    c = (alr_counts_t){100, 20, 2400, 120, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert_msg(v.cond, "bound %g", v.value);
    ck_assert_double_eq_tol(v.lift, 0.15, 1e-9);
    ck_assert(v.value > 0.05 && v.value < 0.15);
    ck_assert_double_eq(v.threshold, 0.05);
    /* The same share on 10 items is not evidence (and below min_count). */
    c = (alr_counts_t){10, 2, 2400, 120, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond);
    /* A short baseline: silent by default. */
    c = (alr_counts_t){100, 60, 50, 2, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond && v.fallback && !v.clear);
    r = base_rule("[rule.s]\nbasis = surge\nfallback = threshold\nthreshold = 0.5\n"
                  "clear = 0.4\nmin_count = 20\nbaseline_min_count = 100\n");
    alr_rule_judge(&r, &c, &v);
    ck_assert(v.cond && v.fallback); /* wilson bound of 60/100 >= 0.5 */
    ck_assert_double_eq(v.threshold, 0.5);
}
END_TEST

START_TEST(volume_against_the_scope_baseline)
{
    alr_rule_t r = base_rule("[rule.v]\nscope = entity\nwindow = 30m\nbasis = volume\n"
                             "baseline = 24h\nmin_ratio = 3\nclear_ratio = 1.5\nmin_count = 8\n"
                             "baseline_min_count = 0\nconfidence = 0.999\n");
    alr_verdict_t v;
    alr_counts_t c;
    /* Two negatives a day; ten in half an hour at an unchanged 10% share. */
    c = (alr_counts_t){100, 10, 20, 2, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert_double_eq_tol(v.expected, 2.5 * 30.0 / 1440.0, 1e-12);
    ck_assert(v.p_value < 1e-9);
    ck_assert_msg(v.cond, "ratio %g p %g", v.ratio, v.p_value);
    ck_assert_double_eq(v.value, v.ratio);
    /* 7 negatives: below min_count. */
    c = (alr_counts_t){70, 7, 20, 2, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond);
    /* A busy scope at its usual pace: 48 negatives a day, 1 in 30 minutes. */
    c = (alr_counts_t){10, 1, 480, 48, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond && v.clear);
    /* Twice its pace is not three times: no alert, and no clear of a firing one
     * until below 1.5x. */
    c = (alr_counts_t){40, 2, 480, 24, 24};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond);
    /* A scope first seen 2 hours ago: its pace is measured over those 2
     * hours, so 4 negatives an hour and then 2 in 30 minutes is no surge. */
    c = (alr_counts_t){20, 2, 80, 8, 2};
    alr_rule_judge(&r, &c, &v);
    ck_assert_double_eq_tol(v.expected, 8.5 * 30.0 / 120.0, 1e-12);
    ck_assert(!v.cond);
    /* No hour with history: not enough baseline, whatever the counts. */
    c = (alr_counts_t){100, 50, 0, 0, 0};
    alr_rule_judge(&r, &c, &v);
    ck_assert(!v.cond && v.fallback);
}
END_TEST

Suite *suite_rule(void)
{
    Suite *s = suite_create("alr_rule");
    TCase *tc = tcase_create("rule");
    tcase_add_test(tc, z_quantiles);
    tcase_add_test(tc, wilson_bound);
    tcase_add_test(tc, lifecycle_with_for_hysteresis_cooldown);
    tcase_add_test(tc, fire_at_once_without_for);
    tcase_add_test(tc, wilson_basis_needs_evidence);
    tcase_add_test(tc, scope_matching);
    tcase_add_test(tc, rules_from_config);
    tcase_add_test(tc, rule_config_errors);
    tcase_add_test(tc, newcombe_and_poisson);
    tcase_add_test(tc, surge_against_the_scope_baseline);
    tcase_add_test(tc, volume_against_the_scope_baseline);
    suite_add_tcase(s, tc);
    return s;
}
