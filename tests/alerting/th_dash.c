/* th_dash: dashboard test fixtures; see th_dash.h. */
#include "tests/alerting/th_dash.h"

#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alerting/alr_keys.h"
#include "core/core_time.h"

static void cmd_ok(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "redis: %s", c->errstr);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "redis %s: %s", fmt, r->str);
    freeReplyObject(r);
}

static void make_row(int64_t row[4], int64_t n, int64_t neg)
{
    if (neg > n)
        neg = n;
    row[0] = n;
    row[1] = neg;
    row[3] = (n - neg) / 2;
    row[2] = n - neg - row[3];
}

static void fill_buckets(redisContext *c, const char *scope, int64_t rows[][4], int64_t first)
{
    for (int i = 0; i < TH_DASH_MINUTES; i++) {
        char k[ALR_KEY_MAX];
        if (rows[i][0] == 0)
            continue;
        alr_key_bucket(k, sizeof k, "finsent:", scope, first + i);
        cmd_ok(c, "HSET %s n %lld negative %lld neutral %lld positive %lld", k,
               (long long)rows[i][0], (long long)rows[i][1], (long long)rows[i][2],
               (long long)rows[i][3]);
    }
}

static void add_alert(redisContext *c, int64_t id_ms, const char *scope, const char *state,
                      double rate, int64_t ts)
{
    char json[600], tss[32];
    core_time_format_rfc3339(ts, tss, sizeof tss);
    snprintf(json, sizeof json,
             "{\"id\":\"t-%" PRId64 "\",\"rule\":\"r\",\"scope\":\"%s\",\"window\":\"15m\","
             "\"state\":\"%s\",\"neg_rate\":%.4f,\"n\":40,\"negative\":30,\"basis\":\"rate\","
             "\"value\":%.4f,\"threshold\":0.5,\"clear\":0.4,\"since\":\"%s\",\"ts\":\"%s\","
             "\"samples\":[\"a\",\"b\"]}",
             id_ms, scope, state, rate, rate, tss, tss);
    cmd_ok(c, "XADD finsent:alerts:log %lld-0 alert %s", (long long)id_ms, json);
}

