/* Tests of ing_feed, the pure RSS/Atom parser, on the fixtures in
 * tests/data/feeds/ and on malformed and hostile inputs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core_time.h"
#include "ingest/ing_feed.h"
#include "tests/common/th.h"

static const ing_feed_limits_t LIM = {1000, 65536};

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

static ing_feed_t *parse_file(const char *rel, const ing_feed_limits_t *lim)
{
    size_t len;
    char *buf = slurp(rel, &len), err[256] = "";
    ing_feed_t *f = NULL;
    core_err_t rc = ing_feed_parse(buf, len, lim, NULL, &f, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "%s: %s: %s", rel, core_strerror(rc), err);
    free(buf);
    return f;
}

static void setup(void)
{
    ing_feed_init();
}

/* Issue 18: a date of exactly 1970-01-01T00:00:00Z parses to event_ms 0
 * with event_set 1 (that date), in RSS, Atom and JSON Feed; no date, or
 * one that does not parse, is event_set 0. */
START_TEST(epoch_date_is_a_date)
{
    static const char atom[] =
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
        "<entry><id>a1</id><title>At the epoch</title><updated>1970-01-01T00:00:00Z</updated>"
        "</entry><entry><id>a2</id><title>Bad date</title><updated>yesterday</updated></entry>"
        "</feed>";
    static const char json[] =
        "{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"t\", \"items\": ["
        "{\"id\": \"j1\", \"title\": \"At the epoch\", \"date_published\": "
        "\"1970-01-01T00:00:00Z\"}, {\"id\": \"j2\", \"title\": \"No date\"}]}";
    char err[256] = "";
    ing_feed_t *f = parse_file("feeds/epoch.xml", &LIM);

    ck_assert_uint_eq(f->n, 3);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(f->items[i].event_set == 1 && f->items[i].event_ms == 0,
                      "%s: event_set %d event_ms %lld", f->items[i].id, f->items[i].event_set,
                      (long long)f->items[i].event_ms);
    }
    ck_assert_int_eq(f->items[2].event_set, 0);
    ing_feed_free(f);

    f = NULL;
    ck_assert_int_eq(ing_feed_parse(atom, sizeof atom - 1, &LIM, NULL, &f, err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(f->n, 2);
    ck_assert_int_eq(f->items[0].event_set, 1);
    ck_assert_int_eq(f->items[0].event_ms, 0);
    ck_assert_int_eq(f->items[1].event_set, 0);
    ing_feed_free(f);

    f = NULL;
    ck_assert_msg(ing_feed_parse(json, sizeof json - 1, &LIM, NULL, &f, err, sizeof err) ==
                      CORE_OK,
                  "%s", err);
    ck_assert_uint_eq(f->n, 2);
    ck_assert_int_eq(f->items[0].event_set, 1);
    ck_assert_int_eq(f->items[0].event_ms, 0);
    ck_assert_int_eq(f->items[1].event_set, 0);
    ing_feed_free(f);
}
END_TEST

START_TEST(rss2_fixture)
{
    ing_feed_t *f = parse_file("feeds/rss2.xml", &LIM);
    ck_assert_int_eq(f->kind, ING_FEED_RSS2);
    ck_assert_int_eq(f->recovered, 0);
    ck_assert_str_eq(f->title, "Market Wire & Co");
    ck_assert_uint_eq(f->n, 3);
    ck_assert_uint_eq(f->skipped, 1); /* the item with only a link */

    ing_feed_item_t *a = &f->items[0];
    ck_assert_str_eq(a->id, "wire-0001");
    ck_assert_str_eq(a->title, "Acme shares slump after profit warning");
    ck_assert_str_eq(
        a->text, "Acme Corp ($ACME) cut its outlook for 2027. Analysts were surprised & worried.");
    ck_assert_str_eq(a->url, "https://example.com/news/1");
    ck_assert_int_eq(a->event_ms, core_time_from_civil(2026, 11, 28, 13, 50, 0));

    ing_feed_item_t *b = &f->items[1];
    ck_assert_str_eq(b->id, "https://example.com/news/2"); /* no guid: the link */
    ck_assert_str_eq(b->text,
                     "The central bank left rates unchanged, citing $SPY & inflation data.");
    ck_assert_int_eq(b->event_ms, core_time_from_civil(2026, 11, 28, 12, 0, 0));

    ing_feed_item_t *c = &f->items[2];
    ck_assert_str_eq(c->id, "h:db94370f02eef8ca"); /* hash of title+date: must never change */
    ck_assert_str_eq(c->text, "Body from content.");
    ck_assert_ptr_null(c->url);
    ck_assert_int_eq(c->event_ms, 0); /* "not a date" */

    /* The hash id is a function of the content: the same on a re-parse. */
    ing_feed_t *g = parse_file("feeds/rss2.xml", &LIM);
    ck_assert_str_eq(g->items[2].id, c->id);
    ing_feed_free(g);
    ing_feed_free(f);
}
END_TEST

START_TEST(rdf_fixture)
{
    ing_feed_t *f = parse_file("feeds/rdf.xml", &LIM);
    ck_assert_int_eq(f->kind, ING_FEED_RSS1);
    ck_assert_str_eq(f->title, "RDF Wire");
    ck_assert_uint_eq(f->n, 2);
    ck_assert_str_eq(f->items[0].id, "https://example.org/a");
    ck_assert_str_eq(f->items[0].title, "Oil prices jump on supply cuts");
    ck_assert_str_eq(f->items[0].text, "Brent rose 4% as producers announced cuts.");
    ck_assert_int_eq(f->items[0].event_ms, core_time_from_civil(2026, 11, 27, 7, 30, 0));
    ck_assert_str_eq(f->items[1].id, "https://example.org/b");
    ck_assert_ptr_null(f->items[1].text);
    ck_assert_str_eq(f->items[1].url, "https://example.org/b");
    ing_feed_free(f);
}
END_TEST

START_TEST(atom_fixture)
{
    ing_feed_t *f = parse_file("feeds/atom.xml", &LIM);
    ck_assert_int_eq(f->kind, ING_FEED_ATOM);
    ck_assert_str_eq(f->title, "Atom Wire");
    ck_assert_uint_eq(f->n, 3);
    ing_feed_item_t *a = &f->items[0];
    ck_assert_str_eq(a->id, "urn:example:1");
    ck_assert_str_eq(a->title, "Tech stocks rally & <recover>"); /* type text: kept literally */
    ck_assert_str_eq(a->text, "Nasdaq up 2% led by $NVDA.");
    ck_assert_str_eq(a->url, "https://example.net/1"); /* rel=alternate, not self */
    ck_assert_int_eq(a->event_ms, core_time_from_civil(2026, 11, 28, 8, 0, 0)); /* published */
    ing_feed_item_t *b = &f->items[1];
    ck_assert_str_eq(b->title, "Bond yields fall");
    ck_assert_str_eq(b->text, "Treasuries rallied.");
    ck_assert_str_eq(b->url, "https://example.net/2");
    ck_assert_int_eq(b->event_ms, core_time_from_civil(2026, 11, 28, 9, 30, 0)); /* updated */
    ck_assert_str_eq(f->items[2].id, "https://example.net/3");
    ing_feed_free(f);
}
END_TEST

START_TEST(malformed_is_recovered)
{
    ing_feed_t *f = parse_file("feeds/malformed.xml", &LIM);
    ck_assert_int_eq(f->recovered, 1);
    ck_assert(f->note[0] != '\0');
    ck_assert(f->n >= 1);
    ck_assert_str_eq(f->items[0].id, "b-1");
    ck_assert_str_eq(f->items[0].title, "First item survives");
    ing_feed_free(f);
}
END_TEST

/* An entity bomb: nothing expands, memory stays bounded, the safe item
 * survives, and the external entity is never read. */
START_TEST(billion_laughs_not_expanded)
{
    struct rusage before, after;
    size_t len;
    char *buf = slurp("feeds/billion_laughs.xml", &len), err[256] = "";
    ing_feed_t *f = NULL;
    core_err_t rc;

    getrusage(RUSAGE_SELF, &before);
    rc = ing_feed_parse(buf, len, &LIM, NULL, &f, err, sizeof err);
    getrusage(RUSAGE_SELF, &after);
    /* Expanding lol9 would need ~3 GB; allow 64 MiB of growth. */
    ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 64 * 1024, "maxrss grew by %ld KiB",
                  after.ru_maxrss - before.ru_maxrss);
    if (rc == CORE_OK) {
        for (size_t i = 0; i < f->n; i++) {
            ck_assert(!f->items[i].title || strlen(f->items[i].title) < 256);
            ck_assert(!f->items[i].text || !strstr(f->items[i].text, "lollol"));
            ck_assert(!f->items[i].text || !strstr(f->items[i].text, "root:"));
        }
    } else {
        ck_assert_int_eq(rc, CORE_EPARSE);
    }
    ing_feed_free(f);
    free(buf);
}
END_TEST

