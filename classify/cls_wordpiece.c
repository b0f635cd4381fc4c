/*
 * cls_wordpiece: BERT WordPiece tokenizer (see cls_wordpiece.h for the
 * contract and docs/tokenizer.md for the behaviour in prose).
 *
 * Design. Hugging Face's BertTokenizer runs in stages over whole strings
 * (clean, space CJK, split on whitespace, lower-case, NFD + drop Mn, split on
 * punctuation, WordPiece). Every stage but WordPiece is a per-code-point
 * mapping whose only context is the current whitespace-delimited word (the
 * final-sigma rule of lower-casing looks one word back and ahead), so they
 * are fused into one streaming pass over the bytes: each code point is
 * decoded, classified and normalised, and appended to the current word, which
 * is handed to WordPiece at every whitespace, punctuation or CJK boundary.
 * The word buffer holds at most CLS_WORDPIECE_MAX_WORD_CHARS code points;
 * longer words only count their characters, since they become [UNK] anyway.
 * Hence the workspace has a fixed size and encoding allocates nothing. ASCII
 * bytes take a table-driven fast path that computes the same result as the
 * general path (the golden tests cover both).
 *
 * WordPiece looks up substrings in an open-addressing hash table (FNV-1a,
 * linear probing, load factor <= 1/2) built at load. The word is stored with
 * two spare bytes in front, so a "##" continuation key is made in place by
 * writing "##" over the two bytes just before the continuation; those bytes
 * belong to pieces already matched and are never read again.
 *
 * Known differences (docs/tokenizer.md has the measurements): no NFC step
 * (as BertTokenizerFast and tokenizers.js; the slow Python BertTokenizer has
 * one, which cannot matter when accents are stripped); unassigned code points
 * are dropped (as Python and Rust; tokenizers.js keeps them); canonical
 * reordering of NFD is not applied (it only orders non-Mn combining marks of
 * non-zero class); the Cased / Case_Ignorable properties of the final-sigma
 * rule are approximated from utf8proc's categories and case mappings; the
 * Unicode tables are utf8proc's (Unicode 15).
 */
#include "classify/cls_wordpiece.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <utf8proc.h>

#include "core/core_alloc.h"
#include "core/core_hash.h"

#define MAX_VOCAB_TOKENS (1u << 24)
#define MAX_VOCAB_FILE_BYTES ((size_t)256 << 20)
/* Word buffer: 2 spare bytes for "##", then up to MAX_WORD_CHARS code points
 * of at most 4 bytes. */
#define WORD_CAP (2 + 4 * CLS_WORDPIECE_MAX_WORD_CHARS + 4)

/* ASCII classes for the fast path. */
enum {
    A_DROP = 0, /* control characters cleaning removes */
    A_SPACE,    /* \t \n \r and space */
    A_PUNCT,    /* 33-47, 58-64, 91-96, 123-126 */
    A_UPPER,    /* A-Z */
    A_LOWER,    /* a-z */
    A_OTHER     /* digits */
};

/* One hash-table slot: a probe reads one 8-byte slot. */
typedef struct slot {
    uint32_t hash; /* of the token's bytes, for fast reject */
    int32_t id;    /* -1: empty */
} slot_t;

struct cls_wordpiece {
    char *blob;          /* every token, NUL-terminated, in id order */
    uint32_t *offs;      /* (n) offset of token id in blob */
    uint16_t *lens;      /* (n) byte length of token id */
    slot_t *slots;       /* (cap) hash table, id -1 = empty */
    size_t n, cap;
    size_t max_tok;      /* longest token in bytes */
    int32_t pad, unk, cls, sep;
    int32_t ascii_id[128]; /* id of each one-character ASCII token, or unk */
    int lower, strip, cjk;
    size_t max_len;
};

struct cls_wordpiece_ws {
    char buf[WORD_CAP];    /* buf[0..1] spare for "##"; word at buf + 2 */
    size_t wlen;           /* bytes of the word at buf + 2 */
    size_t wchars;         /* code points in the word (may exceed the cap) */
    int32_t pieces[CLS_WORDPIECE_MAX_WORD_CHARS];
};

