/*
 * alr_sink: the Redis stage; see alr_sink.h for the contract and
 * docs/redis.md for the keys.
 *
 * Three server-side scripts do all the writing, so that every multi-key
 * change is atomic:
 *   COUNT   one item: dedup marker, buckets of its scopes, recent lists, index;
 *   RATES   one scope: sums the newest M minute buckets once and writes the
 *           rate hash of every window (windows ascending, M = longest), and
 *           returns the counts so rules need no second read;
 *   ALERT   one (rule, scope) transition as compare-and-set on the state
 *           hash's `ver`; only the caller whose `ver` still matches writes the
 *           new state and publishes / XADDs the alert, so two instances never
 *           publish the same transition.
 * Each script touches the keys of one item or one scope, all passed in KEYS
 * (never built inside Lua). The COUNT script spans the scopes of one item;
 * Redis Cluster would split it per scope with per-scope seen markers (see
 * docs/redis.md).
 *
 * The per-batch path builds each command's argv in one reusable arena (no
 * allocation once it has grown) and pipelines a whole batch per round trip.
 */
#include "alerting/alr_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "alerting/alr_json.h"
#include "alerting/alr_redis_int.h"
#include "alerting/alr_rule.h"
#include "alerting/alr_windows_int.h"
#include "core/core_log.h"
#include "core/core_time.h"

#define NEG_IDS_CAP 10
#define RATE_TTL_EXTRA_MS 180000

/* KEYS: seen marker, recent list, scope index, live-scope set, dirty-scope
 * set, then per scope its minute bucket, its negative-ids list and its
 * hourly roll-up.
 * ARGV: seen ttl ms, bucket expire-at ms, sentiment field, item JSON,
 * recent_max, event ms, item id, negative ids cap, hour expire-at ms, then
 * the scope names. */
static const char COUNT_LUA[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end\n"
    "local ns = #ARGV - 9\n"
    "local neg = ARGV[3] == 'negative'\n"
    "local ev = tonumber(ARGV[6])\n"
    "for i = 1, ns do\n"
    "  local b = KEYS[3 + 3 * i]\n"
    "  redis.call('HINCRBY', b, 'n', 1)\n"
    "  redis.call('HINCRBY', b, ARGV[3], 1)\n"
    "  redis.call('PEXPIREAT', b, ARGV[2])\n"
    "  local h = KEYS[5 + 3 * i]\n"
    "  redis.call('HINCRBY', h, 'n', 1)\n"
    "  redis.call('HINCRBY', h, ARGV[3], 1)\n"
    "  redis.call('PEXPIREAT', h, ARGV[9])\n"
    "  if neg then\n"
    "    local l = KEYS[4 + 3 * i]\n"
    "    redis.call('LPUSH', l, ARGV[7])\n"
    "    redis.call('LTRIM', l, 0, tonumber(ARGV[8]) - 1)\n"
    "    redis.call('PEXPIREAT', l, ARGV[2])\n"
    "  end\n"
    "  for z = 3, 4 do\n"
    "    local cur = redis.call('ZSCORE', KEYS[z], ARGV[9 + i])\n"
    "    if not cur or tonumber(cur) < ev then redis.call('ZADD', KEYS[z], ev, ARGV[9 + i]) end\n"
    "  end\n"
    "  redis.call('SADD', KEYS[5], ARGV[9 + i])\n"
    "end\n"
    "redis.call('LPUSH', KEYS[2], ARGV[4])\n"
    "redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)\n"
    "return 1\n";

/* KEYS: hourly roll-ups of one scope, oldest first.
 * ARGV: the number of ranges, then each range's first and last KEYS index
 * (1-based, inclusive; last < first for an empty range). Returns per range
 * {n, negative, hours}: the baselines of the surge and volume rules; hours
 * counts from the first hour with data to the end of the range (a scope
 * seen for the first time 3 hours ago has a 3-hour baseline, not 24). */
static const char BASE_LUA[] =
    "local out = {}\n"
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

/* KEYS: nw rate hashes, then the M newest buckets (newest first).
 * ARGV: nw, the nw window lengths ascending, now_ms, ttl extra ms, write. */
static const char RATES_LUA[] =
    "local nw = tonumber(ARGV[1])\n"
    "local now = ARGV[nw + 2]\n"
    "local extra = tonumber(ARGV[nw + 3])\n"
    "local write = ARGV[nw + 4] == '1'\n"
    "local a = {0, 0, 0, 0}\n"
    "local out = {}\n"
    "local j = 1\n"
    "for i = 1, #KEYS - nw do\n"
    "  local v = redis.call('HMGET', KEYS[nw + i], 'n', 'negative', 'neutral', 'positive')\n"
    "  for f = 1, 4 do a[f] = a[f] + (tonumber(v[f]) or 0) end\n"
    "  while j <= nw and tonumber(ARGV[1 + j]) == i do\n"
    "    if write then\n"
    "      local r = 0\n"
    "      if a[1] > 0 then r = a[2] / a[1] end\n"
    "      redis.call('HSET', KEYS[j], 'n', a[1], 'negative', a[2], 'neutral', a[3],\n"
    "                 'positive', a[4], 'neg_rate', string.format('%.4f', r), 'updated', now)\n"
    "      redis.call('PEXPIRE', KEYS[j], tonumber(ARGV[1 + j]) * 60000 + extra)\n"
    "    end\n"
    "    out[j] = {a[1], a[2], a[3], a[4]}\n"
    "    j = j + 1\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: state hash, alert stream, active set.
 * ARGV: expected ver, state, since, changed, resolved, rule, scope, window,
 * neg_rate, n, active member, alert JSON ('' = silent), maxlen, channel,
 * scope channel, alert id. */
static const char ALERT_LUA[] =
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

enum { SCRIPT_COUNT = 0, SCRIPT_RATES, SCRIPT_ALERT, SCRIPT_BASE, SCRIPT__N };

/* args: one command's argv in a growable arena. Offsets, not pointers, are
 * recorded while building because the arena may move. */
typedef struct args {
    char *pool;
    size_t used, cap;
    size_t *off, *len;
    const char **argv;
    int argc, argcap;
} args_t;

/* A set of distinct scope names: an array in insertion order plus an
 * open-addressing index (slot = array index + 1, 0 = empty). */
typedef struct scopes {
    char (*v)[ALR_SCOPE_MAX];
    size_t n, cap;
    uint32_t *idx;
    size_t hcap; /* power of two, > 2 n */
} scopes_t;

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
    alr_script_t scripts[SCRIPT__N];
    int scripts_loaded;
    int64_t (*now)(void *);
    void *now_ctx;
    char instance[17];
    uint64_t alert_seq;
    args_t a;
    scopes_t touched; /* tick's working set */
    scopes_t pending; /* counted into since their last rate refresh */
    int64_t refresh_ms, last_refresh_mono;
    int64_t last_full_minute; /* minute of the tick's last full refresh */
    core_counter_t *m_out[5], *m_fired, *m_resolved, *m_errors, *m_retries;
    core_histogram_t *m_latency;
};

