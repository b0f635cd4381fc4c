/*
 * ing_opml: see ing_opml.h. The reader walks libxml2's tree of a document
 * parsed without entity substitution; the planner keeps two lists (names
 * taken, URL keys taken) seeded from the existing config, and proves each
 * section by loading it into a scratch config.
 */
#include "ingest/ing_opml.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define TITLE_MAX 150    /* bytes of a title or category in a comment line */
#define CATEGORY_MAX 256 /* bytes of a category path in the outline */

/* ---- strings ------------------------------------------------------------------ */

/* cut_utf8 returns the largest length <= max that does not split a UTF-8
 * sequence of s (s holds more than max bytes). */
static size_t cut_utf8(const char *s, size_t max)
{
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* collapse rewrites s in place: runs of white space become one space, and
 * none is left at either end. Returns s, or NULL (freeing s) when blank. */
static char *collapse(char *s)
{
    size_t o = 0;
    int space = 0;
    if (!s)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (is_space((unsigned char)*p)) {
            space = o > 0;
            continue;
        }
        if (space)
            s[o++] = ' ';
        space = 0;
        s[o++] = *p;
    }
    s[o] = '\0';
    if (o == 0) {
        free(s);
        return NULL;
    }
    return s;
}

static char *trim(char *s)
{
    size_t b = 0, e;
    if (!s)
        return NULL;
    e = strlen(s);
    while (b < e && is_space((unsigned char)s[b]))
        b++;
    while (e > b && is_space((unsigned char)s[e - 1]))
        e--;
    memmove(s, s + b, e - b);
    s[e - b] = '\0';
    return s;
}

/* ---- reading ------------------------------------------------------------------ */

static int is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* text_of concatenates the text and CDATA nodes directly under n (entity
 * references are left out: they are never expanded). NULL when out of
 * memory; "" when there is no text. */
static char *text_of(const xmlNode *children)
{
    size_t len = 0, o = 0;
    char *s;
    for (const xmlNode *c = children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            len += strlen((const char *)c->content);
    s = malloc(len + 1);
    if (!s)
        return NULL;
    for (const xmlNode *c = children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t l = strlen((const char *)c->content);
            memcpy(s + o, c->content, l);
            o += l;
        }
    s[o] = '\0';
    return s;
}

/* attr reads the attribute named name (any case, any namespace) from its
 * text nodes. *out is NULL when absent. Returns -1 when out of memory. */
static int attr(const xmlNode *n, const char *name, char **out)
{
    *out = NULL;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && strcasecmp((const char *)a->name, name) == 0) {
            *out = text_of(a->children);
            return *out ? 0 : -1;
        }
    }
    return 0;
}

static int has_outline_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (is_el(c, "outline"))
            return 1;
    return 0;
}

/* join makes "cat / title" (either may be NULL), cut to CATEGORY_MAX bytes;
 * *out is NULL when both are NULL. Returns -1 when out of memory. */
static int join(const char *cat, const char *title, char **out)
{
    size_t cl = cat ? strlen(cat) : 0, tl = title ? strlen(title) : 0, len;
    char *s;
    *out = NULL;
    if (!cat && !title)
        return 0;
    s = malloc(cl + tl + 4);
    if (!s)
        return -1;
    len =
        (size_t)sprintf(s, "%s%s%s", cat ? cat : "", cat && title ? " / " : "", title ? title : "");
    if (len > CATEGORY_MAX)
        s[cut_utf8(s, CATEGORY_MAX)] = '\0';
    *out = s;
    return 0;
}

typedef struct reader {
    ing_opml_t *doc;
    size_t cap;
} reader;

static core_err_t add_outline(reader *r, char *title, char *url, const char *cat)
{
    ing_opml_outline_t *o;
    if (r->doc->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        ing_opml_outline_t *np = realloc(r->doc->items, ncap * sizeof *np);
        if (!np)
            return CORE_ENOMEM;
        r->doc->items = np;
        r->cap = ncap;
    }
    o = &r->doc->items[r->doc->n];
    o->category = NULL;
    if (cat && !(o->category = strdup(cat)))
        return CORE_ENOMEM;
    o->title = title;
    o->url = url;
    r->doc->n++;
    return CORE_OK;
}