int th_dash_start(th_dash_t *d)
{
    redisContext *c;
    int64_t first;
    static const char *const items[] = {
        "{\"id\":\"i1\",\"ts\":\"2026-11-28T14:00:00.000Z\",\"topic\":\"Energy | Oil\","
        "\"sentiment\":\"negative\",\"sentiment_p\":{\"negative\":0.9,\"neutral\":0.05,"
        "\"positive\":0.05},\"entities\":[\"ACME\"]}",
        "{\"id\":\"i2\",\"ts\":\"2026-11-28T14:01:00.000Z\",\"topic\":\"Macro\","
        "\"sentiment\":\"neutral\",\"sentiment_p\":{\"negative\":0.1,\"neutral\":0.8,"
        "\"positive\":0.1},\"entities\":[]}",
        "not json at all",
        "{\"id\":\"i3\",\"ts\":\"2026-11-28T14:02:00.000Z\",\"topic\":\"Energy | Oil\","
        "\"sentiment\":\"positive\",\"sentiment_p\":{\"negative\":0.1,\"neutral\":0.2,"
        "\"positive\":0.7},\"entities\":[\"XOM\",\"acme\"]}",
        "{\"id\":\"i4\",\"ts\":\"2026-11-28T14:03:00.000Z\",\"topic\":null,"
        "\"sentiment\":\"neutral\",\"sentiment_p\":{\"negative\":0.3,\"neutral\":0.4,"
        "\"positive\":0.3},\"entities\":[\"XOM\"]}",
    };

    memset(d, 0, sizeof *d);
    d->now = (core_time_now_ms() / 60000) * 60000 + 30000;
    d->now_min = alr_minute(d->now);
    first = d->now_min - TH_DASH_MINUTES + 1;
    for (int i = 0; i < TH_DASH_MINUTES; i++) {
        if (i % 5 != 2)
            make_row(d->acme[i], i % 7 + 1, i % 4);
        if (i % 4 != 1)
            make_row(d->oil[i], (i * 3) % 5 + 2, i % 3);
    }
    ck_assert_int_eq(th_redis_start(&d->redis, TH_REDIS_EPHEMERAL), 0);
    c = redisConnect("127.0.0.1", d->redis.port);
    ck_assert_msg(c && !c->err, "connect: %s", c ? c->errstr : "oom");

    fill_buckets(c, "entity:ACME", d->acme, first);
    fill_buckets(c, "topic:energy-oil", d->oil, first);
    /* A bucket just outside the filled minutes, to catch off-by-one reads. */
    cmd_ok(c, "HSET finsent:b:entity:ACME:%lld n 1000 negative 1000", (long long)(first - 1));

    /* Scope index (score: last event ms) and 15m rate hashes. OLD was last
     * seen 3 h ago: its hash still exists but it is not current. */
    cmd_ok(c,
           "ZADD finsent:scopes %lld all %lld entity:ACME %lld topic:energy-oil %lld "
           "entity:TIE %lld entity:OLD %lld entity:TWO",
           (long long)d->now - 1000, (long long)d->now, (long long)d->now - 60000,
           (long long)d->now - 120000, (long long)d->now - 3 * 3600000,
           (long long)d->now - 90000);
    /* TWO: 2 of 2 negative, the noise a share ranking would put first. */
    cmd_ok(c,
           "HSET finsent:rate:entity:TWO:15m n 2 negative 2 neutral 0 positive 0 "
           "neg_rate 1.0000 updated %lld",
           (long long)d->now);
    cmd_ok(c,
           "HSET finsent:rate:all:15m n 100 negative 40 neutral 50 positive 10 neg_rate "
           "0.4000 updated %lld",
           (long long)d->now);
    cmd_ok(c,
           "HSET finsent:rate:entity:ACME:15m n 40 negative 30 neutral 6 positive 4 "
           "neg_rate 0.7500 updated %lld",
           (long long)d->now);
    cmd_ok(c,
           "HSET finsent:rate:topic:energy-oil:15m n 50 negative 10 neutral 30 positive 10 "
           "neg_rate 0.2000 updated %lld",
           (long long)d->now);
    cmd_ok(c,
           "HSET finsent:rate:entity:TIE:15m n 10 negative 2 neutral 8 positive 0 "
           "neg_rate 0.2000 updated %lld",
           (long long)d->now);
    cmd_ok(c,
           "HSET finsent:rate:entity:OLD:15m n 5 negative 5 neutral 0 positive 0 "
           "neg_rate 1.0000 updated %lld",
           (long long)d->now - 3 * 3600000);
    cmd_ok(c,
           "HSET finsent:rate:entity:ACME:5m n 9 negative 1 neutral 8 positive 0 "
           "neg_rate 0.1111 updated %lld",
           (long long)d->now);

    /* Alert stream: ids at fixed times; one entry is not alert JSON. */
    add_alert(c, d->now - 300000, "entity:ACME", "firing", 0.75, d->now - 300000);
    cmd_ok(c, "XADD finsent:alerts:log %lld-0 alert %s", (long long)(d->now - 200000), "{broken");
    add_alert(c, d->now - 100000, "entity:ACME", "resolved", 0.30, d->now - 100000);
    add_alert(c, d->now - 50000, "topic:energy-oil", "firing", 0.60, d->now - 50000);

    /* Alert states: one firing, one pending, one stale member without a hash,
     * one resolved state still in the set (both must be skipped). */
    cmd_ok(c, "SADD finsent:alerts:active r:entity:ACME r:topic:energy-oil r:entity:GONE "
              "r:entity:DONE");
    cmd_ok(c,
           "HSET finsent:alert:r:entity:ACME state firing rule r scope entity:ACME window "
           "15m neg_rate 0.7500 n 40 since %lld changed %lld ver 3",
           (long long)d->now - 300000, (long long)d->now - 300000);
    cmd_ok(c,
           "HSET finsent:alert:r:topic:energy-oil state pending rule r scope "
           "topic:energy-oil window 15m neg_rate 0.6000 n 50 since 0 changed %lld ver 1",
           (long long)d->now - 50000);
    cmd_ok(c, "HSET finsent:alert:r:entity:DONE state resolved rule r scope entity:DONE "
              "window 15m neg_rate 0.1 n 50 since 0 changed 1 ver 2");

    /* Recent items: pushed oldest first, so index 0 is the newest (i4). */
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        cmd_ok(c, "LPUSH finsent:recent %s", items[i]);

    /* Lock: the default user may only read, and never KEYS or SCAN. */
    cmd_ok(c, "ACL SETUSER default on nopass ~* &* -@all +@read +@connection -keys -scan");
    redisFree(c);
    return 0;
}

void th_dash_stop(th_dash_t *d)
{
    th_redis_stop(&d->redis);
}

core_config_t *th_dash_config(const th_dash_t *d)
{
    core_config_t *cfg = NULL;
    char text[600], err[512] = "";
    snprintf(text, sizeof text,
             "[redis]\nhost = 127.0.0.1\nport = %d\nconnect_timeout = 1s\ncommand_timeout = 3s\n"
             "windows = 5m,15m,1h\n[rule.r]\nscope = entity\nwindow = 15m\n",
             d->redis.port);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    return cfg;
}

int64_t th_dash_clock(void *ctx)
{
    return ((const th_dash_t *)ctx)->now;
}

int64_t th_dash_sum(int64_t rows[][4], int from, int to, int f)
{
    int64_t s = 0;
    for (int i = from < 0 ? 0 : from; i <= to && i < TH_DASH_MINUTES; i++)
        s += rows[i][f];
    return s;
}
