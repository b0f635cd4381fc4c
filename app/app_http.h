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
 * (the server frees it). Only GET and HEAD are served; anything else is 405,
 * answered before its body is read. Request lines and query strings are
 * bounded by libmicrohttpd's own limits (a request header over them is
 * answered 431). libmicrohttpd's messages are logged through core_log (warn,
 * module "http"), at most 5 every 10 s (then a count of those left out), so
 * a flood of refused connections cannot flood the log.
 *
 * Every route belongs to an area: the dashboard (the page and /api/...), the
 * metrics (/metrics) or the health check (/healthz). Each area can require
 * credentials (http.auth_*_file, http.metrics_auth_*_file,
 * http.healthz_auth): a bearer token and/or Basic USER:PASSWORD read from
 * files at start, compared in constant time; without them the answer is 401
 * with a WWW-Authenticate header per accepted scheme. With http.ops_listen,
 * the metrics and health areas are served on a listener of their own (and
 * no longer on http.listen), so that no load on the dashboard's listener
 * can keep a monitor from its answer.
 *
 * Slow clients: each listener accepts http.max_connections connections,
 * http.per_ip_connections from one client address, closes a connection
 * idle for http.idle_timeout, and closes one that has not sent a complete
 * request within http.request_timeout of its connect (or of the end of its
 * previous answer): a sweeper thread checks every 200 ms and shuts the
 * socket down, so a client trickling a byte at a time cannot extend its
 * deadline (libmicrohttpd's own timeout restarts at every byte). With
 * http.tls_cert and http.tls_key every listener speaks HTTPS only (TLS 1.2
 * and 1.3, through libmicrohttpd's GnuTLS).
 */
#ifndef APP_HTTP_H
#define APP_HTTP_H

#include <stddef.h>

#include "core/core_config.h"
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

typedef enum app_http_area {
    APP_HTTP_DASHBOARD, /* the page and /api/...: http.auth_*_file */
    APP_HTTP_METRICS,   /* /metrics: http.metrics_auth_*_file; on http.ops_listen if set */
    APP_HTTP_HEALTH     /* /healthz: open unless http.healthz_auth; on http.ops_listen if set */
} app_http_area_t;

/* app_http_new_config prepares a server from the [http] keys of cfg
 * (listen, ops_listen, the connection limits and timeouts, the credential
 * files, tls_cert/tls_key): addresses parsed, every file read and checked
 * (a message naming the key, its origin and the file), nothing bound yet.
 * http.listen must not be empty. cfg is only read during the call. The
 * check `finsent config` and `finsent run` make (app_config_validate) is
 * this call. */
core_err_t app_http_new_config(const core_config_t *cfg, app_http_t **out, char *err,
                               size_t errlen);

/* app_http_new prepares a server for listen = "HOST:PORT" (PORT 0 picks a
 * free one) with every other [http] key at its default. */
core_err_t app_http_new(const char *listen, app_http_t **out, char *err, size_t errlen);

/* app_http_route adds a dashboard-area route for path (starting with '/';
 * exact, or a subtree when it ends in '/': see above); before
 * app_http_start only. CORE_EINVAL after start, for a path without the
 * leading '/' or past 32 routes. app_http_route_area names the area. */
core_err_t app_http_route(app_http_t *h, const char *path, app_http_handler_fn fn, void *ctx);
core_err_t app_http_route_area(app_http_t *h, app_http_area_t area, const char *path,
                               app_http_handler_fn fn, void *ctx);

/* app_http_start binds and starts serving on internal threads (both
 * listeners, and the sweeper that enforces http.request_timeout).
 * CORE_ENET when an address cannot be bound, CORE_ECONFIG when
 * libmicrohttpd refuses the TLS certificate or key. */
core_err_t app_http_start(app_http_t *h, char *err, size_t errlen);

/* app_http_port: the bound port of http.listen (after start);
 * app_http_ops_port: that of http.ops_listen, 0 when there is none. */
int app_http_port(const app_http_t *h);
int app_http_ops_port(const app_http_t *h);

/* app_http_timed_out: connections closed so far because they had not sent
 * a complete request within http.request_timeout. Any thread. */
unsigned long long app_http_timed_out(app_http_t *h);

/* app_http_tls_supported: whether this libmicrohttpd was built with TLS. */
int app_http_tls_supported(void);

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