static int64_t wall_now(void *ctx)
{
    (void)ctx;
    return core_time_now_ms();
}

/* ---- argument arena ---------------------------------------------------- */

static void args_reset(args_t *a)
{
    a->used = 0;
    a->argc = 0;
}

static core_err_t args_add(args_t *a, const char *s, size_t n)
{
    if (a->argc == a->argcap) {
        int nc = a->argcap ? a->argcap * 2 : 64;
        size_t *off = realloc(a->off, (size_t)nc * sizeof *off);
        if (!off)
            return CORE_ENOMEM;
        a->off = off;
        size_t *len = realloc(a->len, (size_t)nc * sizeof *len);
        if (!len)
            return CORE_ENOMEM;
        a->len = len;
        const char **argv = realloc(a->argv, (size_t)nc * sizeof *argv);
        if (!argv)
            return CORE_ENOMEM;
        a->argv = argv;
        a->argcap = nc;
    }
    if (a->used + n + 1 > a->cap) {
        size_t nc = a->cap ? a->cap : 4096;
        char *p;
        while (nc < a->used + n + 1)
            nc *= 2;
        p = realloc(a->pool, nc);
        if (!p)
            return CORE_ENOMEM;
        a->pool = p;
        a->cap = nc;
    }
    memcpy(a->pool + a->used, s, n);
    a->pool[a->used + n] = '\0';
    a->off[a->argc] = a->used;
    a->len[a->argc] = n;
    a->argc++;
    a->used += n + 1;
    return CORE_OK;
}

static core_err_t args_str(args_t *a, const char *s)
{
    return args_add(a, s, strlen(s));
}

static core_err_t args_i64(args_t *a, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    return args_add(a, buf, (size_t)n);
}

static core_err_t args_key(args_t *a, const char *prefix, const char *kind, const char *rest)
{
    char k[ALR_KEY_MAX];
    size_t n = alr_key(k, sizeof k, prefix, kind, rest);
    return n ? args_add(a, k, n) : CORE_EINVAL;
}

/* args_seen_key adds the dedup key of an item id: the id itself when short,
 * else two independent 64-bit FNV-1a hashes of it (128 bits), so that long
 * ids (URLs) fit the key size bound. */
static core_err_t args_seen_key(args_t *a, const char *prefix, const char *id)
{
    char rest[48];
    size_t n = strlen(id);
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    if (n <= 128)
        return args_key(a, prefix, "seen", id);
    for (size_t i = 0; i < n; i++) {
        h1 = (h1 ^ (unsigned char)id[i]) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)id[i]) * 0x100000001b3ULL;
        h2 ^= h2 >> 29;
    }
    snprintf(rest, sizeof rest, "h:%016" PRIx64 "%016" PRIx64, h1, h2);
    return args_key(a, prefix, "seen", rest);
}

/* args_send appends the command to the pipeline. */
static core_err_t args_send(alr_sink_t *s, args_t *a)
{
    for (int i = 0; i < a->argc; i++)
        a->argv[i] = a->pool + a->off[i];
    return alr_redis_append(s->r, a->argc, a->argv, a->len);
}

static void args_free(args_t *a)
{
    free(a->pool);
    free(a->off);
    free(a->len);
    free(a->argv);
}

/* ---- scope lists ------------------------------------------------------- */

static uint32_t hash_str(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static void scopes_clear(scopes_t *l)
{
    l->n = 0;
    if (l->idx)
        memset(l->idx, 0, l->hcap * sizeof *l->idx);
}

static void scopes_free(scopes_t *l)
{
    free(l->v);
    free(l->idx);
}

static core_err_t scopes_add(scopes_t *l, const char *scope)
{
    size_t h;
    if (2 * (l->n + 1) >= l->hcap) {
        size_t nh = l->hcap ? l->hcap * 2 : 128;
        uint32_t *idx = calloc(nh, sizeof *idx);
        if (!idx)
            return CORE_ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
            for (h = hash_str(l->v[i]) & (nh - 1); idx[h]; h = (h + 1) & (nh - 1)) {
            }
            idx[h] = (uint32_t)(i + 1);
        }
        free(l->idx);
        l->idx = idx;
        l->hcap = nh;
    }
    for (h = hash_str(scope) & (l->hcap - 1); l->idx[h]; h = (h + 1) & (l->hcap - 1)) {
        if (strcmp(l->v[l->idx[h] - 1], scope) == 0)
            return CORE_OK;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        void *p = realloc(l->v, nc * sizeof *l->v);
        if (!p)
            return CORE_ENOMEM;
        l->v = p;
        l->cap = nc;
    }
    snprintf(l->v[l->n], ALR_SCOPE_MAX, "%s", scope);
    l->idx[h] = (uint32_t)(++l->n);
    return CORE_OK;
}

/* item_scopes writes the scopes of a tagged item: "all", its topic, its
 * entities. Returns how many (at most cap). */
static size_t item_scopes(const core_tagged_t *t, char (*out)[ALR_SCOPE_MAX], size_t cap)
{
    size_t n = 0;
    snprintf(out[n++], ALR_SCOPE_MAX, "all");
    if (n < cap && alr_scope_topic(t->topic, out[n], ALR_SCOPE_MAX) > 0)
        n++;
    for (size_t i = 0; i < t->item->n_entities && n < cap; i++) {
        int dup = 0;
        if (alr_scope_entity(t->item->entities[i], out[n], ALR_SCOPE_MAX) == 0)
            continue;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(out[j], out[n]) == 0;
        if (!dup)
            n++;
    }
    return n;
}

/* ---- construction ------------------------------------------------------ */

static void register_metrics(alr_sink_t *s, core_metrics_t *m)
{
    static const char *const names[] = {"counted", "duplicate", "too_old", "future", "uncounted"};
    char lab[64];
    if (!m)
        return;
    for (int i = 0; i < 5; i++)
        s->m_out[i] = core_metrics_counter(m, "finsent_redis_items_total",
                                           core_metrics_label(lab, sizeof lab, "outcome", names[i]),
                                           "items handled by the Redis stage, by outcome");
    s->m_fired = core_metrics_counter(m, "finsent_alerts_total", "state=\"firing\"",
                                      "alerts published by this instance, by state");
    s->m_resolved = core_metrics_counter(m, "finsent_alerts_total", "state=\"resolved\"",
                                         "alerts published by this instance, by state");
    s->m_errors = core_metrics_counter(m, "finsent_redis_errors_total", NULL,
                                       "Redis failures (connection lost, error replies)");
    s->m_retries = core_metrics_counter(m, "finsent_redis_retries_total", NULL,
                                        "batches written again after a Redis failure");
    s->m_latency = core_metrics_histogram(
        m, "finsent_redis_write_seconds", NULL, "time to get one batch's counts into Redis",
        core_metrics_latency_buckets, core_metrics_latency_nbuckets);
}

