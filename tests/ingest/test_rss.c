/*
 * Tests of ing_rss against a real local HTTP server (tests/ingest/
 * feed_server.py, started with python3 on a free port): the three feed
 * formats, conditional GET and 304, dedup across repeats and restarts,
 * malformed and hostile documents, size/time/redirect limits, backoff and
 * recovery, Retry-After. Waits are bounded by deadlines; assertions are on
 * items, metrics and feed health, never on timings.
 */
#include <check.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_config.h"
#include "core/core_log.h"
#include "core/core_metrics.h"
#include "core/core_time.h"
#include "ingest/ing_rss.h"
#include "tests/common/th.h"
#include "tests/common/th_redis.h"
#include "tests/ingest/ipipe.h"

static pid_t server_pid;
static int port;

static void server_start(void)
{
    char script[1024], data[1024], portstr[16], log[700];
    const char *dir;

    core_log_setup(CORE_LOG_ERROR, CORE_LOG_TEXT);
    ck_assert_msg(th_have_program("python3"), "python3 is needed for the feed tests");
    snprintf(script, sizeof script, "%s/../ingest/feed_server.py", FINSENT_TEST_DATA);
    th_data_path(data, sizeof data, "feeds");
    port = th_free_port();
    snprintf(portstr, sizeof portstr, "%d", port);
    dir = th_tmpdir("feedsrv");
    snprintf(log, sizeof log, "%s/server.log", dir);
    char *argv[] = {"python3", script, portstr, data, NULL};
    server_pid = th_spawn(argv, log);
    ck_assert(server_pid > 0);
    ck_assert_msg(th_wait_port(port, 10000), "feed server did not start (see %s)", log);
}

static void server_stop(void)
{
    th_kill(server_pid, SIGKILL);
}

/* cfg_for builds a config from INI text where every "PORT" is the server's. */
static core_config_t *cfg_for(const char *ini)
{
    core_config_t *cfg;
    char text[4096], err[512];
    size_t o = 0;
    for (const char *p = ini; *p && o + 8 < sizeof text;) {
        if (strncmp(p, "PORT", 4) == 0) {
            o += (size_t)snprintf(text + o, sizeof text - o, "%d", port);
            p += 4;
        } else {
            text[o++] = *p++;
        }
    }
    text[o] = '\0';
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test.conf", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    /* Never touch a Redis that happens to run on the default port. */
    if (!strstr(ini, "state_file") && !strstr(ini, "seen_store"))
        ck_assert_int_eq(core_config_set(cfg, "rss.seen_store=memory", err, sizeof err), CORE_OK);
    return cfg;
}