/* walk visits the outlines under parent; cat is their category path. The
 * depth is bounded by libxml2's own nesting limit (XML_PARSE_HUGE is off). */
static core_err_t walk(reader *r, const xmlNode *parent, const char *cat)
{
    core_err_t rc = CORE_OK;
    for (const xmlNode *c = parent->children; c && rc == CORE_OK; c = c->next) {
        char *url = NULL, *title = NULL, *sub = NULL;
        int kids;
        if (!is_el(c, "outline"))
            continue;
        if (attr(c, "xmlUrl", &url) < 0 || attr(c, "title", &title) < 0) {
            rc = CORE_ENOMEM;
            goto next;
        }
        title = collapse(title);
        if (!title) {
            if (attr(c, "text", &title) < 0) {
                rc = CORE_ENOMEM;
                goto next;
            }
            title = collapse(title);
        }
        kids = has_outline_child(c);
        if (kids && join(cat, title, &sub) < 0) {
            rc = CORE_ENOMEM;
            goto next;
        }
        if (url) {
            rc = add_outline(r, title, trim(url), cat);
            if (rc == CORE_OK)
                title = url = NULL; /* owned by the document now */
        } else if (!kids) {
            r->doc->no_url++;
        }
        if (rc == CORE_OK && kids)
            rc = walk(r, c, sub);
    next:
        free(url);
        free(title);
        free(sub);
    }
    return rc;
}

/* xml_msg copies libxml2's message without its final newline. */
static const char *xml_msg(const xmlError *xe, char *buf, size_t cap)
{
    size_t n;
    snprintf(buf, cap, "%s", xe && xe->message ? xe->message : "not well-formed");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

core_err_t ing_opml_parse(const char *buf, size_t len, ing_opml_t **out, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr xdoc = NULL;
    const xmlNode *root, *body = NULL, *head = NULL;
    const xmlError *xe;
    ing_opml_t *doc = NULL;
    reader r = {0};
    core_err_t rc = CORE_OK;
    char msg[200];

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (len > INT_MAX) {
        snprintf(err, errlen, "OPML of %zu bytes is too large to parse", len);
        return CORE_ETOO_LARGE;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return CORE_ENOMEM;
    /* Never XML_PARSE_NOENT, DTDLOAD, DTDATTR or HUGE: see ing_opml.h. */
    xdoc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                             XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
                                 XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    xe = xmlCtxtGetLastError(ctxt);
    root = xdoc ? xmlDocGetRootElement(xdoc) : NULL;
    if (!root) {
        if (xe && xe->message)
            snprintf(err, errlen, "not XML: line %d: %s", xe->line, xml_msg(xe, msg, sizeof msg));
        else
            snprintf(err, errlen, "not XML: no root element");
        rc = CORE_EPARSE;
        goto out;
    }
    if (!is_el(root, "opml")) {
        snprintf(err, errlen, "not OPML: root element <%s>%s%s", (const char *)root->name,
                 root->ns && root->ns->href ? " in namespace " : "",
                 root->ns && root->ns->href ? (const char *)root->ns->href : "");
        rc = CORE_EPARSE;
        goto out;
    }
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (!body && is_el(c, "body"))
            body = c;
        else if (!head && is_el(c, "head"))
            head = c;
    }
    if (!body) {
        if (ctxt->wellFormed)
            snprintf(err, errlen, "no <body> in <opml>");
        else
            snprintf(err, errlen, "no <body> in <opml> (not well-formed: line %d: %s)",
                     xe ? xe->line : 0, xml_msg(xe, msg, sizeof msg));
        rc = CORE_EPARSE;
        goto out;
    }
    doc = calloc(1, sizeof *doc);
    if (!doc) {
        rc = CORE_ENOMEM;
        goto out;
    }
    if (!ctxt->wellFormed) {
        doc->recovered = 1;
        snprintf(doc->note, sizeof doc->note, "line %d: %s", xe ? xe->line : 0,
                 xml_msg(xe, msg, sizeof msg));
    }
    for (const xmlNode *c = head ? head->children : NULL; c; c = c->next) {
        if (is_el(c, "title")) {
            doc->title = text_of(c->children);
            if (!doc->title) {
                rc = CORE_ENOMEM;
                goto out;
            }
            doc->title = collapse(doc->title);
            break;
        }
    }
    r.doc = doc;
    rc = walk(&r, body, NULL);
out:
    if (rc != CORE_OK) {
        ing_opml_free(doc);
        doc = NULL;
    }
    if (xdoc)
        xmlFreeDoc(xdoc);
    xmlFreeParserCtxt(ctxt);
    *out = doc;
    return rc;
}

void ing_opml_free(ing_opml_t *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n; i++) {
        free(doc->items[i].title);
        free(doc->items[i].url);
        free(doc->items[i].category);
    }
    free(doc->items);
    free(doc->title);
    free(doc);
}

