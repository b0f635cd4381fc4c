/*
 * finsent feeds: tools for the [feed.NAME] sections.
 *
 *   import  OPML subscription list -> [feed.NAME] sections (ing_opml reads
 *           and plans; this file reads the files and writes the result);
 *   check   fetch every configured feed once, as the daemon would (the same
 *           [rss] limits and headers through ing_fetch, at most 16 transfers
 *           at a time on one libcurl multi handle), parse it with
 *           ing_feed_parse and print one row per feed;
 *   parse   run ing_feed_parse on a local file and print the result as one
 *           JSON object (a debugging aid, and the input of comparison
 *           scripts: its shape is fixed, see help_parse).
 *
 * Everything runs on the main thread; nothing is retried (a check is one
 * fetch per feed). Exit status: 0, 1 (a feed failed, or the input could not
 * be read or parsed), 2 (usage).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/app.h"
#include "app/app_opts.h"
#include "core/core_log.h"
#include "ingest/ing_feed.h"
#include "ingest/ing_fetch.h"
#include "ingest/ing_opml.h"

#define CHECK_PARALLEL 16
#define CHECK_MAX_ITEMS 10000             /* as the poller */
#define OPML_MAX_BYTES (64u << 20)        /* an OPML file larger than this is refused */
#define PARSE_MAX_BYTES ((size_t)INT_MAX) /* ing_feed_parse's own ceiling */
/* The help texts state these numbers. */
_Static_assert(CHECK_PARALLEL == 16 && CHECK_MAX_ITEMS == 10000 && ING_OPML_NAME_MAX == 44,
               "update the help texts of feeds check, parse and import");

static void help(FILE *out)
{
    fprintf(out,
            "usage: finsent feeds import FILE.opml [-o CONFIG] [-c CONFIG]\n"
            "       finsent feeds check [-c CONFIG] [--set S.K=V ...] [--json]\n"
            "       finsent feeds parse FILE [--content-type TYPE] [--url URL] [--max-items N]\n"
            "                                [--max-text N] [--pretty]\n\n"
            "  import  write one [feed.NAME] section per feed of an OPML subscription list\n"
            "  check   fetch and parse every configured feed once; print a status table\n"
            "  parse   parse a local feed file and print what the parser read, as JSON\n\n"
            "finsent feeds COMMAND --help for each command's options.\n");
}

/* ---- shared helpers ------------------------------------------------------------- */

/* read_input reads path ("-": stdin) into a NUL-terminated buffer of at most
 * max bytes. Returns 0, or -1 with err set. */
static int read_input(const char *path, size_t max, char **out, size_t *outlen, char *err,
                      size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    *out = NULL;
    *outlen = 0;
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (len + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;
            if (ncap > max + 2)
                ncap = max + 2;
            if (ncap <= cap) {
                snprintf(err, errlen, "larger than %zu bytes", max);
                goto out;
            }
            nb = realloc(buf, ncap);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max) {
            snprintf(err, errlen, "larger than %zu bytes", max);
            goto out;
        }
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "read error: %s", strerror(errno));
                goto out;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* utf8_len returns the length of the valid UTF-8 sequence at p (n bytes
 * left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t need;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

/* jstr: a JSON string of s (null for NULL); bytes that are not UTF-8 become
 * U+FFFD, so a string never goes missing from the output. */
static json_t *jstr(const char *s)
{
    json_t *j;
    char *fixed;
    size_t n, o = 0;
    if (!s)
        return json_null();
    if ((j = json_string(s)))
        return j;
    n = strlen(s);
    fixed = malloc(n * 3 + 1);
    if (!fixed)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0) {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, l);
            o += l;
            i += l;
        }
    }
    fixed[o] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

/* iso_utc writes ms as "YYYY-MM-DDTHH:MM:SSZ" (the milliseconds dropped). */
static void iso_utc(int64_t ms, char *buf, size_t cap)
{
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "-");
}

