/* Fuzz target: the RSS/Atom feed parser (ing_feed) and its HTML-to-text
 * conversion. Checks the parser's output invariants: every item has an id
 * and a title or a text, and no text exceeds the limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ing_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    ing_feed_limits_t lim = {.max_items = 64, .max_text_bytes = 512};
    ing_feed_t *f = NULL;
    char err[256], *text = NULL;

    if (!init) {
        ing_feed_init();
        init = 1;
    }
    if (ing_feed_parse((const char *)data, size, &lim, NULL, &f, err, sizeof err) == CORE_OK) {
        if (f->n > lim.max_items)
            abort();
        for (size_t i = 0; i < f->n; i++) {
            const ing_feed_item_t *it = &f->items[i];
            if (!it->id || (!it->title && !it->text))
                abort();
            if ((it->title && strlen(it->title) > lim.max_text_bytes) ||
                (it->text && strlen(it->text) > lim.max_text_bytes))
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
