/* alr_redis: the hiredis adapter; see alr_redis_int.h. Blocking hiredis with
 * socket timeouts: a timeout surfaces as an I/O error, after which hiredis'
 * context is unusable, so every such failure drops the connection. */
#include "alerting/alr_redis_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core_log.h"

#define BACKOFF_START_MS 100
#define SLEEP_SLICE_MS 20

struct alr_redis {
    alr_redis_opts_t o;
    redisContext *c;
    core_tls_t *tls;     /* with redis.tls: the transport under c */
    core_err_t tls_rc;   /* core_tls_status when the last connection dropped */
    atomic_int stop;
    int64_t backoff_ms;
    char err[512];
};

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

void alr_redis_opts_from_config(const core_config_t *cfg, alr_redis_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "%s", core_config_str(cfg, "redis", "host"));
    o->port = (int)core_config_int(cfg, "redis", "port");
    snprintf(o->socket, sizeof o->socket, "%s", core_config_str(cfg, "redis", "socket"));
    snprintf(o->user, sizeof o->user, "%s", core_config_str(cfg, "redis", "user"));
    snprintf(o->password, sizeof o->password, "%s", core_config_str(cfg, "redis", "password"));
    o->db = (int)core_config_int(cfg, "redis", "db");
    o->connect_timeout_ms = core_config_int(cfg, "redis", "connect_timeout");
    o->command_timeout_ms = core_config_int(cfg, "redis", "command_timeout");
    o->reconnect_max_ms = core_config_int(cfg, "redis", "reconnect_max");
    core_tls_opts_from_config(cfg, "redis", &o->tls);
}

core_err_t alr_redis_new(const alr_redis_opts_t *o, alr_redis_t **out)
{
    alr_redis_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    r->o = *o;
    if (r->o.connect_timeout_ms <= 0)
        r->o.connect_timeout_ms = 2000;
    if (r->o.command_timeout_ms <= 0)
        r->o.command_timeout_ms = 5000;
    if (r->o.reconnect_max_ms <= 0)
        r->o.reconnect_max_ms = 30000;
    atomic_init(&r->stop, 0);
    r->backoff_ms = BACKOFF_START_MS;
    *out = r;
    return CORE_OK;
}

void alr_redis_free(alr_redis_t *r)
{
    if (!r)
        return;
    alr_redis_disconnect(r);
    free(r);
}

void alr_redis_disconnect(alr_redis_t *r)
{
    if (r->c) {
        redisFree(r->c); /* closes hiredis' end of the TLS socketpair first */
        r->c = NULL;
    }
    core_tls_free(r->tls);
    r->tls = NULL;
}

int alr_redis_connected(const alr_redis_t *r)
{
    return r->c != NULL;
}

redisContext *alr_redis_ctx(alr_redis_t *r)
{
    return r->c;
}

const char *alr_redis_error(const alr_redis_t *r)
{
    return r->err;
}

void alr_redis_stop(alr_redis_t *r)
{
    atomic_store(&r->stop, 1);
}

int alr_redis_stopped(const alr_redis_t *r)
{
    return atomic_load(&((alr_redis_t *)r)->stop);
}

static void where(const alr_redis_t *r, char *buf, size_t cap)
{
    if (r->o.socket[0])
        snprintf(buf, cap, "%s", r->o.socket);
    else
        snprintf(buf, cap, "%s:%d", r->o.host, r->o.port);
}

/* drop records the context's error (with TLS: the transport's reason when
 * it saw the connection end) and drops the connection. */
