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
 * The sink's files: this one (construction, counting, rate refreshes, the
 * tick), alr_alert.c (the rules' baselines and the alert rounds, with the
 * ALERT and BASE scripts), alr_args.c (the argv builder) and alr_scopes.c
 * (the scope sets); alr_sink_int.h holds what they share. The per-batch
 * path builds each command's argv in one reusable arena (no allocation once
 * it has grown) and pipelines a whole batch per round trip.
 */
#include "alerting/alr_sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "alerting/alr_json.h"
#include "alerting/alr_sink_int.h"
#include "core/core_alloc.h"
#include "core/core_log.h"
#include "core/core_time.h"

#define NEG_IDS_CAP 10
#define RATE_TTL_EXTRA_MS 180000
/* Scopes of one item: all, its topic, up to 64 entities. */
#define ITEM_SCOPES_MAX 66
/* Items per COUNT call: a batch of the classifier's size in one call; a
 * larger one (a backtest's) in several, so no call holds Redis long. */
#define COUNT_BATCH_MAX 64

/* COUNT takes a batch of items (at most COUNT_BATCH_MAX). Each item is
 * first marked seen (SET NX): one seen before is left alone (a replay).
 * The counts of the new ones are summed per key in the script and written
 * once per distinct key (the "all" scope and the topics repeat within a
 * batch): the final state is the one item-by-item calls in batch order
 * would leave (the same sums; each list gets its ids in the same order; a
 * key's expiry is the last item's), in about a third of the Redis calls.
 * KEYS: recent list, scope index, live-scope set, dirty-scope set, then
 * per item its seen marker and, per scope, its minute bucket, its
 * negative-ids list and its hourly roll-up.
 * ARGV: seen ttl ms, recent_max, negative ids cap, then per item: its
 * number of scopes ns, bucket expire-at ms, hour expire-at ms, sentiment
 * field, event ms, item id, item JSON, then the ns scope names.
 * Returns one integer per item: 1 counted, 0 seen before. */
static const char COUNT_LUA[] =
    "local ttl, rmax, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local out, ki, ai = {}, 5, 4\n"
    "local incr, ikeys, expat, ekeys = {}, {}, {}, {}\n"
    "local negs, nkeys, zev, zsc, recent = {}, {}, {}, {}, {}\n"
    "local function bump(k, f)\n"
    "  local t = incr[k]\n"
    "  if not t then t = {}; incr[k] = t; ikeys[#ikeys + 1] = k end\n"
    "  if t[f] then t[f] = t[f] + 1 else t[#t + 1] = f; t[f] = 1 end\n"
    "end\n"
    "local function expire(k, at)\n"
    "  if not expat[k] then ekeys[#ekeys + 1] = k end\n"
    "  expat[k] = at\n"
    "end\n"
    "local function push(cmd, k, v)\n"
    "  for i = 1, #v, 500 do redis.call(cmd, k, unpack(v, i, math.min(i + 499, #v))) end\n"
    "end\n"
    "while ai <= #ARGV do\n"
    "  local ns = tonumber(ARGV[ai])\n"
    "  local bexp, hexp, sent = ARGV[ai + 1], ARGV[ai + 2], ARGV[ai + 3]\n"
    "  local ev, id = tonumber(ARGV[ai + 4]), ARGV[ai + 5]\n"
    "  if redis.call('SET', KEYS[ki], '1', 'NX', 'PX', ttl) then\n"
    "    out[#out + 1] = 1\n"
    "    recent[#recent + 1] = ARGV[ai + 6]\n"
    "    for s = 1, ns do\n"
    "      local b, l, h = KEYS[ki + 3 * s - 2], KEYS[ki + 3 * s - 1], KEYS[ki + 3 * s]\n"
    "      local sc = ARGV[ai + 6 + s]\n"
    "      bump(b, 'n'); bump(b, sent); expire(b, bexp)\n"
    "      bump(h, 'n'); bump(h, sent); expire(h, hexp)\n"
    "      if sent == 'negative' then\n"
    "        local q = negs[l]\n"
    "        if not q then q = {}; negs[l] = q; nkeys[#nkeys + 1] = l end\n"
    "        q[#q + 1] = id\n"
    "        expire(l, bexp)\n"
    "      end\n"
    "      if not zev[sc] then zsc[#zsc + 1] = sc; zev[sc] = ev\n"
    "      elseif ev > zev[sc] then zev[sc] = ev end\n"
    "    end\n"
    "  else\n"
    "    out[#out + 1] = 0\n"
    "  end\n"
    "  ki = ki + 1 + 3 * ns\n"
    "  ai = ai + 7 + ns\n"
    "end\n"
    "for _, k in ipairs(ikeys) do\n"
    "  local t = incr[k]\n"
    "  for j = 1, #t do redis.call('HINCRBY', k, t[j], t[t[j]]) end\n"
    "end\n"
    "for _, l in ipairs(nkeys) do\n"
    "  push('LPUSH', l, negs[l])\n"
    "  redis.call('LTRIM', l, 0, cap - 1)\n"
    "end\n"
    "for _, k in ipairs(ekeys) do redis.call('PEXPIREAT', k, expat[k]) end\n"
    "for _, sc in ipairs(zsc) do\n"
    "  for z = 2, 3 do\n"
    "    local cur = redis.call('ZSCORE', KEYS[z], sc)\n"
    "    if not cur or tonumber(cur) < zev[sc] then redis.call('ZADD', KEYS[z], zev[sc], sc) end\n"
    "  end\n"
    "end\n"
    "push('SADD', KEYS[4], zsc)\n"
    "if #recent > 0 then\n"
    "  push('LPUSH', KEYS[1], recent)\n"
    "  redis.call('LTRIM', KEYS[1], 0, rmax - 1)\n"
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

