/*
 * app_http: see app_http.h. A thin shell over libmicrohttpd: per listener
 * one internal polling thread (a pool of 2 for http.listen), routing by
 * exact path (a route ending in '/' is a subtree), responses built from the
 * handler's malloc'd buffer (MHD_RESPMEM_MUST_FREE). libmicrohttpd's own
 * messages (oversized requests, refused connections) go through core_log,
 * rate-limited, so a log.format=json log stays JSON and stays small.
 *
 * The request deadline: libmicrohttpd's timeout counts idle time and every
 * byte restarts it, and it has no absolute limit. So every connection is
 * tracked from MHD_OPTION_NOTIFY_CONNECTION (started: tracked; closed:
 * forgotten) in one list under h->lock, with the time it started waiting
 * for a request (its connect, then the end of each answer, from
 * MHD_OPTION_NOTIFY_COMPLETED) and whether it is being answered. A sweeper
 * thread shuts down (shutdown(2), never close: the descriptor stays
 * libmicrohttpd's) every socket that has waited longer than
 * http.request_timeout without a complete request; libmicrohttpd then
 * reads end-of-file and closes it. libmicrohttpd reports a connection
 * closed before it closes the descriptor, and both the report and the
 * shutdown happen under h->lock, so a descriptor number is never shut down
 * after it has been reused.
 */
#include "app/app_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core_log.h"
#include "core/core_time.h"
#include "core/core_utf8.h"

#define MOD "http"
#define MAX_ROUTES 32
#define SWEEP_MS 200
#define SECRET_MAX 4096       /* a credential file */
#define PEM_MAX (1024 * 1024) /* a certificate chain or key file */
#define LOG_WINDOW_MS 10000   /* libmicrohttpd messages: at most LOG_BURST per window */
#define LOG_BURST 5
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct route {
    char *path; /* exact, or a subtree when it ends in '/' */
    app_http_area_t area;
    app_http_handler_fn fn;
    void *ctx;
} route;

/* guard: the credentials one area accepts; both NULL: open. */
typedef struct guard {
    char *token; /* bearer token */
    size_t token_len;
    char *basic; /* "USER:PASSWORD" */
    size_t basic_len;
} guard;

/* conn_track: one per open connection (its socket context). */
typedef struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    int64_t since_ms; /* waiting for a request since (monotonic) */
    int answering;    /* a complete request is being answered */
    int shut;         /* the sweeper shut it down */
} conn_track;

typedef struct listener {
    struct app_http *h;
    int ops; /* 1: http.ops_listen (metrics and health only) */
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    int port;
} listener;

struct app_http {
    listener main, ops;
    int has_ops;
    route routes[MAX_ROUTES];
    size_t n_routes;
    unsigned max_conn, per_ip, idle_s;
    int64_t request_timeout_ms;
    guard areas[3]; /* by app_http_area_t */
    int healthz_auth;
    char *tls_cert, *tls_key; /* PEM text, or NULL: plain HTTP */

    pthread_mutex_t lock; /* the connection list, the sweeper's state */
    pthread_cond_t wake;
    conn_track *conns;
    pthread_t sweeper;
    int sweeping, stopping;
    unsigned long long timed_out, timed_out_logged;
    int64_t timed_out_log_ms;

    pthread_mutex_t log_lock; /* libmicrohttpd's messages */
    int64_t log_window_ms;
    unsigned log_count, log_dropped;
};

struct app_http_request {
    struct MHD_Connection *conn;
    const char *path;
};

/* ---- configuration ---------------------------------------------------- */