core_err_t alr_sink_new(const core_config_t *cfg, core_metrics_t *metrics, alr_sink_t **out,
                        char *err, size_t errlen)
{
    alr_sink_t *s = calloc(1, sizeof *s);
    alr_redis_opts_t o;
    unsigned char rnd[8] = {0};
    core_err_t rc;

    *out = NULL;
    if (!s)
        return CORE_ENOMEM;
    if (strlen(core_config_str(cfg, "redis", "prefix")) >= sizeof s->prefix) {
        snprintf(err, errlen, "[redis] prefix: longer than %zu bytes", sizeof s->prefix - 1);
        rc = CORE_ECONFIG;
        goto fail;
    }
    snprintf(s->prefix, sizeof s->prefix, "%s", core_config_str(cfg, "redis", "prefix"));
    s->retention_ms = core_config_int(cfg, "redis", "retention");
    s->hourly_retention_ms = core_config_int(cfg, "redis", "hourly_retention");
    s->seen_ttl_ms = core_config_int(cfg, "redis", "seen_ttl");
    s->future_skew_ms = core_config_int(cfg, "redis", "future_skew");
    s->recent_max = (long)core_config_int(cfg, "redis", "recent_max");
    s->alerts_log_max = (long)core_config_int(cfg, "redis", "alerts_log_max");
    if (s->seen_ttl_ms < s->retention_ms)
        CORE_WARN("alerting", "redis.seen_ttl is shorter than redis.retention: an item replayed "
                              "after seen_ttl would be counted twice");

    rc = alr_rules_load(cfg, &s->rules, &s->nrules, err, errlen);
    if (rc != CORE_OK)
        goto fail;
    for (size_t i = 0; i < s->nrules; i++) {
        const alr_rule_t *r = &s->rules[i];
        int64_t need = ((int64_t)r->baseline_h + 2) * 3600000 + (int64_t)r->window_min * 60000;
        if (alr_rule_has_baseline(r) && need > s->hourly_retention_ms) {
            snprintf(err, errlen,
                     "[rule.%s] baseline: %dh before a %d-minute window needs "
                     "redis.hourly_retention of at least %" PRId64 "h",
                     r->name, r->baseline_h, r->window_min, (need + 3599999) / 3600000);
            rc = CORE_ECONFIG;
            goto fail;
        }
        if (alr_rule_has_baseline(r))
            s->nbase_rules++;
    }
    rc = alr_windows_from_config(cfg, s->rules, s->nrules, &s->win, err, errlen);
    if (rc != CORE_OK)
        goto fail;

    alr_redis_opts_from_config(cfg, &o);
    rc = alr_redis_new(&o, &s->r);
    if (rc != CORE_OK)
        goto fail;
    s->scripts[SCRIPT_COUNT].src = COUNT_LUA;
    s->scripts[SCRIPT_RATES].src = RATES_LUA;
    s->scripts[SCRIPT_ALERT].src = ALERT_LUA;
    s->scripts[SCRIPT_BASE].src = BASE_LUA;
    s->now = wall_now;
    s->refresh_ms = ALR_SINK_REFRESH_MS;
    s->last_refresh_mono = INT64_MIN / 2; /* the first write refreshes */
    s->last_full_minute = INT64_MIN;
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        uint64_t x = (uint64_t)core_time_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &x, sizeof rnd);
    }
    for (int i = 0; i < 8; i++)
        snprintf(s->instance + 2 * i, 3, "%02x", rnd[i]);
    register_metrics(s, metrics);
    *out = s;
    return CORE_OK;
fail:
    alr_sink_free(s);
    return rc;
}

void alr_sink_free(alr_sink_t *s)
{
    if (!s)
        return;
    alr_redis_free(s->r);
    free(s->rules);
    args_free(&s->a);
    scopes_free(&s->touched);
    scopes_free(&s->pending);
    free(s);
}

void alr_sink_set_clock(alr_sink_t *s, int64_t (*now)(void *ctx), void *ctx)
{
    s->now = now ? now : wall_now;
    s->now_ctx = ctx;
}

void alr_sink_set_refresh_interval(alr_sink_t *s, int64_t ms)
{
    s->refresh_ms = ms < 0 ? 0 : ms;
}

void alr_sink_cancel(alr_sink_t *s)
{
    alr_redis_stop(s->r);
}

const char *alr_sink_error(const alr_sink_t *s)
{
    return alr_redis_error(s->r);
}

size_t alr_sink_windows(const alr_sink_t *s, const int **minutes)
{
    *minutes = s->win.min;
    return s->win.n;
}

/* ensure connects once (no retry) and loads the scripts if needed. */
static core_err_t ensure(alr_sink_t *s)
{
    core_err_t rc;
    if (alr_redis_stopped(s->r))
        return CORE_ECLOSED;
    if (!alr_redis_connected(s->r)) {
        s->scripts_loaded = 0;
        rc = alr_redis_connect(s->r);
        if (rc != CORE_OK)
            return rc;
    }
    if (!s->scripts_loaded) {
        rc = alr_redis_load_scripts(s->r, s->scripts, SCRIPT__N);
        if (rc != CORE_OK)
            return rc;
        s->scripts_loaded = 1;
    }
    return CORE_OK;
}

core_err_t alr_sink_connect(alr_sink_t *s)
{
    return ensure(s);
}

