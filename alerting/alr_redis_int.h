/*
 * alr_redis: alerting's one adapter to hiredis. It owns a blocking
 * connection (TCP or unix socket) with connect and command timeouts, AUTH
 * and SELECT, knows how to reconnect with capped exponential backoff that a
 * stop flag interrupts, and translates hiredis failures into core_err_t plus
 * an error string. Pipelining is append-then-read: append N commands, read N
 * replies in order.
 *
 * Internal to alerting/ (the _int.h suffix; it exposes hiredis'
 * redisReply): other subsystems use alr_sink.h, alr_read.h, alr_follow.h.
 * Its tests include it (tests/alerting/test_redis.c).
 *
 * Errors: an I/O error, a timeout or a protocol error leaves the connection
 * unusable; the adapter drops it (alr_redis_connected() turns false) so the
 * next alr_redis_connect() starts afresh. An error REPLY (-ERR ...) is not a
 * connection failure: it is returned to the caller as a reply of type
 * REDIS_REPLY_ERROR. Except READONLY: the server we write to became a
 * replica (a failover happened behind our back), so alr_redis_read treats it
 * as a lost connection (CORE_ENET, connection dropped): the next connect
 * finds the primary again.
 *
 * Sentinel (redis.sentinels + redis.master_name): alr_redis_connect asks
 * each sentinel in turn (starting with the one that answered last) for the
 * primary's address (core_sentinel), connects to it with the data
 * connection's TLS and ACL settings, and uses it only when ROLE says
 * "master" there; otherwise it tries the next sentinel. So every reconnect
 * (after any connection error or READONLY) re-discovers the primary. When
 * the verified primary differs from the previous one, the handle counts a
 * failover (alr_redis_primary).
 *
 * Threads: one handle is used by one thread at a time. alr_redis_stop() and
 * the stop flag it sets may be used from any thread.
 */
#ifndef ALR_REDIS_INT_H
#define ALR_REDIS_INT_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"
#include "core/core_sentinel.h"
#include "core/core_tls.h"

typedef struct alr_redis_opts {
    char host[256];
    int port;
    char socket[256]; /* unix socket path; overrides host/port when set */
    char user[128];     /* ACL user; "" = the default user */
    char password[256];
    int db;
    int64_t connect_timeout_ms, command_timeout_ms, reconnect_max_ms;
    core_tls_opts_t tls; /* redis.tls*: TCP through core_tls when enabled */
    /* redis.sentinels (parsed) and redis.master_name; nsentinels == 0: the
     * primary is host:port. */
    core_sentinel_addr_t sentinels[CORE_SENTINEL_MAX];
    size_t nsentinels;
    char master_name[128];
    char sentinel_user[128], sentinel_password[256];
    int wait_replicas;         /* redis.wait_replicas (the sink WAITs) */
    int64_t wait_timeout_ms;   /* redis.wait_timeout */
    char bad[300];             /* a malformed sentinel setting, in words; "" = fine */
} alr_redis_opts_t;

typedef struct alr_redis alr_redis_t;

/* alr_redis_opts_from_config fills *o from the [redis] section. A
 * malformed redis.sentinels, or sentinels without redis.master_name, is
 * described in o->bad (alr_redis_opts_check returns it); alr_redis_connect
 * then fails with CORE_ECONFIG. */
void alr_redis_opts_from_config(const core_config_t *cfg, alr_redis_opts_t *o);

/* alr_redis_opts_check: CORE_ECONFIG with o->bad in err when the sentinel
 * settings are malformed; CORE_OK otherwise. */
core_err_t alr_redis_opts_check(const alr_redis_opts_t *o, char *err, size_t errlen);

/* alr_redis_new makes an unconnected handle (options copied). */
core_err_t alr_redis_new(const alr_redis_opts_t *o, alr_redis_t **out);

/* alr_redis_free disconnects and frees. NULL is a no-op. */
void alr_redis_free(alr_redis_t *r);

