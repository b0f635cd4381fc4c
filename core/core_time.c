/*
 * core_time: see core_time.h. Calendar arithmetic uses the days-from-civil
 * formula (proleptic Gregorian), so results never depend on TZ or the libc
 * zone database; parsing is a small hand-written scanner per format, with
 * every field length and range checked before use.
 */
#include "core/core_time.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <time.h>

int64_t core_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t core_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t core_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct timespec core_time_deadline(clockid_t clock, int64_t ms)
{
    struct timespec ts;
    if (ms < 0)
        ms = 0;
    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t core_time_from_civil(int year, int month, int day, int hour, int min, int sec)
{
    int64_t days = days_from_civil(year, month, day);
    return ((days * 24 + hour) * 60 + min) * 60000 + (int64_t)sec * 1000;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int fields_valid(int y, int mo, int d, int h, int mi, int s)
{
    return y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) &&
           h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

/* Reads exactly n digits at *p into *out. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

core_err_t core_time_parse_rfc3339(const char *s, int64_t *out)
{
    const char *p = skip_spaces(s);
    int y, mo, d, h, mi, sec, ms = 0, off = 0;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return CORE_EBAD_TIME;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return CORE_EBAD_TIME;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return CORE_EBAD_TIME;
    if (*p == '.') {
        int n = 0;
        p++;
        if (!isdigit((unsigned char)*p))
            return CORE_EBAD_TIME;
        for (; isdigit((unsigned char)*p); p++, n++) {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            if (n > 9)
                return CORE_EBAD_TIME;
        }
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return CORE_EBAD_TIME;
        off = sign * (oh * 60 + om);
    } else {
        return CORE_EBAD_TIME;
    }
    if (*skip_spaces(p) != '\0' || !fields_valid(y, mo, d, h, mi, sec))
        return CORE_EBAD_TIME;
    if (sec == 60)
        sec = 59; /* leap second: clamp rather than roll into the next minute */
    *out = core_time_from_civil(y, mo, d, h, mi, sec) + ms - (int64_t)off * 60000;
    return CORE_OK;
}

static const char *const months[] = {"january", "february", "march",     "april",
                                     "may",     "june",     "july",      "august",
                                     "september", "october", "november", "december"};
static const char *const wdays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                    "friday", "saturday", "sunday"};

static const struct {
    const char *name;
    int minutes;
} zones[] = {
    {"UT", 0},       {"UTC", 0},      {"GMT", 0},     {"Z", 0},       {"EST", -300},
    {"EDT", -240},   {"CST", -360},   {"CDT", -300},  {"MST", -420},  {"MDT", -360},
    {"PST", -480},   {"PDT", -420},   {"BST", 60},    {"CET", 60},    {"CEST", 120},
    {"EET", 120},    {"EEST", 180},   {"WET", 0},     {"WEST", 60},   {"MSK", 180},
    {"IST", 330},    {"JST", 540},    {"KST", 540},   {"HKT", 480},   {"SGT", 480},
    {"AEST", 600},   {"AEDT", 660},
};

/* Reads an alphabetic word into buf (lower-cased); returns its length. */
static size_t word(const char **p, char *buf, size_t cap)
{
    size_t n = 0;
    while (isalpha((unsigned char)**p)) {
        if (n + 1 < cap)
            buf[n] = (char)tolower((unsigned char)**p);
        n++;
        (*p)++;
    }
    buf[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* A month name matches its full name or its first three letters. */
static int month_index(const char *w, size_t n)
{
    for (int i = 0; i < 12; i++) {
        if ((n == 3 && strncmp(w, months[i], 3) == 0) || strcmp(w, months[i]) == 0 ||
            (i == 8 && strcmp(w, "sept") == 0))
            return i + 1;
    }
    return 0;
}

static int is_weekday(const char *w, size_t n)
{
    for (int i = 0; i < 7; i++) {
        if ((n == 3 && strncmp(w, wdays[i], 3) == 0) || strcmp(w, wdays[i]) == 0)
            return 1;
    }
    return 0;
}

/* Reads 1..max digits. */
static int number(const char **p, int max, int *out, int *ndig)
{
    int v = 0, n = 0;
    while (isdigit((unsigned char)**p)) {
        if (++n > max)
            return 0;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    *ndig = n;
    return n > 0;
}

core_err_t core_time_parse_rfc822(const char *s, int64_t *out)
{
    const char *p = skip_spaces(s);
    char w[16];
    size_t n;
    int d, mo, y, h, mi, sec = 0, nd, off = 0;

    if (isalpha((unsigned char)*p)) {
        n = word(&p, w, sizeof w);
        if (!is_weekday(w, n))
            return CORE_EBAD_TIME;
        if (*p == ',')
            p++;
        p = skip_spaces(p);
    }
    if (!number(&p, 2, &d, &nd))
        return CORE_EBAD_TIME;
    p = skip_spaces(p);
    n = word(&p, w, sizeof w);
    if (n == 0 || !(mo = month_index(w, n)))
        return CORE_EBAD_TIME;
    p = skip_spaces(p);
    if (!number(&p, 4, &y, &nd) || (nd != 2 && nd != 4))
        return CORE_EBAD_TIME;
    if (nd == 2)
        y += y < 50 ? 2000 : 1900;
    p = skip_spaces(p);
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
        return CORE_EBAD_TIME;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &sec))
            return CORE_EBAD_TIME;
    }
    p = skip_spaces(p);
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, hh, mm;
        p++;
        if (!digits(&p, 2, &hh))
            return CORE_EBAD_TIME;
        if (*p == ':')
            p++;
        if (!digits(&p, 2, &mm) || hh > 23 || mm > 59)
            return CORE_EBAD_TIME;
        off = sign * (hh * 60 + mm);
    } else if (isalpha((unsigned char)*p)) {
        const char *z = p;
        size_t zl = 0, i;
        while (isalpha((unsigned char)p[zl]))
            zl++;
        for (i = 0; i < sizeof zones / sizeof zones[0]; i++) {
            if (strlen(zones[i].name) == zl && strncasecmp(z, zones[i].name, zl) == 0)
                break;
        }
        if (i == sizeof zones / sizeof zones[0])
            return CORE_EBAD_TIME;
        off = zones[i].minutes;
        p += zl;
    }
    if (*skip_spaces(p) != '\0' || !fields_valid(y, mo, d, h, mi, sec))
        return CORE_EBAD_TIME;
    if (sec == 60)
        sec = 59;
    *out = core_time_from_civil(y, mo, d, h, mi, sec) - (int64_t)off * 60000;
    return CORE_OK;
}

core_err_t core_time_parse_epoch_ms(const char *s, int64_t *out)
{
    const char *p = skip_spaces(s);
    int64_t v = 0;
    int n = 0;

    for (; isdigit((unsigned char)*p); p++, n++) {
        if (n == 16)
            return CORE_EBAD_TIME;
        v = v * 10 + (*p - '0');
    }
    if (n == 0 || *skip_spaces(p) != '\0')
        return CORE_EBAD_TIME;
    *out = v;
    return CORE_OK;
}

core_err_t core_time_parse_any(const char *s, int64_t *out)
{
    if (core_time_parse_rfc3339(s, out) == CORE_OK || core_time_parse_rfc822(s, out) == CORE_OK ||
        core_time_parse_epoch_ms(s, out) == CORE_OK)
        return CORE_OK;
    return CORE_EBAD_TIME;
}

size_t core_time_format_rfc3339(int64_t ms, char *buf, size_t cap)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int n;

    y += m <= 2;
    n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
                 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000));
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}