START_TEST(not_a_feed)
{
    size_t len;
    char *buf = slurp("feeds/not_a_feed.html", &len), err[256] = "";
    ing_feed_t *f = (ing_feed_t *)1;
    ck_assert_int_eq(ing_feed_parse(buf, len, &LIM, NULL, &f, err, sizeof err), CORE_EPARSE);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err, "root element <html>") != NULL, "%s", err);
    free(buf);

    ck_assert_int_eq(ing_feed_parse("", 0, &LIM, NULL, &f, err, sizeof err), CORE_EPARSE);
    ck_assert_msg(strstr(err, "not XML") != NULL, "%s", err);
    ck_assert_int_eq(ing_feed_parse("\x01\x02garbage", 9, &LIM, NULL, &f, err, sizeof err), CORE_EPARSE);
    ck_assert_int_eq(ing_feed_parse("{\"json\": 1}", 11, &LIM, NULL, &f, err, sizeof err), CORE_EPARSE);
    /* a <feed> in a namespace that is not Atom's */
    const char *other = "<?xml version=\"1.0\"?><feed xmlns=\"urn:x\"><entry><title>x</title>"
                        "</entry></feed>";
    ck_assert_int_eq(ing_feed_parse(other, strlen(other), &LIM, NULL, &f, err, sizeof err), CORE_EPARSE);
    ck_assert_msg(strstr(err, "<feed> in namespace urn:x") != NULL, "%s", err);
    /* JSON that is not a JSON Feed */
    ck_assert_int_eq(ing_feed_parse("{\"version\": \"1\", \"items\": []}", 29, &LIM, NULL, &f, err,
                                    sizeof err),
                     CORE_EPARSE);
    ck_assert_msg(strstr(err, "not a JSON Feed") != NULL, "%s", err);
}
END_TEST

