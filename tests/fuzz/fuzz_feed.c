/* Fuzz target: the feed parser (ing_feed: RSS, RDF, Atom, JSON Feed, with
 * the charset decoding of ing_charset) and its HTML-to-text conversion. The
 * first byte picks the HTTP Content-Type the document comes with (none, or
 * a charset label), so the decoders run too. Checks the parser's output
 * invariants: every item has an id and a title or a text, no text exceeds
 * the limit, every string is valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_utf8.h"
#include "ingest/ing_feed.h"

static int ok_text(const char *s)
{
    return !s || core_utf8_valid(s, strlen(s), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {NULL,
                                        "application/rss+xml",
                                        "text/xml; charset=utf-8",
                                        "text/xml; charset=\"ISO-8859-1\"",
                                        "application/xml; charset=Shift_JIS",
                                        "application/atom+xml; charset=gb2312",
                                        "text/xml; charset=koi8-r",
                                        "text/xml; charset=utf-16",
                                        "application/feed+json",
                                        "text/xml; charset=x-unknown"};
    ing_feed_source_t src = {NULL, "http://fuzz.example/feed/"};
    static int init;
    ing_feed_limits_t lim = {.max_items = 64, .max_text_bytes = 512};
    ing_feed_t *f = NULL;
    char err[256], *text = NULL;

    if (!init) {
        ing_feed_init();
        init = 1;
    }
    if (size > 0) {
        src.content_type = types[data[0] % (sizeof types / sizeof types[0])];
        data++;
        size--;
    }
    if (ing_feed_parse((const char *)data, size, &lim, &src, &f, err, sizeof err) == CORE_OK) {
        if (f->n > lim.max_items)
            abort();
        for (size_t i = 0; i < f->n; i++) {
            const ing_feed_item_t *it = &f->items[i];
            if (!it->id || (!it->title && !it->text))
                abort();
            if ((it->title && strlen(it->title) > lim.max_text_bytes) ||
                (it->text && strlen(it->text) > lim.max_text_bytes))
                abort();
            if (!ok_text(it->id) || !ok_text(it->title) || !ok_text(it->text) ||
                !ok_text(it->url))
                abort();
        }
        ing_feed_free(f);
    }
    if (ing_feed_html_text((const char *)data, size, 256, &text) == CORE_OK) {
        if (text && strlen(text) > 256)
            abort();
        free(text);
    }
    return 0;
}