/* Encoding state, on the stack of cls_wordpiece_encode. */
typedef struct enc {
    const cls_wordpiece_t *wp;
    cls_wordpiece_ws_t *ws;
    int32_t *ids;
    size_t n, limit; /* ids[0..n) written; pieces go up to limit (exclusive) */
    int prev_cased;  /* final-sigma context: last non-ignorable char was cased */
} enc_t;

static const uint8_t ascii_class[128] = {
    /* 0-31: controls; \t \n \r are whitespace */
    A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP,
    A_DROP, A_SPACE, A_SPACE, A_DROP, A_DROP, A_SPACE, A_DROP, A_DROP,
    A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP,
    A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP, A_DROP,
    /* 32-47: space ! " # $ % & ' ( ) * + , - . / */
    A_SPACE, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
    A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
    /* 48-63: 0-9 : ; < = > ? */
    A_OTHER, A_OTHER, A_OTHER, A_OTHER, A_OTHER, A_OTHER, A_OTHER, A_OTHER,
    A_OTHER, A_OTHER, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
    /* 64-95: @ A-Z [ \ ] ^ _ */
    A_PUNCT, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
    A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
    A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
    A_UPPER, A_UPPER, A_UPPER, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
    /* 96-127: ` a-z { | } ~ DEL */
    A_PUNCT, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER,
    A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER,
    A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER, A_LOWER,
    A_LOWER, A_LOWER, A_LOWER, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_DROP,
};

static int32_t lookup(const cls_wordpiece_t *wp, const char *s, size_t len)
{
    if (len > wp->max_tok)
        return -1;
    uint32_t h = core_fnv32(s, len);
    size_t mask = wp->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const slot_t *sl = &wp->slots[i];
        if (sl->id < 0)
            return -1;
        if (sl->hash == h && wp->lens[sl->id] == len &&
            memcmp(wp->blob + wp->offs[sl->id], s, len) == 0)
            return sl->id;
    }
}

/* Strict UTF-8 decoding of one code point at s[*i] (i < len). An invalid
 * sequence yields U+FFFD and consumes its maximal valid prefix (at least one
 * byte), as Python's errors="replace" and the WHATWG decoder do, so the valid
 * character after it is never swallowed. */
static int32_t decode_utf8(const unsigned char *s, size_t len, size_t *i)
{
    size_t p = *i;
    unsigned b0 = s[p];
    int32_t cp;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (b0 < 0x80) {
        *i = p + 1;
        return (int32_t)b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        *i = p + 1;
        return 0xFFFD;
    }
    p++;
    for (size_t k = 0; k < need; k++, p++) {
        if (p >= len) {
            *i = p;
            return 0xFFFD;
        }
        unsigned b = s[p];
        unsigned l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xBF;
        if (b < l || b > h) {
            *i = p;
            return 0xFFFD;
        }
        cp = (cp << 6) | (int32_t)(b & 0x3F);
    }
    *i = p;
    return cp;
}

