/* Tests of core_item: ownership, entities, cashtags, acknowledgement once. */
#include <stdio.h>
#include <string.h>

#include "core/core_item.h"
#include "tests/core/suites.h"

static int acks;
static core_err_t last_status;

static void on_ack(void *ctx, const core_item_t *item, core_err_t status)
{
    acks++;
    last_status = status;
    ck_assert_ptr_eq(ctx, (void *)0x1234);
    ck_assert_int_eq(item->ack.seq, 7);
}

START_TEST(entities_and_cashtags)
{
    core_item_t *it;
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->title, "$AAPL beats; $aapl again", 24), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->text,
                                   "US$5 bn, $BRK.B up, $TOOLONGX no, ($MSFT) yes, $1 no, "
                                   "x$GOOG no, $RDS-A ok",
                                   74),
                     CORE_OK);
    ck_assert_int_eq(core_item_add_cashtags(it), CORE_OK);
    ck_assert_uint_eq(it->n_entities, 4);
    ck_assert_str_eq(it->entities[0], "AAPL");
    ck_assert_str_eq(it->entities[1], "BRK.B");
    ck_assert_str_eq(it->entities[2], "MSFT");
    ck_assert_str_eq(it->entities[3], "RDS-A");
    ck_assert_int_eq(core_item_add_entity(it, "msft", 4), CORE_OK);
    ck_assert_uint_eq(it->n_entities, 4);
    for (int i = 0; i < 100; i++) {
        char t[8];
        int n = snprintf(t, sizeof t, "T%d", i);
        ck_assert_int_eq(core_item_add_entity(it, t, (size_t)n), CORE_OK);
    }
    ck_assert_uint_eq(it->n_entities, 64);
    core_item_free(it);
    core_item_free(NULL);
}
END_TEST

START_TEST(ack_once)
{
    core_item_t *it;
    core_tagged_t *t;
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    it->ack = (core_ack_t){.fn = on_ack, .ctx = (void *)0x1234, .seq = 7};
    acks = 0;
    core_item_ack(it, CORE_EREDIS);
    core_item_ack(it, CORE_OK);
    ck_assert_int_eq(acks, 1);
    ck_assert_int_eq(last_status, CORE_EREDIS);
    ck_assert_int_eq(core_tagged_new(it, &t), CORE_OK);
    ck_assert_int_eq(t->sentiment, -1);
    ck_assert_str_eq(core_sentiment_name(CORE_SENT_POSITIVE), "positive");
    core_tagged_free(t);
    core_tagged_free(NULL);
}
END_TEST

Suite *suite_item(void)
{
    Suite *s = suite_create("item");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, entities_and_cashtags);
    tcase_add_test(tc, ack_once);
    suite_add_tcase(s, tc);
    return s;
}
