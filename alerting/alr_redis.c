/* alr_redis: the hiredis adapter; see alr_redis_int.h. Blocking hiredis with
 * socket timeouts: a timeout surfaces as an I/O error, after which hiredis'
 * context is unusable, so every such failure drops the connection. */
#include "alerting/alr_redis_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core_alloc.h"
#include "core/core_log.h"

#define BACKOFF_START_MS 100
#define SLEEP_SLICE_MS 20

struct alr_redis {
    alr_redis_opts_t o;
    char host[CORE_SENTINEL_HOST_MAX]; /* the server of the current attempt */
    int port;
    size_t next_sentinel;              /* ask this one first (it answered last) */
    pthread_mutex_t mu;                /* primary (read by other threads) */
    char primary[300];                 /* last verified primary; "" = none yet */
    uint64_t failovers;
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
    const char *sentinels;
    memset(o, 0, sizeof *o);
    snprintf(o->host, sizeof o->host, "%s", core_config_str(cfg, CORE_CFG_REDIS_HOST));
    o->port = (int)core_config_int(cfg, CORE_CFG_REDIS_PORT);
    snprintf(o->socket, sizeof o->socket, "%s", core_config_str(cfg, CORE_CFG_REDIS_SOCKET));
    snprintf(o->user, sizeof o->user, "%s", core_config_str(cfg, CORE_CFG_REDIS_USER));
    snprintf(o->password, sizeof o->password, "%s", core_config_str(cfg, CORE_CFG_REDIS_PASSWORD));
    o->db = (int)core_config_int(cfg, CORE_CFG_REDIS_DB);
    o->connect_timeout_ms = core_config_int(cfg, CORE_CFG_REDIS_CONNECT_TIMEOUT);
    o->command_timeout_ms = core_config_int(cfg, CORE_CFG_REDIS_COMMAND_TIMEOUT);
    o->reconnect_max_ms = core_config_int(cfg, CORE_CFG_REDIS_RECONNECT_MAX);
    core_tls_opts_from_config(cfg, &o->tls);
    snprintf(o->master_name, sizeof o->master_name, "%s",
             core_config_str(cfg, CORE_CFG_REDIS_MASTER_NAME));
    snprintf(o->sentinel_user, sizeof o->sentinel_user, "%s",
             core_config_str(cfg, CORE_CFG_REDIS_SENTINEL_USER));
    snprintf(o->sentinel_password, sizeof o->sentinel_password, "%s",
             core_config_str(cfg, CORE_CFG_REDIS_SENTINEL_PASSWORD));
    o->wait_replicas = (int)core_config_int(cfg, CORE_CFG_REDIS_WAIT_REPLICAS);
    o->wait_timeout_ms = core_config_int(cfg, CORE_CFG_REDIS_WAIT_TIMEOUT);
    sentinels = core_config_str(cfg, CORE_CFG_REDIS_SENTINELS);
    if (sentinels[0] &&
        core_sentinel_parse_list("redis.sentinels", sentinels, o->sentinels, CORE_SENTINEL_MAX,
                                 &o->nsentinels, o->bad, sizeof o->bad) != CORE_OK) {
        o->nsentinels = 0;
    } else if (o->nsentinels > 0 && !o->master_name[0]) {
        snprintf(o->bad, sizeof o->bad,
                 "redis.master_name: required with redis.sentinels (the name the sentinels "
                 "monitor the primary under, as in 'sentinel monitor NAME ...')");
    } else if (o->nsentinels > 0 && o->socket[0]) {
        snprintf(o->bad, sizeof o->bad,
                 "redis.sentinels cannot be used with redis.socket (%s): unset one of them",
                 o->socket);
    }
}

core_err_t alr_redis_opts_check(const alr_redis_opts_t *o, char *err, size_t errlen)
{
    if (!o->bad[0])
        return CORE_OK;
    snprintf(err, errlen, "%s", o->bad);
    return CORE_ECONFIG;
}

