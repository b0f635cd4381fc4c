/*
 * core_log: see core_log.h. The JSON form escapes the message with the same
 * rules as JSON strings (quotes, backslash, control characters) so a log
 * shipper can parse every line; invalid UTF-8 is passed through untouched
 * because jansson-free escaping here must never fail.
 */
#include "core/core_log.h"
#include "core/core_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static core_log_level_t log_level = CORE_LOG_INFO;
static core_log_format_t log_format = CORE_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void core_log_setup(core_log_level_t level, core_log_format_t format)
{
    log_level = level;
    log_format = format;
}

core_err_t core_log_parse_level(const char *s, core_log_level_t *out)
{
    for (int i = 0; i <= CORE_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (core_log_level_t)i;
            return CORE_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = CORE_LOG_WARN;
        return CORE_OK;
    }
    return CORE_EINVAL;
}

core_err_t core_log_parse_format(const char *s, core_log_format_t *out)
{
    if (strcasecmp(s, "text") == 0)
        *out = CORE_LOG_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = CORE_LOG_JSON;
    else
        return CORE_EINVAL;
    return CORE_OK;
}

int core_log_enabled(core_log_level_t level)
{
    return level >= log_level && level < CORE_LOG_OFF;
}

/* Appends s to buf (capacity cap, used *len) as JSON string content. */
static void json_escape(char *buf, size_t cap, size_t *len, const char *s)
{
    for (; *s && *len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = (char)c;
        } else if (c < 0x20) {
            *len += (size_t)snprintf(buf + *len, cap - *len, "\\u%04x", c);
        } else {
            buf[(*len)++] = (char)c;
        }
    }
}

void core_log(core_log_level_t level, const char *mod, const char *fmt, ...)
{
    char msg[4096], line[9000], ts[40];
    va_list ap;
    size_t len = 0;

    if (!core_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    core_time_format_rfc3339(core_time_now_ms(), ts, sizeof ts);

    if (log_format == CORE_LOG_JSON) {
        len = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"mod\":\"", ts,
                               level_names[level]);
        json_escape(line, sizeof line, &len, mod);
        len += (size_t)snprintf(line + len, sizeof line - len, "\",\"msg\":\"");
        json_escape(line, sizeof line, &len, msg);
        len += (size_t)snprintf(line + len, sizeof line - len, "\"}\n");
    } else {
        static const char *const upper[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "OFF  "};
        len = (size_t)snprintf(line, sizeof line, "%s %s %s: %s\n", ts, upper[level], mod, msg);
    }
    if (len >= sizeof line) {
        len = sizeof line - 1;
        line[len - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
