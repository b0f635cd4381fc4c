/*
 * app_http: finsent's small HTTP server (libmicrohttpd) for /metrics,
 * /healthz and the dashboard's read API and static page.
 *
 * Routes are path prefixes registered before app_http_start; the longest
 * matching prefix wins. Handlers run on libmicrohttpd's threads (several at
 * once), so they must be thread-safe; they fill a response whose body they
 * allocate with malloc (the server frees it). Only GET and HEAD are served;
 * anything else is 405. Request lines and query strings are bounded by
 * libmicrohttpd's own limits.
 */
#ifndef APP_HTTP_H
#define APP_HTTP_H

#include <stddef.h>

#include "core/core_error.h"

typedef struct app_http app_http_t;
typedef struct app_http_request app_http_request_t;

typedef struct app_http_response {
    int status;               /* default 200 */
    const char *content_type; /* static string; default text/plain */
    char *body;               /* malloc'd, taken by the server; may be NULL */
    size_t len;
    const char *cache_control; /* static string or NULL */
    const char *retry_after;   /* static string or NULL: a Retry-After header (429, 503) */
} app_http_response_t;

typedef void (*app_http_handler_fn)(void *ctx, const app_http_request_t *req,
                                    app_http_response_t *resp);

/* app_http_new prepares a server for listen = "HOST:PORT" (PORT 0 picks a
 * free one). */
core_err_t app_http_new(const char *listen, app_http_t **out, char *err, size_t errlen);

/* app_http_route adds a route; before app_http_start only. */
core_err_t app_http_route(app_http_t *h, const char *prefix, app_http_handler_fn fn, void *ctx);

/* app_http_start binds and starts serving on internal threads. */
core_err_t app_http_start(app_http_t *h, char *err, size_t errlen);

/* app_http_port: the bound port (after start). */
int app_http_port(const app_http_t *h);

/* app_http_free stops the server (waiting for handlers) and frees it. */
void app_http_free(app_http_t *h);

/* Request accessors. */
const char *app_http_path(const app_http_request_t *req);
const char *app_http_query(const app_http_request_t *req, const char *key); /* NULL if absent */

/* app_http_respond_text sets a status and a copy of text as the body. */
void app_http_respond_text(app_http_response_t *resp, int status, const char *content_type,
                           const char *text);

#endif
