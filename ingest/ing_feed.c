/*
 * ing_feed: see ing_feed.h. libxml2 builds a tree (recover mode, no network,
 * no entity substitution); we walk it by local name and namespace and gather
 * text from text/CDATA nodes only. HTML fragments go through
 * htmlReadMemory and the same kind of walk. All strings are bounded.
 */
#include "ingest/ing_feed.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_time.h"

#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_RSS1 "http://purl.org/rss/1.0/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"

/* Raw (markup-bearing) field text is bounded before HTML conversion too. */
#define RAW_FACTOR 8

/* ---- a bounded string buffer ------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap, max;
    int full, oom;
} sbuf;

static void sb_init(sbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->full || b->oom)
        return;
    if (b->n + len > b->max) {
        len = b->max - b->n;
        b->full = 1;
    }
    if (b->n + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + len + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

/* ---- node helpers -------------------------------------------------------- */

static int is_el(const xmlNode *n, const char *name, const char *ns)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return 0;
    if (!ns)
        return 1;
    if (strcmp(ns, "") == 0)
        return n->ns == NULL || n->ns->href == NULL;
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

/* raw_text gathers the text and CDATA of n's subtree (entity references are
 * NOT expanded). sep is added between element children (for xhtml). */
static void raw_text_rec(const xmlNode *n, sbuf *b, int sep, int depth)
{
    if (depth > 64)
        return;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            sb_add(b, (const char *)c->content, strlen((const char *)c->content));
        else if (c->type == XML_ELEMENT_NODE) {
            if (sep)
                sb_add(b, " ", 1);
            raw_text_rec(c, b, sep, depth + 1);
            if (sep)
                sb_add(b, " ", 1);
        }
    }
}

static char *raw_text(const xmlNode *n, size_t max, int sep)
{
    sbuf b;
    sb_init(&b, max);
    raw_text_rec(n, &b, sep, 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : strdup("");
}

static char *trim_dup(const char *s)
{
    const char *e;
    if (!s)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e == s)
        return NULL;
    return strndup(s, (size_t)(e - s));
}

/* ---- HTML to text ------------------------------------------------------------ */

static int is_block(const char *name)
{
    static const char *const blocks[] = {"p",  "br",      "div",     "li",         "ul",  "ol",
                                         "tr", "td",      "th",      "h1",         "h2",  "h3",
                                         "h4", "h5",      "h6",      "blockquote", "pre", "table",
                                         "hr", "section", "article", "dd",         "dt"};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (strcmp(name, blocks[i]) == 0)
            return 1;
    return 0;
}

static void html_walk(const xmlNode *n, sbuf *b, int depth)
{
    if (depth > 256)
        return;
    for (const xmlNode *c = n; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            sb_add(b, (const char *)c->content, strlen((const char *)c->content));
        } else if (c->type == XML_ELEMENT_NODE) {
            const char *name = (const char *)c->name;
            if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)
                continue;
            int block = is_block(name);
            if (block)
                sb_add(b, " ", 1);
            html_walk(c->children, b, depth + 1);
            if (block)
                sb_add(b, " ", 1);
        }
    }
}

/* squeeze collapses white space (ASCII and U+00A0) to single spaces, trims,
 * and cuts at max bytes on a character boundary, in place. */
static size_t squeeze(char *s, size_t n, size_t max)
{
    size_t o = 0;
    int space = 1; /* drop leading space */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ws = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
        if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) {
            ws = 1;
            i++;
        }
        if (ws) {
            if (!space)
                s[o++] = ' ';
            space = 1;
        } else {
            s[o++] = (char)c;
            space = 0;
        }
    }
    while (o > 0 && s[o - 1] == ' ')
        o--;
    if (o > max) {
        o = max;
        while (o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80)
            o--; /* s[o] is a continuation byte: back up to the lead byte */
        while (o > 0 && s[o - 1] == ' ')
            o--;
    }
    s[o] = '\0';
    return o;
}

