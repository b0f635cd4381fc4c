/*
 * ing_jsonl: the JSONL source. Reads a file or stdin line by line; each line
 * is an input message (DESIGN.md), decoded by core_msg_decode.
 *
 * Lines up to limits->max_message_bytes are read whole; a longer line is
 * skipped with CORE_ETOO_LARGE and the next line is still read. Blank lines
 * are skipped silently. A message without an id gets "h:" + a 64-bit FNV-1a
 * hash of the line, so replaying the same file never counts a line twice;
 * without ts it gets the ingest time; without source, "jsonl:<file name>" or
 * "stdin"; a ts given as 0 or 1970-01-01T00:00:00Z is that time (too old to
 * count), not "no ts". Items need no acknowledgement (ack.fn is NULL). Bytes
 * are bytes: a NUL in a plain-text line is part of its text (core_item_set
 * makes it U+FFFD). One thread.
 */
#ifndef ING_JSONL_H
#define ING_JSONL_H

#include "core/core_error.h"
#include "core/core_item.h"
#include "core/core_msg.h"

typedef struct ing_jsonl ing_jsonl_t;

/* ing_jsonl_open opens path ("-" for stdin; a named pipe without a writer
 * yet does not block: its lines are waited for by ing_jsonl_next_wait). */
core_err_t ing_jsonl_open(const char *path, const core_msg_limits_t *limits, ing_jsonl_t **out,
                          char *err, size_t errlen);

/* ing_jsonl_next returns the next item (caller owns it), CORE_ECLOSED at the
 * end of input, or the error of a bad line, with err saying "line N: ...";
 * after an error the caller may call again for the following line. */
core_err_t ing_jsonl_next(ing_jsonl_t *s, core_item_t **out, char *err, size_t errlen);

/* ing_jsonl_next_wait is ing_jsonl_next waiting at most timeout_ms for a
 * whole line (-1: no limit): CORE_ETIMEOUT when none arrived in time (stdin
 * or a pipe idle); a part of a line read so far is kept for the next call,
 * so a reader thread can check a stop flag between calls. */
core_err_t ing_jsonl_next_wait(ing_jsonl_t *s, int timeout_ms, core_item_t **out, char *err,
                               size_t errlen);

/* ing_jsonl_line: the number of the line last read. */
size_t ing_jsonl_line(const ing_jsonl_t *s);

/* ing_jsonl_free closes the file (not stdin). NULL is a no-op. */
void ing_jsonl_free(ing_jsonl_t *s);

#endif
