/*
 * ing_feed: see ing_feed.h. ing_charset turns the bytes into UTF-8; then
 * either jansson reads a JSON Feed, or libxml2 builds a tree (recover mode,
 * no network, no entity substitution, the declared encoding ignored since
 * the text is UTF-8 by now) that we walk by local name and namespace,
 * gathering text from text/CDATA nodes only. HTML fragments go through
 * htmlReadMemory and the same kind of walk. All strings are bounded.
 */
#include "ingest/ing_feed.h"

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_hash.h"
#include "core/core_time.h"
#include "core/core_utf8.h"
#include "ingest/ing_charset.h"

#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_RSS1 "http://purl.org/rss/1.0/"
#define NS_RSS090 "http://my.netscape.com/rdf/simple/0.9/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS "http://purl.org/dc/terms/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_XHTML "http://www.w3.org/1999/xhtml"
#define NS_ITUNES "http://www.itunes.com/dtds/podcast-1.0.dtd"
#define JSONFEED_VERSION "https://jsonfeed.org/version/"

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

/* add_entity: a reference to an entity the document does not declare
 * (&eacute; in an RSS 0.91 feed whose DTD is not loaded) becomes the
 * character HTML gives that name. Declared entities are never expanded. */
static void add_entity(const xmlNode *c, sbuf *b)
{
    const htmlEntityDesc *e;
    unsigned v;
    char u[4];
    size_t n;

    if (!c->name || (c->doc && xmlGetDocEntity(c->doc, c->name)))
        return;
    e = htmlEntityLookup(c->name);
    if (!e)
        return;
    v = e->value;
    if (v < 0x80) {
        u[0] = (char)v;
        n = 1;
    } else if (v < 0x800) {
        u[0] = (char)(0xC0 | (v >> 6));
        u[1] = (char)(0x80 | (v & 0x3F));
        n = 2;
    } else {
        u[0] = (char)(0xE0 | (v >> 12));
        u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[2] = (char)(0x80 | (v & 0x3F));
        n = 3;
    }
    sb_add(b, u, n);
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
        else if (c->type == XML_ENTITY_REF_NODE)
            add_entity(c, b);
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
        } else if (c->type == XML_ENTITY_REF_NODE) {
            add_entity(c, b);
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

/* How a text construct is read. */
enum { TXT_DEFAULT = 0, TXT_TEXT, TXT_HTML, TXT_XHTML };

typedef struct pctx {
    ing_feed_t *feed;
    const ing_feed_limits_t *lim;
    size_t cap;
    const char *ns; /* namespace of the format's own elements; "" for none */
    const char *base_url;
} pctx;

/* The elements of one item that matter, first occurrence of each. */
typedef struct fields {
    const xmlNode *title, *desc, *content, *link, *guid, *id;
    const xmlNode *dc_title, *atom_title, *atom_summary, *atom_content, *body, *dc_desc,
        *itunes_summary;
    const xmlNode *date[8]; /* in order of preference, see DATE_* */
    const xmlNode *link_node; /* the Atom link element chosen */
    char *about;              /* rdf:about */
    char *link_href;          /* Atom (or atom:link in RSS) */
    int link_alt;
    int atom; /* 0 RSS, 1 Atom 1.0, 2 Atom 0.3 */
} fields;

enum {
    DATE_PUB = 0, /* pubDate; Atom 1.0 published; Atom 0.3 issued */
    DATE_DC,      /* dc:date; Atom 0.3 modified */
    DATE_ISSUED,  /* dcterms:issued; Atom 0.3 created */
    DATE_CREATED, /* dcterms:created */
    DATE_APUB,    /* atom:published in RSS */
    DATE_MODIFIED, /* dcterms:modified */
    DATE_AUPD,    /* Atom updated (1.0, or inside RSS) */
    DATE__N
};

static void item_free(ing_feed_item_t *it)
{
    free(it->id);
    free(it->title);
    free(it->text);
    free(it->url);
    memset(it, 0, sizeof *it);
}

/* base64 decodes s in place (white space skipped); returns the length, or
 * (size_t)-1 when s is not base64. */
static size_t base64_decode(char *s)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = s; *p; p++) {
        const char *k;
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (*p == '=')
            break;
        if (!(k = strchr(A, *p)))
            return (size_t)-1;
        acc = (acc << 6) | (unsigned)(k - A);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    s[o] = '\0';
    return o;
}

