/* th_alr: alerting test helpers; see th_alr.h. */
#include "tests/alerting/th_alr.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_time.h"

int64_t th_alr_t0(void)
{
    static int64_t t0;
    if (t0 == 0)
        t0 = core_time_now_ms() / 60000 * 60000 + 30000;
    return t0;
}

int64_t th_clock_now(void *ctx)
{
    return ((th_clock_t *)ctx)->now;
}

core_config_t *th_alr_config(const th_redis_t *r, const char *extra)
{
    core_config_t *cfg = NULL;
    char text[512], err[512] = "";
    snprintf(text, sizeof text,
             "[redis]\nhost = 127.0.0.1\nport = %d\nreconnect_max = 400ms\n"
             "connect_timeout = 1s\ncommand_timeout = 3s\n",
             r->port);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "base", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    if (extra)
        ck_assert_msg(core_config_load_string(cfg, "extra", extra, err, sizeof err) == CORE_OK,
                      "%s", err);
    return cfg;
}

core_tagged_t *th_alr_item(const char *id, const char *topic, int sentiment, int64_t event_ms,
                           const char *entities)
{
    core_item_t *it = NULL;
    core_tagged_t *t = NULL;
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    if (id)
        ck_assert_int_eq(core_item_set(it, &it->id, id, strlen(id)), CORE_OK);
    it->event_ms = event_ms;
    while (entities && *entities) {
        const char *comma = strchr(entities, ',');
        size_t n = comma ? (size_t)(comma - entities) : strlen(entities);
        ck_assert_int_eq(core_item_add_entity(it, entities, n), CORE_OK);
        entities += n + (comma ? 1 : 0);
    }
    ck_assert_int_eq(core_tagged_new(it, &t), CORE_OK);
    snprintf(t->topic, sizeof t->topic, "%s", topic ? topic : "");
    t->sentiment = sentiment;
    if (sentiment >= 0 && sentiment < 3)
        t->sentiment_p[sentiment] = 0.9f;
    return t;
}

redisContext *th_alr_connect(const th_redis_t *r)
{
    redisContext *c = redisConnect("127.0.0.1", r->port);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(c->err == 0, "connect: %s", c->errstr);
    return c;
}

long long th_alr_hget(redisContext *c, const char *key, const char *field)
{
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    long long v = 0;
    ck_assert_ptr_nonnull(rep);
    if (rep->type == REDIS_REPLY_STRING)
        v = strtoll(rep->str, NULL, 10);
    else
        ck_assert_int_eq(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    return v;
}

long long th_alr_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;
    long long v;
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(rep);
    ck_assert_msg(rep->type == REDIS_REPLY_INTEGER, "reply type %d (%s)", rep->type,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    v = rep->integer;
    freeReplyObject(rep);
    return v;
}
