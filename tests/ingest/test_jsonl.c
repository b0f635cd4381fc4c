/* Tests of ing_jsonl: the JSONL file/stdin source. Good lines become items
 * with derived id/source/time; a bad line is an error naming its line and the
 * next line is still read; an over-long line is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ing_jsonl.h"
#include "tests/common/th.h"

Suite *suite_jsonl(void);

static const core_msg_limits_t LIM = {.max_message_bytes = 256, .max_text_bytes = 200};

START_TEST(reads_good_and_survives_bad)
{
    const char *dir = th_tmpdir("jsonl");
    char path[600], err[512], big[400];
    core_item_t *it;
    ing_jsonl_t *s;
    FILE *f;

    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(path, sizeof path, "%s/in.jsonl", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"id\":\"a\",\"text\":\"Fed hikes\",\"ts\":\"2026-11-28T13:50:00Z\"}\n"); /* 1 */
    fprintf(f, "\n");                                                                    /* 2 */
    fprintf(f, "plain headline about $NVDA\r\n");                                        /* 3 */
    fprintf(f, "{\"text\": broken\n");                                                   /* 4 */
    fprintf(f, "%s\n", big);                                                             /* 5 */
    fprintf(f, "[1,2]\n");                                                               /* 6 */
    fprintf(f, "{\"title\":\"t\",\"source\":\"mine\"}");                                 /* 7 */
    fclose(f);

    ck_assert_int_eq(ing_jsonl_open(path, &LIM, &s, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->id, "a");
    ck_assert_str_eq(it->source, "jsonl:in.jsonl");
    ck_assert_int_eq(it->event_ms, 1795873800000LL);
    ck_assert_ptr_null(it->ack.fn);
    core_item_free(it);

    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(ing_jsonl_line(s), 3);
    ck_assert_str_eq(it->text, "plain headline about $NVDA");
    ck_assert_int_eq(strncmp(it->id, "h:", 2), 0);
    ck_assert_uint_eq(strlen(it->id), 18);
    ck_assert_int_eq(it->event_ms, it->ingest_ms);
    char first_id[32];
    snprintf(first_id, sizeof first_id, "%s", it->id);
    core_item_free(it);

    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_EJSON);
    ck_assert_ptr_null(it);
    ck_assert_msg(strncmp(err, "line 4: invalid JSON", 20) == 0, "%s", err);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_ETOO_LARGE);
    ck_assert_msg(strstr(err, "line 5: longer than the limit of 256 bytes") != NULL, "%s", err);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_ENOT_OBJECT);
    ck_assert_msg(strncmp(err, "line 6: JSON value is an array", 30) == 0, "%s", err);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->title, "t");
    ck_assert_str_eq(it->source, "mine");
    core_item_free(it);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_ECLOSED);
    ing_jsonl_free(s);

    /* Reading the same file again derives the same ids (replays dedupe). */
    ck_assert_int_eq(ing_jsonl_open(path, &LIM, &s, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    core_item_free(it);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->id, first_id);
    core_item_free(it);
    ing_jsonl_free(s);
    ing_jsonl_free(NULL);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(missing_file)
{
    ing_jsonl_t *s;
    char err[512];
    ck_assert_int_eq(ing_jsonl_open("/nonexistent/in.jsonl", &LIM, &s, err, sizeof err),
                     CORE_EIO);
    ck_assert_ptr_null(s);
    ck_assert(strstr(err, "/nonexistent/in.jsonl: cannot open") != NULL);
}
END_TEST

Suite *suite_jsonl(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, reads_good_and_survives_bad);
    tcase_add_test(tc, missing_file);
    suite_add_tcase(s, tc);
    return s;
}