static int is_noscript(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR && rep->str &&
           strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* ---- counting ---------------------------------------------------------- */

/* classify decides an item's outcome before Redis; ALR_ITEM_COUNTED means
 * "to be sent". *ev receives the event time used. */
static alr_outcome_t classify(const alr_sink_t *s, const core_tagged_t *t, int64_t now, int64_t *ev)
{
    const core_item_t *it = t->item;
    int64_t e;
    if (!it || !it->id || !it->id[0] || t->sentiment < 0 || t->sentiment >= CORE_SENT__COUNT)
        return ALR_ITEM_UNCOUNTED;
    /* An explicit event time is judged as given: "ts": 0 is 1970, too old. */
    e = core_item_event_known(it) ? it->event_ms : (it->ingest_ms ? it->ingest_ms : now);
    *ev = e;
    if (e < now - s->retention_ms)
        return ALR_ITEM_TOO_OLD;
    if (e > now + s->future_skew_ms)
        return ALR_ITEM_FUTURE;
    return ALR_ITEM_COUNTED;
}

/* append_count queues the COUNT script call of one item. */
static core_err_t append_count(alr_sink_t *s, const core_tagged_t *t, int64_t ev)
{
    char sc[66][ALR_SCOPE_MAX];
    size_t ns = item_scopes(t, sc, 66);
    int64_t minute = alr_minute(ev), hour = alr_hour(ev);
    char *json = NULL;
    args_t *a = &s->a;
    core_err_t rc;

    rc = alr_json_item(t, &json);
    if (rc != CORE_OK)
        return rc;
    args_reset(a);
    rc = args_str(a, "EVALSHA");
    rc = rc ? rc : args_str(a, s->scripts[SCRIPT_COUNT].sha);
    rc = rc ? rc : args_i64(a, (int64_t)(5 + 3 * ns));
    rc = rc ? rc : args_seen_key(a, s->prefix, t->item->id);
    rc = rc ? rc : args_key(a, s->prefix, "recent", NULL);
    rc = rc ? rc : args_key(a, s->prefix, "scopes", NULL);
    rc = rc ? rc : args_key(a, s->prefix, "scopes:live", NULL);
    rc = rc ? rc : args_key(a, s->prefix, "scopes:dirty", NULL);
    for (size_t i = 0; i < ns && rc == CORE_OK; i++) {
        char k[ALR_KEY_MAX];
        size_t kn = alr_key_bucket(k, sizeof k, s->prefix, sc[i], minute);
        rc = kn ? args_add(a, k, kn) : CORE_EINVAL;
        rc = rc ? rc : args_key(a, s->prefix, "neg", sc[i]);
        kn = alr_key_hour(k, sizeof k, s->prefix, sc[i], hour);
        rc = rc ? rc : kn ? args_add(a, k, kn) : CORE_EINVAL;
    }
    rc = rc ? rc : args_i64(a, s->seen_ttl_ms);
    rc = rc ? rc : args_i64(a, (minute + 1) * 60000 + s->retention_ms);
    rc = rc ? rc : args_str(a, core_sentiment_name(t->sentiment));
    rc = rc ? rc : args_str(a, json);
    rc = rc ? rc : args_i64(a, s->recent_max);
    rc = rc ? rc : args_i64(a, ev);
    rc = rc ? rc : args_str(a, t->item->id);
    rc = rc ? rc : args_i64(a, NEG_IDS_CAP);
    rc = rc ? rc : args_i64(a, (hour + 1) * 3600000 + s->hourly_retention_ms);
    for (size_t i = 0; i < ns && rc == CORE_OK; i++)
        rc = args_str(a, sc[i]);
    free(json);
    return rc ? rc : args_send(s, a);
}

/* count_once sends the COUNT calls of the countable items that have no
 * answer yet (done[i] == 0) and reads their replies: an answered item is in
 * Redis (the script is atomic, and with appendfsync always the reply comes
 * after the fsync), so a retry never needs to send it again and its outcome
 * stays the one of the attempt that ran it. CORE_OK: every item answered.
 * CORE_ENET: connection lost. CORE_EREDIS: an error reply (NOSCRIPT clears
 * scripts_loaded); the items without an answer are sent again next time. */
static core_err_t count_once(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                             const int64_t *ev, alr_outcome_t *out, unsigned char *done)
{
    core_err_t rc = ensure(s), first = CORE_OK;

    if (rc != CORE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (out[i] != ALR_ITEM_COUNTED || done[i])
            continue;
        rc = append_count(s, items[i], ev[i]);
        if (rc != CORE_OK) {
            /* The arena failed or a key did not fit: the commands already
             * queued still have replies to read, so drop the connection. */
            alr_redis_disconnect(s->r);
            return rc == CORE_EINVAL ? CORE_ETOO_LARGE : rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        if (out[i] != ALR_ITEM_COUNTED || done[i])
            continue;
        rc = alr_redis_read(s->r, &rep);
        if (rc != CORE_OK)
            return rc;
        if (rep->type == REDIS_REPLY_INTEGER) {
            done[i] = 1;
            if (rep->integer != 1)
                out[i] = ALR_ITEM_DUPLICATE;
        } else {
            if (is_noscript(rep))
                s->scripts_loaded = 0;
            if (first == CORE_OK) {
                if (!alr_redis_reply_err(s->r, rep))
                    alr_redis_seterr(s->r, "redis: unexpected reply to the count script");
                first = CORE_EREDIS;
            }
        }
        freeReplyObject(rep);
    }
    return first;
}

/* ---- rates and rules --------------------------------------------------- */

/* refresh runs the RATES script for scopes[0..ns) and stores each scope's
 * counts in cnt[(scope * nw + window) * 4 + field]. */
static core_err_t refresh(alr_sink_t *s, const scopes_t *sc, int64_t now, int write, uint64_t *cnt)
{
    int64_t nowmin = alr_minute(now);
    int maxw = s->win.min[s->win.n - 1];
    core_err_t rc = CORE_OK;
    args_t *a = &s->a;

    for (size_t i = 0; i < sc->n; i++) {
        args_reset(a);
        rc = args_str(a, "EVALSHA");
        rc = rc ? rc : args_str(a, s->scripts[SCRIPT_RATES].sha);
        rc = rc ? rc : args_i64(a, (int64_t)s->win.n + maxw);
        for (size_t w = 0; w < s->win.n && rc == CORE_OK; w++) {
            char rest[ALR_SCOPE_MAX + 24];
            snprintf(rest, sizeof rest, "%s:%s", sc->v[i], s->win.name[w]);
            rc = args_key(a, s->prefix, "rate", rest);
        }
        for (int m = 0; m < maxw && rc == CORE_OK; m++) {
            char k[ALR_KEY_MAX];
            size_t kn = alr_key_bucket(k, sizeof k, s->prefix, sc->v[i], nowmin - m);
            rc = kn ? args_add(a, k, kn) : CORE_EINVAL;
        }
        rc = rc ? rc : args_i64(a, (int64_t)s->win.n);
        for (size_t w = 0; w < s->win.n && rc == CORE_OK; w++)
            rc = args_i64(a, s->win.min[w]);
        rc = rc ? rc : args_i64(a, now);
        rc = rc ? rc : args_i64(a, RATE_TTL_EXTRA_MS);
        rc = rc ? rc : args_str(a, write ? "1" : "0");
        rc = rc ? rc : args_send(s, a);
        if (rc != CORE_OK) {
            alr_redis_disconnect(s->r);
            return rc;
        }
    }
    for (size_t i = 0; i < sc->n; i++) {
        redisReply *rep;
        core_err_t e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK)
            return e;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == s->win.n) {
            for (size_t w = 0; w < s->win.n; w++) {
                redisReply *row = rep->element[w];
                for (size_t f = 0; f < 4; f++) {
                    uint64_t v = 0;
                    if (row->type == REDIS_REPLY_ARRAY && row->elements == 4 &&
                        row->element[f]->type == REDIS_REPLY_INTEGER &&
                        row->element[f]->integer > 0)
                        v = (uint64_t)row->element[f]->integer;
                    cnt[(i * s->win.n + w) * 4 + f] = v;
                }
            }
        } else {
            if (is_noscript(rep))
                s->scripts_loaded = 0;
            if (rc == CORE_OK) {
                alr_redis_reply_err(s->r, rep);
                rc = CORE_EREDIS;
            }
        }
        freeReplyObject(rep);
    }
    return rc;
}