static int64_t wall_now(void *ctx)
{
    (void)ctx;
    return core_time_now_ms();
}

const char *alr_outcome_name(alr_outcome_t o)
{
    switch (o) {
#define NAME_CASE(NAME, name)                                                                      \
    case ALR_ITEM_##NAME:                                                                          \
        return #name;
        ALR_OUTCOMES(NAME_CASE)
#undef NAME_CASE
    case ALR_ITEM__COUNT:
        break;
    }
    return "?";
}

/* tally adds one item's outcome to the result's counter of that outcome. */
static void tally(alr_write_result_t *res, alr_outcome_t o)
{
    switch (o) {
#define TALLY_CASE(NAME, name)                                                                     \
    case ALR_ITEM_##NAME:                                                                          \
        res->name++;                                                                               \
        break;
        ALR_OUTCOMES(TALLY_CASE)
#undef TALLY_CASE
    case ALR_ITEM__COUNT:
        break;
    }
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
    char lab[64];
    if (!m)
        return;
    for (int i = 0; i < ALR_ITEM__COUNT; i++)
        s->m_out[i] = core_metrics_counter(
            m, "finsent_redis_items_total",
            core_metrics_label(lab, sizeof lab, "outcome", alr_outcome_name((alr_outcome_t)i)),
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
    s->m_failovers = core_metrics_counter(
        m, "finsent_redis_failovers_total", NULL,
        "times the writer found a different Redis primary than before (Sentinel failover)");
    s->m_wait_short = core_metrics_counter(
        m, "finsent_redis_wait_shortfalls_total", NULL,
        "batches replayed because WAIT got fewer than redis.wait_replicas acknowledgements");
    s->m_wait_s = core_metrics_histogram(m, "finsent_redis_wait_seconds", NULL,
                                         "time of the WAIT after one batch (redis.wait_replicas)",
                                         core_metrics_latency_buckets,
                                         core_metrics_latency_nbuckets);
    s->metrics = m;
}

/* note_primary (write path, once per batch): the failovers the connection
 * saw since the last look go to the counter, and the primary's info series
 * follows a change of primary. */
static void note_primary(alr_sink_t *s)
{
    char at[300], lab[360];
    uint64_t n = alr_redis_primary(s->r, at, sizeof at);

    if (n > s->failovers_seen)
        core_counter_add(s->m_failovers, n - s->failovers_seen);
    s->failovers_seen = n;
    if (!s->metrics || !at[0] || strcmp(at, s->primary_seen) == 0)
        return;
    snprintf(s->primary_seen, sizeof s->primary_seen, "%s", at);
    core_gauge_set(s->m_primary, 0.0);
    s->m_primary = core_metrics_gauge(s->metrics, "finsent_redis_primary_info",
                                      core_metrics_label(lab, sizeof lab, "addr", at),
                                      "the Redis primary the writer uses (1; 0: a former one)");
    core_gauge_set(s->m_primary, 1.0);
}

/* read_redis_config takes the [redis] limits. */
static core_err_t read_redis_config(alr_sink_t *s, const core_config_t *cfg, char *err,
                                    size_t errlen)
{
    const char *prefix = core_config_str(cfg, CORE_CFG_REDIS_PREFIX);
    if (strlen(prefix) >= sizeof s->prefix) {
        snprintf(err, errlen, "[redis] prefix: longer than %zu bytes", sizeof s->prefix - 1);
        return CORE_ECONFIG;
    }
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->retention_ms = core_config_int(cfg, CORE_CFG_REDIS_RETENTION);
    s->hourly_retention_ms = core_config_int(cfg, CORE_CFG_REDIS_HOURLY_RETENTION);
    s->seen_ttl_ms = core_config_int(cfg, CORE_CFG_REDIS_SEEN_TTL);
    s->future_skew_ms = core_config_int(cfg, CORE_CFG_REDIS_FUTURE_SKEW);
    s->recent_max = (long)core_config_int(cfg, CORE_CFG_REDIS_RECENT_MAX);
    s->alerts_log_max = (long)core_config_int(cfg, CORE_CFG_REDIS_ALERTS_LOG_MAX);
    if (s->seen_ttl_ms < s->retention_ms)
        CORE_WARN("alerting", "redis.seen_ttl is shorter than redis.retention: an item replayed "
                              "after seen_ttl would be counted twice");
    return CORE_OK;
}

/* load_rules reads the rules and checks that the hourly roll-ups reach
 * back far enough for every baseline. */
static core_err_t load_rules(alr_sink_t *s, const core_config_t *cfg, char *err, size_t errlen)
{
    core_err_t rc = alr_rules_load(cfg, &s->rules, &s->nrules, err, errlen);
    if (rc != CORE_OK)
        return rc;
    for (size_t i = 0; i < s->nrules; i++) {
        const alr_rule_t *r = &s->rules[i];
        int64_t need = ((int64_t)r->baseline_h + 2) * 3600000 + (int64_t)r->window_min * 60000;
        if (!alr_rule_has_baseline(r))
            continue;
        if (need > s->hourly_retention_ms) {
            snprintf(err, errlen,
                     "[rule.%s] baseline: %dh before a %d-minute window needs "
                     "redis.hourly_retention of at least %" PRId64 "h",
                     r->name, r->baseline_h, r->window_min, (need + 3599999) / 3600000);
            return CORE_ECONFIG;
        }
        s->nbase_rules++;
    }
    return CORE_OK;
}

/* make_instance_id: 16 random hex digits naming this sink's alerts. */
static void make_instance_id(alr_sink_t *s)
{
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        uint64_t x = (uint64_t)core_time_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &x, sizeof rnd);
    }
    for (int i = 0; i < 8; i++)
        snprintf(s->instance + 2 * i, 3, "%02x", rnd[i]);
}

