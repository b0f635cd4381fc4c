/*
 * core_time: clocks and timestamp parsing.
 *
 * All times inside finsent are int64 milliseconds since the Unix epoch (UTC).
 * The parsers are pure functions on strings (no locale, no TZ environment, no
 * libc time zone database) and accept exactly:
 *   - RFC 3339: 2026-11-28T13:50:00Z, 2026-11-28T13:50:00.123+01:00
 *     ('t'/' ' separators and 'z' accepted; fraction truncated to ms);
 *   - RFC 822 / RFC 1123 / RFC 2822 dates as RSS pubDate uses them:
 *     "Sat, 28 Nov 2026 13:50:00 GMT", with optional weekday, full or short
 *     month/day names, 2- or 4-digit year, optional seconds, and a zone that is
 *     a numeric offset or one of the names feeds really use (UT, UTC, GMT, Z,
 *     US zones EST/EDT/CST/CDT/MST/MDT/PST/PDT, and BST, CET, CEST, EET, EEST,
 *     WET, WEST, MSK, IST, JST, KST, HKT, SGT, AEST, AEDT); a missing zone is
 *     taken as UTC;
 *   - epoch milliseconds: a string of 1 to 16 decimal digits.
 * Everything else is CORE_EBAD_TIME. Field ranges are checked (no 31 April).
 */
#ifndef CORE_TIME_H
#define CORE_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core_error.h"

/* core_time_now_ms: wall clock, ms since the epoch. Any thread. */
int64_t core_time_now_ms(void);

/* core_time_mono_ms: monotonic clock in ms, for timeouts and intervals. */
int64_t core_time_mono_ms(void);

/* core_time_mono_ns: monotonic clock in ns, for latency measurements. */
int64_t core_time_mono_ns(void);

/* core_time_deadline: the time ms milliseconds from now on clock (a
 * negative ms counts as 0), as the absolute timespec that
 * pthread_cond_timedwait (CLOCK_REALTIME, or the clock a condition variable
 * was set to), pthread_mutex_timedlock and pthread_timedjoin_np
 * (CLOCK_REALTIME) wait for. Any thread. */
struct timespec core_time_deadline(clockid_t clock, int64_t ms);

/* core_time_from_civil: UTC calendar fields to epoch ms (no range checks). */
int64_t core_time_from_civil(int year, int month, int day, int hour, int min, int sec);

/* Each parser reads the whole NUL-terminated string s (surrounding ASCII
 * spaces allowed) and writes epoch ms to *out on success. */
core_err_t core_time_parse_rfc3339(const char *s, int64_t *out);
core_err_t core_time_parse_rfc822(const char *s, int64_t *out);
core_err_t core_time_parse_epoch_ms(const char *s, int64_t *out);

/* core_time_parse_any tries RFC 3339, then RFC 822, then epoch ms. */
core_err_t core_time_parse_any(const char *s, int64_t *out);

/* core_time_format_rfc3339 writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (needs 25 bytes).
 * Returns the length written, or 0 if cap is too small. */
size_t core_time_format_rfc3339(int64_t ms, char *buf, size_t cap);

#endif