static int print_json(json_t *j, int pretty)
{
    char *s;
    if (!j)
        return -1;
    s = json_dumps(j, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
    if (!s)
        return -1;
    printf("%s\n", s);
    free(s);
    return fflush(stdout) == 0 ? 0 : -1;
}

/* ---- import -------------------------------------------------------------------- */

/* ends_with_newline: 1 when the open file f is empty or ends with '\n'. */
static int ends_with_newline(FILE *f)
{
    int c;
    if (fseek(f, 0, SEEK_END) != 0 || ftell(f) <= 0)
        return 1;
    if (fseek(f, -1, SEEK_END) != 0)
        return 1;
    c = fgetc(f);
    fseek(f, 0, SEEK_END);
    return c == '\n';
}

/* write_sections appends the sections of plan[0..n) to outpath (created
 * if missing; NULL: stdout) after a comment naming in. 0, or -1 after
 * saying why. */
static int write_sections(const ing_opml_entry_t *plan, size_t n, const char *in,
                          const char *outpath)
{
    FILE *out = NULL, *w;
    long size = 0;
    int bad;

    if (outpath && !(out = fopen(outpath, "a+"))) {
        fprintf(stderr, "finsent feeds import: %s: %s\n", outpath, strerror(errno));
        return -1;
    }
    w = out ? out : stdout;
    if (out && fseek(out, 0, SEEK_END) == 0)
        size = ftell(out);
    if (size > 0 && !ends_with_newline(out))
        fputc('\n', out);
    fprintf(w, "%s; imported from %s by finsent feeds import\n\n", size > 0 ? "\n" : "",
            strcmp(in, "-") == 0 ? "stdin" : in);
    bad = ing_opml_write(w, plan, n) != CORE_OK;
    if (out && fclose(out) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, "finsent feeds import: cannot write %s\n", outpath ? outpath : "stdout");
    return bad ? -1 : 0;
}

/* import_summary says on stderr how many feeds were imported and why the
 * others were skipped (counts: outlines per verdict). */
static void import_summary(const ing_opml_t *doc, const size_t *counts, size_t imported,
                           const char *outpath)
{
    size_t skipped = doc->n - imported + doc->no_url, o = 0;
    char why[300] = "";

    for (int v = ING_OPML_NOT_HTTP; v <= ING_OPML_REJECTED; v++)
        if (counts[v])
            o += (size_t)snprintf(why + o, sizeof why - o, "%s%s: %zu", o ? ", " : "",
                                  ing_opml_verdict_name((ing_opml_verdict_t)v), counts[v]);
    if (doc->no_url)
        snprintf(why + o, sizeof why - o, "%swithout xmlUrl: %zu", o ? ", " : "", doc->no_url);
    fprintf(stderr, "finsent feeds import: imported %zu feed(s)%s%s, skipped %zu%s%s%s\n", imported,
            outpath && imported ? " into " : "", outpath && imported ? outpath : "", skipped,
            skipped ? " (" : "", why, skipped ? ")" : "");
}

static int cmd_import(int argc, char **argv)
{
    const char *outpath = NULL, *cfgpath = NULL, *in;
    char *buf = NULL, err[512] = "";
    size_t len, imported = 0, counts[5] = {0};
    ing_opml_t *doc = NULL;
    ing_opml_entry_t *plan = NULL;
    core_config_t *cfg = NULL;
    int rc;
    core_err_t e;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_STR("output", 'o', "CONFIG", &outpath,
                "append the sections to CONFIG (created if missing)\n"
                "instead of writing them to stdout"),
        APP_STR("config", 'c', "CONFIG", &cfgpath,
                "skip URLs and avoid names of the [feed.NAME] sections\n"
                "already in CONFIG (may be the same file as -o)"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent feeds import",
        .usage = "usage: finsent feeds import FILE.opml [-o CONFIG] [-c CONFIG]\n\n"
                 "Reads an OPML subscription list (FILE.opml, or - for stdin) and writes one\n"
                 "[feed.NAME] section with url = ... for every outline that has an xmlUrl,\n"
                 "preceded by comment lines with the outline's title and category. Categories\n"
                 "(nested outlines) are flattened. NAME comes from the title (else the text,\n"
                 "else the URL's host): lower case a-z 0-9 _ -, at most 44 characters; a name\n"
                 "already taken gets -2, -3, ...\n\n"
                 "Skipped, each reported on stderr: URLs that are not http:// or https://, URLs\n"
                 "seen in an earlier outline, and URLs already in the -c config. A summary line\n"
                 "(imported N, skipped M with the reasons) goes to stderr.\n\n",
        .footer = "Exit status 0, 1 when a file cannot be read or written or is not OPML, 2 on "
                  "bad\nusage.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 23,
        .min_pos = 1,
        .max_pos = 1,
        .too_few = "the OPML file is missing",
        .too_many = "one OPML file at a time",
    };

    rc = app_opts_parse(&spec, argc, argv, &args);
    in = args.npos ? args.pos[0] : NULL;
    app_args_cleanup(&args);
    if (rc != APP_OPTS_RUN)
        return rc;
    rc = APP_EXIT_FAIL;
    if (read_input(in, OPML_MAX_BYTES, &buf, &len, err, sizeof err) != 0) {
        fprintf(stderr, "finsent feeds import: %s: %s\n", in, err);
        goto out;
    }
    ing_feed_init(); /* xmlInitParser */
    e = ing_opml_parse(buf, len, &doc, err, sizeof err);
    if (e != CORE_OK) {
        fprintf(stderr, "finsent feeds import: %s: %s\n", in, err[0] ? err : core_strerror(e));
        goto out;
    }
    if (doc->recovered)
        fprintf(stderr,
                "finsent feeds import: warning: %s is not well-formed (%s); importing the "
                "outlines recovered\n",
                in, doc->note);
    if (cfgpath && !(cfg = app_config_build(cfgpath, NULL, 0)))
        goto out;
    if (ing_opml_plan(doc, cfg, &plan) != CORE_OK) {
        fprintf(stderr, "finsent feeds import: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < doc->n; i++) {
        const ing_opml_entry_t *pe = &plan[i];
        counts[pe->verdict]++;
        if (pe->verdict == ING_OPML_IMPORT) {
            imported++;
            continue;
        }
        fprintf(stderr, "finsent feeds import: skipped \"%s\": %s\n",
                pe->outline->title ? pe->outline->title : pe->outline->url, pe->why);
    }
    if (imported > 0 && write_sections(plan, doc->n, in, outpath) != 0)
        goto out;
    import_summary(doc, counts, imported, outpath);
    rc = APP_EXIT_OK;
out:
    core_config_free(cfg);
    free(plan);
    ing_opml_free(doc);
    free(buf);
    return rc;
}

/* ---- check --------------------------------------------------------------------- */

typedef struct check_row {
    const char *name; /* borrowed from the config */
    const char *url;
    CURL *easy;
    ing_fetch_body_t body;
    char curl_err[CURL_ERROR_SIZE];
    long http; /* 0: no response */
    const char *status;
    int parsed;
    ing_feed_kind_t kind;
    size_t items, skipped;
    int64_t newest; /* the newest item's time, when newest_set */
    int newest_set; /* some item has a time (1970-01-01T00:00:00Z is one) */
    char encoding[32];
    char *content_type, *effective_url;
    char warning[600];
    char error[600];
} check_row;

static void row_cleanup(check_row *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    ing_fetch_body_cleanup(&r->body);
    free(r->content_type);
    free(r->effective_url);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void row_parse(check_row *r, const ing_feed_limits_t *lim)
{
    ing_feed_source_t src = {r->content_type, r->effective_url ? r->effective_url : r->url};
    ing_feed_t *f = NULL;
    char err[512] = "";
    core_err_t e;

    e = ing_feed_parse(r->body.data ? r->body.data : "", r->body.len, lim, &src, &f, err,
                       sizeof err);
    if (e != CORE_OK) {
        r->status = "error";
        snprintf(r->error, sizeof r->error, "parse: %s", err[0] ? err : core_strerror(e));
        return;
    }
    r->parsed = 1;
    r->kind = f->kind;
    r->items = f->n;
    r->skipped = f->skipped;
    snprintf(r->encoding, sizeof r->encoding, "%s", f->encoding);
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].event_set && (!r->newest_set || f->items[i].event_ms > r->newest)) {
            r->newest = f->items[i].event_ms;
            r->newest_set = 1;
        }
    {
        size_t o = 0;
        if (f->warning[0])
            o += (size_t)snprintf(r->warning, sizeof r->warning, "%s", f->warning);
        if (f->recovered && o < sizeof r->warning)
            snprintf(r->warning + o, sizeof r->warning - o, "%snot well-formed: %s", o ? "; " : "",
                     f->note);
    }
    r->status = f->n > 0 ? "ok" : "empty";
    if (f->n == 0 && !r->warning[0])
        snprintf(r->warning, sizeof r->warning, "no items");
    ing_feed_free(f);
}

static void row_finish(check_row *r, CURLcode res, const ing_fetch_opts_t *fo,
                       const ing_feed_limits_t *lim)
{
    char *ct = NULL, *eff = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http);
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &eff);
    r->content_type = dup_or_null(ct);
    r->effective_url = dup_or_null(eff);
    r->status = "error";
    if (res != CURLE_OK) {
        const char *kind = ing_fetch_error_kind(res, r->body.too_large);
        if (r->body.too_large)
            snprintf(r->error, sizeof r->error,
                     "%s: body larger than rss.max_body (%lld bytes); aborted", kind,
                     (long long)fo->max_body);
        else if (res == CURLE_FILESIZE_EXCEEDED)
            snprintf(r->error, sizeof r->error,
                     "%s: declared length larger than rss.max_body (%lld bytes); refused", kind,
                     (long long)fo->max_body);
        else if (r->body.nomem)
            snprintf(r->error, sizeof r->error, "%s: out of memory", kind);
        else
            snprintf(r->error, sizeof r->error, "%s: %s", kind,
                     r->curl_err[0] ? r->curl_err : curl_easy_strerror(res));
    } else if (r->http != 200) {
        snprintf(r->error, sizeof r->error, "%s: HTTP %ld",
                 r->http == 429 || r->http == 503 ? "throttled" : "http", r->http);
    } else {
        row_parse(r, lim);
    }
    ing_fetch_body_cleanup(&r->body);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
}

