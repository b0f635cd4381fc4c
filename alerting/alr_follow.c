/* alr_follow: replay + live follow of alerts; see alr_follow.h.
 * Two connections: `sub` in subscriber mode (read with poll(2) so a wait can
 * time out without breaking hiredis' context) and `cmd` for XRANGE. */
#include "alerting/alr_follow.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_redis_int.h"
#include "core/core_time.h"

#define SEEN_RING 1024
#define PAGE 200
#define RESUME_MARGIN_MS 300000

struct alr_follow {
    alr_redis_t *sub, *cmd;
    char prefix[64];
    char seen[SEEN_RING][40];
    size_t seen_next;
    int64_t last_ms;           /* ts of the last delivered alert */
    int64_t start_ms;          /* when the follower started */
    char scope[ALR_SCOPE_MAX]; /* "" = every scope */
    char err[256];
};

core_err_t alr_follow_new(const core_config_t *cfg, alr_follow_t **out)
{
    alr_follow_t *f = calloc(1, sizeof *f);
    alr_redis_opts_t o;
    core_err_t rc;

    *out = NULL;
    if (!f)
        return CORE_ENOMEM;
    alr_redis_opts_from_config(cfg, &o);
    snprintf(f->prefix, sizeof f->prefix, "%s", core_config_str(cfg, CORE_CFG_REDIS_PREFIX));
    rc = alr_redis_new(&o, &f->sub);
    if (rc == CORE_OK)
        rc = alr_redis_new(&o, &f->cmd);
    if (rc != CORE_OK) {
        alr_follow_free(f);
        return rc;
    }
    f->start_ms = core_time_now_ms();
    *out = f;
    return CORE_OK;
}

core_err_t alr_follow_set_scope(alr_follow_t *f, const char *scope)
{
    char tmp[ALR_SCOPE_MAX];
    if (strcmp(scope, "all") == 0)
        snprintf(tmp, sizeof tmp, "all");
    else if (!(strncmp(scope, "topic:", 6) == 0 && alr_scope_topic(scope + 6, tmp, sizeof tmp)) &&
             !(strncmp(scope, "entity:", 7) == 0 && alr_scope_entity(scope + 7, tmp, sizeof tmp)))
        return CORE_EINVAL;
    snprintf(f->scope, sizeof f->scope, "%s", tmp);
    return CORE_OK;
}

void alr_follow_free(alr_follow_t *f)
{
    if (!f)
        return;
    alr_redis_free(f->sub);
    alr_redis_free(f->cmd);
    free(f);
}

void alr_follow_stop(alr_follow_t *f)
{
    alr_redis_stop(f->sub);
    alr_redis_stop(f->cmd);
}

const char *alr_follow_error(const alr_follow_t *f)
{
    return f->err;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

core_err_t alr_follow_parse_since(const char *s, int64_t now_ms, char *id, size_t cap)
{
    const char *dash;
    int64_t ms;

    if (!s || !*s)
        return CORE_EPARSE;
    dash = strchr(s, '-');
    if (all_digits(s, strlen(s)) && strlen(s) <= 16) {
        snprintf(id, cap, "%s-0", s);
        return CORE_OK;
    }
    if (dash && all_digits(s, (size_t)(dash - s)) && all_digits(dash + 1, strlen(dash + 1)) &&
        (size_t)(dash - s) <= 16 && strlen(dash + 1) <= 19) {
        snprintf(id, cap, "%s", s);
        return CORE_OK;
    }
    if (core_time_parse_rfc3339(s, &ms) == CORE_OK && ms >= 0) {
        snprintf(id, cap, "%" PRId64 "-0", ms);
        return CORE_OK;
    }
    if (core_config_parse_duration(s, &ms) == CORE_OK) {
        ms = now_ms - ms;
        snprintf(id, cap, "%" PRId64 "-0", ms < 0 ? 0 : ms);
        return CORE_OK;
    }
    return CORE_EPARSE;
}

/* deliver passes one alert to fn unless its id was delivered already. */
static int deliver(alr_follow_t *f, const char *json, size_t len, alr_alert_fn fn, void *ctx)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
    const char *ts = o ? json_string_value(json_object_get(o, "ts")) : NULL;
    const char *scope = o ? json_string_value(json_object_get(o, "scope")) : NULL;
    int64_t ms;
    int stop;

    if (f->scope[0] && (!scope || strcmp(scope, f->scope) != 0)) {
        json_decref(o);
        return 0; /* another scope's alert, from the replay */
    }

    if (id) {
        for (size_t i = 0; i < SEEN_RING; i++) {
            if (strncmp(f->seen[i], id, sizeof f->seen[i]) == 0) {
                json_decref(o);
                return 0;
            }
        }
        snprintf(f->seen[f->seen_next], sizeof f->seen[0], "%s", id);
        f->seen_next = (f->seen_next + 1) % SEEN_RING;
    }
    if (ts && core_time_parse_rfc3339(ts, &ms) == CORE_OK && ms > f->last_ms)
        f->last_ms = ms;
    json_decref(o);
    stop = fn(ctx, json, len);
    return stop;
}

static core_err_t fail(alr_follow_t *f, alr_redis_t *r, core_err_t rc)
{
    snprintf(f->err, sizeof f->err, "%s", alr_redis_error(r));
    return rc;
}