static ing_rss_t *rss_start(const core_config_t *cfg, core_queue_t *q, core_metrics_t *m)
{
    ing_rss_t *r = NULL;
    char err[512] = "";
    ck_assert_msg(ing_rss_new(cfg, q, m, &r, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(ing_rss_start(r, err, sizeof err) == CORE_OK, "%s", err);
    return r;
}

/* metric reads one sample of the rendered registry; -1 when absent. */
static long long metric(core_metrics_t *m, const char *sample)
{
    char *text = NULL, *p;
    size_t len;
    long long v = -1;
    ck_assert_int_eq(core_metrics_render(m, &text, &len), CORE_OK);
    size_t sl = strlen(sample);
    for (p = text; (p = strstr(p, sample)); p += sl) {
        if ((p == text || p[-1] == '\n') && p[sl] == ' ') {
            v = atoll(p + sl + 1);
            break;
        }
    }
    free(text);
    return v;
}

/* wait_metric waits until the sample reaches at least want. */
static long long wait_metric(core_metrics_t *m, const char *sample, long long want, int timeout_ms)
{
    int64_t end = core_time_mono_ms() + timeout_ms;
    long long v;
    while ((v = metric(m, sample)) < want && core_time_mono_ms() < end)
        usleep(20000);
    return v;
}

static ing_rss_feed_health_t health_of(ing_rss_t *r, const char *name)
{
    ing_rss_feed_health_t h[16];
    size_t n = ing_rss_health(r, h, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (strcmp(h[i].name, name) == 0)
            return h[i];
    ck_abort_msg("no feed %s", name);
    return h[0];
}

/* The feed's health once it is ok, or as it is after timeout_ms: a feed's
 * items reach the queue before the fetch is recorded as a success, so the
 * items' arrival alone does not say the health has been updated. */
static ing_rss_feed_health_t wait_ok(ing_rss_t *r, const char *name, int timeout_ms)
{
    int64_t end = core_time_mono_ms() + timeout_ms;
    ing_rss_feed_health_t h = health_of(r, name);
    while (!h.ok && core_time_mono_ms() < end) {
        usleep(20000);
        h = health_of(r, name);
    }
    return h;
}

static size_t grow_cb(char *d, size_t sz, size_t nm, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), n = sz * nm;
    if (have + n < 65535) {
        memcpy(buf + have, d, n);
        buf[have + n] = '\0';
    }
    return n;
}

/* server_stats GETs /stats into buf (64 KiB). */
static void server_stats(char *buf)
{
    char url[128];
    CURL *e = curl_easy_init();
    buf[0] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", port);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, grow_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, buf);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
}

static int has_id(pipe_t *p, const char *id)
{
    int found = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++)
        found |= strcmp(p->ids[i], id) == 0;
    pthread_mutex_unlock(&p->mu);
    return found;
}

/* ---- tests ---------------------------------------------------------------- */

/* RSS 2.0, RDF and Atom fetched concurrently; the second round is a 304
 * (conditional GET with the ETag) and emits nothing again. */
START_TEST(formats_and_304)
{
    core_metrics_t *m;
    pipe_t p;
    pipe_t *ps[1] = {&p};
    size_t dups;
    core_config_t *cfg =
        cfg_for("[feed.r2]\nurl = http://127.0.0.1:PORT/static/rss2.xml\ninterval = 1s\n"
                "[feed.rdf]\nurl = http://127.0.0.1:PORT/static/rdf.xml\ninterval = 1s\n"
                "[feed.atom]\nurl = http://127.0.0.1:PORT/static/atom.xml\ninterval = 1s\n"
                "source = atomwire\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 8, 20000), 8);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_not_modified_total{feed=\"r2\"}", 1, 20000), 1);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_not_modified_total{feed=\"rdf\"}", 1, 20000), 1);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_not_modified_total{feed=\"atom\"}", 1, 20000), 1);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, 8);
    ck_assert_uint_eq(distinct(ps, 1, &dups), 8);
    ck_assert(has_id(&p, "rss:r2:wire-0001"));
    ck_assert(has_id(&p, "rss:rdf:https://example.org/a"));
    ck_assert(has_id(&p, "rss:atomwire:urn:example:1"));
    ck_assert_int_eq(metric(m, "finsent_rss_items_total{feed=\"r2\"}"), 3);
    ck_assert_int_eq(metric(m, "finsent_rss_items_total{feed=\"atom\"}"), 3);
    ck_assert_int_eq(metric(m, "finsent_ingest_acked_total{source=\"rss\"}"), 8);
    ing_rss_feed_health_t h = health_of(r, "r2");
    ck_assert_int_eq(h.ok, 1);
    ck_assert(h.last_success_ms > 0);
    ing_rss_free(r);

    /* The item fields made it through, cashtags included. */
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* The response's Content-Type charset and URL reach the parser; a document
 * that yields no item is counted and shows in the health view. */