/* text_mode reads an element's type= (and Atom 0.3 mode=). */
static int text_mode(const xmlNode *n, int dflt, int *base64)
{
    char *type = (char *)xmlGetProp(n, (const xmlChar *)"type");
    char *mode = (char *)xmlGetProp(n, (const xmlChar *)"mode");
    int m = dflt;

    *base64 = 0;
    if (type) {
        if (strcmp(type, "xhtml") == 0 || strstr(type, "xhtml"))
            m = TXT_XHTML;
        else if (strcmp(type, "text") == 0 || strcmp(type, "text/plain") == 0)
            m = TXT_TEXT;
        else if (strcmp(type, "html") == 0 || strstr(type, "html"))
            m = TXT_HTML;
        else if (strncmp(type, "text/", 5) == 0)
            m = TXT_TEXT;
        xmlFree(type);
    }
    if (mode) {
        if (strcmp(mode, "xml") == 0)
            m = TXT_XHTML;
        else if (strcmp(mode, "base64") == 0)
            *base64 = 1;
        else if (strcmp(mode, "escaped") == 0 && m == TXT_XHTML)
            m = TXT_HTML; /* escaped xhtml is markup in text */
        xmlFree(mode);
    }
    return m;
}

/* field_text converts a text construct to plain text (*out, NULL when
 * empty). dflt: the format's default reading (RSS: HTML; Atom: text). */
static core_err_t field_text(const xmlNode *n, size_t max, int dflt, char **out)
{
    char *raw;
    core_err_t rc = CORE_OK;
    int base64, mode;

    *out = NULL;
    if (!n)
        return CORE_OK;
    mode = text_mode(n, dflt, &base64);
    if (mode == TXT_XHTML && !base64) {
        /* The text of the child nodes: entities were decoded once by the XML
         * parser; markup in that text is text, not a second layer of HTML. */
        sbuf b;
        sb_init(&b, max * RAW_FACTOR + 1024);
        html_walk(n->children, &b, 0);
        if (b.oom) {
            free(b.p);
            return CORE_ENOMEM;
        }
        if (b.p && squeeze(b.p, b.n, max) > 0)
            *out = b.p;
        else
            free(b.p);
        return CORE_OK;
    }
    raw = raw_text(n, max * RAW_FACTOR + 1024, 0);
    if (!raw)
        return CORE_ENOMEM;
    if (base64) {
        size_t bl = base64_decode(raw);
        if (bl == (size_t)-1 || !core_utf8_valid(raw, bl, NULL) || memchr(raw, '\0', bl)) {
            free(raw); /* not base64 of UTF-8 text: nothing usable */
            return CORE_OK;
        }
    }
    if (mode == TXT_HTML || mode == TXT_XHTML) {
        rc = ing_feed_html_text(raw, strlen(raw), max, out);
    } else if (squeeze(raw, strlen(raw), max) > 0) {
        *out = raw;
        raw = NULL;
    }
    free(raw);
    return rc;
}

/* has_scheme: an absolute URI starts with scheme ":". */
static int has_scheme(const char *u)
{
    const char *p = u;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':';
}

/* resolve makes a relative link absolute against the xml:base in scope at
 * node (xmlNodeGetBase also falls back to the document's URL) or, without a
 * node, against base. Returns a malloc'd string; the link itself when it is
 * absolute or cannot be resolved. */
static char *resolve(const xmlNode *node, const char *base, const char *link)
{
    xmlChar *b = NULL, *r = NULL;
    char *out;

    if (!link || has_scheme(link))
        return link ? strdup(link) : NULL;
    if (node)
        b = xmlNodeGetBase(node->doc, node);
    r = xmlBuildURI((const xmlChar *)link, b ? b : (const xmlChar *)base);
    out = strdup(r && has_scheme((const char *)r) ? (const char *)r : link);
    xmlFree(b);
    xmlFree(r);
    return out;
}

/* date_text_of: the first date that parses into *ms (*set 1; 1970 is a
 * date like any other), and its text. */
