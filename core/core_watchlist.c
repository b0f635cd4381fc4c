/*
 * core_watchlist: see core_watchlist.h. Names are stored lower-cased; a
 * match lower-cases the text into a stack buffer (or a heap one for long
 * texts) once and searches each name with memmem, checking word boundaries.
 * That is O(names x text), fine for the watch-lists of a desk (hundreds to a
 * few thousand names) at classifier rates.
 */
#include "core/core_watchlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_alloc.h"

typedef struct wl_name {
    char *lower;
    size_t len;
    size_t ticker; /* index into tickers */
} wl_name;

struct core_watchlist {
    char **tickers;
    size_t n_tickers;
    wl_name *names;
    size_t n_names;
};

void core_watchlist_free(core_watchlist_t *wl)
{
    if (!wl)
        return;
    for (size_t i = 0; i < wl->n_tickers; i++)
        core_free(wl->tickers[i]);
    for (size_t i = 0; i < wl->n_names; i++)
        core_free(wl->names[i].lower);
    core_free(wl->tickers);
    core_free(wl->names);
    core_free(wl);
}

size_t core_watchlist_count(const core_watchlist_t *wl)
{
    return wl->n_tickers;
}

static int valid_ticker(const char *s, size_t n)
{
    if (n < 1 || n > 12)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)s[i]);
        if (!(isupper((unsigned char)c) || isdigit((unsigned char)c) || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static core_err_t add_name(core_watchlist_t *wl, const char *s, size_t n, size_t ticker)
{
    wl_name *grown = core_realloc(wl->names, (wl->n_names + 1) * sizeof *grown);
    char *lower;
    if (!grown)
        return CORE_ENOMEM;
    wl->names = grown;
    lower = core_malloc(n + 1);
    if (!lower)
        return CORE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)s[i]);
    lower[n] = '\0';
    wl->names[wl->n_names++] = (wl_name){lower, n, ticker};
    return CORE_OK;
}

core_err_t core_watchlist_parse(const char *name, const char *text, core_watchlist_t **out,
                                char *err, size_t errlen)
{
    core_watchlist_t *wl = core_calloc(1, sizeof *wl);
    core_err_t rc = CORE_OK;
    const char *p = text;
    int lineno = 0;

    *out = NULL;
    if (!wl)
        return CORE_ENOMEM;
    while (*p) {
        const char *eol = strchr(p, '\n'), *tab, *q;
        size_t len = eol ? (size_t)(eol - p) : strlen(p), tl, before;
        char **grown;
        lineno++;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        if (len == 0 || *p == '#')
            goto next;
        tab = memchr(p, '\t', len);
        if (!tab) {
            snprintf(err, errlen, "%s:%d: expected TICKER<TAB>name,alias,...", name, lineno);
            rc = CORE_EPARSE;
            goto out;
        }
        tl = (size_t)(tab - p);
        if (!valid_ticker(p, tl)) {
            snprintf(err, errlen, "%s:%d: bad ticker '%.*s' (1-12 of A-Z 0-9 . -)", name, lineno,
                     (int)(tl > 40 ? 40 : tl), p);
            rc = CORE_EPARSE;
            goto out;
        }
        grown = core_realloc(wl->tickers, (wl->n_tickers + 1) * sizeof *grown);
        if (!grown) {
            rc = CORE_ENOMEM;
            goto out;
        }
        wl->tickers = grown;
        wl->tickers[wl->n_tickers] = core_malloc(tl + 1);
        if (!wl->tickers[wl->n_tickers]) {
            rc = CORE_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < tl; i++)
            wl->tickers[wl->n_tickers][i] = (char)toupper((unsigned char)p[i]);
        wl->tickers[wl->n_tickers][tl] = '\0';
        wl->n_tickers++;
        before = wl->n_names;
        for (q = tab + 1; q < p + len;) {
            const char *comma = memchr(q, ',', (size_t)(p + len - q));
            const char *e = comma ? comma : p + len, *s = q;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > s) {
                if (e - s < 2 || e - s > 100) {
                    snprintf(err, errlen, "%s:%d: name '%.*s' must be 2 to 100 bytes", name,
                             lineno, (int)(e - s > 40 ? 40 : e - s), s);
                    rc = CORE_EPARSE;
                    goto out;
                }
                if ((rc = add_name(wl, s, (size_t)(e - s), wl->n_tickers - 1)) != CORE_OK)
                    goto out;
            }
            q = comma ? comma + 1 : p + len;
        }
        if (wl->n_names == before) {
            snprintf(err, errlen, "%s:%d: ticker %s has no names", name, lineno,
                     wl->tickers[wl->n_tickers - 1]);
            rc = CORE_EPARSE;
            goto out;
        }
    next:
        if (!eol)
            break;
        p = eol + 1;
    }
    *out = wl;
    wl = NULL;
out:
    core_watchlist_free(wl);
    return rc;
}

core_err_t core_watchlist_load(const char *path, core_watchlist_t **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size;
    core_err_t rc;

    *out = NULL;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CORE_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > (64L << 20) ||
        fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: unreadable or larger than 64 MiB", path);
        fclose(f);
        return CORE_EIO;
    }
    text = core_malloc((size_t)size + 1);
    if (!text) {
        fclose(f);
        return CORE_ENOMEM;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: read error", path);
        core_free(text);
        fclose(f);
        return CORE_EIO;
    }
    fclose(f);
    text[size] = '\0';
    if (memchr(text, '\0', (size_t)size)) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        core_free(text);
        return CORE_EPARSE;
    }
    rc = core_watchlist_parse(path, text, out, err, errlen);
    core_free(text);
    return rc;
}

static core_err_t match_in(const core_watchlist_t *wl, core_item_t *item, const char *s)
{
    char stackbuf[2048], *low = stackbuf;
    size_t n = strlen(s);
    core_err_t rc = CORE_OK;

    if (n == 0)
        return CORE_OK;
    if (n >= sizeof stackbuf && !(low = core_malloc(n + 1)))
        return CORE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[n] = '\0';
    for (size_t k = 0; k < wl->n_names && rc == CORE_OK; k++) {
        const wl_name *nm = &wl->names[k];
        const char *hay = low, *hit;
        while ((hit = memmem(hay, (size_t)(low + n - hay), nm->lower, nm->len)) != NULL) {
            int left_ok = hit == low || !isalnum((unsigned char)hit[-1]);
            int right_ok = hit + nm->len == low + n || !isalnum((unsigned char)hit[nm->len]);
            if (left_ok && right_ok) {
                const char *t = wl->tickers[nm->ticker];
                rc = core_item_add_entity(item, t, strlen(t));
                break;
            }
            hay = hit + 1;
        }
    }
    if (low != stackbuf)
        core_free(low);
    return rc;
}

core_err_t core_watchlist_match(const core_watchlist_t *wl, core_item_t *item)
{
    core_err_t rc = CORE_OK;
    if (item->title)
        rc = match_in(wl, item, item->title);
    if (rc == CORE_OK && item->text)
        rc = match_in(wl, item, item->text);
    return rc;
}
