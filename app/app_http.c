/*
 * app_http: see app_http.h. A thin shell over libmicrohttpd: one internal
 * polling thread with a thread pool of 2, routing by exact path (a route
 * ending in '/' is a subtree), responses built from the handler's malloc'd
 * buffer (MHD_RESPMEM_MUST_FREE). libmicrohttpd's own messages (oversized
 * requests, socket errors) go through core_log, so a log.format=json log
 * stays JSON.
 */
#include "app/app_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_log.h"
#include "core/core_utf8.h"

#define MAX_ROUTES 32

typedef struct route {
    char *path; /* exact, or a subtree when it ends in '/' */
    app_http_handler_fn fn;
    void *ctx;
} route;

struct app_http {
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    route routes[MAX_ROUTES];
    size_t n_routes;
    int port;
};

struct app_http_request {
    struct MHD_Connection *conn;
    const char *path;
};

core_err_t app_http_new(const char *listen, app_http_t **out, char *err, size_t errlen)
{
    app_http_t *h;
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    long port;

    *out = NULL;
    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "http.listen '%s': expected HOST:PORT", listen);
        return CORE_ECONFIG;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, errlen, "http.listen '%s': bad port", listen);
        return CORE_ECONFIG;
    }
    h = calloc(1, sizeof *h);
    if (!h)
        return CORE_ENOMEM;
    h->addr.sin_family = AF_INET;
    h->addr.sin_port = htons((uint16_t)port);
    if (strcmp(host, "") == 0 || strcmp(host, "*") == 0) {
        h->addr.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        h->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &h->addr.sin_addr) != 1) {
        snprintf(err, errlen, "http.listen '%s': host must be an IPv4 address, localhost or *",
                 listen);
        free(h);
        return CORE_ECONFIG;
    }
    *out = h;
    return CORE_OK;
}

core_err_t app_http_route(app_http_t *h, const char *path, app_http_handler_fn fn, void *ctx)
{
    if (h->d || h->n_routes == MAX_ROUTES || path[0] != '/')
        return CORE_EINVAL;
    h->routes[h->n_routes].path = strdup(path);
    if (!h->routes[h->n_routes].path)
        return CORE_ENOMEM;
    h->routes[h->n_routes].fn = fn;
    h->routes[h->n_routes].ctx = ctx;
    h->n_routes++;
    return CORE_OK;
}

static enum MHD_Result respond(struct MHD_Connection *conn, app_http_response_t *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                           r->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type : "text/plain; charset=utf-8");
    if (r->cache_control)
        MHD_add_response_header(resp, "Cache-Control", r->cache_control);
    if (r->retry_after)
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(conn, (unsigned int)(r->status ? r->status : 200), resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    app_http_t *h = cls;
    app_http_response_t r = {0};
    app_http_request_t req = {conn, url};
    const route *best = NULL;
    size_t best_len = 0;

    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = h;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        app_http_respond_text(&r, 405, NULL, "method not allowed\n");
        return respond(conn, &r);
    }
    /* An exact route, else the longest subtree holding the path: "/metricsfoo"
     * is not "/metrics" (it falls to "/", whose handler checks its paths). */
    for (size_t i = 0; i < h->n_routes; i++) {
        const char *rp = h->routes[i].path;
        size_t n = strlen(rp);
        if (strcmp(url, rp) == 0) {
            best = &h->routes[i];
            break;
        }
        if (rp[n - 1] == '/' && strncmp(url, rp, n) == 0 && n >= best_len) {
            best = &h->routes[i];
            best_len = n;
        }
    }
    if (!best) {
        app_http_respond_text(&r, 404, NULL, "not found\n");
        return respond(conn, &r);
    }
    r.status = 200;
    best->fn(best->ctx, &req, &r);
    return respond(conn, &r);
}

/* mhd_log takes libmicrohttpd's messages (printf-style, often ending in a
 * newline, possibly quoting what a client sent) into core_log at warn
 * level, module "http": one record each, valid UTF-8, in the log's format. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024], *clean = NULL;
    size_t n, clean_len;
    (void)cls;

    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (core_utf8_repair(msg, n, &clean, &clean_len, NULL) != CORE_OK) {
        CORE_WARN("http", "libmicrohttpd: (message lost: out of memory)");
        return;
    }
    CORE_WARN("http", "%s", clean);
    free(clean);
}

core_err_t app_http_start(app_http_t *h, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *info;
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        &h->addr, MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_CONNECTION_LIMIT, 256,
        MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END);
    if (!h->d) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &h->addr.sin_addr, ip, sizeof ip);
        snprintf(err, errlen, "http: cannot listen on %s:%d (port in use?)", ip,
                 ntohs(h->addr.sin_port));
        return CORE_ENET;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : ntohs(h->addr.sin_port);
    return CORE_OK;
}

int app_http_port(const app_http_t *h)
{
    return h->port;
}

void app_http_free(app_http_t *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    for (size_t i = 0; i < h->n_routes; i++)
        free(h->routes[i].path);
    free(h);
}

const char *app_http_path(const app_http_request_t *req)
{
    return req->path;
}

const char *app_http_query(const app_http_request_t *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct query_check {
    char *why;
    size_t cap;
    int bad;
} query_check;

/* printable writes name for a message: printable ASCII as is, any other
 * byte as %XX, at most 64 bytes of it. */
static void printable(char *out, size_t cap, const char *name, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len && i < 64 && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x20 && c < 0x7f && c != '%') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    query_check *qc = cls;
    char name[200], what[80];
    const char *nul;
    size_t at;
    (void)kind;

    if (!core_utf8_valid(key, key_size, &at))
        snprintf(what, sizeof what, "its name is invalid UTF-8 at byte %zu", at);
    else if ((nul = memchr(key, '\0', key_size)))
        snprintf(what, sizeof what, "its name holds a NUL byte (%%00) at byte %zu",
                 (size_t)(nul - key));
    else if (value && !core_utf8_valid(value, value_size, &at))
        snprintf(what, sizeof what, "invalid UTF-8 at byte %zu", at);
    else if (value && (nul = memchr(value, '\0', value_size)))
        snprintf(what, sizeof what, "a NUL byte (%%00) at byte %zu", (size_t)(nul - value));
    else
        return MHD_YES;
    printable(name, sizeof name, key, key_size);
    snprintf(qc->why, qc->cap, "parameter '%s': %s", name, what);
    qc->bad = 1;
    return MHD_NO;
}

int app_http_query_invalid(const app_http_request_t *req, char *why, size_t cap)
{
    query_check qc = {why, cap, 0};
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &qc);
    return qc.bad;
}

void app_http_respond_text(app_http_response_t *resp, int status, const char *content_type,
                           const char *text)
{
    resp->status = status;
    resp->content_type = content_type;
    resp->body = strdup(text);
    resp->len = resp->body ? strlen(text) : 0;
}
