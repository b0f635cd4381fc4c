/*
 * ing_rss: see ing_rss.h. The libcurl adapter: one thread drives a multi
 * handle; each feed has at most one transfer (easy handle) in flight; the
 * completed transfer is classified (success, 304, error kind) and its body
 * handed to ing_feed_parse. Feed records are owned by the poller thread;
 * the health snapshot and the pending reload are guarded by r->mu.
 */
#include "ingest/ing_rss.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core_item.h"
#include "core/core_log.h"
#include "core/core_time.h"
#include "ingest/ing_feed.h"
#include "ingest/ing_fetch.h"
#include "ingest/ing_seen.h"
#include "ingest/ing_seen_redis.h"

#define MOD "rss"
#define SAVE_EVERY_MS 1000

typedef struct feed_spec {
    char *name, *url, *source;
    int64_t interval_ms;
} feed_spec;

typedef struct feed {
    feed_spec spec;
    char *etag, *last_modified;
    int64_t due_mono;
    int failures;
    int removed;
    /* transfer in flight */
    CURL *easy;
    struct curl_slist *hdrs;
    ing_fetch_body_t body;
    char *resp_etag, *resp_lm;
    int64_t retry_after_ms; /* from the last response; -1 none */
    char last_warning[256]; /* logged once until it changes */
    /* health (r->mu) */
    int ok;
    uint64_t fetches;
    int64_t last_success_ms;
    char last_error[192];
    int empty_polls;
    size_t last_items;
    char format[12], encoding[32];
    /* metrics */
    core_counter_t *m_fetches, *m_304, *m_items, *m_empty;
    core_gauge_t *m_last_success;
    struct feed *next;
} feed;

struct ing_rss {
    core_queue_t *q;
    core_metrics_t *metrics;
    CURLM *multi;
    ing_seen_t *seen;
    ing_seen_redis_t *seen_redis; /* NULL unless seen_store is redis */
    int seen_loaded;
    int seen_warned;
    ing_feed_limits_t limits;
    int cashtags;
    int64_t backoff_max_ms;
    ing_fetch_opts_t fetch;

    pthread_t thr;
    int started, stopped;
    atomic_int stop;
    int64_t grace_deadline;
    unsigned rng;

    pthread_mutex_t mu;
    feed *feeds;
    feed_spec *reload; /* pending reload, owned */
    size_t nreload;
    int have_reload;

    core_counter_t *m_items, *m_acked;
};

/* ---- specs ------------------------------------------------------------------ */

static void spec_cleanup(feed_spec *s)
{
    free(s->name);
    free(s->url);
    free(s->source);
    memset(s, 0, sizeof *s);
}

static void specs_free(feed_spec *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        spec_cleanup(&s[i]);
    free(s);
}

static core_err_t read_specs(const core_config_t *cfg, feed_spec **out, size_t *nout, char *err,
                             size_t errlen)
{
    size_t n = core_config_instance_count(cfg, "feed");
    feed_spec *s = calloc(n ? n : 1, sizeof *s);
    int64_t def_interval = core_config_int(cfg, CORE_CFG_RSS_INTERVAL);

    *out = NULL;
    *nout = 0;
    if (!s)
        return CORE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = core_config_instance_name(cfg, "feed", i);
        char sec[300], src[300];
        snprintf(sec, sizeof sec, "feed.%s", name);
        const char *url = core_config_inst_str(cfg, CORE_CFG_FEED_URL, name);
        const char *source = core_config_inst_str(cfg, CORE_CFG_FEED_SOURCE, name);
        int64_t iv = core_config_inst_int(cfg, CORE_CFG_FEED_INTERVAL, name);
        if (!url[0] ||
            (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
            snprintf(err, errlen, "[%s] url (%s): %s", sec,
                     core_config_inst_origin(cfg, CORE_CFG_FEED_URL, name),
                     url[0] ? "only http:// and https:// feeds are supported" : "missing");
            specs_free(s, n);
            return CORE_ECONFIG;
        }
        snprintf(src, sizeof src, "rss:%s", source[0] ? source : name);
        s[i].name = strdup(name);
        s[i].url = strdup(url);
        s[i].source = strdup(src);
        s[i].interval_ms = iv > 0 ? iv : def_interval;
        if (!s[i].name || !s[i].url || !s[i].source) {
            specs_free(s, n);
            return CORE_ENOMEM;
        }
    }
    *out = s;
    *nout = n;
    return CORE_OK;
}