static char *date_text_of(const fields *f, int64_t *ms, int *set)
{
    *ms = 0;
    *set = 0;
    for (int i = 0; i < DATE__N; i++) {
        if (!f->date[i])
            continue;
        char *raw = raw_text(f->date[i], 256, 0), *t = trim_dup(raw);
        free(raw);
        if (t && core_time_parse_any(t, ms) == CORE_OK) {
            *set = 1;
            return t;
        }
        *ms = 0;
        free(t); /* unparseable: try the next one */
    }
    /* none parsed: the first one's text still identifies the item */
    for (int i = 0; i < DATE__N; i++)
        if (f->date[i]) {
            char *raw = raw_text(f->date[i], 256, 0), *t = trim_dup(raw);
            free(raw);
            return t;
        }
    return NULL;
}

/* build_item turns the collected fields into an item. Returns CORE_OK with
 * it->id NULL when the item has neither title nor text (skip it). */
static core_err_t build_item(const pctx *c, const fields *f, ing_feed_item_t *it)
{
    core_err_t rc;
    char *s = NULL, *date_text = NULL;
    size_t max = c->lim->max_text_bytes;
    int dflt = f->atom ? TXT_TEXT : TXT_HTML;
    const xmlNode *title = f->title ? f->title : f->dc_title ? f->dc_title : f->atom_title;
    const xmlNode *texts[] = {f->desc,         f->content, f->atom_summary, f->atom_content,
                              f->body,         f->dc_desc, f->itunes_summary};

    memset(it, 0, sizeof *it);
    rc = field_text(title, max, title == f->title ? dflt : title == f->atom_title ? TXT_TEXT
                                                                                   : TXT_HTML,
                    &it->title);
    for (size_t i = 0; rc == CORE_OK && !it->text && i < sizeof texts / sizeof texts[0]; i++) {
        int d = dflt;
        if (texts[i] == f->atom_summary || texts[i] == f->atom_content)
            d = TXT_TEXT;
        else if (texts[i] == f->body)
            d = TXT_XHTML;
        rc = field_text(texts[i], max, d, &it->text);
    }
    if (rc != CORE_OK)
        goto out;
    if (!it->title && !it->text)
        return CORE_OK;

    if (f->link_href) {
        s = trim_dup(f->link_href);
        it->url = resolve(f->link_node, c->base_url, s);
    } else if (f->link) {
        char *raw = raw_text(f->link, 8192, 0);
        s = trim_dup(raw);
        free(raw);
        it->url = resolve(f->link, c->base_url, s);
    } else if (f->guid) {
        /* A permalink guid is the item's link (isPermaLink defaults to true). */
        char *pl = (char *)xmlGetProp(f->guid, (const xmlChar *)"isPermaLink");
        char *raw = raw_text(f->guid, 8192, 0);
        s = trim_dup(raw);
        free(raw);
        if (s && (!pl || strcmp(pl, "false") != 0) &&
            (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0))
            it->url = strdup(s);
        if (pl)
            xmlFree(pl);
    }
    free(s);
    s = NULL;
    date_text = date_text_of(f, &it->event_ms, &it->event_set);
    if (f->guid || f->id) {
        char *raw = raw_text(f->guid ? f->guid : f->id, 8192, 0);
        it->id = trim_dup(raw);
        free(raw);
    }
    if (!it->id && f->about)
        it->id = trim_dup(f->about);
    if (!it->id && it->url)
        it->id = strdup(it->url);
    if (!it->id) {
        char h[CORE_HASH_ID_SIZE];
        uint64_t x = core_fnv64_str(CORE_FNV64_BASIS, it->title);
        x = core_fnv64_str(x, "\n");
        x = core_fnv64_str(x, date_text);
        core_hash_id(h, x);
        it->id = strdup(h);
    }
    if (!it->id)
        rc = CORE_ENOMEM;
out:
    free(date_text); /* freed once: before, a failed id strdup freed it twice */
    if (rc != CORE_OK)
        item_free(it);
    return rc;
}

/* atom_link keeps the first rel="alternate" (or rel-less) link, else the
 * first link with an href. */
static void atom_link(const xmlNode *c, fields *f)
{
    char *rel, *href;
    if (f->link_alt)
        return;
    rel = (char *)xmlGetProp(c, (const xmlChar *)"rel");
    href = (char *)xmlGetProp(c, (const xmlChar *)"href");
    int alt = !rel || strcmp(rel, "alternate") == 0;
    if (href && (alt || !f->link_href)) {
        if (f->link_href)
            xmlFree(f->link_href);
        f->link_href = href;
        f->link_node = c;
        href = NULL;
        f->link_alt = alt;
    }
    if (rel)
        xmlFree(rel);
    if (href)
        xmlFree(href);
}

