/*
 * core_lines: a bounded line reader over a FILE (a file or stdin).
 *
 * Lines may be any length up to max_line bytes (without the line end); a
 * longer line is consumed to its end without being stored and reported as
 * CORE_ETOO_LARGE, and the next call reads the following line. "\n" and
 * "\r\n" end lines; a last line without a newline is still a line. The
 * buffer grows as needed up to max_line + 1 and is reused between calls.
 * One thread at a time.
 */
#ifndef CORE_LINES_H
#define CORE_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "core/core_error.h"

typedef struct core_lines core_lines_t;

/* core_lines_new reads from fp (borrowed; the caller closes it). */
core_err_t core_lines_new(FILE *fp, size_t max_line, core_lines_t **out);
void core_lines_free(core_lines_t *r);

/* core_lines_next returns CORE_OK with *line (NUL-terminated, valid until the
 * next call) and *len; CORE_ETOO_LARGE for an over-long line (skipped);
 * CORE_ECLOSED at end of input; CORE_EIO on a read error. */
core_err_t core_lines_next(core_lines_t *r, const char **line, size_t *len);

/* core_lines_number: the 1-based number of the line last returned. */
size_t core_lines_number(const core_lines_t *r);

#endif