core_err_t ing_feed_html_text(const char *html, size_t len, size_t max_bytes, char **out)
{
    sbuf b;
    htmlDocPtr doc;

    *out = NULL;
    if (len > INT_MAX)
        return CORE_ETOO_LARGE;
    sb_init(&b, max_bytes * 2 + 64);
    if (!memchr(html, '<', len) && !memchr(html, '&', len)) {
        sb_add(&b, html, len); /* nothing to parse */
    } else {
        doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                             HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                                 HTML_PARSE_NOWARNING | HTML_PARSE_NOIMPLIED | HTML_PARSE_COMPACT);
        if (doc) {
            html_walk(doc->children, &b, 0);
            xmlFreeDoc(doc);
        }
    }
    if (b.oom) {
        free(b.p);
        return CORE_ENOMEM;
    }
    if (!b.p || squeeze(b.p, b.n, max_bytes) == 0) {
        free(b.p);
        return CORE_OK;
    }
    *out = b.p;
    return CORE_OK;
}

/* ---- items --------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *p)
{
    for (; p && *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
}

typedef struct fields {
    const xmlNode *title, *desc, *content, *link, *guid, *date, *updated, *id;
    char *about;     /* rdf:about */
    char *link_href; /* Atom */
    int link_alt;
    int atom; /* Atom text constructs default to type="text" */
} fields;

static void item_free(ing_feed_item_t *it)
{
    free(it->id);
    free(it->title);
    free(it->text);
    free(it->url);
    memset(it, 0, sizeof *it);
}

static core_err_t field_text(const xmlNode *n, size_t max, int html, char **out)
{
    char *raw, *type;
    core_err_t rc;
    int xhtml = 0;

    *out = NULL;
    if (!n)
        return CORE_OK;
    type = (char *)xmlGetProp(n, (const xmlChar *)"type");
    if (type) {
        xhtml = strcmp(type, "xhtml") == 0;
        if (strcmp(type, "text") == 0)
            html = 0;
        else if (strcmp(type, "html") == 0 || xhtml || strstr(type, "html"))
            html = 1;
        xmlFree(type);
    }
    raw = raw_text(n, max * RAW_FACTOR + 1024, xhtml);
    if (!raw)
        return CORE_ENOMEM;
    if (html || xhtml) {
        rc = ing_feed_html_text(raw, strlen(raw), max, out);
    } else {
        size_t len = squeeze(raw, strlen(raw), max);
        rc = CORE_OK;
        if (len > 0) {
            *out = raw;
            raw = NULL;
        }
    }
    free(raw);
    return rc;
}

/* build_item turns the collected fields into an item. Returns CORE_OK with
 * it->id NULL when the item has neither title nor text (skip it). */
static core_err_t build_item(const fields *f, const ing_feed_limits_t *lim, ing_feed_item_t *it)
{
    core_err_t rc;
    char *s = NULL, *date_text = NULL;
    const xmlNode *date = f->date ? f->date : f->updated;

    memset(it, 0, sizeof *it);
    rc = field_text(f->title, lim->max_text_bytes, !f->atom, &it->title);
    if (rc == CORE_OK)
        rc = field_text(f->desc ? f->desc : f->content, lim->max_text_bytes, !f->atom, &it->text);
    if (rc != CORE_OK)
        goto fail;
    if (!it->title && !it->text)
        return CORE_OK;

    if (f->link_href) {
        it->url = trim_dup(f->link_href);
    } else if (f->link) {
        s = raw_text(f->link, 8192, 0);
        it->url = trim_dup(s);
        free(s);
        s = NULL;
    }
    if (date) {
        date_text = raw_text(date, 256, 0);
        char *t = trim_dup(date_text);
        int64_t ms;
        if (t && core_time_parse_any(t, &ms) == CORE_OK)
            it->event_ms = ms;
        free(t);
    }
    if (f->guid || f->id) {
        s = raw_text(f->guid ? f->guid : f->id, 8192, 0);
        it->id = trim_dup(s);
        free(s);
    }
    if (!it->id && f->about)
        it->id = trim_dup(f->about);
    if (!it->id && it->url)
        it->id = strdup(it->url);
    if (!it->id) {
        char h[24];
        uint64_t x = fnv1a(1469598103934665603ULL, it->title);
        x = fnv1a(x, "\n");
        x = fnv1a(x, date_text);
        snprintf(h, sizeof h, "h:%016llx", (unsigned long long)x);
        it->id = strdup(h);
    }
    free(date_text);
    if (!it->id) {
        rc = CORE_ENOMEM;
        goto fail;
    }
    return CORE_OK;
fail:
    free(date_text);
    item_free(it);
    return rc;
}

