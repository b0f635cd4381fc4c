/* app_backtest: shift, labels and the report of `finsent backtest`; see
 * app_backtest.h. Pure: no clock, no Redis, no files. */
#include "app/app_backtest.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_read.h"
#include "core/core_time.h"

int64_t app_bt_shift_ms(int64_t now_ms, int64_t max_ts_ms)
{
    int64_t gap = now_ms - max_ts_ms;
    if (gap <= 0)
        return 0;
    return gap / APP_BT_DAY_MS * APP_BT_DAY_MS;
}

char *app_bt_duration(int64_t ms, char *out, size_t cap)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'d', APP_BT_DAY_MS}, {'h', 3600000}, {'m', 60000}, {'s', 1000}};
    uint64_t left;
    size_t o = 0;

    if (cap == 0)
        return out;
    out[0] = '\0';
    if (ms < 0 && o + 1 < cap)
        out[o++] = '-';
    left = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (left < 1000) {
        snprintf(out + o, cap - o, left ? "%" PRIu64 "ms" : "0s", left);
        return out;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && o < cap; i++) {
        uint64_t q = left / (uint64_t)units[i].ms;
        if (q == 0)
            continue;
        left -= q * (uint64_t)units[i].ms;
        o += (size_t)snprintf(out + o, cap - o, "%" PRIu64 "%c", q, units[i].unit);
    }
    return out;
}

/* ---- labels ------------------------------------------------------------ */

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int parse_time(const char *s, int64_t *ms)
{
    return core_time_parse_rfc3339(s, ms) == CORE_OK || core_time_parse_epoch_ms(s, ms) == CORE_OK;
}

core_err_t app_bt_labels_parse(const char *name, const char *text, size_t len, app_bt_label_t **out,
                               size_t *n, char *err, size_t errlen)
{
    app_bt_label_t *v = NULL;
    size_t nv = 0, cap = 0, line = 0, pos = 0;
    int seen_data = 0;
    core_err_t rc = CORE_OK;
    char buf[1024];

    *out = NULL;
    *n = 0;
    while (pos < len) {
        size_t end = pos, ll;
        char *s, *f[4];
        int nf = 0;
        char sep;

        while (end < len && text[end] != '\n')
            end++;
        ll = end - pos;
        line++;
        if (ll >= sizeof buf) {
            snprintf(err, errlen, "%s:%zu: line longer than %zu bytes", name, line, sizeof buf - 1);
            rc = CORE_EPARSE;
            goto out;
        }
        memcpy(buf, text + pos, ll);
        buf[ll] = '\0';
        pos = end < len ? end + 1 : end;
        if (memchr(buf, '\0', ll)) {
            snprintf(err, errlen, "%s:%zu: a NUL byte in the line", name, line);
            rc = CORE_EPARSE;
            goto out;
        }
        s = trim(buf);
        if (*s == '\0' || *s == '#')
            continue;
        sep = strchr(s, '\t') ? '\t' : ',';
        for (char *p = s; nf < 4;) {
            char *q = strchr(p, sep);
            if (q)
                *q = '\0';
            f[nf++] = trim(p);
            if (!q)
                break;
            p = q + 1;
        }
        if (nf != 3) {
            snprintf(err, errlen,
                     "%s:%zu: expected 3 fields 'scope,start,end' (comma or tab separated), "
                     "found %s%d",
                     name, line, nf > 3 ? "more than " : "", nf > 3 ? 3 : nf);
            rc = CORE_EPARSE;
            goto out;
        }
        if (!seen_data && strcmp(f[0], "scope") == 0 && strcmp(f[1], "start") == 0 &&
            strcmp(f[2], "end") == 0) {
            seen_data = 1;
            continue; /* a header line */
        }
        seen_data = 1;
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 16;
            app_bt_label_t *nvp = realloc(v, nc * sizeof *nvp);
            if (!nvp) {
                snprintf(err, errlen, "out of memory");
                rc = CORE_ENOMEM;
                goto out;
            }
            v = nvp;
            cap = nc;
        }
        {
            app_bt_label_t *l = &v[nv];
            char why[256];
            memset(l, 0, sizeof *l);
            l->line = line;
            if (alr_read_scope_normalize(f[0], l->scope, sizeof l->scope, why, sizeof why) !=
                CORE_OK) {
                snprintf(err, errlen, "%s:%zu: %s", name, line, why);
                rc = CORE_EPARSE;
                goto out;
            }
            if (!parse_time(f[1], &l->start_ms) || !parse_time(f[2], &l->end_ms)) {
                int start_bad = !parse_time(f[1], &l->start_ms);
                snprintf(err, errlen,
                         "%s:%zu: %s '%s' is neither an RFC 3339 time "
                         "(2026-11-28T15:10:00Z) nor epoch milliseconds",
                         name, line, start_bad ? "start" : "end", start_bad ? f[1] : f[2]);
                rc = CORE_EPARSE;
                goto out;
            }
            if (l->end_ms < l->start_ms) {
                snprintf(err, errlen, "%s:%zu: end '%s' is before start '%s'", name, line, f[2],
                         f[1]);
                rc = CORE_EPARSE;
                goto out;
            }
        }
        nv++;
    }
    *out = v;
    *n = nv;
    v = NULL;
