/* Tests of core_alloc: the fail-the-N-th hook itself, and the
 * allocation-failure loop over core_msg_decode (every failure returns
 * CORE_ENOMEM with no item and nothing leaked: the ASan build checks
 * leaks), in both hook modes. */
#include <stdio.h>
#include <string.h>

#include "core/core_alloc.h"
#include "core/core_item.h"
#include "core/core_msg.h"
#include "tests/core/suites.h"

#ifdef FINSENT_ALLOC_HOOK

START_TEST(hook_fails_the_nth)
{
    void *a, *b, *c;
    char *s;

    core_alloc_fail_at(2, CORE_ALLOC_ONCE);
    a = core_malloc(8);
    b = core_calloc(1, 8);
    c = core_realloc(NULL, 8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(core_alloc_count(), 3);
    ck_assert_int_eq(core_alloc_failures(), 1);
    core_free(a);
    core_free(c);

    core_alloc_fail_at(1, CORE_ALLOC_STICKY);
    ck_assert_ptr_null(core_strdup("x"));
    ck_assert_ptr_null(core_strndup("xy", 1));
    ck_assert_ptr_null(core_aligned_alloc(64, 64));
    ck_assert_int_eq(core_alloc_failures(), 3);

    core_alloc_fail_at(0, CORE_ALLOC_ONCE); /* disarmed: nothing fails or counts */
    s = core_strdup("abc");
    ck_assert_str_eq(s, "abc");
    ck_assert_int_eq(core_alloc_failures(), 0);
    ck_assert_int_eq(core_alloc_count(), 0);
    core_free(s);

    core_alloc_fail_at(1000, CORE_ALLOC_ONCE); /* armed far away: counts */
    s = core_strdup("abc");
    ck_assert_int_eq(core_alloc_count(), 1);
    core_alloc_fail_at(0, CORE_ALLOC_ONCE);
    core_free(s);
}
END_TEST

static const core_msg_limits_t LIM = {.max_message_bytes = 4096, .max_text_bytes = 2048};

/* Inputs that take every allocating branch of the decoder: all string
 * fields, an integer id, an over-long id (hashed), plain text,
 * a JSON string. */
static const struct {
    const char *name, *msg;
} MSGS[] = {
    {"object", "{\"id\":\"a1\",\"text\":\"Shares of $AAPL fall\",\"title\":\"Apple\","
               "\"source\":\"wire\",\"url\":\"http://x\",\"ts\":\"2026-11-28T13:50:00Z\","
               "\"lang\":\"en\"}"},
    {"integer_id", "{\"id\":42,\"title\":\"t\"}"},
    {"long_id", "{\"id\":\"" /* 300 bytes: hashed (core_item_set caps it) */
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
                "\"text\":\"x\"}"},
    {"plain_text", "  [VIDEO] Fed holds rates  "},
    {"json_string", "\"a quoted headline\""},
};

/* oom_loop fails allocation N = 1, 2, ... of one decode until a decode
 * meets no failure; returns the allocations the decode makes. */
static long oom_loop(const char *msg, core_alloc_mode_t mode)
{
    for (long n = 1;; n++) {
        core_item_t *it = (core_item_t *)1;
        char err[256] = "";
        core_err_t rc;

        ck_assert_int_lt(n, 1000);
        core_alloc_fail_at(n, mode);
        rc = core_msg_decode(msg, strlen(msg), &LIM, 1, &it, err, sizeof err);
        if (core_alloc_failures() == 0) {
            core_alloc_fail_at(0, CORE_ALLOC_ONCE);
            ck_assert_msg(rc == CORE_OK, "N=%ld: %s (%s)", n, core_strerror(rc), err);
            ck_assert_ptr_nonnull(it);
            core_item_free(it);
            return n - 1;
        }
        core_alloc_fail_at(0, CORE_ALLOC_ONCE);
        ck_assert_msg(rc == CORE_ENOMEM, "N=%ld: %s (%s), not CORE_ENOMEM", n, core_strerror(rc),
                      err);
        ck_assert_ptr_null(it);
    }
}

START_TEST(msg_decode_every_allocation_fails_cleanly)
{
    for (size_t i = 0; i < sizeof MSGS / sizeof MSGS[0]; i++) {
        long once = oom_loop(MSGS[i].msg, CORE_ALLOC_ONCE);
        long sticky = oom_loop(MSGS[i].msg, CORE_ALLOC_STICKY);
        ck_assert_int_gt(once, 0);
        ck_assert_int_eq(once, sticky);
        printf("alloc-fail core_msg_decode[%s]: %ld allocations, each failed once: CORE_ENOMEM\n",
               MSGS[i].name, once);
    }
}
END_TEST

#endif

Suite *suite_alloc(void)
{
    Suite *s = suite_create("core_alloc");
    TCase *tc = tcase_create("core");
#ifdef FINSENT_ALLOC_HOOK
    tcase_add_test(tc, hook_fails_the_nth);
    tcase_add_test(tc, msg_decode_every_allocation_fails_cleanly);
#endif
    suite_add_tcase(s, tc);
    return s;
}