static int row_start(check_row *r, CURLM *multi, const ing_fetch_opts_t *fo,
                     struct curl_slist *hdrs)
{
    r->body.max = (size_t)fo->max_body;
    r->easy = curl_easy_init();
    if (!r->easy)
        return -1;
    ing_fetch_setup(r->easy, fo);
    curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, ing_fetch_body_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(multi, r->easy) != CURLM_OK) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        return -1;
    }
    return 0;
}

/* fetch_all runs the transfers of rows[0..n), CHECK_PARALLEL at a time. Rows
 * already decided (status set) are not fetched. */
static int fetch_all(check_row *rows, size_t n, const ing_fetch_opts_t *fo,
                     const ing_feed_limits_t *lim)
{
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, ING_FETCH_ACCEPT);
    size_t next = 0, active = 0;
    int rc = -1;

    if (!multi || !hdrs)
        goto out;
    while (next < n || active > 0) {
        int running = 0, left;
        CURLMsg *m;
        while (active < CHECK_PARALLEL && next < n) {
            check_row *r = &rows[next++];
            if (r->status)
                continue;
            if (row_start(r, multi, fo, hdrs) != 0) {
                r->status = "error";
                snprintf(r->error, sizeof r->error, "network: cannot start a transfer");
                continue;
            }
            active++;
        }
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            goto out;
        while ((m = curl_multi_info_read(multi, &left))) {
            check_row *r = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            CURL *e = m->easy_handle;
            CURLcode res = m->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
            curl_multi_remove_handle(multi, e);
            row_finish(r, res, fo, lim);
            active--;
        }
        if (active > 0 && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        if (rows[i].easy) {
            curl_multi_remove_handle(multi, rows[i].easy);
            curl_easy_cleanup(rows[i].easy);
            rows[i].easy = NULL;
        }
    }
    curl_slist_free_all(hdrs);
    if (multi)
        curl_multi_cleanup(multi);
    return rc;
}

