/*
 * Tests of app/app_opts.c, the option table every command parses with: the
 * kinds and their ranges, -c/-s/--set and keyed rows in command-line order,
 * positional arguments, unknown options, and the help generated from the
 * table. Then the commands' own behaviour that the table changed, running
 * the finsent binary: -s is --set in `finsent alerts` too, range errors
 * name the option, and `finsent feeds parse` prints a 1970-01-01 date.
 */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_opts.h"

#include "tests/common/th.h"

/* The options of a made-up command, with the destinations it writes. */
typedef struct demo {
    size_t batch;
    int port, json;
    const char *model;
    int64_t tick;
    app_list_t topics;
    app_args_t args;
} demo_t;

static const char *check_abc(const char *arg)
{
    return strcmp(arg, "a") == 0 || strcmp(arg, "b") == 0 ? NULL : "a or b";
}

/* run_demo parses argv (NULL-terminated, after the command name) with the
 * demo table and returns app_opts_parse's result; *msg (freed by the
 * caller) gets what it wrote on stderr, or on stdout with to_stdout. */
static int run_demo(demo_t *d, char **msg, int to_stdout, const char *const *argv_in)
{
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(&d->args, "config file"),
        APP_SET_ROW("override one key"),
        APP_SIZE("batch", 'b', "N", 1, 1024, &d->batch, "items per batch"),
        APP_INT("port", 0, "P", 1, 65535, &d->port, NULL),
        APP_STR("model", 0, "DIR", &d->model, "model directory\nsecond line of help"),
        {.name = "tick",
         .kind = APP_OPT_DURATION,
         .arg = "D",
         .lo = 1000,
         .hi = 60000,
         .dst = &d->tick,
         .label = "--tick D, --port P",
         .help = "tick and port"},
        {.name = "topic", .kind = APP_OPT_LIST, .arg = "T", .dst = &d->topics, .help = "a topic"},
        {.name = "mode",
         .kind = APP_OPT_STR,
         .arg = "M",
         .key = "x.mode",
         .check = check_abc,
         .help = "a or b (x.mode)"},
        {.name = "flag-key", .kind = APP_OPT_FLAG, .key = "x.flag", .help = "x.flag=true"},
        APP_FLAG("a-very-long-option-name", 0, &d->json, "wide"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent demo",
        .usage = "usage: finsent demo [options] FILE\n\n",
        .footer = "Exit 0.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 20,
        .min_pos = 1,
        .max_pos = 1,
        .too_few = "FILE is missing",
    };
    static char *argv[32]; /* args.pos points into it */
    char path[] = "/tmp/finsent-opts-XXXXXX";
    int argc = 0, fd = mkstemp(path), saved, rc;
    FILE *stream = to_stdout ? stdout : stderr;

    ck_assert_int_ge(fd, 0);
    argv[argc++] = "demo";
    while (*argv_in && argc < 31)
        argv[argc++] = (char *)*argv_in++;
    argv[argc] = NULL;
    fflush(stream);
    saved = dup(fileno(stream));
    ck_assert_int_ge(dup2(fd, fileno(stream)), 0);
    rc = app_opts_parse(&spec, argc, argv, &d->args);
    fflush(stream);
    dup2(saved, fileno(stream));
    close(saved);
    close(fd);
    *msg = th_slurp(path, NULL);
    unlink(path);
    ck_assert_ptr_nonnull(*msg);
    return rc;
}

