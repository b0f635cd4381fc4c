/* ing_fetch: see ing_fetch.h. */
#include "ingest/ing_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_version.h"

void ing_fetch_opts_from_config(const core_config_t *cfg, ing_fetch_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = core_config_int(cfg, CORE_CFG_RSS_CONNECT_TIMEOUT);
    o->timeout_ms = core_config_int(cfg, CORE_CFG_RSS_TIMEOUT);
    o->max_redirects = (long)core_config_int(cfg, CORE_CFG_RSS_MAX_REDIRECTS);
    o->max_body = core_config_int(cfg, CORE_CFG_RSS_MAX_BODY);
    snprintf(o->user_agent, sizeof o->user_agent, "finsent/%s", FINSENT_VERSION);
}

void ing_fetch_setup(CURL *e, const ing_fetch_opts_t *o)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
}

size_t ing_fetch_body_write(char *p, size_t size, size_t nmemb, void *body)
{
    ing_fetch_body_t *b = body;
    size_t n = size * nmemb;

    if (n > b->max || b->len > b->max - n) {
        b->too_large = 1;
        return 0; /* abort: CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 16384;
        char *nb;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        nb = realloc(b->data, ncap);
        if (!nb) {
            b->nomem = 1;
            return 0;
        }
        b->data = nb;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

void ing_fetch_body_cleanup(ing_fetch_body_t *b)
{
    size_t max = b->max;
    free(b->data);
    memset(b, 0, sizeof *b);
    b->max = max;
}

const char *ing_fetch_error_kind(CURLcode res, int too_large)
{
    if (too_large || res == CURLE_FILESIZE_EXCEEDED)
        return "too_large";
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_TOO_MANY_REDIRECTS:
        return "redirects";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "connect";
    default:
        return "network";
    }
}