/* one_line replaces control characters of s in place with spaces. */
static const char *one_line(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

static void print_table(check_row *rows, size_t n)
{
    int wn = 4, we = 8;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(rows[i].name), le = (int)strlen(rows[i].encoding);
        if (l > wn)
            wn = l;
        if (le > we)
            we = le;
    }
    printf("%-*s  %-6s  %-4s  %-6s  %5s  %-20s  %-*s  %s\n", wn, "NAME", "STATUS", "HTTP", "FORMAT",
           "ITEMS", "NEWEST", we, "ENCODING", "WARNINGS/ERROR");
    for (size_t i = 0; i < n; i++) {
        check_row *r = &rows[i];
        char http[16], items[24], newest[40];
        if (r->http > 0)
            snprintf(http, sizeof http, "%ld", r->http);
        else
            snprintf(http, sizeof http, "-");
        if (r->parsed)
            snprintf(items, sizeof items, "%zu", r->items);
        else
            snprintf(items, sizeof items, "-");
        if (r->newest_set)
            iso_utc(r->newest, newest, sizeof newest);
        else
            snprintf(newest, sizeof newest, "-");
        printf("%-*s  %-6s  %-4s  %-6s  %5s  %-20s  %-*s  %s\n", wn, r->name, r->status, http,
               r->parsed ? ing_feed_kind_name(r->kind) : "-", items, newest, we,
               r->parsed && r->encoding[0] ? r->encoding : "-",
               r->error[0]     ? one_line(r->error)
               : r->warning[0] ? one_line(r->warning)
                               : "-");
    }
}

