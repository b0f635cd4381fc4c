/* Tests of core_utf8 (the validator and the U+FFFD repair) and of the gate
 * in core_item_set. */
#include <stdlib.h>
#include <string.h>

#include "core/core_item.h"
#include "core/core_utf8.h"
#include "tests/core/suites.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void check_repair(const char *in, size_t len, const char *want, size_t want_bad)
{
    char *out = NULL;
    size_t n = 0, bad = 99;
    ck_assert_int_eq(core_utf8_repair(in, len, &out, &n, &bad), CORE_OK);
    ck_assert_msg(strcmp(out, want) == 0, "repair gave '%s', want '%s'", out, want);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_uint_eq(bad, want_bad);
    ck_assert(core_utf8_valid(out, n, NULL));
    free(out);
}

START_TEST(valid_and_invalid)
{
    size_t at = 99;
    ck_assert(core_utf8_valid("", 0, NULL));
    ck_assert(core_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, NULL));
    ck_assert(core_utf8_valid("\xf4\x8f\xbf\xbf", 4, NULL)); /* U+10FFFF */
    ck_assert(!core_utf8_valid("ab\x80", 3, &at));
    ck_assert_uint_eq(at, 2);
    ck_assert(!core_utf8_valid("\xc0\xaf", 2, NULL));         /* overlong '/' */
    ck_assert(!core_utf8_valid("\xe0\x80\xaf", 3, NULL));     /* overlong 3-byte */
    ck_assert(!core_utf8_valid("\xf0\x80\x80\xaf", 4, NULL)); /* overlong 4-byte */
    ck_assert(!core_utf8_valid("\xed\xa0\x80", 3, NULL));     /* surrogate U+D800 */
    ck_assert(!core_utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* U+110000 */
    ck_assert(!core_utf8_valid("\xf5\x80\x80\x80", 4, NULL));
    ck_assert(!core_utf8_valid("\xe2\x82", 2, &at)); /* truncated */
    ck_assert_uint_eq(at, 0);
    ck_assert_uint_eq(core_utf8_valid_len("ok\xff", 3), 2);
}
END_TEST

START_TEST(repair_maximal_subparts)
{
    check_repair("plain", 5, "plain", 0);
    check_repair("caf\xe9 au lait", 12, "caf" R " au lait", 1);     /* Latin-1 byte */
    check_repair("\xe2\x82", 2, R, 1);                               /* one truncated char */
    check_repair("a\xe2\x82z", 4, "a" R "z", 1);                     /* truncated mid-text */
    check_repair("\xf0\x9f\x98", 3, R, 1);                           /* 3 of 4 bytes */
    check_repair("\xc0\xaf", 2, R R, 2);                             /* overlong: 2 subparts */
    check_repair("\xed\xa0\x80", 3, R R R, 3);                       /* surrogate */
    check_repair("\xff\xfe", 2, R R, 2);
    check_repair("a\0b", 3, "a" R "b", 1);                           /* NUL */
    check_repair("\x80\x80\x80", 3, R R R, 3);                       /* stray continuations */
    check_repair("\xe2\x82\xac\xe2\x82", 5, "\xe2\x82\xac" R, 1);    /* good then truncated */
}
END_TEST

START_TEST(item_gate)
{
    core_item_t *it;
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->title, "S\xe3o Paulo", 9), CORE_OK);
    ck_assert_str_eq(it->title, "S" R "o Paulo");
    ck_assert_uint_eq(it->utf8_repaired, 1);
    ck_assert_int_eq(core_item_set(it, &it->text, "fine \xc3\xa9", 7), CORE_OK);
    ck_assert_str_eq(it->text, "fine \xc3\xa9");
    ck_assert_uint_eq(it->utf8_repaired, 1);
    /* ids keep invalid bytes distinguishable */
    ck_assert_int_eq(core_item_set(it, &it->id, "id-\xe9", 4), CORE_OK);
    ck_assert_str_eq(it->id, "id-%E9");
    ck_assert_int_eq(core_item_set(it, &it->id, "id-\xe8\0x", 6), CORE_OK);
    ck_assert_str_eq(it->id, "id-%E8%00x");
    ck_assert_uint_eq(it->utf8_repaired, 4);
    ck_assert_int_eq(core_item_set(it, &it->url, "http://x/\xc3", 10), CORE_OK);
    ck_assert_str_eq(it->url, "http://x/" R);
    core_item_free(it);
}
END_TEST

/* Ids are bounded: a long one becomes a prefix and a stable hash. */
START_TEST(long_ids_hashed)
{
    core_item_t *a, *b;
    char *id = malloc(100001);
    memset(id, 'x', 100000);
    id[100000] = '\0';
    ck_assert_int_eq(core_item_new(&a), CORE_OK);
    ck_assert_int_eq(core_item_new(&b), CORE_OK);
    /* 256 bytes: kept as it is */
    ck_assert_int_eq(core_item_set(a, &a->id, id, CORE_ITEM_ID_MAX), CORE_OK);
    ck_assert_uint_eq(strlen(a->id), CORE_ITEM_ID_MAX);
    ck_assert_int_eq(a->id_hashed, 0);
    /* 100,000 bytes: 64 + "~h:" + 32 hex, the same for the same id */
    ck_assert_int_eq(core_item_set(a, &a->id, id, 100000), CORE_OK);
    ck_assert_int_eq(core_item_set(b, &b->id, id, 100000), CORE_OK);
    ck_assert_uint_eq(strlen(a->id), CORE_ITEM_ID_KEEP + 3 + 32);
    ck_assert_int_eq(a->id_hashed, 1);
    ck_assert(strncmp(a->id, id, CORE_ITEM_ID_KEEP) == 0);
    ck_assert(strncmp(a->id + CORE_ITEM_ID_KEEP, "~h:", 3) == 0);
    ck_assert_str_eq(a->id, b->id);
    /* one byte different at the end: another hash */
    id[99999] = 'y';
    ck_assert_int_eq(core_item_set(b, &b->id, id, 100000), CORE_OK);
    ck_assert_str_ne(a->id, b->id);
    /* the cut never splits a character: 63 x then a 2-byte character */
    memset(id, 'x', 63);
    memcpy(id + 63, "\xc3\xa9", 2);
    ck_assert_int_eq(core_item_set(b, &b->id, id, 300), CORE_OK);
    ck_assert(strncmp(b->id + 63, "~h:", 3) == 0);
    core_item_free(a);
    core_item_free(b);
    free(id);
}
END_TEST

Suite *suite_utf8(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, valid_and_invalid);
    tcase_add_test(tc, repair_maximal_subparts);
    tcase_add_test(tc, item_gate);
    tcase_add_test(tc, long_ids_hashed);
    suite_add_tcase(s, tc);
    return s;
}
