/* core_lines: see core_lines.h. The line goes into a buffer that doubles
 * up to the limit; past the limit the reader keeps reading (and discarding)
 * to the newline so a huge line never costs more than max_line bytes.
 *
 * Two ways in: a FILE is read with getc_unlocked in one blocking call per
 * line. A descriptor is read in chunks into rbuf; the line being assembled
 * (n bytes so far, over, any) lives in the reader, not on the stack, so a
 * call that runs out of time returns and the next one goes on where it
 * stopped. */
#include "core/core_lines.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_time.h"

#define READ_CHUNK 65536

struct core_lines {
    FILE *fp; /* NULL: a descriptor reader */
    int fd;
    size_t max, cap, lineno;
    char *buf;
    /* descriptor readers only */
    char *rbuf;         /* READ_CHUNK bytes */
    size_t rpos, rlen;  /* unread bytes: rbuf[rpos, rlen) */
    size_t n;           /* bytes of the current line in buf */
    int over, any, eof; /* line too long; line started; read(2) gave 0 */
};

static core_err_t make(FILE *fp, int fd, size_t max_line, core_lines_t **out)
{
    core_lines_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    r->fp = fp;
    r->fd = fd;
    r->max = max_line;
    r->cap = max_line < 4096 ? max_line + 1 : 4096;
    r->buf = malloc(r->cap);
    if (!r->buf || (!fp && !(r->rbuf = malloc(READ_CHUNK)))) {
        core_lines_free(r);
        return CORE_ENOMEM;
    }
    *out = r;
    return CORE_OK;
}

core_err_t core_lines_new(FILE *fp, size_t max_line, core_lines_t **out)
{
    return make(fp, -1, max_line, out);
}

core_err_t core_lines_new_fd(int fd, size_t max_line, core_lines_t **out)
{
    return make(NULL, fd, max_line, out);
}

void core_lines_free(core_lines_t *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->rbuf);
    free(r);
}

static core_err_t next_file(core_lines_t *r, const char **line, size_t *len)
{
    size_t n = 0;
    int c, any = 0, over = 0;

    while ((c = getc_unlocked(r->fp)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (over)
            continue;
        if (n == r->max) {
            over = 1;
            continue;
        }
        if (n + 1 >= r->cap) {
            size_t cap = r->cap * 2 > r->max + 1 ? r->max + 1 : r->cap * 2;
            char *grown = realloc(r->buf, cap);
            if (!grown)
                return CORE_ENOMEM;
            r->buf = grown;
            r->cap = cap;
        }
        r->buf[n++] = (char)c;
    }
    if (!any) {
        if (ferror(r->fp))
            return CORE_EIO;
        return CORE_ECLOSED;
    }
    r->lineno++;
    if (over)
        return CORE_ETOO_LARGE;
    /* A CR right before the newline belongs to the line end; a CR that would
     * have been the (max+1)-th byte is dropped the same way. */
    if (n > 0 && r->buf[n - 1] == '\r')
        n--;
    r->buf[n] = '\0';
    *line = r->buf;
    *len = n;
    return CORE_OK;
}

/* grow makes room for need bytes (need <= max + 1). */
static core_err_t grow(core_lines_t *r, size_t need)
{
    size_t cap = r->cap;
    char *grown;
    if (need <= cap)
        return CORE_OK;
    while (cap < need)
        cap *= 2;
    if (cap > r->max + 1)
        cap = r->max + 1;
    grown = realloc(r->buf, cap);
    if (!grown)
        return CORE_ENOMEM;
    r->buf = grown;
    r->cap = cap;
    return CORE_OK;
}

/* fill reads what the descriptor has (at most READ_CHUNK bytes) into rbuf,
 * waiting for it until deadline (core_time_mono_ms; -1: no limit):
 * CORE_OK, CORE_ETIMEOUT, CORE_ECLOSED (end of input) or CORE_EIO. */
static core_err_t fill(core_lines_t *r, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        int wait = -1, ready;
        ssize_t got;

        if (deadline >= 0) {
            int64_t left = deadline - core_time_mono_ms();
            wait = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        ready = poll(&pfd, 1, wait);
        if (ready < 0 && errno != EINTR)
            return CORE_EIO;
        if (ready == 0)
            return CORE_ETIMEOUT;
        if (ready < 0)
            continue;
        got = read(r->fd, r->rbuf, READ_CHUNK);
        if (got > 0) {
            r->rpos = 0;
            r->rlen = (size_t)got;
            return CORE_OK;
        }
        if (got == 0) {
            r->eof = 1;
            return CORE_ECLOSED;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return CORE_EIO;
        if (deadline >= 0 && core_time_mono_ms() >= deadline)
            return CORE_ETIMEOUT;
    }
}

/* finish ends the line assembled so far and starts the next one. */
static core_err_t finish(core_lines_t *r, const char **line, size_t *len)
{
    size_t n = r->n;
    int over = r->over;

    r->n = 0;
    r->over = r->any = 0;
    r->lineno++;
    if (over)
        return CORE_ETOO_LARGE;
    if (n > 0 && r->buf[n - 1] == '\r')
        n--;
    r->buf[n] = '\0';
    *line = r->buf;
    *len = n;
    return CORE_OK;
}

static core_err_t next_fd(core_lines_t *r, int timeout_ms, const char **line, size_t *len)
{
    int64_t deadline = timeout_ms >= 0 ? core_time_mono_ms() + timeout_ms : -1;

    for (;;) {
        const char *p, *nl;
        size_t take;

        if (r->rpos == r->rlen) {
            core_err_t rc = r->eof ? CORE_ECLOSED : fill(r, deadline);
            if (rc == CORE_ECLOSED && r->any)
                return finish(r, line, len); /* a last line without a newline */
            if (rc != CORE_OK)
                return rc;
        }
        p = r->rbuf + r->rpos;
        nl = memchr(p, '\n', r->rlen - r->rpos);
        take = nl ? (size_t)(nl - p) : r->rlen - r->rpos;
        if (!r->over && take > r->max - r->n) {
            r->over = 1; /* keep reading to the newline, storing nothing */
        } else if (!r->over) {
            if (grow(r, r->n + take + 1) != CORE_OK)
                return CORE_ENOMEM; /* nothing consumed: a retry goes on */
            memcpy(r->buf + r->n, p, take);
            r->n += take;
        }
        r->any = 1;
        r->rpos += take + (nl ? 1 : 0);
        if (nl)
            return finish(r, line, len);
    }
}

core_err_t core_lines_next_wait(core_lines_t *r, int timeout_ms, const char **line, size_t *len)
{
    return r->fp ? next_file(r, line, len) : next_fd(r, timeout_ms, line, len);
}

core_err_t core_lines_next(core_lines_t *r, const char **line, size_t *len)
{
    return core_lines_next_wait(r, -1, line, len);
}

size_t core_lines_number(const core_lines_t *r)
{
    return r->lineno;
}
