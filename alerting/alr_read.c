/*
 * alr_read: read-only queries over the documented keys; see alr_read.h.
 *
 * Each query takes the reader's mutex, connects if needed (one attempt),
 * pipelines its reads (one round trip for the keys it names, after at most
 * one round trip to learn their names) and builds the answer with jansson.
 * A connection that failed is dropped by alr_redis and re-made by the next
 * query; error replies are reported as CORE_EREDIS with Redis' text.
 */
#include "alerting/alr_read.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_redis_int.h"
#include "alerting/alr_rule.h"
#include "alerting/alr_windows_int.h"
#include "core/core_time.h"

/* A scope is "current" for a window when its last event is at most this
 * much older than the window (the sink keeps refreshing it until then). */
#define CURRENT_MARGIN_MS 180000
/* How long a query waits for another one to finish before answering
 * CORE_EAGAIN, and the reader's caps on the [redis] timeouts (a dashboard
 * query should fail fast rather than hold an HTTP thread). */
#define LOCK_WAIT_MS 250
#define CONNECT_TIMEOUT_CAP_MS 1000
#define COMMAND_TIMEOUT_CAP_MS 2000
/* Commands alr_read_bucket_rates pipelines per round trip (at least one
 * scope's worth). */
#define BUCKET_PIPELINE 8192

struct alr_reader {
    pthread_mutex_t mu;
    alr_redis_t *r;
    char prefix[64];
    alr_windows_t win;
    long recent_max;
    int64_t (*now)(void *);
    void *now_ctx;
};

static int64_t wall_now(void *ctx)
{
    (void)ctx;
    return core_time_now_ms();
}

core_err_t alr_reader_new(const core_config_t *cfg, alr_reader_t **out, char *err, size_t errlen)
{
    alr_reader_t *r = calloc(1, sizeof *r);
    alr_redis_opts_t o;
    alr_rule_t *rules = NULL;
    size_t nrules = 0;
    core_err_t rc;

    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return CORE_ENOMEM;
    }
    r->now = wall_now;
    if (strlen(core_config_str(cfg, CORE_CFG_REDIS_PREFIX)) >= sizeof r->prefix) {
        snprintf(err, errlen, "[redis] prefix: longer than %zu bytes", sizeof r->prefix - 1);
        rc = CORE_ECONFIG;
        goto out;
    }
    snprintf(r->prefix, sizeof r->prefix, "%s", core_config_str(cfg, CORE_CFG_REDIS_PREFIX));
    r->recent_max = (long)core_config_int(cfg, CORE_CFG_REDIS_RECENT_MAX);
    /* The sink's windows, by the sink's rules: the same set or the same
     * error. */
    if ((rc = alr_rules_load(cfg, &rules, &nrules, err, errlen)) != CORE_OK ||
        (rc = alr_windows_from_config(cfg, rules, nrules, &r->win, err, errlen)) != CORE_OK)
        goto out;
    alr_redis_opts_from_config(cfg, &o);
    if (o.connect_timeout_ms > CONNECT_TIMEOUT_CAP_MS)
        o.connect_timeout_ms = CONNECT_TIMEOUT_CAP_MS;
    if (o.command_timeout_ms > COMMAND_TIMEOUT_CAP_MS)
        o.command_timeout_ms = COMMAND_TIMEOUT_CAP_MS;
    rc = alr_redis_new(&o, &r->r);
    if (rc != CORE_OK)
        goto out;
    *out = r;
    r = NULL;
out:
    free(rules);
    alr_reader_free(r);
    return rc;
}

void alr_reader_free(alr_reader_t *r)
{
    if (!r)
        return;
    alr_redis_free(r->r);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void alr_reader_set_clock(alr_reader_t *r, int64_t (*now)(void *ctx), void *ctx)
{
    r->now = now ? now : wall_now;
    r->now_ctx = ctx;
}

int64_t alr_reader_now(const alr_reader_t *r)
{
    return r->now(r->now_ctx);
}

size_t alr_reader_windows(const alr_reader_t *r, const int **minutes)
{
    *minutes = r->win.min;
    return r->win.n;
}

/* ---- pure helpers ------------------------------------------------------ */

core_err_t alr_read_scope_normalize(const char *in, char *out, size_t cap, char *err, size_t errlen)
{
    if (!in || !*in) {
        snprintf(err, errlen, "scope: missing; use all, topic:NAME or entity:TICKER");
        return CORE_EINVAL;
    }
    if (strlen(in) >= ALR_SCOPE_MAX) {
        snprintf(err, errlen, "scope: longer than %d bytes", ALR_SCOPE_MAX - 1);
        return CORE_EINVAL;
    }
    if (strcmp(in, "all") == 0) {
        snprintf(out, cap, "all");
        return CORE_OK;
    }
    if (strncmp(in, "topic:", 6) == 0) {
        if (alr_scope_topic(in + 6, out, cap) == 0) {
            snprintf(err, errlen, "scope: topic '%s' has no letter or digit", in + 6);
            return CORE_EINVAL;
        }
        return CORE_OK;
    }
    if (strncmp(in, "entity:", 7) == 0) {
        const char *t = in + 7;
        if (!*t) {
            snprintf(err, errlen, "scope: entity needs a ticker (entity:ACME)");
            return CORE_EINVAL;
        }
        for (const char *p = t; *p; p++) {
            char c = *p;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_')) {
                snprintf(err, errlen,
                         "scope: ticker '%s' may hold only letters, digits, '.', "
                         "'-' and '_'",
                         t);
                return CORE_EINVAL;
            }
        }
        if (alr_scope_entity(t, out, cap) == 0) {
            snprintf(err, errlen, "scope: ticker '%s' does not fit", t);
            return CORE_EINVAL;
        }
        return CORE_OK;
    }
    snprintf(err, errlen, "scope '%s': use all, topic:NAME or entity:TICKER", in);
    return CORE_EINVAL;
}