core_err_t alr_sink_new(const core_config_t *cfg, core_metrics_t *metrics, alr_sink_t **out,
                        char *err, size_t errlen)
{
    alr_sink_t *s = core_calloc(1, sizeof *s);
    alr_redis_opts_t o;
    core_err_t rc;

    *out = NULL;
    if (!s)
        return CORE_ENOMEM;
    if ((rc = read_redis_config(s, cfg, err, errlen)) != CORE_OK ||
        (rc = load_rules(s, cfg, err, errlen)) != CORE_OK ||
        (rc = alr_windows_from_config(cfg, s->rules, s->nrules, &s->win, err, errlen)) != CORE_OK)
        goto out;
    alr_redis_opts_from_config(cfg, &o);
    if ((rc = alr_redis_opts_check(&o, err, errlen)) != CORE_OK)
        goto out;
    s->wait_replicas = o.wait_replicas;
    s->wait_timeout_ms = o.wait_timeout_ms;
    if ((rc = alr_redis_new(&o, &s->r)) != CORE_OK)
        goto out;
    s->scripts[ALR_SCRIPT_COUNT].src = COUNT_LUA;
    s->scripts[ALR_SCRIPT_RATES].src = RATES_LUA;
    s->scripts[ALR_SCRIPT_ALERT].src = alr_alert_lua;
    s->scripts[ALR_SCRIPT_BASE].src = alr_base_lua;
    s->now = wall_now;
    s->refresh_ms = ALR_SINK_REFRESH_MS;
    s->last_refresh_mono = INT64_MIN / 2; /* the first write refreshes */
    s->last_full_minute = INT64_MIN;
    make_instance_id(s);
    register_metrics(s, metrics);
    *out = s;
    s = NULL;
out:
    alr_sink_free(s);
    return rc;
}

void alr_sink_free(alr_sink_t *s)
{
    if (!s)
        return;
    alr_redis_free(s->r);
    core_free(s->rules);
    alr_args_free(&s->a);
    alr_scopes_free(&s->touched);
    alr_scopes_free(&s->pending);
    core_free(s);
}

void alr_sink_set_clock(alr_sink_t *s, int64_t (*now)(void *ctx), void *ctx)
{
    s->now = now ? now : wall_now;
    s->now_ctx = ctx;
}

void alr_sink_set_refresh_interval(alr_sink_t *s, int64_t ms)
{
    s->refresh_ms = ms < 0 ? ALR_SINK_REFRESH_NEVER : ms;
}

void alr_sink_cancel(alr_sink_t *s)
{
    alr_redis_stop(s->r);
}

const char *alr_sink_error(const alr_sink_t *s)
{
    return alr_redis_error(s->r);
}

