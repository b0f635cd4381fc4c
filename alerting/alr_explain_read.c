/*
 * alr_explain_read: one item by id from the recent list; see
 * alr_explain_read.h. Pages through LRANGE so that a hit near the head (the
 * usual case: the page shows the newest items) costs one small round trip,
 * and a miss costs at most recent_max / ALR_EXPLAIN_PAGE round trips.
 */
#include "alerting/alr_explain_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_redis_int.h"

#define CONNECT_TIMEOUT_CAP_MS 1000
#define COMMAND_TIMEOUT_CAP_MS 2000

struct alr_explain_reader {
    alr_redis_t *r;
    char key[ALR_KEY_MAX]; /* {prefix}recent */
    long recent_max;
};

core_err_t alr_explain_reader_new(const core_config_t *cfg, alr_explain_reader_t **out, char *err,
                                  size_t errlen)
{
    alr_explain_reader_t *r = calloc(1, sizeof *r);
    const char *prefix = core_config_str(cfg, CORE_CFG_REDIS_PREFIX);
    alr_redis_opts_t o;
    core_err_t rc;

    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    if (strlen(prefix) >= 64 || alr_key(r->key, sizeof r->key, prefix, "recent", NULL) == 0) {
        snprintf(err, errlen, "[redis] prefix: longer than 63 bytes");
        free(r);
        return CORE_ECONFIG;
    }
    r->recent_max = (long)core_config_int(cfg, CORE_CFG_REDIS_RECENT_MAX);
    alr_redis_opts_from_config(cfg, &o);
    if (o.connect_timeout_ms > CONNECT_TIMEOUT_CAP_MS)
        o.connect_timeout_ms = CONNECT_TIMEOUT_CAP_MS;
    if (o.command_timeout_ms > COMMAND_TIMEOUT_CAP_MS)
        o.command_timeout_ms = COMMAND_TIMEOUT_CAP_MS;
    rc = alr_redis_new(&o, &r->r);
    if (rc != CORE_OK) {
        free(r);
        return rc;
    }
    *out = r;
    return CORE_OK;
}

void alr_explain_reader_free(alr_explain_reader_t *r)
{
    if (!r)
        return;
    alr_redis_free(r->r);
    free(r);
}

int alr_explain_entry_is(const char *entry, size_t len, const char *id, json_t **item)
{
    size_t idlen = strlen(id);
    json_t *o, *v;
    int hit;

    /* Cheap filter: an id without characters JSON escapes appears verbatim. */
    if (idlen && idlen <= len && !strpbrk(id, "\"\\")) {
        int plain = 1;
        for (const unsigned char *p = (const unsigned char *)id; *p; p++)
            plain = plain && *p >= 0x20 && *p < 0x7f && *p != '/';
        if (plain) {
            const char *q = entry, *end = entry + len;
            int seen = 0;
            while (!seen && q + idlen <= end) {
                const char *f = memchr(q, id[0], (size_t)(end - q));
                if (!f || f + idlen > end)
                    break;
                seen = memcmp(f, id, idlen) == 0;
                q = f + 1;
            }
            if (!seen)
                return 0;
        }
    }
    o = json_loadb(entry, len, 0, NULL);
    v = json_object_get(o, "id");
    hit = json_is_object(o) && json_is_string(v) && json_string_length(v) == idlen &&
          memcmp(json_string_value(v), id, idlen) == 0;
    if (hit && item)
        *item = o;
    else
        json_decref(o);
    return hit;
}

core_err_t alr_explain_read_item(alr_explain_reader_t *r, const char *id, json_t **out, char *err,
                                 size_t errlen)
{
    redisReply *rep = NULL;
    core_err_t rc = CORE_OK;
    long from;

    *out = NULL;
    if (!id || !*id || strlen(id) > ALR_EXPLAIN_ID_MAX) {
        snprintf(err, errlen, "id: empty or longer than %d bytes", ALR_EXPLAIN_ID_MAX);
        return CORE_EINVAL;
    }
    if (!alr_redis_connected(r->r) && (rc = alr_redis_connect(r->r)) != CORE_OK) {
        snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
        return rc;
    }
    for (from = 0; from < r->recent_max && !*out; from += ALR_EXPLAIN_PAGE) {
        long to = from + ALR_EXPLAIN_PAGE - 1;
        char a[24], b[24];
        const char *argv[4] = {"LRANGE", r->key, a, b};
        if (to > r->recent_max - 1)
            to = r->recent_max - 1;
        snprintf(a, sizeof a, "%ld", from);
        snprintf(b, sizeof b, "%ld", to);
        rc = alr_redis_cmd(r->r, &rep, 4, argv, NULL);
        if (rc != CORE_OK) {
            snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
            return rc == CORE_ETIMEOUT ? CORE_ENET : rc;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            if (!alr_redis_reply_err(r->r, rep))
                alr_redis_seterr(r->r, "unexpected reply type");
            snprintf(err, errlen, "redis: %s", alr_redis_error(r->r));
            freeReplyObject(rep);
            return CORE_EREDIS;
        }
        for (size_t i = 0; i < rep->elements && !*out; i++) {
            const redisReply *e = rep->element[i];
            if (e->type == REDIS_REPLY_STRING)
                alr_explain_entry_is(e->str, e->len, id, out);
        }
        if (rep->elements < (size_t)(to - from + 1))
            from = r->recent_max; /* the list ends here */
        freeReplyObject(rep);
        rep = NULL;
    }
    if (!*out) {
        snprintf(err, errlen, "no item %.200s in the recent list", id);
        return CORE_ENOT_FOUND;
    }
    return CORE_OK;
}