out:
    free(v);
    return rc;
}

/* ---- report ------------------------------------------------------------ */

/* unshift rewrites the RFC 3339 string field key of o moved back by shift. */
static int unshift(json_t *o, const char *key, int64_t shift_ms, int64_t *ms)
{
    const char *s = json_string_value(json_object_get(o, key));
    char buf[32];
    int64_t t;
    if (!s || core_time_parse_rfc3339(s, &t) != CORE_OK)
        return 0;
    t -= shift_ms;
    if (ms)
        *ms = t;
    core_time_format_rfc3339(t, buf, sizeof buf);
    return json_object_set_new(o, key, json_string(buf)) == 0;
}

static json_t *time_str(int64_t ms)
{
    char buf[32];
    core_time_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static int64_t time_of(const json_t *a)
{
    int64_t t = 0;
    const char *s = json_string_value(json_object_get(a, "ts"));
    if (s)
        core_time_parse_rfc3339(s, &t);
    return t;
}

static const char *sfield(const json_t *a, const char *key)
{
    const char *s = json_string_value(json_object_get(a, key));
    return s ? s : "";
}

static int is_firing(const json_t *a)
{
    return strcmp(sfield(a, "state"), "firing") == 0;
}

/* rule_summary builds the "rules" entry of rule r over the report's alerts
 * (history time). */
static json_t *rule_summary(const app_bt_run_t *run, const json_t *alerts, const app_bt_rule_t *br,
                            const app_bt_label_t *labels, size_t nlabels)
{
    const alr_rule_t *r = br->rule;
    json_t *o = json_object(), *scopes = json_array(), *open = json_object();
    size_t fired = 0, resolved = 0, i;
    int64_t firing_ms = 0, span = run->to_ms - run->from_ms;
    int64_t window_ms = (int64_t)r->window_min * 60000;
    char wname[16];
    const char *key;
    json_t *a, *v;
    int bad = !o || !scopes || !open;

    alr_window_name(r->window_min, wname, sizeof wname);
    json_array_foreach(alerts, i, a)
    {
        const char *scope = sfield(a, "scope");
        int64_t t = time_of(a);
        if (strcmp(sfield(a, "rule"), r->name) != 0)
            continue;
        if (is_firing(a)) {
            size_t j;
            json_t *s;
            int dup = 0;
            fired++;
            bad |= json_object_set_new(open, scope, json_integer((json_int_t)t));
            json_array_foreach(scopes, j, s) dup |= strcmp(json_string_value(s), scope) == 0;
            if (!dup)
                bad |= json_array_append_new(scopes, json_string(scope));
        } else if (strcmp(sfield(a, "state"), "resolved") == 0) {
            json_t *since = json_object_get(open, scope);
            resolved++;
            if (since) {
                firing_ms += t - (int64_t)json_integer_value(since);
                json_object_del(open, scope);
            }
        }
    }
    json_object_foreach(open, key, v)
    {
        int64_t t = (int64_t)json_integer_value(v);
        if (run->to_ms > t)
            firing_ms += run->to_ms - t;
    }
    bad |= json_object_set_new(o, "rule", json_string(r->name));
    bad |= json_object_set_new(o, "basis", json_string(br->basis));
    bad |= json_object_set_new(o, "window", json_string(wname));
    bad |= json_object_set_new(o, "fired", json_integer((json_int_t)fired));
    bad |= json_object_set_new(o, "resolved", json_integer((json_int_t)resolved));
    bad |= json_object_set_new(o, "per_day",
                               span >= 60000
                                   ? json_real((double)fired * (double)APP_BT_DAY_MS / (double)span)
                                   : json_null());
    bad |= json_object_set_new(o, "firing_ms", json_integer((json_int_t)firing_ms));
    bad |= json_object_set_new(o, "scopes", json_integer((json_int_t)json_array_size(scopes)));
    bad |= json_object_set_new(o, "scope_list", scopes);
    scopes = NULL;

    if (run->labels_file) {
        json_t *lab = json_object(), *detail = json_array();
        size_t events = 0, caught = 0, false_alerts = 0;
        bad |= !lab || !detail;
        for (size_t k = 0; k < nlabels && !bad; k++) {
            const app_bt_label_t *l = &labels[k];
            json_t *d = json_object();
            int64_t first = 0;
            int hit = 0;
            if (!alr_rule_matches(r, l->scope)) {
                json_decref(d);
                continue;
            }
            events++;
            json_array_foreach(alerts, i, a)
            {
                int64_t t = time_of(a);
                if (strcmp(sfield(a, "rule"), r->name) != 0 || !is_firing(a) ||
                    strcmp(sfield(a, "scope"), l->scope) != 0)
                    continue;
                if (t >= l->start_ms && t <= l->end_ms + window_ms) {
                    hit = 1;
                    first = t;
                    break;
                }
            }
            caught += (size_t)hit;
            bad |= !d;
            bad |= d && json_object_set_new(d, "scope", json_string(l->scope));
            bad |= d && json_object_set_new(d, "start", time_str(l->start_ms));
            bad |= d && json_object_set_new(d, "end", time_str(l->end_ms));
            bad |= d && json_object_set_new(d, "line", json_integer((json_int_t)l->line));
            bad |= d && json_object_set_new(d, "caught", json_boolean(hit));
            if (hit) {
                bad |= d && json_object_set_new(d, "fired", time_str(first));
                bad |= d && json_object_set_new(d, "lag_ms", json_integer(first - l->start_ms));
            }
            bad |= json_array_append_new(detail, d);
        }
        json_array_foreach(alerts, i, a)
        {
            int64_t t = time_of(a);
            int hit = 0;
            if (strcmp(sfield(a, "rule"), r->name) != 0 || !is_firing(a))
                continue;
            for (size_t k = 0; k < nlabels && !hit; k++) {
                const app_bt_label_t *l = &labels[k];
                hit = strcmp(sfield(a, "scope"), l->scope) == 0 && t >= l->start_ms &&
                      t <= l->end_ms + window_ms;
            }
            false_alerts += (size_t)!hit;
        }
        bad |= lab && json_object_set_new(lab, "events", json_integer((json_int_t)events));
        bad |= lab && json_object_set_new(lab, "caught", json_integer((json_int_t)caught));
        bad |=
            lab && json_object_set_new(lab, "missed", json_integer((json_int_t)(events - caught)));
        bad |=
            lab && json_object_set_new(lab, "false_alerts", json_integer((json_int_t)false_alerts));
        bad |= lab && json_object_set_new(lab, "detail", detail);
        bad |= json_object_set_new(o, "labels", lab);
    }
    json_decref(open);
    json_decref(scopes);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An alert of the report with its sort key. */
typedef struct sorted {
    json_t *a;
    int64_t ts;
    size_t order; /* stream order */
} sorted_t;

static int by_ts_rule_scope(const void *x, const void *y)
{
    const sorted_t *p = x, *q = y;
    int c;
    if (p->ts != q->ts)
        return p->ts < q->ts ? -1 : 1;
    c = strcmp(sfield(p->a, "rule"), sfield(q->a, "rule"));
    if (c == 0)
        c = strcmp(sfield(p->a, "scope"), sfield(q->a, "scope"));
    if (c == 0)
        c = p->order < q->order ? -1 : p->order > q->order;
    return c;
}

core_err_t app_bt_report(const app_bt_run_t *run, const json_t *alerts, const app_bt_rule_t *rules,
                         size_t nrules, const app_bt_label_t *labels, size_t nlabels, json_t **out)
{
    json_t *o = json_object(), *arr = json_array(), *rs = json_array(), *a;
    sorted_t *v = calloc(json_array_size(alerts) + 1, sizeof *v);
    size_t i, nv = 0;
    int bad = !o || !arr || !rs || !v;

    *out = NULL;
    json_array_foreach(alerts, i, a)
    {
        json_t *c;
        if (bad)
            break;
        if (!json_is_object(a) || !json_is_string(json_object_get(a, "rule")) ||
            !json_is_string(json_object_get(a, "ts")))
            continue;
        c = json_deep_copy(a);
        if (!c) {
            bad = 1;
            break;
        }
        /* The id is random per replay (it names the sink instance): a
         * report of the same history must read the same. */
        json_object_del(c, "id");
        json_object_del(c, "stream_id");
        unshift(c, "ts", run->shift_ms, NULL);
        unshift(c, "since", run->shift_ms, NULL);
        v[nv].a = c;
        v[nv].ts = time_of(c);
        v[nv].order = nv;
        nv++;
    }
    /* Transitions of one evaluation reach the stream in the order Redis
     * lists the scopes (SPOP, SMEMBERS: not stable between runs); the
     * report orders them by time, then rule and scope. */
    qsort(v, nv, sizeof *v, by_ts_rule_scope);
    for (i = 0; i < nv; i++) {
        bad |= json_array_append_new(arr, v[i].a);
        v[i].a = NULL;
    }
    free(v);
    bad |= json_object_set_new(o, "input", json_string(run->input ? run->input : "-"));
    bad |= json_object_set_new(o, "messages", json_integer((json_int_t)run->messages));
    bad |= json_object_set_new(o, "skipped", json_integer((json_int_t)run->skipped));
    bad |= json_object_set_new(o, "counted", json_integer((json_int_t)run->counted));
    bad |= json_object_set_new(o, "duplicate", json_integer((json_int_t)run->duplicate));
    bad |= json_object_set_new(o, "not_counted", json_integer((json_int_t)run->not_counted));
    bad |= json_object_set_new(o, "from", time_str(run->from_ms));
    bad |= json_object_set_new(o, "to", time_str(run->to_ms));
    bad |= json_object_set_new(o, "span_ms", json_integer(run->to_ms - run->from_ms));
    bad |= json_object_set_new(o, "shift_days", json_integer(run->shift_ms / APP_BT_DAY_MS));
    for (size_t k = 0; k < nrules && !bad; k++)
        bad |= json_array_append_new(rs, rule_summary(run, arr, &rules[k], labels, nlabels));
    bad |= json_object_set(o, "alerts", arr);
    bad |= json_object_set(o, "rules", rs);
    if (run->labels_file) {
        bad |= json_object_set_new(
            o, "labels",
            json_pack("{s:s, s:I}", "file", run->labels_file, "events", (json_int_t)nlabels));
    }
    json_decref(arr);
    json_decref(rs);
    if (bad) {
        json_decref(o);
        return CORE_ENOMEM;
    }
    *out = o;
    return CORE_OK;
}

/* ---- text -------------------------------------------------------------- */

static const char *const VALUE_KEYS[] = {"n",         "negative",       "neg_rate",   "value",
                                         "threshold", "baseline_share", "baseline_n", "lift",
                                         "ratio",     "expected",       "p_value"};

/* Fields that are not values of the judgement (or are printed elsewhere). */
static const char *const SKIP_KEYS[] = {"id",    "stream_id", "rule", "scope", "window", "state",
                                        "basis", "since",     "ts",   "clear", "samples"};

static int in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k, list[i]) == 0)
            return 1;
    }
    return 0;
}

