/* Tests of ing_jsonl: the JSONL file/stdin source. Good lines become items
 * with derived id/source/time; a bad line is an error naming its line and the
 * next line is still read; an over-long line is skipped; an explicit 1970 ts
 * is kept; a NUL in plain text is text; an idle stdin does not hold the
 * reader forever. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_time.h"
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
    /* "h:" + finsent's FNV-1a of the line: persisted as a dedup key, so the
     * value of a known line must never change (tests/core/test_hash.c). */
    ck_assert_str_eq(it->id, "h:217732b3ee48049d");
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

/* write_input writes len bytes to dir/name and returns the path (static). */
static const char *write_input(const char *dir, const char *name, const char *data, size_t len)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(th_write_file(path, data, len), 0);
    return path;
}

/* Issue 18: "ts": 0 and "ts": "1970-01-01T00:00:00Z" are that time, too old
 * to count. Before the fix the source read event_ms 0 as "no ts" and put the
 * ingest time in its place, so the sink counted a 1970 item as now. A line
 * without ts still gets the ingest time. */
START_TEST(explicit_epoch_zero_kept)
{
    static const char in[] = "{\"id\":\"z1\",\"text\":\"x\",\"ts\":0}\n"
                             "{\"id\":\"z2\",\"text\":\"x\",\"ts\":\"1970-01-01T00:00:00Z\"}\n"
                             "{\"id\":\"n1\",\"text\":\"x\"}\n";
    const char *dir = th_tmpdir("jsonl");
    char err[512];
    core_item_t *it;
    ing_jsonl_t *s;

    const char *path = write_input(dir, "z.jsonl", in, sizeof in - 1);

    ck_assert_int_eq(ing_jsonl_open(path, &LIM, &s, err, sizeof err), CORE_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
        ck_assert_msg(it->event_ms == 0, "%s: event_ms %lld, want 0 (1970)", it->id,
                      (long long)it->event_ms);
        ck_assert(core_item_event_known(it));
        ck_assert(it->ingest_ms > 0);
        core_item_free(it);
    }
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->id, "n1");
    ck_assert_int_eq(it->event_ms, it->ingest_ms);
    core_item_free(it);
    ing_jsonl_free(s);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Issue 18: a NUL in a plain-text line is part of its text: the words after
 * it are kept, with U+FFFD where the NUL was, and a leading NUL does not make
 * the line "message has no text". */
START_TEST(nul_in_plain_text_line)
{
    static const char in[] = "plain text with \0 a NUL\n\0leading NUL headline\n";
    const char *dir = th_tmpdir("jsonl");
    char err[512];
    core_item_t *it;
    ing_jsonl_t *s;

    const char *path = write_input(dir, "nul.jsonl", in, sizeof in - 1);

    ck_assert_int_eq(ing_jsonl_open(path, &LIM, &s, err, sizeof err), CORE_OK);
    ck_assert_msg(ing_jsonl_next(s, &it, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(it->text, "plain text with \xef\xbf\xbd a NUL");
    ck_assert_uint_eq(it->utf8_repaired, 1);
    core_item_free(it);
    ck_assert_msg(ing_jsonl_next(s, &it, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(it->text, "\xef\xbf\xbdleading NUL headline");
    core_item_free(it);
    ck_assert_int_eq(ing_jsonl_next(s, &it, err, sizeof err), CORE_ECLOSED);
    ing_jsonl_free(s);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Issue 18: stdin open and idle ("finsent run --jsonl -" fed by a producer
 * that pauses): a bounded wait comes back with CORE_ETIMEOUT, so the reader
 * thread can see a stop request. Before the fix the reader blocked in
 * read(2) until a line or the end came, and SIGTERM could not stop the
 * daemon (tests/app/test_cmd_run.c checks that end to end). A line split
 * across waits is read whole. */
START_TEST(idle_stdin_wait_is_bounded)
{
    char err[512];
    core_item_t *it;
    ing_jsonl_t *s;
    int p[2];
    int64_t t0;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO); /* Check's fork: our own stdin */
    ck_assert_int_eq(ing_jsonl_open("-", &LIM, &s, err, sizeof err), CORE_OK);
    t0 = core_time_mono_ms();
    ck_assert_int_eq(ing_jsonl_next_wait(s, 200, &it, err, sizeof err), CORE_ETIMEOUT);
    ck_assert_ptr_null(it);
    ck_assert_int_lt(core_time_mono_ms() - t0, 5000);
    ck_assert_int_eq(write(p[1], "{\"id\":\"s1\",\"te", 14), 14);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 50, &it, err, sizeof err), CORE_ETIMEOUT);
    ck_assert_int_eq(write(p[1], "xt\":\"Fed holds\"}\n", 17), 17);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 1000, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->id, "s1");
    ck_assert_str_eq(it->text, "Fed holds");
    ck_assert_str_eq(it->source, "stdin");
    core_item_free(it);
    close(p[1]);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 1000, &it, err, sizeof err), CORE_ECLOSED);
    ing_jsonl_free(s); /* leaves stdin open */
    ck_assert_int_ne(fcntl(STDIN_FILENO, F_GETFD), -1);
}
END_TEST

/* A named pipe no writer has opened yet: opening it does not block (it
 * would, out of reach of a stop request), a bounded wait ends, and what a
 * writer sends later is read. */
START_TEST(fifo_without_writer)
{
    const char *dir = th_tmpdir("jsonl");
    char path[600], err[512];
    core_item_t *it;
    ing_jsonl_t *s;
    int w;

    snprintf(path, sizeof path, "%s/in.fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(ing_jsonl_open(path, &LIM, &s, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 100, &it, err, sizeof err), CORE_ETIMEOUT);
    w = open(path, O_WRONLY);
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(write(w, "Fed holds rates\n", 16), 16);
    close(w);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 5000, &it, err, sizeof err), CORE_OK);
    ck_assert_str_eq(it->text, "Fed holds rates");
    core_item_free(it);
    ck_assert_int_eq(ing_jsonl_next_wait(s, 5000, &it, err, sizeof err), CORE_ECLOSED);
    ing_jsonl_free(s);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *suite_jsonl(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, reads_good_and_survives_bad);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, explicit_epoch_zero_kept);
    tcase_add_test(tc, nul_in_plain_text_line);
    tcase_add_test(tc, idle_stdin_wait_is_bounded);
    tcase_add_test(tc, fifo_without_writer);
    suite_add_tcase(s, tc);
    return s;
}
