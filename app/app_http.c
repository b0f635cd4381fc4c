/*
 * app_http: see app_http.h. A thin shell over libmicrohttpd: one internal
 * polling thread with a thread pool of 2, routing by path prefix, responses
 * built from the handler's malloc'd buffer (MHD_RESPMEM_MUST_FREE).
 */
#include "app/app_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 32

typedef struct route {
    char *prefix;
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

core_err_t app_http_route(app_http_t *h, const char *prefix, app_http_handler_fn fn, void *ctx)
{
    if (h->d || h->n_routes == MAX_ROUTES)
        return CORE_EINVAL;
    h->routes[h->n_routes].prefix = strdup(prefix);
    if (!h->routes[h->n_routes].prefix)
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
    for (size_t i = 0; i < h->n_routes; i++) {
        size_t n = strlen(h->routes[i].prefix);
        if (strncmp(url, h->routes[i].prefix, n) == 0 && n >= best_len) {
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

core_err_t app_http_start(app_http_t *h, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *info;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &h->addr,
                            MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_CONNECTION_LIMIT, 256,
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
        free(h->routes[i].prefix);
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

void app_http_respond_text(app_http_response_t *resp, int status, const char *content_type,
                           const char *text)
{
    resp->status = status;
    resp->content_type = content_type;
    resp->body = strdup(text);
    resp->len = resp->body ? strlen(text) : 0;
}