static int64_t field_i64(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

typedef struct pair {
    size_t rule, scope, win;
    alr_rule_state_t cur, next;
    alr_event_t ev;
    alr_counts_t c;
    alr_verdict_t v;
} pair_t;

static size_t window_index(const alr_sink_t *s, int minutes)
{
    for (size_t w = 0; w < s->win.n; w++) {
        if (s->win.min[w] == minutes)
            return w;
    }
    return 0; /* unreachable: every rule window is in s->windows */
}

/* publish_transition runs the ALERT script for one pair; *won tells whether
 * this caller made the transition. */
static core_err_t append_alert(alr_sink_t *s, const pair_t *p, const char *scope, const uint64_t *c,
                               int64_t now, redisReply *samples)
{
    const alr_rule_t *r = &s->rules[p->rule];
    char member[ALR_SCOPE_MAX + 72], rest[ALR_SCOPE_MAX + 72], rate[32], baseline[16];
    char *json = NULL;
    alr_alert_t al;
    args_t *a = &s->a;
    core_err_t rc = CORE_OK;

    memset(&al, 0, sizeof al);
    snprintf(al.id, sizeof al.id, "%s-%" PRIx64, s->instance, ++s->alert_seq);
    snprintf(member, sizeof member, "%s:%s", r->name, scope);
    snprintf(rate, sizeof rate, "%.4f", c[0] ? (double)c[1] / (double)c[0] : 0.0);
    if (p->ev == ALR_EV_FIRE || p->ev == ALR_EV_RESOLVE) {
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
        for (size_t i = 0; samples && samples->type == REDIS_REPLY_ARRAY && i < samples->elements &&
                           al.n_samples < ALR_ALERT_SAMPLES;
             i++) {
            if (samples->element[i]->type == REDIS_REPLY_STRING)
                al.samples[al.n_samples++] = samples->element[i]->str;
        }
        rc = alr_json_alert(&al, &json);
        if (rc != CORE_OK)
            return rc;
    }
    args_reset(a);
    rc = args_str(a, "EVALSHA");
    rc = rc ? rc : args_str(a, s->scripts[SCRIPT_ALERT].sha);
    rc = rc ? rc : args_str(a, "3");
    snprintf(rest, sizeof rest, "%s:%s", r->name, scope);
    rc = rc ? rc : args_key(a, s->prefix, "alert", rest);
    rc = rc ? rc : args_key(a, s->prefix, "alerts:log", NULL);
    rc = rc ? rc : args_key(a, s->prefix, "alerts:active", NULL);
    rc = rc ? rc : args_i64(a, p->cur.ver);
    rc = rc ? rc : args_str(a, alr_state_name(p->next.state));
    rc = rc ? rc : args_i64(a, p->next.since_ms);
    rc = rc ? rc : args_i64(a, p->next.changed_ms);
    rc = rc ? rc : args_i64(a, p->next.resolved_ms);
    rc = rc ? rc : args_str(a, r->name);
    rc = rc ? rc : args_str(a, scope);
    rc = rc ? rc : args_str(a, s->win.name[p->win]);
    rc = rc ? rc : args_str(a, rate);
    rc = rc ? rc : args_i64(a, (int64_t)c[0]);
    rc = rc ? rc : args_str(a, member);
    rc = rc ? rc : args_str(a, json ? json : "");
    rc = rc ? rc : args_i64(a, s->alerts_log_max);
    rc = rc ? rc : args_key(a, s->prefix, "alerts", NULL);
    rc = rc ? rc : args_key(a, s->prefix, "alerts", scope);
    rc = rc ? rc : args_str(a, al.id);
    free(json);
    return rc ? rc : args_send(s, a);
}

/* rules evaluates every rule on every scope in sc with counts cnt and
 * applies the transitions. */
static core_err_t rules(alr_sink_t *s, const scopes_t *sc, const uint64_t *cnt,
                        const uint64_t *base, int64_t now, size_t *fired, size_t *resolved)
{
    pair_t *pv = NULL;
    redisReply **samples = NULL;
    size_t np = 0, cap = 0, nt = 0;
    core_err_t rc = CORE_OK;
    args_t *a = &s->a;

    for (size_t i = 0; i < sc->n; i++) {
        for (size_t r = 0; r < s->nrules; r++) {
            if (!alr_rule_matches(&s->rules[r], sc->v[i]))
                continue;
            if (np == cap) {
                size_t nc = cap ? cap * 2 : 16;
                pair_t *p = realloc(pv, nc * sizeof *p);
                if (!p) {
                    rc = CORE_ENOMEM;
                    goto out;
                }
                pv = p;
                cap = nc;
            }
            memset(&pv[np], 0, sizeof pv[np]);
            pv[np].rule = r;
            pv[np].scope = i;
            pv[np].win = window_index(s, s->rules[r].window_min);
            np++;
        }
    }
    if (np == 0)
        goto out;

    /* Round 1: read the states. */
    for (size_t p = 0; p < np; p++) {
        char rest[ALR_SCOPE_MAX + 72];
        snprintf(rest, sizeof rest, "%s:%s", s->rules[pv[p].rule].name, sc->v[pv[p].scope]);
        args_reset(a);
        rc = args_str(a, "HMGET");
        rc = rc ? rc : args_key(a, s->prefix, "alert", rest);
        rc = rc ? rc : args_str(a, "state");
        rc = rc ? rc : args_str(a, "since");
        rc = rc ? rc : args_str(a, "changed");
        rc = rc ? rc : args_str(a, "resolved");
        rc = rc ? rc : args_str(a, "ver");
        rc = rc ? rc : args_send(s, a);
        if (rc != CORE_OK) {
            alr_redis_disconnect(s->r);
            goto out;
        }
    }
    for (size_t p = 0; p < np; p++) {
        redisReply *rep;
        core_err_t e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK) {
            rc = e;
            goto out;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 5) {
            const uint64_t *c = &cnt[(pv[p].scope * s->win.n + pv[p].win) * 4];
            pair_t *q = &pv[p];
            q->cur.state = alr_state_parse(
                rep->element[0]->type == REDIS_REPLY_STRING ? rep->element[0]->str : NULL);
            q->cur.since_ms = field_i64(rep->element[1]);
            q->cur.changed_ms = field_i64(rep->element[2]);
            q->cur.resolved_ms = field_i64(rep->element[3]);
            q->cur.ver = field_i64(rep->element[4]);
            q->c.n = c[0];
            q->c.negative = c[1];
            if (base) {
                const uint64_t *b = &base[(q->scope * s->nrules + q->rule) * 3];
                q->c.base_n = b[0];
                q->c.base_negative = b[1];
                q->c.base_hours = b[2];
            }
            alr_rule_judge(&s->rules[q->rule], &q->c, &q->v);
            q->ev = alr_rule_step(&s->rules[q->rule], &q->cur, &q->v, now, &q->next);
            nt += q->ev != ALR_EV_NONE;
        } else if (rc == CORE_OK) {
            alr_redis_reply_err(s->r, rep);
            rc = CORE_EREDIS;
        }
        freeReplyObject(rep);
    }
    if (rc != CORE_OK || nt == 0)
        goto out;

    /* Round 2: sample ids of the alerts about to be published. */
    samples = calloc(np, sizeof *samples);
    if (!samples) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t p = 0; p < np; p++) {
        if (pv[p].ev != ALR_EV_FIRE && pv[p].ev != ALR_EV_RESOLVE)
            continue;
        args_reset(a);
        rc = args_str(a, "LRANGE");
        rc = rc ? rc : args_key(a, s->prefix, "neg", sc->v[pv[p].scope]);
        rc = rc ? rc : args_str(a, "0");
        rc = rc ? rc : args_i64(a, ALR_ALERT_SAMPLES - 1);
        rc = rc ? rc : args_send(s, a);
        if (rc != CORE_OK) {
            alr_redis_disconnect(s->r);
            goto out;
        }
    }
    for (size_t p = 0; p < np; p++) {
        if (pv[p].ev != ALR_EV_FIRE && pv[p].ev != ALR_EV_RESOLVE)
            continue;
        rc = alr_redis_read(s->r, &samples[p]);
        if (rc != CORE_OK)
            goto out;
    }

    /* Round 3: the compare-and-set transitions. */
    for (size_t p = 0; p < np; p++) {
        if (pv[p].ev == ALR_EV_NONE)
            continue;
        rc = append_alert(s, &pv[p], sc->v[pv[p].scope],
                          &cnt[(pv[p].scope * s->win.n + pv[p].win) * 4], now, samples[p]);
        if (rc != CORE_OK) {
            alr_redis_disconnect(s->r);
            goto out;
        }
    }
    for (size_t p = 0; p < np; p++) {
        redisReply *rep;
        core_err_t e;
        if (pv[p].ev == ALR_EV_NONE)
            continue;
        e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK) {
            rc = e;
            goto out;
        }
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
            const alr_rule_t *r = &s->rules[pv[p].rule];
            if (pv[p].ev == ALR_EV_FIRE) {
                (*fired)++;
                core_counter_add(s->m_fired, 1);
                CORE_INFO("alerting", "alert firing: rule %s scope %s", r->name,
                          sc->v[pv[p].scope]);
            } else if (pv[p].ev == ALR_EV_RESOLVE) {
                (*resolved)++;
                core_counter_add(s->m_resolved, 1);
                CORE_INFO("alerting", "alert resolved: rule %s scope %s", r->name,
                          sc->v[pv[p].scope]);
            }
        } else if (rep->type != REDIS_REPLY_INTEGER && rc == CORE_OK) {
            if (is_noscript(rep))
                s->scripts_loaded = 0;
            alr_redis_reply_err(s->r, rep);
            rc = CORE_EREDIS;
        }
        freeReplyObject(rep);
    }