core_err_t alr_read_series_plan(int64_t from_ms, int64_t to_ms, int step_min, int64_t *first_minute,
                                size_t *npoints, char *err, size_t errlen)
{
    int64_t fm, tm, first, points;

    if (step_min < 1) {
        snprintf(err, errlen, "step: must be a whole number of minutes, at least 1m");
        return CORE_EINVAL;
    }
    if (from_ms > to_ms) {
        snprintf(err, errlen, "time range: from is after to");
        return CORE_EINVAL;
    }
    fm = alr_minute(from_ms);
    tm = alr_minute(to_ms);
    /* The cap applies to the requested minutes; aligning the grid adds at
     * most step_min - 1 more (so a read stays under 2 * the cap). */
    if (tm - fm + 1 > ALR_READ_MAX_BUCKETS) {
        snprintf(err, errlen, "time range: %" PRId64 " minutes; at most %d (7 days)", tm - fm + 1,
                 ALR_READ_MAX_BUCKETS);
        return CORE_ETOO_LARGE;
    }
    first = fm - ((fm % step_min) + step_min) % step_min;
    points = (tm - first) / step_min + 1;
    if (points > ALR_READ_MAX_POINTS) {
        snprintf(err, errlen,
                 "time range: %" PRId64 " points at step %dm; at most %d (use a "
                 "larger step)",
                 points, step_min, ALR_READ_MAX_POINTS);
        return CORE_ETOO_LARGE;
    }
    *first_minute = first;
    *npoints = (size_t)points;
    return CORE_OK;
}

int alr_read_item_in_scope(const json_t *item, const char *scope)
{
    if (strcmp(scope, "all") == 0)
        return 1;
    if (strncmp(scope, "topic:", 6) == 0) {
        char sc[ALR_SCOPE_MAX];
        const char *topic = json_string_value(json_object_get(item, "topic"));
        return topic && alr_scope_topic(topic, sc, sizeof sc) && strcmp(sc, scope) == 0;
    }
    if (strncmp(scope, "entity:", 7) == 0) {
        const json_t *ents = json_object_get(item, "entities"), *e;
        size_t i;
        json_array_foreach(ents, i, e)
        {
            char sc[ALR_SCOPE_MAX];
            const char *t = json_string_value(e);
            if (t && alr_scope_entity(t, sc, sizeof sc) && strcmp(sc, scope) == 0)
                return 1;
        }
    }
    return 0;
}

/* part_ok moves *p past the decimal digits there: 1 when there is at least
 * one and their number fits in 64 bits unsigned (as a stream id part must). */
static int part_ok(const char **p)
{
    const char *s = *p;
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
        (*p)++;
    }
    return *p != s;
}

int alr_read_stream_id_ok(const char *s)
{
    const char *p = s;
    if (!s || !*s || strlen(s) > 41 || !part_ok(&p))
        return 0;
    if (*p == '-') {
        p++;
        if (!part_ok(&p))
            return 0;
    }
    return *p == '\0';
}

/* ---- I/O helpers ------------------------------------------------------- */