/* alr_redis_connect connects once (if not connected; with sentinels: to
 * the primary they name, verified with ROLE), authenticates (AUTH
 * user password with an ACL user, else AUTH password) and selects the db.
 * CORE_ENET when the server cannot be reached, CORE_EAUTH when it refuses
 * the credentials (wrong user or password, or none given when one is
 * required: WRONGPASS, NOAUTH, NOPERM) or, with TLS, when the handshake
 * fails at the TLS level (certificate not verified or not naming the host,
 * client certificate refused), CORE_ECONFIG when TLS is asked for with a
 * unix socket or its files do not load, CORE_EREDIS when it refuses
 * SELECT; alr_redis_error says why, with the server's or OpenSSL's words.
 * With TLS a PING follows the handshake, so a server that refuses our
 * certificate after a TLS 1.3 handshake is refused here, not later.
 * With sentinels: CORE_ENET when no sentinel names a reachable primary,
 * CORE_ECONFIG when the settings are malformed or every sentinel that
 * answered does not know redis.master_name, CORE_EAUTH when the sentinels
 * refuse redis.sentinel_user/password (or the primary refuses ours); the
 * error string lists what each sentinel said. */
core_err_t alr_redis_connect(alr_redis_t *r);

/* alr_redis_connect_retry calls alr_redis_connect until it succeeds,
 * sleeping with exponential backoff (100 ms doubling up to
 * reconnect_max_ms) between attempts. Returns CORE_ECLOSED as soon as the
 * stop flag is set (alr_redis_stop). `fresh` is set to 1 when a new
 * connection was made (callers reload their scripts then). */
core_err_t alr_redis_connect_retry(alr_redis_t *r, int *fresh);

/* alr_redis_backoff sleeps the next backoff step (also used after error
 * replies such as LOADING or OOM); CORE_ECLOSED when stopped meanwhile. */
core_err_t alr_redis_backoff(alr_redis_t *r);

/* alr_redis_backoff_reset: the next backoff starts small again. */
void alr_redis_backoff_reset(alr_redis_t *r);

/* alr_redis_stop sets the stop flag: pending and later retries give up with
 * CORE_ECLOSED. Any thread. */
void alr_redis_stop(alr_redis_t *r);
int alr_redis_stopped(const alr_redis_t *r);

int alr_redis_connected(const alr_redis_t *r);
void alr_redis_disconnect(alr_redis_t *r);

/* The hiredis context (NULL when disconnected), for pub/sub polling. */
redisContext *alr_redis_ctx(alr_redis_t *r);

/* alr_redis_primary writes the address of the primary of the current or
 * last connection ("host:port", the unix socket path, or "" before the
 * first connection) and returns the failovers this handle has seen (times
 * the verified primary's address changed). Any thread. */
uint64_t alr_redis_primary(alr_redis_t *r, char *buf, size_t cap);

/* alr_redis_wait runs WAIT n timeout_ms: *acked receives the number of
 * replicas that acknowledged every write this connection made. CORE_ENET
 * when the connection failed, CORE_EREDIS for an error reply (a replica
 * refuses WAIT), both with the error string set. */
core_err_t alr_redis_wait(alr_redis_t *r, int n, int64_t timeout_ms, int *acked);

/* alr_redis_error: the last failure in words. */
const char *alr_redis_error(const alr_redis_t *r);

/* alr_redis_append queues one command (argv borrowed, binary-safe; lens may
 * be NULL for NUL-terminated strings). */
core_err_t alr_redis_append(alr_redis_t *r, int argc, const char **argv, const size_t *lens);

/* alr_redis_read reads the next reply of the pipeline into *out (caller
 * frees with freeReplyObject). On failure the connection is dropped. */
core_err_t alr_redis_read(alr_redis_t *r, redisReply **out);

/* alr_redis_cmd runs one command: append + read. */
core_err_t alr_redis_cmd(alr_redis_t *r, redisReply **out, int argc, const char **argv,
                         const size_t *lens);

/* alr_redis_seterr replaces the error string. */
void alr_redis_seterr(alr_redis_t *r, const char *msg);

/* alr_redis_reply_err: 1 when the reply is an error reply; copies its text
 * into the handle's error string. */
int alr_redis_reply_err(alr_redis_t *r, const redisReply *rep);

/* A server-side Lua script: its source and SHA1 once loaded. */
typedef struct alr_script {
    const char *src;
    char sha[41];
} alr_script_t;

/* alr_redis_load_scripts runs SCRIPT LOAD for each script and records its
 * SHA1 (pipelined). */
core_err_t alr_redis_load_scripts(alr_redis_t *r, alr_script_t *s, size_t n);

#endif