static core_err_t subscribe(alr_follow_t *f)
{
    char ch[ALR_KEY_MAX];
    const char *argv[2] = {"SUBSCRIBE", ch};
    redisReply *rep;
    core_err_t rc;

    alr_key(ch, sizeof ch, f->prefix, "alerts", f->scope[0] ? f->scope : NULL);
    rc = alr_redis_connect(f->sub);
    if (rc != CORE_OK)
        return fail(f, f->sub, rc);
    rc = alr_redis_cmd(f->sub, &rep, 2, argv, NULL);
    if (rc != CORE_OK)
        return fail(f, f->sub, rc);
    if (alr_redis_reply_err(f->sub, rep)) {
        rc = CORE_EREDIS;
        alr_redis_disconnect(f->sub);
    }
    freeReplyObject(rep);
    return rc == CORE_OK ? CORE_OK : fail(f, f->sub, rc);
}

/* replay delivers the stream entries from id `from` (inclusive) onward. */
static core_err_t replay(alr_follow_t *f, const char *from, alr_alert_fn fn, void *ctx)
{
    char key[ALR_KEY_MAX], start[64], count[16];
    const char *argv[6] = {"XRANGE", key, start, "+", "COUNT", count};
    core_err_t rc = alr_redis_connect(f->cmd);

    if (rc != CORE_OK)
        return fail(f, f->cmd, rc);
    alr_key(key, sizeof key, f->prefix, "alerts:log", NULL);
    snprintf(start, sizeof start, "%s", from);
    snprintf(count, sizeof count, "%d", PAGE);
    for (;;) {
        redisReply *rep;
        size_t got;
        rc = alr_redis_cmd(f->cmd, &rep, 6, argv, NULL);
        if (rc != CORE_OK)
            return fail(f, f->cmd, rc);
        if (alr_redis_reply_err(f->cmd, rep) || rep->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return fail(f, f->cmd, CORE_EREDIS);
        }
        got = rep->elements;
        for (size_t i = 0; i < got; i++) {
            redisReply *e = rep->element[i], *fields;
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
                continue;
            fields = e->element[1];
            /* The next page starts after this entry: "(" makes it exclusive. */
            snprintf(start, sizeof start, "(%s", e->element[0]->str);
            for (size_t j = 0; fields->type == REDIS_REPLY_ARRAY && j + 1 < fields->elements;
                 j += 2) {
                if (strcmp(fields->element[j]->str, "alert") != 0)
                    continue;
                if (deliver(f, fields->element[j + 1]->str, fields->element[j + 1]->len, fn, ctx)) {
                    freeReplyObject(rep);
                    return CORE_ECLOSED;
                }
            }
        }
        freeReplyObject(rep);
        if (got < PAGE)
            return CORE_OK;
    }
}

core_err_t alr_follow_start(alr_follow_t *f, const char *since_id, alr_alert_fn fn, void *ctx)
{
    core_err_t rc = subscribe(f);
    if (rc != CORE_OK || !since_id)
        return rc;
    return replay(f, since_id, fn, ctx);
}

core_err_t alr_follow_poll(alr_follow_t *f, int timeout_ms, alr_alert_fn fn, void *ctx)
{
    redisContext *c = alr_redis_ctx(f->sub);
    int got = 0;

    if (!c)
        return CORE_ENET;
    for (;;) {
        void *raw = NULL;
        redisReply *rep;
        struct pollfd p = {c->fd, POLLIN, 0};
        int pr;

        if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) {
            alr_redis_seterr(f->sub, "redis: protocol error on the subscription");
            alr_redis_disconnect(f->sub);
            return fail(f, f->sub, CORE_ENET);
        }
        rep = raw;
        if (rep) {
            got = 1;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
                rep->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(rep->element[0]->str, "message") == 0 &&
                rep->element[2]->type == REDIS_REPLY_STRING) {
                if (deliver(f, rep->element[2]->str, rep->element[2]->len, fn, ctx)) {
                    freeReplyObject(rep);
                    return CORE_ECLOSED;
                }
            }
            freeReplyObject(rep);
            continue;
        }
        if (got)
            return CORE_OK;
        pr = poll(&p, 1, timeout_ms);
        if (pr == 0 || (pr < 0 && errno == EINTR))
            return CORE_ETIMEOUT;
        if (pr < 0 || redisBufferRead(c) != REDIS_OK) {
            alr_redis_seterr(f->sub, "redis: subscription connection lost");
            alr_redis_disconnect(f->sub);
            return fail(f, f->sub, CORE_ENET);
        }
        timeout_ms = 0; /* data arrived: deliver it, then return */
    }
}

core_err_t alr_follow_resume(alr_follow_t *f, alr_alert_fn fn, void *ctx)
{
    char since[32];
    core_err_t rc;

    alr_redis_disconnect(f->sub);
    alr_redis_disconnect(f->cmd);
    for (;;) {
        int fresh;
        rc = alr_redis_connect_retry(f->sub, &fresh);
        if (rc != CORE_OK)
            return rc;
        /* Alert times come from the publishing daemon's clock, stream IDs from
         * Redis' clock: replay with a margin; the id ring drops repeats. */
        snprintf(since, sizeof since, "%" PRId64 "-0",
                 (f->last_ms ? f->last_ms : f->start_ms) - RESUME_MARGIN_MS);
        rc = alr_follow_start(f, since, fn, ctx);
        if (rc == CORE_OK || rc == CORE_ECLOSED) {
            alr_redis_backoff_reset(f->sub);
            return rc;
        }
        alr_redis_disconnect(f->sub);
        rc = alr_redis_backoff(f->sub);
        if (rc != CORE_OK)
            return rc;
    }
}
