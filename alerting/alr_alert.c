/*
 * alr_alert: the sink's alert rounds; see alr_sink_int.h.
 *
 * After a rate refresh, every (rule, scope) pair a rule matches is judged
 * on the fresh counts, in pipelined rounds so that a refresh costs a few
 * round trips however many pairs there are:
 *   baselines  one BASE script call per scope matched by a surge or volume
 *              rule (its hourly roll-ups; skipped without such rules);
 *   round 1    HMGET of every pair's state hash, then the pure rule step
 *              (alr_rule_judge, alr_rule_step) decides each transition;
 *   round 2    LRANGE of the negative ids of the scopes about to alert
 *              (the alert's samples);
 *   round 3    one ALERT script call per transition: a compare-and-set on
 *              the state's `ver`, so that of two instances only one makes a
 *              transition and publishes its alert.
 * A round reads every reply it queued, even after an error reply, so the
 * connection stays in step; when queueing fails the connection is dropped
 * instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_json.h"
#include "alerting/alr_sink_int.h"
#include "core/core_alloc.h"
#include "core/core_log.h"

/* KEYS: hourly roll-ups of one scope, oldest first.
 * ARGV: the number of ranges, then each range's first and last KEYS index
 * (1-based, inclusive; last < first for an empty range). Returns per range
 * {n, negative, hours}: the baselines of the surge and volume rules; hours
 * counts from the first hour with data to the end of the range (a scope
 * seen for the first time 3 hours ago has a 3-hour baseline, not 24). */
const char alr_base_lua[] = "local out = {}\n"
                            "for j = 1, tonumber(ARGV[1]) do\n"
                            "  local a, b = tonumber(ARGV[2 * j]), tonumber(ARGV[2 * j + 1])\n"
                            "  local n, neg, first = 0, 0, b + 1\n"
                            "  for i = a, b do\n"
                            "    local v = redis.call('HMGET', KEYS[i], 'n', 'negative')\n"
                            "    local c = tonumber(v[1]) or 0\n"
                            "    if c > 0 and first > b then first = i end\n"
                            "    n = n + c\n"
                            "    neg = neg + (tonumber(v[2]) or 0)\n"
                            "  end\n"
                            "  out[j] = {n, neg, b + 1 - first}\n"
                            "end\n"
                            "return out\n";

/* KEYS: state hash, alert stream, active set.
 * ARGV: expected ver, state, since, changed, resolved, rule, scope, window,
 * neg_rate, n, active member, alert JSON ('' = silent), maxlen, channel,
 * scope channel, alert id. */
const char alr_alert_lua[] =
    "local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')\n"
    "if ver ~= tonumber(ARGV[1]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[2], 'since', ARGV[3], 'changed', ARGV[4],\n"
    "           'resolved', ARGV[5], 'ver', ver + 1, 'rule', ARGV[6], 'scope', ARGV[7],\n"
    "           'window', ARGV[8], 'neg_rate', ARGV[9], 'n', ARGV[10])\n"
    "if ARGV[2] == 'pending' or ARGV[2] == 'firing' then\n"
    "  redis.call('SADD', KEYS[3], ARGV[11])\n"
    "else\n"
    "  redis.call('SREM', KEYS[3], ARGV[11])\n"
    "end\n"
    "if ARGV[12] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'alert', ARGV[16])\n"
    "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[13], '*', 'alert', ARGV[12])\n"
    "  redis.call('PUBLISH', ARGV[14], ARGV[12])\n"
    "  redis.call('PUBLISH', ARGV[15], ARGV[12])\n"
    "end\n"
    "return 1\n";

/* One (rule, scope) pair under evaluation. */
typedef struct pair {
    size_t rule, scope, win; /* indexes into s->rules, sc->v, s->win */
    alr_rule_state_t cur, next;
    alr_event_t ev;
    alr_counts_t c;
    alr_verdict_t v;
    redisReply *samples; /* round 2's reply, or NULL */
} pair_t;

/* The working set of one evaluation. */
typedef struct round {
    alr_sink_t *s;
    const alr_scopes_t *sc;
    const uint64_t *cnt;  /* see alr_alert_evaluate */
    const uint64_t *base; /* (scope, rule, 3) or NULL: see baselines */
    int64_t now;
    pair_t *pv;
    size_t np;
} round_t;

