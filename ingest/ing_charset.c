/*
 * ing_charset: see ing_charset.h. A list of candidate labels in order of
 * authority, each tried with a strict iconv conversion; then the fallbacks.
 */
#include "ingest/ing_charset.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#include "core/core_utf8.h"

/* ---- labels ------------------------------------------------------------- */

typedef struct enc {
    const char *iconv; /* name for iconv_open */
    const char *name;  /* name reported */
    int single;        /* one byte per character */
} enc;

/* WHATWG-style aliases: labels that mean a superset in practice. */
static const struct alias {
    const char *label;
    enc e;
} ALIASES[] = {
    {"utf-8", {"UTF-8", "UTF-8", 0}},
    {"utf8", {"UTF-8", "UTF-8", 0}},
    {"unicode-1-1-utf-8", {"UTF-8", "UTF-8", 0}},
    {"iso-8859-1", {"WINDOWS-1252", "windows-1252", 1}},
    {"iso8859-1", {"WINDOWS-1252", "windows-1252", 1}},
    {"iso_8859-1", {"WINDOWS-1252", "windows-1252", 1}},
    {"latin1", {"WINDOWS-1252", "windows-1252", 1}},
    {"l1", {"WINDOWS-1252", "windows-1252", 1}},
    {"us-ascii", {"WINDOWS-1252", "windows-1252", 1}},
    {"ascii", {"WINDOWS-1252", "windows-1252", 1}},
    {"windows-1252", {"WINDOWS-1252", "windows-1252", 1}},
    {"cp1252", {"WINDOWS-1252", "windows-1252", 1}},
    {"x-cp1252", {"WINDOWS-1252", "windows-1252", 1}},
    {"gb2312", {"GBK", "GBK", 0}},
    {"gbk", {"GBK", "GBK", 0}},
    {"x-gbk", {"GBK", "GBK", 0}},
    {"cp936", {"GBK", "GBK", 0}},
    {"gb18030", {"GB18030", "GB18030", 0}},
    {"shift_jis", {"CP932", "Shift_JIS", 0}},
    {"shift-jis", {"CP932", "Shift_JIS", 0}},
    {"sjis", {"CP932", "Shift_JIS", 0}},
    {"x-sjis", {"CP932", "Shift_JIS", 0}},
    {"ms_kanji", {"CP932", "Shift_JIS", 0}},
    {"windows-31j", {"CP932", "Shift_JIS", 0}},
    {"cp932", {"CP932", "Shift_JIS", 0}},
    {"euc-kr", {"CP949", "EUC-KR", 0}},
    {"ks_c_5601-1987", {"CP949", "EUC-KR", 0}},
    {"cp949", {"CP949", "EUC-KR", 0}},
    {"x-mac-roman", {"MACINTOSH", "macintosh", 1}},
    {"macintosh", {"MACINTOSH", "macintosh", 1}},
    {"tis-620", {"CP874", "windows-874", 1}},
    {"iso-8859-11", {"CP874", "windows-874", 1}},
};

static const char *const SINGLE_PREFIXES[] = {"iso-8859-", "iso8859-", "windows-125", "cp125",
                                              "koi8",      "latin",    "ibm",         "cp8",
                                              "mac",       "windows-874"};

/* lookup maps a label (any case, trimmed) to an encoding iconv knows.
 * Returns 0 when it does not know it. label may be changed (lower-cased). */
static int lookup(char *label, enc *e, char *namebuf, size_t namelen)
{
    iconv_t cd;

    for (char *p = label; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!label[0])
        return 0;
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (strcmp(label, ALIASES[i].label) == 0) {
            *e = ALIASES[i].e;
            return 1;
        }
    /* iconv would take an empty or odd name as the locale's charset or an
     * option suffix: only plain names. */
    for (const char *p = label; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.' && *p != ':')
            return 0;
    cd = iconv_open("UTF-8", label);
    if (cd == (iconv_t)-1)
        return 0;
    iconv_close(cd);
    snprintf(namebuf, namelen, "%s", label);
    for (char *p = namebuf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    e->iconv = namebuf;
    e->name = namebuf;
    e->single = 0;
    for (size_t i = 0; i < sizeof SINGLE_PREFIXES / sizeof SINGLE_PREFIXES[0]; i++)
        if (strncmp(label, SINGLE_PREFIXES[i], strlen(SINGLE_PREFIXES[i])) == 0)
            e->single = 1;
    return 1;
}

void ing_charset_param(const char *ct, char *out, size_t outlen)
{
    const char *p;
    size_t n = 0;

    if (outlen)
        out[0] = '\0';
    if (!ct || !outlen)
        return;
    for (p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, "charset", 7) != 0)
            continue;
        q += 7;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '"' || *q == '\'') {
            char quote = *q++;
            while (q[n] && q[n] != quote)
                n++;
        } else {
            while (q[n] && q[n] != ';' && q[n] != ' ' && q[n] != '\t')
                n++;
        }
        snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), q);
        return;
    }
}