START_TEST(charset_base_and_empty)
{
    core_metrics_t *m;
    pipe_t p;
    char want_url[128];
    core_config_t *cfg = cfg_for(
        "[feed.koi]\nurl = http://127.0.0.1:PORT/typed/charset/koi8r_http_override.xml"
        "?type=text/xml%3B%20charset%3D%22koi8-r%22\ninterval = 1h\n"
        "[feed.rel]\nurl = http://127.0.0.1:PORT/typed/dialects/rss_relative.xml\ninterval = 1h\n"
        "[feed.empty]\nurl = http://127.0.0.1:PORT/typed/dialects/zero_items_wrong_ns.xml\n"
        "interval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 0);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_int_ge(wait_metric(m, "finsent_feed_empty_total{feed=\"empty\"}", 2, 20000), 2);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_items_total{feed=\"koi\"}", 1, 20000), 1);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_items_total{feed=\"rel\"}", 1, 20000), 1);
    ing_rss_feed_health_t h = health_of(r, "empty");
    ck_assert_int_ge(h.empty_polls, 2);
    ck_assert_uint_eq(h.last_items, 0);
    ck_assert_str_eq(h.format, "rss2");
    ck_assert_int_eq(h.ok, 1); /* fetched and parsed: not a failure, but empty */
    h = health_of(r, "koi");
    ck_assert_str_eq(h.encoding, "KOI8-R");
    ck_assert_int_eq(h.empty_polls, 0);
    int seen_koi = 0, seen_rel = 0;
    snprintf(want_url, sizeof want_url, "http://127.0.0.1:%d/articles/7.html", port);
    pthread_mutex_lock(&p.mu);
    for (size_t i = 0; i < p.n; i++) {
        core_item_t *it = p.kept[i];
        if (strcmp(it->source, "rss:koi") == 0 && it->title &&
            strcmp(it->title, "\xd0\x98\xd0\xbd\xd0\xb4\xd0\xb5\xd0\xba\xd1\x81 "
                              "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xb1\xd0\xb8\xd1\x80\xd0\xb6\xd0\xb8 "
                              "\xd0\xb2\xd1\x8b\xd1\x80\xd0\xbe\xd1\x81 \xd0\xbd\xd0\xb0 1,5% "
                              "\xd0\xbd\xd0\xb0 \xd1\x84\xd0\xbe\xd0\xbd\xd0\xb5 "
                              "\xd0\xbf\xd0\xbe\xd0\xb4\xd0\xbe\xd1\x80\xd0\xbe\xd0\xb6\xd0\xb0"
                              "\xd0\xbd\xd0\xb8\xd1\x8f \xd0\xbd\xd0\xb5\xd1\x84\xd1\x82\xd0\xb8") == 0)
            seen_koi = 1;
        if (strcmp(it->source, "rss:rel") == 0 && it->url && strcmp(it->url, want_url) == 0)
            seen_rel = 1;
    }
    for (size_t i = 0; i < p.n; i++)
        core_item_ack(p.kept[i], CORE_OK);
    pthread_mutex_unlock(&p.mu);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert_msg(seen_koi, "the KOI8-R headline was not decoded through the HTTP charset");
    ck_assert_msg(seen_rel, "the relative link was not resolved against the feed URL");
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* Issue 18: a feed date of exactly 1970-01-01T00:00:00Z (pubDate or
 * dc:date) is that date, too old to count, as in Kafka and JSONL; it used
 * to be read as "no date" and replaced by the ingest time. An item with no
 * date still gets the ingest time. */
