/* Tests of core_lines: line ends, the size limit (an over-long line is
 * skipped and the next one still read), the last line without a newline,
 * over a FILE and over a descriptor; NUL bytes inside lines; and the
 * bounded wait of a descriptor reader on an idle pipe. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_lines.h"
#include "core/core_time.h"
#include "tests/core/suites.h"

START_TEST(lines_and_limits)
{
    char buf[20000];
    FILE *f;
    core_lines_t *r;
    const char *line;
    size_t len;
    size_t n = 0;

    n += (size_t)sprintf(buf + n, "first\r\nsecond\n\n");
    memset(buf + n, 'x', 10000);
    n += 10000;
    n += (size_t)sprintf(buf + n, "\nexactly16bytes!!\nlast-no-newline");
    f = fmemopen(buf, n, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(core_lines_new(f, 16, &r), CORE_OK);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "first");
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "second");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ETOO_LARGE);
    ck_assert_uint_eq(core_lines_number(r), 4);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "exactly16bytes!!");
    ck_assert_uint_eq(core_lines_number(r), 5);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "last-no-newline");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    core_lines_free(r);
    core_lines_free(NULL);
    fclose(f);
}
END_TEST

START_TEST(long_lines_grow)
{
    size_t total = 300000;
    char *buf = malloc(total + 2);
    FILE *f;
    core_lines_t *r;
    const char *line;
    size_t len;
    for (size_t i = 0; i < total; i++)
        buf[i] = (char)('a' + i % 26);
    buf[total] = '\n';
    f = fmemopen(buf, total + 1, "r");
    ck_assert_int_eq(core_lines_new(f, 1 << 20, &r), CORE_OK);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_uint_eq(len, total);
    ck_assert_int_eq(memcmp(line, buf, total), 0);
    core_lines_free(r);
    fclose(f);
    free(buf);
}
END_TEST

/* fd_of writes len bytes to a pipe (small inputs) and returns its read end
 * with the write end closed: the reader sees them, then the end. */
static int fd_of(const char *data, size_t len)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], data, len), (ssize_t)len);
    close(p[1]);
    return p[0];
}

START_TEST(fd_reader_same_lines)
{
    /* The FILE reader's cases, over a descriptor (a temporary file: more
     * than a pipe holds), with the buffer boundaries falling mid-line. */
    size_t n = 0;
    char *buf = malloc(200000), path[] = "/tmp/finsent-lines-XXXXXX";
    core_lines_t *r;
    const char *line;
    size_t len;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    unlink(path);
    n += (size_t)sprintf(buf + n, "first\r\nsecond\n\n");
    memset(buf + n, 'x', 150000); /* over the 64 KiB read chunk: skipped */
    n += 150000;
    n += (size_t)sprintf(buf + n, "\nexactly16bytes!!\n17-bytes-is-over!\nlast-no-newline");
    ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(core_lines_new_fd(fd, 16, &r), CORE_OK);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "first");
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "second");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ETOO_LARGE);
    ck_assert_uint_eq(core_lines_number(r), 4);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "exactly16bytes!!");
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ETOO_LARGE);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "last-no-newline");
    ck_assert_uint_eq(core_lines_number(r), 7);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
    core_lines_free(r);
    close(fd);
    free(buf);
}
END_TEST

/* A NUL is a byte of the line, never its end, in both readers (issue 18:
 * a reader that stopped at a NUL would lose the words after it). */
START_TEST(nul_inside_lines)
{
    static const char in[] = "plain text with \0 a NUL\n\0leading\n";
    core_lines_t *r;
    const char *line;
    size_t len;
    FILE *f = fmemopen((void *)in, sizeof in - 1, "r");
    int fd = fd_of(in, sizeof in - 1);

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            ck_assert_int_eq(core_lines_new(f, 64, &r), CORE_OK);
        else
            ck_assert_int_eq(core_lines_new_fd(fd, 64, &r), CORE_OK);
        ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
        ck_assert_uint_eq(len, 23);
        ck_assert_int_eq(memcmp(line, "plain text with \0 a NUL", 23), 0);
        ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_OK);
        ck_assert_uint_eq(len, 8);
        ck_assert_int_eq(memcmp(line, "\0leading", 8), 0);
        ck_assert_int_eq(core_lines_next(r, &line, &len), CORE_ECLOSED);
        core_lines_free(r);
    }
    fclose(f);
    close(fd);
}
END_TEST

/* Issue 18: a reader on an idle pipe (finsent run --jsonl - with stdin open
 * and silent) must come back when its wait is over, so the thread calling it
 * can see a stop request; the part of a line read so far is kept. */
START_TEST(fd_wait_is_bounded)
{
    core_lines_t *r;
    const char *line;
    size_t len;
    int p[2];
    int64_t t0;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(core_lines_new_fd(p[0], 64, &r), CORE_OK);
    t0 = core_time_mono_ms();
    ck_assert_int_eq(core_lines_next_wait(r, 100, &line, &len), CORE_ETIMEOUT);
    ck_assert_int_ge(core_time_mono_ms() - t0, 90);
    ck_assert_int_lt(core_time_mono_ms() - t0, 5000);
    ck_assert_int_eq(core_lines_next_wait(r, 0, &line, &len), CORE_ETIMEOUT);
    /* half a line, then the wait ends; the rest completes it */
    ck_assert_int_eq(write(p[1], "{\"text\":\"half", 13), 13);
    ck_assert_int_eq(core_lines_next_wait(r, 50, &line, &len), CORE_ETIMEOUT);
    ck_assert_uint_eq(core_lines_number(r), 0);
    ck_assert_int_eq(write(p[1], " and rest\"}\r\nnext\n", 18), 18);
    ck_assert_int_eq(core_lines_next_wait(r, 50, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "{\"text\":\"half and rest\"}");
    ck_assert_int_eq(core_lines_next_wait(r, 0, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "next");
    ck_assert_uint_eq(core_lines_number(r), 2);
    /* the writer goes: a partial last line is still a line, then the end */
    ck_assert_int_eq(write(p[1], "tail", 4), 4);
    close(p[1]);
    ck_assert_int_eq(core_lines_next_wait(r, 1000, &line, &len), CORE_OK);
    ck_assert_str_eq(line, "tail");
    ck_assert_int_eq(core_lines_next_wait(r, 1000, &line, &len), CORE_ECLOSED);
    core_lines_free(r);
    close(p[0]);
}
END_TEST

Suite *suite_lines(void)
{
    Suite *s = suite_create("lines");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, lines_and_limits);
    tcase_add_test(tc, long_lines_grow);
    tcase_add_test(tc, fd_reader_same_lines);
    tcase_add_test(tc, nul_inside_lines);
    tcase_add_test(tc, fd_wait_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}
