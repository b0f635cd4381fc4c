/* alr_admin: PING, prefix probe and prefix delete; see alr_admin.h. */
#include "alerting/alr_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_redis_int.h"
#include "core/core_time.h"

#define SCAN_COUNT "1000"

size_t alr_admin_glob_escape(const char *prefix, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = prefix; *p; p++) {
        int special = strchr("*?[]\\", *p) != NULL;
        if (o + (size_t)special + 1 >= cap)
            return 0;
        if (special)
            out[o++] = '\\';
        out[o++] = *p;
    }
    if (o + 2 > cap)
        return 0;
    out[o++] = '*';
    out[o] = '\0';
    return o;
}

/* open_conn makes a handle for [redis] and connects once. */
static core_err_t open_conn(const core_config_t *cfg, alr_redis_t **out, char *err, size_t errlen)
{
    alr_redis_opts_t o;
    core_err_t rc;

    alr_redis_opts_from_config(cfg, &o);
    rc = alr_redis_new(&o, out);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = alr_redis_connect(*out);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "%s", alr_redis_error(*out));
        alr_redis_free(*out);
        *out = NULL;
    }
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

core_err_t alr_admin_ping(const core_config_t *cfg, int64_t timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = core_time_mono_ms() + timeout_ms;
    for (;;) {
        alr_redis_t *r = NULL;
        core_err_t rc = open_conn(cfg, &r, err, errlen);
        if (rc == CORE_ENOMEM)
            return rc;
        if (rc == CORE_OK) {
            const char *argv[] = {"PING"};
            redisReply *rep = NULL;
            rc = alr_redis_cmd(r, &rep, 1, argv, NULL);
            if (rc == CORE_OK && rep->type == REDIS_REPLY_STATUS && rep->str &&
                strcmp(rep->str, "PONG") == 0) {
                freeReplyObject(rep);
                alr_redis_free(r);
                return CORE_OK;
            }
            if (rc == CORE_OK && alr_redis_reply_err(r, rep))
                rc = CORE_EREDIS;
            snprintf(err, errlen, "%s",
                     rc == CORE_OK ? "redis: unexpected answer to PING" : alr_redis_error(r));
            if (rep)
                freeReplyObject(rep);
            alr_redis_free(r);
        }
        if (core_time_mono_ms() >= deadline)
            return CORE_ETIMEOUT;
        sleep_ms(100);
    }
}

/* scan_step runs one SCAN step from cursor over the keys matching pattern:
 * *keys receives the reply (its element[1] is the batch of keys; the caller
 * frees it) and cursor becomes the next cursor ("0": done). */
static core_err_t scan_step(alr_redis_t *r, const char *pattern, char *cursor, size_t ccap,
                            redisReply **keys)
{
    const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
    redisReply *rep = NULL;
    core_err_t rc = alr_redis_cmd(r, &rep, 6, argv, NULL);

    *keys = NULL;
    if (rc != CORE_OK)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len >= ccap ||
        rep->element[1]->type != REDIS_REPLY_ARRAY) {
        if (!alr_redis_reply_err(r, rep))
            alr_redis_seterr(r, "redis: unexpected answer to SCAN");
        freeReplyObject(rep);
        return CORE_EREDIS;
    }
    memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
    *keys = rep;
    return CORE_OK;
}

core_err_t alr_admin_prefix_probe(const core_config_t *cfg, int *found, char *key, size_t cap,
                                  char *err, size_t errlen)
{
    char pattern[2 * ALR_KEY_MAX + 2], cursor[32] = "0";
    alr_redis_t *r = NULL;
    core_err_t rc;

    *found = 0;
    if (cap)
        key[0] = '\0';
    if (!alr_admin_glob_escape(core_config_str(cfg, CORE_CFG_REDIS_PREFIX), pattern,
                               sizeof pattern)) {
        snprintf(err, errlen, "[redis] prefix: too long");
        return CORE_EINVAL;
    }
    rc = open_conn(cfg, &r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    do {
        redisReply *rep;
        const redisReply *ks;
        rc = scan_step(r, pattern, cursor, sizeof cursor, &rep);
        if (rc != CORE_OK) {
            snprintf(err, errlen, "%s", alr_redis_error(r));
            break;
        }
        ks = rep->element[1];
        if (ks->elements > 0 && ks->element[0]->type == REDIS_REPLY_STRING) {
            *found = 1;
            if (cap)
                snprintf(key, cap, "%s", ks->element[0]->str);
        }
        freeReplyObject(rep);
    } while (!*found && strcmp(cursor, "0") != 0);
    alr_redis_free(r);
    return rc;
}

core_err_t alr_admin_prefix_delete(const core_config_t *cfg, uint64_t *deleted, char *err,
                                   size_t errlen)
{
    char pattern[2 * ALR_KEY_MAX + 2], cursor[32] = "0";
    alr_redis_t *r = NULL;
    const char **argv = NULL;
    size_t *lens = NULL;
    uint64_t total = 0;
    core_err_t rc;

    if (deleted)
        *deleted = 0;
    if (!alr_admin_glob_escape(core_config_str(cfg, CORE_CFG_REDIS_PREFIX), pattern,
                               sizeof pattern)) {
        snprintf(err, errlen, "[redis] prefix: too long");
        return CORE_EINVAL;
    }
    rc = open_conn(cfg, &r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    do {
        redisReply *rep, *del = NULL;
        const redisReply *ks;
        size_t n = 0;
        rc = scan_step(r, pattern, cursor, sizeof cursor, &rep);
        if (rc != CORE_OK) {
            snprintf(err, errlen, "%s", alr_redis_error(r));
            break;
        }
        ks = rep->element[1];
        if (ks->elements > 0) {
            const char **a = realloc(argv, (ks->elements + 1) * sizeof *a);
            size_t *l = a ? realloc(lens, (ks->elements + 1) * sizeof *l) : NULL;
            if (a)
                argv = a;
            if (l)
                lens = l;
            if (!a || !l) {
                freeReplyObject(rep);
                snprintf(err, errlen, "out of memory");
                rc = CORE_ENOMEM;
                break;
            }
            argv[n] = "UNLINK";
            lens[n++] = 6;
            for (size_t i = 0; i < ks->elements; i++) {
                if (ks->element[i]->type == REDIS_REPLY_STRING) {
                    argv[n] = ks->element[i]->str;
                    lens[n++] = ks->element[i]->len;
                }
            }
        }
        if (n > 1) {
            rc = alr_redis_cmd(r, &del, (int)n, argv, lens);
            if (rc == CORE_OK && del->type == REDIS_REPLY_INTEGER)
                total += (uint64_t)del->integer;
            else if (rc == CORE_OK) {
                if (!alr_redis_reply_err(r, del))
                    alr_redis_seterr(r, "redis: unexpected answer to UNLINK");
                rc = CORE_EREDIS;
            }
            if (del)
                freeReplyObject(del);
        }
        freeReplyObject(rep);
        if (rc != CORE_OK) {
            snprintf(err, errlen, "%s", alr_redis_error(r));
            break;
        }
    } while (strcmp(cursor, "0") != 0);
    free(argv);
    free(lens);
    alr_redis_free(r);
    if (deleted)
        *deleted = total;
    return rc;
}