static void collect_rss(const xmlNode *item, fields *f, int rss1)
{
    const char *ns = rss1 ? NS_RSS1 : "";
    memset(f, 0, sizeof *f);
    if (rss1)
        f->about = (char *)xmlGetNsProp(item, (const xmlChar *)"about", (const xmlChar *)NS_RDF);
    for (const xmlNode *c = item->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!f->title && is_el(c, "title", ns))
            f->title = c;
        else if (!f->desc && is_el(c, "description", ns))
            f->desc = c;
        else if (!f->content && is_el(c, "encoded", NS_CONTENT))
            f->content = c;
        else if (!f->link && is_el(c, "link", ns))
            f->link = c;
        else if (!f->guid && !rss1 && is_el(c, "guid", ""))
            f->guid = c;
        else if (!f->date && !rss1 && is_el(c, "pubDate", ""))
            f->date = c;
        else if (!f->updated && is_el(c, "date", NS_DC))
            f->updated = c;
    }
}

static void collect_atom(const xmlNode *entry, fields *f)
{
    memset(f, 0, sizeof *f);
    f->atom = 1;
    for (const xmlNode *c = entry->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!f->title && is_el(c, "title", NS_ATOM))
            f->title = c;
        else if (!f->desc && is_el(c, "summary", NS_ATOM))
            f->desc = c;
        else if (!f->content && is_el(c, "content", NS_ATOM))
            f->content = c;
        else if (!f->id && is_el(c, "id", NS_ATOM))
            f->id = c;
        else if (!f->date && is_el(c, "published", NS_ATOM))
            f->date = c;
        else if (!f->updated && is_el(c, "updated", NS_ATOM))
            f->updated = c;
        else if (is_el(c, "link", NS_ATOM) && !f->link_alt) {
            char *rel = (char *)xmlGetProp(c, (const xmlChar *)"rel");
            char *href = (char *)xmlGetProp(c, (const xmlChar *)"href");
            int alt = !rel || strcmp(rel, "alternate") == 0;
            if (href && (alt || !f->link_href)) {
                if (f->link_href)
                    xmlFree(f->link_href);
                f->link_href = href;
                href = NULL;
                f->link_alt = alt;
            }
            if (rel)
                xmlFree(rel);
            if (href)
                xmlFree(href);
        }
    }
}

static void fields_cleanup(fields *f)
{
    if (f->about)
        xmlFree(f->about);
    if (f->link_href)
        xmlFree(f->link_href);
}

static core_err_t add_item(ing_feed_t *feed, const fields *f, const ing_feed_limits_t *lim,
                           size_t *cap)
{
    ing_feed_item_t it;
    core_err_t rc;

    if (feed->n >= lim->max_items) {
        feed->skipped++;
        return CORE_OK;
    }
    rc = build_item(f, lim, &it);
    if (rc != CORE_OK)
        return rc;
    if (!it.id) {
        feed->skipped++;
        return CORE_OK;
    }
    if (feed->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        ing_feed_item_t *np = realloc(feed->items, ncap * sizeof *np);
        if (!np) {
            item_free(&it);
            return CORE_ENOMEM;
        }
        feed->items = np;
        *cap = ncap;
    }
    feed->items[feed->n++] = it;
    return CORE_OK;
}

/* walk_items visits the item/entry elements under parent. */
static core_err_t walk_items(ing_feed_t *feed, const xmlNode *parent, const ing_feed_limits_t *lim,
                             size_t *cap)
{
    core_err_t rc = CORE_OK;
    for (const xmlNode *c = parent->children; c && rc == CORE_OK; c = c->next) {
        fields f;
        if (feed->kind == ING_FEED_ATOM && is_el(c, "entry", NS_ATOM))
            collect_atom(c, &f);
        else if (feed->kind == ING_FEED_RSS1 && is_el(c, "item", NS_RSS1))
            collect_rss(c, &f, 1);
        else if (feed->kind == ING_FEED_RSS2 && is_el(c, "item", NULL))
            collect_rss(c, &f, 0);
        else
            continue;
        rc = add_item(feed, &f, lim, cap);
        fields_cleanup(&f);
    }
    return rc;
}

