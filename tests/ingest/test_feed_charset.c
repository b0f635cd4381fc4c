/* Character-set tests of ing_feed: one loop iteration per row of
 * tests/data/feeds/charset/cases.tsv (generated with the fixtures by
 * tests/data/feeds/charset/make.py, whose docstring describes the columns).
 *
 * Each fixture is parsed with the row's HTTP Content-Type (or none), and:
 *  - the parse succeeds, the XML was well-formed once decoded (recovered 0),
 *    every item-like element became an item and there are at least 4;
 *  - the first item's title is the expected UTF-8 exactly; when the expected
 *    title holds U+FFFD (invalid bytes in the source) only its ASCII words
 *    are compared, as the invalid bytes may decode to U+FFFD or to anything
 *    sensible;
 *  - ing_feed_t.encoding names the expected family (case-insensitive, '-'
 *    and '_' ignored, aliases below; alternatives in the row separated by
 *    '|');
 *  - the feed title and every item's id, title, text and url are valid
 *    UTF-8 (RFC 3629: no overlongs, surrogates, code points > U+10FFFF,
 *    stray or missing continuation bytes). */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ing_feed.h"
#include "tests/common/th.h"

#define MAX_CASES 128

typedef struct charset_case {
    char file[96];
    char content_type[128]; /* "" = none */
    char title[512];
    char encoding[64];
} charset_case_t;

static charset_case_t g_cases[MAX_CASES];
static int g_ncases;
static char g_load_err[256];

static const ing_feed_limits_t LIM = {1000, 65536};

/* Families of encoding names, normalised (lower case, no '-' or '_'). The
 * first name of each is the row's spelling, normalised. */
static const char *const FAMILIES[][12] = {
    {"utf8", NULL},
    {"utf16", "utf16le", "utf16be", NULL},
    {"iso88591", "iso885915", "latin1", "latin9", "l1", "cp819", "ibm819", "windows1252", "cp1252",
     "mscp1252", NULL},
    {"windows1252", "cp1252", "mscp1252", NULL},
    {"shiftjis", "sjis", "csshiftjis", "mskanji", "cp932", "windows31j", "ibm943", NULL},
    {"gb18030", "gbk", "gb2312", "cp936", "euccn", "csgb2312", "chinese", NULL},
    {"koi8r", "cskoi8r", NULL},
};

/* ------------------------------------------------------------ cases.tsv */

static void load_cases(void)
{
    char path[1024], line[2048];
    FILE *fp = fopen(th_data_path(path, sizeof path, "feeds/charset/cases.tsv"), "r");

    if (fp == NULL) {
        snprintf(g_load_err, sizeof g_load_err, "cannot open %s", path);
        return;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        char *field[5] = {NULL}, *p = line;
        size_t n = strcspn(line, "\r\n");
        int nf = 0;

        line[n] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        while (nf < 5) {
            field[nf++] = p;
            p = strchr(p, '\t');
            if (p == NULL)
                break;
            *p++ = '\0';
        }
        if (nf < 4) {
            snprintf(g_load_err, sizeof g_load_err, "cases.tsv: short row \"%.100s\"", line);
            break;
        }
        if (g_ncases == MAX_CASES) {
            snprintf(g_load_err, sizeof g_load_err, "cases.tsv: more than %d rows", MAX_CASES);
            break;
        }
        charset_case_t *c = &g_cases[g_ncases++];
        snprintf(c->file, sizeof c->file, "%s", field[0]);
        snprintf(c->content_type, sizeof c->content_type, "%s",
                 strcmp(field[1], "\"\"") == 0 ? "" : field[1]);
        snprintf(c->title, sizeof c->title, "%s", field[2]);
        snprintf(c->encoding, sizeof c->encoding, "%s", field[3]);
    }
    fclose(fp);
    if (g_ncases == 0 && g_load_err[0] == '\0')
        snprintf(g_load_err, sizeof g_load_err, "cases.tsv has no rows");
}

static char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f = fopen(th_data_path(path, sizeof path, rel), "rb");
    char *buf;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------ UTF-8 */

/* utf8_seq: the length of the valid UTF-8 sequence at s (at most n bytes),
 * or 0 when it is not one (RFC 3629, table 3-7 of the Unicode standard). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* utf8_invalid_at: the offset of the first invalid byte of s, or -1. */
static long utf8_invalid_at(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;

    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return (long)i;
        i += k;
    }
    return -1;
}

/* show: s for a failure message in buf, valid UTF-8 kept, invalid bytes and
 * control characters as \xNN, cut to fit; "(null)" for NULL. */