static int publishes(const pair_t *p)
{
    return p->ev == ALR_EV_FIRE || p->ev == ALR_EV_RESOLVE;
}

static const uint64_t *pair_counts(const round_t *rd, const pair_t *p)
{
    return &rd->cnt[(p->scope * rd->s->win.n + p->win) * 4];
}

static int64_t field_i64(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* ---- baselines --------------------------------------------------------- */

/* rule_ranges lists the distinct baseline hour ranges [rg[k][0], rg[k][1])
 * of the surge and volume rules matching scope (rules with the same window
 * and baseline share one) and which range each rule uses (ridx[r], or
 * SIZE_MAX when rule r does not apply). Returns the number of ranges. */
static size_t rule_ranges(const alr_sink_t *s, const char *scope, int64_t now, int64_t (*rg)[2],
                          size_t *ridx)
{
    size_t nr = 0;
    for (size_t r = 0; r < s->nrules; r++) {
        int64_t f, t;
        size_t k;
        ridx[r] = SIZE_MAX;
        if (!alr_rule_has_baseline(&s->rules[r]) || !alr_rule_matches(&s->rules[r], scope))
            continue;
        alr_rule_baseline_hours(&s->rules[r], now, &f, &t);
        for (k = 0; k < nr && (rg[k][0] != f || rg[k][1] != t); k++)
            ;
        if (k == nr) {
            rg[nr][0] = f;
            rg[nr][1] = t;
            nr++;
        }
        ridx[r] = k;
    }
    return nr;
}

/* append_base queues the BASE call of one scope over the hours its nr
 * ranges span. */
static core_err_t append_base(alr_sink_t *s, const char *scope, int64_t (*rg)[2], size_t nr)
{
    alr_args_t *a = &s->a;
    int64_t lo = INT64_MAX, hi = INT64_MIN;

    for (size_t k = 0; k < nr; k++) {
        lo = rg[k][0] < lo ? rg[k][0] : lo;
        hi = rg[k][1] > hi ? rg[k][1] : hi;
    }
    alr_args_reset(a);
    alr_args_str(a, "EVALSHA");
    alr_args_str(a, s->scripts[ALR_SCRIPT_BASE].sha);
    alr_args_i64(a, hi - lo);
    for (int64_t h = lo; h < hi; h++)
        alr_args_hour(a, s->prefix, scope, h);
    alr_args_i64(a, (int64_t)nr);
    for (size_t k = 0; k < nr; k++) {
        alr_args_i64(a, rg[k][0] - lo + 1);
        alr_args_i64(a, rg[k][1] - lo);
    }
    return alr_args_send(a, s->r);
}

/* store_base copies one scope's BASE reply into base[(i * nrules + rule) *
 * 3 + {n, negative, hours}] for the rules that use each range. */
static void store_base(const alr_sink_t *s, size_t i, const redisReply *rep, const size_t *ridx,
                       size_t nr, uint64_t *base)
{
    for (size_t r = 0; r < s->nrules; r++) {
        const redisReply *x;
        if (ridx[r] == SIZE_MAX || ridx[r] >= rep->elements || ridx[r] >= nr)
            continue;
        x = rep->element[ridx[r]];
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 3)
            continue;
        for (int f = 0; f < 3; f++) {
            const redisReply *y = x->element[f];
            base[(i * s->nrules + r) * 3 + (size_t)f] =
                y->type == REDIS_REPLY_INTEGER && y->integer > 0 ? (uint64_t)y->integer : 0;
        }
    }
}

/* baselines reads, for every scope in sc matched by a surge or volume rule,
 * each such rule's baseline into base (see store_base): one BASE script
 * call per scope over the scope's hourly roll-ups, all pipelined. */