static core_err_t parse_listen(const char *key, const char *listen, struct sockaddr_in *addr,
                               char *err, size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    long port;

    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "%s '%s': expected HOST:PORT", key, listen);
        return CORE_ECONFIG;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, errlen, "%s '%s': bad port", key, listen);
        return CORE_ECONFIG;
    }
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "") == 0 || strcmp(host, "*") == 0) {
        addr->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (strcmp(host, "localhost") == 0) {
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
        snprintf(err, errlen, "%s '%s': host must be an IPv4 address, localhost or *", key, listen);
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

/* wipe_free clears a secret before freeing it. */
static void wipe_free(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

/* read_file reads at most max bytes of the file [http] k names into a
 * NUL-terminated buffer. On error: a message "http.KEY 'PATH' (ORIGIN): ..."
 * in err. */
static core_err_t read_file(const core_config_t *cfg, core_config_str_key_t k, size_t max,
                            char **out, size_t *len, char *err, size_t errlen)
{
    const char *key = core_config_key_name(k);
    const char *path = core_config_str(cfg, k);
    const char *origin = core_config_origin(cfg, k);
    FILE *f = NULL;
    struct stat st;
    char *buf = NULL;
    size_t n;
    core_err_t rc = CORE_ECONFIG;

    *out = NULL;
    if (!(f = fopen(path, "rb")) || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "http.%s '%s' (%s): cannot read: %s", key, path, origin,
                 strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "http.%s '%s' (%s): not a regular file", key, path, origin);
        goto out;
    }
    if ((size_t)st.st_size > max) {
        snprintf(err, errlen, "http.%s '%s' (%s): %lld bytes, more than the %zu allowed", key, path,
                 origin, (long long)st.st_size, max);
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(err, errlen, "http.%s '%s' (%s): read error", key, path, origin);
        goto out;
    }
    buf[n] = '\0';
    if ((st.st_mode & 077) && k != CORE_CFG_HTTP_TLS_CERT) /* a certificate is public */
        CORE_WARN(MOD, "http.%s '%s': readable by other users (mode %03o); use chmod 600", key,
                  path, (unsigned)(st.st_mode & 0777));
    *out = buf;
    *len = n;
    buf = NULL;
    rc = CORE_OK;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

/* read_secret reads a credential file of key k (empty value: none): one
 * line, its line end removed. basic: "USER:PASSWORD", USER not empty, valid
 * UTF-8 without control characters; else a bearer token: visible ASCII. */
static core_err_t read_secret(const core_config_t *cfg, core_config_str_key_t k, int basic,
                              char **out, size_t *out_len, char *err, size_t errlen)
{
    const char *key = core_config_key_name(k);
    const char *origin = core_config_origin(cfg, k);
    const char *path = core_config_str(cfg, k);
    char *s = NULL, *colon;
    size_t n = 0, at;
    core_err_t rc;

    *out = NULL;
    if (!path[0])
        return CORE_OK;
    if ((rc = read_file(cfg, k, SECRET_MAX, &s, &n, err, errlen)) != CORE_OK)
        return rc;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    rc = CORE_ECONFIG;
    if (n == 0) {
        snprintf(err, errlen, "http.%s '%s' (%s): empty", key, path, origin);
        goto out;
    }
    if (!core_utf8_valid(s, n, &at)) {
        snprintf(err, errlen, "http.%s '%s' (%s): invalid UTF-8 at byte %zu", key, path, origin,
                 at);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (!basic && (c == ' ' || c >= 0x80))) {
            snprintf(err, errlen, "http.%s '%s' (%s): byte %zu is %s; the file holds one line%s",
                     key, path, origin, i, c == '\n' ? "a line end" : "not allowed",
                     basic ? " USER:PASSWORD" : ", a token of visible ASCII characters");
            goto out;
        }
    }
    colon = strchr(s, ':');
    if (basic && (!colon || colon == s)) {
        snprintf(err, errlen, "http.%s '%s' (%s): expected one line USER:PASSWORD", key, path,
                 origin);
        goto out;
    }
    *out = s;
    *out_len = n;
    s = NULL;
    rc = CORE_OK;
out:
    wipe_free(s);
    return rc;
}

static void guard_free(guard *g)
{
    wipe_free(g->token);
    wipe_free(g->basic);
    memset(g, 0, sizeof *g);
}

static int guard_open(const guard *g)
{
    return !g->token && !g->basic;
}

static core_err_t read_tls(app_http_t *h, const core_config_t *cfg, char *err, size_t errlen)
{
    const char *cert = core_config_str(cfg, CORE_CFG_HTTP_TLS_CERT);
    const char *key = core_config_str(cfg, CORE_CFG_HTTP_TLS_KEY);
    size_t n;
    core_err_t rc;

    if (!cert[0] && !key[0])
        return CORE_OK;
    if (!cert[0] || !key[0]) {
        snprintf(err, errlen, "http.tls_cert and http.tls_key: set both (HTTPS) or neither");
        return CORE_ECONFIG;
    }
    if (!app_http_tls_supported()) {
        snprintf(err, errlen,
                 "http.tls_cert (%s): this libmicrohttpd was built without TLS support",
                 core_config_origin(cfg, CORE_CFG_HTTP_TLS_CERT));
        return CORE_EUNSUPPORTED;
    }
    if ((rc = read_file(cfg, CORE_CFG_HTTP_TLS_CERT, PEM_MAX, &h->tls_cert, &n, err, errlen)) !=
            CORE_OK ||
        (rc = read_file(cfg, CORE_CFG_HTTP_TLS_KEY, PEM_MAX, &h->tls_key, &n, err, errlen)) !=
            CORE_OK)
        return rc;
    if (!strstr(h->tls_cert, "-----BEGIN CERTIFICATE-----")) {
        snprintf(err, errlen, "http.tls_cert '%s' (%s): no PEM certificate in it", cert,
                 core_config_origin(cfg, CORE_CFG_HTTP_TLS_CERT));
        return CORE_ECONFIG;
    }
    if (!strstr(h->tls_key, "-----BEGIN ") || !strstr(h->tls_key, "PRIVATE KEY-----")) {
        snprintf(err, errlen, "http.tls_key '%s' (%s): no PEM private key in it", key,
                 core_config_origin(cfg, CORE_CFG_HTTP_TLS_KEY));
        return CORE_ECONFIG;
    }
    if (strstr(h->tls_key, "ENCRYPTED")) {
        snprintf(err, errlen,
                 "http.tls_key '%s' (%s): the key is encrypted; give an unencrypted key "
                 "(mode 0600)",
                 key, core_config_origin(cfg, CORE_CFG_HTTP_TLS_KEY));
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

static core_err_t build(const core_config_t *cfg, const char *listen, app_http_t **out, char *err,
                        size_t errlen)
{
    static const core_config_str_key_t secret_keys[2][2] = {
        {CORE_CFG_HTTP_AUTH_TOKEN_FILE, CORE_CFG_HTTP_AUTH_BASIC_FILE},
        {CORE_CFG_HTTP_METRICS_AUTH_TOKEN_FILE, CORE_CFG_HTTP_METRICS_AUTH_BASIC_FILE}};
    const char *ops = core_config_str(cfg, CORE_CFG_HTTP_OPS_LISTEN);
    app_http_t *h;
    core_err_t rc;

    *out = NULL;
    if (!(h = calloc(1, sizeof *h)))
        return CORE_ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->log_lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    h->main.h = h->ops.h = h;
    h->ops.ops = 1;
    if ((rc = parse_listen("http.listen", listen, &h->main.addr, err, errlen)) != CORE_OK)
        goto out;
    if (ops[0]) {
        if ((rc = parse_listen("http.ops_listen", ops, &h->ops.addr, err, errlen)) != CORE_OK)
            goto out;
        if (h->ops.addr.sin_port != 0 && h->ops.addr.sin_port == h->main.addr.sin_port) {
            snprintf(err, errlen, "http.ops_listen '%s': the same port as http.listen '%s'", ops,
                     listen);
            rc = CORE_ECONFIG;
            goto out;
        }
        h->has_ops = 1;
    }
    h->max_conn = (unsigned)core_config_int(cfg, CORE_CFG_HTTP_MAX_CONNECTIONS);
    h->per_ip = (unsigned)core_config_int(cfg, CORE_CFG_HTTP_PER_IP_CONNECTIONS);
    h->idle_s = (unsigned)((core_config_int(cfg, CORE_CFG_HTTP_IDLE_TIMEOUT) + 999) / 1000);
    h->request_timeout_ms = core_config_int(cfg, CORE_CFG_HTTP_REQUEST_TIMEOUT);
    h->healthz_auth = core_config_bool(cfg, CORE_CFG_HTTP_HEALTHZ_AUTH);
    for (int a = 0; a < 2; a++) {
        guard *g = &h->areas[a == 0 ? APP_HTTP_DASHBOARD : APP_HTTP_METRICS];
        if ((rc = read_secret(cfg, secret_keys[a][0], 0, &g->token, &g->token_len, err, errlen)) !=
                CORE_OK ||
            (rc = read_secret(cfg, secret_keys[a][1], 1, &g->basic, &g->basic_len, err, errlen)) !=
                CORE_OK)
            goto out;
    }
    if (h->healthz_auth && guard_open(&h->areas[APP_HTTP_METRICS])) {
        snprintf(err, errlen,
                 "http.healthz_auth (%s): /healthz takes the /metrics credentials; set "
                 "http.metrics_auth_token_file or http.metrics_auth_basic_file",
                 core_config_origin(cfg, CORE_CFG_HTTP_HEALTHZ_AUTH));
        rc = CORE_ECONFIG;
        goto out;
    }
    if ((rc = read_tls(h, cfg, err, errlen)) != CORE_OK)
        goto out;
    *out = h;
    h = NULL;
out:
    app_http_free(h);
    return rc;
}

core_err_t app_http_new_config(const core_config_t *cfg, app_http_t **out, char *err, size_t errlen)
{
    return build(cfg, core_config_str(cfg, CORE_CFG_HTTP_LISTEN), out, err, errlen);
}

core_err_t app_http_new(const char *listen, app_http_t **out, char *err, size_t errlen)
{
    core_config_t *cfg = NULL;
    core_err_t rc;

    *out = NULL;
    if ((rc = core_config_new(&cfg)) != CORE_OK)
        return rc;
    rc = build(cfg, listen, out, err, errlen);
    core_config_free(cfg);
    return rc;
}

core_err_t app_http_route_area(app_http_t *h, app_http_area_t area, const char *path,
                               app_http_handler_fn fn, void *ctx)
{
    if (h->main.d || h->n_routes == MAX_ROUTES || path[0] != '/')
        return CORE_EINVAL;
    h->routes[h->n_routes].path = strdup(path);
    if (!h->routes[h->n_routes].path)
        return CORE_ENOMEM;
    h->routes[h->n_routes].area = area;
    h->routes[h->n_routes].fn = fn;
    h->routes[h->n_routes].ctx = ctx;
    h->n_routes++;
    return CORE_OK;
}

core_err_t app_http_route(app_http_t *h, const char *path, app_http_handler_fn fn, void *ctx)
{
    return app_http_route_area(h, APP_HTTP_DASHBOARD, path, fn, ctx);
}

/* ---- authentication --------------------------------------------------- */

/* same_secret compares given (len n) with the secret in time that depends
 * on the secret's length only. */
static int same_secret(const char *given, size_t n, const char *secret, size_t len)
{
    volatile unsigned char diff = (unsigned char)(n != len);
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(secret[i] ^ (i < n ? given[i] : 0));
    return diff == 0;
}

/* base64_decode decodes standard base64 (padding optional) into out;
 * -1 when in is not base64 or does not fit. */
static long base64_decode(const char *in, size_t n, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        unsigned v;
        if (c >= 'A' && c <= 'Z')
            v = (unsigned)(c - 'A');
        else if (c >= 'a' && c <= 'z')
            v = (unsigned)(c - 'a' + 26);
        else if (c >= '0' && c <= '9')
            v = (unsigned)(c - '0' + 52);
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* scheme: when header starts with the scheme name (any case) and a space,
 * the credentials after the spaces, else NULL. */
static const char *scheme(const char *header, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(header, name, n) != 0 || header[n] != ' ')
        return NULL;
    header += n;
    while (*header == ' ')
        header++;
    return header;
}

static int authorized(const guard *g, struct MHD_Connection *conn)
{
    const char *a, *cred;
    char decoded[SECRET_MAX + 1];
    size_t n;
    long dn;

    if (guard_open(g))
        return 1;
    a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a)
        return 0;
    if (g->token && (cred = scheme(a, "Bearer"))) {
        n = strlen(cred);
        while (n > 0 && cred[n - 1] == ' ')
            n--;
        return same_secret(cred, n, g->token, g->token_len);
    }
    if (g->basic && (cred = scheme(a, "Basic"))) {
        n = strlen(cred);
        while (n > 0 && cred[n - 1] == ' ')
            n--;
        dn = base64_decode(cred, n, decoded, sizeof decoded);
        return dn >= 0 && same_secret(decoded, (size_t)dn, g->basic, g->basic_len);
    }
    return 0;
}

/* ---- responses -------------------------------------------------------- */

/* set_answering marks the connection's request complete: the deadline no
 * longer applies until its answer has been sent (on_completed). */
static void set_answering(app_http_t *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track *t = ci ? ci->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&h->lock);
    t->answering = 1;
    pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result queue(app_http_t *h, struct MHD_Connection *conn, unsigned int status,
                             struct MHD_Response *resp)
{
    enum MHD_Result ret;
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    set_answering(h, conn);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result respond(app_http_t *h, struct MHD_Connection *conn, app_http_response_t *r)
{
    struct MHD_Response *resp;

    resp =
        MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                        r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
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
    if (r->status == 405)
        MHD_add_response_header(resp, "Allow", "GET, HEAD");
    return queue(h, conn, (unsigned int)(r->status ? r->status : 200), resp);
}

/* respond_401: one WWW-Authenticate header per scheme the area accepts. */
static enum MHD_Result respond_401(app_http_t *h, struct MHD_Connection *conn, const guard *g)
{
    static const char body[] = "authentication required\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (g->basic)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Basic realm=\"finsent\", charset=\"UTF-8\"");
    if (g->token)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"finsent\"");
    return queue(h, conn, 401, resp);
}

/* ---- requests --------------------------------------------------------- */

/* serves: whether listener l serves routes of area a. */
static int serves(const listener *l, app_http_area_t a)
{
    if (!l->h->has_ops)
        return 1;
    return l->ops ? a != APP_HTTP_DASHBOARD : a == APP_HTTP_DASHBOARD;
}

static const guard *area_guard(const app_http_t *h, app_http_area_t a)
{
    static const guard open_guard = {0};
    if (a == APP_HTTP_HEALTH)
        return h->healthz_auth ? &h->areas[APP_HTTP_METRICS] : &open_guard;
    return &h->areas[a];
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    listener *l = cls;
    app_http_t *h = l->h;
    app_http_response_t r = {0};
    app_http_request_t req = {conn, url};
    const route *best = NULL;
    size_t best_len = 0;
    const guard *g;
    (void)version;
    (void)upload_data;

    if (*con_cls == NULL) { /* first call: the header is in */
        *con_cls = h;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            /* answered before any body is read (and the connection closed) */
            app_http_respond_text(&r, 405, NULL, "method not allowed\n");
            return respond(h, conn, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are ignored (the deadline still runs) */
        return MHD_YES;
    }
    /* The request is complete: from here the handler's time (a slow Redis,
     * a busy classifier) is not the client's, and the deadline stops. */
    set_answering(h, conn);
    /* An exact route, else the longest subtree holding the path: "/metricsfoo"
     * is not "/metrics" (it falls to "/", whose handler checks its paths). */
    for (size_t i = 0; i < h->n_routes; i++) {
        const char *rp = h->routes[i].path;
        size_t n = strlen(rp);
        if (!serves(l, h->routes[i].area))
            continue;
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
        return respond(h, conn, &r);
    }
    g = area_guard(h, best->area);
    if (!authorized(g, conn))
        return respond_401(h, conn, g);
    r.status = 200;
    best->fn(best->ctx, &req, &r);
    return respond(h, conn, &r);
}

/* ---- connection tracking and the request deadline ---------------------- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    app_http_t *h = cls;
    conn_track *t = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(t = calloc(1, sizeof *t)))
            return; /* untracked: libmicrohttpd's idle timeout still applies */
        t->fd = ci->connect_fd;
        t->since_ms = core_time_mono_ms();
        pthread_mutex_lock(&h->lock);
        t->next = h->conns;
        if (h->conns)
            h->conns->prev = t;
        h->conns = t;
        pthread_mutex_unlock(&h->lock);
        *socket_context = t;
        return;
    }
    if (!t)
        return;
    pthread_mutex_lock(&h->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        h->conns = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&h->lock);
    free(t);
    *socket_context = NULL;
}

/* on_completed: an answer has been sent (or the request ended otherwise);
 * a kept-alive connection starts waiting for its next request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    app_http_t *h = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track *t = ci ? ci->socket_context : NULL;
    (void)con_cls;
    (void)toe;
    if (!t)
        return;
    pthread_mutex_lock(&h->lock);
    t->answering = 0;
    t->since_ms = core_time_mono_ms();
    pthread_mutex_unlock(&h->lock);
}

static void *sweep(void *arg)
{
    app_http_t *h = arg;

    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        struct timespec ts;
        int64_t now;
        unsigned long long report = 0;

        ts = core_time_deadline(CLOCK_REALTIME, SWEEP_MS);
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        if (h->stopping)
            break;
        now = core_time_mono_ms();
        for (conn_track *t = h->conns; t; t = t->next) {
            if (t->answering || t->shut || now - t->since_ms < h->request_timeout_ms)
                continue;
            shutdown(t->fd, SHUT_RDWR); /* libmicrohttpd reads EOF and closes it */
            t->shut = 1;
            h->timed_out++;
        }
        if (h->timed_out > h->timed_out_logged && now - h->timed_out_log_ms >= LOG_WINDOW_MS) {
            report = h->timed_out - h->timed_out_logged;
            h->timed_out_logged = h->timed_out;
            h->timed_out_log_ms = now;
        }
        if (report) {
            pthread_mutex_unlock(&h->lock);
            CORE_WARN(MOD,
                      "closed %llu connection(s) that sent no complete request within "
                      "http.request_timeout (%lld ms): slow or stalled clients",
                      report, (long long)h->request_timeout_ms);
            pthread_mutex_lock(&h->lock);
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

unsigned long long app_http_timed_out(app_http_t *h)
{
    unsigned long long n;
    pthread_mutex_lock(&h->lock);
    n = h->timed_out;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- libmicrohttpd's messages ------------------------------------------ */

/* mhd_log takes libmicrohttpd's messages (printf-style, often ending in a
 * newline, possibly quoting what a client sent) into core_log at warn
 * level, module "http": one record each, valid UTF-8, in the log's format;
 * at most LOG_BURST per LOG_WINDOW_MS, then one record counting the rest. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    app_http_t *h = cls;
    char msg[1024], *clean = NULL;
    size_t n, clean_len;
    int64_t now = core_time_mono_ms();
    unsigned dropped = 0;
    int skip;

    pthread_mutex_lock(&h->log_lock);
    if (now - h->log_window_ms >= LOG_WINDOW_MS) {
        dropped = h->log_dropped;
        h->log_window_ms = now;
        h->log_count = 0;
        h->log_dropped = 0;
    }
    skip = h->log_count >= LOG_BURST;
    if (skip)
        h->log_dropped++;
    else
        h->log_count++;
    pthread_mutex_unlock(&h->log_lock);
    if (dropped)
        CORE_WARN(MOD, "libmicrohttpd: %u more messages in %d s not logged", dropped,
                  LOG_WINDOW_MS / 1000);
    if (skip)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (core_utf8_repair(msg, n, &clean, &clean_len, NULL) != CORE_OK) {
        CORE_WARN(MOD, "libmicrohttpd: (message lost: out of memory)");
        return;
    }
    CORE_WARN(MOD, "libmicrohttpd: %s", clean);
    free(clean);
}

/* ---- start and stop ---------------------------------------------------- */

int app_http_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static core_err_t start_listener(app_http_t *h, listener *l, unsigned threads, char *err,
                                 size_t errlen)
{
    struct MHD_OptionItem o[16];
    size_t n = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    char ip[INET_ADDRSTRLEN];

#define OPT(opt, v, p) (o[n++] = (struct MHD_OptionItem){(opt), (intptr_t)(v), (void *)(p)})
    OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h);
    OPT(MHD_OPTION_SOCK_ADDR, 0, &l->addr);
    OPT(MHD_OPTION_CONNECTION_LIMIT, h->max_conn, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->per_ip, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, h->idle_s, NULL);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, h);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, h);
    if (threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    if (h->tls_cert) {
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, TLS_PRIORITIES);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    l->d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, o, MHD_OPTION_END);
    inet_ntop(AF_INET, &l->addr.sin_addr, ip, sizeof ip);
    if (!l->d) {
        if (h->tls_cert)
            snprintf(err, errlen,
                     "http: cannot start HTTPS on %s:%d: port in use, or http.tls_cert / "
                     "http.tls_key refused (not a certificate and its matching key?)",
                     ip, ntohs(l->addr.sin_port));
        else
            snprintf(err, errlen, "http: cannot listen on %s:%d (port in use?)", ip,
                     ntohs(l->addr.sin_port));
        return h->tls_cert ? CORE_ECONFIG : CORE_ENET;
    }
    info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info ? info->port : ntohs(l->addr.sin_port);
    if (!h->tls_cert && ntohl(l->addr.sin_addr.s_addr) >> 24 != 127) {
        int secured = l->ops ? !guard_open(&h->areas[APP_HTTP_METRICS])
                             : !guard_open(&h->areas[APP_HTTP_DASHBOARD]) ||
                                   (!h->has_ops && !guard_open(&h->areas[APP_HTTP_METRICS]));
        if (secured)
            CORE_WARN(MOD,
                      "%s:%d: credentials are required but travel in clear text (plain "
                      "HTTP on a non-loopback address); set http.tls_cert and http.tls_key",
                      ip, l->port);
    }
    return CORE_OK;
}

