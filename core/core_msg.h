/*
 * core_msg: the input message decoder and the tagged-item encoder
 * (DESIGN.md, "Input message" and "Tagged item").
 *
 * Decoding is a pure function of the bytes: no I/O, no clock except the
 * `now_ms` the caller passes. A message is a JSON object
 *   {"id","text","title","source","url","ts","lang"}
 * of which only text or title is required, or, when the bytes are not JSON,
 * plain UTF-8 text. The rules, in order:
 *   1. more than limits->max_message_bytes bytes        -> CORE_ETOO_LARGE
 *   2. not valid UTF-8 (overlongs, surrogates, > U+10FFFF) -> CORE_EUTF8
 *   3. first non-space byte '{' and then, after spaces, '"', '}' or the end:
 *      an object, which must be JSON                       -> CORE_EJSON if not
 *      a JSON string: its value is the text (one with "\u0000": CORE_EJSON)
 *      another JSON value (array, number, true, false, null) -> CORE_ENOT_OBJECT
 *      otherwise the bytes are plain text ("{Free} Earnings ...",
 *      "[VIDEO] Fed ..." are headlines; a NUL byte in them is text too,
 *      stored as U+FFFD)
 *   4. a known field of the wrong type                     -> CORE_EBAD_FIELD
 *      (id may be a string or an integer; ts a string or an integer)
 *   5. ts not RFC 3339 / RFC 822 / epoch ms                -> CORE_EBAD_TIME
 *   6. text and title both missing, empty or whitespace    -> CORE_EEMPTY_TEXT
 *   7. title + text over limits->max_text_bytes            -> CORE_ETOO_LARGE
 * Unknown fields are ignored. On error, err receives a sentence naming what
 * was wrong (field, byte offset, line/column of the JSON error).
 */
#ifndef CORE_MSG_H
#define CORE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"
#include "core/core_item.h"

typedef struct core_msg_limits {
    size_t max_message_bytes;
    size_t max_text_bytes;
} core_msg_limits_t;

/* core_msg_decode builds a new item from len bytes at buf (not necessarily
 * NUL-terminated; a NUL byte in plain text is text, stored as U+FFFD by
 * core_item_set). *out is owned by the caller; NULL on error. The item's id
 * and source are NULL, and its event time unknown (core_item_event_known
 * 0), when the message did not give them: the source fills them in. A ts
 * the message gives sets event_set, also when it is 0 (1970). ingest_ms is
 * set to now_ms. */
core_err_t core_msg_decode(const char *buf, size_t len, const core_msg_limits_t *limits,
                           int64_t now_ms, core_item_t **out, char *err, size_t errlen);

/* core_msg_encode_tagged writes the tagged item as one JSON object without a
 * trailing newline into a malloc'd string (*out, caller frees). The ts field
 * is RFC 3339 UTC with milliseconds. When the item carries topic
 * probabilities (n_topics > 0), "topic_probs" maps every topic label to its
 * probability. */
core_err_t core_msg_encode_tagged(const core_tagged_t *t, char **out, size_t *len);

#endif