out:
    if (samples) {
        for (size_t p = 0; p < np; p++) {
            if (samples[p])
                freeReplyObject(samples[p]);
        }
        free(samples);
    }
    free(pv);
    return rc;
}

/* baselines reads, for every scope in sc matched by a surge or volume rule,
 * each such rule's baseline into base[(scope * nrules + rule) * 3 + {0: n,
 * 1: negative, 2: hours with history}]: one BASE script call per scope over
 * the scope's hourly roll-ups, all pipelined (one round trip). */
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

static core_err_t baselines(alr_sink_t *s, const scopes_t *sc, int64_t now, uint64_t *base)
{
    args_t *a = &s->a;
    core_err_t rc = CORE_OK;
    unsigned char *asked = calloc(sc->n ? sc->n : 1, 1);
    int64_t(*rg)[2] = calloc(s->nrules, sizeof *rg);
    size_t *ridx = calloc(s->nrules, sizeof *ridx);

    if (!asked || !rg || !ridx) {
        free(asked);
        free(rg);
        free(ridx);
        return CORE_ENOMEM;
    }
    for (size_t i = 0; i < sc->n && rc == CORE_OK; i++) {
        size_t nr = rule_ranges(s, sc->v[i], now, rg, ridx);
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        if (nr == 0)
            continue;
        for (size_t k = 0; k < nr; k++) {
            lo = rg[k][0] < lo ? rg[k][0] : lo;
            hi = rg[k][1] > hi ? rg[k][1] : hi;
        }
        args_reset(a);
        rc = args_str(a, "EVALSHA");
        rc = rc ? rc : args_str(a, s->scripts[SCRIPT_BASE].sha);
        rc = rc ? rc : args_i64(a, hi - lo);
        for (int64_t h = lo; h < hi && rc == CORE_OK; h++) {
            char k[ALR_KEY_MAX];
            size_t kn = alr_key_hour(k, sizeof k, s->prefix, sc->v[i], h);
            rc = kn ? args_add(a, k, kn) : CORE_EINVAL;
        }
        rc = rc ? rc : args_i64(a, (int64_t)nr);
        for (size_t k = 0; k < nr && rc == CORE_OK; k++) {
            rc = args_i64(a, rg[k][0] - lo + 1);
            rc = rc ? rc : args_i64(a, rg[k][1] - lo);
        }
        rc = rc ? rc : args_send(s, a);
        if (rc != CORE_OK)
            alr_redis_disconnect(s->r);
        asked[i] = rc == CORE_OK;
    }
    for (size_t i = 0; i < sc->n; i++) {
        redisReply *rep;
        core_err_t e;
        size_t nr;
        if (!asked[i])
            continue;
        e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK) {
            rc = e;
            break;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            /* Read on: the other replies are in the pipe. */
            if (is_noscript(rep))
                s->scripts_loaded = 0;
            if (rc == CORE_OK) {
                alr_redis_reply_err(s->r, rep);
                rc = CORE_EREDIS;
            }
            freeReplyObject(rep);
            continue;
        }
        nr = rule_ranges(s, sc->v[i], now, rg, ridx);
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
        freeReplyObject(rep);
    }
    free(asked);
    free(rg);
    free(ridx);
    return rc;
}