/* begin locks the reader and makes sure it is connected. */
static core_err_t begin(alr_reader_t *r, char *err, size_t errlen)
{
    struct timespec until;
    core_err_t rc;

    /* Wait briefly for a query in progress; when Redis is slow, answer
     * "busy" rather than tie up another HTTP thread (the daemon's /metrics
     * and /healthz share them). */
    until = core_time_deadline(CLOCK_REALTIME, LOCK_WAIT_MS);
    if (pthread_mutex_timedlock(&r->mu, &until) != 0) {
        snprintf(err, errlen, "redis: busy with another dashboard query (Redis slow?); retry");
        return CORE_EAGAIN;
    }
    if (alr_redis_connected(r->r))
        return CORE_OK;
    rc = alr_redis_connect(r->r);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

static void end(alr_reader_t *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* io_err reports a failed command (connection already dropped by alr_redis). */
static core_err_t io_err(alr_reader_t *r, core_err_t rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
    return rc;
}

/* reply_err reports an error reply or an unexpected reply type. */
static core_err_t reply_err(alr_reader_t *r, const redisReply *rep, char *err, size_t errlen)
{
    if (!alr_redis_reply_err(r->r, rep))
        alr_redis_seterr(r->r, "unexpected reply type");
    snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
    return CORE_EREDIS;
}

/* cmd runs one command built from a NULL-terminated list of strings. */
static core_err_t cmdv(alr_reader_t *r, redisReply **rep, const char **argv, int argc)
{
    return alr_redis_cmd(r->r, rep, argc, argv, NULL);
}

/* append_or_drop queues a command; on failure the already queued replies
 * cannot be read in order any more, so the connection is dropped. */
static core_err_t append_or_drop(alr_reader_t *r, int argc, const char **argv)
{
    core_err_t rc = alr_redis_append(r->r, argc, argv, NULL);
    if (rc != CORE_OK)
        alr_redis_disconnect(r->r);
    return rc;
}

static int64_t str_i64(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

static double str_double(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? strtod(e->str, NULL) : 0.0;
}

/* append_buckets queues one HMGET of n, negative, neutral and positive per
 * minute bucket of scope, minutes first..last. A key that does not fit
 * drops the connection (CORE_EINVAL: the queued replies are not read). */
static core_err_t append_buckets(alr_reader_t *r, const char *scope, int64_t first, int64_t last,
                                 char *err, size_t errlen)
{
    for (int64_t m = first; m <= last; m++) {
        char k[ALR_KEY_MAX];
        const char *argv[] = {"HMGET", k, "n", "negative", "neutral", "positive"};
        core_err_t rc;
        if (!alr_key_bucket(k, sizeof k, r->prefix, scope, m)) {
            snprintf(err, errlen, "scope: too long for a key");
            alr_redis_disconnect(r->r);
            return CORE_EINVAL;
        }
        if ((rc = append_or_drop(r, 6, argv)) != CORE_OK)
            return io_err(r, rc, err, errlen);
    }
    return CORE_OK;
}

/* read_buckets reads the n replies append_buckets queued, adding bucket i's
 * counts to c[(i / group) * 4 + field] (a negative or missing count as 0).
 * Returns an I/O failure (the connection is gone); an error reply goes to
 * *rc when it is the first, and the other replies are still read, so the
 * connection stays in step. */
static core_err_t read_buckets(alr_reader_t *r, size_t n, size_t group, int64_t *c, core_err_t *rc,
                               char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        core_err_t re = alr_redis_read(r->r, &rep);
        if (re != CORE_OK)
            return io_err(r, re, err, errlen);
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
            for (size_t f = 0; f < 4; f++) {
                int64_t v = str_i64(rep->element[f]);
                if (v > 0)
                    c[(i / group) * 4 + f] += v;
            }
        } else if (*rc == CORE_OK) {
            *rc = reply_err(r, rep, err, errlen);
        }
        freeReplyObject(rep);
    }
    return CORE_OK;
}

static json_t *time_json(int64_t ms)
{
    char buf[32];
    if (ms <= 0)
        return json_null();
    core_time_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

/* window_kept: 1 when rate hashes are kept for a window of window_min
 * minutes; else 0 with err naming the kept ones. */
static int window_kept(const alr_reader_t *r, int window_min, char *err, size_t errlen)
{
    char w[16];
    size_t n;

    if (alr_windows_index(&r->win, window_min) >= 0)
        return 1;
    alr_window_name(window_min, w, sizeof w);
    n = (size_t)snprintf(err, errlen, "window %s: not kept; kept windows:", w);
    for (size_t i = 0; i < r->win.n && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, "%s %s", i ? "," : "", r->win.name[i]);
    return 0;
}

/* ---- rates ------------------------------------------------------------- */

typedef struct rate_row {
    char scope[ALR_SCOPE_MAX];
    int64_t n, negative, neutral, positive, updated;
    double neg_rate, lower;
} rate_row;

/* Scopes rank by the evidence for a high negative share: the lower bound of
 * its Wilson interval, so 2 of 2 (0.34) ranks below 105 of 126 (0.76). */
static int cmp_rate(const void *a, const void *b)
{
    const rate_row *x = a, *y = b;
    if (x->lower != y->lower)
        return x->lower < y->lower ? 1 : -1;
    if (x->neg_rate != y->neg_rate)
        return x->neg_rate < y->neg_rate ? 1 : -1;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->scope, y->scope);
}

core_err_t alr_read_rates(alr_reader_t *r, int window_min, uint64_t min_n, json_t **out,
                          char *err, size_t errlen)
{
    const double z = alr_z_for_confidence(ALR_READ_RANK_CONFIDENCE);
    char wname[16], k[ALR_KEY_MAX], lo[24], lim[24];
    redisReply *idx = NULL;
    rate_row *rows = NULL;
    size_t nrows = 0, nsc = 0;
    json_t *o = NULL, *arr = NULL;
    int64_t now = alr_reader_now(r);
    int truncated = 0;
    core_err_t rc;

    *out = NULL;
    alr_window_name(window_min, wname, sizeof wname);
    if (!window_kept(r, window_min, err, errlen))
        return CORE_EINVAL;
    rc = begin(r, err, errlen);
    if (rc != CORE_OK)
        return rc;

    /* Scopes with events in the window, newest first, capped. */
    alr_key(k, sizeof k, r->prefix, "scopes", NULL);
    snprintf(lo, sizeof lo, "%" PRId64, now - (int64_t)window_min * 60000 - CURRENT_MARGIN_MS);
    snprintf(lim, sizeof lim, "%d", ALR_READ_MAX_SCOPES + 1);
    {
        const char *argv[] = {"ZREVRANGEBYSCORE", k, "+inf", lo, "LIMIT", "0", lim};
        rc = cmdv(r, &idx, argv, 7);
    }
    if (rc != CORE_OK) {
        rc = io_err(r, rc, err, errlen);
        goto out;
    }
    if (idx->type != REDIS_REPLY_ARRAY) {
        rc = reply_err(r, idx, err, errlen);
        goto out;
    }
    nsc = idx->elements;
    if (nsc > ALR_READ_MAX_SCOPES) {
        nsc = ALR_READ_MAX_SCOPES;
        truncated = 1;
    }
    rows = calloc(nsc ? nsc : 1, sizeof *rows);
    if (!rows) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nsc; i++) {
        const redisReply *e = idx->element[i];
        char rest[ALR_SCOPE_MAX + 24];
        const char *argv[] = {"HMGET",   k,          "n",        "negative",
                              "neutral", "positive", "neg_rate", "updated"};
        if (e->type != REDIS_REPLY_STRING || e->len >= ALR_SCOPE_MAX)
            snprintf(rest, sizeof rest, "-:%s", wname); /* placeholder keeps the order */
        else
            snprintf(rest, sizeof rest, "%s:%s", e->str, wname);
        alr_key(k, sizeof k, r->prefix, "rate", rest);
        rc = append_or_drop(r, 8, argv);
        if (rc != CORE_OK) {
            rc = io_err(r, rc, err, errlen);
            goto out;
        }
    }
    for (size_t i = 0; i < nsc; i++) {
        redisReply *rep;
        const redisReply *e = idx->element[i];
        /* rc keeps the first error reply; all replies are still read so
         * the connection stays in step */
        core_err_t re = alr_redis_read(r->r, &rep);
        if (re != CORE_OK) {
            rc = io_err(r, re, err, errlen);
            goto out;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 6 &&
            rep->element[0]->type == REDIS_REPLY_STRING && e->type == REDIS_REPLY_STRING &&
            e->len < ALR_SCOPE_MAX) {
            rate_row *w = &rows[nrows++];
            snprintf(w->scope, sizeof w->scope, "%s", e->str);
            w->n = str_i64(rep->element[0]);
            w->negative = str_i64(rep->element[1]);
            w->neutral = str_i64(rep->element[2]);
            w->positive = str_i64(rep->element[3]);
            w->neg_rate = rep->element[4]->type == REDIS_REPLY_STRING
                              ? str_double(rep->element[4])
                              : (w->n ? (double)w->negative / (double)w->n : 0.0);
            w->updated = str_i64(rep->element[5]);
            w->lower = alr_wilson_lower((uint64_t)w->negative, (uint64_t)w->n, z);
            if ((uint64_t)w->n < min_n || w->n <= 0)
                nrows--; /* below the minimum count: not listed */
        } else if (rep->type != REDIS_REPLY_ARRAY && rc == CORE_OK) {
            rc = reply_err(r, rep, err, errlen);
        }
        freeReplyObject(rep);
    }
    if (rc != CORE_OK)
        goto out;
    qsort(rows, nrows, sizeof *rows, cmp_rate);

    o = json_object();
    arr = json_array();
    if (!o || !arr) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nrows; i++) {
        const rate_row *w = &rows[i];
        json_t *row = json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "scope", w->scope, "n",
                                (json_int_t)w->n, "negative", (json_int_t)w->negative, "neutral",
                                (json_int_t)w->neutral, "positive", (json_int_t)w->positive,
                                "neg_rate", w->neg_rate, "lower", round(w->lower * 10000.0) / 10000.0,
                                "updated", time_json(w->updated));
        if (!row || json_array_append_new(arr, row) != 0) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    if (json_object_set_new(o, "window", json_string(wname)) ||
        json_object_set_new(o, "now", time_json(now)) || json_object_set_new(o, "scopes", arr) ||
        json_object_set_new(o, "truncated", json_boolean(truncated))) {
        arr = NULL;
        rc = CORE_ENOMEM;
        goto out;
    }
    arr = NULL;
    *out = o;
    o = NULL;
