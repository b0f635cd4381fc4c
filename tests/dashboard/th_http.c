/* th_http: the dashboard suites' HTTP client; see th_http.h. */
#include "tests/dashboard/th_http.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int th_http_req(int port, const char *method, const char *path, th_http_reply_t *out)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    char req[2048], *buf = NULL, *p;
    size_t len = 0, cap = 0;
    int fd, n;

    memset(out, 0, sizeof *out);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 method, path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t got;
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            p = realloc(buf, cap);
            ck_assert_ptr_nonnull(p);
            buf = p;
        }
        got = read(fd, buf + len, cap - len - 1);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (!buf)
        return -1;
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    p = strcasestr(buf, "\r\nContent-Type: ");
    if (p) {
        char *e = strstr(p + 2, "\r\n");
        size_t l = e ? (size_t)(e - (p + 16)) : 0;
        if (l >= sizeof out->content_type)
            l = sizeof out->content_type - 1;
        memcpy(out->content_type, p + 16, l);
        out->content_type[l] = '\0';
    }
    p = strstr(buf, "\r\n\r\n");
    p = p ? p + 4 : buf + len;
    out->len = len - (size_t)(p - buf);
    out->body = malloc(out->len + 1);
    ck_assert_ptr_nonnull(out->body);
    memcpy(out->body, p, out->len);
    out->body[out->len] = '\0';
    free(buf);
    return 0;
}

int th_http_get(int port, const char *path, th_http_reply_t *out)
{
    return th_http_req(port, "GET", path, out);
}

void th_http_reply_free(th_http_reply_t *r)
{
    free(r->body);
    r->body = NULL;
}