static core_err_t drop(alr_redis_t *r, const char *what)
{
    char at[300], why[300] = "";
    where(r, at, sizeof at);
    r->tls_rc = r->tls ? core_tls_status(r->tls, why, sizeof why) : CORE_OK;
    snprintf(r->err, sizeof r->err, "redis %s: %s: %s", at, what,
             why[0] ? why : r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
    alr_redis_disconnect(r);
    return CORE_ENET;
}

void alr_redis_seterr(alr_redis_t *r, const char *msg)
{
    snprintf(r->err, sizeof r->err, "%s", msg);
}

int alr_redis_reply_err(alr_redis_t *r, const redisReply *rep)
{
    if (!rep || rep->type != REDIS_REPLY_ERROR)
        return 0;
    snprintf(r->err, sizeof r->err, "redis: %.*s", (int)(rep->len < 200 ? rep->len : 200),
             rep->str ? rep->str : "");
    return 1;
}

core_err_t alr_redis_append(alr_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    if (!r->c)
        return CORE_ENET;
    if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK)
        return r->c->err == REDIS_ERR_OOM ? CORE_ENOMEM : drop(r, "append");
    return CORE_OK;
}

core_err_t alr_redis_read(alr_redis_t *r, redisReply **out)
{
    void *rep = NULL;
    *out = NULL;
    if (!r->c)
        return CORE_ENET;
    if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
        if (rep)
            freeReplyObject(rep);
        return drop(r, "read");
    }
    *out = rep;
    return CORE_OK;
}

core_err_t alr_redis_cmd(alr_redis_t *r, redisReply **out, int argc, const char **argv,
                         const size_t *lens)
{
    core_err_t rc = alr_redis_append(r, argc, argv, lens);
    if (rc != CORE_OK) {
        *out = NULL;
        return rc;
    }
    return alr_redis_read(r, out);
}

/* simple runs a command whose reply must not be an error. */
static core_err_t simple(alr_redis_t *r, int argc, const char **argv)
{
    redisReply *rep;
    core_err_t rc = alr_redis_cmd(r, &rep, argc, argv, NULL);
    if (rc != CORE_OK)
        return rc;
    if (alr_redis_reply_err(r, rep))
        rc = CORE_EREDIS;
    freeReplyObject(rep);
    return rc;
}

/* open_tls: a verified TLS connection (core_tls) under a hiredis context
 * made on the socketpair end it returns. */
static core_err_t open_tls(alr_redis_t *r)
{
    char why[400];
    int fd;
    core_err_t rc;

    if (r->o.socket[0]) {
        snprintf(r->err, sizeof r->err,
                 "redis %s: redis.tls cannot be used with redis.socket (a unix socket): "
                 "unset one of them",
                 r->o.socket);
        return CORE_ECONFIG;
    }
    rc = core_tls_connect(&r->o.tls, r->o.host, r->o.port, r->o.connect_timeout_ms, &r->tls, &fd,
                          why, sizeof why);
    if (rc != CORE_OK) {
        snprintf(r->err, sizeof r->err, "redis %s", why);
        return rc;
    }
    r->c = redisConnectFd(fd);
    if (!r->c) {
        close(fd);
        alr_redis_disconnect(r);
        snprintf(r->err, sizeof r->err, "redis: out of memory");
        return CORE_ENOMEM;
    }
    return CORE_OK;
}

