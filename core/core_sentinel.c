/* core_sentinel: see core_sentinel.h. The I/O part is one non-blocking
 * socket, every step polled against one deadline; the parsers never touch
 * a socket. */
#include "core/core_sentinel.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core_time.h"

#define REPLY_MAX 4096

/* ---- the list ---------------------------------------------------------- */

/* parse_item parses one "host:port" or "[v6]:port" of len bytes. */
static core_err_t parse_item(const char *key, const char *it, size_t len, core_sentinel_addr_t *a,
                             char *err, size_t errlen)
{
    const char *colon, *host = it, *p;
    size_t hlen;
    long port = 0;

    if (len > 0 && it[0] == '[') {
        const char *close = memchr(it, ']', len);
        if (!close || close + 1 >= it + len || close[1] != ':')
            goto no_port;
        host = it + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = NULL;
        for (p = it; p < it + len; p++)
            if (*p == ':')
                colon = p;
        if (!colon)
            goto no_port;
        hlen = (size_t)(colon - it);
        if (memchr(it, ':', hlen)) {
            snprintf(err, errlen, "%s: '%.*s': an IPv6 address needs brackets ([::1]:26379)", key,
                     (int)len, it);
            return CORE_ECONFIG;
        }
    }
    if (hlen == 0 || hlen >= sizeof a->host) {
        snprintf(err, errlen, "%s: '%.*s': %s host", key, (int)len, it,
                 hlen == 0 ? "empty" : "too long a");
        return CORE_ECONFIG;
    }
    p = colon + 1;
    if (p == it + len)
        goto bad_port;
    for (; p < it + len; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            goto bad_port;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        goto bad_port;
    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    a->port = (int)port;
    return CORE_OK;
no_port:
    snprintf(err, errlen, "%s: '%.*s': expected host:port (e.g. 10.0.0.5:26379)", key, (int)len, it);
    return CORE_ECONFIG;
bad_port:
    snprintf(err, errlen, "%s: '%.*s': the port must be a number from 1 to 65535", key, (int)len,
             it);
    return CORE_ECONFIG;
}

core_err_t core_sentinel_parse_list(const char *key, const char *list, core_sentinel_addr_t *out,
                                    size_t cap, size_t *n, char *err, size_t errlen)
{
    const char *p = list;

    *n = 0;
    while (*p) {
        const char *e = strchr(p, ','), *end = e ? e : p + strlen(p);
        const char *b = p;
        while (b < end && (*b == ' ' || *b == '\t'))
            b++;
        while (end > b && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > b) {
            core_err_t rc;
            if (*n == cap) {
                snprintf(err, errlen, "%s: more than %zu sentinels", key, cap);
                return CORE_ECONFIG;
            }
            if ((rc = parse_item(key, b, (size_t)(end - b), &out[*n], err, errlen)) != CORE_OK)
                return rc;
            (*n)++;
        }
        if (!e)
            break;
        p = e + 1;
    }
    if (*n == 0) {
        snprintf(err, errlen, "%s: no sentinel in '%s' (expected host:port,host:port,...)", key,
                 list);
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

/* ---- the reply parser -------------------------------------------------- */

/* line finds the CRLF-terminated line at buf[off..len): its length, or -1
 * when incomplete. */
static long line_len(const char *buf, size_t len, size_t off)
{
    for (size_t i = off; i + 1 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n')
            return (long)(i - off);
    return -1;
}

/* bulk parses a bulk string at buf[*off..): 1 done (copied into out, cut
 * to outlen - 1), 0 more needed, -1 malformed, 2 null bulk. */
static int bulk(const char *buf, size_t len, size_t *off, char *out, size_t outlen)
{
    long l = line_len(buf, len, *off), blen;
    char *endp;
    if (l < 0)
        return 0;
    if (buf[*off] != '$')
        return -1;
    blen = strtol(buf + *off + 1, &endp, 10);
    if (endp != buf + *off + l)
        return -1;
    if (blen == -1) {
        *off += (size_t)l + 2;
        return 2;
    }
    if (blen < 0 || blen > REPLY_MAX)
        return -1;
    if (*off + (size_t)l + 2 + (size_t)blen + 2 > len)
        return 0;
    if (outlen) {
        size_t c = (size_t)blen < outlen - 1 ? (size_t)blen : outlen - 1;
        memcpy(out, buf + *off + l + 2, c);
        out[c] = '\0';
    }
    *off += (size_t)l + 2 + (size_t)blen + 2;
    return 1;
}

core_sentinel_reply_t core_sentinel_parse_reply(const char *buf, size_t len, size_t *used,
                                                char *host, size_t hostlen, int *port, char *err,
                                                size_t errlen)
{
    long l = line_len(buf, len, 0);
    size_t off;
    char pbuf[16], *endp;
    long v;

    *used = 0;
    if (l < 0)
        return CORE_SENTINEL_MORE;
    if (l == 0)
        return CORE_SENTINEL_BAD;
    off = (size_t)l + 2;
    switch (buf[0]) {
    case '+':
        *used = off;
        return CORE_SENTINEL_OK;
    case '-':
        snprintf(err, errlen, "%.*s", (int)(l - 1 < 300 ? l - 1 : 300), buf + 1);
        *used = off;
        return CORE_SENTINEL_ERROR;
    case '$':
        if (l == 3 && memcmp(buf, "$-1", 3) == 0) {
            *used = off;
            return CORE_SENTINEL_NIL;
        }
        return CORE_SENTINEL_BAD;
    case '*':
        v = strtol(buf + 1, &endp, 10);
        if (endp != buf + l)
            return CORE_SENTINEL_BAD;
        if (v == -1) {
            *used = off;
            return CORE_SENTINEL_NIL;
        }
        if (v != 2)
            return CORE_SENTINEL_BAD;
        for (int i = 0; i < 2; i++) {
            int b = bulk(buf, len, &off, i == 0 ? host : pbuf, i == 0 ? hostlen : sizeof pbuf);
            if (b == 0)
                return CORE_SENTINEL_MORE;
            if (b != 1)
                return CORE_SENTINEL_BAD;
        }
        v = strtol(pbuf, &endp, 10);
        if (*endp || v < 1 || v > 65535 || !host[0])
            return CORE_SENTINEL_BAD;
        *port = (int)v;
        *used = off;
        return CORE_SENTINEL_ADDR;
    default:
        return CORE_SENTINEL_BAD;
    }
}

/* ---- one question ------------------------------------------------------ */

static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, ev, 0};
        int64_t left = deadline - core_time_mono_ms();
        int n;
        if (left <= 0)
            return 0;
        n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* dial: a connected non-blocking socket, or -1 with *why set. */
static int dial(const core_sentinel_addr_t *s, int64_t deadline, const char **why)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int fd = -1, gai;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", s->port);
    if ((gai = getaddrinfo(s->host, portstr, &hints, &res)) != 0) {
        *why = gai_strerror(gai);
        return -1;
    }
    *why = "no address";
    for (ai = res; ai; ai = ai->ai_next) {
        int soerr = 0, w;
        socklen_t sl = sizeof soerr;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *why = strerror(errno);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS)
            *why = strerror(errno);
        else if ((w = wait_fd(fd, POLLOUT, deadline)) == 0)
            *why = "connect timed out";
        else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            *why = strerror(errno);
        else if (soerr != 0)
            *why = strerror(soerr);
        else
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* append_cmd appends argv as a RESP array to out (cap bytes); -1 when it
 * does not fit. */
static long append_cmd(char *out, size_t cap, size_t off, int argc, const char **argv)
{
    int w = snprintf(out + off, cap - off, "*%d\r\n", argc);
    if (w < 0 || (size_t)w >= cap - off)
        return -1;
    off += (size_t)w;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);
        w = snprintf(out + off, cap - off, "$%zu\r\n", l);
        if (w < 0 || (size_t)w + l + 2 >= cap - off)
            return -1;
        off += (size_t)w;
        memcpy(out + off, argv[i], l);
        off += l;
        memcpy(out + off, "\r\n", 2);
        off += 2;
    }
    return (long)off;
}

core_err_t core_sentinel_ask(const core_sentinel_addr_t *s, const char *master, const char *user,
                             const char *password, int64_t timeout_ms, char *host, size_t hostlen,
                             int *port, char *err, size_t errlen)
{
    int64_t deadline = core_time_mono_ms() + timeout_ms;
    char out[1024], in[REPLY_MAX], said[320] = "";
    const char *why = NULL;
    long olen = 0;
    size_t have = 0, sent = 0;
    int fd, replies = password[0] ? 2 : 1;
    core_err_t rc = CORE_ENET;

    host[0] = '\0';
    *port = 0;
    if (password[0]) {
        const char *a3[] = {"AUTH", user, password}, *a2[] = {"AUTH", password};
        olen = user[0] ? append_cmd(out, sizeof out, 0, 3, a3) : append_cmd(out, sizeof out, 0, 2, a2);
    }
    if (olen >= 0) {
        const char *q[] = {"SENTINEL", "get-master-addr-by-name", master};
        olen = append_cmd(out, sizeof out, (size_t)olen, 3, q);
    }
    if (olen < 0) {
        snprintf(err, errlen, "sentinel %s:%d: master name or credentials too long", s->host,
                 s->port);
        return CORE_EINVAL;
    }
    if ((fd = dial(s, deadline, &why)) < 0) {
        snprintf(err, errlen, "sentinel %s:%d: connect: %s", s->host, s->port, why);
        return CORE_ENET;
    }
    while (sent < (size_t)olen) {
        ssize_t w = send(fd, out + sent, (size_t)olen - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLOUT, deadline) > 0)
            continue;
        why = w < 0 && errno != EAGAIN ? strerror(errno) : "send timed out";
        goto io;
    }
    while (replies > 0) {
        size_t used;
        core_sentinel_reply_t k =
            core_sentinel_parse_reply(in, have, &used, host, hostlen, port, said, sizeof said);
        if (k == CORE_SENTINEL_MORE) {
            ssize_t r;
            int w;
            if (have == sizeof in) {
                k = CORE_SENTINEL_BAD;
            } else if ((w = wait_fd(fd, POLLIN, deadline)) <= 0) {
                why = w == 0 ? "no answer in time" : strerror(errno);
                rc = w == 0 ? CORE_ETIMEOUT : CORE_ENET;
                goto io;
            } else if ((r = recv(fd, in + have, sizeof in - have, 0)) > 0) {
                have += (size_t)r;
                continue;
            } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            } else {
                why = r == 0 ? "connection closed" : strerror(errno);
                goto io;
            }
        }
        memmove(in, in + used, have - used);
        have -= used;
        replies--;
        if (k == CORE_SENTINEL_ERROR) {
            int auth = strncmp(said, "WRONGPASS", 9) == 0 || strncmp(said, "NOAUTH", 6) == 0 ||
                       strncmp(said, "NOPERM", 6) == 0 ||
                       (replies == 1 && strstr(said, "AUTH") != NULL);
            snprintf(err, errlen, "sentinel %s:%d: %s%s", s->host, s->port, said,
                     auth ? " (check redis.sentinel_user and redis.sentinel_password)" : "");
            rc = auth ? CORE_EAUTH : CORE_EREDIS;
            goto out;
        }
        if (k == CORE_SENTINEL_BAD || (replies == 1 && k != CORE_SENTINEL_OK) ||
            (replies == 0 && k == CORE_SENTINEL_OK)) {
            snprintf(err, errlen, "sentinel %s:%d: unexpected reply", s->host, s->port);
            rc = CORE_EREDIS;
            goto out;
        }
        if (replies == 0 && k == CORE_SENTINEL_NIL) {
            snprintf(err, errlen, "sentinel %s:%d: no master named '%s' (check redis.master_name)",
                     s->host, s->port, master);
            rc = CORE_ENOT_FOUND;
            goto out;
        }
    }
    rc = CORE_OK;
    goto out;
io:
    snprintf(err, errlen, "sentinel %s:%d: %s", s->host, s->port, why);
out:
    close(fd);
    if (rc != CORE_OK) {
        host[0] = '\0';
        *port = 0;
    }
    return rc;
}