void ing_feed_init(void)
{
    xmlInitParser();
}

core_err_t ing_feed_parse(const char *buf, size_t len, const ing_feed_limits_t *limits,
                          ing_feed_t **out, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    const xmlNode *root;
    ing_feed_t *feed = NULL;
    core_err_t rc = CORE_OK;
    size_t cap = 0;
    const xmlError *xe;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (len > INT_MAX) {
        snprintf(err, errlen, "feed of %zu bytes is too large to parse", len);
        return CORE_ETOO_LARGE;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return CORE_ENOMEM;
    doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    xe = xmlCtxtGetLastError(ctxt);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        snprintf(err, errlen, "not XML: %s", xe && xe->message ? xe->message : "no root element");
        /* libxml2 messages end with a newline */
        if (err && errlen && strlen(err) && err[strlen(err) - 1] == '\n')
            err[strlen(err) - 1] = '\0';
        rc = CORE_EPARSE;
        goto done;
    }
    feed = calloc(1, sizeof *feed);
    if (!feed) {
        rc = CORE_ENOMEM;
        goto done;
    }
    if (!ctxt->wellFormed) {
        feed->recovered = 1;
        snprintf(feed->note, sizeof feed->note, "line %d: %s", xe ? xe->line : 0,
                 xe && xe->message ? xe->message : "not well-formed");
        size_t nl = strlen(feed->note);
        if (nl && feed->note[nl - 1] == '\n')
            feed->note[nl - 1] = '\0';
    }
    if (is_el(root, "feed", NS_ATOM)) {
        const xmlNode *t;
        feed->kind = ING_FEED_ATOM;
        for (t = root->children; t && !is_el(t, "title", NS_ATOM); t = t->next)
            ;
        if (t)
            rc = field_text(t, limits->max_text_bytes, 0, &feed->title);
        if (rc == CORE_OK)
            rc = walk_items(feed, root, limits, &cap);
    } else if (is_el(root, "RDF", NS_RDF)) {
        feed->kind = ING_FEED_RSS1;
        for (const xmlNode *c = root->children; c && rc == CORE_OK; c = c->next)
            if (is_el(c, "channel", NS_RSS1)) {
                for (const xmlNode *t = c->children; t; t = t->next)
                    if (is_el(t, "title", NS_RSS1) && !feed->title) {
                        rc = field_text(t, limits->max_text_bytes, 1, &feed->title);
                        break;
                    }
                /* Some RDF feeds nest items in the channel. */
                if (rc == CORE_OK)
                    rc = walk_items(feed, c, limits, &cap);
            }
        if (rc == CORE_OK)
            rc = walk_items(feed, root, limits, &cap);
    } else if (is_el(root, "rss", NULL)) {
        feed->kind = ING_FEED_RSS2;
        for (const xmlNode *c = root->children; c && rc == CORE_OK; c = c->next)
            if (is_el(c, "channel", NULL)) {
                for (const xmlNode *t = c->children; t; t = t->next)
                    if (is_el(t, "title", NULL) && !feed->title) {
                        rc = field_text(t, limits->max_text_bytes, 1, &feed->title);
                        break;
                    }
                if (rc == CORE_OK)
                    rc = walk_items(feed, c, limits, &cap);
            }
    } else {
        snprintf(err, errlen, "not an RSS or Atom feed: root element <%s>%s%s",
                 (const char *)root->name, root->ns && root->ns->href ? " in namespace " : "",
                 root->ns && root->ns->href ? (const char *)root->ns->href : "");
        rc = CORE_EPARSE;
    }
done:
    if (rc != CORE_OK) {
        ing_feed_free(feed);
        feed = NULL;
    }
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    *out = feed;
    return rc;
}

void ing_feed_free(ing_feed_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        item_free(&f->items[i]);
    free(f->items);
    free(f->title);
    free(f);
}
