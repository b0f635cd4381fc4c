/*
 * app_api: the dashboard's read API; see app_api.h. One route, "/api/",
 * dispatches on the exact path so "/api/ratesX" is a 404 rather than rates.
 * Before dispatch every query parameter must be valid UTF-8 without NUL
 * (400 naming it). Each handler parses and checks its query parameters (400
 * with the parameter named), calls one alr_read query and writes its JSON.
 * Error messages quote parameters cut to a few dozen bytes: they are
 * repaired to valid UTF-8 before they go into JSON, so a cut character
 * never turns a 400 into a 500.
 */
#include "app/app_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "app/app_explain.h"
#include "app/app_static.h"
#include "core/core_log.h"
#include "core/core_time.h"
#include "core/core_utf8.h"

#define MOD "api"
#define DEFAULT_SERIES_MIN 60
#define DEFAULT_ALERTS 100
#define DEFAULT_RECENT 50

struct app_api {
    alr_reader_t *reader;
    app_static_t *page; /* NULL: no page */
    app_explain_t *explain;
};

/* ---- responses --------------------------------------------------------- */

static void respond_json(app_http_response_t *resp, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!s) {
        app_http_respond_text(resp, 500, "application/json", "{\"error\":\"out of memory\"}");
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->cache_control = "no-store";
    resp->body = s;
    resp->len = strlen(s);
}

/* respond_error answers {"error": msg}; msg may quote a parameter cut in the
 * middle of a character, so it is made valid UTF-8 first (jansson refuses
 * anything else). */
static void respond_error(app_http_response_t *resp, int status, const char *msg)
{
    char *clean = NULL;
    size_t len;
    if (core_utf8_repair(msg, strlen(msg), &clean, &len, NULL) != CORE_OK) {
        app_http_respond_text(resp, 500, "application/json", "{\"error\":\"out of memory\"}");
        return;
    }
    respond_json(resp, status, json_pack("{s:s}", "error", clean));
    free(clean);
}

/* respond_result answers a query's result: its JSON, or the error mapped to
 * a status (bad arguments 400, Redis away 503, the rest 500). */
static void respond_result(app_http_response_t *resp, core_err_t rc, json_t *o, const char *err)
{
    switch (rc) {
    case CORE_OK:
        respond_json(resp, 200, o);
        return;
    case CORE_EINVAL:
    case CORE_ETOO_LARGE:
        respond_error(resp, 400, err);
        break;
    case CORE_ENET:
    case CORE_EREDIS:
    case CORE_ECLOSED:
    case CORE_EAGAIN:
    case CORE_ETIMEOUT:
        respond_error(resp, 503, err[0] ? err : core_strerror(rc));
        break;
    default:
        respond_error(resp, 500, core_strerror(rc));
        break;
    }
    json_decref(o);
}

/* ---- parameters -------------------------------------------------------- */

/* param_time reads a time parameter: RFC 3339 or epoch milliseconds. */
static int param_time(const char *name, const char *v, int64_t *out, char *err, size_t errlen)
{
    if (core_time_parse_rfc3339(v, out) == CORE_OK || core_time_parse_epoch_ms(v, out) == CORE_OK)
        return 0;
    snprintf(err, errlen, "%s '%.64s': use RFC 3339 (2026-11-28T13:50:00Z) or epoch milliseconds",
             name, v);
    return -1;
}

/* param_minutes reads a duration of whole minutes ("1m", "15m", "1h"). */
static int param_minutes(const char *name, const char *v, int *out, char *err, size_t errlen)
{
    core_err_t rc = alr_window_parse(v, out);
    if (rc == CORE_OK)
        return 0;
    if (rc == CORE_EINVAL)
        snprintf(err, errlen, "%s '%.64s': a whole number of minutes, from 1m to 7d", name, v);
    else
        snprintf(err, errlen, "%s '%.64s': use a duration such as 1m, 15m or 1h", name, v);
    return -1;
}

/* param_limit reads an integer in [1, max]. */
static int param_limit(const char *v, long max, long *out, char *err, size_t errlen)
{
    char *end;
    long n;
    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > max) {
        snprintf(err, errlen, "limit '%.32s': an integer from 1 to %ld", v, max);
        return -1;
    }
    *out = n;
    return 0;
}

/* ---- handlers ---------------------------------------------------------- */

/* param_count reads an integer in [0, max] named name. */
static int param_count(const char *name, const char *v, long max, long *out, char *err,
                       size_t errlen)
{
    char *end;
    long n;
    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > max) {
        snprintf(err, errlen, "%s '%.32s': an integer from 0 to %ld", name, v, max);
        return -1;
    }
    *out = n;
    return 0;
}