static size_t put_value(char *out, size_t cap, size_t o, const char *k, const json_t *v)
{
    int w = 0;
    if (o >= cap)
        return o;
    if (json_is_integer(v))
        w = snprintf(out + o, cap - o, "%s%s=%" JSON_INTEGER_FORMAT, o ? " " : "", k,
                     json_integer_value(v));
    else if (json_is_real(v))
        w = snprintf(out + o, cap - o, "%s%s=%.6g", o ? " " : "", k, json_real_value(v));
    else if (json_is_true(v))
        w = snprintf(out + o, cap - o, "%s%s", o ? " " : "", k);
    return w > 0 ? o + (size_t)w : o;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void app_bt_values(const json_t *alert, char *out, size_t cap)
{
    const size_t nv = sizeof VALUE_KEYS / sizeof VALUE_KEYS[0];
    const char *extra[64], *k;
    size_t o = 0, ne = 0;
    json_t *v;

    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < nv; i++) {
        v = json_object_get(alert, VALUE_KEYS[i]);
        if (v && json_is_number(v))
            o = put_value(out, cap, o, VALUE_KEYS[i], v);
    }
    json_object_foreach((json_t *)alert, k, v)
    {
        if (ne < sizeof extra / sizeof extra[0] && !in_list(k, VALUE_KEYS, nv) &&
            !in_list(k, SKIP_KEYS, sizeof SKIP_KEYS / sizeof SKIP_KEYS[0]) &&
            (json_is_number(v) || json_is_true(v)))
            extra[ne++] = k;
    }
    qsort(extra, ne, sizeof extra[0], cmp_str);
    for (size_t i = 0; i < ne; i++)
        o = put_value(out, cap, o, extra[i], json_object_get(alert, extra[i]));
}

