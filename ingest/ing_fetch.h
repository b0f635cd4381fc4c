/*
 * ing_fetch: the libcurl settings every feed fetch shares, so that the
 * poller (ing_rss) and the one-shot `finsent feeds check` fetch a feed the
 * same way.
 *
 * ing_fetch_setup sets the URL-independent options on an easy handle:
 * connect and total timeouts, at most max_redirects redirects, http and https
 * only (for the request and for every redirect), Accept-Encoding with every
 * encoding curl knows (the body is decoded before it reaches the write
 * callback), the User-Agent, a declared-size cap (CURLOPT_MAXFILESIZE) and
 * NOSIGNAL (the handles run on threads other than the main one). It does not
 * set the URL, the request headers (the caller owns that list: start it with
 * ING_FETCH_ACCEPT and add validators), or the callbacks.
 *
 * The declared-size cap only refuses a response that announces a larger
 * Content-Length; a body without one (chunked, close-delimited, or a
 * compressed body that inflates) is capped by the write callback:
 * ing_fetch_body_write stores at most max bytes of decoded body and aborts
 * the transfer past it (curl then reports CURLE_WRITE_ERROR, and too_large
 * says why), so an endless body or a gzip bomb cannot grow memory.
 *
 * curl result codes stop here: ing_fetch_error_kind names the failure with
 * the poller's metric labels (connect, timeout, too_large, redirects,
 * network).
 *
 * Nothing here keeps state; the functions may be called from any thread,
 * each handle and body from one thread at a time.
 */
#ifndef ING_FETCH_H
#define ING_FETCH_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core_config.h"

/* The Accept request header of every feed fetch (a complete header line for
 * CURLOPT_HTTPHEADER). */
#define ING_FETCH_ACCEPT                                                                           \
    "Accept: application/rss+xml, application/atom+xml, application/rdf+xml, "                     \
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

typedef struct ing_fetch_opts {
    int64_t connect_timeout_ms; /* rss.connect_timeout */
    int64_t timeout_ms;         /* rss.timeout: the whole transfer */
    long max_redirects;         /* rss.max_redirects */
    int64_t max_body;           /* rss.max_body: decoded bytes */
    char user_agent[64];        /* "finsent/<FINSENT_VERSION>" */
} ing_fetch_opts_t;

/* ing_fetch_opts_from_config fills *o from the [rss] section of cfg and sets
 * the User-Agent to "finsent/<version>". Any thread. */
void ing_fetch_opts_from_config(const core_config_t *cfg, ing_fetch_opts_t *o);

/* ing_fetch_setup applies o to the easy handle e (see above). o is read
 * during the call only (curl copies the strings). */
void ing_fetch_setup(CURL *e, const ing_fetch_opts_t *o);

/* A response body collected by ing_fetch_body_write. Caller storage: zero it
 * and set max (e.g. from ing_fetch_opts_t.max_body) before the transfer;
 * ing_fetch_body_cleanup frees data. data is NUL-terminated when not NULL. */
typedef struct ing_fetch_body {
    char *data;
    size_t len, cap;
    size_t max;    /* ceiling on len */
    int too_large; /* set when the body went past max (the transfer was aborted) */
    int nomem;     /* set when growing the buffer failed (the transfer was aborted) */
} ing_fetch_body_t;

/* ing_fetch_body_write is a CURLOPT_WRITEFUNCTION; CURLOPT_WRITEDATA is the
 * ing_fetch_body_t. */
size_t ing_fetch_body_write(char *p, size_t size, size_t nmemb, void *body);

/* ing_fetch_body_cleanup frees the data and zeroes the body except max. */
void ing_fetch_body_cleanup(ing_fetch_body_t *b);

/* ing_fetch_error_kind names a failed transfer (res != CURLE_OK): "too_large"
 * (too_large set, or a declared length over the cap), "timeout",
 * "redirects", "connect" (refused, unresolvable), else "network". */
const char *ing_fetch_error_kind(CURLcode res, int too_large);

#endif
