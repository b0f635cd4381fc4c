/*
 * ing_feed: the feed parser. A pure function of the bytes (and of the HTTP
 * Content-Type and URL they came with): no network, no clock, no global
 * state beyond libxml2's own initialisation.
 *
 * Formats (ing_feed_kind_name gives the name):
 *   rss2     <rss> with or without <channel> (items directly under <rss> are
 *            read too), RSS 0.91/0.92/2.0, also in the Userland namespace
 *            (http://backend.userland.com/rss2): the children are matched in
 *            the root's namespace, whatever it is;
 *   rss1     <rdf:RDF> with RSS 1.0 items (http://purl.org/rss/1.0/);
 *   rss090   <rdf:RDF> with Netscape RSS 0.90 items
 *            (http://my.netscape.com/rdf/simple/0.9/);
 *   atom10   <feed> in the Atom 1.0 namespace, or in no namespace;
 *   atom03   <feed> in the Atom 0.3 namespace (http://purl.org/atom/ns#);
 *   json     JSON Feed 1.0 / 1.1 (a JSON object whose "version" starts with
 *            https://jsonfeed.org/version/), parsed with jansson.
 * Elements are matched by local name plus namespace, so prefixes do not
 * matter (dc:date, content:encoded, atom:link).
 *
 * Per item:
 *   id     guid (RSS), rdf:about (RDF), <id> (Atom), "id" (JSON Feed), else
 *          the link, else "h:" + 64-bit FNV-1a hash of title + "\n" + date
 *          text; whitespace-trimmed. Never NULL.
 *   title  <title>, else dc:title, else an Atom title inside an RSS item;
 *          JSON Feed "title".
 *   text   RSS: <description>, else content:encoded, else an Atom
 *          summary/content, else xhtml:body or <body>, else dc:description,
 *          else itunes:summary; Atom: <summary>, else <content>; JSON Feed:
 *          "summary", else "content_text", else "content_html".
 *   url    RSS: <link>, else an Atom <link href>, else a permalink <guid>;
 *          Atom: <link rel="alternate" href>, else the first <link href>;
 *          JSON Feed: "url", else "external_url". A relative link is
 *          resolved against xml:base (on the element or its ancestors) and
 *          the document's URL (ing_feed_source_t.url, or the JSON Feed's
 *          "feed_url"), with libxml2's URI functions.
 *   event_ms  RSS: pubDate, dc:date, dcterms:issued/created/modified, Atom
 *          published/updated inside the item; Atom 1.0: published, else
 *          updated; Atom 0.3: issued, else modified, else created; JSON
 *          Feed: date_published, else date_modified. Parsed with
 *          core_time_parse_any; event_set says whether one parsed (an
 *          explicit 1970-01-01T00:00:00Z is event_ms 0 with event_set 1:
 *          that, too old, date; with event_set 0 the caller substitutes
 *          the ingest time).
 * Text constructs: RSS title/description are HTML (markup removed, entities
 * decoded with libxml2's HTML parser: script/style dropped, block elements
 * become spaces); Atom type="text" (the default) is taken literally,
 * type="html" is HTML, type="xhtml" is the text of the child nodes (block
 * elements become spaces, no second entity decode); Atom 0.3 content
 * mode="escaped" (the default) follows its MIME type, mode="base64" is
 * decoded first, mode="xml" is read like xhtml. Runs of white space collapse
 * to one space; the result is cut to max_text_bytes at a UTF-8 character
 * boundary. NULL when empty. An item with neither title nor text is skipped
 * (counted in skipped).
 *
 * Character sets: the bytes are decoded to UTF-8 before libxml2 sees them.
 * The encoding is the first of: the HTTP Content-Type charset, a byte order
 * mark, the XML declaration's encoding= (JSON Feed: UTF-8); UTF-8 when none
 * is declared. When the chosen one is unknown to iconv or the bytes do not
 * decode in it, the next declared one is tried, then uchardet's guess, then
 * windows-1252 (which decodes everything). A document declared as a
 * single-byte charset (ISO-8859-1, windows-1252, ...) whose bytes are valid
 * UTF-8 with non-ASCII characters is read as UTF-8 (the common mislabel).
 * encoding names what was used, and a warning says when it was not the
 * declared one. After decoding, no invalid UTF-8 remains; anything libxml2
 * still rejects is replaced by U+FFFD (counted in repaired).
 *
 * Safety: the XML parser runs with XML_PARSE_NONET (no network), without
 * XML_PARSE_NOENT (entities are not substituted), without DTD loading or
 * DTD attributes, and without XML_PARSE_HUGE (libxml2's default limits on
 * depth, node and name sizes stay on). Text is gathered from text and CDATA
 * nodes only, never by expanding entity references, so an entity bomb
 * ("billion laughs") expands to nothing; libxml2 2.9.14 also refuses the
 * amplification itself. A reference to an undeclared entity that HTML
 * defines (&eacute; in an RSS 0.91 feed without its DTD) becomes that
 * character. XML_PARSE_RECOVER makes broken feeds (unescaped &, unclosed
 * tags, bad bytes) yield what can be recovered; such a result has
 * recovered = 1 and the first libxml2 error in the feed's note.
 *
 * No silent zero: item_like counts the elements that look like items
 * (<item>, <entry> in any namespace, JSON Feed "items" members); a document
 * with item_like > 0 and n == 0 has a warning saying why nothing was read.
 */
