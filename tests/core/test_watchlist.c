/* Tests of core_watchlist: parsing (every malformed case names its line),
 * whole-word case-insensitive matching, no duplicates. */
#include <string.h>

#include "core/core_watchlist.h"
#include "tests/core/suites.h"

START_TEST(parse_and_match)
{
    core_watchlist_t *wl;
    core_item_t *it;
    char err[256];
    const char *text = "# desk watch-list\n"
                       "aapl\tApple, Apple Inc ,iPhone maker\r\n"
                       "\n"
                       "XOM\tExxon,ExxonMobil\n"
                       "BRK.B\tBerkshire\n";
    ck_assert_int_eq(core_watchlist_parse("w.tsv", text, &wl, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(core_watchlist_count(wl), 3);
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->title, "APPLE and exxonmobil rally", 26), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->text,
                                   "Pineapple prices (not Apple's) and Berkshire; Exxonx no", 55),
                     CORE_OK);
    ck_assert_int_eq(core_watchlist_match(wl, it), CORE_OK);
    ck_assert_uint_eq(it->n_entities, 3);
    ck_assert_str_eq(it->entities[0], "AAPL");
    ck_assert_str_eq(it->entities[1], "XOM");
    ck_assert_str_eq(it->entities[2], "BRK.B");
    core_item_free(it);

    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->text, "Pineapple Exxons", 16), CORE_OK);
    ck_assert_int_eq(core_watchlist_match(wl, it), CORE_OK);
    ck_assert_uint_eq(it->n_entities, 0);
    core_item_free(it);
    core_watchlist_free(wl);
    core_watchlist_free(NULL);
}
END_TEST

START_TEST(malformed)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"AAPL Apple\n", "w.tsv:1: expected TICKER<TAB>name"},
        {"# c\nAA PL\tApple\n", "w.tsv:2: bad ticker 'AA PL'"},
        {"\tApple\n", "w.tsv:1: expected TICKER<TAB>name"},
        {"TOOLONGTICKER1\tx y\n", "w.tsv:1: bad ticker"},
        {"AAPL\t , ,\n", "w.tsv:1: ticker AAPL has no names"},
        {"AAPL\tA\n", "w.tsv:1: name 'A' must be 2 to 100 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        core_watchlist_t *wl = (core_watchlist_t *)1;
        char err[256] = "";
        ck_assert_int_eq(core_watchlist_parse("w.tsv", cases[i].text, &wl, err, sizeof err),
                         CORE_EPARSE);
        ck_assert_ptr_null(wl);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
    }
    core_watchlist_t *wl;
    char err[256];
    ck_assert_int_eq(core_watchlist_load("/nonexistent/w.tsv", &wl, err, sizeof err), CORE_EIO);
}
END_TEST

Suite *suite_watchlist(void)
{
    Suite *s = suite_create("watchlist");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, parse_and_match);
    tcase_add_test(tc, malformed);
    suite_add_tcase(s, tc);
    return s;
}