START_TEST(limits)
{
    ing_feed_limits_t lim = {1, 20};
    ing_feed_t *f = parse_file("feeds/rss2.xml", &lim);
    ck_assert_uint_eq(f->n, 1);
    ck_assert_uint_eq(f->skipped, 3);
    ck_assert_uint_le(strlen(f->items[0].text), 20);
    ck_assert_str_eq(f->items[0].text, "Acme Corp ($ACME) cu");
    ing_feed_free(f);
}
END_TEST

START_TEST(html_text)
{
    char *s;
    ck_assert_int_eq(ing_feed_html_text("<p>A &amp; B</p><p>C&eacute;</p>", 32, 100, &s), CORE_OK);
    ck_assert_str_eq(s, "A & B C\xc3\xa9");
    free(s);
    ck_assert_int_eq(ing_feed_html_text("  plain   text \n", 16, 100, &s), CORE_OK);
    ck_assert_str_eq(s, "plain text");
    free(s);
    ck_assert_int_eq(ing_feed_html_text("<style>p{}</style><script>x()</script>", 38, 100, &s),
                     CORE_OK);
    ck_assert_ptr_null(s);
    /* Cut on a character boundary: 5 bytes of "ééé" is "éé". */
    ck_assert_int_eq(ing_feed_html_text("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 5, &s), CORE_OK);
    ck_assert_str_eq(s, "\xc3\xa9\xc3\xa9");
    free(s);
    ck_assert_int_eq(ing_feed_html_text("x<br>y<unclosed", 15, 100, &s), CORE_OK);
    ck_assert_str_eq(s, "x y");
    free(s);
}
END_TEST

Suite *suite_feed(void)
{
    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, rss2_fixture);
    tcase_add_test(tc, epoch_date_is_a_date);
    tcase_add_test(tc, rdf_fixture);
    tcase_add_test(tc, atom_fixture);
    tcase_add_test(tc, malformed_is_recovered);
    tcase_add_test(tc, billion_laughs_not_expanded);
    tcase_add_test(tc, not_a_feed);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, html_text);
    suite_add_tcase(s, tc);
    return s;
}