core_err_t alr_redis_new(const alr_redis_opts_t *o, alr_redis_t **out)
{
    alr_redis_t *r = core_calloc(1, sizeof *r);
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
    /* A WAIT must end (timeout) before the socket read gives up on it. */
    if (r->o.wait_replicas > 0 && r->o.command_timeout_ms < r->o.wait_timeout_ms + 1000)
        r->o.command_timeout_ms = r->o.wait_timeout_ms + 1000;
    snprintf(r->host, sizeof r->host, "%s", r->o.host);
    r->port = r->o.port;
    pthread_mutex_init(&r->mu, NULL);
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
    pthread_mutex_destroy(&r->mu);
    core_free(r);
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
    else if (strchr(r->host, ':'))
        snprintf(buf, cap, "[%s]:%d", r->host, r->port);
    else
        snprintf(buf, cap, "%s:%d", r->host, r->port);
}

uint64_t alr_redis_primary(alr_redis_t *r, char *buf, size_t cap)
{
    uint64_t n;
    pthread_mutex_lock(&r->mu);
    snprintf(buf, cap, "%s", r->primary);
    n = r->failovers;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* note_primary records the server just connected to as the primary and
 * counts a failover when it is not the previous one. */
static void note_primary(alr_redis_t *r)
{
    char at[300];
    where(r, at, sizeof at);
    pthread_mutex_lock(&r->mu);
    if (r->primary[0] && strcmp(r->primary, at) != 0) {
        r->failovers++;
        CORE_WARN("alerting", "redis: the primary is now %s (was %s): failover", at, r->primary);
    }
    snprintf(r->primary, sizeof r->primary, "%s", at);
    pthread_mutex_unlock(&r->mu);
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
    if (((redisReply *)rep)->type == REDIS_REPLY_ERROR && ((redisReply *)rep)->str &&
        strncmp(((redisReply *)rep)->str, "READONLY", 8) == 0) {
        /* A replica now (failover): find the primary again. */
        freeReplyObject(rep);
        return drop(r, "READONLY (the server is a replica now)");
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
    rc = core_tls_connect(&r->o.tls, r->host, r->port, r->o.connect_timeout_ms, &r->tls, &fd,
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

/* connect_server connects to r->host:r->port (or the socket), then AUTH,
 * SELECT (and PING with TLS). */
static core_err_t connect_server(alr_redis_t *r)
{
    char db[16], at[300];
    core_err_t rc;

    r->tls_rc = CORE_OK;
    if (r->o.tls.enabled) {
        if ((rc = open_tls(r)) != CORE_OK)
            return rc;
    } else if (r->o.socket[0])
        r->c = redisConnectUnixWithTimeout(r->o.socket, tv_ms(r->o.connect_timeout_ms));
    else
        r->c = redisConnectWithTimeout(r->host, r->port, tv_ms(r->o.connect_timeout_ms));
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
            goto out;
    }
    if (r->o.db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof db, "%d", r->o.db);
        rc = simple(r, 2, argv);
        if (rc != CORE_OK)
            goto out;
    }
    /* A TLS 1.3 server refuses a client certificate after the handshake:
     * one round trip (AUTH or SELECT made it already) turns that into a
     * connect error. */
    if (r->tls && !r->o.password[0] && !r->o.user[0] && r->o.db == 0 &&
        (rc = simple(r, 1, (const char *[]){"PING"})) != CORE_OK)
        goto out;
    rc = CORE_OK;
out:
    if (rc != CORE_OK) {
        if (rc == CORE_ENET && r->tls_rc == CORE_EAUTH)
            rc = CORE_EAUTH; /* the TLS layer was refused, e.g. our certificate */
        alr_redis_disconnect(r);
    }
    return rc;
}

/* role_master: 1 when ROLE says master, 0 when it says otherwise (its word
 * in role), -1 on a connection failure. A server that refuses ROLE (an ACL
 * user without +role) is taken at the sentinel's word: a wrong guess
 * surfaces as READONLY on the first write and is corrected then. */
static int role_master(alr_redis_t *r, char *role, size_t cap)
{
    redisReply *rep;
    int ok;
    if (alr_redis_cmd(r, &rep, 1, (const char *[]){"ROLE"}, NULL) != CORE_OK)
        return -1;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(role, cap, "ROLE refused: %s", rep->str);
        ok = 1;
    } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
               rep->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(role, cap, "%s", rep->element[0]->str);
        ok = strcmp(rep->element[0]->str, "master") == 0;
    } else {
        snprintf(role, cap, "an unexpected reply to ROLE");
        ok = 0;
    }
    freeReplyObject(rep);
    return ok;
}