static json_t *rows_json(const check_row *rows, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const check_row *r = &rows[i];
        json_t *o = json_object();
        char newest[40];
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
        if (r->newest_set)
            iso_utc(r->newest, newest, sizeof newest);
        json_object_set_new(o, "name", jstr(r->name));
        json_object_set_new(o, "url", jstr(r->url));
        json_object_set_new(o, "status", jstr(r->status));
        json_object_set_new(o, "http", r->http > 0 ? json_integer(r->http) : json_null());
        json_object_set_new(o, "format",
                            r->parsed ? jstr(ing_feed_kind_name(r->kind)) : json_null());
        json_object_set_new(o, "items", json_integer((json_int_t)r->items));
        json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
        json_object_set_new(o, "newest", r->newest_set ? jstr(newest) : json_null());
        json_object_set_new(o, "encoding",
                            r->parsed && r->encoding[0] ? jstr(r->encoding) : json_null());
        json_object_set_new(o, "content_type", jstr(r->content_type));
        json_object_set_new(o, "effective_url", jstr(r->effective_url));
        json_object_set_new(o, "warning", jstr(r->warning));
        json_object_set_new(o, "error", r->error[0] ? jstr(r->error) : json_null());
    }
    return arr;
}

/* row_init sets up the row of the i-th [feed.NAME] of cfg; a url that
 * cannot be fetched decides the row at once. */
static void row_init(check_row *r, const core_config_t *cfg, size_t i)
{
    r->name = core_config_instance_name(cfg, "feed", i);
    r->url = core_config_inst_str(cfg, CORE_CFG_FEED_URL, r->name);
    if (!r->url[0] ||
        (strncasecmp(r->url, "http://", 7) != 0 && strncasecmp(r->url, "https://", 8) != 0)) {
        r->status = "error";
        snprintf(r->error, sizeof r->error, "config: %s",
                 r->url[0] ? "only http:// and https:// feeds are supported" : "no url");
    }
}

/* report_rows prints the rows (table or JSON) and the summary line on
 * stderr. Returns the exit status: 0 when every feed is ok. */
static int report_rows(check_row *rows, size_t n, int json)
{
    size_t nok = 0, nempty = 0, nerr = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].status) { /* cannot happen: every transfer ends */
            rows[i].status = "error";
            snprintf(rows[i].error, sizeof rows[i].error, "network: no result");
        }
        if (strcmp(rows[i].status, "ok") == 0)
            nok++;
        else if (strcmp(rows[i].status, "empty") == 0)
            nempty++;
        else
            nerr++;
    }
    if (json) {
        json_t *arr = rows_json(rows, n);
        int bad = print_json(arr, 1);
        json_decref(arr);
        if (bad) {
            fprintf(stderr, "finsent feeds check: cannot write the JSON\n");
            return APP_EXIT_FAIL;
        }
    } else {
        print_table(rows, n);
        fflush(stdout);
    }
    fprintf(stderr, "finsent feeds check: %zu feed(s): %zu ok, %zu empty, %zu error(s)\n", n, nok,
            nempty, nerr);
    return nok == n ? APP_EXIT_OK : APP_EXIT_FAIL;
}