START_TEST(epoch_date_is_not_now)
{
    pipe_t p;
    core_config_t *cfg =
        cfg_for("[feed.ep]\nurl = http://127.0.0.1:PORT/static/epoch.xml\ninterval = 1s\n");
    pipe_start(&p, 64, 0);
    ing_rss_t *r = rss_start(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    pthread_mutex_lock(&p.mu);
    for (size_t i = 0; i < 3; i++) {
        core_item_t *it = p.kept[i];
        if (strcmp(it->id, "rss:ep:no-date") == 0) {
            ck_assert_int_eq(it->event_ms, it->ingest_ms);
        } else {
            ck_assert_msg(it->event_ms == 0 && core_item_event_known(it),
                          "%s: event_ms %lld (ingest %lld), want 0 (1970)", it->id,
                          (long long)it->event_ms, (long long)it->ingest_ms);
        }
        core_item_ack(it, CORE_OK);
    }
    pthread_mutex_unlock(&p.mu);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
}
END_TEST

/* Items carry the feed's fields; the request had our User-Agent and the
 * validators. */
START_TEST(item_fields_and_request)
{
    pipe_t p;
    core_config_t *cfg =
        cfg_for("[feed.r2]\nurl = http://127.0.0.1:PORT/static/rss2.xml\ninterval = 1s\n");
    pipe_start(&p, 64, 0);
    ing_rss_t *r = rss_start(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    /* Oldest first: reverse document order. */
    core_item_t *a = p.kept[2];
    ck_assert_str_eq(a->id, "rss:r2:wire-0001");
    ck_assert_str_eq(a->source, "rss:r2");
    ck_assert_str_eq(a->title, "Acme shares slump after profit warning");
    ck_assert_str_eq(a->url, "https://example.com/news/1");
    ck_assert_int_eq(a->event_ms, core_time_from_civil(2026, 11, 28, 13, 50, 0));
    ck_assert_uint_eq(a->n_entities, 1);
    ck_assert_str_eq(a->entities[0], "ACME");
    core_item_t *c = p.kept[0]; /* no date: the ingest time */
    ck_assert_int_eq(c->event_ms, c->ingest_ms);
    for (size_t i = 0; i < 3; i++)
        core_item_ack(p.kept[i], CORE_OK);
    /* The second fetch is conditional; both carry our User-Agent and ask
     * for compression (the server then sends gzip). */
    int64_t end = core_time_mono_ms() + 20000;
    while (health_of(r, "r2").fetches < 3 && core_time_mono_ms() < end)
        usleep(20000);
    ck_assert_uint_ge(health_of(r, "r2").fetches, 3);
    static char stats[65536];
    server_stats(stats);
    ck_assert_msg(strstr(stats, "\"user-agent\": \"finsent/") != NULL, "%s", stats);
    ck_assert_msg(strstr(stats, "\"if-none-match\": \"\\\"") != NULL, "%s", stats);
    ck_assert_msg(strstr(stats, "\"if-modified-since\": \"Sat, 28 Nov 2026 12:00:00 GMT\"") != NULL,
                  "%s", stats);
    ck_assert_msg(strstr(stats, "gzip") != NULL, "%s", stats);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
}
END_TEST

/* Dedup across a restart through the state file; unacked items come back. */
START_TEST(dedup_across_restart)
{
    char ini[1024], path[600];
    core_metrics_t *m;
    pipe_t p;
    const char *dir = th_tmpdir("rss-state");
    snprintf(path, sizeof path, "%s/seen.state", dir);
    snprintf(ini, sizeof ini,
             "[rss]\nstate_file = %s\n[feed.r2]\nurl = http://127.0.0.1:PORT/static/rss2.xml\n"
             "interval = 1s\n[feed.atom]\nurl = http://127.0.0.1:PORT/static/atom.xml\n",
             path);
    core_config_t *cfg = cfg_for(ini);

    /* Run 1: r2's 3 items acked, atom's 3 items never acked. */
    pipe_start(&p, 64, 0);
    ing_rss_t *r = rss_start(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 6, 20000), 6);
    for (size_t i = 0; i < p.n; i++)
        if (strncmp(p.kept[i]->id, "rss:r2:", 7) == 0)
            core_item_ack(p.kept[i], CORE_OK);
    ing_rss_stop(r, 0);
    ing_rss_free(r);
    pipe_stop(&p);
    pipe_free(&p);

    /* Run 2: the acked ones are not emitted again, the unacked ones are. */
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    /* r2 was fetched and parsed (a 200: run 2 has no validators) with 0 new items. */
    int64_t end = core_time_mono_ms() + 20000;
    while (health_of(r, "r2").last_success_ms == 0 && core_time_mono_ms() < end)
        usleep(20000);
    ck_assert(health_of(r, "r2").last_success_ms > 0);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, 3);
    for (size_t i = 0; i < p.n; i++)
        ck_assert_msg(strncmp(p.ids[i], "rss:atom:", 9) == 0, "%s emitted again", p.ids[i]);
    ck_assert_int_eq(metric(m, "finsent_rss_items_total{feed=\"r2\"}"), 0);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* A feed that repeats an id within a document and then reorders its items
 * and adds one: every item exactly once. */
START_TEST(repeats_and_reorders)
{
    pipe_t p;
    pipe_t *ps[1] = {&p};
    size_t dups;
    core_metrics_t *m;
    core_config_t *cfg =
        cfg_for("[feed.d]\nurl = http://127.0.0.1:PORT/seq/rss2_dup.xml,rss2_reordered.xml\n"
                "interval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    /* Let it poll the reordered document twice more. */
    ck_assert_int_ge(wait_metric(m, "finsent_rss_fetches_total{feed=\"d\"}", 4, 20000), 4);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert_uint_eq(distinct(ps, 1, &dups), 3);
    ck_assert_uint_eq(dups, 0);
    ck_assert(has_id(&p, "rss:d:d-3"));
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* Bad documents: malformed XML is recovered, an HTML page and an entity bomb
 * do not break anything, and a healthy feed next to them is unaffected. */
START_TEST(malformed_documents)
{
    pipe_t p;
    core_metrics_t *m;
    core_config_t *cfg = cfg_for(
        "[feed.bad]\nurl = http://127.0.0.1:PORT/static/malformed.xml\ninterval = 1s\n"
        "[feed.html]\nurl = http://127.0.0.1:PORT/static/not_a_feed.html\ninterval = 1s\n"
        "[feed.bomb]\nurl = http://127.0.0.1:PORT/static/billion_laughs.xml\ninterval = 1s\n"
        "[feed.good]\nurl = http://127.0.0.1:PORT/static/rdf.xml\ninterval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"html\",kind=\"parse\"}", 1, 20000), 1);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_items_total{feed=\"good\"}", 2, 20000), 2);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_items_total{feed=\"bad\"}", 1, 20000), 1);
    int64_t end = core_time_mono_ms() + 20000;
    while (health_of(r, "bomb").fetches == 0 && core_time_mono_ms() < end)
        usleep(20000);
    ing_rss_feed_health_t hh = health_of(r, "html");
    ck_assert_int_eq(hh.ok, 0);
    ck_assert_msg(strstr(hh.last_error, "root element <html>") != NULL, "%s", hh.last_error);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert(has_id(&p, "rss:bad:b-1"));
    for (size_t i = 0; i < p.n; i++)
        ck_assert(strlen(p.ids[i]) < 200);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* Limits: an endless body is aborted at max_body, a declared huge body is
 * refused, a slow server hits the timeout, a redirect loop stops at
 * max_redirects; a good feed alongside still delivers. */
START_TEST(limits_and_isolation)
{
    pipe_t p;
    core_metrics_t *m;
    core_config_t *cfg =
        cfg_for("[rss]\nmax_body = 64KiB\ntimeout = 700ms\nmax_redirects = 3\n"
                "backoff_max = 1s\n"
                "[feed.endless]\nurl = http://127.0.0.1:PORT/endless\ninterval = 1s\n"
                "[feed.big]\nurl = http://127.0.0.1:PORT/big\ninterval = 1s\n"
                "[feed.slow]\nurl = http://127.0.0.1:PORT/slow/rss2.xml?delay=3\ninterval = 1s\n"
                "[feed.loop]\nurl = http://127.0.0.1:PORT/loop\ninterval = 1s\n"
                "[feed.down]\nurl = http://127.0.0.1:1/nothing\ninterval = 1s\n"
                "[feed.good]\nurl = http://127.0.0.1:PORT/static/rss2.xml\ninterval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"endless\",kind=\"too_large\"}", 1, 20000),
        1);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"big\",kind=\"too_large\"}", 1, 20000), 1);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"slow\",kind=\"timeout\"}", 1, 20000), 1);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"loop\",kind=\"redirects\"}", 1, 20000), 1);
    ck_assert_int_ge(
        wait_metric(m, "finsent_rss_errors_total{feed=\"down\",kind=\"connect\"}", 1, 20000), 1);
    ing_rss_feed_health_t h = health_of(r, "endless");
    ck_assert_int_eq(h.ok, 0);
    ck_assert(h.failures >= 1);
    ck_assert_msg(strstr(h.last_error, "max_body") != NULL, "%s", h.last_error);
    ck_assert_int_eq(wait_ok(r, "good", 10000).ok, 1);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, 3);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* 500 twice, then the feed: backoff, then recovery with every item. */
