/*
 * Tests of `finsent feeds` (app/app_cmd_feeds.c), running the real finsent
 * binary: `check` against tests/ingest/feed_server.py on a free port (a good
 * feed, a 404, an HTML page, limits, request headers, more feeds than run at
 * once), `parse` on the feed fixtures, and `import` of the OPML fixtures into
 * a config that `finsent config` then loads. Assertions are on the output
 * and the exit status, never on timings.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core_version.h"
#include "tests/common/th.h"

static pid_t server_pid;
static int port;
static char dir[512];

/* ---- helpers ------------------------------------------------------------------- */

static const char *tmp(const char *name)
{
    static char paths[8][700];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

/* at_exit runs in the test's child process, also after a failed assertion
 * (Check's fork mode exits the child then): no server or directory is left. */
static void at_exit(void)
{
    if (server_pid > 0)
        th_kill(server_pid, SIGKILL);
    server_pid = 0;
    if (dir[0])
        th_rmtree(dir);
    dir[0] = '\0';
}

static void setup(void)
{
    const char *d = th_tmpdir("feedscmd");
    ck_assert_ptr_nonnull(d);
    snprintf(dir, sizeof dir, "%s", d);
    atexit(at_exit);
}

/* finsent runs the binary with args (NULL-terminated, after "feeds"), stdin
 * from in (or /dev/null), and returns its exit status; *out and *err (freed
 * by the caller) get what it wrote. */
static int finsent(char **out, char **err, const char *in, ...)
{
    char bin[1024], *argv[32];
    const char *outp = tmp("stdout"), *errp = tmp("stderr");
    int n = 0, status;
    va_list ap;
    pid_t pid;

    snprintf(bin, sizeof bin, "%s/app/finsent", FINSENT_BINARY_DIR);
    ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
    argv[n++] = bin;
    argv[n++] = "feeds";
    va_start(ap, in);
    for (char *a; n < 31 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (!freopen(in ? in : "/dev/null", "r", stdin) || !freopen(outp, "w", stdout) ||
            !freopen(errp, "w", stderr))
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "finsent died with signal %d", WTERMSIG(status));
    *out = th_slurp(outp, NULL);
    *err = th_slurp(errp, NULL);
    /* Under -DFINSENT_ASAN=ON a sanitizer report also exits 1: never take it
     * for the expected failure. */
    ck_assert_msg(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error:"), "%s", *err);
    return WEXITSTATUS(status);
}

static void server_start(void)
{
    char script[1024], data[1024], portstr[16], log[700];
    snprintf(script, sizeof script, "%s/../ingest/feed_server.py", FINSENT_TEST_DATA);
    th_data_path(data, sizeof data, "feeds");
    port = th_free_port();
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s", tmp("server.log"));
    char *argv[] = {"python3", script, portstr, data, NULL};
    server_pid = th_spawn(argv, log);
    ck_assert(server_pid > 0);
    ck_assert_msg(th_wait_port(port, 10000), "feed server did not start (see %s)", log);
}

static void server_stop(void)
{
    th_kill(server_pid, SIGKILL);
    server_pid = 0;
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

/* write_config writes ini to a file, every "PORT" replaced by the server's. */
static const char *write_config(const char *name, const char *ini)
{
    const char *path = tmp(name);
    char text[8192];
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
    ck_assert_int_eq(th_write_file(path, text, o), 0);
    return path;
}

/* row splits the table line of feed name into at most 8 fields (the last
 * one, WARNINGS/ERROR, whole). Returns the number of fields. */
static int row(const char *table, const char *name, char fields[8][512])
{
    size_t nl = strlen(name);
    const char *p = table;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            break;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    ck_assert_msg(p && *p, "no row %s in:\n%s", name, table);
    int n = 0;
    while (n < 8) {
        while (*p == ' ')
            p++;
        if (*p == '\n' || !*p)
            break;
        size_t len = n == 7 ? strcspn(p, "\n") : strcspn(p, " \n");
        snprintf(fields[n++], 512, "%.*s", (int)len, p);
        p += len;
    }
    return n;
}

/* ---- check --------------------------------------------------------------------- */

static const char *THREE = "[feed.good]\nurl = http://127.0.0.1:PORT/static/rss2.xml\n"
                           "[feed.missing]\nurl = http://127.0.0.1:PORT/static/no_such.xml\n"
                           "[feed.page]\nurl = http://127.0.0.1:PORT/static/not_a_feed.html\n";

START_TEST(check_table)
{
    char *out, *err, f[8][512];
    int rc;

    server_start();
    rc = finsent(&out, &err, NULL, "check", "-c", write_config("three.conf", THREE), NULL);
    ck_assert_msg(rc == 1, "exit %d\n%s%s", rc, out, err);
    ck_assert_msg(strncmp(out, "NAME ", 5) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "STATUS"));
    ck_assert_ptr_nonnull(strstr(out, "WARNINGS/ERROR"));

    ck_assert_int_eq(row(out, "good", f), 8);
    ck_assert_str_eq(f[1], "ok");
    ck_assert_str_eq(f[2], "200");
    ck_assert_str_eq(f[3], "rss2");
    ck_assert_str_eq(f[4], "3");
    ck_assert_str_eq(f[5], "2026-11-28T13:50:00Z");
    ck_assert_str_eq(f[6], "UTF-8");

    ck_assert_int_eq(row(out, "missing", f), 8);
    ck_assert_str_eq(f[1], "error");
    ck_assert_str_eq(f[2], "404");
    ck_assert_str_eq(f[3], "-");
    ck_assert_msg(strstr(f[7], "HTTP 404"), "%s", f[7]);

    ck_assert_int_eq(row(out, "page", f), 8);
    ck_assert_str_eq(f[1], "error");
    ck_assert_str_eq(f[2], "200");
    ck_assert_msg(strstr(f[7], "root element <html>"), "%s", f[7]);

    ck_assert_msg(strstr(err, "3 feed(s): 1 ok, 0 empty, 2 error(s)"), "%s", err);
    free(out);
    free(err);
    server_stop();
}
END_TEST

START_TEST(check_json)
{
    char *out, *err;
    json_error_t je;
    json_t *arr, *o;
    int rc;

    server_start();
    rc =
        finsent(&out, &err, NULL, "check", "--json", "-c", write_config("three.conf", THREE), NULL);
    ck_assert_msg(rc == 1, "exit %d\n%s", rc, err);
    arr = json_loads(out, 0, &je);
    ck_assert_msg(arr && json_is_array(arr), "%s: %s", je.text, out);
    ck_assert_uint_eq(json_array_size(arr), 3);

    o = json_array_get(arr, 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "good");
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "http")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(o, "format")), "rss2");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "items")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(o, "newest")), "2026-11-28T13:50:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "content_type")), "application/xml");
    ck_assert(json_is_null(json_object_get(o, "error")));

    o = json_array_get(arr, 1);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "error");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "http")), 404);
    ck_assert(json_is_null(json_object_get(o, "format")));
    ck_assert(json_is_null(json_object_get(o, "newest")));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "error")), "HTTP 404"));

    o = json_array_get(arr, 2);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "error");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(o, "error")), "root element <html>"));
    json_decref(arr);
    free(out);
    free(err);
    server_stop();
}
END_TEST

