/* Tests of ing_opml, the OPML reader and import planner, on the fixtures in
 * tests/data/feeds/opml/: nested categories, duplicate titles and URLs, URLs
 * that are not http(s), malformed and hostile documents; and the round trip
 * import -> config file -> core_config, which must give back every URL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/core_config.h"
#include "ingest/ing_feed.h"
#include "ingest/ing_opml.h"
#include "tests/common/th.h"

static char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f = fopen(th_data_path(path, sizeof path, rel), "rb");
    char *buf;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static ing_opml_t *parse_file(const char *rel)
{
    size_t len;
    char *buf = slurp(rel, &len), err[256] = "";
    ing_opml_t *d = NULL;
    core_err_t rc = ing_opml_parse(buf, len, &d, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "%s: %s: %s", rel, core_strerror(rc), err);
    free(buf);
    return d;
}

static ing_opml_t *parse_str(const char *s)
{
    char err[256] = "";
    ing_opml_t *d = NULL;
    core_err_t rc = ing_opml_parse(s, strlen(s), &d, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "%s: %s", core_strerror(rc), err);
    return d;
}

/* parse_err expects CORE_EPARSE with want in the message. */
static void parse_err(const char *buf, size_t len, const char *want)
{
    char err[256] = "";
    ing_opml_t *d = (ing_opml_t *)1;
    ck_assert_int_eq(ing_opml_parse(buf, len, &d, err, sizeof err), CORE_EPARSE);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    ck_assert_msg(!strchr(err, '\n'), "error '%s' has a newline", err);
}

static core_config_t *config_of(const char *ini)
{
    core_config_t *cfg;
    char err[512] = "";
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test.conf", ini, err, sizeof err) == CORE_OK, "%s",
                  err);
    return cfg;
}

static const char *feed_url(const core_config_t *cfg, const char *name)
{
    return core_config_inst_str(cfg, CORE_CFG_FEED_URL, name);
}

static size_t count_verdict(const ing_opml_entry_t *e, size_t n, ing_opml_verdict_t v)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += e[i].verdict == v;
    return c;
}

/* round_trip writes the plan's sections after prefix (an existing config's
 * text, may be "") into a file, loads it with core_config_load_file and
 * checks that every imported entry's section holds its outline's URL and
 * that no section was lost or merged. */