static int is_cjk(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int is_control_cat(utf8proc_category_t c)
{
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CS ||
           c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CN;
}

static int is_punct(int32_t cp)
{
    if (cp < 128)
        return ascii_class[cp] == A_PUNCT;
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* Case_Ignorable (Unicode DerivedCoreProperties): Mn, Me, Cf, Lm, Sk and the
 * Word_Break classes MidLetter, MidNumLet, Single_Quote. */
static int is_case_ignorable(int32_t cp)
{
    switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0x5E: case 0x60: case 0xB7: case 0x387:
    case 0x55F: case 0x5F4: case 0x2018: case 0x2019: case 0x2024: case 0x2027:
    case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        break;
    }
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK;
}

/* Cased (Lowercase or Uppercase or Lt), approximated by the letter case
 * categories plus anything with a case mapping (Nl Roman numerals, So
 * circled letters) and the two Other_Lowercase ordinal indicators. */
static int is_cased(int32_t cp)
{
    if (cp < 128)
        return ascii_class[cp] == A_UPPER || ascii_class[cp] == A_LOWER;
    if (cp == 0xAA || cp == 0xBA)
        return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT)
        return 1;
    return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

/* Final_Sigma lookahead: a capital sigma at a word's end lower-cases to
 * U+03C2 when no cased character follows it (skipping case-ignorable and
 * cleaned-away characters) before the word ends. Scans raw bytes from i. */
static int sigma_is_final_ahead(const unsigned char *s, size_t len, size_t i)
{
    while (i < len) {
        int32_t cp = decode_utf8(s, len, &i);
        if (cp < 128) {
            switch (ascii_class[cp]) {
            case A_DROP:
                continue;
            case A_UPPER:
            case A_LOWER:
                return 0;
            default:
                if (is_case_ignorable(cp))
                    continue;
                return 1;
            }
        }
        if (cp == 0xFFFD)
            continue;
        utf8proc_category_t c = utf8proc_category(cp);
        if (is_control_cat(c))
            continue;
        if (c == UTF8PROC_CATEGORY_ZS || cp == 0x2028 || cp == 0x2029)
            return 1;
        if (is_case_ignorable(cp))
            continue;
        return !is_cased(cp);
    }
    return 1;
}

static void emit(enc_t *e, int32_t id)
{
    if (e->n < e->limit)
        e->ids[e->n++] = id;
}

/* flush_word runs WordPiece on the current word and emits its pieces (or
 * [UNK]), then empties the word. */
static void flush_word(enc_t *e)
{
    cls_wordpiece_ws_t *ws = e->ws;
    const cls_wordpiece_t *wp = e->wp;
    if (ws->wchars == 0)
        return;
    size_t n = ws->wlen, np = 0;
    char *w = ws->buf + 2;
    int unknown = ws->wchars > CLS_WORDPIECE_MAX_WORD_CHARS;
    size_t start = 0;
    while (!unknown && start < n) {
        size_t pre = start ? 2 : 0;
        const char *key = w + start - pre;
        if (pre) {
            w[start - 2] = '#'; /* overwrites bytes of pieces already matched */
            w[start - 1] = '#';
        }
        size_t end = n;
        if (end - start + pre > wp->max_tok) {
            end = start + wp->max_tok - pre + 1;
            do
                end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        int32_t id = -1;
        while (end > start) {
            id = lookup(wp, key, end - start + pre);
            if (id >= 0)
                break;
            do
                end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            unknown = 1;
            break;
        }
        ws->pieces[np++] = id;
        start = end;
    }
    if (unknown) {
        emit(e, wp->unk);
    } else {
        for (size_t k = 0; k < np; k++)
            emit(e, ws->pieces[k]);
    }
    ws->wlen = 0;
    ws->wchars = 0;
}

static void append_ascii(cls_wordpiece_ws_t *ws, char c)
{
    if (++ws->wchars <= CLS_WORDPIECE_MAX_WORD_CHARS)
        ws->buf[2 + ws->wlen++] = c;
}

static void append_cp(cls_wordpiece_ws_t *ws, int32_t cp)
{
    if (++ws->wchars <= CLS_WORDPIECE_MAX_WORD_CHARS)
        ws->wlen += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)ws->buf + 2 + ws->wlen);
}

/* put: one normalised code point into the word; punctuation is a word of
 * its own. */
static void put(enc_t *e, int32_t cp)
{
    if (cp < 128) {
        if (ascii_class[cp] == A_PUNCT) {
            flush_word(e);
            emit(e, e->wp->ascii_id[cp]);
        } else {
            append_ascii(e->ws, (char)cp);
        }
        return;
    }
    if (is_punct(cp)) {
        flush_word(e);
        char tmp[4];
        utf8proc_ssize_t k = utf8proc_encode_char(cp, (utf8proc_uint8_t *)tmp);
        int32_t id = lookup(e->wp, tmp, (size_t)k);
        emit(e, id >= 0 ? id : e->wp->unk);
        return;
    }
    append_cp(e->ws, cp);
}

/* put_stripped: NFD of cp, dropping Mn, when accents are stripped. */
static void put_stripped(enc_t *e, int32_t cp)
{
    if (!e->wp->strip || cp < 128) {
        put(e, cp);
        return;
    }
    utf8proc_int32_t dec[16];
    utf8proc_ssize_t k = utf8proc_decompose_char(cp, dec, 16, UTF8PROC_DECOMPOSE, NULL);
    if (k < 1 || k > 16) {
        put(e, cp);
        return;
    }
    for (utf8proc_ssize_t j = 0; j < k; j++) {
        if (utf8proc_category(dec[j]) != UTF8PROC_CATEGORY_MN)
            put(e, dec[j]);
    }
}

