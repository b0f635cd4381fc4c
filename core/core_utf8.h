/*
 * core_utf8: the UTF-8 gate. Every text field of an item is set through
 * core_item_set, which passes it through core_utf8_repair, so no invalid
 * UTF-8 reaches the tokenizer, Redis, the alerts or the dashboard, whatever
 * the source (Kafka, feeds, JSONL, classify's stdin).
 *
 * Valid means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF), no
 * code point above U+10FFFF, no truncated sequence. core_utf8_repair also
 * replaces NUL bytes (C strings end there, so a text would be cut short).
 * Each maximal invalid subpart (the W3C/Unicode "substitution of maximal
 * subparts" practice, as browsers and Python's errors="replace" do) becomes
 * one U+FFFD.
 *
 * Pure functions; any thread.
 */
#ifndef CORE_UTF8_H
#define CORE_UTF8_H

#include <stddef.h>

#include "core/core_error.h"

/* core_utf8_valid_len returns how many leading bytes of s[0..len) are valid
 * UTF-8 (len when all of it is). NUL counts as valid here. */
size_t core_utf8_valid_len(const char *s, size_t len);

/* core_utf8_valid: 1 if the len bytes are well-formed UTF-8 (NUL allowed);
 * else 0 with the offset of the first bad byte in *bad_at (may be NULL). */
int core_utf8_valid(const char *s, size_t len, size_t *bad_at);

/* core_utf8_repair copies s[0..len) into a malloc'd NUL-terminated string
 * (*out, *outlen without the NUL), replacing every invalid subpart and NUL
 * by U+FFFD; *nbad (may be NULL) gets the number of replacements. The copy
 * is made even when nothing needed repair. CORE_ENOMEM. */
core_err_t core_utf8_repair(const char *s, size_t len, char **out, size_t *outlen, size_t *nbad);

#endif
