/*
 * ing_charset: turn the bytes of a feed into UTF-8 before any parser sees
 * them. Decoding is done by iconv (glibc); detection by uchardet. Nothing
 * here converts characters by hand.
 *
 * Which encoding (the first that applies):
 *   1. a byte order mark (UTF-8, UTF-16LE/BE, UTF-32LE/BE): it is certain,
 *      so it wins over any label (RFC 7303 section 3, and what browsers do);
 *      UTF-16 without a BOM is recognised from "<?" in two bytes;
 *   2. the charset parameter of the HTTP Content-Type;
 *   3. the XML declaration's encoding= (xml documents only);
 *   4. UTF-8 when nothing is declared (the XML and JSON default).
 * A label is mapped the way browsers map it (WHATWG Encoding): ISO-8859-1,
 * latin1 and US-ASCII mean windows-1252, GB2312 means GBK, Shift_JIS means
 * windows-31j (CP932), EUC-KR means CP949, x-sjis and x-mac-roman are known.
 * When the chosen label is unknown to iconv, or the bytes do not decode in
 * it, the next declared one is tried; then UTF-8 when most of the non-ASCII
 * bytes form valid UTF-8 sequences (a UTF-8 document with a few bad bytes is
 * repaired, not re-read as Latin-1); then uchardet's guess (when there are
 * at least 32 non-ASCII bytes: with fewer, its pick among the Latin
 * charsets is noise); then windows-1252, where a byte it leaves undefined
 * becomes U+FFFD.
 * A document labelled with a single-byte charset whose bytes are valid UTF-8
 * containing non-ASCII characters is read as UTF-8: the common mislabel
 * (a server default of ISO-8859-1 in front of UTF-8 files), and a real
 * Latin-1 text is practically never valid UTF-8.
 *
 * The output is valid UTF-8 without NUL. For xml documents, control
 * characters that XML 1.0 forbids (C0 except tab, LF, CR) become spaces,
 * since libxml2 stops reading at the first one.
 */
#ifndef ING_CHARSET_H
#define ING_CHARSET_H

#include <stddef.h>

#include "core/core_error.h"

typedef struct ing_charset_result {
    char *text;        /* malloc'd UTF-8, NUL-terminated; caller frees */
    size_t len;        /* bytes in text, without the NUL */
    char encoding[32]; /* what the bytes were decoded from, e.g. "UTF-8", "windows-1252" */
    int guessed;       /* 1 when the encoding is not the declared (or default) one */
    size_t repaired;   /* sequences replaced by U+FFFD */
    char warning[192]; /* "" or why the declared encoding was not used */
} ing_charset_result_t;

/* ing_charset_decode decodes len bytes at buf. content_type is the HTTP
 * Content-Type value (may be NULL); xml says whether an XML declaration may
 * name the encoding. CORE_ENOMEM, CORE_ETOO_LARGE. */
core_err_t ing_charset_decode(const char *buf, size_t len, const char *content_type, int xml,
                              ing_charset_result_t *out);

/* ing_charset_param copies the charset parameter of a Content-Type value
 * ("text/xml; charset=\"Shift_JIS\"") into out; "" when there is none. */
void ing_charset_param(const char *content_type, char *out, size_t outlen);

#endif