static int cmd_check(int argc, char **argv)
{
    size_t n = 0;
    int json = 0, rc, curl_up = 0;
    core_config_t *cfg = NULL;
    check_row *rows = NULL;
    ing_fetch_opts_t fo;
    ing_feed_limits_t lim;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(&args, "config file (FINSENT_* variables and --set apply on top)"),
        APP_SET_ROW("override one key (repeatable)"),
        APP_FLAG("json", 0, &json,
                 "print a JSON array of {name, url, status, http, format,\n"
                 "items, skipped, newest, encoding, content_type,\n"
                 "effective_url, warning, error} instead of the table"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent feeds check",
        .usage = "usage: finsent feeds check [-c CONFIG] [--set S.K=V ...] [--json]\n\n"
                 "Fetches every [feed.NAME] of the configuration once, as `finsent run` would\n"
                 "(rss.connect_timeout, rss.timeout, rss.max_redirects, rss.max_body, http and\n"
                 "https only, every compression, User-Agent finsent/<version>), 16 at a time,\n"
                 "parses each, and prints one row per feed:\n"
                 "  NAME STATUS HTTP FORMAT ITEMS NEWEST ENCODING WARNINGS/ERROR\n"
                 "STATUS is ok (items read), empty (a feed without items) or error (the fetch\n"
                 "failed, the HTTP status was not 200, or the body is not a feed); NEWEST is the\n"
                 "newest item's time in UTC.\n\n",
        .footer = "Exit status 0 when every feed is ok, 1 when any feed is empty or failed (or\n"
                  "the config is invalid or has no feeds), 2 on bad usage.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 21,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    n = core_config_instance_count(cfg, "feed");
    if (n == 0) {
        fprintf(stderr, "finsent feeds check: no [feed.NAME] sections in the configuration%s\n",
                args.config ? "" : " (give one with -c FILE)");
        goto out;
    }
    rows = calloc(n, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "finsent feeds check: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        row_init(&rows[i], cfg, i);
    ing_fetch_opts_from_config(cfg, &fo);
    lim.max_items = CHECK_MAX_ITEMS;
    lim.max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES);
    ing_feed_init();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "finsent feeds check: libcurl initialisation failed\n");
        goto out;
    }
    curl_up = 1;
    if (fetch_all(rows, n, &fo, &lim) != 0) {
        fprintf(stderr, "finsent feeds check: libcurl failed\n");
        goto out;
    }
    rc = report_rows(rows, n, json);
out:
    for (size_t i = 0; rows && i < n; i++)
        row_cleanup(&rows[i]);
    free(rows);
    if (curl_up)
        curl_global_cleanup();
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}

/* ---- parse --------------------------------------------------------------------- */

static json_t *feed_json(const ing_feed_t *f)
{
    json_t *o = json_object(), *items = json_array(), *ret = NULL;
    if (!o || !items || json_object_set_new(o, "format", jstr(ing_feed_kind_name(f->kind))) ||
        json_object_set_new(o, "encoding", jstr(f->encoding)) ||
        json_object_set_new(o, "title", jstr(f->title)) ||
        json_object_set_new(o, "recovered", json_boolean(f->recovered)) ||
        json_object_set_new(o, "note", jstr(f->note)) ||
        json_object_set_new(o, "warning", jstr(f->warning)) ||
        json_object_set_new(o, "repaired", json_integer((json_int_t)f->repaired)) ||
        json_object_set_new(o, "item_like", json_integer((json_int_t)f->item_like)) ||
        json_object_set_new(o, "skipped", json_integer((json_int_t)f->skipped)))
        goto out;
    for (size_t i = 0; i < f->n; i++) {
        const ing_feed_item_t *it = &f->items[i];
        json_t *j = json_object();
        char when[40];
        if (!j || json_array_append_new(items, j) != 0)
            goto out;
        if (it->event_set)
            iso_utc(it->event_ms, when, sizeof when);
        if (json_object_set_new(j, "id", jstr(it->id)) ||
            json_object_set_new(j, "title", jstr(it->title)) ||
            json_object_set_new(j, "text", jstr(it->text)) ||
            json_object_set_new(j, "url", jstr(it->url)) ||
            json_object_set_new(j, "event_ms", json_integer((json_int_t)it->event_ms)) ||
            json_object_set_new(j, "event_time", it->event_set ? jstr(when) : json_null()))
            goto out;
    }
    if (json_object_set_new(o, "items", items) != 0) {
        items = NULL; /* json_object_set_new released it */
        goto out;
    }
    items = NULL; /* o holds it */
    ret = o;
    o = NULL;
out:
    json_decref(items);
    json_decref(o);
    return ret;
}

