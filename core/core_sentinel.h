/*
 * core_sentinel: where the Redis primary is, according to Redis Sentinel.
 * Shared by the two Redis adapters (alerting/alr_redis.c and
 * ingest/ing_seen_redis.c), which verify the address they get with ROLE on
 * their own (TLS, ACL) data connection before using it.
 *
 * Three parts:
 *   - the redis.sentinels list parser (pure): "host:port,[v6addr]:port";
 *   - the reply parser (pure, no I/O): RESP replies to AUTH and to
 *     SENTINEL get-master-addr-by-name, fed whatever bytes have arrived;
 *   - core_sentinel_ask: one question to one sentinel over plain TCP,
 *     bounded by one deadline (connect, write, read) and a 4 KiB reply
 *     ceiling.
 *
 * Sentinel connections are plain TCP (no TLS), authenticated with
 * redis.sentinel_user / redis.sentinel_password when set: docs/redis.md
 * says why. This module keeps no state; every function may be called from
 * any thread.
 */
#ifndef CORE_SENTINEL_H
#define CORE_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

#define CORE_SENTINEL_MAX 16
#define CORE_SENTINEL_HOST_MAX 256

typedef struct core_sentinel_addr {
    char host[CORE_SENTINEL_HOST_MAX];
    int port;
} core_sentinel_addr_t;

/* core_sentinel_parse_list parses a comma-separated list of host:port
 * (IPv6 addresses in brackets, spaces around items ignored) into out[0..cap).
 * CORE_OK with *n >= 1; CORE_ECONFIG with err naming the item and what is
 * wrong with it (no port, port out of 1..65535, empty host, more than cap
 * items, an empty list). `key` names the setting in messages. */
core_err_t core_sentinel_parse_list(const char *key, const char *list, core_sentinel_addr_t *out,
                                    size_t cap, size_t *n, char *err, size_t errlen);

/* Result of core_sentinel_parse_reply. */
typedef enum core_sentinel_reply {
    CORE_SENTINEL_MORE = 0, /* incomplete: feed more bytes */
    CORE_SENTINEL_ADDR,     /* an address: *host / *port filled */
    CORE_SENTINEL_NIL,      /* null reply: the master name is unknown */
    CORE_SENTINEL_OK,       /* +OK (to AUTH) */
    CORE_SENTINEL_ERROR,    /* -ERR ...: text in err */
    CORE_SENTINEL_BAD       /* not a reply we expect */
} core_sentinel_reply_t;

/* core_sentinel_parse_reply parses the first RESP reply in buf[0..len):
 * a simple string, an error, a null array or bulk, or an array of two bulk
 * strings (ip, port). *used receives the bytes it took (0 with MORE). */
core_sentinel_reply_t core_sentinel_parse_reply(const char *buf, size_t len, size_t *used,
                                                char *host, size_t hostlen, int *port, char *err,
                                                size_t errlen);

/* core_sentinel_ask asks the sentinel at s for the address of the master
 * named `master` (AUTH first when password is not empty; user may be "").
 * CORE_OK with host/port filled; CORE_ENOT_FOUND when the sentinel does not
 * know the name; CORE_EAUTH when it refuses the credentials; CORE_ENET /
 * CORE_ETIMEOUT when it cannot be reached or does not answer within
 * timeout_ms; CORE_EREDIS for any other error reply. err says why, naming
 * the sentinel. */
core_err_t core_sentinel_ask(const core_sentinel_addr_t *s, const char *master, const char *user,
                             const char *password, int64_t timeout_ms, char *host, size_t hostlen,
                             int *port, char *err, size_t errlen);

#endif