static int width(const json_t *arr, const char *key, int min)
{
    size_t i;
    json_t *a;
    int w = min;
    json_array_foreach(arr, i, a)
    {
        int l = (int)strlen(sfield(a, key));
        if (l > w)
            w = l;
    }
    return w;
}

static int64_t ifield(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

void app_bt_print_text(const json_t *report, FILE *out)
{
    const json_t *alerts = json_object_get(report, "alerts"),
                 *rules = json_object_get(report, "rules"),
                 *labels = json_object_get(report, "labels");
    int wr = width(rules, "rule", 4), ws = width(alerts, "scope", 5);
    char d1[48], d2[48];
    size_t i;
    json_t *a;

    fprintf(out,
            "input: %s: %" PRId64 " messages, %" PRId64 " bad line(s) skipped; %" PRId64
            " counted, %" PRId64 " duplicate id(s), %" PRId64 " not counted\n",
            sfield(report, "input"), ifield(report, "messages"), ifield(report, "skipped"),
            ifield(report, "counted"), ifield(report, "duplicate"), ifield(report, "not_counted"));
    fprintf(out,
            "history: %s .. %s (%s); replayed %" PRId64
            " day(s) later in Redis, times below are the history's\n\n",
            sfield(report, "from"), sfield(report, "to"),
            app_bt_duration(ifield(report, "span_ms"), d1, sizeof d1),
            ifield(report, "shift_days"));

    fprintf(out, "%-24s  %-*s  %-*s  %-8s  %-6s  %s\n", "TIME", wr, "RULE", ws, "SCOPE", "STATE",
            "BASIS", "VALUES");
    json_array_foreach(alerts, i, a)
    {
        char vals[1024];
        app_bt_values(a, vals, sizeof vals);
        fprintf(out, "%-24s  %-*s  %-*s  %-8s  %-6s  %s\n", sfield(a, "ts"), wr, sfield(a, "rule"),
                ws, sfield(a, "scope"), sfield(a, "state"), sfield(a, "basis"), vals);
    }
    if (json_array_size(alerts) == 0)
        fprintf(out, "(no alerts)\n");

    fprintf(out, "\n%-*s  %-6s  %-6s  %5s  %8s  %-12s  %s\n", wr, "RULE", "BASIS", "WINDOW",
            "FIRED", "PER_DAY", "FIRING_TIME", "SCOPES");
    json_array_foreach(rules, i, a)
    {
        const json_t *pd = json_object_get(a, "per_day");
        char perday[32];
        if (json_is_number(pd))
            snprintf(perday, sizeof perday, "%.1f", json_number_value(pd));
        else
            snprintf(perday, sizeof perday, "-");
        fprintf(out, "%-*s  %-6s  %-6s  %5" PRId64 "  %8s  %-12s  %" PRId64 "\n", wr,
                sfield(a, "rule"), sfield(a, "basis"), sfield(a, "window"), ifield(a, "fired"),
                perday, app_bt_duration(ifield(a, "firing_ms"), d1, sizeof d1),
                ifield(a, "scopes"));
    }
    if (!labels)
        return;

    fprintf(out, "\nlabels: %s (%" PRId64 " event(s))\n", sfield(labels, "file"),
            ifield(labels, "events"));
    fprintf(out, "%-*s  %6s  %6s  %6s  %12s\n", wr, "RULE", "EVENTS", "CAUGHT", "MISSED",
            "FALSE_ALERTS");
    json_array_foreach(rules, i, a)
    {
        const json_t *l = json_object_get(a, "labels");
        fprintf(out, "%-*s  %6" PRId64 "  %6" PRId64 "  %6" PRId64 "  %12" PRId64 "\n", wr,
                sfield(a, "rule"), ifield(l, "events"), ifield(l, "caught"), ifield(l, "missed"),
                ifield(l, "false_alerts"));
    }
    json_array_foreach(rules, i, a)
    {
        const json_t *detail = json_object_get(json_object_get(a, "labels"), "detail"), *d;
        size_t j;
        json_array_foreach(detail, j, d)
        {
            int caught = json_is_true(json_object_get(d, "caught"));
            fprintf(out, "  %-*s  %-*s  %s .. %s  %s", wr, sfield(a, "rule"), ws,
                    sfield(d, "scope"), sfield(d, "start"), sfield(d, "end"),
                    caught ? "caught" : "missed");
            if (caught) {
                int64_t lag = ifield(d, "lag_ms");
                app_bt_duration(lag, d2, sizeof d2);
                fprintf(out, " at %s (lag %s%s)", sfield(d, "fired"), lag >= 0 ? "+" : "", d2);
            }
            fputc('\n', out);
        }
    }
}