/* ---- names -------------------------------------------------------------------- */

/* slug writes the slug of s (see ing_opml.h) into out and returns its length;
 * 0 (out "") when s has no letter, digit, '_' or '-'. */
static size_t slug(const char *s, char *out)
{
    size_t o = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            if (dash && o > 0 && o < ING_OPML_NAME_MAX)
                out[o++] = '-';
            dash = 0;
            if (o < ING_OPML_NAME_MAX)
                out[o++] = (char)c;
        } else {
            dash = 1;
        }
        if (o >= ING_OPML_NAME_MAX)
            break;
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    return o;
}

void ing_opml_slug(const char *s, char *out)
{
    if (slug(s, out) == 0)
        strcpy(out, "feed");
}

/* url_parts finds the host of an http(s) URL: returns 1 and sets *auth /
 * *auth_len (the authority: userinfo, host, port) and *host / *host_len, or
 * 0 when the URL is not http:// or https:// with a host. */
static int url_parts(const char *url, const char **auth, size_t *auth_len, const char **host,
                     size_t *host_len)
{
    const char *a, *e, *h, *he;
    if (strncasecmp(url, "http://", 7) == 0)
        a = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        a = url + 8;
    else
        return 0;
    e = a + strcspn(a, "/?#");
    h = a;
    for (const char *p = a; p < e; p++)
        if (*p == '@')
            h = p + 1;
    if (h < e && *h == '[') {
        he = memchr(h, ']', (size_t)(e - h));
        he = he ? he + 1 : e;
    } else {
        he = memchr(h, ':', (size_t)(e - h));
        if (!he)
            he = e;
    }
    if (he == h)
        return 0;
    *auth = a;
    *auth_len = (size_t)(e - a);
    *host = h;
    *host_len = (size_t)(he - h);
    return 1;
}

/* url_key: the URL as compared for duplicates (scheme and authority in lower
 * case, an empty path as "/"). NULL when not http(s) or out of memory. */