#ifndef ING_FEED_H
#define ING_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

typedef enum ing_feed_kind {
    ING_FEED_RSS2 = 0,
    ING_FEED_RSS1,
    ING_FEED_ATOM,
    ING_FEED_RSS090,
    ING_FEED_ATOM03,
    ING_FEED_JSON
} ing_feed_kind_t;

/* ing_feed_kind_name: "rss2", "rss1", "atom10", "rss090", "atom03", "json". */
const char *ing_feed_kind_name(ing_feed_kind_t k);

typedef struct ing_feed_item {
    char *id;         /* never NULL */
    char *title;      /* may be NULL */
    char *text;       /* may be NULL (not both with title) */
    char *url;        /* may be NULL */
    int64_t event_ms; /* epoch ms; 0 with event_set 0: unknown */
    int event_set;    /* 1: a date parsed, even 1970-01-01T00:00:00Z (event_ms 0) */
} ing_feed_item_t;

typedef struct ing_feed {
    ing_feed_kind_t kind;
    char *title;            /* the feed's own title, may be NULL */
    ing_feed_item_t *items; /* in document order */
    size_t n;
    size_t skipped; /* items without title and text, or past max_items */
    int recovered;  /* the XML was not well-formed; items are what was recovered */
    char note[256]; /* first parser error when recovered, else "" */
    char encoding[32]; /* the character set the bytes were decoded from ("UTF-8") */
    size_t repaired;   /* invalid sequences replaced by U+FFFD after decoding */
    size_t item_like;  /* item-like elements seen (see above) */
    char warning[256]; /* "" or what the caller should log: encoding fallback,
                          zero items read from item-like elements */
} ing_feed_t;

/* Where the bytes came from; every field may be NULL. */
typedef struct ing_feed_source {
    const char *content_type; /* the HTTP Content-Type header value */
    const char *url;          /* the document's URL (base for relative links) */
} ing_feed_source_t;

typedef struct ing_feed_limits {
    size_t max_items;      /* items kept per document (extra ones are skipped) */
    size_t max_text_bytes; /* per title/text field */
} ing_feed_limits_t;

/* ing_feed_parse parses len bytes at buf; src may be NULL. On success *out
 * (caller frees with ing_feed_free) holds the items. Errors: CORE_ETOO_LARGE
 * (len > INT_MAX), CORE_EPARSE (nothing recoverable, the root element is not
 * rss, rdf:RDF or feed, or JSON that is not a JSON Feed: err names what was
 * found), CORE_ENOMEM. Any thread, provided ing_feed_init ran first. */
core_err_t ing_feed_parse(const char *buf, size_t len, const ing_feed_limits_t *limits,
                          const ing_feed_source_t *src, ing_feed_t **out, char *err,
                          size_t errlen);

/* ing_feed_free: NULL is a no-op. */
void ing_feed_free(ing_feed_t *f);

/* ing_feed_init initialises libxml2 (xmlInitParser). Call once from the main
 * thread before any thread parses. Idempotent. */
void ing_feed_init(void);

/* ing_feed_html_text converts an HTML fragment to plain text as described
 * above into a malloc'd string (*out; NULL when the text is empty). */
core_err_t ing_feed_html_text(const char *html, size_t len, size_t max_bytes, char **out);

#endif