out:
    end(r);
    if (idx)
        freeReplyObject(idx);
    free(rows);
    json_decref(arr);
    json_decref(o);
    return rc;
}

/* ---- rates from the buckets (finsent stats) ---------------------------- */

/* live_scopes lists the scopes of the index with an event since `since`
 * (ms): *idx is the reply (caller frees), names[0..*n) point into it (those
 * that are strings short enough to be scopes; *names malloc'd). */
static core_err_t live_scopes(alr_reader_t *r, int64_t since, redisReply **idx, const char ***names,
                              size_t *n, char *err, size_t errlen)
{
    char k[ALR_KEY_MAX], lo[24];
    const char *argv[] = {"ZRANGEBYSCORE", k, lo, "+inf"};
    core_err_t rc;

    *n = 0;
    alr_key(k, sizeof k, r->prefix, "scopes", NULL);
    snprintf(lo, sizeof lo, "%" PRId64, since);
    if ((rc = cmdv(r, idx, argv, 4)) != CORE_OK)
        return io_err(r, rc, err, errlen);
    if ((*idx)->type != REDIS_REPLY_ARRAY)
        return reply_err(r, *idx, err, errlen);
    if (!(*names = calloc((*idx)->elements ? (*idx)->elements : 1, sizeof **names)))
        return CORE_ENOMEM;
    for (size_t i = 0; i < (*idx)->elements; i++) {
        const redisReply *e = (*idx)->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len < ALR_SCOPE_MAX)
            (*names)[(*n)++] = e->str;
    }
    return CORE_OK;
}