/* refresh_and_evaluate: rates (written) then rules for the scopes in sc. */
static core_err_t refresh_and_evaluate(alr_sink_t *s, const scopes_t *sc, int64_t now,
                                       size_t *fired, size_t *resolved)
{
    uint64_t *cnt, *base = NULL;
    core_err_t rc;

    if (sc->n == 0)
        return CORE_OK;
    rc = ensure(s);
    if (rc != CORE_OK)
        return rc;
    cnt = calloc(sc->n * s->win.n * 4, sizeof *cnt);
    if (s->nbase_rules > 0)
        base = calloc(sc->n * s->nrules * 3, sizeof *base);
    if (!cnt || (s->nbase_rules > 0 && !base)) {
        free(cnt);
        free(base);
        return CORE_ENOMEM;
    }
    rc = refresh(s, sc, now, 1, cnt);
    if (rc == CORE_OK && base)
        rc = baselines(s, sc, now, base);
    if (rc == CORE_OK && s->nrules > 0)
        rc = rules(s, sc, cnt, base, now, fired, resolved);
    free(cnt);
    free(base);
    return rc;
}

core_err_t alr_sink_write(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                          alr_write_result_t *res)
{
    alr_outcome_t *out = NULL;
    int64_t *ev = NULL;
    unsigned char *done = NULL; /* item i answered by Redis */
    int64_t now = s->now(s->now_ctx), t0 = core_time_mono_ns();
    size_t to_send = 0, fired = 0, resolved = 0, attempts = 0;
    alr_write_result_t local = {0};
    core_err_t rc = CORE_OK;

    if (!res)
        res = &local;
    memset(res, 0, offsetof(alr_write_result_t, outcomes));
    if (n == 0)
        return alr_redis_stopped(s->r) ? CORE_ECLOSED : CORE_OK;
    out = malloc(n * sizeof *out);
    ev = calloc(n, sizeof *ev);
    done = calloc(n, 1);
    if (!out || !ev || !done) {
        rc = CORE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = classify(s, items[i], now, &ev[i]);
        to_send += out[i] == ALR_ITEM_COUNTED;
    }

    while (to_send > 0) {
        int fresh;
        if (alr_redis_stopped(s->r)) {
            rc = CORE_ECLOSED;
            goto done;
        }
        rc = alr_redis_connect_retry(s->r, &fresh);
        if (rc != CORE_OK)
            goto done;
        if (fresh)
            s->scripts_loaded = 0;
        if (attempts++ > 0)
            core_counter_add(s->m_retries, 1);
        rc = count_once(s, items, n, ev, out, done);
        if (rc == CORE_OK)
            break;
        if (rc == CORE_ENOMEM || rc == CORE_ETOO_LARGE)
            goto done;
        core_counter_add(s->m_errors, 1);
        CORE_WARN("alerting", "writing a batch of %zu: %s (will retry)", n, alr_sink_error(s));
        if (rc == CORE_EREDIS && !s->scripts_loaded && attempts == 1)
            continue; /* NOSCRIPT: reload and retry at once */
        rc = alr_redis_backoff(s->r);
        if (rc != CORE_OK)
            goto done;
    }
    alr_redis_backoff_reset(s->r);
    core_histogram_observe(s->m_latency, (double)(core_time_mono_ns() - t0) / 1e9);

    /* Counts are in. Rates and rules of the scopes counted into, best
     * effort, at most every refresh_ms (the tick does the rest). */
    for (size_t i = 0; i < n && rc == CORE_OK; i++) {
        char sc[66][ALR_SCOPE_MAX];
        size_t ns;
        if (out[i] != ALR_ITEM_COUNTED)
            continue;
        ns = item_scopes(items[i], sc, 66);
        for (size_t j = 0; j < ns && rc == CORE_OK; j++)
            rc = scopes_add(&s->pending, sc[j]);
    }
    if (rc == CORE_OK && s->pending.n > 0 &&
        core_time_mono_ms() - s->last_refresh_mono >= s->refresh_ms) {
        rc = refresh_and_evaluate(s, &s->pending, now, &fired, &resolved);
        if (rc == CORE_OK) {
            scopes_clear(&s->pending);
            s->last_refresh_mono = core_time_mono_ms();
        }
    }
    if (rc != CORE_OK && rc != CORE_ECLOSED) {
        core_counter_add(s->m_errors, 1);
        CORE_WARN("alerting", "refreshing rates: %s: %s (next tick retries)", core_strerror(rc),
                  alr_sink_error(s));
    }
    rc = CORE_OK;
done:
    if (rc == CORE_OK) {
        for (size_t i = 0; i < n; i++) {
            switch (out[i]) {
            case ALR_ITEM_COUNTED:
                res->counted++;
                break;
            case ALR_ITEM_DUPLICATE:
                res->duplicate++;
                break;
            case ALR_ITEM_TOO_OLD:
                res->too_old++;
                break;
            case ALR_ITEM_FUTURE:
                res->future++;
                break;
            case ALR_ITEM_UNCOUNTED:
                res->uncounted++;
                break;
            }
            if (res->outcomes)
                res->outcomes[i] = out[i];
            core_counter_add(s->m_out[out[i]], 1);
        }
        res->fired = fired;
        res->resolved = resolved;
    }
    free(out);
    free(ev);
    free(done);
    return rc;
}

/* ---- tick and reads ---------------------------------------------------- */

/* index_scopes reads the members of the ZSET prefix+kind scored at or
 * after min (a ZRANGEBYSCORE bound: a number or "-inf"). */
