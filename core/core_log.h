/*
 * core_log: levelled logging to stderr, as plain text or as JSON lines.
 *
 * The level and format are chosen once at start-up by app/ (core_log_setup)
 * before any thread starts; after that the logger is read-only shared state
 * and every function here may be called from any thread. Each record is
 * written with one write(2) so lines from different threads never interleave.
 *
 * Plain:  2026-11-28T13:50:00.123Z WARN  ingest: bad message (topic=news ...)
 * JSON:   {"ts":"2026-11-28T13:50:00.123Z","level":"warn","mod":"ingest","msg":"..."}
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include "core/core_error.h"

typedef enum core_log_level {
    CORE_LOG_DEBUG = 0,
    CORE_LOG_INFO,
    CORE_LOG_WARN,
    CORE_LOG_ERROR,
    CORE_LOG_OFF
} core_log_level_t;

typedef enum core_log_format { CORE_LOG_TEXT = 0, CORE_LOG_JSON } core_log_format_t;

/* core_log_setup sets the minimum level and the format. Call before threads
 * start. */
void core_log_setup(core_log_level_t level, core_log_format_t format);

/* core_log_parse_level maps "debug|info|warn|error|off" to a level. */
core_err_t core_log_parse_level(const char *s, core_log_level_t *out);

/* core_log_parse_format maps "text|json" to a format. */
core_err_t core_log_parse_format(const char *s, core_log_format_t *out);

/* core_log_enabled tells whether a record at this level would be written. */
int core_log_enabled(core_log_level_t level);

/* core_log writes one record from module `mod` (a short static name such as
 * "ingest"). Messages longer than 4 KiB are truncated. */
void core_log(core_log_level_t level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CORE_DEBUG(mod, ...) core_log(CORE_LOG_DEBUG, mod, __VA_ARGS__)
#define CORE_INFO(mod, ...) core_log(CORE_LOG_INFO, mod, __VA_ARGS__)
#define CORE_WARN(mod, ...) core_log(CORE_LOG_WARN, mod, __VA_ARGS__)
#define CORE_ERROR(mod, ...) core_log(CORE_LOG_ERROR, mod, __VA_ARGS__)

#endif
