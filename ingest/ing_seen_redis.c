/* ing_seen_redis: see ing_seen_redis.h. A hiredis adapter. With
 * redis.sentinels it connects to the primary the sentinels name (asked in
 * turn, core_sentinel) once ROLE confirms it there; every reconnect asks
 * again, and a READONLY reply (the server became a replica) drops the
 * connection so that the next flush finds the new primary. */
#include "ingest/ing_seen_redis.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_sentinel.h"
#include "core/core_tls.h"

#define MAX_BACKLOG 100000

struct ing_seen_redis {
    redisContext *c;
    core_tls_t *tls; /* with redis.tls: the transport under c */
    core_tls_opts_t tlso;
    char host[256], sock[256], user[128], password[256], prefix[128];
    int port, db;
    int64_t connect_timeout_ms, command_timeout_ms;
    core_sentinel_addr_t sentinels[CORE_SENTINEL_MAX];
    size_t nsentinels, next_sentinel;
    char master[128], suser[128], spassword[256];
    char bad[300]; /* a malformed redis.sentinels, in words */
    ing_seen_rec_t *backlog;
    size_t nbacklog;
};

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

core_err_t ing_seen_redis_new(const core_config_t *cfg, ing_seen_redis_t **out)
{
    ing_seen_redis_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    snprintf(r->host, sizeof r->host, "%s", core_config_str(cfg, CORE_CFG_REDIS_HOST));
    snprintf(r->sock, sizeof r->sock, "%s", core_config_str(cfg, CORE_CFG_REDIS_SOCKET));
    snprintf(r->user, sizeof r->user, "%s", core_config_str(cfg, CORE_CFG_REDIS_USER));
    snprintf(r->password, sizeof r->password, "%s", core_config_str(cfg, CORE_CFG_REDIS_PASSWORD));
    snprintf(r->prefix, sizeof r->prefix, "%s", core_config_str(cfg, CORE_CFG_REDIS_PREFIX));
    r->port = (int)core_config_int(cfg, CORE_CFG_REDIS_PORT);
    r->db = (int)core_config_int(cfg, CORE_CFG_REDIS_DB);
    r->connect_timeout_ms = core_config_int(cfg, CORE_CFG_REDIS_CONNECT_TIMEOUT);
    r->command_timeout_ms = core_config_int(cfg, CORE_CFG_REDIS_COMMAND_TIMEOUT);
    core_tls_opts_from_config(cfg, &r->tlso);
    snprintf(r->master, sizeof r->master, "%s", core_config_str(cfg, CORE_CFG_REDIS_MASTER_NAME));
    snprintf(r->suser, sizeof r->suser, "%s", core_config_str(cfg, CORE_CFG_REDIS_SENTINEL_USER));
    snprintf(r->spassword, sizeof r->spassword, "%s",
             core_config_str(cfg, CORE_CFG_REDIS_SENTINEL_PASSWORD));
    if (core_config_str(cfg, CORE_CFG_REDIS_SENTINELS)[0] &&
        core_sentinel_parse_list("redis.sentinels", core_config_str(cfg, CORE_CFG_REDIS_SENTINELS),
                                 r->sentinels, CORE_SENTINEL_MAX, &r->nsentinels, r->bad,
                                 sizeof r->bad) != CORE_OK)
        r->nsentinels = 0;
    else if (r->nsentinels > 0 && !r->master[0])
        snprintf(r->bad, sizeof r->bad, "redis.master_name: required with redis.sentinels");
    *out = r;
    return CORE_OK;
}

static void disconnect(ing_seen_redis_t *r)
{
    if (r->c)
        redisFree(r->c); /* closes hiredis' end of the TLS socketpair first */
    r->c = NULL;
    core_tls_free(r->tls);
    r->tls = NULL;
}

/* command runs one command; returns the reply (caller frees) or NULL with
 * err set and the connection dropped. */
static redisReply *command(ing_seen_redis_t *r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;
    va_start(ap, fmt);
    rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    if (!rep) {
        snprintf(err, errlen, "redis: %s", r->c->errstr[0] ? r->c->errstr : "no reply");
        disconnect(r);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* connect_tls: a verified TLS connection (core_tls) under a hiredis
 * context made on the socketpair end it returns; PING so that a server
 * refusing our certificate after a TLS 1.3 handshake is an error now. */
static core_err_t connect_tls(ing_seen_redis_t *r, char *err, size_t errlen)
{
    char why[400];
    redisReply *rep;
    core_err_t rc;
    int fd;

    if (r->sock[0]) {
        snprintf(err, errlen, "redis %s: redis.tls cannot be used with redis.socket", r->sock);
        return CORE_ECONFIG;
    }
    rc = core_tls_connect(&r->tlso, r->host, r->port, r->connect_timeout_ms, &r->tls, &fd, why,
                          sizeof why);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "redis %s", why);
        return rc;
    }
    r->c = redisConnectFd(fd);
    if (!r->c) {
        close(fd);
        disconnect(r);
        snprintf(err, errlen, "redis: out of memory");
        return CORE_ENOMEM;
    }
    redisSetTimeout(r->c, tv_ms(r->command_timeout_ms));
    rep = redisCommand(r->c, "PING");
    if (!rep) {
        rc = core_tls_status(r->tls, why, sizeof why);
        snprintf(err, errlen, "redis %s", why[0] ? why : r->c->errstr);
        disconnect(r);
        return rc == CORE_EAUTH ? CORE_EAUTH : CORE_EREDIS;
    }
    freeReplyObject(rep); /* an error reply (NOAUTH) is for AUTH below to settle */
    return CORE_OK;
}

