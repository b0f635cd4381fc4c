/*
 * app_static: serves the dashboard page's static files (index.html, app.js,
 * style.css, vendor/...) from one directory over app_http.
 *
 * Design. A request path maps to a file under the root only when every
 * segment is made of [A-Za-z0-9._-], does not start with '.', and the path
 * holds no empty segment; "/" and a path ending in '/' mean index.html. The
 * file is then resolved with realpath and must still lie under the root's
 * realpath (so a symbolic link cannot lead out of it), must be a regular
 * file no larger than APP_STATIC_MAX_FILE, and must have a known extension
 * (the content type comes from a fixed table; nothing is sniffed). Every
 * other request is 404. Files are read on each request (no cache): they are
 * small, and editing the page needs no restart.
 *
 * Threads: the handler may run on several threads at once; the object is
 * read-only after app_static_new.
 */
#ifndef APP_STATIC_H
#define APP_STATIC_H

#include <stddef.h>

#include "app/app_http.h"
#include "core/core_error.h"

#define APP_STATIC_MAX_FILE (4 * 1024 * 1024)

typedef struct app_static app_static_t;

/* app_static_default_root returns the directory of the page: the
 * FINSENT_WEB_DIR environment variable if set, else the installed copy
 * (<prefix>/share/finsent/web next to the executable) when it has an
 * index.html, else the source tree's web/. The string is static; call from
 * the main thread at start-up. */
const char *app_static_default_root(void);

/* app_static_new serves the directory root (resolved now; it must exist).
 * CORE_ENOT_FOUND with err when it does not. */
core_err_t app_static_new(const char *root, app_static_t **out, char *err, size_t errlen);

/* app_static_free: NULL is a no-op. */
void app_static_free(app_static_t *s);

/* app_static_content_type: the content type for a file name by its
 * extension, or NULL when it is not one we serve. Pure. */
const char *app_static_content_type(const char *name);

/* app_static_path_ok: 1 when a request path is acceptable by the segment
 * rules above (before any file system access). Pure. */
int app_static_path_ok(const char *path);

/* app_static_handle is the app_http handler (ctx = app_static_t *). */
void app_static_handle(void *ctx, const app_http_request_t *req, app_http_response_t *resp);

#endif