/* ---- metrics ------------------------------------------------------------------ */

static void feed_metrics(ing_rss_t *r, feed *f)
{
    char l[200];
    if (!r->metrics)
        return;
    core_metrics_label(l, sizeof l, "feed", f->spec.name);
    f->m_fetches = core_metrics_counter(r->metrics, "finsent_rss_fetches_total", l,
                                        "feed fetches started, by feed");
    f->m_304 = core_metrics_counter(r->metrics, "finsent_rss_not_modified_total", l,
                                    "fetches answered 304 Not Modified, by feed");
    f->m_items = core_metrics_counter(r->metrics, "finsent_rss_items_total", l,
                                      "new feed items emitted, by feed");
    f->m_empty = core_metrics_counter(r->metrics, "finsent_feed_empty_total", l,
                                      "fetched documents that yielded no item, by feed");
    f->m_last_success =
        core_metrics_gauge(r->metrics, "finsent_rss_last_success_seconds", l,
                           "time of the last successful fetch (epoch seconds), by feed");
}

static void count_error(ing_rss_t *r, feed *f, const char *kind)
{
    char l[260], fl[200];
    if (!r->metrics)
        return;
    core_metrics_label(fl, sizeof fl, "feed", f->spec.name);
    snprintf(l, sizeof l, "%s,kind=\"%s\"", fl, kind);
    core_counter_add(core_metrics_counter(r->metrics, "finsent_rss_errors_total", l,
                                          "failed fetches by feed and kind"),
                     1);
}

/* ---- feed records ---------------------------------------------------------- */

static void transfer_reset(feed *f)
{
    curl_slist_free_all(f->hdrs);
    f->hdrs = NULL;
    ing_fetch_body_cleanup(&f->body);
    free(f->resp_etag);
    free(f->resp_lm);
    f->resp_etag = f->resp_lm = NULL;
    f->retry_after_ms = -1;
}

static void feed_free(ing_rss_t *r, feed *f)
{
    if (f->easy) {
        curl_multi_remove_handle(r->multi, f->easy);
        curl_easy_cleanup(f->easy);
    }
    transfer_reset(f);
    free(f->etag);
    free(f->last_modified);
    spec_cleanup(&f->spec);
    free(f);
}

/* apply_specs merges a spec list into r->feeds (takes the specs' strings). */
static void apply_specs(ing_rss_t *r, feed_spec *specs, size_t n)
{
    feed *f;
    pthread_mutex_lock(&r->mu);
    for (f = r->feeds; f; f = f->next)
        f->removed = 1;
    for (size_t i = 0; i < n; i++) {
        for (f = r->feeds; f; f = f->next)
            if (strcmp(f->spec.name, specs[i].name) == 0 && strcmp(f->spec.url, specs[i].url) == 0)
                break;
        if (f) {
            f->removed = 0;
            free(f->spec.source);
            f->spec.source = specs[i].source;
            specs[i].source = NULL;
            f->spec.interval_ms = specs[i].interval_ms;
            spec_cleanup(&specs[i]);
            continue;
        }
        f = calloc(1, sizeof *f);
        if (!f) {
            CORE_ERROR(MOD, "out of memory adding feed %s", specs[i].name);
            spec_cleanup(&specs[i]);
            continue;
        }
        f->spec = specs[i];
        memset(&specs[i], 0, sizeof specs[i]);
        f->retry_after_ms = -1;
        f->due_mono = 0; /* fetch at once */
        feed_metrics(r, f);
        f->next = r->feeds;
        r->feeds = f;
    }
    pthread_mutex_unlock(&r->mu);
}