/* Non-ASCII code point cp, which ended at byte i of s. */
static void handle_cp(enc_t *e, int32_t cp, const unsigned char *s, size_t len, size_t i)
{
    const cls_wordpiece_t *wp = e->wp;
    if (cp == 0xFFFD)
        return;
    utf8proc_category_t c = utf8proc_category(cp);
    if (is_control_cat(c))
        return;
    if (c == UTF8PROC_CATEGORY_ZS || cp == 0x2028 || cp == 0x2029) {
        flush_word(e);
        e->prev_cased = 0;
        return;
    }
    int cjk = wp->cjk && is_cjk(cp);
    if (cjk)
        flush_word(e);
    if (wp->lower) {
        if (cp == 0x3A3) {
            int final = e->prev_cased && sigma_is_final_ahead(s, len, i);
            put_stripped(e, final ? 0x3C2 : 0x3C3);
        } else if (cp == 0x130) {
            put(e, 'i'); /* full lower-casing: U+0130 -> i U+0307 */
            put_stripped(e, 0x307);
        } else {
            put_stripped(e, utf8proc_tolower(cp));
        }
    } else {
        put_stripped(e, cp);
    }
    if (cjk) {
        flush_word(e);
        e->prev_cased = 0;
    } else if (!is_case_ignorable(cp)) {
        e->prev_cased = is_cased(cp);
    }
}

core_err_t cls_wordpiece_encode(const cls_wordpiece_t *wp, cls_wordpiece_ws_t *ws,
                                const char *text, size_t len, int32_t *ids, size_t max_ids,
                                size_t *n_ids)
{
    if (!wp || !ws || !ids || !n_ids || max_ids < 2 || (!text && len > 0))
        return CORE_EINVAL;
    size_t total = wp->max_len < max_ids ? wp->max_len : max_ids;
    enc_t e = {.wp = wp, .ws = ws, .ids = ids, .n = 0, .limit = total - 1, .prev_cased = 0};
    const unsigned char *s = (const unsigned char *)text;
    const int lower = wp->lower;
    ws->wlen = 0;
    ws->wchars = 0;
    ids[e.n++] = wp->cls;
    size_t i = 0;
    while (i < len && e.n < e.limit) {
        unsigned b = s[i];
        if (b < 0x80) {
            i++;
            switch (ascii_class[b]) {
            case A_DROP:
                break;
            case A_SPACE:
                flush_word(&e);
                e.prev_cased = 0;
                break;
            case A_PUNCT:
                flush_word(&e);
                emit(&e, wp->ascii_id[b]);
                if (!(b == '\'' || b == '.' || b == ':' || b == '^' || b == '`'))
                    e.prev_cased = 0;
                break;
            case A_UPPER:
                append_ascii(ws, (char)(lower ? b + 32 : b));
                e.prev_cased = 1;
                break;
            case A_LOWER:
                append_ascii(ws, (char)b);
                e.prev_cased = 1;
                break;
            default:
                append_ascii(ws, (char)b);
                e.prev_cased = 0;
                break;
            }
        } else {
            int32_t cp = decode_utf8(s, len, &i);
            handle_cp(&e, cp, s, len, i);
        }
    }
    flush_word(&e);
    ids[e.n++] = wp->sep;
    *n_ids = e.n;
    return CORE_OK;
}

/* ---- loading ---- */

void cls_wordpiece_opts_default(cls_wordpiece_opts_t *opts)
{
    opts->do_lower_case = 1;
    opts->strip_accents = -1;
    opts->tokenize_chinese_chars = 1;
    opts->max_len = CLS_WORDPIECE_DEFAULT_MAX_LEN;
}

void cls_wordpiece_free(cls_wordpiece_t *wp)
{
    if (!wp)
        return;
    core_free(wp->blob);
    core_free(wp->offs);
    core_free(wp->lens);
    core_free(wp->slots);
    core_free(wp);
}

