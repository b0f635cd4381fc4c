/* alr_keys: key schema, scopes and window arithmetic; see alr_keys.h. */
#include "alerting/alr_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/core_config.h"

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

size_t alr_slug(const char *label, char *out, size_t cap)
{
    size_t n = 0;
    int dash = 0;

    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)label; p && *p; p++) {
        if (is_alnum(*p)) {
            if (dash && n > 0) {
                if (n + 2 >= cap)
                    break;
                out[n++] = '-';
            }
            dash = 0;
            if (n + 1 >= cap)
                break;
            out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        } else {
            dash = 1;
        }
    }
    out[n] = '\0';
    return n;
}

size_t alr_scope_topic(const char *label, char *out, size_t cap)
{
    char slug[ALR_SCOPE_MAX];
    int len;

    if (alr_slug(label, slug, sizeof slug) == 0)
        goto none;
    len = snprintf(out, cap, "topic:%s", slug);
    if (len < 0 || (size_t)len >= cap)
        goto none;
    return (size_t)len;
none:
    if (cap)
        out[0] = '\0';
    return 0;
}

size_t alr_scope_entity(const char *ticker, char *out, size_t cap)
{
    static const char pre[] = "entity:";
    size_t n = sizeof pre - 1;

    if (!ticker || !*ticker || cap <= n + 1)
        goto none;
    memcpy(out, pre, n);
    for (const unsigned char *p = (const unsigned char *)ticker; *p && n + 1 < cap; p++) {
        unsigned char c = *p;
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (!(is_alnum(c) || c == '.' || c == '-' || c == '_'))
            c = '_';
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
none:
    if (cap)
        out[0] = '\0';
    return 0;
}

int64_t alr_minute(int64_t ms)
{
    int64_t m = ms / 60000;
    if (ms % 60000 != 0 && ms < 0)
        m--;
    return m;
}

size_t alr_key(char *out, size_t cap, const char *prefix, const char *kind, const char *rest)
{
    int len;
    if (rest && *rest)
        len = snprintf(out, cap, "%s%s:%s", prefix, kind, rest);
    else
        len = snprintf(out, cap, "%s%s", prefix, kind);
    if (len < 0 || (size_t)len >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)len;
}

size_t alr_key_bucket(char *out, size_t cap, const char *prefix, const char *scope, int64_t minute)
{
    int len = snprintf(out, cap, "%sb:%s:%" PRId64, prefix, scope, minute);
    if (len < 0 || (size_t)len >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)len;
}

int64_t alr_hour(int64_t ms)
{
    return ms >= 0 ? ms / 3600000 : -((-ms + 3599999) / 3600000);
}

size_t alr_key_hour(char *out, size_t cap, const char *prefix, const char *scope, int64_t hour)
{
    int len = snprintf(out, cap, "%sh:%s:%" PRId64, prefix, scope, hour);
    if (len < 0 || (size_t)len >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)len;
}

core_err_t alr_window_parse(const char *s, int *minutes)
{
    int64_t ms;
    if (!s || core_config_parse_duration(s, &ms) != CORE_OK)
        return CORE_EPARSE;
    if (ms <= 0 || ms % 60000 != 0 || ms / 60000 > 1440 * 7)
        return CORE_EINVAL;
    *minutes = (int)(ms / 60000);
    return CORE_OK;
}

size_t alr_window_name(int minutes, char *out, size_t cap)
{
    int len;
    if (minutes % 1440 == 0)
        len = snprintf(out, cap, "%dd", minutes / 1440);
    else if (minutes % 60 == 0)
        len = snprintf(out, cap, "%dh", minutes / 60);
    else
        len = snprintf(out, cap, "%dm", minutes);
    if (len < 0 || (size_t)len >= cap) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)len;
}