static const char *show(const char *s, char *buf, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, i = 0, o = 0;

    if (s == NULL)
        return "(null)";
    n = strlen(s);
    while (i < n && o + 8 < cap) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0 || p[i] < 0x20 || p[i] == 0x7F || (k == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0)) {
            size_t m = (k == 0) ? 1 : k;
            for (size_t j = 0; j < m && o + 8 < cap; j++)
                o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", p[i + j]);
            i += m;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    if (i < n && o + 4 < cap)
        strcat(buf, "...");
    return buf;
}

/* ascii_words: s with every non-ASCII byte removed, white space runs
 * collapsed to one space, trimmed (into buf). */
static const char *ascii_words(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    int space = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < cap; p++) {
        if (*p >= 0x80)
            continue;
        if (isspace(*p)) {
            space = 1;
            continue;
        }
        if (space && o > 0 && o + 2 < cap)
            buf[o++] = ' ';
        space = 0;
        buf[o++] = (char)*p;
    }
    buf[o] = '\0';
    return buf;
}

/* ------------------------------------------------------------ encodings */

static void norm_name(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && s[i] && s[i] != '/' && o + 1 < cap; i++) {
        if (s[i] == '-' || s[i] == '_' || s[i] == ' ')
            continue;
        out[o++] = (char)tolower((unsigned char)s[i]);
    }
    out[o] = '\0';
}

/* family_match: 1 when got names an encoding of the family of the row's
 * spelling want (one alternative). */
static int family_match(const char *want, size_t wlen, const char *got)
{
    char w[64], g[64];

    norm_name(want, wlen, w, sizeof w);
    norm_name(got, strlen(got), g, sizeof g);
    for (size_t f = 0; f < sizeof FAMILIES / sizeof FAMILIES[0]; f++) {
        if (strcmp(FAMILIES[f][0], w) != 0)
            continue;
        for (size_t i = 0; FAMILIES[f][i] != NULL; i++)
            if (strcmp(FAMILIES[f][i], g) == 0)
                return 1;
        return 0;
    }
    return strcmp(w, g) == 0; /* not a known family: the name itself */
}