/* bucket_rows adds a row per selected window (window_min, or every window
 * when 0) of one scope to rows[*nrows] from its per-minute counts
 * c[minute * 4 + field], the newest of the longest window last. */
static void bucket_rows(const alr_reader_t *r, const char *scope, int window_min, const int64_t *c,
                        alr_rate_t *rows, size_t *nrows)
{
    int maxw = r->win.min[r->win.n - 1];

    for (size_t w = 0; w < r->win.n; w++) {
        alr_rate_t *row;
        uint64_t sum[4] = {0};
        if (window_min != 0 && r->win.min[w] != window_min)
            continue;
        for (int m = maxw - r->win.min[w]; m < maxw; m++) {
            for (size_t f = 0; f < 4; f++)
                sum[f] += (uint64_t)c[(size_t)m * 4 + f];
        }
        row = &rows[(*nrows)++];
        snprintf(row->scope, sizeof row->scope, "%s", scope);
        row->window_min = r->win.min[w];
        row->n = sum[0];
        row->negative = sum[1];
        row->neutral = sum[2];
        row->positive = sum[3];
        row->neg_rate = sum[0] ? (double)sum[1] / (double)sum[0] : 0.0;
    }
}

core_err_t alr_read_bucket_rates(alr_reader_t *r, int window_min, alr_rate_t **rows, size_t *n,
                                 char *err, size_t errlen)
{
    int64_t now = alr_reader_now(r);
    int maxw = r->win.min[r->win.n - 1];
    int64_t nowmin = alr_minute(now);
    redisReply *idx = NULL;
    const char **names = NULL;
    alr_rate_t *v = NULL;
    int64_t *c = NULL; /* (maxw, 4): one scope's minutes, oldest first */
    size_t nsc = 0, nv = 0;
    core_err_t rc;

    *rows = NULL;
    *n = 0;
    if (window_min != 0 && !window_kept(r, window_min, err, errlen))
        return CORE_EINVAL;
    if ((rc = begin(r, err, errlen)) != CORE_OK)
        return rc;
    rc = live_scopes(r, now - (int64_t)maxw * 60000 - CURRENT_MARGIN_MS, &idx, &names, &nsc, err,
                     errlen);
    if (rc != CORE_OK || nsc == 0)
        goto out;
    v = calloc(nsc * r->win.n, sizeof *v);
    c = malloc((size_t)maxw * 4 * sizeof *c);
    if (!v || !c) {
        rc = CORE_ENOMEM;
        goto out;
    }
    /* Whole scopes per round trip, about BUCKET_PIPELINE commands each. */
    for (size_t i = 0, j; i < nsc && rc == CORE_OK; i = j) {
        size_t per = BUCKET_PIPELINE / (size_t)maxw ? BUCKET_PIPELINE / (size_t)maxw : 1;
        core_err_t io = CORE_OK;
        for (j = i; j < nsc && j - i < per && io == CORE_OK; j++)
            io = append_buckets(r, names[j], nowmin - maxw + 1, nowmin, err, errlen);
        for (size_t k = i; k < j && io == CORE_OK; k++) {
            memset(c, 0, (size_t)maxw * 4 * sizeof *c);
            io = read_buckets(r, (size_t)maxw, 1, c, &rc, err, errlen);
            bucket_rows(r, names[k], window_min, c, v, &nv);
        }
        if (io != CORE_OK)
            rc = io;
    }
    if (rc != CORE_OK)
        goto out;
    *rows = v;
    *n = nv;
    v = NULL;
out:
    end(r);
    if (idx)
        freeReplyObject(idx);
    free(names);
    free(v);
    free(c);
    return rc;
}