/* xml_decl_encoding copies the encoding= of an XML declaration at the start
 * of buf (ASCII-compatible encodings only) into out; "" when there is none. */
static void xml_decl_encoding(const char *buf, size_t len, char *out, size_t outlen)
{
    size_t i = 0, end, n = 0;

    out[0] = '\0';
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (len - i < 6 || memcmp(buf + i, "<?xml", 5) != 0)
        return;
    for (end = i + 5; end + 1 < len && end < i + 512; end++)
        if (buf[end] == '?' && buf[end + 1] == '>')
            break;
    for (size_t k = i + 5; k + 8 < end; k++) {
        if (memcmp(buf + k, "encoding", 8) != 0)
            continue;
        k += 8;
        while (k < end && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n'))
            k++;
        if (k >= end || buf[k] != '=')
            return;
        k++;
        while (k < end && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n'))
            k++;
        if (k >= end || (buf[k] != '"' && buf[k] != '\''))
            return;
        char quote = buf[k++];
        while (k + n < end && buf[k + n] != quote && n + 1 < outlen)
            n++;
        memcpy(out, buf + k, n);
        out[n] = '\0';
        return;
    }
}

/* ---- conversion ------------------------------------------------------------ */

typedef struct obuf {
    char *p;
    size_t n, cap;
} obuf;

static int ob_reserve(obuf *b, size_t extra)
{
    if (b->n + extra + 1 <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->n + extra + 1)
        ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np)
        return -1;
    b->p = np;
    b->cap = ncap;
    return 0;
}

/* Fewer non-ASCII bytes than this and uchardet is not asked. */
#define DETECT_MIN_BYTES 32

enum { CONV_OK = 0, CONV_UNKNOWN = -1, CONV_INVALID = -2, CONV_NOMEM = -3 };

/* convert decodes in[0..inlen) from `from` into b. Strict: any invalid or
 * truncated sequence fails with CONV_INVALID. Lossy: it becomes U+FFFD
 * (counted in *repaired) and decoding goes on after one byte. */
static int convert(const char *from, const char *in, size_t inlen, int lossy, obuf *b,
                   size_t *repaired)
{
    iconv_t cd = iconv_open("UTF-8", from);
    char *ip = (char *)in;
    size_t il = inlen;
    int rc = CONV_OK;

    b->n = 0;
    if (cd == (iconv_t)-1)
        return CONV_UNKNOWN;
    if (ob_reserve(b, inlen + inlen / 2 + 16) != 0) {
        iconv_close(cd);
        return CONV_NOMEM;
    }
    while (il > 0) {
        char *op = b->p + b->n;
        size_t ol = b->cap - b->n - 1;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        b->n = (size_t)(op - b->p);
        if (r != (size_t)-1)
            continue;
        if (e == E2BIG) {
            if (ob_reserve(b, b->cap) != 0) {
                rc = CONV_NOMEM;
                break;
            }
            continue;
        }
        if (!lossy) {
            rc = CONV_INVALID; /* EILSEQ, or EINVAL: truncated at the end */
            break;
        }
        if (ob_reserve(b, 3) != 0) {
            rc = CONV_NOMEM;
            break;
        }
        memcpy(b->p + b->n, "\xEF\xBF\xBD", 3);
        b->n += 3;
        (*repaired)++;
        iconv(cd, NULL, NULL, NULL, NULL); /* reset the shift state */
        ip++;
        il--;
    }
    while (rc == CONV_OK) { /* flush the shift state */
        char *op = b->p + b->n;
        size_t ol = b->cap - b->n - 1;
        size_t r = iconv(cd, NULL, NULL, &op, &ol);
        b->n = (size_t)(op - b->p);
        if (r != (size_t)-1)
            break;
        if (errno != E2BIG || ob_reserve(b, b->cap) != 0)
            rc = errno == E2BIG ? CONV_NOMEM : CONV_INVALID;
    }
    iconv_close(cd);
    if (rc == CONV_OK)
        b->p[b->n] = '\0';
    return rc;
}

/* utf8_profile counts the valid multi-byte sequences and the invalid
 * subparts in buf, read as UTF-8. */
static void utf8_profile(const char *buf, size_t len, size_t *multi, size_t *bad)
{
    size_t i = 0;
    *multi = *bad = 0;
    while (i < len) {
        size_t ok = core_utf8_valid_len(buf + i, len - i);
        for (size_t k = i; k < i + ok; k++)
            if (((unsigned char)buf[k] & 0xC0) == 0xC0)
                (*multi)++;
        i += ok;
        if (i < len) {
            (*bad)++;
            i++;
        }
    }
}

static size_t non_ascii(const char *buf, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        k += (unsigned char)buf[i] >= 0x80;
    return k;
}

/* ---- the decision ------------------------------------------------------------- */

static void set_warning(ing_charset_result_t *out, const char *fmt, const char *a, const char *b)
{
    if (!out->warning[0])
        snprintf(out->warning, sizeof out->warning, fmt, a, b);
}

static int try_enc(const enc *e, const char *buf, size_t len, obuf *b, ing_charset_result_t *out,
                   int lossy)
{
    size_t rep = 0;
    int rc = convert(e->iconv, buf, len, lossy, b, &rep);
    if (rc == CONV_OK) {
        snprintf(out->encoding, sizeof out->encoding, "%s", e->name);
        out->repaired += rep;
    }
    return rc;
}

core_err_t ing_charset_decode(const char *buf, size_t len, const char *content_type, int xml,
                              ing_charset_result_t *out)
{
    static const enc UTF8 = {"UTF-8", "UTF-8", 0}, CP1252 = {"WINDOWS-1252", "windows-1252", 1};
    char labels[3][64], names[3][64], what[3][24];
    int nlab = 0, rc = CONV_INVALID, utf8ish;
    size_t skip = 0, multi, bad;
    obuf b = {0};
    enc bom = {0};

    memset(out, 0, sizeof *out);
    if (len > ((size_t)-1) / 4)
        return CORE_ETOO_LARGE;

    /* 1. a byte order mark, or UTF-16 recognised from "<?" */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        bom = (enc){"UTF-8", "UTF-8", 0}, skip = 3;
    else if (len >= 4 && memcmp(buf, "\xFF\xFE\0\0", 4) == 0)
        bom = (enc){"UTF-32LE", "UTF-32LE", 0}, skip = 4;
    else if (len >= 4 && memcmp(buf, "\0\0\xFE\xFF", 4) == 0)
        bom = (enc){"UTF-32BE", "UTF-32BE", 0}, skip = 4;
    else if (len >= 2 && memcmp(buf, "\xFF\xFE", 2) == 0)
        bom = (enc){"UTF-16LE", "UTF-16LE", 0}, skip = 2;
    else if (len >= 2 && memcmp(buf, "\xFE\xFF", 2) == 0)
        bom = (enc){"UTF-16BE", "UTF-16BE", 0}, skip = 2;
    else if (xml && len >= 4 && memcmp(buf, "<\0?\0", 4) == 0)
        bom = (enc){"UTF-16LE", "UTF-16LE", 0};
    else if (xml && len >= 4 && memcmp(buf, "\0<\0?", 4) == 0)
        bom = (enc){"UTF-16BE", "UTF-16BE", 0};
    buf += skip;
    len -= skip;
    if (bom.iconv) {
        rc = try_enc(&bom, buf, len, &b, out, 0);
        if (rc == CONV_INVALID)
            rc = try_enc(&bom, buf, len, &b, out, 1);
        goto out;
    }

    /* 2-4. declared labels, in order of authority */
    ing_charset_param(content_type, labels[nlab], sizeof labels[nlab]);
    if (labels[nlab][0])
        snprintf(what[nlab++], sizeof what[0], "HTTP charset");
    if (xml) {
        xml_decl_encoding(buf, len, labels[nlab], sizeof labels[nlab]);
        if (labels[nlab][0])
            snprintf(what[nlab++], sizeof what[0], "XML declaration");
    }
    if (nlab == 0) {
        snprintf(labels[nlab], sizeof labels[nlab], "utf-8");
        snprintf(what[nlab++], sizeof what[0], "default");
    }
    for (int i = 0; i < nlab; i++) {
        enc e;
        char shown[64];
        snprintf(shown, sizeof shown, "%s", labels[i]);
        if (!lookup(labels[i], &e, names[i], sizeof names[i])) {
            set_warning(out, "unknown encoding '%s' (%s)", shown, what[i]);
            out->guessed = 1;
            continue;
        }
        if (e.single) {
            utf8_profile(buf, len, &multi, &bad);
            if (bad == 0 && multi > 0) {
                set_warning(out, "labelled %s (%s) but the bytes are UTF-8", shown, what[i]);
                out->guessed = 1;
                rc = try_enc(&UTF8, buf, len, &b, out, 0);
                goto out;
            }
        }
        rc = try_enc(&e, buf, len, &b, out, 0);
        if (rc == CONV_OK || rc == CONV_NOMEM) {
            if (i > 0)
                out->guessed = 1;
            goto out;
        }
        set_warning(out, "the bytes are not valid %s (%s)", e.name, what[i]);
        out->guessed = 1;
    }

    /* Mostly UTF-8 with a few bad bytes: repair, do not re-read as Latin-1. */
    utf8_profile(buf, len, &multi, &bad);
    if (multi > 0 && bad * 10 <= multi) {
        rc = try_enc(&UTF8, buf, len, &b, out, 1);
        if (rc != CONV_INVALID)
            goto out;
    }
    utf8ish = multi > 0 && bad <= 4 * multi;

    /* uchardet's guess, when there is enough to go on: with a handful of
     * non-ASCII bytes its pick among the Latin charsets is noise, and
     * windows-1252 is the likeliest legacy encoding of a feed. A
     * single-byte guess loses to UTF-8 when many of the bytes form valid
     * UTF-8 sequences (a damaged UTF-8 document, not a legacy one). */
    if (non_ascii(buf, len) >= DETECT_MIN_BYTES) {
        uchardet_t ud = uchardet_new();
        char guess[64] = "", gname[64];
        enc e;
        if (ud) {
            uchardet_handle_data(ud, buf, len);
            uchardet_data_end(ud);
            snprintf(guess, sizeof guess, "%s", uchardet_get_charset(ud));
            uchardet_delete(ud);
        }
        if (guess[0] && lookup(guess, &e, gname, sizeof gname) && !(e.single && utf8ish)) {
            rc = try_enc(&e, buf, len, &b, out, 0);
            if (rc != CONV_INVALID && rc != CONV_UNKNOWN) {
                out->guessed = 1;
                goto out;
            }
        }
    }
    if (utf8ish) {
        rc = try_enc(&UTF8, buf, len, &b, out, 1);
        if (rc != CONV_INVALID)
            goto out;
    }

    /* the last resort */
    out->guessed = 1;
    rc = try_enc(&CP1252, buf, len, &b, out, 1);

out:
    if (rc == CONV_NOMEM || rc != CONV_OK) {
        free(b.p);
        memset(out, 0, sizeof *out);
        return rc == CONV_NOMEM ? CORE_ENOMEM : CORE_EINTERNAL;
    }
    if (out->guessed && !out->warning[0])
        snprintf(out->warning, sizeof out->warning, "no usable declared encoding");
    if (out->guessed) {
        size_t wl = strlen(out->warning);
        snprintf(out->warning + wl, sizeof out->warning - wl, "; read as %s", out->encoding);
    }
    /* NUL, and for XML the C0 controls XML 1.0 forbids, become spaces. */
    for (size_t i = 0; i < b.n; i++) {
        unsigned char c = (unsigned char)b.p[i];
        if (c == 0 || (xml && c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            b.p[i] = ' ';
    }
    if (!core_utf8_valid(b.p, b.n, NULL)) { /* iconv's output is UTF-8; belt and braces */
        char *fixed;
        size_t fl, nb;
        if (core_utf8_repair(b.p, b.n, &fixed, &fl, &nb) != CORE_OK) {
            free(b.p);
            return CORE_ENOMEM;
        }
        free(b.p);
        b.p = fixed;
        b.n = fl;
        out->repaired += nb;
    }
    if (!b.p) { /* empty input */
        b.p = calloc(1, 1);
        if (!b.p)
            return CORE_ENOMEM;
    }
    out->text = b.p;
    out->len = b.n;
    return CORE_OK;
}