static int encoding_ok(const char *want, const char *got)
{
    const char *p = want;

    for (;;) {
        size_t len = strcspn(p, "|");
        if (family_match(p, len, got))
            return 1;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* ------------------------------------------------------------ the test */

static void setup(void)
{
    ing_feed_init();
}

/* check_utf8: s (item's field what; item < 0: the feed's) is valid UTF-8. */
static void check_utf8(const charset_case_t *c, const char *what, long item, const char *s)
{
    char b[600], where[48] = "feed";
    long at;

    if (s == NULL)
        return;
    if (item >= 0)
        snprintf(where, sizeof where, "item %ld", item);
    at = utf8_invalid_at(s);
    ck_assert_msg(at < 0, "%s: %s %s is not valid UTF-8 at byte %ld: \"%s\"", c->file, where, what,
                  at, show(s, b, sizeof b));
}

START_TEST(charset_case)
{
    const charset_case_t *c = &g_cases[_i];
    char rel[160], err[256] = "", b1[600], b2[600];
    size_t len;
    char *buf;
    ing_feed_t *f = NULL;
    core_err_t rc;
    const char *title;
    ing_feed_source_t src = {.content_type = NULL, .url = NULL};

    snprintf(rel, sizeof rel, "feeds/charset/%s", c->file);
    buf = slurp(rel, &len);
    src.content_type = c->content_type[0] ? c->content_type : NULL;
    rc = ing_feed_parse(buf, len, &LIM, &src, &f, err, sizeof err);
    free(buf);
    ck_assert_msg(rc == CORE_OK, "%s (content type \"%s\"): parse failed: %s: %s", c->file,
                  c->content_type, core_strerror(rc), err);
    ck_assert_msg(f->n > 0, "%s: no items (item_like %zu, encoding \"%s\", warning \"%s\")",
                  c->file, f->item_like, f->encoding, f->warning);

    /* Validity first: a failure below should not hide invalid output. */
    check_utf8(c, "title", -1, f->title);
    for (size_t i = 0; i < f->n; i++) {
        check_utf8(c, "id", (long)i, f->items[i].id);
        check_utf8(c, "title", (long)i, f->items[i].title);
        check_utf8(c, "text", (long)i, f->items[i].text);
        check_utf8(c, "url", (long)i, f->items[i].url);
    }

    title = f->items[0].title;
    if (strstr(c->title, "\xEF\xBF\xBD") != NULL) { /* U+FFFD: ASCII words only */
        char w1[512], w2[512];
        ck_assert_msg(title != NULL && strcmp(ascii_words(c->title, w1, sizeof w1),
                                              ascii_words(title, w2, sizeof w2)) == 0,
                      "%s: first title: expected ASCII words \"%s\" (of \"%s\"), got \"%s\"",
                      c->file, w1, c->title, show(title, b2, sizeof b2));
    } else {
        ck_assert_msg(title != NULL && strcmp(title, c->title) == 0,
                      "%s: first title: expected \"%s\", got \"%s\" (encoding \"%s\")", c->file,
                      c->title, show(title, b2, sizeof b2), f->encoding);
    }
    ck_assert_msg(encoding_ok(c->encoding, f->encoding),
                  "%s: encoding: expected %s, got \"%s\" (warning \"%s\")", c->file, c->encoding,
                  show(f->encoding, b1, sizeof b1), f->warning);
    if (strstr(c->title, "\xEF\xBF\xBD") == NULL)
        ck_assert_msg(f->recovered == 0, "%s: recovered (encoding \"%s\"): note \"%s\"", c->file,
                      f->encoding, show(f->note, b1, sizeof b1));
    ck_assert_msg(f->n == f->item_like && f->skipped == 0 && f->n >= 4,
                  "%s: expected every item read (at least 4), got n %zu, item_like %zu, "
                  "skipped %zu",
                  c->file, f->n, f->item_like, f->skipped);
    ing_feed_free(f);
}
END_TEST

START_TEST(cases_loaded)
{
    ck_abort_msg("%s", g_load_err);
}
END_TEST

START_TEST(validator_self_test)
{
    /* The validator itself: valid and invalid sequences at the edges. */
    ck_assert_int_eq(utf8_invalid_at("plain ASCII"), -1);
    ck_assert_int_eq(utf8_invalid_at("caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x93\x88"), -1);
    ck_assert_int_eq(utf8_invalid_at("\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF"), -1);
    ck_assert_int_eq(utf8_invalid_at("a\xC0\xAF"), 1);        /* overlong '/' */
    ck_assert_int_eq(utf8_invalid_at("a\xC1\xBF"), 1);        /* overlong */
    ck_assert_int_eq(utf8_invalid_at("ab\xE0\x9F\xBF"), 2);   /* overlong 3-byte */
    ck_assert_int_eq(utf8_invalid_at("\xF0\x8F\xBF\xBF"), 0); /* overlong 4-byte */
    ck_assert_int_eq(utf8_invalid_at("x\xED\xA0\x80"), 1);    /* surrogate D800 */
    ck_assert_int_eq(utf8_invalid_at("x\xED\xBF\xBF"), 1);    /* surrogate DFFF */
    ck_assert_int_eq(utf8_invalid_at("\xF4\x90\x80\x80"), 0); /* U+110000 */
    ck_assert_int_eq(utf8_invalid_at("\xF5\x80\x80\x80"), 0); /* F5 lead */
    ck_assert_int_eq(utf8_invalid_at("ok\x80"), 2);           /* stray continuation */
    ck_assert_int_eq(utf8_invalid_at("ok\xE2\x82"), 2);       /* truncated at end */
    ck_assert_int_eq(utf8_invalid_at("ok\xE2\x82 x"), 2);     /* truncated mid-string */
    ck_assert_int_eq(utf8_invalid_at("\xFF"), 0);
    ck_assert(encoding_ok("GB18030", "GB2312"));
    ck_assert(encoding_ok("gb18030", "gbk"));
    ck_assert(encoding_ok("ISO-8859-1", "windows-1252"));
    ck_assert(!encoding_ok("windows-1252", "ISO-8859-1"));
    ck_assert(encoding_ok("Shift_JIS", "SHIFT-JIS"));
    ck_assert(encoding_ok("UTF-8|ISO-8859-1", "CP1252"));
    ck_assert(encoding_ok("UTF-16", "UTF-16LE"));
    ck_assert(!encoding_ok("UTF-8", "UTF-16"));
    ck_assert(!encoding_ok("KOI8-R", "windows-1251"));
    char w[64];
    ck_assert_str_eq(ascii_words("  Stocks \xEF\xBF\xBD rally\xC3\xBF  now ", w, sizeof w),
                     "Stocks rally now");
}
END_TEST

Suite *suite_feed_charset(void)
{
    Suite *s = suite_create("feed_charset");
    TCase *tc = tcase_create("charset");

    load_cases();
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, validator_self_test);
    if (g_load_err[0] != '\0')
        tcase_add_test(tc, cases_loaded);
    else
        tcase_add_loop_test(tc, charset_case, 0, g_ncases);
    suite_add_tcase(s, tc);
    return s;
}