#define FIRST(slot, cond)                                                                          \
    if (!(slot) && (cond)) {                                                                       \
        (slot) = c;                                                                                \
        continue;                                                                                  \
    }

static void collect_rss(const pctx *x, const xmlNode *item, fields *f, int rdf)
{
    const char *ns = x->ns;
    memset(f, 0, sizeof *f);
    if (rdf)
        f->about = (char *)xmlGetNsProp(item, (const xmlChar *)"about", (const xmlChar *)NS_RDF);
    for (const xmlNode *c = item->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        FIRST(f->title, is_el(c, "title", ns));
        FIRST(f->desc, is_el(c, "description", ns));
        FIRST(f->content, is_el(c, "encoded", NS_CONTENT));
        FIRST(f->link, is_el(c, "link", ns));
        FIRST(f->guid, !rdf && is_el(c, "guid", ns));
        FIRST(f->date[DATE_PUB], !rdf && is_el(c, "pubDate", ns));
        FIRST(f->date[DATE_DC], is_el(c, "date", NS_DC));
        FIRST(f->date[DATE_ISSUED], is_el(c, "issued", NS_DCTERMS));
        FIRST(f->date[DATE_CREATED], is_el(c, "created", NS_DCTERMS));
        FIRST(f->date[DATE_MODIFIED], is_el(c, "modified", NS_DCTERMS));
        FIRST(f->date[DATE_APUB], is_el(c, "published", NS_ATOM));
        FIRST(f->date[DATE_AUPD], is_el(c, "updated", NS_ATOM));
        FIRST(f->dc_title, is_el(c, "title", NS_DC));
        FIRST(f->dc_desc, is_el(c, "description", NS_DC));
        FIRST(f->atom_title, is_el(c, "title", NS_ATOM));
        FIRST(f->atom_summary, is_el(c, "summary", NS_ATOM));
        FIRST(f->atom_content, is_el(c, "content", NS_ATOM));
        FIRST(f->body, is_el(c, "body", NS_XHTML) || is_el(c, "body", ""));
        FIRST(f->itunes_summary, is_el(c, "summary", NS_ITUNES));
        if (is_el(c, "link", NS_ATOM))
            atom_link(c, f);
    }
}

static void collect_atom(const pctx *x, const xmlNode *entry, fields *f, int v03)
{
    const char *ns = x->ns;
    memset(f, 0, sizeof *f);
    f->atom = v03 ? 2 : 1;
    for (const xmlNode *c = entry->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        FIRST(f->title, is_el(c, "title", ns));
        FIRST(f->desc, is_el(c, "summary", ns));
        FIRST(f->content, is_el(c, "content", ns));
        FIRST(f->id, is_el(c, "id", ns));
        FIRST(f->date[DATE_PUB], is_el(c, v03 ? "issued" : "published", ns));
        FIRST(f->date[DATE_DC], v03 && is_el(c, "modified", ns));
        FIRST(f->date[DATE_ISSUED], v03 && is_el(c, "created", ns));
        FIRST(f->date[DATE_AUPD], !v03 && is_el(c, "updated", ns));
        FIRST(f->date[DATE_CREATED], is_el(c, "date", NS_DC));
        FIRST(f->dc_title, is_el(c, "title", NS_DC));
        FIRST(f->dc_desc, is_el(c, "description", NS_DC));
        if (is_el(c, "link", ns))
            atom_link(c, f);
    }
}

static void fields_cleanup(fields *f)
{
    if (f->about)
        xmlFree(f->about);
    if (f->link_href)
        xmlFree(f->link_href);
}

/* push appends a built item (taking it) unless the limit is reached. */
static core_err_t push(pctx *c, ing_feed_item_t *it)
{
    ing_feed_t *feed = c->feed;
    if (feed->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        ing_feed_item_t *np = realloc(feed->items, ncap * sizeof *np);
        if (!np) {
            item_free(it);
            return CORE_ENOMEM;
        }
        feed->items = np;
        c->cap = ncap;
    }
    feed->items[feed->n++] = *it;
    return CORE_OK;
}

