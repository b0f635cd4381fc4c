/* th_http: a tiny HTTP/1.1 client over a socket for the dashboard suites
 * (one request per connection, Connection: close). */
#ifndef TH_HTTP_H
#define TH_HTTP_H

#include <stddef.h>

typedef struct th_http_reply {
    int status;
    char content_type[128];
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
} th_http_reply_t;

/* th_http_get sends "METHOD path" to 127.0.0.1:port and reads the whole
 * reply (Connection: close). Returns 0 on success. */
int th_http_req(int port, const char *method, const char *path, th_http_reply_t *out);
int th_http_get(int port, const char *path, th_http_reply_t *out);
void th_http_reply_free(th_http_reply_t *r);

#endif
