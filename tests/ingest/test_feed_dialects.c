/* Tests of ing_feed on the dialects and fallbacks of tests/data/feeds/
 * dialects/: Atom 0.3, RSS 0.90 (Netscape RDF), RSS 0.91 with undeclared
 * HTML entities, RSS 2.0 in the Userland namespace, items outside
 * <channel>, Atom without a namespace, Atom text constructs, the item
 * fallbacks (xhtml:body, <body>, Dublin Core, iTunes, Atom inside RSS,
 * dcterms dates), xml:base and the document URL, JSON Feed 1.0/1.1, and the
 * warning for documents whose item-like elements yield nothing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ing_feed.h"
#include "tests/common/th.h"

static const ing_feed_limits_t LIM = {1000, 65536};

static ing_feed_t *parse(const char *name, const char *url)
{
    char path[1024], rel[256], err[256] = "";
    FILE *fp;
    char *buf;
    long n;
    ing_feed_t *f = NULL;
    ing_feed_source_t src = {.content_type = NULL, .url = url};

    snprintf(rel, sizeof rel, "feeds/dialects/%s", name);
    fp = fopen(th_data_path(path, sizeof path, rel), "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    core_err_t rc = ing_feed_parse(buf, (size_t)n, &LIM, &src, &f, err, sizeof err);
    free(buf);
    ck_assert_msg(rc == CORE_OK, "%s: %s: %s", name, core_strerror(rc), err);
    return f;
}

static void eq_or_null(const char *what, size_t i, const char *got, const char *want)
{
    if (!want)
        ck_assert_msg(got == NULL, "item %zu %s: want NULL, got '%s'", i, what, got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0, "item %zu %s: want '%s', got '%s'", i, what,
                      want, got ? got : "(null)");
}

/* item checks item i; when is NULL for event_ms 0, else "YYYY-MM-DDTHH:MM:SSZ". */
static void item(const ing_feed_t *f, size_t i, const char *id, const char *title,
                 const char *text, const char *url, const char *when)
{
    ck_assert_msg(i < f->n, "item %zu of %zu", i, f->n);
    const ing_feed_item_t *it = &f->items[i];
    eq_or_null("id", i, it->id, id);
    eq_or_null("title", i, it->title, title);
    eq_or_null("text", i, it->text, text);
    eq_or_null("url", i, it->url, url);
    if (!when) {
        ck_assert_msg(it->event_ms == 0, "item %zu: want no date, got %lld", i,
                      (long long)it->event_ms);
    } else {
        char iso[32];
        time_t t = (time_t)(it->event_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ck_assert_msg(strcmp(iso, when) == 0, "item %zu date: want %s, got %s", i, when, iso);
    }
}

static void setup(void)
{
    ing_feed_init();
}

START_TEST(atom03)
{
    ing_feed_t *f = parse("atom03.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_ATOM03);
    ck_assert_str_eq(ing_feed_kind_name(f->kind), "atom03");
    ck_assert_str_eq(f->title, "Old Ledger Blog"); /* mode=escaped type=text/html */
    ck_assert_uint_eq(f->n, 3);
    /* issued (with a zone) wins over modified */
    item(f, 0, "tag:ledger.example.org,2026:1", "Dividend cut at Acme Steel",
         "Acme Steel halved its dividend.", "https://ledger.example.org/2026/11/acme-steel",
         "2026-11-19T13:00:00Z");
    /* mode=base64; modified wins over created */
    item(f, 1, "tag:ledger.example.org,2026:2", "Bond desk notes", "Yields fell across the curve.",
         "https://ledger.example.org/2026/11/bonds", "2026-11-18T12:30:00Z");
    /* mode=xml; only created */
    item(f, 2, "tag:ledger.example.org,2026:3", "Inline XHTML summary", "Copper & zinc rallied.",
         NULL, "2026-11-17T09:00:00Z");
    ck_assert_str_eq(f->warning, "");
    ing_feed_free(f);
}
END_TEST

START_TEST(rss090_netscape)
{
    ing_feed_t *f = parse("rss090.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_RSS090);
    ck_assert_str_eq(f->title, "B\xc3\xb6rsen-Ticker"); /* ISO-8859-1 declared */
    ck_assert_uint_eq(f->n, 2);
    item(f, 0, "https://boerse.example.de/artikel/1", "DAX schlie\xc3\x9ft mit Verlusten", NULL,
         "https://boerse.example.de/artikel/1", NULL);
    item(f, 1, "https://boerse.example.de/artikel/2", "Anleger fl\xc3\xbc" "chten in Staatsanleihen",
         NULL, "https://boerse.example.de/artikel/2", NULL);
    ing_feed_free(f);
}
END_TEST

START_TEST(rss091_html_entities)
{
    ing_feed_t *f = parse("rss091_entities.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_RSS2);
    ck_assert_str_eq(f->title, "Caf\xc3\xa9 Markets");
    ck_assert_uint_eq(f->n, 1);
    item(f, 0, "http://cafe.example.fr/1",
         "L\xe2\x80\x99" "euro recule face au dollar \xe2\x80\x93 analyse",
         "Le CAC 40 c\xc3\xa8" "de 1 %.", "http://cafe.example.fr/1", NULL);
    ing_feed_free(f);
}
END_TEST

START_TEST(rss2_userland_namespace)
{
    ing_feed_t *f = parse("rss2_userland.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_RSS2);
    ck_assert_str_eq(f->title, "Scripting News");
    ck_assert_uint_eq(f->n, 2);
    item(f, 0, "http://scripting.example.com/2026/11/27#a1", "Markets look ahead to payrolls",
         "Futures were flat before the jobs report.", "http://scripting.example.com/2026/11/27#a1",
         "2026-11-27T14:00:00Z");
    ck_assert(strncmp(f->items[1].id, "h:", 2) == 0);
    ing_feed_free(f);
}
END_TEST

START_TEST(rss_items_outside_channel)
{
    ing_feed_t *f = parse("rss_no_channel.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_RSS2);
    ck_assert_str_eq(f->title, "Bare wire");
    ck_assert_uint_eq(f->n, 2);
    item(f, 0, "https://bare.example.com/1", "Regional bank shares slide", NULL,
         "https://bare.example.com/1", "2026-11-26T10:00:00Z");
    item(f, 1, "https://bare.example.com/2", "Insurer beats estimates", NULL,
         "https://bare.example.com/2", NULL);
    ing_feed_free(f);
}
END_TEST

START_TEST(atom_without_namespace)
{
    ing_feed_t *f = parse("atom_no_ns.xml", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_ATOM);
    ck_assert_str_eq(f->title, "Namespace-less Atom");
    ck_assert_uint_eq(f->n, 1);
    item(f, 0, "urn:nons:1", "Chipmaker guides lower", "Revenue outlook trimmed.",
         "https://nons.example.com/chips", "2026-11-25T16:00:00Z");
    ing_feed_free(f);
}
END_TEST

START_TEST(atom_text_constructs)
{
    ing_feed_t *f = parse("atom_text_constructs.xml", NULL);
    ck_assert_uint_eq(f->n, 2);
    /* xhtml: the text of the children, entities decoded once, no HTML pass */
    item(f, 0, "urn:tc:1", "History of the <blink> tag",
         "Markup like <b>bold</b> is text here; &amp; stays &amp;.", NULL,
         "2026-11-25T10:00:00Z");
    /* html: markup removed; text: kept literally */
    item(f, 1, "urn:tc:2", "Fed holds & waits", "Less than <5% growth & more", NULL,
         "2026-11-25T11:00:00Z");
    ing_feed_free(f);
}
END_TEST

START_TEST(rss_item_fallbacks)
{
    ing_feed_t *f = parse("rss_fallbacks.xml", NULL);
    ck_assert_uint_eq(f->n, 6);
    ck_assert_uint_eq(f->skipped, 0);
    item(f, 0, "fb-1", NULL, "Text only in an xhtml body.", NULL, "2026-11-24T09:00:00Z");
    item(f, 1, "fb-2", NULL, "Text only in a plain body.", NULL, "2026-11-24T10:00:00Z");
    item(f, 2, "fb-3", "Title from Dublin Core", "Description from Dublin Core.",
         "https://fb.example.com/3", "2026-11-24T11:00:00Z");
    /* a guid without isPermaLink="false" is the link */
    item(f, 3, "https://fb.example.com/4", "Podcast episode", "Summary only for iTunes.",
         "https://fb.example.com/4", "2026-11-24T12:00:00Z");
    item(f, 4, "fb-5", "Atom summary inside RSS", "Summary from the Atom namespace.", NULL,
         "2026-11-24T13:00:00Z");
    item(f, 5, "fb-6", "Content only", "Body from content:encoded.", NULL, NULL);
    ing_feed_free(f);
}
END_TEST

START_TEST(relative_links)
{
    ing_feed_t *f = parse("xml_base.xml", "https://fetched.example.com/feeds/a.xml");
    ck_assert_uint_eq(f->n, 3);
    ck_assert_str_eq(f->items[0].url, "https://base.example.com/news/2026/acme.html");
    ck_assert_str_eq(f->items[1].url, "https://other.example.net/deep/up.html");
    ck_assert_str_eq(f->items[2].url, "https://abs.example.org/x?a=1&b=2");
    ing_feed_free(f);

    f = parse("rss_relative.xml", "https://doc.example.com/feeds/x.xml");
    ck_assert_str_eq(f->items[0].url, "https://doc.example.com/articles/7.html");
    ing_feed_free(f);
    /* without a document URL a relative link stays as it is */
    f = parse("rss_relative.xml", NULL);
    ck_assert_str_eq(f->items[0].url, "/articles/7.html");
    ing_feed_free(f);
}
END_TEST

START_TEST(json_feed)
{
    ing_feed_t *f = parse("jsonfeed11.json", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_JSON);
    ck_assert_str_eq(ing_feed_kind_name(f->kind), "json");
    ck_assert_str_eq(f->title, "JSON Wire");
    ck_assert_uint_eq(f->item_like, 5);
    ck_assert_uint_eq(f->n, 3);
    ck_assert_uint_eq(f->skipped, 2); /* no title or text; not an object */
    item(f, 0, "jw-1", "Acme recalls 2 million devices", "Acme shares fell 8% after a recall.",
         "https://json.example.com/2026/11/acme", "2026-11-22T14:15:00Z");
    /* numeric id, content_text, url relative to feed_url, date_modified */
    item(f, 1, "42", NULL, "Rates held steady; the statement was unchanged.",
         "https://json.example.com/2026/11/rates", "2026-11-22T16:00:00Z");
    item(f, 2, "jw-3", "Only an external link", "Linked commentary & notes.",
         "https://elsewhere.example.org/story", NULL);
    ing_feed_free(f);

    f = parse("jsonfeed10.json", NULL);
    ck_assert_int_eq(f->kind, ING_FEED_JSON);
    ck_assert_uint_eq(f->n, 1);
    item(f, 0, "a", "Earnings beat", "Profit rose 12%.", "https://j10.example.com/a",
         "2026-11-21T08:00:00Z");
    ing_feed_free(f);
}
END_TEST

START_TEST(json_feed_malformed)
{
    static const char *const bad[] = {
        "{\"version\":\"https://jsonfeed.org/version/1.1\"}",             /* no items */
        "{\"version\":\"https://jsonfeed.org/version/1.1\",\"items\":{}}", /* not an array */
        "{\"version\":2,\"items\":[]}",                                    /* not a string */
        "{\"version\":\"https://jsonfeed.org/version/1.1\",\"items\":[",  /* truncated */
        "{\"a\":1,\"a\":2}",                                               /* duplicate key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ing_feed_t *f = (ing_feed_t *)1;
        char err[256] = "";
        ck_assert_int_eq(ing_feed_parse(bad[i], strlen(bad[i]), &LIM, NULL, &f, err, sizeof err),
                         CORE_EPARSE);
        ck_assert_ptr_null(f);
        ck_assert_msg(strstr(err, "not a JSON Feed") != NULL, "%s", err);
    }
    /* wrong-typed fields inside an item are ignored, not fatal */
    const char *odd = "{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[{\"id\":[1],"
                      "\"title\":7,\"summary\":\"ok\",\"url\":false,\"date_published\":\"soon\"}]}";
    ing_feed_t *f = NULL;
    char err[256];
    ck_assert_int_eq(ing_feed_parse(odd, strlen(odd), &LIM, NULL, &f, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(f->n, 1);
    ck_assert(strncmp(f->items[0].id, "h:", 2) == 0);
    item(f, 0, f->items[0].id, NULL, "ok", NULL, NULL);
    ing_feed_free(f);
}
END_TEST

START_TEST(no_silent_zero)
{
    ing_feed_t *f = parse("zero_items_wrong_ns.xml", NULL);
    ck_assert_uint_eq(f->n, 0);
    ck_assert_uint_eq(f->item_like, 2);
    ck_assert_msg(strstr(f->warning, "2 item-like element(s) but no item read") != NULL, "%s",
                  f->warning);
    ing_feed_free(f);
    f = parse("zero_items_empty.xml", NULL);
    ck_assert_uint_eq(f->n, 0);
    ck_assert_uint_eq(f->skipped, 2);
    ck_assert_msg(strstr(f->warning, "neither title nor text") != NULL, "%s", f->warning);
    ing_feed_free(f);
}
END_TEST

Suite *suite_feed_dialects(void)
{
    Suite *s = suite_create("feed_dialects");
    TCase *tc = tcase_create("dialects");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, atom03);
    tcase_add_test(tc, rss090_netscape);
    tcase_add_test(tc, rss091_html_entities);
    tcase_add_test(tc, rss2_userland_namespace);
    tcase_add_test(tc, rss_items_outside_channel);
    tcase_add_test(tc, atom_without_namespace);
    tcase_add_test(tc, atom_text_constructs);
    tcase_add_test(tc, rss_item_fallbacks);
    tcase_add_test(tc, relative_links);
    tcase_add_test(tc, json_feed);
    tcase_add_test(tc, json_feed_malformed);
    tcase_add_test(tc, no_silent_zero);
    suite_add_tcase(s, tc);
    return s;
}
