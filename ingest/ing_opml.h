/*
 * ing_opml: the OPML subscription-list reader behind `finsent feeds import`,
 * and the plan that turns its outlines into [feed.NAME] config sections.
 * Pure functions of the bytes (and of an existing config): no network, no
 * files, no clock.
 *
 * Reading (ing_opml_parse): the root element must be <opml> and have a
 * <body>; every <outline> under the body, at any depth, that has an xmlUrl
 * attribute is a feed (the attribute name is matched without regard to case:
 * xmlUrl, xmlurl, xmlURL all occur). An outline without xmlUrl that has
 * outline children is a category: the feeds below it carry the path of
 * category titles ("News / Markets"); one without children is counted in
 * no_url. Nested categories are flattened. The feed's title is the outline's
 * title attribute, else its text attribute, white space collapsed; the URL is
 * the xmlUrl value with surrounding white space removed, otherwise as it is.
 * Outlines come out in document order.
 *
 * Safety, as in ing_feed: libxml2 runs with XML_PARSE_NONET and
 * XML_PARSE_RECOVER, never XML_PARSE_NOENT, without DTD loading or DTD
 * attributes and without XML_PARSE_HUGE. Attribute values are read from
 * their text nodes only, so an entity reference (an entity bomb in a title)
 * contributes nothing; character references and the five predefined
 * entities are decoded by libxml2 as usual. A document that is not
 * well-formed yields what libxml2 recovered, with recovered = 1 and the
 * first error in note.
 *
 * Planning (ing_opml_plan): each outline either becomes a section or is
 * skipped with a reason:
 *   - the URL is not http:// or https:// with a host (ING_OPML_NOT_HTTP);
 *   - the URL appeared in an earlier outline (ING_OPML_DUP_URL) or in a
 *     [feed.NAME] url of the existing config (ING_OPML_CONFIGURED); URLs are
 *     compared with the scheme and host in lower case and an empty path read
 *     as "/";
 *   - the section would not load back (ING_OPML_REJECTED: a URL with white
 *     space or one too long for a config line): every section is written and
 *     loaded with core_config before it is accepted, so whatever
 *     ing_opml_write produces loads.
 * The section name is ing_opml_slug of the title, else (no title, or one
 * without an ASCII letter or digit) of the URL's host without "www."; a name already taken (in the
 * config or by an earlier outline) gets "-2", "-3", ... (the base is shortened so that the name
 * stays within ING_OPML_NAME_MAX).
 */
#ifndef ING_OPML_H
#define ING_OPML_H

#include <stddef.h>
#include <stdio.h>

#include "core/core_config.h"
#include "core/core_error.h"

/* Longest section name ing_opml_slug and ing_opml_plan produce: inih keeps
 * 49 bytes of a section header, so "[feed." + 44 bytes + "]" is the longest
 * that loads as written (a longer one is cut, silently, by the loader). */
#define ING_OPML_NAME_MAX 44

typedef struct ing_opml_outline {
    char *title;    /* title, else text; NULL when both are absent or blank */
    char *url;      /* xmlUrl, trimmed; never NULL (may be "") */
    char *category; /* enclosing categories' titles joined by " / "; NULL at the top */
} ing_opml_outline_t;

typedef struct ing_opml {
    char *title;               /* <head><title>, may be NULL */
    ing_opml_outline_t *items; /* outlines with xmlUrl, in document order */
    size_t n;
    size_t no_url;  /* leaf outlines without xmlUrl (not feeds) */
    int recovered;  /* not well-formed; items are what was recovered */
    char note[256]; /* first parser error when recovered, else "" */
} ing_opml_t;

/* ing_opml_parse reads len bytes of OPML. On success *out (free with
 * ing_opml_free) holds the outlines. Errors, with err saying what is wrong:
 * CORE_EPARSE ("not XML: ...", "not OPML: root element <rss>", "no <body> in
 * <opml>"), CORE_ETOO_LARGE (len > INT_MAX), CORE_ENOMEM. Any thread, after
 * xmlInitParser (ing_feed_init does it). */
core_err_t ing_opml_parse(const char *buf, size_t len, ing_opml_t **out, char *err, size_t errlen);

/* ing_opml_free: NULL is a no-op. */
void ing_opml_free(ing_opml_t *doc);

/* ing_opml_slug writes the section name for s into out (ING_OPML_NAME_MAX + 1
 * bytes): ASCII letters lowered, digits and '_' kept, every run of other
 * bytes ('-' and non-ASCII included) one '-', none at either end, cut to
 * ING_OPML_NAME_MAX (and trimmed again); "feed" when nothing is left. */
void ing_opml_slug(const char *s, char *out);

typedef enum ing_opml_verdict {
    ING_OPML_IMPORT = 0, /* becomes [feed.<name>] */
    ING_OPML_NOT_HTTP,
    ING_OPML_DUP_URL,
    ING_OPML_CONFIGURED,
    ING_OPML_REJECTED
} ing_opml_verdict_t;

/* ing_opml_verdict_name: "import", "not http/https", "duplicate URL",
 * "already configured", "rejected". */
const char *ing_opml_verdict_name(ing_opml_verdict_t v);

typedef struct ing_opml_entry {
    const ing_opml_outline_t *outline; /* borrowed from the document */
    ing_opml_verdict_t verdict;
    char name[ING_OPML_NAME_MAX + 1]; /* the section name when imported, else "" */
    char why[256];                    /* the reason when skipped, else "" */
} ing_opml_entry_t;

/* ing_opml_plan decides, for each of doc's outlines in order, its section
 * name or why it is skipped (see above). existing may be NULL; its feeds'
 * names and URLs are taken. *out (doc->n entries, free() it; NULL when
 * doc->n is 0) borrows the outlines of doc, which must outlive it. Errors:
 * CORE_ENOMEM. */
core_err_t ing_opml_plan(const ing_opml_t *doc, const core_config_t *existing,
                         ing_opml_entry_t **out);

/* ing_opml_write writes one section per imported entry of e[0..n): a comment
 * line with the title (when there is one), one with the category (when
 * there is one), "[feed.<name>]" and "url = <url>", then a blank line.
 * Titles and categories are reduced to one line (control characters become
 * spaces) and cut at a character boundary. Returns CORE_EIO when writing
 * fails. */
core_err_t ing_opml_write(FILE *out, const ing_opml_entry_t *e, size_t n);

#endif