uint64_t alr_sink_primary(alr_sink_t *s, char *buf, size_t cap)
{
    char at[300];
    uint64_t n = alr_redis_primary(s->r, at, sizeof at);
    snprintf(buf, cap, "%s", at);
    return s->m_failovers ? core_counter_value(s->m_failovers) : n;
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
        rc = alr_redis_load_scripts(s->r, s->scripts, ALR_SCRIPT__N);
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

void alr_sink_reply_failed(alr_sink_t *s, const redisReply *rep, const char *what, core_err_t *rc)
{
    if (rep && rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "NOSCRIPT", 8) == 0)
        s->scripts_loaded = 0;
    if (*rc != CORE_OK)
        return;
    if (!alr_redis_reply_err(s->r, rep))
        alr_redis_seterr(s->r, what);
    *rc = CORE_EREDIS;
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

/* append_count queues one COUNT script call for the items idx[0..k) of
 * items (ev: their event times): the keys of every item, then its
 * arguments (the scopes of an item are listed twice, so they are worked
 * out in each pass rather than kept). */
static core_err_t append_count(alr_sink_t *s, core_tagged_t *const *items, const int64_t *ev,
                               const size_t *idx, size_t k)
{
    char sc[ITEM_SCOPES_MAX][ALR_SCOPE_MAX];
    alr_args_t *a = &s->a;
    int64_t nkeys = 4;

    for (size_t x = 0; x < k; x++)
        nkeys += 1 + 3 * (int64_t)item_scopes(items[idx[x]], sc, ITEM_SCOPES_MAX);
    alr_args_reset(a);
    alr_args_str(a, "EVALSHA");
    alr_args_str(a, s->scripts[ALR_SCRIPT_COUNT].sha);
    alr_args_i64(a, nkeys);
    alr_args_key(a, s->prefix, "recent", NULL);
    alr_args_key(a, s->prefix, "scopes", NULL);
    alr_args_key(a, s->prefix, "scopes:live", NULL);
    alr_args_key(a, s->prefix, "scopes:dirty", NULL);
    for (size_t x = 0; x < k; x++) {
        const core_tagged_t *t = items[idx[x]];
        size_t ns = item_scopes(t, sc, ITEM_SCOPES_MAX);
        int64_t minute = alr_minute(ev[idx[x]]), hour = alr_hour(ev[idx[x]]);
        alr_args_seen_key(a, s->prefix, t->item->id);
        for (size_t i = 0; i < ns; i++) {
            alr_args_bucket(a, s->prefix, sc[i], minute);
            alr_args_key(a, s->prefix, "neg", sc[i]);
            alr_args_hour(a, s->prefix, sc[i], hour);
        }
    }
    alr_args_i64(a, s->seen_ttl_ms);
    alr_args_i64(a, s->recent_max);
    alr_args_i64(a, NEG_IDS_CAP);
    for (size_t x = 0; x < k; x++) {
        const core_tagged_t *t = items[idx[x]];
        size_t ns = item_scopes(t, sc, ITEM_SCOPES_MAX);
        int64_t e = ev[idx[x]], minute = alr_minute(e), hour = alr_hour(e);
        char *json = NULL;
        core_err_t rc = alr_json_item(t, &json);
        if (rc != CORE_OK)
            return rc;
        alr_args_i64(a, (int64_t)ns);
        alr_args_i64(a, (minute + 1) * 60000 + s->retention_ms);
        alr_args_i64(a, (hour + 1) * 3600000 + s->hourly_retention_ms);
        alr_args_str(a, core_sentiment_name(t->sentiment));
        alr_args_i64(a, e);
        alr_args_str(a, t->item->id);
        alr_args_str(a, json);
        for (size_t i = 0; i < ns; i++)
            alr_args_str(a, sc[i]);
        core_free(json);
    }
    return alr_args_send(a, s->r);
}

/* countable: an item that goes to Redis (its outcome is decided there). */
static int countable(alr_outcome_t o)
{
    return o == ALR_ITEM_COUNTED || o == ALR_ITEM_DUPLICATE;
}

/* done[i] bits: ANSWERED in the current round, EARLIER in a round before a
 * replay (WAIT shortfall), whose outcome stands unless Redis now says the
 * item was new (a new primary that had lost it). */
#define DONE_ANSWERED 1
#define DONE_EARLIER 2

/* next_chunk fills idx with up to COUNT_BATCH_MAX of the countable items
 * without an answer, scanning from *pos on (which it advances); returns
 * how many. Sending and reading walk the same chunks: reading only marks
 * items the cursor has passed. */
static size_t next_chunk(const alr_outcome_t *out, const unsigned char *done, size_t n, size_t *pos,
                         size_t *idx)
{
    size_t k = 0;
    for (; *pos < n && k < COUNT_BATCH_MAX; (*pos)++)
        if (countable(out[*pos]) && !(done[*pos] & DONE_ANSWERED))
            idx[k++] = *pos;
    return k;
}

/* count_once sends the COUNT calls (COUNT_BATCH_MAX items each) of the
 * countable items that have no answer yet in this round and reads their
 * replies: an answered item is in Redis (the script is atomic, and with
 * appendfsync always the reply comes after the fsync), so a retry never
 * needs to send it again and its outcome stays the one of the attempt that
 * ran it. CORE_OK: every item answered. CORE_ENET: connection lost.
 * CORE_EREDIS: an error reply (NOSCRIPT clears scripts_loaded); the items
 * without an answer are sent again next time. */
static core_err_t count_once(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                             const int64_t *ev, alr_outcome_t *out, unsigned char *done)
{
    core_err_t rc = ensure(s), first = CORE_OK;
    size_t idx[COUNT_BATCH_MAX], k, pos = 0;

    if (rc != CORE_OK)
        return rc;
    while ((k = next_chunk(out, done, n, &pos, idx)) > 0) {
        rc = append_count(s, items, ev, idx, k);
        if (rc != CORE_OK) {
            /* The arena failed or a key did not fit: the commands already
             * queued still have replies to read, so drop the connection. */
            alr_redis_disconnect(s->r);
            return rc == CORE_EINVAL ? CORE_ETOO_LARGE : rc;
        }
    }
    pos = 0;
    while ((k = next_chunk(out, done, n, &pos, idx)) > 0) {
        redisReply *rep;
        rc = alr_redis_read(s->r, &rep);
        if (rc != CORE_OK)
            return rc;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == k) {
            for (size_t x = 0; x < k; x++) {
                size_t i = idx[x];
                const redisReply *e = rep->element[x];
                if (e->type == REDIS_REPLY_INTEGER && e->integer == 1)
                    out[i] = ALR_ITEM_COUNTED;
                else if (!(done[i] & DONE_EARLIER))
                    out[i] = ALR_ITEM_DUPLICATE;
                done[i] |= DONE_ANSWERED;
            }
        } else {
            alr_sink_reply_failed(s, rep, "redis: unexpected reply to the count script", &first);
        }
        freeReplyObject(rep);
    }
    return first;
}

