/*
 * ing_feed: the RSS/Atom feed parser. A pure function of the bytes: no
 * network, no clock, no global state beyond libxml2's own initialisation.
 *
 * Formats: RSS 2.0 (and 0.9x) <rss><channel><item>, RSS 1.0 (RDF)
 * <rdf:RDF><item>, Atom 1.0 <feed><entry>. Elements are matched by local
 * name plus namespace, so prefixes do not matter (dc:date, content:encoded).
 *
 * Per item:
 *   id     guid (RSS 2.0), rdf:about (RSS 1.0), <id> (Atom), else the link,
 *          else "h:" + 64-bit FNV-1a hash of title + "\n" + date text;
 *          whitespace-trimmed. Never NULL.
 *   title  text of <title>;
 *   text   RSS: <description>, else <content:encoded>; Atom: <summary>,
 *          else <content>;
 *   url    <link> text (RSS), <link rel="alternate" href> or the first
 *          <link href> (Atom);
 *   event_ms  pubDate, dc:date, Atom published, else updated, parsed with
 *          core_time_parse_any; 0 when absent or unparseable (the caller
 *          substitutes the ingest time).
 * title and text are plain text: markup is removed and entities decoded with
 * libxml2's HTML parser (script/style dropped, block elements become spaces,
 * runs of white space collapse to one space), then cut to max_text_bytes at
 * a UTF-8 character boundary. NULL when empty. An item with neither title
 * nor text is skipped (counted in skipped).
 *
 * Safety: the XML parser runs with XML_PARSE_NONET (no network), without
 * XML_PARSE_NOENT (entities are not substituted), without DTD loading or
 * DTD attributes, and without XML_PARSE_HUGE (libxml2's default limits on
 * depth, node and name sizes stay on). Text is gathered from text and CDATA
 * nodes only, never by expanding entity references, so an entity bomb
 * ("billion laughs") expands to nothing; libxml2 2.9.14 also refuses the
 * amplification itself. XML_PARSE_RECOVER makes broken feeds (unescaped &,
 * unclosed tags, bad bytes) yield what can be recovered; such a result has
 * recovered = 1 and the first libxml2 error in the feed's note.
 */
#ifndef ING_FEED_H
#define ING_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

typedef enum ing_feed_kind { ING_FEED_RSS2 = 0, ING_FEED_RSS1, ING_FEED_ATOM } ing_feed_kind_t;

typedef struct ing_feed_item {
    char *id;         /* never NULL */
    char *title;      /* may be NULL */
    char *text;       /* may be NULL (not both with title) */
    char *url;        /* may be NULL */
    int64_t event_ms; /* 0: unknown */
} ing_feed_item_t;

typedef struct ing_feed {
    ing_feed_kind_t kind;
    char *title;            /* the feed's own title, may be NULL */
    ing_feed_item_t *items; /* in document order */
    size_t n;
    size_t skipped; /* items without title and text, or past max_items */
    int recovered;  /* the XML was not well-formed; items are what was recovered */
    char note[256]; /* first parser error when recovered, else "" */
} ing_feed_t;

typedef struct ing_feed_limits {
    size_t max_items;      /* items kept per document (extra ones are skipped) */
    size_t max_text_bytes; /* per title/text field */
} ing_feed_limits_t;

/* ing_feed_parse parses len bytes at buf. On success *out (caller frees with
 * ing_feed_free) holds the items. Errors: CORE_ETOO_LARGE (len > INT_MAX),
 * CORE_EPARSE (nothing recoverable, or the root element is not rss, rdf:RDF
 * or feed: err names what was found), CORE_ENOMEM. Any thread, provided
 * ing_feed_init ran first. */
core_err_t ing_feed_parse(const char *buf, size_t len, const ing_feed_limits_t *limits,
                          ing_feed_t **out, char *err, size_t errlen);

/* ing_feed_free: NULL is a no-op. */
void ing_feed_free(ing_feed_t *f);

/* ing_feed_init initialises libxml2 (xmlInitParser). Call once from the main
 * thread before any thread parses. Idempotent. */
void ing_feed_init(void);

/* ing_feed_html_text converts an HTML fragment to plain text as described
 * above into a malloc'd string (*out; NULL when the text is empty). */
core_err_t ing_feed_html_text(const char *html, size_t len, size_t max_bytes, char **out);

#endif