static int cmd_parse(int argc, char **argv)
{
    ing_feed_source_t src = {NULL, NULL};
    ing_feed_limits_t lim = {CHECK_MAX_ITEMS, 0};
    int pretty = 0, rc;
    const char *in;
    char *buf = NULL, err[512] = "";
    size_t len;
    ing_feed_t *f = NULL;
    json_t *j = NULL;
    core_err_t e;
    core_config_t *defaults = NULL;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_STR("content-type", 0, "TYPE", &src.content_type,
                "the HTTP Content-Type the bytes came with (its charset\n"
                "is the first choice of encoding)"),
        APP_STR("url", 0, "URL", &src.url, "the document's URL (base of relative links)"),
        APP_SIZE("max-items", 0, "N", 1, 100000000, &lim.max_items, "items kept (default 10000)"),
        APP_SIZE("max-text", 0, "N", 1, INT_MAX, &lim.max_text_bytes,
                 "bytes per title/text (default input.max_text_bytes)"),
        APP_FLAG("pretty", 0, &pretty, "indent the JSON"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent feeds parse",
        .usage =
            "usage: finsent feeds parse FILE [--content-type TYPE] [--url URL]\n"
            "                            [--max-items N] [--max-text N] [--pretty]\n\n"
            "Parses FILE (or - for stdin) with the feed parser of `finsent run` and prints\n"
            "one JSON object:\n"
            "  {\"format\", \"encoding\", \"title\" (or null), \"recovered\", \"note\", "
            "\"warning\",\n"
            "   \"repaired\", \"item_like\", \"skipped\", \"items\": [{\"id\", \"title\", "
            "\"text\",\n"
            "   \"url\" (each or null), \"event_ms\" (0: none), \"event_time\" (ISO 8601 UTC,\n"
            "   or null)}]}\n"
            "compact on one line unless --pretty.\n\n",
        .footer = "Exit status 0, 1 when FILE cannot be read or is not a feed (the message on\n"
                  "stderr names the file and the error), 2 on bad usage.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 23,
        .min_pos = 1,
        .max_pos = 1,
        .too_few = "the feed file is missing",
        .too_many = "one file at a time",
    };

    rc = app_opts_parse(&spec, argc, argv, &args);
    in = args.npos ? args.pos[0] : NULL;
    app_args_cleanup(&args);
    if (rc != APP_OPTS_RUN)
        return rc;
    rc = APP_EXIT_FAIL;
    if (lim.max_text_bytes == 0) {
        if (core_config_new(&defaults) != CORE_OK) {
            fprintf(stderr, "finsent feeds parse: out of memory\n");
            return APP_EXIT_FAIL;
        }
        lim.max_text_bytes = (size_t)core_config_int(defaults, CORE_CFG_INPUT_MAX_TEXT_BYTES);
        core_config_free(defaults);
    }
    if (read_input(in, PARSE_MAX_BYTES, &buf, &len, err, sizeof err) != 0) {
        fprintf(stderr, "finsent feeds parse: %s: %s\n", in, err);
        goto out;
    }
    ing_feed_init();
    e = ing_feed_parse(buf, len, &lim, &src, &f, err, sizeof err);
    if (e != CORE_OK) {
        fprintf(stderr, "finsent feeds parse: %s: %s\n", in, err[0] ? err : core_strerror(e));
        goto out;
    }
    j = feed_json(f);
    if (print_json(j, pretty) != 0) {
        fprintf(stderr, "finsent feeds parse: %s: cannot write the JSON\n", in);
        goto out;
    }
    rc = APP_EXIT_OK;
out:
    json_decref(j);
    ing_feed_free(f);
    free(buf);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

int app_cmd_feeds(int argc, char **argv)
{
    if (argc < 2) {
        help(stderr);
        return APP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        help(stdout);
        return APP_EXIT_OK;
    }
    if (strcmp(argv[1], "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "parse") == 0)
        return cmd_parse(argc - 1, argv + 1);
    fprintf(stderr, "finsent feeds: unknown command '%s'\n\n", argv[1]);
    help(stderr);
    return APP_EXIT_USAGE;
}