/* replicated issues WAIT for redis.wait_replicas after a round whose
 * items are all answered: CORE_OK when enough replicas have every write of
 * this connection; CORE_EAGAIN for a shortfall; CORE_ENET / CORE_EREDIS
 * when WAIT itself failed. */
static core_err_t replicated(alr_sink_t *s, size_t n)
{
    int64_t t0 = core_time_mono_ns();
    int acked = 0;
    core_err_t rc = alr_redis_wait(s->r, s->wait_replicas, s->wait_timeout_ms, &acked);
    char msg[160];

    core_histogram_observe(s->m_wait_s, (double)(core_time_mono_ns() - t0) / 1e9);
    if (rc != CORE_OK || acked >= s->wait_replicas)
        return rc;
    snprintf(msg, sizeof msg,
             "redis: WAIT: %d of %d replica(s) acknowledged a batch of %zu within %lld ms", acked,
             s->wait_replicas, n, (long long)s->wait_timeout_ms);
    alr_redis_seterr(s->r, msg);
    return CORE_EAGAIN;
}

/* count_all runs count_once until every countable item is answered (and,
 * with redis.wait_replicas, replicated): reconnecting and backing off after
 * failures (Redis away is backpressure), until cancelled.
 *
 * A WAIT shortfall replays the whole batch, not the pipeline's drop path:
 * every countable item is sent again (idempotent: one already in Redis
 * reads as a duplicate and keeps its first outcome), on whatever primary
 * the connection reaches by then, and WAIT is asked again. Sending again
 * matters after a failover: the new primary may lack some of the items
 * the old one had answered. Nothing of the batch is acknowledged meanwhile
 * (alr_sink_write has not returned), so a failover never loses an item the
 * source was told about. */
static core_err_t count_all(alr_sink_t *s, core_tagged_t *const *items, size_t n, const int64_t *ev,
                            alr_outcome_t *out, unsigned char *done)
{
    size_t attempts = 0, shortfalls = 0;
    core_err_t rc;

    for (;;) {
        int fresh;
        if (alr_redis_stopped(s->r))
            return CORE_ECLOSED;
        if ((rc = alr_redis_connect_retry(s->r, &fresh)) != CORE_OK)
            return rc;
        if (fresh)
            s->scripts_loaded = 0;
        note_primary(s);
        if (attempts++ > 0)
            core_counter_add(s->m_retries, 1);
        rc = count_once(s, items, n, ev, out, done);
        if (rc == CORE_OK && s->wait_replicas > 0) {
            rc = replicated(s, n);
            if (rc != CORE_OK) /* replay: everything is sent again */
                for (size_t i = 0; i < n; i++)
                    done[i] = done[i] ? DONE_EARLIER : 0;
            if (rc == CORE_EAGAIN) {
                core_counter_add(s->m_wait_short, 1);
                if (shortfalls++ % 10 == 0)
                    CORE_WARN("alerting", "%s: not acknowledged; replaying it", alr_sink_error(s));
                continue; /* WAIT itself waited wait_timeout */
            }
        }
        if (rc == CORE_OK || rc == CORE_ENOMEM || rc == CORE_ETOO_LARGE)
            return rc;
        core_counter_add(s->m_errors, 1);
        CORE_WARN("alerting", "writing a batch of %zu: %s (will retry)", n, alr_sink_error(s));
        if (rc == CORE_EREDIS && !s->scripts_loaded && attempts == 1)
            continue; /* NOSCRIPT: reload and retry at once */
        if ((rc = alr_redis_backoff(s->r)) != CORE_OK)
            return rc;
    }
}