/* Every feed ok: exit 0. More feeds than run at once (16): all fetched. The
 * request carries the daemon's headers. --set applies on top of -c. */
START_TEST(check_all_ok)
{
    char ini[8192], *out, *err, f[8][512];
    size_t o = 0;
    int rc;

    server_start();
    for (int i = 0; i < 20; i++)
        o += (size_t)snprintf(ini + o, sizeof ini - o,
                              "[feed.f%02d]\nurl = http://127.0.0.1:PORT/static/%s?n=%d\n", i,
                              i % 2 ? "atom.xml" : "rss2.xml", i);
    rc = finsent(&out, &err, NULL, "check", "-c", write_config("many.conf", ini), "--set",
                 "rss.timeout=20s", NULL);
    ck_assert_msg(rc == 0, "exit %d\n%s%s", rc, out, err);
    for (int i = 0; i < 20; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%02d", i);
        ck_assert_int_ge(row(out, name, f), 7);
        ck_assert_str_eq(f[1], "ok");
        ck_assert_str_eq(f[3], i % 2 ? "atom10" : "rss2");
        ck_assert_str_eq(f[4], "3");
    }
    ck_assert_msg(strstr(err, "20 feed(s): 20 ok, 0 empty, 0 error(s)"), "%s", err);
    free(out);
    free(err);

    /* What the server saw. */
    {
        char ua[64], *stats = malloc(65536);
        json_error_t je;
        json_t *st, *h;
        server_stats(stats);
        st = json_loads(stats, 0, &je);
        ck_assert_msg(st != NULL, "%s", je.text);
        h = json_object_get(json_object_get(st, "/static/rss2.xml"), "headers");
        snprintf(ua, sizeof ua, "finsent/%s", FINSENT_VERSION);
        ck_assert_str_eq(json_string_value(json_object_get(h, "user-agent")), ua);
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(h, "accept")), "application/rss+xml"));
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(h, "accept-encoding")), "gzip"));
        ck_assert_int_eq(
            json_integer_value(json_object_get(json_object_get(st, "/static/rss2.xml"), "count")),
            10);
        json_decref(st);
        free(stats);
    }
    server_stop();
}
END_TEST