static core_err_t add_item(pctx *c, const fields *f)
{
    ing_feed_item_t it;
    core_err_t rc;

    if (c->feed->n >= c->lim->max_items) {
        c->feed->skipped++;
        return CORE_OK;
    }
    rc = build_item(c, f, &it);
    if (rc != CORE_OK)
        return rc;
    if (!it.id) {
        c->feed->skipped++;
        return CORE_OK;
    }
    return push(c, &it);
}

/* walk_items visits the item/entry elements directly under parent. */
static core_err_t walk_items(pctx *c, const xmlNode *parent)
{
    ing_feed_t *feed = c->feed;
    core_err_t rc = CORE_OK;
    for (const xmlNode *n = parent->children; n && rc == CORE_OK; n = n->next) {
        fields f;
        if ((feed->kind == ING_FEED_ATOM || feed->kind == ING_FEED_ATOM03) &&
            is_el(n, "entry", c->ns))
            collect_atom(c, n, &f, feed->kind == ING_FEED_ATOM03);
        else if ((feed->kind == ING_FEED_RSS1 || feed->kind == ING_FEED_RSS090) &&
                 is_el(n, "item", c->ns))
            collect_rss(c, n, &f, 1);
        else if (feed->kind == ING_FEED_RSS2 && is_el(n, "item", c->ns))
            collect_rss(c, n, &f, 0);
        else
            continue;
        rc = add_item(c, &f);
        fields_cleanup(&f);
    }
    return rc;
}

/* count_item_like counts <item> and <entry> elements anywhere. */
static size_t count_item_like(const xmlNode *n, int depth)
{
    size_t k = 0;
    if (depth > 64)
        return 0;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)n->name, "item") == 0 || strcmp((const char *)n->name, "entry") == 0)
            k++;
        else
            k += count_item_like(n->children, depth + 1);
    }
    return k;
}