static core_err_t baselines(alr_sink_t *s, const alr_scopes_t *sc, int64_t now, uint64_t *base)
{
    core_err_t rc = CORE_OK;
    unsigned char *asked = core_calloc(sc->n ? sc->n : 1, 1);
    int64_t(*rg)[2] = core_calloc(s->nrules, sizeof *rg);
    size_t *ridx = core_calloc(s->nrules, sizeof *ridx);

    if (!asked || !rg || !ridx) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < sc->n && rc == CORE_OK; i++) {
        size_t nr = rule_ranges(s, sc->v[i], now, rg, ridx);
        if (nr == 0)
            continue;
        rc = append_base(s, sc->v[i], rg, nr);
        if (rc != CORE_OK)
            alr_redis_disconnect(s->r);
        asked[i] = rc == CORE_OK;
    }
    for (size_t i = 0; i < sc->n; i++) {
        redisReply *rep;
        core_err_t e;
        if (!asked[i])
            continue;
        e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK) {
            rc = e;
            break;
        }
        if (rep->type == REDIS_REPLY_ARRAY)
            store_base(s, i, rep, ridx, rule_ranges(s, sc->v[i], now, rg, ridx), base);
        else /* read on: the other replies are in the pipe */
            alr_sink_reply_failed(s, rep, "redis: unexpected reply to the baseline script", &rc);
        freeReplyObject(rep);
    }
out:
    core_free(asked);
    core_free(rg);
    core_free(ridx);
    return rc;
}

/* ---- the rounds -------------------------------------------------------- */

/* collect_pairs lists every (rule, scope) pair a rule matches. */
static core_err_t collect_pairs(round_t *rd)
{
    const alr_sink_t *s = rd->s;
    size_t cap = 0;

    for (size_t i = 0; i < rd->sc->n; i++) {
        for (size_t r = 0; r < s->nrules; r++) {
            pair_t *p;
            if (!alr_rule_matches(&s->rules[r], rd->sc->v[i]))
                continue;
            if (rd->np == cap) {
                size_t nc = cap ? cap * 2 : 16;
                if (!(p = core_realloc(rd->pv, nc * sizeof *p)))
                    return CORE_ENOMEM;
                rd->pv = p;
                cap = nc;
            }
            p = &rd->pv[rd->np++];
            memset(p, 0, sizeof *p);
            p->rule = r;
            p->scope = i;
            /* every rule's window is one of s->win */
            p->win = (size_t)alr_windows_index(&s->win, s->rules[r].window_min);
        }
    }
    return CORE_OK;
}

/* judge takes a pair's state from its HMGET reply and decides its event. */
static void judge(const round_t *rd, pair_t *q, const redisReply *rep)
{
    const alr_rule_t *rule = &rd->s->rules[q->rule];
    const uint64_t *c = pair_counts(rd, q);

    q->cur.state =
        alr_state_parse(rep->element[0]->type == REDIS_REPLY_STRING ? rep->element[0]->str : NULL);
    q->cur.since_ms = field_i64(rep->element[1]);
    q->cur.changed_ms = field_i64(rep->element[2]);
    q->cur.resolved_ms = field_i64(rep->element[3]);
    q->cur.ver = field_i64(rep->element[4]);
    q->c.n = c[0];
    q->c.negative = c[1];
    if (rd->base) {
        const uint64_t *b = &rd->base[(q->scope * rd->s->nrules + q->rule) * 3];
        q->c.base_n = b[0];
        q->c.base_negative = b[1];
        q->c.base_hours = b[2];
    }
    alr_rule_judge(rule, &q->c, &q->v);
    q->ev = alr_rule_step(rule, &q->cur, &q->v, rd->now, &q->next);
}

/* round_states reads every pair's state and judges it; *nt receives the
 * number of transitions. */
static core_err_t round_states(round_t *rd, size_t *nt)
{
    alr_sink_t *s = rd->s;
    alr_args_t *a = &s->a;
    core_err_t rc = CORE_OK;

    *nt = 0;
    for (size_t p = 0; p < rd->np; p++) {
        char rest[ALR_SCOPE_MAX + 72];
        snprintf(rest, sizeof rest, "%s:%s", s->rules[rd->pv[p].rule].name,
                 rd->sc->v[rd->pv[p].scope]);
        alr_args_reset(a);
        alr_args_str(a, "HMGET");
        alr_args_key(a, s->prefix, "alert", rest);
        alr_args_str(a, "state");
        alr_args_str(a, "since");
        alr_args_str(a, "changed");
        alr_args_str(a, "resolved");
        alr_args_str(a, "ver");
        if ((rc = alr_args_send(a, s->r)) != CORE_OK) {
            alr_redis_disconnect(s->r);
            return rc;
        }
    }
    for (size_t p = 0; p < rd->np; p++) {
        redisReply *rep;
        core_err_t e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK)
            return e;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
            judge(rd, &rd->pv[p], rep);
            *nt += rd->pv[p].ev != ALR_EV_NONE;
        } else {
            alr_sink_reply_failed(s, rep, "redis: unexpected reply to HMGET of an alert state",
                                  &rc);
        }
        freeReplyObject(rep);
    }
    return rc;
}

