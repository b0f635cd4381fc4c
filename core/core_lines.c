/* core_lines: see core_lines.h. Reads with getc_unlocked into a buffer that
 * doubles up to the limit; past the limit it keeps reading (and discarding)
 * to the newline so a huge line never costs more than max_line bytes. */
#include "core/core_lines.h"

#include <stdlib.h>

struct core_lines {
    FILE *fp;
    size_t max, cap, lineno;
    char *buf;
};

core_err_t core_lines_new(FILE *fp, size_t max_line, core_lines_t **out)
{
    core_lines_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return CORE_ENOMEM;
    r->fp = fp;
    r->max = max_line;
    r->cap = max_line < 4096 ? max_line + 1 : 4096;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r);
        return CORE_ENOMEM;
    }
    *out = r;
    return CORE_OK;
}

void core_lines_free(core_lines_t *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

core_err_t core_lines_next(core_lines_t *r, const char **line, size_t *len)
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

size_t core_lines_number(const core_lines_t *r)
{
    return r->lineno;
}