/* valid_token: strict UTF-8 without NUL bytes. */
static int valid_token(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)t + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0 || cp == 0)
            return 0;
        i += (size_t)k;
    }
    return 1;
}

/* parse_vocab splits data (NUL-terminated copy owned by wp->blob) into
 * tokens in place and builds the table. */
static core_err_t parse_vocab(cls_wordpiece_t *wp, size_t len, char *err, size_t errlen)
{
    char *d = wp->blob;
    size_t n = 0, cap = 1024;
    core_err_t rc = CORE_OK;
    if (len == 0) {
        core_err_set(err, errlen, "vocabulary is empty");
        return CORE_EMODEL;
    }
    wp->offs = core_malloc(cap * sizeof *wp->offs);
    wp->lens = core_malloc(cap * sizeof *wp->lens);
    if (!wp->offs || !wp->lens)
        return CORE_ENOMEM;
    size_t p = 0;
    while (p < len) {
        char *nl = memchr(d + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - d) : len;
        size_t tl = end - p;
        if (tl > 0 && d[p + tl - 1] == '\r')
            tl--;
        if (tl == 0) {
            core_err_set(err, errlen, "empty token at line %zu", n + 1);
            return CORE_EMODEL;
        }
        if (tl > CLS_WORDPIECE_MAX_TOKEN_BYTES) {
            core_err_set(err, errlen, "line %zu is longer than %d bytes", n + 1,
                         CLS_WORDPIECE_MAX_TOKEN_BYTES);
            return CORE_ETOO_LARGE;
        }
        if (!valid_token(d + p, tl)) {
            core_err_set(err, errlen, "line %zu is not valid UTF-8", n + 1);
            return CORE_EMODEL;
        }
        if (n == MAX_VOCAB_TOKENS) {
            core_err_set(err, errlen, "more than %u tokens", MAX_VOCAB_TOKENS);
            return CORE_ETOO_LARGE;
        }
        if (n == cap) {
            cap *= 2;
            uint32_t *o = core_realloc(wp->offs, cap * sizeof *o);
            if (o)
                wp->offs = o;
            uint16_t *l = core_realloc(wp->lens, cap * sizeof *l);
            if (l)
                wp->lens = l;
            if (!o || !l)
                return CORE_ENOMEM;
        }
        d[p + tl] = '\0';
        wp->offs[n] = (uint32_t)p;
        wp->lens[n] = (uint16_t)tl;
        if (tl > wp->max_tok)
            wp->max_tok = tl;
        n++;
        p = end + 1;
    }
    wp->n = n;
    wp->cap = 16;
    while (wp->cap < 2 * n)
        wp->cap *= 2;
    wp->slots = core_malloc(wp->cap * sizeof *wp->slots);
    if (!wp->slots)
        return CORE_ENOMEM;
    for (size_t i = 0; i < wp->cap; i++)
        wp->slots[i].id = -1;
    size_t mask = wp->cap - 1;
    for (size_t id = 0; id < n && rc == CORE_OK; id++) {
        const char *t = d + wp->offs[id];
        uint32_t h = core_fnv32(t, wp->lens[id]);
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            slot_t *sl = &wp->slots[i];
            int32_t o = sl->id;
            if (o < 0) {
                *sl = (slot_t){.hash = h, .id = (int32_t)id};
                break;
            }
            if (sl->hash == h && wp->lens[o] == wp->lens[id] &&
                memcmp(d + wp->offs[o], t, wp->lens[id]) == 0) {
                core_err_set(err, errlen, "duplicate token \"%s\" at lines %d and %zu", t, o + 1,
                             id + 1);
                rc = CORE_EMODEL;
                break;
            }
        }
    }
    return rc;
}

static core_err_t finish_load(cls_wordpiece_t *wp, char *err, size_t errlen)
{
    static const char *names[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int32_t *dst[4] = {&wp->pad, &wp->unk, &wp->cls, &wp->sep};
    for (int k = 0; k < 4; k++) {
        *dst[k] = lookup(wp, names[k], strlen(names[k]));
        if (*dst[k] < 0) {
            core_err_set(err, errlen, "vocabulary has no %s token", names[k]);
            return CORE_EMODEL;
        }
    }
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        int32_t id = lookup(wp, &ch, 1);
        wp->ascii_id[c] = id >= 0 ? id : wp->unk;
    }
    return CORE_OK;
}