/* round_samples reads the newest negative ids of the scopes whose pairs
 * publish an alert. */
static core_err_t round_samples(round_t *rd)
{
    alr_sink_t *s = rd->s;
    alr_args_t *a = &s->a;
    core_err_t rc;

    for (size_t p = 0; p < rd->np; p++) {
        if (!publishes(&rd->pv[p]))
            continue;
        alr_args_reset(a);
        alr_args_str(a, "LRANGE");
        alr_args_key(a, s->prefix, "neg", rd->sc->v[rd->pv[p].scope]);
        alr_args_str(a, "0");
        alr_args_i64(a, ALR_ALERT_SAMPLES - 1);
        if ((rc = alr_args_send(a, s->r)) != CORE_OK) {
            alr_redis_disconnect(s->r);
            return rc;
        }
    }
    for (size_t p = 0; p < rd->np; p++) {
        if (publishes(&rd->pv[p]) && (rc = alr_redis_read(s->r, &rd->pv[p].samples)) != CORE_OK)
            return rc;
    }
    return CORE_OK;
}

/* alert_json writes the alert a publishing pair sends (*json malloc'd). */
static core_err_t alert_json(const alr_sink_t *s, const pair_t *p, const char *scope,
                             const uint64_t *c, int64_t now, const char *id, char **json)
{
    const alr_rule_t *r = &s->rules[p->rule];
    char baseline[16];
    alr_alert_t al;

    memset(&al, 0, sizeof al);
    snprintf(al.id, sizeof al.id, "%s", id);
    al.rule = r->name;
    al.scope = scope;
    al.window = s->win.name[p->win];
    al.state = p->ev == ALR_EV_FIRE ? "firing" : "resolved";
    al.basis = alr_basis_name(r->basis);
    al.n = c[0];
    al.negative = c[1];
    al.neg_rate = c[0] ? (double)c[1] / (double)c[0] : 0.0;
    al.value = p->v.value;
    al.threshold = p->v.threshold;
    al.clear = p->v.clear_at;
    if (p->v.with_baseline) {
        alr_window_name(r->baseline_h * 60, baseline, sizeof baseline);
        al.with_baseline = 1;
        al.fallback = p->v.fallback;
        al.baseline = baseline;
        al.baseline_n = p->c.base_n;
        al.baseline_negative = p->c.base_negative;
        al.baseline_share = p->v.baseline_share;
        al.lift = p->v.lift;
        al.expected = p->v.expected;
        al.ratio = p->v.ratio;
        al.p_value = p->v.p_value;
    }
    al.since_ms = p->next.since_ms;
    al.ts_ms = now;
    for (size_t i = 0; p->samples && p->samples->type == REDIS_REPLY_ARRAY &&
                       i < p->samples->elements && al.n_samples < ALR_ALERT_SAMPLES;
         i++) {
        if (p->samples->element[i]->type == REDIS_REPLY_STRING)
            al.samples[al.n_samples++] = p->samples->element[i]->str;
    }
    return alr_json_alert(&al, json);
}

/* append_alert queues the ALERT script call of one transition: the state
 * change, and for a fire or resolve the alert itself. */