static const char *ns_of(const xmlNode *n)
{
    return n && n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

/* channel_title reads the title child of parent (the feed's own title). */
static core_err_t channel_title(pctx *c, const xmlNode *parent, int dflt)
{
    for (const xmlNode *t = parent->children; t; t = t->next)
        if (is_el(t, "title", c->ns))
            return c->feed->title ? CORE_OK
                                  : field_text(t, c->lim->max_text_bytes, dflt, &c->feed->title);
    return CORE_OK;
}

static core_err_t parse_tree(pctx *c, const xmlNode *root, char *err, size_t errlen)
{
    ing_feed_t *feed = c->feed;
    core_err_t rc = CORE_OK;
    const char *rns = ns_of(root);

    if (is_el(root, "feed", NULL) &&
        (strcmp(rns, NS_ATOM) == 0 || strcmp(rns, NS_ATOM03) == 0 || rns[0] == '\0')) {
        feed->kind = strcmp(rns, NS_ATOM03) == 0 ? ING_FEED_ATOM03 : ING_FEED_ATOM;
        c->ns = rns;
        rc = channel_title(c, root, TXT_TEXT);
        if (rc == CORE_OK)
            rc = walk_items(c, root);
    } else if (is_el(root, "RDF", NS_RDF)) {
        /* The items' namespace tells RSS 1.0 from Netscape's RSS 0.90. */
        c->ns = NS_RSS1;
        for (const xmlNode *n = root->children; n; n = n->next)
            if (n->type == XML_ELEMENT_NODE && (is_el(n, "channel", NULL) || is_el(n, "item", NULL)) &&
                strcmp(ns_of(n), NS_RDF) != 0) {
                c->ns = ns_of(n);
                break;
            }
        feed->kind = strcmp(c->ns, NS_RSS090) == 0 ? ING_FEED_RSS090 : ING_FEED_RSS1;
        for (const xmlNode *n = root->children; n && rc == CORE_OK; n = n->next)
            if (is_el(n, "channel", c->ns)) {
                rc = channel_title(c, n, TXT_HTML);
                if (rc == CORE_OK) /* some RDF feeds nest the items in the channel */
                    rc = walk_items(c, n);
            }
        if (rc == CORE_OK)
            rc = walk_items(c, root);
    } else if (is_el(root, "rss", NULL)) {
        /* RSS 0.9x/2.0; the Userland namespace too: children share the root's. */
        feed->kind = ING_FEED_RSS2;
        c->ns = rns;
        for (const xmlNode *n = root->children; n && rc == CORE_OK; n = n->next)
            if (is_el(n, "channel", c->ns)) {
                rc = channel_title(c, n, TXT_HTML);
                if (rc == CORE_OK)
                    rc = walk_items(c, n);
            }
        if (rc == CORE_OK) /* a title and items outside <channel> */
            rc = channel_title(c, root, TXT_HTML);
        if (rc == CORE_OK)
            rc = walk_items(c, root);
    } else {
        snprintf(err, errlen, "not an RSS, Atom or JSON feed: root element <%s>%s%s",
                 (const char *)root->name, rns[0] ? " in namespace " : "", rns);
        return CORE_EPARSE;
    }
    if (rc == CORE_OK)
        feed->item_like = count_item_like(root, 0);
    return rc;
}

/* ---- JSON Feed --------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* json_text converts a JSON Feed string field (plain text or HTML). */
static core_err_t json_text(const char *s, size_t max, int html, char **out)
{
    char *t;
    *out = NULL;
    if (!s)
        return CORE_OK;
    if (html)
        return ing_feed_html_text(s, strlen(s), max, out);
    t = strndup(s, max * RAW_FACTOR + 1024);
    if (!t)
        return CORE_ENOMEM;
    if (squeeze(t, strlen(t), max) == 0) {
        free(t);
        return CORE_OK;
    }
    *out = t;
    return CORE_OK;
}

static core_err_t json_item(pctx *c, json_t *o, const char *base)
{
    ing_feed_item_t it;
    core_err_t rc;
    size_t max = c->lim->max_text_bytes;
    const char *date, *link;
    json_t *id = json_object_get(o, "id");

    memset(&it, 0, sizeof it);
    if (c->feed->n >= c->lim->max_items) {
        c->feed->skipped++;
        return CORE_OK;
    }
    rc = json_text(jstr(o, "title"), max, 0, &it.title);
    if (rc == CORE_OK)
        rc = json_text(jstr(o, "summary"), max, 0, &it.text);
    if (rc == CORE_OK && !it.text)
        rc = json_text(jstr(o, "content_text"), max, 0, &it.text);
    if (rc == CORE_OK && !it.text)
        rc = json_text(jstr(o, "content_html"), max, 1, &it.text);
    if (rc != CORE_OK)
        goto out;
    if (!it.title && !it.text) {
        c->feed->skipped++;
        return CORE_OK;
    }
    link = jstr(o, "url") ? jstr(o, "url") : jstr(o, "external_url");
    if (link) {
        char *t = trim_dup(link);
        it.url = resolve(NULL, base, t);
        free(t);
    }
    date = jstr(o, "date_published") ? jstr(o, "date_published") : jstr(o, "date_modified");
    if (date) {
        char *t = trim_dup(date);
        if (t && core_time_parse_any(t, &it.event_ms) == CORE_OK)
            it.event_set = 1;
        else
            it.event_ms = 0;
        free(t);
    }
    if (json_is_string(id)) {
        it.id = trim_dup(json_string_value(id));
    } else if (json_is_integer(id)) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
        it.id = strdup(num);
    }
    if (!it.id && it.url)
        it.id = strdup(it.url);
    if (!it.id) {
        char h[CORE_HASH_ID_SIZE];
        uint64_t x = core_fnv64_str(CORE_FNV64_BASIS, it.title);
        x = core_fnv64_str(x, "\n");
        x = core_fnv64_str(x, date);
        core_hash_id(h, x);
        it.id = strdup(h);
    }
    if (!it.id) {
        rc = CORE_ENOMEM;
        goto out;
    }
    rc = push(c, &it); /* takes it, on failure too */
    memset(&it, 0, sizeof it);
out:
    item_free(&it);
    return rc;
}