/* ---- rates ------------------------------------------------------------- */

/* append_rates queues the RATES call of one scope. */
static core_err_t append_rates(alr_sink_t *s, const char *scope, int64_t now, int write)
{
    int64_t nowmin = alr_minute(now);
    int maxw = s->win.min[s->win.n - 1];
    alr_args_t *a = &s->a;

    alr_args_reset(a);
    alr_args_str(a, "EVALSHA");
    alr_args_str(a, s->scripts[ALR_SCRIPT_RATES].sha);
    alr_args_i64(a, (int64_t)s->win.n + maxw);
    for (size_t w = 0; w < s->win.n; w++) {
        char rest[ALR_SCOPE_MAX + 24];
        snprintf(rest, sizeof rest, "%s:%s", scope, s->win.name[w]);
        alr_args_key(a, s->prefix, "rate", rest);
    }
    for (int m = 0; m < maxw; m++)
        alr_args_bucket(a, s->prefix, scope, nowmin - m);
    alr_args_i64(a, (int64_t)s->win.n);
    for (size_t w = 0; w < s->win.n; w++)
        alr_args_i64(a, s->win.min[w]);
    alr_args_i64(a, now);
    alr_args_i64(a, RATE_TTL_EXTRA_MS);
    alr_args_str(a, write ? "1" : "0");
    return alr_args_send(a, s->r);
}

/* store_rates copies one RATES reply into cnt[w * 4 + field]. */
static void store_rates(const alr_sink_t *s, const redisReply *rep, uint64_t *cnt)
{
    for (size_t w = 0; w < s->win.n; w++) {
        const redisReply *row = rep->element[w];
        for (size_t f = 0; f < 4; f++) {
            uint64_t v = 0;
            if (row->type == REDIS_REPLY_ARRAY && row->elements == 4 &&
                row->element[f]->type == REDIS_REPLY_INTEGER && row->element[f]->integer > 0)
                v = (uint64_t)row->element[f]->integer;
            cnt[w * 4 + f] = v;
        }
    }
}

/* refresh runs the RATES script for the scopes of sc and stores each
 * scope's counts in cnt[(scope * win.n + window) * 4 + field]. */
static core_err_t refresh(alr_sink_t *s, const alr_scopes_t *sc, int64_t now, int write,
                          uint64_t *cnt)
{
    core_err_t rc = CORE_OK;

    for (size_t i = 0; i < sc->n; i++) {
        if ((rc = append_rates(s, sc->v[i], now, write)) != CORE_OK) {
            alr_redis_disconnect(s->r);
            return rc;
        }
    }
    for (size_t i = 0; i < sc->n; i++) {
        redisReply *rep;
        core_err_t e = alr_redis_read(s->r, &rep);
        if (e != CORE_OK)
            return e;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == s->win.n)
            store_rates(s, rep, &cnt[i * s->win.n * 4]);
        else
            alr_sink_reply_failed(s, rep, "redis: unexpected reply to the rates script", &rc);
        freeReplyObject(rep);
    }
    return rc;
}

/* refresh_and_evaluate: rates (written) then rules for the scopes in sc. */
static core_err_t refresh_and_evaluate(alr_sink_t *s, const alr_scopes_t *sc, int64_t now,
                                       size_t *fired, size_t *resolved)
{
    uint64_t *cnt;
    core_err_t rc;

    if (sc->n == 0)
        return CORE_OK;
    if ((rc = ensure(s)) != CORE_OK)
        return rc;
    if (!(cnt = core_calloc(sc->n * s->win.n * 4, sizeof *cnt)))
        return CORE_ENOMEM;
    rc = refresh(s, sc, now, 1, cnt);
    if (rc == CORE_OK)
        rc = alr_alert_evaluate(s, sc, cnt, now, fired, resolved);
    core_free(cnt);
    return rc;
}

/* refresh_counted adds the scopes of the counted items to the pending set
 * and refreshes (and evaluates) them when the refresh interval has passed.
 * Best effort: a failure is logged, and the tick catches up. */