static void round_trip(const ing_opml_t *d, const ing_opml_entry_t *e, const char *prefix,
                       size_t existing)
{
    const char *dir = th_tmpdir("opml");
    char path[600], err[512] = "";
    FILE *f;
    core_config_t *cfg;
    size_t imported = count_verdict(e, d->n, ING_OPML_IMPORT);

    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/imported.conf", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(prefix, f), 0);
    ck_assert_int_eq(ing_opml_write(f, e, d->n), CORE_OK);
    ck_assert_int_eq(fclose(f), 0);

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_file(cfg, path, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_uint_eq(core_config_instance_count(cfg, "feed"), existing + imported);
    for (size_t i = 0; i < d->n; i++) {
        if (e[i].verdict != ING_OPML_IMPORT)
            continue;
        ck_assert_str_eq(feed_url(cfg, e[i].name), d->items[i].url);
    }
    core_config_free(cfg);
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    ing_feed_init();
}

/* ---- reading ------------------------------------------------------------------ */

START_TEST(subscriptions_fixture)
{
    ing_opml_t *d = parse_file("feeds/opml/subscriptions.opml");
    ck_assert_int_eq(d->recovered, 0);
    ck_assert_str_eq(d->title, "Markets & More");
    ck_assert_uint_eq(d->n, 6);
    ck_assert_uint_eq(d->no_url, 1); /* the bookmark */

    ck_assert_str_eq(d->items[0].title, "Top Story Wire");
    ck_assert_str_eq(d->items[0].url, "https://wire.example.com/top.rss");
    ck_assert_ptr_null(d->items[0].category);

    ck_assert_str_eq(d->items[1].title, "Reuters: Markets");
    ck_assert_str_eq(d->items[1].category, "News / Markets");
    ck_assert_str_eq(d->items[2].title, "Börse & Märkte");
    ck_assert_str_eq(d->items[2].category, "News / Markets");

    /* text when there is no title; xmlurl in lower case */
    ck_assert_str_eq(d->items[3].title, "Central Banks (text only)");
    ck_assert_str_eq(d->items[3].url, "http://cb.example.org/atom.xml");
    ck_assert_str_eq(d->items[3].category, "News");

    /* no title or text; the URL's white space trimmed */
    ck_assert_ptr_null(d->items[4].title);
    ck_assert_str_eq(d->items[4].url, "https://www.untitled.example.net/rss.xml");

    /* xmlURL; a category given by title only */
    ck_assert_str_eq(d->items[5].title, "日本語のブログ");
    ck_assert_str_eq(d->items[5].url, "https://jp.example.jp/index.rdf");
    ck_assert_str_eq(d->items[5].category, "Bloggers");
    ing_opml_free(d);
}
END_TEST

START_TEST(malformed_recovered)
{
    ing_opml_t *d = parse_file("feeds/opml/malformed.opml");
    ck_assert_int_eq(d->recovered, 1);
    ck_assert_msg(strstr(d->note, "line ") == d->note, "%s", d->note);
    ck_assert(!strchr(d->note, '\n'));
    ck_assert_uint_eq(d->n, 2);
    ck_assert_str_eq(d->items[0].url, "https://first.example.com/rss");
    ck_assert_str_eq(d->items[1].url, "https://second.example.com/rss");
    ing_opml_free(d);
}
END_TEST

START_TEST(not_opml)
{
    size_t len;
    char *buf;

    buf = slurp("feeds/opml/not_xml.opml", &len);
    parse_err(buf, len, "not XML");
    free(buf);
    buf = slurp("feeds/opml/not_opml.xml", &len);
    parse_err(buf, len, "not OPML: root element <rss>");
    free(buf);
    buf = slurp("feeds/opml/no_body.opml", &len);
    parse_err(buf, len, "no <body> in <opml>");
    free(buf);
    buf = slurp("feeds/not_a_feed.html", &len);
    parse_err(buf, len, "not OPML: root element <html>");
    free(buf);

#define PARSE_ERR(lit, want) parse_err(lit, sizeof lit - 1, want)
    PARSE_ERR("", "not XML");
    PARSE_ERR("\x01\x02\xff garbage", "not XML");
    PARSE_ERR("{\"opml\": 1}", "not XML");
    PARSE_ERR("<opml><head/></opml>", "no <body>");
    PARSE_ERR("<body><outline xmlUrl=\"http://a/\"/></body>", "not OPML: root element <body>");
#undef PARSE_ERR
}
END_TEST

/* Entities: an entity bomb expands nothing (libxml2 refuses the loop, and
 * attribute values are read from their text nodes only); a small declared
 * entity contributes nothing; character references and &amp; decode. */
START_TEST(entities)
{
    struct rusage before, after;
    size_t len;
    char *buf = slurp("feeds/opml/entity_bomb.opml", &len), err[256] = "";
    ing_opml_t *d = NULL;
    core_err_t rc;

    getrusage(RUSAGE_SELF, &before);
    rc = ing_opml_parse(buf, len, &d, err, sizeof err);
    getrusage(RUSAGE_SELF, &after);
    ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 64 * 1024, "maxrss grew by %ld KiB",
                  after.ru_maxrss - before.ru_maxrss);
    if (rc == CORE_OK) {
        for (size_t i = 0; i < d->n; i++) {
            ck_assert(!d->items[i].title || !strstr(d->items[i].title, "lollol"));
            ck_assert(!strstr(d->items[i].url, "lollol"));
        }
        ck_assert(!d->title || !strstr(d->title, "lollol"));
    } else {
        ck_assert_int_eq(rc, CORE_EPARSE);
        ck_assert_msg(strstr(err, "not well-formed") || strstr(err, "not XML"), "%s", err);
    }
    ing_opml_free(d);
    free(buf);

    d = parse_str("<?xml version=\"1.0\"?>\n"
                  "<!DOCTYPE opml [<!ENTITY a \"AAAAAAAAAA\"><!ENTITY ext SYSTEM "
                  "\"file:///etc/passwd\">]>\n"
                  "<opml><body>"
                  "<outline title=\"x&a;y\" xmlUrl=\"https://e.example/&a;\"/>"
                  "<outline title=\"&#xC9;t&#233; &lt;&amp;&gt;\" "
                  "xmlUrl=\"https://e.example/rss?a=1&amp;b=2\"/>"
                  "<outline title=\"ext\" xmlUrl=\"https://e.example/x\">&ext;</outline>"
                  "</body></opml>");
    ck_assert_uint_eq(d->n, 3);
    ck_assert_str_eq(d->items[0].title, "xy");
    ck_assert_str_eq(d->items[0].url, "https://e.example/");
    ck_assert_str_eq(d->items[1].title, "Été <&>");
    ck_assert_str_eq(d->items[1].url, "https://e.example/rss?a=1&b=2");
    ck_assert_str_eq(d->items[2].url, "https://e.example/x");
    ing_opml_free(d);
}
END_TEST