/* ---- series ------------------------------------------------------------ */

core_err_t alr_read_series(alr_reader_t *r, const char *scope, int64_t from_ms, int64_t to_ms,
                           int step_min, json_t **out, char *err, size_t errlen)
{
    int64_t first, last;
    size_t np;
    int64_t *sum = NULL; /* (np, 4): n, negative, neutral, positive */
    json_t *o = NULL, *col[6] = {NULL};
    static const char *const cname[6] = {"t", "n", "negative", "neutral", "positive", "neg_rate"};
    char step[16];
    core_err_t rc;

    *out = NULL;
    rc = alr_read_series_plan(from_ms, to_ms, step_min, &first, &np, err, errlen);
    if (rc != CORE_OK)
        return rc;
    last = alr_minute(to_ms);
    sum = calloc(np * 4, sizeof *sum);
    if (!sum)
        return CORE_ENOMEM;
    rc = begin(r, err, errlen);
    if (rc != CORE_OK) {
        free(sum);
        return rc;
    }
    if ((rc = append_buckets(r, scope, first, last, err, errlen)) != CORE_OK)
        goto out;
    {
        core_err_t io =
            read_buckets(r, (size_t)(last - first + 1), (size_t)step_min, sum, &rc, err, errlen);
        if (io != CORE_OK)
            rc = io;
    }
    if (rc != CORE_OK)
        goto out;

    o = json_object();
    for (size_t c = 0; c < 6; c++)
        col[c] = json_array();
    if (!o || !col[0] || !col[1] || !col[2] || !col[3] || !col[4] || !col[5]) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t p = 0; p < np; p++) {
        const int64_t *s = &sum[p * 4];
        int bad = json_array_append_new(
            col[0], json_integer((json_int_t)((first + (int64_t)p * step_min) * 60000)));
        for (size_t f = 0; f < 4; f++)
            bad |= json_array_append_new(col[1 + f], json_integer((json_int_t)s[f]));
        bad |= json_array_append_new(col[5], s[0] > 0 ? json_real((double)s[1] / (double)s[0])
                                                      : json_null());
        if (bad) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    alr_window_name(step_min, step, sizeof step);
    if (json_object_set_new(o, "scope", json_string(scope)) ||
        json_object_set_new(o, "from", time_json(from_ms)) ||
        json_object_set_new(o, "to", time_json(to_ms)) ||
        json_object_set_new(o, "step", json_string(step)) ||
        json_object_set_new(o, "step_ms", json_integer((json_int_t)step_min * 60000))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t c = 0; c < 6; c++) {
        json_t *v = col[c];
        col[c] = NULL;
        if (json_object_set_new(o, cname[c], v)) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    *out = o;
    o = NULL;
out:
    end(r);
    for (size_t c = 0; c < 6; c++)
        json_decref(col[c]);
    json_decref(o);
    free(sum);
    return rc;
}

/* ---- alerts ------------------------------------------------------------ */

core_err_t alr_read_alerts(alr_reader_t *r, const char *after_id, int64_t since_ms, size_t limit,
                           json_t **out, char *err, size_t errlen)
{
    char k[ALR_KEY_MAX], start[48], count[24];
    redisReply *rep = NULL;
    json_t *o = NULL, *arr = NULL;
    const char *last_id = NULL;
    int reverse = 0, more = 0;
    size_t got;
    core_err_t rc;

    *out = NULL;
    if (limit < 1 || limit > ALR_READ_MAX_ALERTS) {
        snprintf(err, errlen, "limit: between 1 and %d", ALR_READ_MAX_ALERTS);
        return CORE_EINVAL;
    }
    if (after_id && !alr_read_stream_id_ok(after_id)) {
        snprintf(err, errlen, "'%.48s' is not a stream id (MS or MS-SEQ, each at most %" PRIu64 ")",
                 after_id, UINT64_MAX);
        return CORE_EINVAL;
    }
    alr_key(k, sizeof k, r->prefix, "alerts:log", NULL);
    snprintf(count, sizeof count, "%zu", limit + 1);
    rc = begin(r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    if (after_id || since_ms >= 0) {
        if (after_id)
            snprintf(start, sizeof start, "(%s", after_id);
        else
            snprintf(start, sizeof start, "%" PRId64 "-0", since_ms);
        const char *argv[] = {"XRANGE", k, start, "+", "COUNT", count};
        rc = cmdv(r, &rep, argv, 6);
    } else {
        const char *argv[] = {"XREVRANGE", k, "+", "-", "COUNT", count};
        rc = cmdv(r, &rep, argv, 6);
        reverse = 1;
    }
    if (rc != CORE_OK) {
        rc = io_err(r, rc, err, errlen);
        goto out;
    }
    if (rep->type != REDIS_REPLY_ARRAY) {
        rc = reply_err(r, rep, err, errlen);
        /* An id Redis refuses ("(MAX-MAX": nothing can follow it) is the
         * caller's argument, not Redis failing. */
        if (after_id && rep->type == REDIS_REPLY_ERROR && rep->str &&
            (strstr(rep->str, "stream ID") || strstr(rep->str, "start ID"))) {
            snprintf(err, errlen, "Redis refuses it as a start: %.200s", rep->str);
            rc = CORE_EINVAL;
        }
        goto out;
    }
    got = rep->elements;
    if (got > limit) {
        more = 1;
        got = limit;
    }
    o = json_object();
    arr = json_array();
    if (!o || !arr) {
        rc = CORE_ENOMEM;
        goto out;
    }
    /* XREVRANGE gives newest first: walk it backwards to answer oldest
     * first. */
    for (size_t j = 0; j < got; j++) {
        const redisReply *e = rep->element[reverse ? got - 1 - j : j], *fv;
        json_t *a = NULL;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        last_id = e->element[0]->str;
        fv = e->element[1];
        for (size_t f = 0; fv->type == REDIS_REPLY_ARRAY && f + 1 < fv->elements; f += 2) {
            if (fv->element[f]->type == REDIS_REPLY_STRING &&
                strcmp(fv->element[f]->str, "alert") == 0 &&
                fv->element[f + 1]->type == REDIS_REPLY_STRING) {
                a = json_loadb(fv->element[f + 1]->str, fv->element[f + 1]->len, 0, NULL);
                break;
            }
        }
        if (!json_is_object(a)) {
            json_decref(a);
            continue;
        }
        if (json_object_set_new(a, "stream_id", json_string(last_id)) ||
            json_array_append_new(arr, a)) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    /* Newest-first mode: "more" means older ones exist; paging forward
     * from last_id is what a poller does next. */
    if (json_object_set_new(o, "alerts", arr)) {
        arr = NULL;
        rc = CORE_ENOMEM;
        goto out;
    }
    arr = NULL;
    if (json_object_set_new(o, "last_id", last_id ? json_string(last_id) : json_null()) ||
        json_object_set_new(o, "more", json_boolean(more && !reverse))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    *out = o;
    o = NULL;
out:
    end(r);
    if (rep)
        freeReplyObject(rep);
    json_decref(arr);
    json_decref(o);
    return rc;
}

static int cmp_active(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    const char *sx = json_string_value(json_object_get(*x, "state"));
    const char *sy = json_string_value(json_object_get(*y, "state"));
    int fx = sx && strcmp(sx, "firing") == 0, fy = sy && strcmp(sy, "firing") == 0;
    if (fx != fy)
        return fy - fx;
    return strcmp(json_string_value(json_object_get(*x, "scope")),
                  json_string_value(json_object_get(*y, "scope")));
}

core_err_t alr_read_active(alr_reader_t *r, json_t **out, char *err, size_t errlen)
{
    char k[ALR_KEY_MAX];
    redisReply *set = NULL;
    json_t **rows = NULL, *o = NULL, *arr = NULL;
    size_t nm = 0, nrows = 0;
    int truncated = 0;
    core_err_t rc;

    *out = NULL;
    rc = begin(r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    alr_key(k, sizeof k, r->prefix, "alerts:active", NULL);
    {
        const char *argv[] = {"SMEMBERS", k};
        rc = cmdv(r, &set, argv, 2);
    }
    if (rc != CORE_OK) {
        rc = io_err(r, rc, err, errlen);
        goto out;
    }
    if (set->type != REDIS_REPLY_ARRAY) {
        rc = reply_err(r, set, err, errlen);
        goto out;
    }
    nm = set->elements;
    if (nm > ALR_READ_MAX_ACTIVE) {
        nm = ALR_READ_MAX_ACTIVE;
        truncated = 1;
    }
    rows = calloc(nm ? nm : 1, sizeof *rows);
    if (!rows) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nm; i++) {
        const redisReply *m = set->element[i];
        const char *argv[] = {"HMGET",  k,          "state", "rule",  "scope",
                              "window", "neg_rate", "n",     "since", "changed"};
        char member[ALR_KEY_MAX - 80];
        snprintf(member, sizeof member, "%s", m->type == REDIS_REPLY_STRING ? m->str : "-");
        if (!alr_key(k, sizeof k, r->prefix, "alert", member))
            alr_key(k, sizeof k, r->prefix, "alert", "-");
        rc = append_or_drop(r, 10, argv);
        if (rc != CORE_OK) {
            rc = io_err(r, rc, err, errlen);
            goto out;
        }
    }
    for (size_t i = 0; i < nm; i++) {
        redisReply *rep;
        /* rc keeps the first error reply; all replies are still read so
         * the connection stays in step */
        core_err_t re = alr_redis_read(r->r, &rep);
        if (re != CORE_OK) {
            rc = io_err(r, re, err, errlen);
            goto out;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 8 &&
            rep->element[0]->type == REDIS_REPLY_STRING &&
            rep->element[2]->type == REDIS_REPLY_STRING &&
            (strcmp(rep->element[0]->str, "firing") == 0 ||
             strcmp(rep->element[0]->str, "pending") == 0)) {
            json_t *row = json_pack(
                "{s:s, s:s?, s:s, s:s?, s:f, s:I, s:o, s:o}", "state", rep->element[0]->str, "rule",
                rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str : NULL, "scope",
                rep->element[2]->str, "window",
                rep->element[3]->type == REDIS_REPLY_STRING ? rep->element[3]->str : NULL,
                "neg_rate", str_double(rep->element[4]), "n", (json_int_t)str_i64(rep->element[5]),
                "since", time_json(str_i64(rep->element[6])), "changed",
                time_json(str_i64(rep->element[7])));
            if (!row)
                rc = CORE_ENOMEM;
            else
                rows[nrows++] = row;
        } else if (rep->type != REDIS_REPLY_ARRAY && rc == CORE_OK) {
            rc = reply_err(r, rep, err, errlen);
        }
        freeReplyObject(rep);
    }
    if (rc != CORE_OK)
        goto out;
    qsort(rows, nrows, sizeof *rows, cmp_active);
    o = json_object();
    arr = json_array();
    if (!o || !arr) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nrows; i++) {
        json_t *v = rows[i];
        rows[i] = NULL;
        if (json_array_append_new(arr, v)) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    if (json_object_set_new(o, "active", arr)) {
        arr = NULL;
        rc = CORE_ENOMEM;
        goto out;
    }
    arr = NULL;
    if (json_object_set_new(o, "truncated", json_boolean(truncated))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    *out = o;
    o = NULL;
out:
    end(r);
    if (set)
        freeReplyObject(set);
    for (size_t i = 0; rows && i < nrows; i++)
        json_decref(rows[i]);
    free(rows);
    json_decref(arr);
    json_decref(o);
    return rc;
}

/* ---- recent items ------------------------------------------------------ */

core_err_t alr_read_recent(alr_reader_t *r, const char *scope, size_t limit, json_t **out,
                           char *err, size_t errlen)
{
    char k[ALR_KEY_MAX], stop[24];
    redisReply *rep = NULL;
    json_t *o = NULL, *arr = NULL;
    long scan = r->recent_max < ALR_READ_RECENT_SCAN ? r->recent_max : ALR_READ_RECENT_SCAN;
    core_err_t rc;

    *out = NULL;
    if (limit < 1 || limit > ALR_READ_MAX_RECENT) {
        snprintf(err, errlen, "limit: between 1 and %d", ALR_READ_MAX_RECENT);
        return CORE_EINVAL;
    }
    /* Unfiltered, only `limit` entries are needed. */
    if (!scope && (long)limit < scan)
        scan = (long)limit;
    alr_key(k, sizeof k, r->prefix, "recent", NULL);
    snprintf(stop, sizeof stop, "%ld", scan - 1);
    rc = begin(r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    {
        const char *argv[] = {"LRANGE", k, "0", stop};
        rc = cmdv(r, &rep, argv, 4);
    }
    if (rc != CORE_OK) {
        rc = io_err(r, rc, err, errlen);
        goto out;
    }
    if (rep->type != REDIS_REPLY_ARRAY) {
        rc = reply_err(r, rep, err, errlen);
        goto out;
    }
    o = json_object();
    arr = json_array();
    if (!o || !arr) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < rep->elements && json_array_size(arr) < limit; i++) {
        const redisReply *e = rep->element[i];
        json_t *it;
        if (e->type != REDIS_REPLY_STRING)
            continue;
        it = json_loadb(e->str, e->len, 0, NULL);
        if (json_is_object(it) && (!scope || alr_read_item_in_scope(it, scope))) {
            if (json_array_append_new(arr, it)) {
                rc = CORE_ENOMEM;
                goto out;
            }
        } else {
            json_decref(it);
        }
    }
    if (json_object_set_new(o, "scope", scope ? json_string(scope) : json_null()) ||
        json_object_set_new(o, "items", arr)) {
        arr = NULL;
        rc = CORE_ENOMEM;
        goto out;
    }
    arr = NULL;
    *out = o;
    o = NULL;
out:
    end(r);
    if (rep)
        freeReplyObject(rep);
    json_decref(arr);
    json_decref(o);
    return rc;
}