static core_err_t parse_json(pctx *c, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *items;
    const char *version, *base;
    core_err_t rc = CORE_OK;

    if (!root) {
        snprintf(err, errlen, "not a JSON Feed: invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return CORE_EPARSE;
    }
    version = jstr(root, "version");
    if (!json_is_object(root) || !version ||
        strncmp(version, JSONFEED_VERSION, strlen(JSONFEED_VERSION)) != 0) {
        snprintf(err, errlen, "not a JSON Feed: no \"version\" starting with %s",
                 JSONFEED_VERSION);
        json_decref(root);
        return CORE_EPARSE;
    }
    items = json_object_get(root, "items");
    if (!json_is_array(items)) {
        snprintf(err, errlen, "not a JSON Feed: \"items\" is %s, not an array",
                 items ? "another JSON value" : "missing");
        json_decref(root);
        return CORE_EPARSE;
    }
    c->feed->kind = ING_FEED_JSON;
    rc = json_text(jstr(root, "title"), c->lim->max_text_bytes, 0, &c->feed->title);
    base = jstr(root, "feed_url") ? jstr(root, "feed_url") : c->base_url;
    c->feed->item_like = json_array_size(items);
    for (size_t i = 0; rc == CORE_OK && i < json_array_size(items); i++) {
        json_t *o = json_array_get(items, i);
        if (json_is_object(o))
            rc = json_item(c, o, base);
        else
            c->feed->skipped++;
    }
    json_decref(root);
    return rc;
}

/* ---- the document --------------------------------------------------------------- */

void ing_feed_init(void)
{
    xmlInitParser();
}

const char *ing_feed_kind_name(ing_feed_kind_t k)
{
    static const char *const names[] = {"rss2", "rss1", "atom10", "rss090", "atom03", "json"};
    return (int)k >= 0 && (size_t)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

static int looks_like_json(const char *s, size_t len, const char *content_type)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i < len && s[i] == '{')
        return 1;
    return i < len && s[i] != '<' && content_type && strstr(content_type, "json") != NULL;
}

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n')
        s[n - 1] = '\0';
}

core_err_t ing_feed_parse(const char *buf, size_t len, const ing_feed_limits_t *limits,
                          const ing_feed_source_t *src, ing_feed_t **out, char *err, size_t errlen)
{
    ing_charset_result_t cs;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    const xmlNode *root;
    ing_feed_t *feed = NULL;
    core_err_t rc = CORE_OK;
    const xmlError *xe;
    const char *ct = src ? src->content_type : NULL, *url = src ? src->url : NULL;
    pctx c;
    int json;
    char dummy[1];

    *out = NULL;
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (len > INT_MAX) {
        snprintf(err, errlen, "feed of %zu bytes is too large to parse", len);
        return CORE_ETOO_LARGE;
    }
    json = looks_like_json(len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? buf + 3 : buf,
                           len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? len - 3 : len, ct);
    rc = ing_charset_decode(buf, len, ct, !json, &cs);
    if (rc != CORE_OK)
        return rc;
    feed = calloc(1, sizeof *feed);
    if (!feed) {
        free(cs.text);
        return CORE_ENOMEM;
    }
    snprintf(feed->encoding, sizeof feed->encoding, "%s", cs.encoding);
    snprintf(feed->warning, sizeof feed->warning, "%s", cs.warning);
    feed->repaired = cs.repaired;
    memset(&c, 0, sizeof c);
    c.feed = feed;
    c.lim = limits;
    c.base_url = url;
    c.ns = "";

    if (json) {
        rc = parse_json(&c, cs.text, cs.len, err, errlen);
        goto out;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        rc = CORE_ENOMEM;
        goto out;
    }
    /* The text is UTF-8 now, whatever the declaration says. */
    doc = xmlCtxtReadMemory(ctxt, cs.text, (int)cs.len, url, "UTF-8",
                            XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS | XML_PARSE_IGNORE_ENC);
    xe = xmlCtxtGetLastError(ctxt);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        snprintf(err, errlen, "not XML: %s", xe && xe->message ? xe->message : "no root element");
        trim_nl(err);
        rc = CORE_EPARSE;
        goto out;
    }
    if (!ctxt->wellFormed) {
        feed->recovered = 1;
        snprintf(feed->note, sizeof feed->note, "line %d: %s", xe ? xe->line : 0,
                 xe && xe->message ? xe->message : "not well-formed");
        trim_nl(feed->note);
    }
    rc = parse_tree(&c, root, err, errlen);
out:
    if (rc == CORE_OK && feed->n == 0 && feed->item_like > 0) {
        size_t wl = strlen(feed->warning);
        snprintf(feed->warning + wl, sizeof feed->warning - wl,
                 "%s%zu item-like element(s) but no item read: %s", wl ? "; " : "",
                 feed->item_like,
                 feed->skipped ? "each had neither title nor text"
                               : "none where this format keeps its items, in its namespace");
    }
    if (rc != CORE_OK) {
        ing_feed_free(feed);
        feed = NULL;
    }
    if (doc)
        xmlFreeDoc(doc);
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    free(cs.text);
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