static void demo_free(demo_t *d)
{
    app_list_cleanup(&d->topics);
    app_args_cleanup(&d->args);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(values_and_sets_in_order)
{
    demo_t d = {.batch = 7};
    char *msg;
    int rc = run_demo(&d, &msg, 0,
                      ARGS("-c", "f.conf", "-s", "a.b=1", "--mode", "b", "--set", "c.d=2",
                           "--flag-key", "-b", "1024", "--port=65535", "--tick", "30s", "--topic",
                           "t1", "--topic", "t2:3", "file.txt"));
    ck_assert_msg(rc == APP_OPTS_RUN, "%d: %s", rc, msg);
    ck_assert_str_eq(msg, "");
    ck_assert_str_eq(d.args.config, "f.conf");
    ck_assert_uint_eq(d.args.sets.n, 4);
    ck_assert_str_eq(d.args.sets.v[0], "a.b=1");
    ck_assert_str_eq(d.args.sets.v[1], "x.mode=b");
    ck_assert_str_eq(d.args.sets.v[2], "c.d=2");
    ck_assert_str_eq(d.args.sets.v[3], "x.flag=true");
    ck_assert_uint_eq(d.batch, 1024);
    ck_assert_int_eq(d.port, 65535);
    ck_assert_int_eq(d.tick, 30000);
    ck_assert_uint_eq(d.topics.n, 2);
    ck_assert_str_eq(d.topics.v[1], "t2:3");
    ck_assert_uint_eq(d.args.npos, 1);
    ck_assert_str_eq(d.args.pos[0], "file.txt");
    ck_assert_ptr_null(d.model);
    free(msg);
    demo_free(&d);
}
END_TEST

/* Every bad value is a usage error naming the option and what it allows;
 * the destination keeps its default. */
START_TEST(range_errors)
{
    static const struct {
        const char *opt, *val, *want;
    } cases[] = {
        {"--batch", "0", "finsent demo: --batch must be 1..1024, not '0'\n"},
        {"--batch", "1025", "finsent demo: --batch must be 1..1024, not '1025'\n"},
        {"-b", "-1", "finsent demo: --batch must be 1..1024, not '-1'\n"},
        {"--batch", "", "finsent demo: --batch must be 1..1024, not ''\n"},
        {"--batch", "12x", "finsent demo: --batch must be 1..1024, not '12x'\n"},
        {"--batch", " 5", "finsent demo: --batch must be 1..1024, not ' 5'\n"},
        {"--batch", "99999999999999999999",
         "finsent demo: --batch must be 1..1024, not "
         "'99999999999999999999'\n"},
        {"--port", "65536", "finsent demo: --port must be 1..65535, not '65536'\n"},
        {"--tick", "1ms",
         "finsent demo: --tick must be a duration between 1000ms and 60000ms "
         "(e.g. 1s, 60s, 5m), not '1ms'\n"},
        {"--tick", "soon",
         "finsent demo: --tick must be a duration between 1000ms and 60000ms "
         "(e.g. 1s, 60s, 5m), not 'soon'\n"},
        {"--mode", "c", "finsent demo: --mode must be a or b, not 'c'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        demo_t d = {.batch = 7};
        char *msg;
        int rc = run_demo(&d, &msg, 0, ARGS(cases[i].opt, cases[i].val, "f"));
        ck_assert_int_eq(rc, APP_EXIT_USAGE);
        ck_assert_str_eq(msg, cases[i].want);
        ck_assert_uint_eq(d.batch, 7);
        ck_assert_uint_eq(d.args.sets.n, 0);
        free(msg);
        demo_free(&d);
    }
}
END_TEST

START_TEST(usage_errors)
{
    const struct {
        const char *const *argv;
        const char *want; /* the first line on stderr */
    } cases[] = {
        {ARGS("--nope", "f"), "finsent demo: unknown option '--nope'\n"},
        {ARGS("-x", "f"), "finsent demo: unknown option '-x'\n"},
        {ARGS("f", "--batch"), "finsent demo: option '--batch' needs an argument\n"},
        {ARGS("f", "-c"), "finsent demo: option '-c' needs an argument\n"},
        {ARGS("--batch", "3"), "finsent demo: FILE is missing\n"},
        {ARGS("f", "g"), "finsent demo: unexpected argument 'g'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        demo_t d = {0};
        char *msg;
        int rc = run_demo(&d, &msg, 0, cases[i].argv);
        ck_assert_int_eq(rc, APP_EXIT_USAGE);
        ck_assert_msg(strncmp(msg, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: %s", i,
                      msg);
        free(msg);
        demo_free(&d);
    }
}
END_TEST

/* --help prints the table: labels from the rows (or their own), help at
 * the column, continuation lines indented, rows without help left out, a
 * label too wide for the column on a line of its own. */
START_TEST(help_from_table)
{
    demo_t d = {0};
    char *msg;
    int rc = run_demo(&d, &msg, 1, ARGS("--help"));
    ck_assert_int_eq(rc, APP_EXIT_OK);
    ck_assert_str_eq(msg, "usage: finsent demo [options] FILE\n\n"
                          "  -c, --config FILE config file\n"
                          "  -s, --set S.K=V   override one key\n"
                          "  -b, --batch N     items per batch\n"
                          "  --model DIR       model directory\n"
                          "                    second line of help\n"
                          "  --tick D, --port P\n"
                          "                    tick and port\n"
                          "  --topic T         a topic\n"
                          "  --mode M          a or b (x.mode)\n"
                          "  --flag-key        x.flag=true\n"
                          "  --a-very-long-option-name\n"
                          "                    wide\n"
                          "Exit 0.\n");
    free(msg);
    demo_free(&d);
}
END_TEST

/* ---- the commands -------------------------------------------------------- */

/* finsent runs the binary with the shell arguments args, stdin from
 * /dev/null, and returns its exit status; *err (freed by the caller) gets
 * its stderr and *out its stdout. */
static int finsent(char **out, char **err, const char *args)
{
    const char *dir = th_tmpdir("opts");
    char cmd[4096], outp[700], errp[700];
    int status;

    ck_assert_ptr_nonnull(dir);
    snprintf(outp, sizeof outp, "%s/out", dir);
    snprintf(errp, sizeof errp, "%s/err", dir);
    snprintf(cmd, sizeof cmd, "%s/app/finsent %s < /dev/null > %s 2> %s", FINSENT_BINARY_DIR, args,
             outp, errp);
    status = system(cmd);
    ck_assert(WIFEXITED(status));
    *out = th_slurp(outp, NULL);
    *err = th_slurp(errp, NULL);
    th_rmtree(dir);
    ck_assert_ptr_nonnull(*out);
    ck_assert_ptr_nonnull(*err);
    ck_assert_msg(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error:"), "%s", *err);
    return WEXITSTATUS(status);
}

/* -s is --set in `finsent alerts` as everywhere: a bad assignment is a
 * config error (status 1), not a bad --since (status 2). */
START_TEST(alerts_s_is_set)
{
    char *out, *err;
    ck_assert_int_eq(finsent(&out, &err, "alerts -s nosuch.key=1 --no-follow"), 1);
    ck_assert_msg(strstr(err, "config error") && strstr(err, "nosuch"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, "alerts --since yesterday-ish --no-follow"), 2);
    ck_assert_msg(strstr(err, "--since: 'yesterday-ish'"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* A range error names the option, not the value or what argv held. */
START_TEST(bench_range_error)
{
    char *out, *err;
    ck_assert_int_eq(finsent(&out, &err, "bench --batch 0"), 2);
    ck_assert_str_eq(err, "finsent bench: --batch must be 1..4096, not '0'\n");
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, "bench --layers=0"), 2);
    ck_assert_str_eq(err, "finsent bench: --layers must be 1..256, not '0'\n");
    free(out);
    free(err);
    ck_assert_int_eq(finsent(&out, &err, "bench --hidden 10 --heads 3"), 2);
    ck_assert_msg(strstr(err, "--hidden 10 is not divisible by --heads 3"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* A feed date of exactly 1970-01-01T00:00:00Z is a date (too old to count),
 * printed as such, not as "no date". */
START_TEST(feeds_parse_epoch_date)
{
    const char *dir = th_tmpdir("opts-feed");
    char path[700], args[800], *out, *err;
    static const char feed[] =
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>"
        "<item><guid>a</guid><title>epoch</title>"
        "<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>"
        "<item><guid>b</guid><title>no date</title></item>"
        "</channel></rss>\n";
    json_t *o, *items;

    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/epoch.xml", dir);
    ck_assert_int_eq(th_write_file(path, feed, strlen(feed)), 0);
    snprintf(args, sizeof args, "feeds parse %s", path);
    ck_assert_int_eq(finsent(&out, &err, args), 0);
    o = json_loads(out, 0, NULL);
    ck_assert_msg(o != NULL, "%s", out);
    items = json_object_get(o, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "event_time")),
                     "1970-01-01T00:00:00Z");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "event_ms")), 0);
    ck_assert(json_is_null(json_object_get(json_array_get(items, 1), "event_time")));
    json_decref(o);
    free(out);
    free(err);
    th_rmtree(dir);
}
END_TEST

Suite *suite_opts(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, values_and_sets_in_order);
    tcase_add_test(tc, range_errors);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, help_from_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("commands");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, alerts_s_is_set);
    tcase_add_test(tc, bench_range_error);
    tcase_add_test(tc, feeds_parse_epoch_date);
    suite_add_tcase(s, tc);
    return s;
}