static void api_rates(app_api_t *api, const app_http_request_t *req, app_http_response_t *resp)
{
    const char *w = app_http_query(req, "window");
    long min_n = 1;
    const int *wins;
    size_t nw = alr_reader_windows(api->reader, &wins);
    int minutes = nw ? wins[0] : 15;
    char err[512] = "";
    json_t *o = NULL;
    core_err_t rc;

    if (w) {
        if (param_minutes("window", w, &minutes, err, sizeof err) != 0) {
            respond_error(resp, 400, err);
            return;
        }
    } else {
        for (size_t i = 0; i < nw; i++) {
            if (wins[i] == 15)
                minutes = 15;
        }
    }
    if (param_count("min_n", app_http_query(req, "min_n"), 1000000000L, &min_n, err,
                    sizeof err) != 0) {
        respond_error(resp, 400, err);
        return;
    }
    rc = alr_read_rates(api->reader, minutes, (uint64_t)(min_n > 0 ? min_n : 1), &o, err,
                        sizeof err);
    if (rc == CORE_OK) {
        json_t *names = json_array();
        for (size_t i = 0; names && i < nw; i++) {
            char name[16];
            alr_window_name(wins[i], name, sizeof name);
            json_array_append_new(names, json_string(name));
        }
        if (!names || json_object_set_new(o, "windows", names) != 0)
            rc = CORE_ENOMEM;
    }
    respond_result(resp, rc, o, err);
}

static void api_series(app_api_t *api, const app_http_request_t *req, app_http_response_t *resp)
{
    const char *from = app_http_query(req, "from"), *to = app_http_query(req, "to");
    const char *step = app_http_query(req, "step");
    char scope[ALR_SCOPE_MAX], err[512] = "";
    int64_t from_ms, to_ms = alr_reader_now(api->reader);
    int step_min = 1;
    json_t *o = NULL;
    core_err_t rc;

    if (alr_read_scope_normalize(app_http_query(req, "scope"), scope, sizeof scope, err,
                                 sizeof err) != CORE_OK ||
        (to && param_time("to", to, &to_ms, err, sizeof err) != 0) ||
        (step && param_minutes("step", step, &step_min, err, sizeof err) != 0)) {
        respond_error(resp, 400, err);
        return;
    }
    from_ms = to_ms - (int64_t)DEFAULT_SERIES_MIN * 60000;
    if (from && param_time("from", from, &from_ms, err, sizeof err) != 0) {
        respond_error(resp, 400, err);
        return;
    }
    rc = alr_read_series(api->reader, scope, from_ms, to_ms, step_min, &o, err, sizeof err);
    respond_result(resp, rc, o, err);
}

/* is_stream_id: "DIGITS-DIGITS", the shape of a since that names a stream
 * entry (exclusive); whether its numbers fit is alr_read_stream_id_ok's. */
static int is_stream_id(const char *s)
{
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || !dash[1])
        return 0;
    for (const char *p = s; *p; p++) {
        if (p != dash && (*p < '0' || *p > '9'))
            return 0;
    }
    return 1;
}

static void api_alerts(app_api_t *api, const app_http_request_t *req, app_http_response_t *resp)
{
    const char *since = app_http_query(req, "since");
    const char *after = NULL;
    int64_t since_ms = -1;
    long limit = DEFAULT_ALERTS;
    char err[512] = "";
    json_t *o = NULL, *act = NULL;
    core_err_t rc;

    if (param_limit(app_http_query(req, "limit"), ALR_READ_MAX_ALERTS, &limit, err, sizeof err) !=
        0) {
        respond_error(resp, 400, err);
        return;
    }
    if (since && is_stream_id(since)) {
        if (!alr_read_stream_id_ok(since)) {
            snprintf(err, sizeof err,
                     "since '%.64s': a stream id is two integers MS-SEQ, each at most %" PRIu64,
                     since, UINT64_MAX);
            respond_error(resp, 400, err);
            return;
        }
        after = since;
    } else if (since && param_time("since", since, &since_ms, err, sizeof err) != 0) {
        snprintf(err, sizeof err,
                 "since '%.64s': use RFC 3339, epoch milliseconds or a stream id (MS-SEQ)", since);
        respond_error(resp, 400, err);
        return;
    }
    rc = alr_read_alerts(api->reader, after, since_ms, (size_t)limit, &o, err, sizeof err);
    if (rc == CORE_EINVAL && after) { /* Redis refused the id: the request's fault, a 400 */
        char why[sizeof err];
        snprintf(why, sizeof why, "since '%.64s': %s", since, err);
        snprintf(err, sizeof err, "%s", why);
    }
    if (rc == CORE_OK) {
        rc = alr_read_active(api->reader, &act, err, sizeof err);
        if (rc == CORE_OK && json_object_set(o, "active", json_object_get(act, "active")) != 0)
            rc = CORE_ENOMEM;
        json_decref(act);
    }
    respond_result(resp, rc, o, err);
}