/* prune removes feeds marked removed that have no transfer in flight. */
static void prune(ing_rss_t *r)
{
    pthread_mutex_lock(&r->mu);
    feed **pp = &r->feeds;
    while (*pp) {
        feed *f = *pp;
        if (f->removed && !f->easy) {
            *pp = f->next;
            CORE_INFO(MOD, "feed %s removed", f->spec.name);
            feed_free(r, f);
        } else {
            pp = &f->next;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- curl callbacks -------------------------------------------------------- */

typedef struct wctx {
    ing_rss_t *r;
    feed *f;
} wctx;

static char *trim_value(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return strndup(p, n);
}

static int64_t parse_retry_after(const char *v)
{
    char *end;
    long long secs = strtoll(v, &end, 10);
    int64_t when;
    if (end != v && *end == '\0' && secs >= 0)
        return secs > 86400 ? 86400000LL : secs * 1000LL;
    if (core_time_parse_rfc822(v, &when) == CORE_OK) {
        int64_t d = when - core_time_now_ms();
        return d < 0 ? 0 : d > 86400000LL ? 86400000LL : d;
    }
    return -1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    feed *f = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after a redirect): forget the previous headers */
        free(f->resp_etag);
        free(f->resp_lm);
        f->resp_etag = f->resp_lm = NULL;
        f->retry_after_ms = -1;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t kl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = n - kl - 1;
    if (kl == 4 && strncasecmp(p, "etag", 4) == 0) {
        free(f->resp_etag);
        f->resp_etag = trim_value(v, vl);
    } else if (kl == 13 && strncasecmp(p, "last-modified", 13) == 0) {
        free(f->resp_lm);
        f->resp_lm = trim_value(v, vl);
    } else if (kl == 11 && strncasecmp(p, "retry-after", 11) == 0) {
        char *t = trim_value(v, vl);
        if (t)
            f->retry_after_ms = parse_retry_after(t);
        free(t);
    }
    return n;
}

/* ---- transfers --------------------------------------------------------------- */

static int start_fetch(ing_rss_t *r, feed *f)
{
    CURL *e = curl_easy_init();
    wctx *w = malloc(sizeof *w);
    char h[1100];

    if (!e || !w) {
        if (e)
            curl_easy_cleanup(e);
        free(w);
        return -1;
    }
    transfer_reset(f);
    w->r = r;
    w->f = f;
    f->body.max = (size_t)r->fetch.max_body;
    f->hdrs = curl_slist_append(NULL, ING_FETCH_ACCEPT);
    if (f->etag) {
        snprintf(h, sizeof h, "If-None-Match: %s", f->etag);
        f->hdrs = curl_slist_append(f->hdrs, h);
    }
    if (f->last_modified) {
        snprintf(h, sizeof h, "If-Modified-Since: %s", f->last_modified);
        f->hdrs = curl_slist_append(f->hdrs, h);
    }
    ing_fetch_setup(e, &r->fetch);
    curl_easy_setopt(e, CURLOPT_URL, f->spec.url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, w);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ing_fetch_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &f->body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    if (curl_multi_add_handle(r->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        free(w);
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    f->easy = e;
    f->fetches++;
    pthread_mutex_unlock(&r->mu);
    core_counter_add(f->m_fetches, 1);
    return 0;
}

static unsigned rnd(ing_rss_t *r)
{
    r->rng = r->rng * 1103515245u + 12345u;
    return r->rng >> 8;
}

static void schedule_failure(ing_rss_t *r, feed *f, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void schedule_failure(ing_rss_t *r, feed *f, const char *kind, const char *fmt, ...)
{
    va_list ap;
    int64_t delay = f->spec.interval_ms, now = core_time_mono_ms();
    char msg[192];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < f->failures && delay < r->backoff_max_ms; i++)
        delay *= 2;
    if (delay > r->backoff_max_ms)
        delay = r->backoff_max_ms;
    delay = delay / 2 + (int64_t)(rnd(r) % (unsigned)(delay / 2 + 1)); /* jitter [0.5, 1] */
    if (f->retry_after_ms > delay)
        delay = f->retry_after_ms;
    count_error(r, f, kind);
    pthread_mutex_lock(&r->mu);
    f->failures++;
    f->due_mono = now + delay;
    f->ok = 0;
    snprintf(f->last_error, sizeof f->last_error, "%s: %s", kind, msg);
    pthread_mutex_unlock(&r->mu);
    CORE_WARN(MOD, "feed %s: %s: %s (failure %d, retry in %lld ms)", f->spec.name, kind, msg,
              f->failures, (long long)delay);
}

static void schedule_success(ing_rss_t *r, feed *f)
{
    int64_t now = core_time_now_ms();
    if (f->failures)
        CORE_INFO(MOD, "feed %s: recovered after %d failure(s)", f->spec.name, f->failures);
    core_gauge_set(f->m_last_success, (double)now / 1000.0);
    pthread_mutex_lock(&r->mu);
    f->failures = 0;
    f->due_mono = core_time_mono_ms() + f->spec.interval_ms;
    f->ok = 1;
    f->last_success_ms = now;
    f->last_error[0] = '\0';
    pthread_mutex_unlock(&r->mu);
}

/* ---- items ------------------------------------------------------------------ */

static void item_ack(void *ctx, const core_item_t *item, core_err_t status)
{
    ing_rss_t *r = ctx;
    core_counter_add(r->m_acked, 1);
    if (ing_seen_commit(r->seen, item->source, item->id, core_time_now_ms()) != CORE_OK)
        CORE_ERROR(MOD, "out of memory marking %s seen; it may be emitted again", item->id);
}

static core_err_t make_item(ing_rss_t *r, feed *f, const ing_feed_item_t *fi, const char *id,
                            int64_t now, core_item_t **out)
{
    core_item_t *it = NULL;
    core_err_t rc = core_item_new(&it);

    *out = NULL;
    if (rc != CORE_OK)
        return rc;
    rc = core_item_set(it, &it->id, id, strlen(id));
    if (rc == CORE_OK)
        rc = core_item_set(it, &it->source, f->spec.source, strlen(f->spec.source));
    if (rc == CORE_OK && fi->title)
        rc = core_item_set(it, &it->title, fi->title, strlen(fi->title));
    if (rc == CORE_OK && fi->text)
        rc = core_item_set(it, &it->text, fi->text, strlen(fi->text));
    if (rc == CORE_OK && fi->url)
        rc = core_item_set(it, &it->url, fi->url, strlen(fi->url));
    it->ingest_ms = now;
    /* An explicit 1970-01-01T00:00:00Z is that (too old) date, not "now":
     * as for Kafka and JSONL (core_item_event_known). */
    it->event_ms = fi->event_set ? fi->event_ms : now;
    it->event_set = fi->event_set;
    if (rc == CORE_OK && r->cashtags)
        rc = core_item_add_cashtags(it);
    if (rc != CORE_OK) {
        core_item_free(it);
        return rc;
    }
    it->ack.fn = item_ack;
    it->ack.ctx = r;
    *out = it;
    return CORE_OK;
}

/* emit pushes the feed's new items, oldest first. Returns the count. */
static size_t emit(ing_rss_t *r, feed *f, const ing_feed_t *doc)
{
    size_t emitted = 0;
    int64_t now = core_time_now_ms();
    for (size_t i = doc->n; i-- > 0 && !atomic_load(&r->stop);) {
        const ing_feed_item_t *fi = &doc->items[i];
        size_t idl = strlen(f->spec.source) + strlen(fi->id) + 2;
        char *id = malloc(idl);
        core_item_t *it = NULL;
        core_err_t rc;
        if (!id)
            break;
        snprintf(id, idl, "%s:%s", f->spec.source, fi->id);
        /* The item first: its id is the one the pipeline acknowledges (an
         * over-long one is hashed by core_item_set), so claim that one. */
        rc = make_item(r, f, fi, id, now, &it);
        free(id);
        if (rc != CORE_OK)
            break;
        id = strdup(it->id);
        if (!id) {
            core_item_free(it);
            break;
        }
        int c = ing_seen_claim(r->seen, f->spec.source, id);
        if (c <= 0) {
            core_item_free(it);
            free(id);
            if (c < 0)
                break;
            continue;
        }
        for (;;) {
            rc = core_queue_push(r->q, it, 100);
            if (rc != CORE_ETIMEOUT || atomic_load(&r->stop))
                break;
        }
        if (rc != CORE_OK) {
            /* closed or stopping: not handed out, so emitted again later */
            ing_seen_release(r->seen, f->spec.source, id);
            core_item_free(it);
            free(id);
            break;
        }
        free(id);
        emitted++;
    }
    core_counter_add(f->m_items, emitted);
    core_counter_add(r->m_items, emitted);
    return emitted;
}

/* ---- completion ------------------------------------------------------------ */

/* note_document records what a parsed document was (format, encoding, items)
 * for the health view, counts and logs a document that yielded no item, and
 * logs the parser's warning when it changes (not on every poll). */
static void note_document(ing_rss_t *r, feed *f, const ing_feed_t *doc)
{
    if (doc->warning[0] && strcmp(doc->warning, f->last_warning) != 0)
        CORE_WARN(MOD, "feed %s (%s, %s): %s", f->spec.name, ing_feed_kind_name(doc->kind),
                  doc->encoding, doc->warning);
    snprintf(f->last_warning, sizeof f->last_warning, "%s", doc->warning);
    if (doc->n == 0) {
        core_counter_add(f->m_empty, 1);
        if (!doc->warning[0] && f->empty_polls == 0)
            CORE_WARN(MOD, "feed %s (%s): the document has no items", f->spec.name,
                      ing_feed_kind_name(doc->kind));
    }
    pthread_mutex_lock(&r->mu);
    f->empty_polls = doc->n == 0 ? f->empty_polls + 1 : 0;
    f->last_items = doc->n;
    snprintf(f->format, sizeof f->format, "%s", ing_feed_kind_name(doc->kind));
    snprintf(f->encoding, sizeof f->encoding, "%s", doc->encoding);
    pthread_mutex_unlock(&r->mu);
}

static void finish(ing_rss_t *r, CURL *e, CURLcode res)
{
    wctx *w = NULL;
    feed *f;
    long status = 0;
    const char *ct = NULL, *eurl = NULL;
    char ctype[256] = "", url[2048] = "";

    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&w);
    f = w->f;
    free(w);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    /* The charset and the base URL of what was finally served. */
    if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(ctype, sizeof ctype, "%s", ct);
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eurl) == CURLE_OK && eurl)
        snprintf(url, sizeof url, "%s", eurl);
    curl_multi_remove_handle(r->multi, e);
    curl_easy_cleanup(e);
    pthread_mutex_lock(&r->mu);
    f->easy = NULL;
    pthread_mutex_unlock(&r->mu);

    if (res != CURLE_OK) {
        const char *kind = ing_fetch_error_kind(res, f->body.too_large);
        if (f->body.too_large)
            schedule_failure(r, f, kind, "body larger than rss.max_body (%lld bytes); aborted",
                             (long long)r->fetch.max_body);
        else
            schedule_failure(r, f, kind, "%s", curl_easy_strerror(res));
        transfer_reset(f);
        return;
    }
    if (status == 304) {
        core_counter_add(f->m_304, 1);
        schedule_success(r, f);
        transfer_reset(f);
        return;
    }
    if (status == 429 || status == 503) {
        schedule_failure(r, f, "throttled", "HTTP %ld%s", status,
                         f->retry_after_ms >= 0 ? " with Retry-After" : "");
        transfer_reset(f);
        return;
    }
    if (status != 200) {
        schedule_failure(r, f, "http", "HTTP %ld", status);
        transfer_reset(f);
        return;
    }
    {
        ing_feed_t *doc = NULL;
        char err[256] = "";
        ing_feed_source_t src = {ctype[0] ? ctype : NULL, url[0] ? url : f->spec.url};
        core_err_t rc = ing_feed_parse(f->body.data ? f->body.data : "", f->body.len, &r->limits,
                                       &src, &doc, err, sizeof err);
        if (rc != CORE_OK) {
            schedule_failure(r, f, "parse", "%s", err[0] ? err : core_strerror(rc));
            transfer_reset(f);
            return;
        }
        if (doc->recovered)
            CORE_WARN(MOD, "feed %s is not well-formed (%s); using the %zu item(s) recovered",
                      f->spec.name, doc->note, doc->n);
        note_document(r, f, doc);
        /* Validators only from a response that parsed. */
        free(f->etag);
        free(f->last_modified);
        f->etag = f->resp_etag;
        f->last_modified = f->resp_lm;
        f->resp_etag = f->resp_lm = NULL;
        size_t n = emit(r, f, doc);
        CORE_DEBUG(MOD, "feed %s: %zu item(s), %zu new", f->spec.name, doc->n, n);
        ing_feed_free(doc);
        schedule_success(r, f);
        transfer_reset(f);
    }
}

/* ---- seen store persistence (poller thread) ---------------------------------- */

static void persist(ing_rss_t *r)
{
    char err[512] = "";
    core_err_t rc;
    int64_t now = core_time_now_ms();

    rc = ing_seen_save(r->seen, now, err, sizeof err); /* expiry; the file when there is one */
    if (rc == CORE_OK && r->seen_redis) {
        if (!r->seen_loaded) {
            rc = ing_seen_redis_load(r->seen_redis, r->seen, now, err, sizeof err);
            r->seen_loaded = rc == CORE_OK;
            if (r->seen_loaded)
                CORE_INFO(MOD, "seen feed items loaded from Redis (%zu)", ing_seen_count(r->seen));
        } else {
            rc = ing_seen_redis_flush(r->seen_redis, r->seen, now, err, sizeof err);
        }
    }
    if (rc != CORE_OK && !r->seen_warned) {
        CORE_ERROR(MOD, "seen store: %s (retrying)", err);
        r->seen_warned = 1;
    } else if (rc == CORE_OK && r->seen_warned) {
        CORE_INFO(MOD, "seen store: working again");
        r->seen_warned = 0;
    }
}

/* ---- thread ----------------------------------------------------------------- */

static void *poller_main(void *arg)
{
    ing_rss_t *r = arg;
    int64_t next_save = core_time_mono_ms() + SAVE_EVERY_MS;

    if (r->seen_redis)
        persist(r); /* load what other runs saw before the first fetch */
    while (!atomic_load(&r->stop)) {
        int64_t now = core_time_mono_ms(), wait = 1000;
        int running = 0, left;
        CURLMsg *m;

        pthread_mutex_lock(&r->mu);
        if (r->have_reload) {
            feed_spec *specs = r->reload;
            size_t n = r->nreload;
            r->reload = NULL;
            r->nreload = 0;
            r->have_reload = 0;
            pthread_mutex_unlock(&r->mu);
            apply_specs(r, specs, n);
            specs_free(specs, n);
            CORE_INFO(MOD, "feed list reloaded (%zu feed(s))", n);
        } else {
            pthread_mutex_unlock(&r->mu);
        }
        prune(r);
        for (feed *f = r->feeds; f; f = f->next) {
            if (f->removed || f->easy)
                continue;
            if (f->due_mono <= now) {
                if (start_fetch(r, f) != 0) {
                    schedule_failure(r, f, "network", "cannot start a transfer");
                    continue;
                }
            } else if (f->due_mono - now < wait) {
                wait = f->due_mono - now;
            }
        }
        curl_multi_perform(r->multi, &running);
        while ((m = curl_multi_info_read(r->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                finish(r, m->easy_handle, m->data.result);
        if (core_time_mono_ms() >= next_save) {
            persist(r);
            next_save = core_time_mono_ms() + SAVE_EVERY_MS;
        }
        if (wait > 200 && running)
            wait = 200;
        if (wait < 1)
            wait = 1;
        curl_multi_poll(r->multi, NULL, 0, (int)wait, NULL);
    }

    /* Stop: abort transfers, wait for acks, save. */
    for (feed *f = r->feeds; f; f = f->next) {
        if (f->easy) {
            wctx *w = NULL;
            curl_easy_getinfo(f->easy, CURLINFO_PRIVATE, (char **)&w);
            free(w);
            curl_multi_remove_handle(r->multi, f->easy);
            curl_easy_cleanup(f->easy);
            f->easy = NULL;
            transfer_reset(f);
        }
    }
    while (ing_seen_pending(r->seen) > 0 && core_time_mono_ms() < r->grace_deadline)
        curl_multi_poll(r->multi, NULL, 0, 20, NULL);
    if (ing_seen_pending(r->seen) > 0)
        CORE_WARN(MOD, "%zu feed item(s) unacknowledged at stop; they are emitted again next time",
                  ing_seen_pending(r->seen));
    persist(r);
    return NULL;
}

/* ---- public ------------------------------------------------------------------ */

core_err_t ing_rss_new(const core_config_t *cfg, core_queue_t *q, core_metrics_t *metrics,
                       ing_rss_t **out, char *err, size_t errlen)
{
    ing_rss_t *r;
    feed_spec *specs = NULL;
    size_t n = 0;
    core_err_t rc;
    const char *state = core_config_str(cfg, CORE_CFG_RSS_STATE_FILE);
    const char *store = core_config_str(cfg, CORE_CFG_RSS_SEEN_STORE);

    *out = NULL;
    if (strcmp(store, "auto") == 0)
        store = state[0] ? "file" : "redis";
    if (strcmp(store, "redis") != 0 && strcmp(store, "file") != 0 && strcmp(store, "memory") != 0) {
        snprintf(err, errlen, "[rss] seen_store (%s): '%s' is not auto, redis, file or memory",
                 core_config_origin(cfg, CORE_CFG_RSS_SEEN_STORE), store);
        return CORE_ECONFIG;
    }
    if (strcmp(store, "file") == 0 && !state[0]) {
        snprintf(err, errlen, "[rss] seen_store (%s): 'file' needs rss.state_file",
                 core_config_origin(cfg, CORE_CFG_RSS_SEEN_STORE));
        return CORE_ECONFIG;
    }
    ing_feed_init();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl initialisation failed");
        return CORE_EINTERNAL;
    }
    rc = read_specs(cfg, &specs, &n, err, errlen);
    if (rc != CORE_OK)
        return rc;
    r = calloc(1, sizeof *r);
    if (!r) {
        specs_free(specs, n);
        return CORE_ENOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->q = q;
    r->metrics = metrics;
    r->limits.max_items = 10000;
    r->limits.max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES);
    r->cashtags = core_config_bool(cfg, CORE_CFG_ENTITIES_CASHTAGS);
    r->backoff_max_ms = core_config_int(cfg, CORE_CFG_RSS_BACKOFF_MAX);
    ing_fetch_opts_from_config(cfg, &r->fetch);
    r->rng = (unsigned)core_time_mono_ns();
    if (metrics) {
        r->m_items = core_metrics_counter(metrics, "finsent_ingest_items_total", "source=\"rss\"",
                                          "items handed to the pipeline, by source");
        r->m_acked = core_metrics_counter(metrics, "finsent_ingest_acked_total", "source=\"rss\"",
                                          "items acknowledged by the pipeline, by source");
    }
    r->multi = curl_multi_init();
    if (!r->multi) {
        rc = CORE_ENOMEM;
        goto out;
    }
    rc = ing_seen_open(strcmp(store, "file") == 0 ? state : NULL,
                       core_config_int(cfg, CORE_CFG_RSS_SEEN_TTL), core_time_now_ms(), &r->seen,
                       err, errlen);
    if (rc != CORE_OK)
        goto out;
    if (strcmp(store, "redis") == 0) {
        rc = ing_seen_redis_new(cfg, &r->seen_redis);
        if (rc != CORE_OK)
            goto out;
    }
    if (ing_seen_load_skipped(r->seen))
        CORE_WARN(MOD, "%s: %zu corrupt line(s) skipped", state, ing_seen_load_skipped(r->seen));
    apply_specs(r, specs, n);
    *out = r;
    r = NULL;
out:
    specs_free(specs, n);
    ing_rss_free(r);
    return rc;
}

core_err_t ing_rss_start(ing_rss_t *r, char *err, size_t errlen)
{
    if (r->started || r->stopped) {
        snprintf(err, errlen, "rss poller already started");
        return CORE_EINVAL;
    }
    if (pthread_create(&r->thr, NULL, poller_main, r) != 0) {
        snprintf(err, errlen, "cannot start the rss poller thread");
        return CORE_EINTERNAL;
    }
    r->started = 1;
    return CORE_OK;
}

core_err_t ing_rss_reload(ing_rss_t *r, const core_config_t *cfg, char *err, size_t errlen)
{
    feed_spec *specs = NULL;
    size_t n = 0;
    core_err_t rc = read_specs(cfg, &specs, &n, err, errlen);
    if (rc != CORE_OK)
        return rc;
    pthread_mutex_lock(&r->mu);
    specs_free(r->reload, r->nreload);
    r->reload = specs;
    r->nreload = n;
    r->have_reload = 1;
    pthread_mutex_unlock(&r->mu);
    if (!r->started) {
        /* not running: apply now */
        pthread_mutex_lock(&r->mu);
        specs = r->reload;
        n = r->nreload;
        r->reload = NULL;
        r->nreload = 0;
        r->have_reload = 0;
        pthread_mutex_unlock(&r->mu);
        apply_specs(r, specs, n);
        specs_free(specs, n);
    } else {
        curl_multi_wakeup(r->multi);
    }
    return CORE_OK;
}

void ing_rss_stop(ing_rss_t *r, int64_t grace_ms)
{
    if (!r || r->stopped)
        return;
    r->stopped = 1;
    r->grace_deadline = core_time_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
    if (r->started) {
        atomic_store(&r->stop, 1);
        curl_multi_wakeup(r->multi);
        pthread_join(r->thr, NULL);
    }
}

void ing_rss_free(ing_rss_t *r)
{
    if (!r)
        return;
    ing_rss_stop(r, 0);
    while (r->feeds) {
        feed *f = r->feeds;
        r->feeds = f->next;
        if (f->easy) {
            wctx *w = NULL;
            curl_easy_getinfo(f->easy, CURLINFO_PRIVATE, (char **)&w);
            free(w);
        }
        feed_free(r, f);
    }
    specs_free(r->reload, r->nreload);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    ing_seen_free(r->seen);
    ing_seen_redis_free(r->seen_redis);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

size_t ing_rss_health(ing_rss_t *r, ing_rss_feed_health_t *out, size_t max)
{
    size_t n = 0;
    int64_t now = core_time_mono_ms();
    pthread_mutex_lock(&r->mu);
    for (feed *f = r->feeds; f; f = f->next) {
        if (f->removed)
            continue;
        if (n < max) {
            ing_rss_feed_health_t *h = &out[n];
            memset(h, 0, sizeof *h);
            snprintf(h->name, sizeof h->name, "%s", f->spec.name);
            h->ok = f->ok;
            h->failures = f->failures;
            h->fetches = f->fetches;
            h->last_success_ms = f->last_success_ms;
            h->next_fetch_in_ms = f->easy || f->due_mono <= now ? 0 : f->due_mono - now;
            snprintf(h->last_error, sizeof h->last_error, "%s", f->last_error);
            h->empty_polls = f->empty_polls;
            h->last_items = f->last_items;
            snprintf(h->format, sizeof h->format, "%s", f->format);
            snprintf(h->encoding, sizeof h->encoding, "%s", f->encoding);
        }
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}