static core_err_t connect_server(ing_seen_redis_t *r, char *err, size_t errlen)
{
    redisReply *rep;
    core_err_t rc;
    if (r->tlso.enabled) {
        if ((rc = connect_tls(r, err, errlen)) != CORE_OK)
            return rc;
    } else if (r->sock[0])
        r->c = redisConnectUnixWithTimeout(r->sock, tv_ms(r->connect_timeout_ms));
    else
        r->c = redisConnectWithTimeout(r->host, r->port, tv_ms(r->connect_timeout_ms));
    if (!r->c || r->c->err) {
        snprintf(err, errlen, "redis %s%s%d: %s", r->sock[0] ? r->sock : r->host,
                 r->sock[0] ? "" : ":", r->sock[0] ? 0 : r->port,
                 r->c ? r->c->errstr : "cannot allocate a context");
        disconnect(r);
        return CORE_EREDIS;
    }
    redisSetTimeout(r->c, tv_ms(r->command_timeout_ms));
    if (r->password[0] || r->user[0]) {
        rep = r->user[0] ? command(r, err, errlen, "AUTH %s %s", r->user, r->password)
                         : command(r, err, errlen, "AUTH %s", r->password);
        if (!rep) {
            disconnect(r);
            return CORE_EREDIS;
        }
        freeReplyObject(rep);
    }
    if (r->db) {
        rep = command(r, err, errlen, "SELECT %d", r->db);
        if (!rep) {
            disconnect(r);
            return CORE_EREDIS;
        }
        freeReplyObject(rep);
    }
    return CORE_OK;
}

/* connect_sentinel: the primary named by the first sentinel (in turn)
 * whose answer ROLE confirms (a server refusing ROLE is taken at the
 * sentinel's word; READONLY corrects a wrong one). */
static core_err_t connect_sentinel(ing_seen_redis_t *r, char *err, size_t errlen)
{
    char why[400], host[CORE_SENTINEL_HOST_MAX];
    core_err_t rc = CORE_ENET;

    snprintf(err, errlen, "redis: no primary for '%s' from the sentinels", r->master);
    for (size_t k = 0; k < r->nsentinels; k++) {
        size_t i = (r->next_sentinel + k) % r->nsentinels;
        redisReply *rep;
        int port, master;
        rc = core_sentinel_ask(&r->sentinels[i], r->master, r->suser, r->spassword,
                               r->connect_timeout_ms, host, sizeof host, &port, why, sizeof why);
        if (rc != CORE_OK) {
            snprintf(err, errlen, "redis: %s", why);
            continue;
        }
        snprintf(r->host, sizeof r->host, "%s", host);
        r->port = port;
        if ((rc = connect_server(r, err, errlen)) != CORE_OK)
            continue;
        rep = redisCommand(r->c, "ROLE");
        master = rep && (rep->type == REDIS_REPLY_ERROR ||
                         (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                          rep->element[0]->type == REDIS_REPLY_STRING &&
                          strcmp(rep->element[0]->str, "master") == 0));
        if (rep)
            freeReplyObject(rep);
        if (master) {
            r->next_sentinel = i;
            return CORE_OK;
        }
        snprintf(err, errlen, "redis %s:%d: named by sentinel %s:%d but not the primary (ROLE)",
                 host, port, r->sentinels[i].host, r->sentinels[i].port);
        disconnect(r);
        rc = CORE_ENET;
    }
    return rc == CORE_OK ? CORE_ENET : rc;
}

static core_err_t connect_redis(ing_seen_redis_t *r, char *err, size_t errlen)
{
    if (r->c)
        return CORE_OK;
    if (r->bad[0]) {
        snprintf(err, errlen, "%s", r->bad);
        return CORE_ECONFIG;
    }
    return r->nsentinels > 0 ? connect_sentinel(r, err, errlen) : connect_server(r, err, errlen);
}

