/*
 * app_http: finsent's small HTTP server (libmicrohttpd) for /metrics,
 * /healthz and the dashboard's read API and static page.
 *
 * Routes are registered before app_http_start. A route matches its path
 * exactly ("/metrics" serves "/metrics", not "/metricsfoo" nor
 * "/metrics/"), except a route ending in '/', which is a subtree: it serves
 * every path that starts with it ("/api/" serves "/api/rates"; "/" serves
 * any path no other route takes, and its handler checks the path). An exact
 * route beats a subtree; of two subtrees the longer wins; no route: 404.
 * Handlers run on libmicrohttpd's threads (several at once), so they must be
 * thread-safe; they fill a response whose body they allocate with malloc
 * (the server frees it). Only GET and HEAD are served; anything else is 405.
 * Request lines and query strings are bounded by libmicrohttpd's own limits
 * (a request header over them is answered 431). libmicrohttpd's messages
 * are logged through core_log (warn, module "http").
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

/* app_http_route adds a route for path (starting with '/'; exact, or a
 * subtree when it ends in '/': see above); before app_http_start only.
 * CORE_EINVAL after start, for a path without the leading '/' or past 32
 * routes. */
core_err_t app_http_route(app_http_t *h, const char *path, app_http_handler_fn fn, void *ctx);

/* app_http_start binds and starts serving on internal threads. */
core_err_t app_http_start(app_http_t *h, char *err, size_t errlen);

/* app_http_port: the bound port (after start). */
int app_http_port(const app_http_t *h);

/* app_http_free stops the server (waiting for handlers) and frees it. */
void app_http_free(app_http_t *h);

/* Request accessors. */
const char *app_http_path(const app_http_request_t *req);
const char *app_http_query(const app_http_request_t *req, const char *key); /* NULL if absent */

/* app_http_query_invalid checks every query parameter, name and value after
 * percent-decoding: when one is not valid UTF-8 or holds a NUL byte (which
 * app_http_query's C string would silently cut), it writes "parameter
 * 'NAME': ..." into why (the name's unprintable bytes as %XX) and returns 1;
 * else 0. */
int app_http_query_invalid(const app_http_request_t *req, char *why, size_t cap);

/* app_http_respond_text sets a status and a copy of text as the body. */
void app_http_respond_text(app_http_response_t *resp, int status, const char *content_type,
                           const char *text);

#endif