static core_err_t append_alert(alr_sink_t *s, const pair_t *p, const char *scope, const uint64_t *c,
                               int64_t now)
{
    const alr_rule_t *r = &s->rules[p->rule];
    char member[ALR_SCOPE_MAX + 72], rate[32], id[64];
    char *json = NULL;
    alr_args_t *a = &s->a;
    core_err_t rc;

    snprintf(id, sizeof id, "%s-%" PRIx64, s->instance, ++s->alert_seq);
    snprintf(member, sizeof member, "%s:%s", r->name, scope);
    snprintf(rate, sizeof rate, "%.4f", c[0] ? (double)c[1] / (double)c[0] : 0.0);
    if (publishes(p) && (rc = alert_json(s, p, scope, c, now, id, &json)) != CORE_OK)
        return rc;
    alr_args_reset(a);
    alr_args_str(a, "EVALSHA");
    alr_args_str(a, s->scripts[ALR_SCRIPT_ALERT].sha);
    alr_args_str(a, "3");
    alr_args_key(a, s->prefix, "alert", member);
    alr_args_key(a, s->prefix, "alerts:log", NULL);
    alr_args_key(a, s->prefix, "alerts:active", NULL);
    alr_args_i64(a, p->cur.ver);
    alr_args_str(a, alr_state_name(p->next.state));
    alr_args_i64(a, p->next.since_ms);
    alr_args_i64(a, p->next.changed_ms);
    alr_args_i64(a, p->next.resolved_ms);
    alr_args_str(a, r->name);
    alr_args_str(a, scope);
    alr_args_str(a, s->win.name[p->win]);
    alr_args_str(a, rate);
    alr_args_i64(a, (int64_t)c[0]);
    alr_args_str(a, member);
    alr_args_str(a, json ? json : "");
    alr_args_i64(a, s->alerts_log_max);
    alr_args_key(a, s->prefix, "alerts", NULL);
    alr_args_key(a, s->prefix, "alerts", scope);
    alr_args_str(a, id);
    core_free(json);
    return alr_args_send(a, s->r);
}

/* published counts and logs an alert this instance made. */
static void published(alr_sink_t *s, const round_t *rd, const pair_t *p, size_t *fired,
                      size_t *resolved)
{
    const char *rule = s->rules[p->rule].name, *scope = rd->sc->v[p->scope];
    if (p->ev == ALR_EV_FIRE) {
        (*fired)++;
        core_counter_add(s->m_fired, 1);
        CORE_INFO("alerting", "alert firing: rule %s scope %s", rule, scope);
    } else if (p->ev == ALR_EV_RESOLVE) {
        (*resolved)++;
        core_counter_add(s->m_resolved, 1);
        CORE_INFO("alerting", "alert resolved: rule %s scope %s", rule, scope);
    }
}

/* round_transitions runs the compare-and-set of every transition; a pair
 * whose `ver` moved meanwhile (another instance made it) is skipped. */
static core_err_t round_transitions(round_t *rd, size_t *fired, size_t *resolved)
{
    alr_sink_t *s = rd->s;
    core_err_t rc = CORE_OK;

    for (size_t p = 0; p < rd->np; p++) {
        const pair_t *q = &rd->pv[p];
        if (q->ev == ALR_EV_NONE)
            continue;
        rc = append_alert(s, q, rd->sc->v[q->scope], pair_counts(rd, q), rd->now);
        if (rc != CORE_OK) {
            alr_redis_disconnect(s->r);
            return rc;
        }
    }
    for (size_t p = 0; p < rd->np; p++) {
        redisReply *rep;
        core_err_t e;
        if (rd->pv[p].ev == ALR_EV_NONE)
            continue;
        if ((e = alr_redis_read(s->r, &rep)) != CORE_OK)
            return e;
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
            published(s, rd, &rd->pv[p], fired, resolved);
        else if (rep->type != REDIS_REPLY_INTEGER)
            alr_sink_reply_failed(s, rep, "redis: unexpected reply to the alert script", &rc);
        freeReplyObject(rep);
    }
    return rc;
}

core_err_t alr_alert_evaluate(alr_sink_t *s, const alr_scopes_t *sc, const uint64_t *cnt,
                              int64_t now, size_t *fired, size_t *resolved)
{
    round_t rd = {.s = s, .sc = sc, .cnt = cnt, .now = now};
    uint64_t *base = NULL;
    size_t nt = 0;
    core_err_t rc;

    if (sc->n == 0 || s->nrules == 0)
        return CORE_OK;
    if (s->nbase_rules > 0) {
        if (!(base = core_calloc(sc->n * s->nrules * 3, sizeof *base)))
            return CORE_ENOMEM;
        rd.base = base;
        if ((rc = baselines(s, sc, now, base)) != CORE_OK)
            goto out;
    }
    rc = collect_pairs(&rd);
    if (rc == CORE_OK && rd.np > 0)
        rc = round_states(&rd, &nt);
    if (rc == CORE_OK && nt > 0)
        rc = round_samples(&rd);
    if (rc == CORE_OK && nt > 0)
        rc = round_transitions(&rd, fired, resolved);
out:
    for (size_t p = 0; p < rd.np; p++) {
        if (rd.pv[p].samples)
            freeReplyObject(rd.pv[p].samples);
    }
    core_free(rd.pv);
    core_free(base);
    return rc;
}
