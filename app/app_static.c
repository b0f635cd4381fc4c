/* app_static: the dashboard's static files; see app_static.h. */
#include "app/app_static.h"
#include "app/app.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_version.h"

struct app_static {
    char root[PATH_MAX]; /* realpath of the root, no trailing '/' */
};

static const struct {
    const char *ext, *type;
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".woff2", "font/woff2"},
};

const char *app_static_default_root(void)
{
    static char buf[PATH_MAX];
    return app_find_data_dir("FINSENT_WEB_DIR", "web", "index.html", buf, sizeof buf);
}

core_err_t app_static_new(const char *root, app_static_t **out, char *err, size_t errlen)
{
    app_static_t *s;
    struct stat st;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return CORE_ENOMEM;
    errno = 0;
    if (!realpath(root, s->root) || stat(s->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "web root '%s': %s", root,
                 errno ? strerror(errno) : "not a directory");
        free(s);
        return CORE_ENOT_FOUND;
    }
    *out = s;
    return CORE_OK;
}

void app_static_free(app_static_t *s)
{
    free(s);
}

const char *app_static_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        if (strcmp(dot, TYPES[i].ext) == 0)
            return TYPES[i].type;
    }
    return NULL;
}

int app_static_path_ok(const char *path)
{
    const char *p = path;
    size_t n = strlen(path);

    if (n == 0 || n > 512 || path[0] != '/')
        return 0;
    p++;
    while (*p) {
        const char *seg = p;
        while (*p && *p != '/') {
            char c = *p;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_'))
                return 0;
            p++;
        }
        if (p == seg) /* empty segment: "//" */
            return 0;
        if (seg[0] == '.') /* ".", "..", hidden files */
            return 0;
        if (*p == '/')
            p++;
    }
    return 1;
}

static void not_found(app_http_response_t *resp)
{
    app_http_respond_text(resp, 404, NULL, "not found\n");
}

void app_static_handle(void *ctx, const app_http_request_t *req, app_http_response_t *resp)
{
    const app_static_t *s = ctx;
    const char *path = app_http_path(req);
    char want[PATH_MAX], real[PATH_MAX];
    const char *type;
    size_t rl = strlen(s->root);
    struct stat st;
    char *body = NULL;
    int fd = -1;
    size_t got = 0;

    if (!app_static_path_ok(path)) {
        not_found(resp);
        return;
    }
    if (snprintf(want, sizeof want, "%s%s%s", s->root, path,
                 path[strlen(path) - 1] == '/' ? "index.html" : "") >= (int)sizeof want) {
        not_found(resp);
        return;
    }
    type = app_static_content_type(want);
    if (!type || !realpath(want, real) || strncmp(real, s->root, rl) != 0 || real[rl] != '/') {
        not_found(resp);
        return;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > APP_STATIC_MAX_FILE) {
        not_found(resp);
        goto out;
    }
    body = malloc((size_t)st.st_size + 1);
    if (!body) {
        app_http_respond_text(resp, 500, NULL, "out of memory\n");
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, body + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != (size_t)st.st_size) {
        app_http_respond_text(resp, 500, NULL, "read error\n");
        goto out;
    }
    resp->status = 200;
    resp->content_type = type;
    resp->cache_control = "no-cache";
    resp->body = body;
    resp->len = got;
    body = NULL;
out:
    free(body);
    if (fd >= 0)
        close(fd);
}
