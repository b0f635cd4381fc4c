/*
 * alr_follow: the reading side of alerts, for `finsent alerts`: replay the
 * capped stream finsent:alerts:log from a point in time or a stream ID
 * (XRANGE, in pages), then follow channel finsent:alerts live (SUBSCRIBE).
 *
 * No gap, no duplicate: the subscription is made BEFORE the replay, so an
 * alert published while replaying arrives on the channel too; every alert
 * carries a unique "id", and the follower drops ids it has already delivered
 * (it remembers the last 1024). After a lost connection alr_follow_resume
 * subscribes again and replays from the time of the last alert delivered, so
 * alerts raised while it was away are delivered once as well (as long as
 * the stream still holds them).
 *
 * Threads: one follower is used by one thread; alr_follow_stop may be called
 * from any thread (and from a signal handler: it only sets a flag).
 */
#ifndef ALR_FOLLOW_H
#define ALR_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"
#include "core/core_error.h"

typedef struct alr_follow alr_follow_t;

/* Called once per alert with its JSON (NUL-terminated, borrowed for the
 * call). Return nonzero to stop delivering (the call then returns
 * CORE_ECLOSED). */
typedef int (*alr_alert_fn)(void *ctx, const char *json, size_t len);

/* alr_follow_new reads [redis] (connection and prefix). Does not connect. */
core_err_t alr_follow_new(const core_config_t *cfg, alr_follow_t **out);

/* alr_follow_set_scope restricts the follower to one scope: it subscribes
 * to <prefix>alerts:{scope} instead and replays only that scope's alerts.
 * scope is "all", "topic:LABEL" (slugified here, so "topic:Fed | Central
 * Banks" works) or "entity:TICKER". CORE_EINVAL for anything else. Call
 * before alr_follow_start. */
core_err_t alr_follow_set_scope(alr_follow_t *f, const char *scope);

/* alr_follow_free: NULL is a no-op. */
void alr_follow_free(alr_follow_t *f);

/* alr_follow_parse_since turns a --since argument into the stream ID to
 * replay from (inclusive), written to id: a stream ID ("1795873800000-0" or
 * "1795873800000"), an RFC 3339 time ("2026-11-28T13:50:00Z") or a duration
 * back from now_ms ("15m", "2h"). CORE_EPARSE otherwise. Pure. */
core_err_t alr_follow_parse_since(const char *s, int64_t now_ms, char *id, size_t cap);

/* alr_follow_start connects, subscribes to the alert channel and, when
 * since_id is not NULL, replays the stream from since_id, calling fn for
 * each alert. CORE_ENET / CORE_EREDIS (alr_follow_error says why). */
core_err_t alr_follow_start(alr_follow_t *f, const char *since_id, alr_alert_fn fn, void *ctx);

/* alr_follow_poll waits up to timeout_ms for live alerts and delivers those
 * that arrived. CORE_OK when at least one was read (even if all were
 * duplicates), CORE_ETIMEOUT when none came (also when a signal interrupted
 * the wait), CORE_ENET when the connection was lost. */
core_err_t alr_follow_poll(alr_follow_t *f, int timeout_ms, alr_alert_fn fn, void *ctx);

/* alr_follow_resume reconnects with backoff (until it works or
 * alr_follow_stop), subscribes and replays from the last delivered alert's
 * time (or from the start time of the follower when none was delivered). */
core_err_t alr_follow_resume(alr_follow_t *f, alr_alert_fn fn, void *ctx);

/* alr_follow_stop: pending and later resumes return CORE_ECLOSED. */
void alr_follow_stop(alr_follow_t *f);

const char *alr_follow_error(const alr_follow_t *f);

#endif
