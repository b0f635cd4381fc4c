/* Tests of ing_seen: claim/commit/release states, TTL, and the state file
 * (atomic rewrite, reload across a "restart", corrupt lines). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ing_seen.h"
#include "tests/common/th.h"

#define DAY 86400000LL

START_TEST(states)
{
    ing_seen_t *s;
    ck_assert_int_eq(ing_seen_open(NULL, DAY, 0, &s, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_seen_claim(s, "a", "1"), 1);
    ck_assert_int_eq(ing_seen_claim(s, "a", "1"), 0); /* pending: not again */
    ck_assert_int_eq(ing_seen_claim(s, "b", "1"), 1); /* other feed, same id */
    ck_assert_uint_eq(ing_seen_pending(s), 2);
    ck_assert_int_eq(ing_seen_is_seen(s, "a", "1"), 0);
    ck_assert_int_eq(ing_seen_commit(s, "a", "1", 1000), CORE_OK);
    ck_assert_int_eq(ing_seen_is_seen(s, "a", "1"), 1);
    ck_assert_int_eq(ing_seen_claim(s, "a", "1"), 0);
    ing_seen_release(s, "b", "1");
    ck_assert_int_eq(ing_seen_claim(s, "b", "1"), 1); /* released: may be emitted again */
    ing_seen_release(s, "a", "1");                    /* SEEN stays */
    ck_assert_int_eq(ing_seen_is_seen(s, "a", "1"), 1);
    ck_assert_uint_eq(ing_seen_count(s), 1);
    /* Growth: many keys. */
    for (int i = 0; i < 5000; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        ck_assert_int_eq(ing_seen_claim(s, "c", id), 1);
        ck_assert_int_eq(ing_seen_commit(s, "c", id, 2000), CORE_OK);
    }
    ck_assert_uint_eq(ing_seen_count(s), 5001);
    /* TTL: expired keys are dropped at save. */
    ck_assert_int_eq(ing_seen_save(s, 1000 + DAY + 1, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_seen_is_seen(s, "a", "1"), 0);
    ck_assert_uint_eq(ing_seen_count(s), 5000);
    ing_seen_free(s);
}
END_TEST

START_TEST(file_roundtrip)
{
    const char *dir = th_tmpdir("seen");
    char path[600], buf[4096];
    ing_seen_t *s;
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/seen.state", dir);

    ck_assert_int_eq(ing_seen_open(path, DAY, 0, &s, NULL, 0), CORE_OK); /* missing file: empty */
    ck_assert_int_eq(ing_seen_commit(s, "feed\tx", "id\\with\nodd", 500), CORE_OK);
    ck_assert_int_eq(ing_seen_commit(s, "f", "old", 10), CORE_OK);
    ck_assert_int_eq(ing_seen_claim(s, "f", "pending"), 1);
    ck_assert_int_eq(ing_seen_save(s, 1000, NULL, 0), CORE_OK);
    ing_seen_free(s);

    /* Restart: seen keys come back, pending ones do not; "old" expires. */
    ck_assert_int_eq(ing_seen_open(path, DAY, 10 + DAY + 1, &s, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_seen_is_seen(s, "feed\tx", "id\\with\nodd"), 1);
    ck_assert_int_eq(ing_seen_is_seen(s, "f", "old"), 0);
    ck_assert_int_eq(ing_seen_claim(s, "f", "pending"), 1);
    ck_assert_uint_eq(ing_seen_count(s), 1);
    ing_seen_free(s);

    /* No temporary file left behind. */
    snprintf(buf, sizeof buf, "%s/seen.state.tmp.%ld", dir, (long)getpid());
    ck_assert_int_ne(access(buf, F_OK), 0);

    /* Corrupt lines are skipped and counted, the rest loads. */
    const char *bad = "finsent-seen 1\n100\tf\tgood\nnot a line\nabc\tf\tx\n100\tf\tbad\\q\n";
    ck_assert_int_eq(th_write_file(path, bad, strlen(bad)), 0);
    ck_assert_int_eq(ing_seen_open(path, DAY, 200, &s, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_seen_is_seen(s, "f", "good"), 1);
    ck_assert_uint_eq(ing_seen_count(s), 1);
    ck_assert_uint_eq(ing_seen_load_skipped(s), 3);
    ing_seen_free(s);

    /* An unreadable path is a clear error. */
    snprintf(buf, sizeof buf, "%s", dir); /* a directory */
    char err[256] = "";
    ck_assert_int_eq(ing_seen_open(buf, DAY, 0, &s, err, sizeof err), CORE_EIO);
    ck_assert_ptr_null(s);
    /* Saving into a missing directory fails and says where. */
    snprintf(buf, sizeof buf, "%s/no/such/dir/state", dir);
    ck_assert_int_eq(ing_seen_open(buf, DAY, 0, &s, NULL, 0), CORE_OK);
    ck_assert_int_eq(ing_seen_commit(s, "f", "x", 1), CORE_OK);
    ck_assert_int_eq(ing_seen_save(s, 2, err, sizeof err), CORE_EIO);
    ck_assert_msg(strstr(err, "no/such/dir") != NULL, "%s", err);
    ing_seen_free(s);
}
END_TEST

Suite *suite_seen(void)
{
    Suite *s = suite_create("seen");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, states);
    tcase_add_test(tc, file_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