core_err_t cls_wordpiece_load_mem(const char *data, size_t len, const cls_wordpiece_opts_t *opts,
                                  cls_wordpiece_t **out, char *err, size_t errlen)
{
    cls_wordpiece_opts_t o;
    cls_wordpiece_t *wp = NULL;
    core_err_t rc = CORE_OK;
    if (!out || (!data && len > 0))
        return CORE_EINVAL;
    *out = NULL;
    if (opts)
        o = *opts;
    else
        cls_wordpiece_opts_default(&o);
    if (o.max_len < 2) {
        core_err_set(err, errlen, "max_len %zu is below 2", o.max_len);
        return CORE_EINVAL;
    }
    if (len > MAX_VOCAB_FILE_BYTES) {
        core_err_set(err, errlen, "vocabulary larger than %zu bytes", MAX_VOCAB_FILE_BYTES);
        return CORE_ETOO_LARGE;
    }
    wp = core_calloc(1, sizeof *wp);
    if (!wp)
        return CORE_ENOMEM;
    wp->blob = core_malloc(len + 1);
    if (!wp->blob) {
        rc = CORE_ENOMEM;
        goto out;
    }
    if (len)
        memcpy(wp->blob, data, len);
    wp->blob[len] = '\0';
    /* A final line end is not an empty last line. */
    rc = parse_vocab(wp, len, err, errlen);
    if (rc != CORE_OK)
        goto out;
    rc = finish_load(wp, err, errlen);
    if (rc != CORE_OK)
        goto out;
    wp->lower = o.do_lower_case != 0;
    wp->strip = o.strip_accents < 0 ? wp->lower : o.strip_accents != 0;
    wp->cjk = o.tokenize_chinese_chars != 0;
    wp->max_len = o.max_len;
    *out = wp;
    wp = NULL;
out:
    if (rc == CORE_ENOMEM)
        core_err_set(err, errlen, "out of memory loading the vocabulary");
    cls_wordpiece_free(wp);
    return rc;
}

core_err_t cls_wordpiece_load(const char *vocab_path, const cls_wordpiece_opts_t *opts,
                              cls_wordpiece_t **out, char *err, size_t errlen)
{
    FILE *fp = NULL;
    char *data = NULL;
    core_err_t rc = CORE_OK;
    struct stat st;
    if (!vocab_path || !out)
        return CORE_EINVAL;
    *out = NULL;
    fp = fopen(vocab_path, "rb");
    if (!fp) {
        int e = errno;
        core_err_set(err, errlen, "%s: %s", vocab_path, strerror(e));
        return e == ENOENT ? CORE_ENOT_FOUND : CORE_EIO;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        core_err_set(err, errlen, "%s: not a regular file", vocab_path);
        rc = CORE_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > MAX_VOCAB_FILE_BYTES) {
        core_err_set(err, errlen, "%s: larger than %zu bytes", vocab_path, MAX_VOCAB_FILE_BYTES);
        rc = CORE_ETOO_LARGE;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = core_malloc(size + 1);
    if (!data) {
        rc = CORE_ENOMEM;
        goto out;
    }
    if (size && fread(data, 1, size, fp) != size) {
        core_err_set(err, errlen, "%s: read error", vocab_path);
        rc = CORE_EIO;
        goto out;
    }
    rc = cls_wordpiece_load_mem(data, size, opts, out, err, errlen);
    if (rc != CORE_OK && err && errlen > 0) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", err);
        core_err_set(err, errlen, "%s: %s", vocab_path, tmp);
    }
out:
    core_free(data);
    if (fp)
        fclose(fp);
    return rc;
}

/* json_flag reads an optional boolean key; strip_accents may also be null
 * (-1). Returns 0 on success, -1 on a wrong type. */
static int json_flag(json_t *root, const char *key, int allow_null, int *out)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (allow_null && json_is_null(v)) {
        *out = -1;
        return 0;
    }
    return -1;
}