START_TEST(backoff_then_recovery)
{
    pipe_t p;
    core_metrics_t *m;
    core_config_t *cfg =
        cfg_for("[rss]\nbackoff_max = 1s\n"
                "[feed.flaky]\nurl = http://127.0.0.1:PORT/flaky/rss2.xml?fail=2\ninterval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 3, 30000), 3);
    ck_assert_int_eq(metric(m, "finsent_rss_errors_total{feed=\"flaky\",kind=\"http\"}"), 2);
    ing_rss_feed_health_t h = wait_ok(r, "flaky", 10000);
    ck_assert_int_eq(h.ok, 1);
    ck_assert_int_eq(h.failures, 0);
    ck_assert_uint_ge(h.fetches, 3);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* 429 with Retry-After: 3 on a 1 s feed: the next fetch is scheduled at
 * least that far away (beyond interval and backoff), then it recovers. */
START_TEST(retry_after_respected)
{
    pipe_t p;
    core_metrics_t *m;
    core_config_t *cfg = cfg_for(
        "[rss]\nbackoff_max = 1s\n"
        "[feed.t]\nurl = http://127.0.0.1:PORT/throttle/rss2.xml?n=1&after=3\ninterval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_int_eq(
        wait_metric(m, "finsent_rss_errors_total{feed=\"t\",kind=\"throttled\"}", 1, 20000), 1);
    ing_rss_feed_health_t h = health_of(r, "t");
    ck_assert_msg(h.next_fetch_in_ms > 1500, "next fetch in %lld ms",
                  (long long)h.next_fetch_in_ms);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);

    /* The same with a 503 and an HTTP date. */
    cfg = cfg_for("[rss]\nbackoff_max = 1s\n[feed.t]\n"
                  "url = http://127.0.0.1:PORT/throttle/rdf.xml?n=1&after=date:4&status=503\n"
                  "interval = 1s\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    r = rss_start(cfg, p.q, m);
    ck_assert_int_eq(
        wait_metric(m, "finsent_rss_errors_total{feed=\"t\",kind=\"throttled\"}", 1, 20000), 1);
    h = health_of(r, "t");
    /* HTTP dates have whole seconds: at least 3 s of the 4 remain. */
    ck_assert_msg(h.next_fetch_in_ms > 2000, "next fetch in %lld ms",
                  (long long)h.next_fetch_in_ms);
    ck_assert_uint_eq(pipe_wait(&p, 2, 20000), 2);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
}
END_TEST

/* Reload: a feed added on SIGHUP starts; the unchanged one keeps its state
 * (its next fetch is still a 304). */
START_TEST(reload_adds_feed)
{
    pipe_t p;
    core_metrics_t *m;
    char err[512];
    core_config_t *cfg =
        cfg_for("[feed.a]\nurl = http://127.0.0.1:PORT/static/rdf.xml\ninterval = 1s\n");
    core_config_t *cfg2 =
        cfg_for("[feed.a]\nurl = http://127.0.0.1:PORT/static/rdf.xml\ninterval = 1s\n"
                "[feed.b]\nurl = http://127.0.0.1:PORT/static/atom.xml\ninterval = 1s\n");
    core_config_t *bad = cfg_for("[feed.c]\nurl = ftp://127.0.0.1/x\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, m);
    ck_assert_uint_eq(pipe_wait(&p, 2, 20000), 2);
    ck_assert_int_eq(ing_rss_reload(r, bad, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "[feed.c] url") != NULL, "%s", err);
    ck_assert_int_eq(ing_rss_reload(r, cfg2, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(pipe_wait(&p, 5, 20000), 5);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_not_modified_total{feed=\"a\"}", 1, 20000), 1);
    ing_rss_feed_health_t hs[4];
    ck_assert_uint_eq(ing_rss_health(r, hs, 4), 2);
    ing_rss_stop(r, 2000);
    pipe_stop(&p);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_config_free(cfg2);
    core_config_free(bad);
    core_metrics_free(m);
}
END_TEST

/* Dedup across a restart through Redis (seen_store = redis); Redis going
 * away while running does not stop the feeds. */
START_TEST(dedup_in_redis)
{
    th_redis_t rs;
    char ini[1024];
    pipe_t p;
    core_metrics_t *m;

    if (!th_redis_binary())
        TH_SKIP("redis", "redis-server not found in PATH");
    ck_assert_int_eq(th_redis_start(&rs, TH_REDIS_EPHEMERAL), 0);
    snprintf(ini, sizeof ini,
             "[redis]\nport = %d\nprefix = t1:\n[rss]\nseen_store = redis\n"
             "[feed.r2]\nurl = http://127.0.0.1:PORT/static/rss2.xml\ninterval = 1s\n",
             rs.port);
    core_config_t *cfg = cfg_for(ini);
    pipe_start(&p, 64, 1);
    ing_rss_t *r = rss_start(cfg, p.q, NULL);
    ck_assert_uint_eq(pipe_wait(&p, 3, 20000), 3);
    ing_rss_stop(r, 2000); /* acks are in; stop writes them */
    ing_rss_free(r);
    pipe_stop(&p);
    pipe_free(&p);

    /* The sorted set holds the three ids. */
    redisContext *c = redisConnect("127.0.0.1", rs.port);
    ck_assert(c && !c->err);
    redisReply *rep = redisCommand(c, "ZCARD t1:feedseen:rss:r2");
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(rep->integer, 3);
    freeReplyObject(rep);
    rep = redisCommand(c, "ZSCORE t1:feedseen:rss:r2 rss:r2:wire-0001");
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
    rep = redisCommand(c, "PTTL t1:feedseen:rss:r2");
    ck_assert(rep->integer > 0);
    freeReplyObject(rep);
    redisFree(c);

    /* Restart: nothing emitted again. Then Redis dies: fetching goes on. */
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    pipe_start(&p, 64, 1);
    r = rss_start(cfg, p.q, m);
    ck_assert_int_ge(wait_metric(m, "finsent_rss_fetches_total{feed=\"r2\"}", 2, 20000), 2);
    th_redis_kill(&rs);
    long long f = metric(m, "finsent_rss_fetches_total{feed=\"r2\"}");
    ck_assert_int_ge(wait_metric(m, "finsent_rss_fetches_total{feed=\"r2\"}", f + 2, 20000), f + 2);
    ing_rss_stop(r, 1000);
    pipe_stop(&p);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_int_eq(health_of(r, "r2").ok, 1);
    ing_rss_free(r);
    pipe_free(&p);
    core_config_free(cfg);
    core_metrics_free(m);
    th_redis_stop(&rs);
}
END_TEST

START_TEST(config_errors)
{
    ing_rss_t *r = (ing_rss_t *)1;
    char err[512];
    core_config_t *cfg = cfg_for("[feed.x]\ninterval = 1m\n");
    ck_assert_int_eq(ing_rss_new(cfg, NULL, NULL, &r, err, sizeof err), CORE_ECONFIG);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, "[feed.x] url") && strstr(err, "missing"), "%s", err);
    core_config_free(cfg);
    cfg = cfg_for("[feed.y]\nurl = file:///etc/passwd\n");
    ck_assert_int_eq(ing_rss_new(cfg, NULL, NULL, &r, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "test.conf") && strstr(err, "http"), "%s", err);
    core_config_free(cfg);
    cfg = cfg_for("[rss]\nseen_store = disk\n");
    ck_assert_int_eq(ing_rss_new(cfg, NULL, NULL, &r, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "seen_store") && strstr(err, "disk"), "%s", err);
    core_config_free(cfg);
    cfg = cfg_for("[rss]\nseen_store = file\n");
    ck_assert_int_eq(ing_rss_new(cfg, NULL, NULL, &r, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "state_file"), "%s", err);
    core_config_free(cfg);
    /* No feeds: valid, nothing to do. */
    cfg = cfg_for("");
    ck_assert_int_eq(ing_rss_new(cfg, NULL, NULL, &r, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(ing_rss_health(r, NULL, 0), 0);
    ing_rss_free(r);
    core_config_free(cfg);
}
END_TEST

Suite *suite_rss(void)
{
    Suite *s = suite_create("rss");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, server_start, server_stop);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, formats_and_304);
    tcase_add_test(tc, charset_base_and_empty);
    tcase_add_test(tc, item_fields_and_request);
    tcase_add_test(tc, epoch_date_is_not_now);
    tcase_add_test(tc, dedup_across_restart);
    tcase_add_test(tc, repeats_and_reorders);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, limits_and_isolation);
    tcase_add_test(tc, backoff_then_recovery);
    tcase_add_test(tc, retry_after_respected);
    tcase_add_test(tc, reload_adds_feed);
    tcase_add_test(tc, dedup_in_redis);
    suite_add_tcase(s, tc);
    return s;
}