/* The [rss] limits apply: max_body (an endless body and a declared 100 MB
 * one), max_redirects; a refused connection; a URL that is not http(s). */
START_TEST(check_limits)
{
    char *out, *err, f[8][512];
    int rc;

    server_start();
    rc = finsent(&out, &err, NULL, "check", "-c",
                 write_config("limits.conf",
                              "[rss]\nmax_body = 64KiB\nmax_redirects = 2\n"
                              "[feed.endless]\nurl = http://127.0.0.1:PORT/endless\n"
                              "[feed.big]\nurl = http://127.0.0.1:PORT/big\n"
                              "[feed.loop]\nurl = http://127.0.0.1:PORT/loop\n"
                              "[feed.refused]\nurl = http://127.0.0.1:1/rss\n"
                              "[feed.ftp]\nurl = ftp://127.0.0.1:PORT/rss\n"
                              "[feed.ok]\nurl = http://127.0.0.1:PORT/static/rdf.xml\n"),
                 NULL);
    ck_assert_msg(rc == 1, "exit %d\n%s%s", rc, out, err);
    row(out, "endless", f);
    ck_assert_str_eq(f[1], "error");
    ck_assert_msg(strstr(f[7], "too_large"), "%s", f[7]);
    ck_assert_msg(strstr(f[7], "65536"), "%s", f[7]);
    row(out, "big", f);
    ck_assert_str_eq(f[1], "error");
    ck_assert_msg(strstr(f[7], "too_large"), "%s", f[7]);
    row(out, "loop", f);
    ck_assert_str_eq(f[1], "error");
    ck_assert_msg(strstr(f[7], "redirects"), "%s", f[7]);
    row(out, "refused", f);
    ck_assert_str_eq(f[1], "error");
    ck_assert_str_eq(f[2], "-");
    ck_assert_msg(strstr(f[7], "connect"), "%s", f[7]);
    row(out, "ftp", f);
    ck_assert_str_eq(f[1], "error");
    ck_assert_msg(strstr(f[7], "http"), "%s", f[7]);
    row(out, "ok", f);
    ck_assert_str_eq(f[1], "ok");
    ck_assert_str_eq(f[3], "rss1");
    free(out);
    free(err);
    server_stop();
}
END_TEST

/* No server needed: usage and configuration errors. */
START_TEST(check_usage)
{
    char *out, *err;
    ck_assert_int_eq(finsent(&out, &err, NULL, "check", "--help", NULL), 0);
    ck_assert_msg(strstr(out, "Exit status 0 when every feed is ok, 1 when any"), "%s", out);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "check", "--bogus", NULL), 2);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "check", "-c",
                             write_config("empty.conf", "[rss]\ntimeout = 5s\n"), NULL),
                     1);
    ck_assert_msg(strstr(err, "no [feed.NAME]"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "check", "-c",
                             write_config("bad.conf", "[rss]\ntimeout = forever\n"), NULL),
                     1);
    ck_assert_msg(strstr(err, "timeout"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "nonsense", NULL), 2);
    free(out);
    free(err);
}
END_TEST

/* ---- parse --------------------------------------------------------------------- */