/* ---- names and planning ------------------------------------------------------- */

START_TEST(slugs)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Reuters: Markets", "reuters-markets"},
        {"Hello, World!", "hello-world"},
        {"  --Leading and trailing--  ", "leading-and-trailing"},
        {"A_B-C d", "a_b-c-d"},
        {"Börse & Märkte", "b-rse-m-rkte"},
        {"日本語", "feed"},
        {"", "feed"},
        {"!!!", "feed"},
        {NULL, "feed"},
        {"FT.com / Markets", "ft-com-markets"},
        {"x", "x"},
        {"a---b", "a-b"}, /* '-' joins the run of separators */
        {"Reuters - Markets", "reuters-markets"},
        {"snake_case_name", "snake_case_name"},
        {"0123456789012345678901234567890123456789012345678901234567890",
         "01234567890123456789012345678901234567890123"},
        /* cut at 44, then the dash trimmed */
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq rstu",
         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[ING_OPML_NAME_MAX + 1];
        ing_opml_slug(cases[i].in, out);
        ck_assert_msg(strcmp(out, cases[i].want) == 0, "slug(%s) = '%s', want '%s'",
                      cases[i].in ? cases[i].in : "NULL", out, cases[i].want);
    }
}
END_TEST

START_TEST(plan_subscriptions)
{
    ing_opml_t *d = parse_file("feeds/opml/subscriptions.opml");
    ing_opml_entry_t *e = NULL;
    static const char *const want[] = {"top-story-wire",       "reuters-markets",
                                       "b-rse-m-rkte",         "central-banks-text-only",
                                       "untitled-example-net", "jp-example-jp"};
    ck_assert_int_eq(ing_opml_plan(d, NULL, &e), CORE_OK);
    for (size_t i = 0; i < d->n; i++) {
        ck_assert_msg(e[i].verdict == ING_OPML_IMPORT, "%zu: %s", i, e[i].why);
        ck_assert_str_eq(e[i].name, want[i]);
        ck_assert_ptr_eq(e[i].outline, &d->items[i]);
    }
    round_trip(d, e, "", 0);
    free(e);
    ing_opml_free(d);
}
END_TEST

