/* core_item: allocation, entity handling and acknowledgement of items.
 * See core_item.h for ownership rules. */
#include "core/core_item.h"

#include "core/core_alloc.h"
#include "core/core_hash.h"
#include "core/core_utf8.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ENTITIES 64

const char *core_sentiment_name(core_sentiment_t s)
{
    static const char *const names[] = {"negative", "neutral", "positive"};
    return (int)s >= 0 && s < CORE_SENT__COUNT ? names[s] : "none";
}

core_err_t core_item_new(core_item_t **out)
{
    *out = core_calloc(1, sizeof(core_item_t));
    return *out ? CORE_OK : CORE_ENOMEM;
}

void core_item_free(core_item_t *item)
{
    if (!item)
        return;
    core_free(item->id);
    core_free(item->source);
    core_free(item->title);
    core_free(item->text);
    core_free(item->url);
    core_free(item->lang);
    for (size_t i = 0; i < item->n_entities; i++)
        core_free(item->entities[i]);
    core_free(item->entities);
    core_free(item);
}

/* escape_id copies s with every byte that is not part of valid UTF-8, and
 * NUL, written as %XX. */
static char *escape_id(const char *s, size_t len, size_t *nbad)
{
    char *d = core_malloc(len * 3 + 1);
    size_t o = 0, i = 0;
    *nbad = 0;
    if (!d)
        return NULL;
    while (i < len) {
        size_t ok = core_utf8_valid_len(s + i, len - i);
        const char *nul = memchr(s + i, '\0', ok);
        if (nul)
            ok = (size_t)(nul - (s + i));
        memcpy(d + o, s + i, ok);
        o += ok;
        i += ok;
        if (i < len) {
            static const char hex[] = "0123456789ABCDEF";
            unsigned char c = (unsigned char)s[i++];
            d[o++] = '%';
            d[o++] = hex[c >> 4];
            d[o++] = hex[c & 15];
            (*nbad)++;
        }
    }
    d[o] = '\0';
    return d;
}

/* cap_id replaces an id longer than CORE_ITEM_ID_MAX bytes by its first
 * CORE_ITEM_ID_KEEP bytes (cut at a character boundary), "~h:" and a 128-bit
 * hash of all of it (two independent 64-bit FNV-1a variants): stable, so a
 * replayed item gets the same id and is still deduplicated. Takes *id. */
static core_err_t cap_id(char **id)
{
    const char *s = *id;
    size_t n = strlen(s), keep = CORE_ITEM_ID_KEEP;
    uint64_t h[2];
    char *out;

    if (n <= CORE_ITEM_ID_MAX)
        return CORE_OK;
    core_hash128(s, n, h);
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* s[keep] continues a character: cut before it */
    out = core_malloc(keep + 40);
    if (!out)
        return CORE_ENOMEM;
    memcpy(out, s, keep);
    snprintf(out + keep, 40, "~h:%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
    core_free(*id);
    *id = out;
    return CORE_OK;
}

core_err_t core_item_set(core_item_t *item, char **field, const char *s, size_t len)
{
    char *copy;
    size_t nbad = 0;

    if (core_utf8_valid(s, len, NULL) && !memchr(s, '\0', len)) {
        copy = core_malloc(len + 1);
        if (!copy)
            return CORE_ENOMEM;
        memcpy(copy, s, len);
        copy[len] = '\0';
    } else if (field == &item->id) {
        if (len > ((size_t)-1 - 1) / 3 || !(copy = escape_id(s, len, &nbad)))
            return CORE_ENOMEM;
    } else if (core_utf8_repair(s, len, &copy, NULL, &nbad) != CORE_OK) {
        return CORE_ENOMEM;
    }
    if (field == &item->id && strlen(copy) > CORE_ITEM_ID_MAX) {
        if (cap_id(&copy) != CORE_OK) {
            core_free(copy);
            return CORE_ENOMEM;
        }
        item->id_hashed = 1;
    }
    item->utf8_repaired += (unsigned)nbad;
    core_free(*field);
    *field = copy;
    return CORE_OK;
}

core_err_t core_item_add_entity(core_item_t *item, const char *ticker, size_t len)
{
    char *copy, **grown;

    if (len == 0 || item->n_entities >= MAX_ENTITIES)
        return CORE_OK;
    for (size_t i = 0; i < item->n_entities; i++) {
        if (strlen(item->entities[i]) == len && strncasecmp(item->entities[i], ticker, len) == 0)
            return CORE_OK;
    }
    copy = core_malloc(len + 1);
    if (!copy)
        return CORE_ENOMEM;
    for (size_t i = 0; i < len; i++)
        copy[i] = (char)toupper((unsigned char)ticker[i]);
    copy[len] = '\0';
    grown = core_realloc(item->entities, (item->n_entities + 1) * sizeof(char *));
    if (!grown) {
        core_free(copy);
        return CORE_ENOMEM;
    }
    item->entities = grown;
    item->entities[item->n_entities++] = copy;
    return CORE_OK;
}

static core_err_t scan_cashtags(core_item_t *item, const char *s)
{
    if (!s)
        return CORE_OK;
    for (const char *p = s; *p; p++) {
        size_t n = 0, m = 0;
        if (*p != '$' || (p > s && isalnum((unsigned char)p[-1])))
            continue;
        while (n < 7 && isalpha((unsigned char)p[1 + n]))
            n++;
        if (n < 1 || n > 6)
            continue;
        if ((p[1 + n] == '.' || p[1 + n] == '-') && isalpha((unsigned char)p[2 + n])) {
            while (m < 3 && isalpha((unsigned char)p[2 + n + m]))
                m++;
            if (m > 2)
                m = 0;
            else
                m += 1; /* include the separator */
        }
        if (isalnum((unsigned char)p[1 + n + m]))
            continue;
        core_err_t err = core_item_add_entity(item, p + 1, n + m);
        if (err)
            return err;
        p += n + m;
    }
    return CORE_OK;
}

core_err_t core_item_add_cashtags(core_item_t *item)
{
    core_err_t err = scan_cashtags(item, item->title);
    return err ? err : scan_cashtags(item, item->text);
}

void core_item_ack(core_item_t *item, core_err_t status)
{
    if (item->ack.fn) {
        void (*fn)(void *, const core_item_t *, core_err_t) = item->ack.fn;
        item->ack.fn = NULL;
        fn(item->ack.ctx, item, status);
    }
}

core_err_t core_tagged_new(core_item_t *item, core_tagged_t **out)
{
    core_tagged_t *t = core_calloc(1, sizeof *t);
    if (!t)
        return CORE_ENOMEM;
    t->item = item;
    t->sentiment = -1;
    *out = t;
    return CORE_OK;
}

void core_tagged_free(core_tagged_t *t)
{
    if (!t)
        return;
    core_item_free(t->item);
    core_free(t);
}