START_TEST(parse_json)
{
    char path[1024], *out, *err;
    json_error_t je;
    json_t *o, *items, *it;
    const char *key;
    json_t *v;
    static const char *const keys[] = {"format",  "encoding", "title",     "recovered", "note",
                                       "warning", "repaired", "item_like", "skipped",   "items"};
    size_t k = 0;

    th_data_path(path, sizeof path, "feeds/rss2.xml");
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", path, NULL), 0);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    o = json_loads(out, 0, &je);
    ck_assert_msg(o && json_is_object(o), "%s: %s", je.text, out);
    json_object_foreach(o, key, v)
    {
        ck_assert_uint_lt(k, sizeof keys / sizeof keys[0]);
        ck_assert_str_eq(key, keys[k++]);
    }
    ck_assert_uint_eq(k, sizeof keys / sizeof keys[0]);
    ck_assert_str_eq(json_string_value(json_object_get(o, "format")), "rss2");
    ck_assert_str_eq(json_string_value(json_object_get(o, "title")), "Market Wire & Co");
    ck_assert(json_is_false(json_object_get(o, "recovered")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "skipped")), 1);
    items = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(items), 3);
    it = json_array_get(items, 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "id")), "wire-0001");
    ck_assert_str_eq(json_string_value(json_object_get(it, "event_time")), "2026-11-28T13:50:00Z");
    ck_assert_int_eq(json_integer_value(json_object_get(it, "event_ms")), 1795873800000LL);
    it = json_array_get(items, 2);
    ck_assert(json_is_null(json_object_get(it, "url")));
    ck_assert(json_is_null(json_object_get(it, "event_time")));
    ck_assert_int_eq(json_integer_value(json_object_get(it, "event_ms")), 0);
    json_decref(o);
    free(out);
    free(err);

    /* stdin, limits, a base URL */
    th_data_path(path, sizeof path, "feeds/atom.xml");
    ck_assert_int_eq(finsent(&out, &err, path, "parse", "-", "--max-items", "1", "--max-text", "8",
                             "--url", "https://example.net/feed", "--content-type",
                             "application/atom+xml; charset=utf-8", NULL),
                     0);
    o = json_loads(out, 0, &je);
    ck_assert_msg(o != NULL, "%s: %s", je.text, out);
    ck_assert_str_eq(json_string_value(json_object_get(o, "format")), "atom10");
    items = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_uint_le(strlen(json_string_value(json_object_get(json_array_get(items, 0), "title"))),
                      8);
    json_decref(o);
    free(out);
    free(err);

    /* --pretty is the same object */
    th_data_path(path, sizeof path, "feeds/rdf.xml");
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", "--pretty", path, NULL), 0);
    o = json_loads(out, 0, &je);
    ck_assert_msg(o != NULL, "%s", je.text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "format")), "rss1");
    json_decref(o);
    free(out);
    free(err);
}
END_TEST