core_err_t cls_wordpiece_load_dir(const char *model_dir, size_t max_position_embeddings,
                                  cls_wordpiece_t **out, char *err, size_t errlen)
{
    cls_wordpiece_opts_t o;
    char path[4096];
    json_t *root = NULL;
    core_err_t rc = CORE_OK;
    if (!model_dir || !out)
        return CORE_EINVAL;
    *out = NULL;
    cls_wordpiece_opts_default(&o);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
    FILE *fp = fopen(path, "rb");
    if (fp) {
        json_error_t je;
        root = json_loadf(fp, JSON_DECODE_INT_AS_REAL, &je);
        fclose(fp);
        if (!root || !json_is_object(root)) {
            core_err_set(err, errlen, "%s: %s", path, root ? "not a JSON object" : je.text);
            rc = CORE_EMODEL;
            goto out;
        }
        if (json_flag(root, "do_lower_case", 0, &o.do_lower_case) ||
            json_flag(root, "strip_accents", 1, &o.strip_accents) ||
            json_flag(root, "tokenize_chinese_chars", 0, &o.tokenize_chinese_chars)) {
            core_err_set(err, errlen,
                         "%s: do_lower_case, tokenize_chinese_chars must be booleans, "
                         "strip_accents a boolean or null",
                         path);
            rc = CORE_EMODEL;
            goto out;
        }
        json_t *m = json_object_get(root, "model_max_length");
        if (m && !json_is_null(m)) {
            double v = json_is_number(m) ? json_number_value(m) : -1.0;
            if (!(v >= 2.0)) {
                core_err_set(err, errlen, "%s: model_max_length must be a number >= 2", path);
                rc = CORE_EMODEL;
                goto out;
            }
            /* HF writes 1e30 for "no limit"; the position table caps it. */
            o.max_len = v >= 1e9 ? (size_t)1000000000 : (size_t)v;
        }
    } else if (errno != ENOENT) {
        core_err_set(err, errlen, "%s: %s", path, strerror(errno));
        rc = CORE_EIO;
        goto out;
    }
    if (max_position_embeddings > 0 && o.max_len > max_position_embeddings)
        o.max_len = max_position_embeddings;
    if (o.max_len < 2) {
        core_err_set(err, errlen, "max_position_embeddings %zu is below 2",
                     max_position_embeddings);
        rc = CORE_EMODEL;
        goto out;
    }
    snprintf(path, sizeof path, "%s/vocab.txt", model_dir);
    rc = cls_wordpiece_load(path, &o, out, err, errlen);
out:
    json_decref(root);
    return rc;
}

core_err_t cls_wordpiece_ws_new(const cls_wordpiece_t *wp, cls_wordpiece_ws_t **out)
{
    if (!out)
        return CORE_EINVAL;
    *out = core_calloc(1, sizeof **out);
    return *out ? CORE_OK : CORE_ENOMEM;
}

void cls_wordpiece_ws_free(cls_wordpiece_ws_t *ws)
{
    core_free(ws);
}

size_t cls_wordpiece_vocab_size(const cls_wordpiece_t *wp)
{
    return wp->n;
}

size_t cls_wordpiece_max_len(const cls_wordpiece_t *wp)
{
    return wp->max_len;
}

void cls_wordpiece_opts(const cls_wordpiece_t *wp, cls_wordpiece_opts_t *out)
{
    out->do_lower_case = wp->lower;
    out->strip_accents = wp->strip;
    out->tokenize_chinese_chars = wp->cjk;
    out->max_len = wp->max_len;
}

int32_t cls_wordpiece_id(const cls_wordpiece_t *wp, const char *token)
{
    return token ? lookup(wp, token, strlen(token)) : -1;
}

const char *cls_wordpiece_token(const cls_wordpiece_t *wp, int32_t id)
{
    if (id < 0 || (size_t)id >= wp->n)
        return NULL;
    return wp->blob + wp->offs[id];
}

int32_t cls_wordpiece_pad_id(const cls_wordpiece_t *wp)
{
    return wp->pad;
}

int32_t cls_wordpiece_unk_id(const cls_wordpiece_t *wp)
{
    return wp->unk;
}

int32_t cls_wordpiece_cls_id(const cls_wordpiece_t *wp)
{
    return wp->cls;
}

int32_t cls_wordpiece_sep_id(const cls_wordpiece_t *wp)
{
    return wp->sep;
}
