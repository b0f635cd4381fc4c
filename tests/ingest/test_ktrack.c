/* Tests of ing_ktrack: the in-order offset tracker behind Kafka acks. */
#include <check.h>
#include <stdlib.h>

#include "ingest/ing_ktrack.h"

START_TEST(ack_in_order_advances)
{
    ing_ktrack_t t;
    ing_ktrack_init(&t);
    ck_assert_int_eq(t.store_pos, -1);
    for (int64_t o = 10; o < 13; o++)
        ck_assert_int_eq(ing_ktrack_add(&t, o), CORE_OK);
    ck_assert_uint_eq(ing_ktrack_pending(&t), 3);
    ck_assert_int_eq(ing_ktrack_ack(&t, 10), 1);
    ck_assert_int_eq(t.store_pos, 11);
    ck_assert_int_eq(ing_ktrack_ack(&t, 11), 1);
    ck_assert_int_eq(ing_ktrack_ack(&t, 12), 1);
    ck_assert_int_eq(t.store_pos, 13);
    ck_assert_uint_eq(ing_ktrack_pending(&t), 0);
    ing_ktrack_cleanup(&t);
}
END_TEST

START_TEST(ack_out_of_order_waits_for_lowest)
{
    ing_ktrack_t t;
    ing_ktrack_init(&t);
    for (int64_t o = 5; o <= 8; o++)
        ck_assert_int_eq(ing_ktrack_add(&t, o), CORE_OK);
    /* 7 acked before 5: nothing may be stored past 5. */
    ck_assert_int_eq(ing_ktrack_ack(&t, 7), 1);
    ck_assert_int_eq(t.store_pos, -1);
    ck_assert_int_eq(ing_ktrack_ack(&t, 6), 1);
    ck_assert_int_eq(t.store_pos, -1);
    ck_assert_uint_eq(ing_ktrack_pending(&t), 2);
    ck_assert_int_eq(ing_ktrack_ack(&t, 5), 1);
    ck_assert_int_eq(t.store_pos, 8); /* 5, 6, 7 done; 8 pending */
    ck_assert_int_eq(ing_ktrack_ack(&t, 8), 1);
    ck_assert_int_eq(t.store_pos, 9);
    ing_ktrack_cleanup(&t);
}
END_TEST

START_TEST(gaps_duplicates_and_unknown)
{
    ing_ktrack_t t;
    ing_ktrack_init(&t);
    ck_assert_int_eq(ing_ktrack_add(&t, 100), CORE_OK);
    ck_assert_int_eq(ing_ktrack_add(&t, 105), CORE_OK); /* compaction gap */
    ck_assert_int_eq(ing_ktrack_add(&t, 105), CORE_EINVAL);
    ck_assert_int_eq(ing_ktrack_add(&t, 90), CORE_EINVAL);
    ck_assert_int_eq(ing_ktrack_add(&t, -1), CORE_EINVAL);
    ck_assert_int_eq(ing_ktrack_ack(&t, 101), 0);
    ck_assert_int_eq(ing_ktrack_ack(&t, 105), 1);
    ck_assert_int_eq(ing_ktrack_ack(&t, 105), 0); /* duplicate ack */
    ck_assert_int_eq(t.store_pos, -1);
    ck_assert_int_eq(ing_ktrack_ack(&t, 100), 1);
    ck_assert_int_eq(t.store_pos, 106);
    /* After everything is acked, a new offset below the store position is refused. */
    ck_assert_int_eq(ing_ktrack_add(&t, 104), CORE_EINVAL);
    ing_ktrack_clear(&t);
    ck_assert_int_eq(t.store_pos, -1);
    ck_assert_int_eq(ing_ktrack_ack(&t, 100), 0); /* late ack after revocation */
    ck_assert_int_eq(ing_ktrack_add(&t, 50), CORE_OK);
    ing_ktrack_cleanup(&t);
}
END_TEST

/* Many offsets through the ring (growth and wrap-around) acked in a shuffled
 * order: the store position must always equal the lowest pending offset. */
START_TEST(shuffled_acks_match_model)
{
    enum { N = 1000 };
    static int64_t order[N];
    static unsigned char done[N];
    ing_ktrack_t t;
    unsigned seed = 12345;

    ing_ktrack_init(&t);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(ing_ktrack_add(&t, 2 * i), CORE_OK);
        order[i] = i;
    }
    for (int i = N - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)((seed >> 8) % (unsigned)(i + 1));
        int64_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int i = 0; i < N; i++) {
        int lowest = 0;
        ck_assert_int_eq(ing_ktrack_ack(&t, 2 * order[i]), 1);
        done[order[i]] = 1;
        while (lowest < N && done[lowest])
            lowest++;
        if (lowest == 0)
            ck_assert_int_eq(t.store_pos, -1);
        else if (lowest == N)
            ck_assert_int_eq(t.store_pos, 2 * (N - 1) + 1);
        else
            ck_assert_int_eq(t.store_pos, 2 * (lowest - 1) + 1);
        ck_assert_uint_eq(ing_ktrack_pending(&t), (size_t)(N - 1 - i));
    }
    ing_ktrack_cleanup(&t);
}
END_TEST

Suite *suite_ktrack(void)
{
    Suite *s = suite_create("ktrack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ack_in_order_advances);
    tcase_add_test(tc, ack_out_of_order_waits_for_lowest);
    tcase_add_test(tc, gaps_duplicates_and_unknown);
    tcase_add_test(tc, shuffled_acks_match_model);
    suite_add_tcase(s, tc);
    return s;
}