static void refresh_counted(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                            const alr_outcome_t *out, int64_t now, size_t *fired, size_t *resolved)
{
    core_err_t rc = CORE_OK;

    if (s->refresh_ms == ALR_SINK_REFRESH_NEVER)
        return;
    for (size_t i = 0; i < n && rc == CORE_OK; i++) {
        char sc[ITEM_SCOPES_MAX][ALR_SCOPE_MAX];
        size_t ns;
        if (out[i] != ALR_ITEM_COUNTED)
            continue;
        ns = item_scopes(items[i], sc, ITEM_SCOPES_MAX);
        for (size_t j = 0; j < ns && rc == CORE_OK; j++)
            rc = alr_scopes_add(&s->pending, sc[j]);
    }
    if (rc == CORE_OK && s->pending.n > 0 &&
        core_time_mono_ms() - s->last_refresh_mono >= s->refresh_ms) {
        rc = refresh_and_evaluate(s, &s->pending, now, fired, resolved);
        if (rc == CORE_OK) {
            alr_scopes_clear(&s->pending);
            s->last_refresh_mono = core_time_mono_ms();
        }
    }
    if (rc != CORE_OK && rc != CORE_ECLOSED) {
        core_counter_add(s->m_errors, 1);
        CORE_WARN("alerting", "refreshing rates: %s: %s (next tick retries)", core_strerror(rc),
                  alr_sink_error(s));
    }
}

core_err_t alr_sink_write(alr_sink_t *s, core_tagged_t *const *items, size_t n,
                          alr_write_result_t *res)
{
    alr_outcome_t *out = NULL;
    int64_t *ev = NULL;
    unsigned char *done = NULL; /* item i answered by Redis */
    int64_t now = s->now(s->now_ctx), t0 = core_time_mono_ns();
    size_t to_send = 0;
    alr_write_result_t local = {0};
    core_err_t rc = CORE_OK;

    if (!res)
        res = &local;
    memset(res, 0, offsetof(alr_write_result_t, outcomes));
    if (n == 0)
        return alr_redis_stopped(s->r) ? CORE_ECLOSED : CORE_OK;
    out = core_malloc(n * sizeof *out);
    ev = core_calloc(n, sizeof *ev);
    done = core_calloc(n, 1);
    if (!out || !ev || !done) {
        rc = CORE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = classify(s, items[i], now, &ev[i]);
        to_send += countable(out[i]);
    }
    if (to_send > 0 && (rc = count_all(s, items, n, ev, out, done)) != CORE_OK)
        goto out;
    alr_redis_backoff_reset(s->r);
    core_histogram_observe(s->m_latency, (double)(core_time_mono_ns() - t0) / 1e9);
    /* Counts are in. Rates and rules of the scopes counted into, best
     * effort, at most every refresh_ms (the tick does the rest). */
    refresh_counted(s, items, n, out, now, &res->fired, &res->resolved);
    for (size_t i = 0; i < n; i++) {
        tally(res, out[i]);
        if (res->outcomes)
            res->outcomes[i] = out[i];
        core_counter_add(s->m_out[out[i]], 1);
    }
out:
    core_free(out);
    core_free(ev);
    core_free(done);
    return rc;
}

/* ---- the tick ---------------------------------------------------------- */

/* add_members adds the string members of an array reply (those that fit)
 * to sc. */
static core_err_t add_members(const redisReply *rep, alr_scopes_t *sc)
{
    core_err_t rc = CORE_OK;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == CORE_OK; i++) {
        if (rep->element[i]->type == REDIS_REPLY_STRING && rep->element[i]->len < ALR_SCOPE_MAX)
            rc = alr_scopes_add(sc, rep->element[i]->str);
    }
    return rc;
}

/* key_cmd runs one command on the key prefix+kind: cmd KEY [a1 [a2]]. */
static core_err_t key_cmd(alr_sink_t *s, redisReply **rep, const char *cmd, const char *kind,
                          const char *a1, const char *a2)
{
    char k[ALR_KEY_MAX];
    const char *argv[4] = {cmd, k, a1, a2};
    alr_key(k, sizeof k, s->prefix, kind, NULL);
    return alr_redis_cmd(s->r, rep, a1 ? (a2 ? 4 : 3) : 2, argv, NULL);
}

/* index_scopes reads the members of the ZSET prefix+kind scored at or
 * after min (a ZRANGEBYSCORE bound: a number or "-inf"). */
static core_err_t index_scopes(alr_sink_t *s, const char *kind, const char *min, alr_scopes_t *sc)
{
    redisReply *rep;
    core_err_t rc = key_cmd(s, &rep, "ZRANGEBYSCORE", kind, min, "+inf");

    if (rc != CORE_OK)
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY)
        rc = add_members(rep, sc);
    else
        alr_sink_reply_failed(s, rep, "redis: unexpected reply to ZRANGEBYSCORE", &rc);
    freeReplyObject(rep);
    return rc;
}

/* pop_dirty moves the scopes counted into by any writer (this process or
 * another) since the last tick anywhere into s->touched: popped
 * atomically, so each is refreshed by one tick; one that fails to refresh
 * waits for the next minute's full refresh. */
static core_err_t pop_dirty(alr_sink_t *s)
{
    redisReply *rep;
    core_err_t rc = key_cmd(s, &rep, "SPOP", "scopes:dirty", "100000", NULL);

    if (rc != CORE_OK)
        return rc;
    rc = add_members(rep, &s->touched);
    freeReplyObject(rep);
    return rc;
}

