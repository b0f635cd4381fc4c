/*
 * alr_admin: one-off administrative operations on the Redis named by the
 * [redis] section, for tools (finsent backtest) rather than the daemon:
 * wait until a server answers PING, find whether any key lies under the
 * prefix, and delete every key under it.
 *
 * Design. These are the only places finsent enumerates the keyspace (SCAN
 * MATCH prefix*, COUNT 1000 per step): the daemon and the read API never
 * do, because their keys are reachable from the indexes of docs/redis.md.
 * A tool that is about to write a throwaway data set under a prefix must
 * know that nothing else lives there, and must be able to remove what it
 * wrote; SCAN is non-blocking for the server, and these calls are rare.
 * Each call opens its own connection (alr_redis, the [redis] timeouts) and
 * closes it before returning.
 *
 * Errors: CORE_ENET when the server cannot be reached, CORE_EREDIS for an
 * error reply (a refused AUTH, an unknown command), CORE_ENOMEM; err says
 * which server and why. Any thread; no state is shared between calls.
 */
#ifndef ALR_ADMIN_H
#define ALR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"

/* alr_admin_glob_escape writes the Redis glob pattern that matches every
 * key starting with prefix: the prefix with each of * ? [ ] \ preceded by a
 * backslash, then "*". Returns the length, or 0 when it does not fit in cap.
 * Pure. */
size_t alr_admin_glob_escape(const char *prefix, char *out, size_t cap);

/* alr_admin_ping connects and sends PING until the server answers PONG,
 * for at most timeout_ms (100 ms between attempts; a server still loading
 * its data answers an error and is waited for). CORE_OK on PONG;
 * CORE_ETIMEOUT with err holding the last failure otherwise. */
core_err_t alr_admin_ping(const core_config_t *cfg, int64_t timeout_ms, char *err, size_t errlen);

/* alr_admin_prefix_probe tells whether any key of the selected database
 * starts with redis.prefix: *found is 1 and key (cap bytes, truncated)
 * holds one such key, or *found is 0. */
core_err_t alr_admin_prefix_probe(const core_config_t *cfg, int *found, char *key, size_t cap,
                                  char *err, size_t errlen);

/* alr_admin_prefix_delete deletes (UNLINK) every key of the selected
 * database that starts with redis.prefix and writes how many to *deleted
 * (may be NULL). */
core_err_t alr_admin_prefix_delete(const core_config_t *cfg, uint64_t *deleted, char *err,
                                   size_t errlen);

#endif
