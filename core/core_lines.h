/*
 * core_lines: a bounded line reader over a FILE or a file descriptor (a file,
 * a pipe, stdin).
 *
 * Lines may be any length up to max_line bytes (without the line end); a
 * longer line is consumed to its end without being stored and reported as
 * CORE_ETOO_LARGE, and the next call reads the following line. "\n" and
 * "\r\n" end lines; a last line without a newline is still a line. Bytes are
 * bytes: a NUL inside a line is part of it (*len counts it), never its end.
 * The buffer grows as needed up to max_line + 1 and is reused between calls.
 *
 * A reader over a descriptor (core_lines_new_fd) reads with poll(2) and
 * read(2) into a buffer of its own, so a caller can bound its wait for input
 * (core_lines_next_wait) and notice a stop request while a pipe is idle; a
 * line that is only partly there when the wait ends is kept and completed by
 * the next call. A reader over a FILE always blocks. One thread at a time.
 */
#ifndef CORE_LINES_H
#define CORE_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "core/core_error.h"

typedef struct core_lines core_lines_t;

/* core_lines_new reads from fp (borrowed; the caller closes it). */
core_err_t core_lines_new(FILE *fp, size_t max_line, core_lines_t **out);

/* core_lines_new_fd reads from the descriptor fd (borrowed; the caller
 * closes it), which must stay in blocking mode or be one poll(2) works on. */
core_err_t core_lines_new_fd(int fd, size_t max_line, core_lines_t **out);

void core_lines_free(core_lines_t *r);

/* core_lines_next returns CORE_OK with *line (NUL-terminated, valid until the
 * next call) and *len; CORE_ETOO_LARGE for an over-long line (skipped);
 * CORE_ECLOSED at end of input; CORE_EIO on a read error; CORE_ENOMEM. It
 * waits as long as input takes. */
core_err_t core_lines_next(core_lines_t *r, const char **line, size_t *len);

/* core_lines_next_wait is core_lines_next waiting at most timeout_ms for
 * input (-1: no limit; 0: only what is already there): CORE_ETIMEOUT when
 * no whole line arrived in time, the bytes read so far kept for the next
 * call. A FILE reader ignores timeout_ms and blocks. */
core_err_t core_lines_next_wait(core_lines_t *r, int timeout_ms, const char **line, size_t *len);

/* core_lines_number: the 1-based number of the line last returned. */
size_t core_lines_number(const core_lines_t *r);

#endif
