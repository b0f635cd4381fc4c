/* ing_jsonl: see ing_jsonl.h. A thin shell over core_lines (on the raw
 * descriptor, so a wait for input can be bounded) and core_msg_decode that
 * fills in the source-derived fields. */
#include "ingest/ing_jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_hash.h"
#include "core/core_lines.h"
#include "core/core_time.h"

struct ing_jsonl {
    int fd;
    int own_fd;
    core_lines_t *lines;
    core_msg_limits_t limits;
    char source[300];
};

core_err_t ing_jsonl_open(const char *path, const core_msg_limits_t *limits, ing_jsonl_t **out,
                          char *err, size_t errlen)
{
    ing_jsonl_t *s = calloc(1, sizeof *s);
    core_err_t rc;

    *out = NULL;
    if (!s)
        return CORE_ENOMEM;
    s->limits = *limits;
    if (strcmp(path, "-") == 0) {
        s->fd = STDIN_FILENO;
        snprintf(s->source, sizeof s->source, "stdin");
    } else {
        const char *base = strrchr(path, '/');
        /* O_NONBLOCK: a named pipe without a writer would block open(2)
         * itself, out of reach of a stop request; reads wait in poll(2). */
        s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (s->fd < 0 || fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK) != 0) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            if (s->fd >= 0)
                close(s->fd);
            free(s);
            return CORE_EIO;
        }
        s->own_fd = 1;
        snprintf(s->source, sizeof s->source, "jsonl:%s", base ? base + 1 : path);
    }
    rc = core_lines_new_fd(s->fd, limits->max_message_bytes, &s->lines);
    if (rc != CORE_OK) {
        ing_jsonl_free(s);
        return rc;
    }
    *out = s;
    return CORE_OK;
}

core_err_t ing_jsonl_next(ing_jsonl_t *s, core_item_t **out, char *err, size_t errlen)
{
    return ing_jsonl_next_wait(s, -1, out, err, errlen);
}

core_err_t ing_jsonl_next_wait(ing_jsonl_t *s, int timeout_ms, core_item_t **out, char *err,
                               size_t errlen)
{
    const char *line;
    size_t len, ln;
    core_err_t rc;
    char why[400];

    *out = NULL;
    for (;;) {
        rc = core_lines_next_wait(s->lines, timeout_ms, &line, &len);
        ln = core_lines_number(s->lines);
        if (rc == CORE_ECLOSED || rc == CORE_ETIMEOUT)
            return rc;
        if (rc == CORE_ETOO_LARGE) {
            snprintf(err, errlen, "line %zu: longer than the limit of %zu bytes; skipped", ln,
                     s->limits.max_message_bytes);
            return rc;
        }
        if (rc != CORE_OK) {
            snprintf(err, errlen, "line %zu: %s", ln, core_strerror(rc));
            return rc;
        }
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i < len)
            break; /* blank lines are skipped */
    }
    rc = core_msg_decode(line, len, &s->limits, core_time_now_ms(), out, why, sizeof why);
    if (rc != CORE_OK) {
        snprintf(err, errlen, "line %zu: %s", ln, why);
        return rc;
    }
    if (!(*out)->id) {
        char id[CORE_HASH_ID_SIZE];
        size_t n = core_hash_id(id, core_fnv64(CORE_FNV64_BASIS, line, len));
        rc = core_item_set((*out), &(*out)->id, id, n);
    }
    if (rc == CORE_OK && !(*out)->source)
        rc = core_item_set((*out), &(*out)->source, s->source, strlen(s->source));
    if (!core_item_event_known(*out)) { /* no ts; "ts": 0 is 1970 and kept */
        (*out)->event_ms = (*out)->ingest_ms;
        (*out)->event_set = 1;
    }
    if (rc != CORE_OK) {
        core_item_free(*out);
        *out = NULL;
    }
    return rc;
}

size_t ing_jsonl_line(const ing_jsonl_t *s)
{
    return core_lines_number(s->lines);
}

void ing_jsonl_free(ing_jsonl_t *s)
{
    if (!s)
        return;
    core_lines_free(s->lines);
    if (s->own_fd)
        close(s->fd);
    free(s);
}