static void api_recent(app_api_t *api, const app_http_request_t *req, app_http_response_t *resp)
{
    const char *s = app_http_query(req, "scope");
    char scope[ALR_SCOPE_MAX], err[512] = "";
    long limit = DEFAULT_RECENT;
    json_t *o = NULL;
    core_err_t rc;

    if ((s && alr_read_scope_normalize(s, scope, sizeof scope, err, sizeof err) != CORE_OK) ||
        param_limit(app_http_query(req, "limit"), ALR_READ_MAX_RECENT, &limit, err, sizeof err) !=
            0) {
        respond_error(resp, 400, err);
        return;
    }
    rc = alr_read_recent(api->reader, s ? scope : NULL, (size_t)limit, &o, err, sizeof err);
    respond_result(resp, rc, o, err);
}

static void serve_api(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    static const char *const paths[] = {"/api/rates", "/api/series", "/api/alerts", "/api/recent",
                                        "/api/explain"};
    app_api_t *api = ctx;
    const char *path = app_http_path(req);
    size_t k = 0, n = sizeof paths / sizeof paths[0];
    char why[300];

    while (k < n && strcmp(path, paths[k]) != 0)
        k++;
    if (k == n) {
        respond_error(resp, 404,
                      "no such API; see docs/dashboard.md: /api/rates, "
                      "/api/series, /api/alerts, /api/recent, /api/explain");
        return;
    }
    /* Every parameter, known to the endpoint or not: app_http_query would
     * cut a value at a NUL, and bytes that are not UTF-8 cannot be quoted
     * back in JSON. */
    if (app_http_query_invalid(req, why, sizeof why)) {
        respond_error(resp, 400, why);
        return;
    }
    switch (k) {
    case 0:
        api_rates(api, req, resp);
        break;
    case 1:
        api_series(api, req, resp);
        break;
    case 2:
        api_alerts(api, req, resp);
        break;
    case 3:
        api_recent(api, req, resp);
        break;
    default:
        app_explain_handle(api->explain, req, resp);
        break;
    }
}

/* ---- life cycle -------------------------------------------------------- */

core_err_t app_api_new(const core_config_t *cfg, const char *web_root, app_api_t **out, char *err,
                       size_t errlen)
{
    app_api_t *api = calloc(1, sizeof *api);
    core_err_t rc;

    *out = NULL;
    if (!api)
        return CORE_ENOMEM;
    rc = alr_reader_new(cfg, &api->reader, err, errlen);
    if (rc != CORE_OK)
        goto out;
    rc = app_explain_new(cfg, &api->explain, err, errlen);
    if (rc != CORE_OK)
        goto out;
    if (!web_root)
        web_root = app_static_default_root();
    if (web_root[0]) {
        char serr[512];
        rc = app_static_new(web_root, &api->page, serr, sizeof serr);
        if (rc == CORE_ENOMEM)
            goto out;
        if (rc != CORE_OK)
            CORE_WARN(MOD, "dashboard page not served: %s (set FINSENT_WEB_DIR)", serr);
        rc = CORE_OK;
    }
    *out = api;
    api = NULL;
out:
    app_api_free(api);
    return rc;
}

core_err_t app_api_routes(app_api_t *api, app_http_t *http)
{
    core_err_t rc = app_http_route(http, "/api/", serve_api, api);
    if (rc == CORE_OK && api->page)
        rc = app_http_route(http, "/", app_static_handle, api->page);
    return rc;
}

core_err_t app_api_register(app_http_t *http, const core_config_t *cfg, app_api_t **out, char *err,
                            size_t errlen)
{
    core_err_t rc = app_api_new(cfg, NULL, out, err, errlen);
    if (rc == CORE_OK && (rc = app_api_routes(*out, http)) != CORE_OK)
        snprintf(err, errlen, "http: cannot add the /api/ and / routes");
    return rc;
}

alr_reader_t *app_api_reader(app_api_t *api)
{
    return api->reader;
}

app_explain_t *app_api_explainer(app_api_t *api)
{
    return api->explain;
}

void app_api_free(app_api_t *api)
{
    if (!api)
        return;
    alr_reader_free(api->reader);
    app_explain_free(api->explain);
    app_static_free(api->page);
    free(api);
}