static char *url_key(const char *url)
{
    const char *auth, *host, *rest;
    size_t alen, hlen, pre, o = 0;
    char *k;
    if (!url_parts(url, &auth, &alen, &host, &hlen))
        return NULL;
    pre = (size_t)(auth - url) + alen;
    rest = url + pre;
    k = malloc(strlen(url) + 2);
    if (!k)
        return NULL;
    for (size_t i = 0; i < pre; i++) {
        char c = url[i];
        k[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (*rest != '/')
        k[o++] = '/';
    strcpy(k + o, rest);
    return k;
}

/* ---- planning ----------------------------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n, cap;
} strset;

static int set_has(const strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

/* set_add takes x (freeing it on failure). */
static int set_add(strset *s, char *x)
{
    if (!x)
        return -1;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        char **nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv) {
            free(x);
            return -1;
        }
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = x;
    return 0;
}

static void set_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* one_line copies s into buf (cap > 4) as one line: control characters
 * become spaces, runs of spaces one, cut at a character boundary to max
 * bytes with "..." appended. */
static void one_line(const char *s, char *buf, size_t cap, size_t max)
{
    const unsigned char *p;
    size_t o = 0;
    int space = 0, cut = 0;
    if (max > cap - 4)
        max = cap - 4;
    for (p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == ' ') {
            space = o > 0;
            continue;
        }
        if (o + (size_t)space + 1 > max) {
            cut = 1;
            break;
        }
        if (space)
            buf[o++] = ' ';
        space = 0;
        buf[o++] = (char)*p;
    }
    if (cut) {
        if ((*p & 0xC0) == 0x80) { /* inside a character: drop its first bytes */
            while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
                o--;
            if (o > 0)
                o--;
        }
        while (o > 0 && buf[o - 1] == ' ')
            o--;
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

static int write_entry(FILE *out, const ing_opml_entry_t *e)
{
    char line[TITLE_MAX + 8];
    const ing_opml_outline_t *o = e->outline;
    if (o->title) {
        one_line(o->title, line, sizeof line, TITLE_MAX);
        if (line[0] && fprintf(out, "; %s\n", line) < 0)
            return -1;
    }
    if (o->category) {
        one_line(o->category, line, sizeof line, TITLE_MAX);
        if (line[0] && fprintf(out, "; category: %s\n", line) < 0)
            return -1;
    }
    if (fprintf(out, "[feed.%s]\nurl = %s\n\n", e->name, o->url) < 0)
        return -1;
    return 0;
}

/* proves that e's section loads back with its URL unchanged; err says why
 * not. Returns CORE_OK, CORE_ECONFIG or CORE_ENOMEM. */
static core_err_t prove(const ing_opml_entry_t *e, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    core_config_t *cfg = NULL;
    core_err_t rc;

    if (!mem)
        return CORE_ENOMEM;
    if (write_entry(mem, e) != 0 || fclose(mem) != 0) {
        free(text);
        return CORE_ENOMEM;
    }
    rc = core_config_new(&cfg);
    if (rc == CORE_OK)
        rc = core_config_load_string(cfg, "section", text, err, errlen);
    if (rc == CORE_OK) {
        if (core_config_instance_count(cfg, "feed") != 1 ||
            strcmp(core_config_instance_name(cfg, "feed", 0), e->name) != 0 ||
            strcmp(core_config_inst_str(cfg, CORE_CFG_FEED_URL, e->name), e->outline->url) != 0) {
            snprintf(err, errlen, "the URL does not survive a config file");
            rc = CORE_ECONFIG;
        }
    } else if (rc != CORE_ENOMEM) {
        rc = CORE_ECONFIG;
    }
    core_config_free(cfg);
    free(text);
    return rc;
}

/* pick_name finds a free name from base (a slug) and takes it. */
static int pick_name(strset *names, const char *base, char *name)
{
    char b[ING_OPML_NAME_MAX + 1];
    strcpy(name, base);
    for (unsigned k = 2; set_has(names, name); k++) {
        char suffix[16];
        size_t sl = (size_t)snprintf(suffix, sizeof suffix, "-%u", k), bl = strlen(base);
        if (bl > ING_OPML_NAME_MAX - sl)
            bl = ING_OPML_NAME_MAX - sl;
        memcpy(b, base, bl);
        while (bl > 0 && b[bl - 1] == '-')
            bl--;
        b[bl] = '\0';
        snprintf(name, ING_OPML_NAME_MAX + 1, "%s%s", b, suffix);
    }
    return set_add(names, strdup(name));
}

static int has_blank(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* The URLs taken: key, and the entry that took it (-1: the config). */
typedef struct urlset {
    strset keys;
    long *owner;
} urlset;

static long url_owner(const urlset *u, const char *key)
{
    for (size_t i = 0; i < u->keys.n; i++)
        if (strcmp(u->keys.v[i], key) == 0)
            return u->owner[i];
    return -2;
}

/* url_take takes key (freeing it on failure). */
static int url_take(urlset *u, char *key, long owner)
{
    if (u->keys.n == u->keys.cap) {
        long *no = realloc(u->owner, (u->keys.cap ? u->keys.cap * 2 : 32) * sizeof *no);
        if (!no) {
            free(key);
            return -1;
        }
        u->owner = no;
    }
    if (set_add(&u->keys, key) < 0)
        return -1;
    u->owner[u->keys.n - 1] = owner;
    return 0;
}

core_err_t ing_opml_plan(const ing_opml_t *doc, const core_config_t *existing,
                         ing_opml_entry_t **out)
{
    strset names = {0};
    urlset urls = {{0}, NULL};
    ing_opml_entry_t *ents = NULL;
    core_err_t rc = CORE_OK;
    size_t nexist = existing ? core_config_instance_count(existing, "feed") : 0;

    *out = NULL;
    if (doc->n == 0)
        return CORE_OK;
    ents = calloc(doc->n, sizeof *ents);
    if (!ents)
        return CORE_ENOMEM;
    for (size_t i = 0; i < nexist; i++) {
        const char *name = core_config_instance_name(existing, "feed", i);
        char *key;
        if (set_add(&names, strdup(name)) < 0) {
            rc = CORE_ENOMEM;
            goto out;
        }
        key = url_key(core_config_inst_str(existing, CORE_CFG_FEED_URL, name));
        if (key && url_take(&urls, key, -1) < 0) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < doc->n; i++) {
        ing_opml_entry_t *e = &ents[i];
        const ing_opml_outline_t *o = &doc->items[i];
        const char *auth, *host;
        size_t alen, hlen;
        char base[ING_OPML_NAME_MAX + 1], hostbuf[256], cerr[200] = "";
        char *key;
        long owner;

        e->outline = o;
        if (!url_parts(o->url, &auth, &alen, &host, &hlen)) {
            e->verdict = ING_OPML_NOT_HTTP;
            snprintf(e->why, sizeof e->why, "'%.200s' is not an http:// or https:// URL", o->url);
            continue;
        }
        if (has_blank(o->url)) {
            e->verdict = ING_OPML_REJECTED;
            snprintf(e->why, sizeof e->why, "the URL contains white space or control characters");
            continue;
        }
        key = url_key(o->url);
        if (!key) {
            rc = CORE_ENOMEM;
            goto out;
        }
        owner = url_owner(&urls, key);
        if (owner >= -1) {
            free(key);
            if (owner >= 0) {
                e->verdict = ING_OPML_DUP_URL;
                snprintf(e->why, sizeof e->why, "same URL as [feed.%s] above", ents[owner].name);
            } else {
                e->verdict = ING_OPML_CONFIGURED;
                snprintf(e->why, sizeof e->why, "the URL is already in the config");
            }
            continue;
        }
        if (slug(o->title, base) == 0) {
            if (hlen >= 4 && strncasecmp(host, "www.", 4) == 0) {
                host += 4;
                hlen -= 4;
            }
            snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)(hlen < 255 ? hlen : 255), host);
            ing_opml_slug(hostbuf, base);
        }
        if (pick_name(&names, base, e->name) < 0) {
            free(key);
            rc = CORE_ENOMEM;
            goto out;
        }
        rc = prove(e, cerr, sizeof cerr);
        if (rc == CORE_ENOMEM) {
            free(key);
            goto out;
        }
        if (rc != CORE_OK) {
            /* The name stays taken: harmless, and keeps the plan simple. */
            e->verdict = ING_OPML_REJECTED;
            snprintf(e->why, sizeof e->why, "would not load from a config file (%s)", cerr);
            e->name[0] = '\0';
            free(key);
            rc = CORE_OK;
            continue;
        }
        if (url_take(&urls, key, (long)i) < 0) {
            rc = CORE_ENOMEM;
            goto out;
        }
        e->verdict = ING_OPML_IMPORT;
    }
out:
    set_free(&names);
    set_free(&urls.keys);
    free(urls.owner);
    if (rc != CORE_OK) {
        free(ents);
        ents = NULL;
    }
    *out = ents;
    return rc;
}

const char *ing_opml_verdict_name(ing_opml_verdict_t v)
{
    static const char *const names[] = {"import", "not http/https", "duplicate URL",
                                        "already configured", "rejected"};
    return (int)v >= 0 && (size_t)v < sizeof names / sizeof names[0] ? names[v] : "unknown";
}

core_err_t ing_opml_write(FILE *out, const ing_opml_entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].verdict == ING_OPML_IMPORT && write_entry(out, &e[i]) != 0)
            return CORE_EIO;
    return fflush(out) == 0 ? CORE_OK : CORE_EIO;
}