core_err_t app_http_start(app_http_t *h, char *err, size_t errlen)
{
    core_err_t rc;
    if (pthread_create(&h->sweeper, NULL, sweep, h) != 0) {
        snprintf(err, errlen, "http: cannot start a thread");
        return CORE_ENOMEM;
    }
    h->sweeping = 1;
    if ((rc = start_listener(h, &h->main, 2, err, errlen)) != CORE_OK)
        return rc;
    if (h->has_ops && (rc = start_listener(h, &h->ops, 1, err, errlen)) != CORE_OK)
        return rc;
    return CORE_OK;
}

int app_http_port(const app_http_t *h)
{
    return h->main.port;
}

int app_http_ops_port(const app_http_t *h)
{
    return h->has_ops ? h->ops.port : 0;
}

void app_http_free(app_http_t *h)
{
    if (!h)
        return;
    if (h->sweeping) {
        pthread_mutex_lock(&h->lock);
        h->stopping = 1;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->sweeper, NULL);
    }
    if (h->ops.d)
        MHD_stop_daemon(h->ops.d);
    if (h->main.d)
        MHD_stop_daemon(h->main.d);
    for (size_t i = 0; i < h->n_routes; i++)
        free(h->routes[i].path);
    for (size_t a = 0; a < 3; a++)
        guard_free(&h->areas[a]);
    free(h->tls_cert);
    wipe_free(h->tls_key);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->log_lock);
    pthread_mutex_destroy(&h->lock);
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