START_TEST(parse_errors)
{
    char path[1024], *out, *err;
    th_data_path(path, sizeof path, "feeds/not_a_feed.html");
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", path, NULL), 1);
    ck_assert_str_eq(out, "");
    ck_assert_msg(strstr(err, path) && strstr(err, "root element <html>"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", "/nonexistent/feed.xml", NULL), 1);
    ck_assert_msg(strstr(err, "/nonexistent/feed.xml"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", NULL), 2);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", path, "--max-items", "zero", NULL), 2);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, NULL, "parse", "-", NULL), 1); /* empty stdin */
    ck_assert_msg(strstr(err, "-: not XML"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* ---- import -------------------------------------------------------------------- */

START_TEST(import_into_config)
{
    char opml[1024], *out, *err, *conf_text, cmd[1600];
    const char *conf = write_config(
        "finsent.conf", "[rss]\ninterval = 2m\n\n"
                        "[feed.reuters-markets]\nurl = https://www.reuters.example/markets/rss\n"
                        "[feed.top-story-wire]\nurl = https://other.example.com/rss");
    int rc;

    th_data_path(opml, sizeof opml, "feeds/opml/subscriptions.opml");
    rc = finsent(&out, &err, NULL, "import", opml, "-o", conf, "-c", conf, NULL);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_str_eq(out, "");
    ck_assert_msg(strstr(err, "imported 5 feed(s) into"), "%s", err);
    ck_assert_msg(strstr(err, "skipped 2 (already configured: 1, without xmlUrl: 1)"), "%s", err);
    ck_assert_msg(strstr(err, "\"Reuters: Markets\""), "%s", err);
    free(out);
    free(err);

    conf_text = th_slurp(conf, NULL);
    /* appended after the last line (which had no newline) */
    ck_assert_ptr_nonnull(strstr(conf_text, "url = https://other.example.com/rss\n"));
    ck_assert_ptr_nonnull(strstr(conf_text, "[feed.top-story-wire-2]\n"
                                            "url = https://wire.example.com/top.rss\n"));
    ck_assert_ptr_nonnull(strstr(conf_text, "; Börse & Märkte\n; category: News / Markets\n"
                                            "[feed.b-rse-m-rkte]\n"));
    ck_assert_ptr_null(strstr(conf_text, "[feed.reuters-markets-2]"));
    free(conf_text);

    /* The result loads as the daemon would load it. */
    snprintf(cmd, sizeof cmd, "%s/app/finsent config -c %s > %s 2>&1", FINSENT_BINARY_DIR, conf,
             tmp("dump"));
    ck_assert_int_eq(system(cmd), 0);
    conf_text = th_slurp(tmp("dump"), NULL);
    ck_assert_msg(strstr(conf_text, "[feed.jp-example-jp]"), "%s", conf_text);
    ck_assert_msg(strstr(conf_text, "https://jp.example.jp/index.rdf"), "%s", conf_text);
    free(conf_text);

    /* A second import adds nothing. */
    rc = finsent(&out, &err, NULL, "import", opml, "-o", conf, "-c", conf, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(err, "imported 0 feed(s), skipped 7"), "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(import_stdout_and_errors)
{
    char opml[1024], *out, *err;

    th_data_path(opml, sizeof opml, "feeds/opml/non_http.opml");
    ck_assert_int_eq(finsent(&out, &err, NULL, "import", opml, NULL), 0);
    ck_assert_msg(strstr(out, "[feed.good-one]\nurl = https://good.example.com/rss\n"), "%s", out);
    ck_assert_msg(strstr(err, "\"FTP archive\"") && strstr(err, "ftp://ftp.example.com/feed.xml"),
                  "%s", err);
    ck_assert_msg(strstr(err, "not http/https: 6"), "%s", err);
    free(out);
    free(err);

    /* stdin */
    th_data_path(opml, sizeof opml, "feeds/opml/duplicates.opml");
    ck_assert_int_eq(finsent(&out, &err, opml, "import", "-", NULL), 0);
    ck_assert_msg(strstr(out, "[feed.markets-3]"), "%s", out);
    ck_assert_msg(strstr(err, "duplicate URL: 2"), "%s", err);
    free(out);
    free(err);

    th_data_path(opml, sizeof opml, "feeds/opml/malformed.opml");
    ck_assert_int_eq(finsent(&out, &err, NULL, "import", opml, NULL), 0);
    ck_assert_msg(strstr(err, "not well-formed"), "%s", err);
    ck_assert_msg(strstr(out, "[feed.second]"), "%s", out);
    free(out);
    free(err);

    th_data_path(opml, sizeof opml, "feeds/opml/not_opml.xml");
    ck_assert_int_eq(finsent(&out, &err, NULL, "import", opml, NULL), 1);
    ck_assert_msg(strstr(err, opml) && strstr(err, "not OPML: root element <rss>"), "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);

    th_data_path(opml, sizeof opml, "feeds/opml/entity_bomb.opml");
    ck_assert_int_le(finsent(&out, &err, NULL, "import", opml, NULL), 1);
    ck_assert_ptr_null(strstr(out, "lollol"));
    free(out);
    free(err);

    ck_assert_int_eq(finsent(&out, &err, NULL, "import", NULL), 2);
    free(out);
    free(err);
}
END_TEST

Suite *suite_feeds_cmd(int with_server)
{
    Suite *s = suite_create("feeds_cmd");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, check_usage);
    tcase_add_test(tc, parse_json);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, import_into_config);
    tcase_add_test(tc, import_stdout_and_errors);
    suite_add_tcase(s, tc);
    if (with_server) {
        tc = tcase_create("server");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, check_table);
        tcase_add_test(tc, check_json);
        tcase_add_test(tc, check_all_ok);
        tcase_add_test(tc, check_limits);
        suite_add_tcase(s, tc);
    }
    return s;
}