static core_err_t index_scopes(alr_sink_t *s, const char *kind, const char *min, scopes_t *sc)
{
    char k[ALR_KEY_MAX];
    const char *argv[4] = {"ZRANGEBYSCORE", k, min, "+inf"};
    redisReply *rep;
    core_err_t rc;

    alr_key(k, sizeof k, s->prefix, kind, NULL);
    rc = alr_redis_cmd(s->r, &rep, 4, argv, NULL);
    if (rc != CORE_OK)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements && rc == CORE_OK; i++) {
            if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i]->len < ALR_SCOPE_MAX)
                rc = scopes_add(sc, rep->element[i]->str);
        }
    } else {
        alr_redis_reply_err(s->r, rep);
        rc = CORE_EREDIS;
    }
    freeReplyObject(rep);
    return rc;
}

/* zprune: ZREMRANGEBYSCORE prefix+kind -inf (max. */
static core_err_t zprune(alr_sink_t *s, const char *kind, int64_t max)
{
    char k[ALR_KEY_MAX], hi[24];
    const char *argv[4] = {"ZREMRANGEBYSCORE", k, "-inf", hi};
    redisReply *rep;
    core_err_t rc;

    alr_key(k, sizeof k, s->prefix, kind, NULL);
    snprintf(hi, sizeof hi, "(%" PRId64, max);
    rc = alr_redis_cmd(s->r, &rep, 4, argv, NULL);
    if (rc != CORE_OK)
        return rc;
    if (alr_redis_reply_err(s->r, rep))
        rc = CORE_EREDIS;
    freeReplyObject(rep);
    return rc;
}

/* rule_named: whether a configured rule has the name name[0..n). */
static int rule_named(const alr_sink_t *s, const char *name, size_t n)
{
    for (size_t r = 0; r < s->nrules; r++)
        if (strlen(s->rules[r].name) == n && memcmp(s->rules[r].name, name, n) == 0)
            return 1;
    return 0;
}

/* prune_stale removes from the active set (key k) the entries of rules no
 * longer in the config (a reload or a restart with fewer rules), once per
 * sink, and says so in the log. Their state hashes stay as history. */
static core_err_t prune_stale(alr_sink_t *s, const char *k, const scopes_t *stale)
{
    const char **argv;
    redisReply *rep = NULL;
    core_err_t rc;

    if (stale->n == 0) {
        s->pruned = 1;
        return CORE_OK;
    }
    argv = calloc(stale->n + 2, sizeof *argv);
    if (!argv)
        return CORE_ENOMEM;
    argv[0] = "SREM";
    argv[1] = k;
    for (size_t i = 0; i < stale->n; i++)
        argv[2 + i] = stale->v[i];
    rc = alr_redis_cmd(s->r, &rep, (int)stale->n + 2, argv, NULL);
    free(argv);
    if (rc == CORE_OK) {
        CORE_INFO("alerting",
                  "removed %zu active alert(s) of rules no longer configured from %salerts:active "
                  "(first: %s)",
                  stale->n, s->prefix, stale->v[0]);
        s->pruned = 1;
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

core_err_t alr_sink_tick(alr_sink_t *s, size_t *fired, size_t *resolved)
{
    int64_t now = s->now(s->now_ctx);
    scopes_t stale = {0};
    int64_t quiet = now - (int64_t)s->win.min[s->win.n - 1] * 60000 - 60000;
    size_t f = 0, r = 0;
    char k[ALR_KEY_MAX];
    redisReply *rep = NULL;
    int full;
    core_err_t rc = ensure(s);

    scopes_clear(&s->touched);
    if (rc != CORE_OK)
        goto out;
    for (size_t i = 0; i < s->pending.n && rc == CORE_OK; i++)
        rc = scopes_add(&s->touched, s->pending.v[i]);
    if (rc != CORE_OK)
        goto out;
    /* Live scopes: every scope counted since it was last refreshed to zero.
     * A scope leaves the set only after a refresh at a time when its last
     * event was out of every window, so no rate hash is left stale. Without
     * new items a window's sums change only when a minute begins, so the
     * live scopes are refreshed once per minute; dirty and pending scopes
     * and active alerts (whose `for` and cooldown run on time) on every
     * tick. */
    full = alr_minute(now) != s->last_full_minute;
    /* Scopes counted into by any writer (this process or another) since
     * the last tick anywhere: popped atomically, so each is refreshed by one
     * tick; one that fails to refresh waits for the next minute's full
     * refresh. */
    {
        const char *argv[3] = {"SPOP", k, "100000"};
        alr_key(k, sizeof k, s->prefix, "scopes:dirty", NULL);
        rc = alr_redis_cmd(s->r, &rep, 3, argv, NULL);
        if (rc != CORE_OK)
            goto out;
        for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == CORE_OK;
             i++) {
            if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i]->len < ALR_SCOPE_MAX)
                rc = scopes_add(&s->touched, rep->element[i]->str);
        }
        freeReplyObject(rep);
        rep = NULL;
        if (rc != CORE_OK)
            goto out;
    }
    if (full) {
        rc = index_scopes(s, "scopes:live", "-inf", &s->touched);
        if (rc != CORE_OK)
            goto out;
    }
    /* Pending and firing alerts are evaluated even when their scope went
     * quiet long ago, so that they resolve. */
    {
        const char *argv[2] = {"SMEMBERS", k};
        alr_key(k, sizeof k, s->prefix, "alerts:active", NULL);
        rc = alr_redis_cmd(s->r, &rep, 2, argv, NULL);
        if (rc != CORE_OK)
            goto out;
        for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == CORE_OK;
             i++) {
            const char *m = rep->element[i]->str, *colon;
            if (rep->element[i]->type != REDIS_REPLY_STRING)
                continue;
            colon = strchr(m, ':');
            if (!s->pruned && colon && !rule_named(s, m, (size_t)(colon - m))) {
                if (rep->element[i]->len < ALR_SCOPE_MAX) /* longer ones wait (rare) */
                    rc = scopes_add(&stale, m); /* a rule no longer configured */
                continue;
            }
            if (colon && strlen(colon + 1) < ALR_SCOPE_MAX)
                rc = scopes_add(&s->touched, colon + 1);
        }
        freeReplyObject(rep);
        rep = NULL;
        if (rc == CORE_OK && !s->pruned)
            rc = prune_stale(s, k, &stale);
        if (rc != CORE_OK)
            goto out;
    }
    rc = refresh_and_evaluate(s, &s->touched, now, &f, &r);
    if (rc == CORE_OK) {
        scopes_clear(&s->pending);
        s->last_refresh_mono = core_time_mono_ms();
        if (full)
            rc = zprune(s, "scopes:live", quiet);
    }
    if (rc == CORE_OK && full)
        rc = zprune(s, "scopes", now - s->retention_ms);
    if (rc == CORE_OK && full)
        s->last_full_minute = alr_minute(now);
out:
    scopes_free(&stale);
    if (fired)
        *fired = f;
    if (resolved)
        *resolved = r;
    return rc;
}