core_err_t alr_redis_connect(alr_redis_t *r)
{
    char db[16], at[300];
    core_err_t rc;

    if (r->c)
        return CORE_OK;
    r->tls_rc = CORE_OK;
    if (r->o.tls.enabled) {
        if ((rc = open_tls(r)) != CORE_OK)
            return rc;
    } else if (r->o.socket[0])
        r->c = redisConnectUnixWithTimeout(r->o.socket, tv_ms(r->o.connect_timeout_ms));
    else
        r->c = redisConnectWithTimeout(r->o.host, r->o.port, tv_ms(r->o.connect_timeout_ms));
    if (!r->c) {
        snprintf(r->err, sizeof r->err, "redis: out of memory");
        return CORE_ENOMEM;
    }
    if (r->c->err) {
        where(r, at, sizeof at);
        snprintf(r->err, sizeof r->err, "redis %s: connect: %s", at, r->c->errstr);
        alr_redis_disconnect(r);
        return CORE_ENET;
    }
    if (redisSetTimeout(r->c, tv_ms(r->o.command_timeout_ms)) != REDIS_OK)
        return drop(r, "set timeout");
    if (!r->o.socket[0] && !r->tls && redisEnableKeepAlive(r->c) != REDIS_OK)
        return drop(r, "keepalive"); /* (core_tls keeps the TCP socket alive itself) */
    if (r->o.password[0] || r->o.user[0]) {
        const char *argv[] = {"AUTH", r->o.user, r->o.password};
        rc = r->o.user[0] ? simple(r, 3, argv) : simple(r, 2, (const char *[]){"AUTH", r->o.password});
        if (rc == CORE_EREDIS) { /* the server refused: say who and what it said */
            char said[200];
            snprintf(said, sizeof said, "%s", r->err);
            where(r, at, sizeof at);
            snprintf(r->err, sizeof r->err, "redis %s: AUTH%s%s refused: %s", at,
                     r->o.user[0] ? " as " : "", r->o.user,
                     strncmp(said, "redis: ", 7) == 0 ? said + 7 : said);
            rc = CORE_EAUTH;
        }
        if (rc != CORE_OK)
            goto fail;
    }
    if (r->o.db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof db, "%d", r->o.db);
        rc = simple(r, 2, argv);
        if (rc != CORE_OK)
            goto fail;
    }
    /* A TLS 1.3 server refuses a client certificate after the handshake:
     * one round trip (AUTH or SELECT made it already) turns that into a
     * connect error. */
    if (r->tls && !r->o.password[0] && !r->o.user[0] && r->o.db == 0 &&
        (rc = simple(r, 1, (const char *[]){"PING"})) != CORE_OK)
        goto fail;
    return CORE_OK;
fail:
    if (rc == CORE_ENET && r->tls_rc == CORE_EAUTH)
        rc = CORE_EAUTH; /* the TLS layer was refused, e.g. our certificate */
    alr_redis_disconnect(r);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

core_err_t alr_redis_backoff(alr_redis_t *r)
{
    int64_t left = r->backoff_ms;
    while (left > 0) {
        if (atomic_load(&r->stop))
            return CORE_ECLOSED;
        sleep_ms(left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS);
        left -= SLEEP_SLICE_MS;
    }
    r->backoff_ms *= 2;
    if (r->backoff_ms > r->o.reconnect_max_ms)
        r->backoff_ms = r->o.reconnect_max_ms;
    return atomic_load(&r->stop) ? CORE_ECLOSED : CORE_OK;
}

void alr_redis_backoff_reset(alr_redis_t *r)
{
    r->backoff_ms = BACKOFF_START_MS;
}

core_err_t alr_redis_connect_retry(alr_redis_t *r, int *fresh)
{
    int attempts = 0;
    *fresh = 0;
    for (;;) {
        core_err_t rc;
        if (atomic_load(&r->stop))
            return CORE_ECLOSED;
        if (r->c)
            return CORE_OK;
        rc = alr_redis_connect(r);
        if (rc == CORE_OK) {
            *fresh = 1;
            if (attempts > 0)
                CORE_INFO("alerting", "redis: reconnected after %d attempts", attempts);
            return CORE_OK;
        }
        if (attempts++ == 0 || attempts % 10 == 0)
            CORE_WARN("alerting", "%s (retrying)", r->err);
        rc = alr_redis_backoff(r);
        if (rc != CORE_OK)
            return rc;
    }
}

core_err_t alr_redis_load_scripts(alr_redis_t *r, alr_script_t *s, size_t n)
{
    core_err_t rc = CORE_OK;
    for (size_t i = 0; i < n; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", s[i].src};
        rc = alr_redis_append(r, 3, argv, NULL);
        if (rc != CORE_OK)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        core_err_t e = alr_redis_read(r, &rep);
        if (e != CORE_OK)
            return e;
        if (alr_redis_reply_err(r, rep) || rep->type != REDIS_REPLY_STRING || rep->len != 40) {
            if (rc == CORE_OK)
                rc = CORE_EREDIS;
        } else {
            memcpy(s[i].sha, rep->str, 40);
            s[i].sha[40] = '\0';
        }
        freeReplyObject(rep);
    }
    return rc;
}