core_err_t ing_seen_redis_load(ing_seen_redis_t *r, ing_seen_t *seen, int64_t now_ms, char *err,
                               size_t errlen)
{
    core_err_t rc = connect_redis(r, err, errlen);
    char pattern[300], cursor[32] = "0";
    size_t plen;
    int64_t min = now_ms - ing_seen_ttl(seen);

    snprintf(pattern, sizeof pattern, "%sfeedseen:*", r->prefix);
    plen = strlen(r->prefix) + strlen("feedseen:");
    while (rc == CORE_OK) {
        redisReply *rep = command(r, err, errlen, "SCAN %s MATCH %s COUNT 500", cursor, pattern);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep)
                freeReplyObject(rep);
            rc = CORE_EREDIS;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        for (size_t i = 0; rc == CORE_OK && i < rep->element[1]->elements; i++) {
            const char *key = rep->element[1]->element[i]->str;
            redisReply *m = command(r, err, errlen, "ZRANGEBYSCORE %s %lld +inf WITHSCORES", key,
                                    (long long)min);
            if (!m) {
                rc = CORE_EREDIS;
                break;
            }
            for (size_t j = 0; m->type == REDIS_REPLY_ARRAY && j + 1 < m->elements; j += 2)
                if (ing_seen_commit(seen, key + plen, m->element[j]->str,
                                    atoll(m->element[j + 1]->str)) != CORE_OK)
                    rc = CORE_ENOMEM;
            freeReplyObject(m);
        }
        freeReplyObject(rep);
        if (strcmp(cursor, "0") == 0)
            break;
    }
    ing_seen_journal_enable(seen);
    return rc;
}

core_err_t ing_seen_redis_flush(ing_seen_redis_t *r, ing_seen_t *seen, int64_t now_ms, char *err,
                                size_t errlen)
{
    ing_seen_rec_t *recs;
    size_t n;
    core_err_t rc = CORE_OK;
    int64_t ttl = ing_seen_ttl(seen);
    int readonly = 0;

    ing_seen_take_journal(seen, &recs, &n);
    if (n) {
        size_t keep = r->nbacklog + n > MAX_BACKLOG ? MAX_BACKLOG - r->nbacklog : n;
        ing_seen_rec_t *nb = realloc(r->backlog, (r->nbacklog + n) * sizeof *nb);
        if (!nb) {
            ing_seen_journal_free(recs, n);
            return CORE_ENOMEM;
        }
        r->backlog = nb;
        memcpy(r->backlog + r->nbacklog, recs, keep * sizeof *recs);
        r->nbacklog += keep;
        for (size_t i = keep; i < n; i++) { /* over the bound: dropped */
            free(recs[i].feed);
            free(recs[i].id);
        }
        free(recs);
    }
    if (r->nbacklog == 0)
        return CORE_OK;
    rc = connect_redis(r, err, errlen);
    if (rc != CORE_OK)
        return rc;
    /* One pipeline: per record ZADD; per record also trim and expire its
     * set (cheap, and keeps the code free of a per-feed grouping). */
    for (size_t i = 0; i < r->nbacklog; i++) {
        const ing_seen_rec_t *x = &r->backlog[i];
        redisAppendCommand(r->c, "ZADD %sfeedseen:%s %lld %s", r->prefix, x->feed, (long long)x->ms,
                           x->id);
        redisAppendCommand(r->c, "ZREMRANGEBYSCORE %sfeedseen:%s -inf (%lld", r->prefix, x->feed,
                           (long long)(now_ms - ttl));
        redisAppendCommand(r->c, "PEXPIRE %sfeedseen:%s %lld", r->prefix, x->feed, (long long)ttl);
    }
    for (size_t i = 0; i < 3 * r->nbacklog; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", r->c->errstr);
            disconnect(r);
            return CORE_EREDIS; /* the backlog stays for the next flush */
        }
        if (((redisReply *)rep)->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: %s", ((redisReply *)rep)->str);
            rc = CORE_EREDIS;
            readonly |= strncmp(((redisReply *)rep)->str, "READONLY", 8) == 0;
        }
        freeReplyObject(rep);
    }
    if (readonly) { /* a replica now (failover): the next flush finds the primary */
        disconnect(r);
        return CORE_EREDIS; /* the backlog stays */
    }
    ing_seen_journal_free(r->backlog, r->nbacklog);
    r->backlog = NULL;
    r->nbacklog = 0;
    return rc;
}

size_t ing_seen_redis_backlog(const ing_seen_redis_t *r)
{
    return r->nbacklog;
}

void ing_seen_redis_free(ing_seen_redis_t *r)
{
    if (!r)
        return;
    disconnect(r);
    ing_seen_journal_free(r->backlog, r->nbacklog);
    free(r);
}
