/* core_utf8: see core_utf8.h. One decoder step (seq_len) shared by the
 * validator and the repairer. */
#include "core/core_utf8.h"

#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"

/* seq_len returns the length of the valid sequence at s (1..4), or 0 when
 * the bytes there are invalid; *bad then gets the length of the maximal
 * invalid subpart (at least 1). */
static size_t seq_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */

    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1, F5..FF */
    }
    for (size_t i = 1; i < need; i++) {
        unsigned b = i < n ? s[i] : 0x100;
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            *bad = i; /* the lead byte and the valid continuations so far */
            return 0;
        }
    }
    return need;
}

size_t core_utf8_valid_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, bad;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = seq_len(p + i, len - i, &bad);
        if (!k)
            return i;
        i += k;
    }
    return len;
}

int core_utf8_valid(const char *s, size_t len, size_t *bad_at)
{
    size_t n = core_utf8_valid_len(s, len);
    if (n == len)
        return 1;
    if (bad_at)
        *bad_at = n;
    return 0;
}

core_err_t core_utf8_repair(const char *s, size_t len, char **out, size_t *outlen, size_t *nbad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t ok = core_utf8_valid_len(s, len), n = 0, i, o, bad;
    const char *nul = memchr(s, '\0', ok);

    if (nul)
        ok = (size_t)(nul - s);
    char *d;

    *out = NULL;
    if (nbad)
        *nbad = 0;
    /* Worst case: every byte becomes a 3-byte U+FFFD. */
    if (len > (((size_t)-1) - 1) / 3)
        return CORE_ENOMEM;
    d = core_malloc(ok == len ? len + 1 : len * 3 + 1);
    if (!d)
        return CORE_ENOMEM;
    memcpy(d, s, ok);
    o = ok;
    i = ok;
    while (i < len) {
        size_t k = p[i] ? seq_len(p + i, len - i, &bad) : (bad = 1, 0);
        if (k) {
            memcpy(d + o, p + i, k);
            o += k;
            i += k;
            continue;
        }
        memcpy(d + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i += bad;
        n++;
    }
    d[o] = '\0';
    *out = d;
    if (outlen)
        *outlen = o;
    if (nbad)
        *nbad = n;
    return CORE_OK;
}
