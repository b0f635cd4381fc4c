/*
 * th_dash: the fixture of the dashboard's data, shared by the reader's
 * suite (tests/alerting/test_read.c, alr_read) and the dashboard's API
 * suite (tests/dashboard/test_api.c, which builds this file too): a
 * real redis-server filled with known buckets, rate hashes, scope index,
 * alert stream, alert states and recent items written directly with redis
 * commands (not through the pipeline), then locked with an ACL that allows
 * only read commands and refuses KEYS and SCAN, so that every query under
 * test is proved read-only and free of keyspace enumeration.
 */
#ifndef TH_DASH_H
#define TH_DASH_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "tests/common/th_redis.h"

/* Minutes of buckets filled per scope, ending at the fixture's now. */
#define TH_DASH_MINUTES 30

typedef struct th_dash {
    th_redis_t redis;
    int64_t now;     /* the fixture's clock: 30 s into a minute */
    int64_t now_min; /* alr_minute(now) */
    /* Bucket counts of entity:ACME and topic:energy-oil per minute offset i
     * (minute now_min - TH_DASH_MINUTES + 1 + i); n == 0 means no bucket. */
    int64_t acme[TH_DASH_MINUTES][4], oil[TH_DASH_MINUTES][4];
} th_dash_t;

/* th_dash_start starts Redis, fills it and locks it read-only. Returns 0 on
 * success (asserts inside otherwise). */
int th_dash_start(th_dash_t *d);
void th_dash_stop(th_dash_t *d);

/* th_dash_config: config for the fixture's server: windows 5m,15m,1h, a
 * rule on entity scope with a 15m window. Caller frees. */
core_config_t *th_dash_config(const th_dash_t *d);

/* th_dash_clock: for alr_reader_set_clock (ctx = th_dash_t *). */
int64_t th_dash_clock(void *ctx);

/* th_dash_sum: the expected sum of field f (0 n, 1 negative, 2 neutral,
 * 3 positive) of rows [from, to] (minute offsets, inclusive, clamped). */
int64_t th_dash_sum(int64_t rows[][4], int from, int to, int f);

#endif