/* zprune: ZREMRANGEBYSCORE prefix+kind -inf (max. */
static core_err_t zprune(alr_sink_t *s, const char *kind, int64_t max)
{
    char hi[24];
    redisReply *rep;
    core_err_t rc;

    snprintf(hi, sizeof hi, "(%" PRId64, max);
    rc = key_cmd(s, &rep, "ZREMRANGEBYSCORE", kind, "-inf", hi);
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

/* prune_stale removes from the active set the entries of rules no longer
 * in the config (a reload or a restart with fewer rules), once per sink,
 * and says so in the log. Their state hashes stay as history. */
static core_err_t prune_stale(alr_sink_t *s, const alr_scopes_t *stale)
{
    char k[ALR_KEY_MAX];
    const char **argv;
    redisReply *rep = NULL;
    core_err_t rc;

    if (stale->n == 0) {
        s->pruned = 1;
        return CORE_OK;
    }
    argv = core_calloc(stale->n + 2, sizeof *argv);
    if (!argv)
        return CORE_ENOMEM;
    alr_key(k, sizeof k, s->prefix, "alerts:active", NULL);
    argv[0] = "SREM";
    argv[1] = k;
    for (size_t i = 0; i < stale->n; i++)
        argv[2 + i] = stale->v[i];
    rc = alr_redis_cmd(s->r, &rep, (int)stale->n + 2, argv, NULL);
    core_free(argv);
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

/* add_active adds the scopes of the pending and firing alerts to
 * s->touched, so that they are evaluated (and resolve) even when their
 * scope went quiet long ago; the first time, entries of rules no longer
 * configured are pruned instead. */
static core_err_t add_active(alr_sink_t *s)
{
    alr_scopes_t stale = {0};
    redisReply *rep;
    core_err_t rc = key_cmd(s, &rep, "SMEMBERS", "alerts:active", NULL, NULL);

    if (rc != CORE_OK)
        return rc;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == CORE_OK; i++) {
        const char *m = rep->element[i]->str, *colon;
        if (rep->element[i]->type != REDIS_REPLY_STRING)
            continue;
        colon = strchr(m, ':');
        if (!s->pruned && colon && !rule_named(s, m, (size_t)(colon - m))) {
            if (rep->element[i]->len < ALR_SCOPE_MAX) /* longer ones wait (rare) */
                rc = alr_scopes_add(&stale, m);       /* a rule no longer configured */
            continue;
        }
        if (colon && strlen(colon + 1) < ALR_SCOPE_MAX)
            rc = alr_scopes_add(&s->touched, colon + 1);
    }
    freeReplyObject(rep);
    if (rc == CORE_OK && !s->pruned)
        rc = prune_stale(s, &stale);
    alr_scopes_free(&stale);
    return rc;
}

/* gather_touched collects the scopes the tick refreshes: pending, dirty,
 * (on a full tick) live, and those of active alerts.
 *
 * Live scopes: every scope counted since it was last refreshed to zero. A
 * scope leaves the set only after a refresh at a time when its last event
 * was out of every window, so no rate hash is left stale. Without new items
 * a window's sums change only when a minute begins, so the live scopes are
 * refreshed once per minute; dirty and pending scopes and active alerts
 * (whose `for` and cooldown run on time) on every tick. */
static core_err_t gather_touched(alr_sink_t *s, int full)
{
    core_err_t rc = CORE_OK;

    for (size_t i = 0; i < s->pending.n && rc == CORE_OK; i++)
        rc = alr_scopes_add(&s->touched, s->pending.v[i]);
    if (rc == CORE_OK)
        rc = pop_dirty(s);
    if (rc == CORE_OK && full)
        rc = index_scopes(s, "scopes:live", "-inf", &s->touched);
    if (rc == CORE_OK)
        rc = add_active(s);
    return rc;
}

core_err_t alr_sink_tick(alr_sink_t *s, size_t *fired, size_t *resolved)
{
    int64_t now = s->now(s->now_ctx);
    int64_t quiet = now - (int64_t)s->win.min[s->win.n - 1] * 60000 - 60000;
    int full = alr_minute(now) != s->last_full_minute;
    size_t f = 0, r = 0;
    core_err_t rc = ensure(s);

    alr_scopes_clear(&s->touched);
    if (rc == CORE_OK)
        rc = gather_touched(s, full);
    if (rc == CORE_OK)
        rc = refresh_and_evaluate(s, &s->touched, now, &f, &r);
    if (rc == CORE_OK) {
        alr_scopes_clear(&s->pending);
        s->last_refresh_mono = core_time_mono_ms();
    }
    if (rc == CORE_OK && full)
        rc = zprune(s, "scopes:live", quiet);
    if (rc == CORE_OK && full)
        rc = zprune(s, "scopes", now - s->retention_ms);
    if (rc == CORE_OK && full)
        s->last_full_minute = alr_minute(now);
    if (fired)
        *fired = f;
    if (resolved)
        *resolved = r;
    return rc;
}
