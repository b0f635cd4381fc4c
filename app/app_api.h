/*
 * app_api: the dashboard's read API and page on finsent's HTTP port.
 *
 *   GET /api/rates?window=15m&min_n=N    every current scope with at least N items
 *                                        (default 1), by the lower Wilson bound of
 *                                        its neg_rate
 *   GET /api/series?scope=S&from=&to=&step=1m   per-step counts of one scope
 *   GET /api/alerts?since=&limit=        alerts from the stream, plus the active ones
 *   GET /api/recent?scope=S&limit=       latest tagged items
 *   GET /api/explain?id=ID | ?text=T     which words drove the label (app_explain)
 *   GET /, /app.js, ...                  the page (app_static)
 *
 * Answers are JSON (docs/dashboard.md); a bad parameter is 400 with
 * {"error": "..."} naming it, Redis being away 503 with the same shape, an
 * unknown /api/ path 404. Handlers only validate and translate; the queries
 * are alerting/alr_read.c's.
 *
 * Threads: handlers run on app_http's threads; the object is read-only after
 * app_api_new except the reader, which serialises its own connection, and
 * the explainer, which runs one explanation at a time (app_explain.h).
 */
#ifndef APP_API_H
#define APP_API_H

#include <stddef.h>

#include "alerting/alr_read.h"
#include "app/app_explain.h"
#include "app/app_http.h"
#include "core/core_config.h"
#include "core/core_error.h"

typedef struct app_api app_api_t;

/* app_api_new makes the API for cfg. web_root: the page's directory; NULL
 * means app_static_default_root(), "" means no page. A web root that does
 * not exist is logged and the page left out (the API still works). */
core_err_t app_api_new(const core_config_t *cfg, const char *web_root, app_api_t **out, char *err,
                       size_t errlen);

/* app_api_routes adds /api/ and / to http (before app_http_start). */
core_err_t app_api_routes(app_api_t *api, app_http_t *http);

/* app_api_register = app_api_new(cfg, NULL) + app_api_routes: the daemon's
 * one call. *out must be freed with app_api_free after app_http_free. */
core_err_t app_api_register(app_http_t *http, const core_config_t *cfg, app_api_t **out, char *err,
                            size_t errlen);

/* app_api_reader: the API's reader (tests set its clock). */
alr_reader_t *app_api_reader(app_api_t *api);

/* app_api_explainer: the API's explainer (tests hold its lock). */
app_explain_t *app_api_explainer(app_api_t *api);

/* app_api_free: NULL is a no-op; the HTTP server must be stopped first. */
void app_api_free(app_api_t *api);

#endif