/* add_why appends "; what" to the list of reasons. */
static void add_why(char *list, size_t cap, const char *what)
{
    size_t l = strlen(list);
    if (l + 3 < cap)
        snprintf(list + l, cap - l, "%s%s", l ? "; " : "", what);
}

/* connect_sentinel: the primary named by the first sentinel (in turn) that
 * names one that ROLE confirms. */
static core_err_t connect_sentinel(alr_redis_t *r)
{
    char whys[1200] = "", why[400], role[200], host[CORE_SENTINEL_HOST_MAX];
    size_t n = r->o.nsentinels, unknown = 0, answered = 0, auth = 0;
    core_err_t rc;

    for (size_t k = 0; k < n; k++) {
        size_t i = (r->next_sentinel + k) % n;
        int port, m;
        if (atomic_load(&r->stop))
            return CORE_ECLOSED;
        rc = core_sentinel_ask(&r->o.sentinels[i], r->o.master_name, r->o.sentinel_user,
                               r->o.sentinel_password, r->o.connect_timeout_ms, host, sizeof host,
                               &port, why, sizeof why);
        if (rc != CORE_OK) {
            unknown += rc == CORE_ENOT_FOUND;
            auth += rc == CORE_EAUTH;
            answered += rc == CORE_ENOT_FOUND || rc == CORE_EAUTH || rc == CORE_EREDIS;
            add_why(whys, sizeof whys, why);
            continue;
        }
        answered++;
        snprintf(r->host, sizeof r->host, "%s", host);
        r->port = port;
        rc = connect_server(r);
        if (rc == CORE_EAUTH || rc == CORE_ECONFIG || rc == CORE_ENOMEM)
            return rc; /* ours to fix, whichever server it is */
        if (rc != CORE_OK) {
            add_why(whys, sizeof whys, r->err);
            continue;
        }
        m = role_master(r, role, sizeof role);
        if (m == 1) {
            r->next_sentinel = i;
            return CORE_OK;
        }
        where(r, why, sizeof why);
        if (m == 0) {
            char said[700];
            snprintf(said, sizeof said, "sentinel %s:%d names %s, which is a %s, not the primary",
                     r->o.sentinels[i].host, r->o.sentinels[i].port, why, role);
            add_why(whys, sizeof whys, said);
            alr_redis_disconnect(r);
        } else {
            add_why(whys, sizeof whys, r->err);
        }
    }
    snprintf(r->err, sizeof r->err, "redis: no primary for '%s' from %zu sentinel(s): %s",
             r->o.master_name, n, whys);
    if (answered > 0 && unknown == answered)
        return CORE_ECONFIG;
    if (answered > 0 && auth == answered)
        return CORE_EAUTH;
    return CORE_ENET;
}

core_err_t alr_redis_connect(alr_redis_t *r)
{
    core_err_t rc;

    if (r->c)
        return CORE_OK;
    if (r->o.bad[0]) {
        snprintf(r->err, sizeof r->err, "%s", r->o.bad);
        return CORE_ECONFIG;
    }
    rc = r->o.nsentinels > 0 ? connect_sentinel(r) : connect_server(r);
    if (rc == CORE_OK)
        note_primary(r);
    return rc;
}

core_err_t alr_redis_wait(alr_redis_t *r, int n, int64_t timeout_ms, int *acked)
{
    char ns[16], ts[24];
    const char *argv[] = {"WAIT", ns, ts};
    redisReply *rep;
    core_err_t rc;

    *acked = 0;
    snprintf(ns, sizeof ns, "%d", n);
    snprintf(ts, sizeof ts, "%lld", (long long)timeout_ms);
    if ((rc = alr_redis_cmd(r, &rep, 3, argv, NULL)) != CORE_OK)
        return rc;
    if (rep->type == REDIS_REPLY_INTEGER)
        *acked = (int)rep->integer;
    else if (!alr_redis_reply_err(r, rep))
        alr_redis_seterr(r, "redis: unexpected reply to WAIT");
    if (rep->type != REDIS_REPLY_INTEGER)
        rc = CORE_EREDIS;
    freeReplyObject(rep);
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