START_TEST(plan_duplicates)
{
    ing_opml_t *d = parse_file("feeds/opml/duplicates.opml");
    ing_opml_entry_t *e = NULL;
    ck_assert_uint_eq(d->n, 6);
    ck_assert_int_eq(ing_opml_plan(d, NULL, &e), CORE_OK);
    ck_assert_int_eq(e[0].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[0].name, "markets");
    ck_assert_int_eq(e[1].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[1].name, "markets-2");
    ck_assert_int_eq(e[2].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[2].name, "markets-3"); /* "Markets!" slugs to markets too */
    ck_assert_int_eq(e[3].verdict, ING_OPML_DUP_URL);
    ck_assert_msg(strstr(e[3].why, "[feed.markets]"), "%s", e[3].why);
    ck_assert_str_eq(e[3].name, "");
    ck_assert_int_eq(e[4].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[4].name, "home");
    /* HTTPS://HOME.Example.COM/ is https://home.example.com */
    ck_assert_int_eq(e[5].verdict, ING_OPML_DUP_URL);
    ck_assert_msg(strstr(e[5].why, "[feed.home]"), "%s", e[5].why);
    round_trip(d, e, "", 0);
    free(e);
    ing_opml_free(d);
}
END_TEST

/* Against an existing config: its names are avoided, its URLs skipped, and
 * the sections appended to it load together with it. */
START_TEST(plan_against_config)
{
    static const char *existing = "[rss]\ninterval = 2m\n\n"
                                  "[feed.markets]\nurl = https://z.example.com/other.rss\n\n"
                                  "[feed.markets-2]\nurl = https://y.example.com/other.rss\n\n"
                                  "[feed.bwire]\nurl = https://B.EXAMPLE.COM/markets.rss\n";
    ing_opml_t *d = parse_file("feeds/opml/duplicates.opml");
    core_config_t *cfg = config_of(existing);
    ing_opml_entry_t *e = NULL;

    ck_assert_int_eq(ing_opml_plan(d, cfg, &e), CORE_OK);
    ck_assert_int_eq(e[0].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[0].name, "markets-3");
    ck_assert_int_eq(e[1].verdict, ING_OPML_CONFIGURED);
    ck_assert_msg(strstr(e[1].why, "already"), "%s", e[1].why);
    ck_assert_int_eq(e[2].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[2].name, "markets-4");
    ck_assert_int_eq(e[3].verdict, ING_OPML_DUP_URL);
    ck_assert_int_eq(count_verdict(e, d->n, ING_OPML_IMPORT), 3);
    round_trip(d, e, existing, 3);
    free(e);
    core_config_free(cfg);
    ing_opml_free(d);
}
END_TEST

START_TEST(plan_non_http)
{
    ing_opml_t *d = parse_file("feeds/opml/non_http.opml");
    ing_opml_entry_t *e = NULL;
    ck_assert_uint_eq(d->n, 8);
    ck_assert_uint_eq(d->no_url, 2); /* the link and the empty category */
    ck_assert_int_eq(ing_opml_plan(d, NULL, &e), CORE_OK);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_msg(e[i].verdict == ING_OPML_NOT_HTTP, "%s: %s", d->items[i].url, e[i].why);
        ck_assert_msg(strstr(e[i].why, "http"), "%s", e[i].why);
    }
    ck_assert_int_eq(e[6].verdict, ING_OPML_REJECTED); /* a space in the URL */
    ck_assert_int_eq(e[7].verdict, ING_OPML_IMPORT);
    ck_assert_str_eq(e[7].name, "good-one");
    round_trip(d, e, "", 0);
    free(e);
    ing_opml_free(d);
}
END_TEST

/* Names stay within ING_OPML_NAME_MAX with their suffixes; titles with
 * control characters and very long titles stay one comment line; a URL too
 * long for a config line is rejected with the loader's reason. */
