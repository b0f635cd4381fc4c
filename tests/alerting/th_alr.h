/*
 * th_alr: helpers shared by the alerting suites that run against a real
 * redis-server: config for the test server, tagged items, a settable clock,
 * and direct hiredis reads to check what is in Redis.
 */
#ifndef TH_ALR_H
#define TH_ALR_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_item.h"
#include "tests/common/th_redis.h"

/* The tests' "now": 30 s into the current wall-clock minute, fixed for the
 * process (Redis expiries are wall-clock, so test times stay near it). */
int64_t th_alr_t0(void);
#define TH_T0 th_alr_t0()

typedef struct th_clock {
    int64_t now;
} th_clock_t;

int64_t th_clock_now(void *ctx);

/* th_alr_config: defaults + [redis] host/port of r + fast retry settings +
 * extra (INI text, may be NULL). Asserts on failure. */
core_config_t *th_alr_config(const th_redis_t *r, const char *extra);

/* th_alr_item makes a tagged item; entities is a comma-separated list or
 * NULL. */
core_tagged_t *th_alr_item(const char *id, const char *topic, int sentiment, int64_t event_ms,
                           const char *entities);

/* th_alr_connect: a plain hiredis connection to r (asserts). */
redisContext *th_alr_connect(const th_redis_t *r);

/* th_alr_hget: integer field of a hash (0 when missing). */
long long th_alr_hget(redisContext *c, const char *key, const char *field);

/* th_alr_int: the integer reply of a command (asserts it is one). */
long long th_alr_int(redisContext *c, const char *fmt, ...);

#endif
