/*
 * app_explain: why an item got its label, for people. The JSON form of a
 * cls_explain result (shared by `finsent classify --explain` and the API)
 * and the dashboard's handler
 *
 *   GET /api/explain?id=ID       the item ID of the recent list (its title,
 *                                else its text as stored: 240 bytes at most)
 *   GET /api/explain?text=TEXT   any text (URL-encoded, at most
 *                                APP_EXPLAIN_TEXT_MAX bytes)
 *
 * answering {"id", "text", "sentiment", "sentiment_p", "topic", "topic_p",
 * "model", "words": [...], "truncated", "ms"} (docs/dashboard.md, "Explaining
 * a label"); 400 for a missing or bad parameter, 404 for an id that is not
 * in the recent list, 429 with Retry-After while another explanation runs,
 * 503 when Redis is away (id only), 500 when the model cannot be loaded.
 *
 * Design. The explainer owns a classifier of its own, never the pipeline's
 * (that one belongs to the classify thread): made on first use from the
 * same [classify] settings as the daemon's (app_classifier_opts) but with
 * one compute thread and room for a whole explanation in one batch
 * (CLS_EXPLAIN_MAX_WORDS + 1 texts), and freed by app_explain_free. F32
 * weights are mmap'd, so the second instance shares their pages with the
 * first. One explanation runs at a time across the server (a mutex taken
 * with trylock, so a second request is answered 429 at once instead of
 * holding one of the HTTP threads that /metrics and /healthz need); the
 * Redis lookup has its own connection (alr_explain_read).
 *
 * Threads: app_explain_handle from any HTTP thread; new/free from one.
 */
#ifndef APP_EXPLAIN_H
#define APP_EXPLAIN_H

#include <jansson.h>
#include <stddef.h>

#include "app/app_http.h"
#include "classify/cls_explain.h"
#include "core/core_config.h"
#include "core/core_error.h"

#define APP_EXPLAIN_TEXT_MAX 8192 /* longest text= accepted (400 beyond) */

typedef struct app_explain app_explain_t;

/* app_explain_new copies the [classify] and [redis] settings it needs from
 * cfg (borrowed only during the call); it loads no model and does not
 * connect. */
core_err_t app_explain_new(const core_config_t *cfg, app_explain_t **out, char *err, size_t errlen);

/* app_explain_free: NULL is a no-op; no request may be running. */
void app_explain_free(app_explain_t *x);

/* app_explain_handle answers GET /api/explain (above). */
void app_explain_handle(app_explain_t *x, const app_http_request_t *req, app_http_response_t *resp);

/* app_explain_hold takes the one-at-a-time lock as a request would (1 when
 * taken, 0 when busy); app_explain_release gives it back. For tests. */
int app_explain_hold(app_explain_t *x);
void app_explain_release(app_explain_t *x);

/* app_explain_words_json: the words of e over text (the explained text, of
 * at least e->explained_len bytes) as
 *   [{"word","start","len","delta":{"negative","neutral","positive"},
 *     "topic_delta"}, ...]
 * (deltas rounded to 4 decimals; delta null without a sentiment head,
 * topic_delta null without a topic head). NULL when out of memory. */
json_t *app_explain_words_json(const cls_explanation_t *e, const char *text);

/* app_explain_json: {"words": app_explain_words_json, "truncated", "ms"},
 * the "explain" member of `finsent classify --explain`. NULL: no memory. */
json_t *app_explain_json(const cls_explanation_t *e, const char *text);

#endif