START_TEST(plan_limits)
{
    char *opml = malloc(1 << 16), longurl[400];
    size_t o = 0;
    ing_opml_t *d;
    ing_opml_entry_t *e = NULL;

    o += (size_t)sprintf(opml + o, "<opml><body>");
    for (int i = 0; i < 12; i++)
        o += (size_t)sprintf(opml + o,
                             "<outline title=\"A very long title that goes on and on past the "
                             "limit of names\" xmlUrl=\"https://l.example.com/%d\"/>",
                             i);
    o += (size_t)sprintf(opml + o,
                         "<outline title=\"two&#10;lines&#13;&#9;and a tab; [feed.x] "
                         "%0300d\" xmlUrl=\"https://t.example.com/\"/>",
                         0);
    memset(longurl, 'u', sizeof longurl);
    longurl[sizeof longurl - 1] = '\0';
    o += (size_t)sprintf(opml + o, "<outline title=\"long\" xmlUrl=\"https://x.example.com/%s\"/>",
                         longurl);
    sprintf(opml + o, "</body></opml>");
    d = parse_str(opml);
    ck_assert_uint_eq(d->n, 14);
    ck_assert_int_eq(ing_opml_plan(d, NULL, &e), CORE_OK);
    for (size_t i = 0; i < 12; i++) {
        ck_assert_msg(e[i].verdict == ING_OPML_IMPORT, "%zu: %s", i, e[i].why);
        ck_assert_uint_le(strlen(e[i].name), ING_OPML_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(e[i].name, e[j].name);
    }
    ck_assert_str_eq(e[0].name, "a-very-long-title-that-goes-on-and-on-past-t");
    ck_assert_str_eq(e[1].name, "a-very-long-title-that-goes-on-and-on-past-2");
    ck_assert_str_eq(e[11].name, "a-very-long-title-that-goes-on-and-on-pas-12");
    ck_assert_int_eq(e[12].verdict, ING_OPML_IMPORT);
    ck_assert_int_eq(e[13].verdict, ING_OPML_REJECTED);
    ck_assert_msg(strstr(e[13].why, "longer than"), "%s", e[13].why);
    round_trip(d, e, "", 0);

    /* The written comment is one line, cut with "...". */
    {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        ck_assert_int_eq(ing_opml_write(mem, &e[12], 1), CORE_OK);
        fclose(mem);
        ck_assert_msg(strncmp(text, "; two lines and a tab; [feed.x] 000", 35) == 0, "%s", text);
        ck_assert_msg(strstr(text, "...\n[feed.two-lines-and-a-tab-feed-x-00000000000000000]\n"
                                   "url = https://t.example.com/\n"),
                      "%s", text);
        free(text);
    }
    free(e);
    ing_opml_free(d);
    free(opml);
}
END_TEST

START_TEST(plan_empty)
{
    ing_opml_t *d = parse_str("<opml version=\"2.0\"><body/></opml>");
    ing_opml_entry_t *e = (ing_opml_entry_t *)1;
    ck_assert_uint_eq(d->n, 0);
    ck_assert_int_eq(ing_opml_plan(d, NULL, &e), CORE_OK);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(ing_opml_write(stdout, e, 0), CORE_OK);
    ing_opml_free(d);
    ing_opml_free(NULL);
    ck_assert_str_eq(ing_opml_verdict_name(ING_OPML_DUP_URL), "duplicate URL");
}
END_TEST

Suite *suite_opml(void)
{
    Suite *s = suite_create("opml");
    TCase *tc = tcase_create("opml");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, subscriptions_fixture);
    tcase_add_test(tc, malformed_recovered);
    tcase_add_test(tc, not_opml);
    tcase_add_test(tc, entities);
    tcase_add_test(tc, slugs);
    tcase_add_test(tc, plan_subscriptions);
    tcase_add_test(tc, plan_duplicates);
    tcase_add_test(tc, plan_against_config);
    tcase_add_test(tc, plan_non_http);
    tcase_add_test(tc, plan_limits);
    tcase_add_test(tc, plan_empty);
    suite_add_tcase(s, tc);
    return s;
}
