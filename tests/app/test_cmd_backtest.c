/*
 * Tests of `finsent backtest` (app/app_cmd_backtest.c), running the real
 * binary: the demo stream (tests/data/demo/stream.jsonl) with the example
 * config deploy/backtest-demo.conf and labels tests/data/demo/labels.csv
 * fires the planted $ACME burst under its four rules (rate, wilson, surge,
 * volume) and catches the labelled event; a second run gives the same alerts; a malformed line is
 * skipped and counted; --redis-port refuses a prefix that holds keys and cleans up its own; and the
 * errors that need no Redis (usage, a missing input, a bad labels line, no redis-server) are clear.
 * The Redis cases need redis-server (the runner skips them, and reports the suite skipped, when it
 * is missing). Assertions are on output and exit status, never timings.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/th.h"
#include "tests/common/th_redis.h"

static char dir[512];
static th_redis_t redis;

static const char *tmp(const char *name)
{
    static char paths[8][700];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

/* at_exit runs in the test's child process, also after a failed assertion:
 * no server or directory is left behind. */
static void at_exit(void)
{
    if (redis.pid > 0)
        th_redis_stop(&redis);
    if (dir[0])
        th_rmtree(dir);
    dir[0] = '\0';
}

static void setup(void)
{
    const char *d = th_tmpdir("backtest");
    ck_assert_ptr_nonnull(d);
    snprintf(dir, sizeof dir, "%s", d);
    memset(&redis, 0, sizeof redis);
    atexit(at_exit);
}

static const char *data(const char *rel)
{
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ % 4];
    return th_data_path(p, sizeof paths[0], rel);
}

static const char *demo_conf(void)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/../../deploy/backtest-demo.conf", FINSENT_TEST_DATA);
    return p;
}

/* backtest runs `finsent backtest` with the NULL-terminated args and the
 * environment changes env ("NAME=VALUE" sets, "NAME" unsets; NULL-
 * terminated, may be NULL) and returns its exit status; *out and *err
 * (freed by the caller) get what it wrote. */
static int backtest(char **out, char **err, const char *const *env, ...)
{
    char bin[1024], *argv[40];
    const char *outp = tmp("stdout"), *errp = tmp("stderr");
    int n = 0, status;
    va_list ap;
    pid_t pid;

    snprintf(bin, sizeof bin, "%s/app/finsent", FINSENT_BINARY_DIR);
    ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
    argv[n++] = bin;
    argv[n++] = "backtest";
    va_start(ap, env);
    for (char *a; n < 39 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        for (size_t i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
                if (setenv(name, eq + 1, 1) != 0)
                    _exit(126);
            } else {
                unsetenv(env[i]);
            }
        }
        if (!freopen("/dev/null", "r", stdin) || !freopen(outp, "w", stdout) ||
            !freopen(errp, "w", stderr))
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "finsent died with signal %d", WTERMSIG(status));
    *out = th_slurp(outp, NULL);
    *err = th_slurp(errp, NULL);
    /* Under -DFINSENT_ASAN=ON a sanitizer report also exits 1: never take it
     * for the expected failure. */
    ck_assert_msg(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error:"), "%s", *err);
    return WEXITSTATUS(status);
}

static json_t *parse(const char *out)
{
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    ck_assert_msg(o != NULL, "not JSON (%s): %.500s", je.text, out);
    return o;
}

static const json_t *rule_of(const json_t *rep, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(rep, "rules"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "rule")), name) == 0)
            return r;
    }
    ck_abort_msg("no rule %s in the report", name);
    return NULL;
}

static json_int_t ival(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

/* fired_at: the time the rule first fired for scope, or NULL. */
static const char *fired_at(const json_t *rep, const char *rule, const char *scope)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(rep, "alerts"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "rule")), rule) == 0 &&
            strcmp(json_string_value(json_object_get(a, "scope")), scope) == 0 &&
            strcmp(json_string_value(json_object_get(a, "state")), "firing") == 0)
            return json_string_value(json_object_get(a, "ts"));
    }
    return NULL;
}

/* write_slice writes lines [from, to) (1-based) of the demo stream, with
 * extra lines inserted after line `after` (0: none), to the file name in
 * the test's directory, and returns its path (in a buffer of its own). */
static const char *write_slice(const char *name, int from, int to, int after, const char *extra)
{
    static char paths[4][700];
    static int next;
    FILE *in = fopen(data("demo/stream.jsonl"), "r"), *out;
    char *path = paths[next++ % 4];

    snprintf(path, sizeof paths[0], "%s", tmp(name));
    char line[8192];
    int n = 0;
    ck_assert_ptr_nonnull(in);
    out = fopen(path, "w");
    ck_assert_ptr_nonnull(out);
    while (fgets(line, sizeof line, in)) {
        n++;
        if (n >= from && n < to)
            fputs(line, out);
        if (n == after && extra)
            fputs(extra, out);
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    return path;
}

/* ---- without Redis ------------------------------------------------------------- */

START_TEST(usage_errors)
{
    char *out, *err;
    ck_assert_int_eq(backtest(&out, &err, NULL, "--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: finsent backtest"));
    free(out);
    free(err);

    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), NULL), 2);
    ck_assert_msg(strstr(err, "--input FILE.jsonl (or - for stdin) is required"), "%s", err);
    free(out);
    free(err);

    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input", "x", "--private",
                              "--redis-port", "6379", NULL),
                     2);
    ck_assert_msg(strstr(err, "exclude each other"), "%s", err);
    free(out);
    free(err);

    /* A config without rules has nothing to test. */
    ck_assert_int_eq(th_write_file(tmp("norules.conf"), "[classify]\nbatch = 8\n", 20), 0);
    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", tmp("norules.conf"), "--input", "x", NULL),
                     1);
    ck_assert_msg(strstr(err, "norules.conf has no [rule.NAME] section"), "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(missing_input)
{
    char *out, *err;
    const char *missing = tmp("no_such_history.jsonl");
    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input", missing, NULL), 1);
    ck_assert_msg(strstr(err, missing) && strstr(err, "cannot open: No such file or directory"),
                  "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
}
END_TEST

START_TEST(bad_labels_line)
{
    static const char text[] = "# events\nscope,start,end\n"
                               "entity:ACME,2026-11-28T15:10:00Z,2026-11-28T15:16:00Z\n"
                               "entity:ACME,2026-11-28T15:10:00Z\n";
    char *out, *err, want[800];
    const char *labels = tmp("bad.csv");

    ck_assert_int_eq(th_write_file(labels, text, sizeof text - 1), 0);
    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input",
                              data("demo/stream.jsonl"), "--labels", labels, NULL),
                     1);
    snprintf(want, sizeof want, "%s:4: expected 3 fields 'scope,start,end'", labels);
    ck_assert_msg(strstr(err, want), "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);

    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input",
                              data("demo/stream.jsonl"), "--labels", tmp("none.csv"), NULL),
                     1);
    ck_assert_msg(strstr(err, "none.csv: cannot open"), "%s", err);
    free(out);
    free(err);
}
END_TEST

START_TEST(no_redis_server)
{
    static const char *const env[] = {"PATH=/nonexistent", "FINSENT_REDIS_SERVER", NULL};
    static const char *const env_bad[] = {"FINSENT_REDIS_SERVER=/nonexistent/redis-server", NULL};
    char *out, *err;
    const char *in = write_slice("small.jsonl", 1, 20, 0, NULL);

    ck_assert_int_eq(backtest(&out, &err, env, "-c", demo_conf(), "--input", in, NULL), 1);
    ck_assert_msg(strstr(err, "redis-server not found (not in PATH)") &&
                      strstr(err, "--redis-port"),
                  "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(backtest(&out, &err, env_bad, "-c", demo_conf(), "--input", in, NULL), 1);
    ck_assert_msg(strstr(err, "FINSENT_REDIS_SERVER is not executable"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* ---- with Redis ---------------------------------------------------------------- */

/* The demo stream twice: the ACME burst fires every rule and is caught,
 * the second run reports exactly the same. */
START_TEST(demo_fires_and_repeats)
{
    char *out1, *err1, *out2, *err2;
    json_t *r1, *r2;
    const json_t *rate, *wilson, *lw;
    const char *t;

    ck_assert_int_eq(backtest(&out1, &err1, NULL, "-c", demo_conf(), "--input",
                              data("demo/stream.jsonl"), "--labels", data("demo/labels.csv"),
                              "--json", NULL),
                     0);
    r1 = parse(out1);
    ck_assert_int_eq(ival(r1, "messages"), 3161);
    ck_assert_int_eq(ival(r1, "skipped"), 0);
    ck_assert_int_eq(ival(r1, "counted"), 3161);
    ck_assert_str_eq(json_string_value(json_object_get(r1, "from")), "2026-11-28T14:00:04.423Z");
    ck_assert_str_eq(json_string_value(json_object_get(r1, "to")), "2026-11-28T15:59:58.746Z");
    ck_assert_int_ge(ival(r1, "shift_days"), 1);

    /* wilson: the burst and nothing else. */
    t = fired_at(r1, "ticker_wilson", "entity:ACME");
    ck_assert_msg(t && strcmp(t, "2026-11-28T15:10:00Z") > 0 &&
                      strcmp(t, "2026-11-28T15:16:00Z") < 0,
                  "ticker_wilson fired for ACME at %s", t ? t : "(never)");
    wilson = rule_of(r1, "ticker_wilson");
    ck_assert_int_eq(ival(wilson, "fired"), 1);
    ck_assert_int_eq(ival(wilson, "scopes"), 1);
    lw = json_object_get(wilson, "labels");
    ck_assert_int_eq(ival(lw, "events"), 1);
    ck_assert_int_eq(ival(lw, "caught"), 1);
    ck_assert_int_eq(ival(lw, "false_alerts"), 0);
    {
        const json_t *d = json_array_get(json_object_get(lw, "detail"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(d, "scope")), "entity:ACME");
        ck_assert(json_is_true(json_object_get(d, "caught")));
        ck_assert_int_gt(ival(d, "lag_ms"), 0);
        ck_assert_int_lt(ival(d, "lag_ms"), 6 * 60000);
    }
    /* The resolve follows once the burst has left the 5-minute window. */
    ck_assert_int_eq(ival(wilson, "resolved"), 1);
    ck_assert_int_gt(ival(wilson, "firing_ms"), 0);

    /* rate, min_count 3: catches the burst too, plus small tickers. */
    ck_assert_ptr_nonnull(fired_at(r1, "ticker_rate", "entity:ACME"));
    rate = rule_of(r1, "ticker_rate");
    ck_assert_int_eq(ival(json_object_get(rate, "labels"), "caught"), 1);
    ck_assert_int_ge(ival(rate, "fired"), ival(wilson, "fired"));
    ck_assert_int_eq(ival(json_object_get(rate, "labels"), "false_alerts"),
                     ival(rate, "fired") - 1);

    /* surge and volume, against ACME's own first hour: the burst only,
     * with their baseline numbers in the alert. */
    {
        static const char *const based[] = {"ticker_surge", "ticker_volume"};
        for (size_t k = 0; k < 2; k++) {
            const json_t *r = rule_of(r1, based[k]), *l = json_object_get(r, "labels");
            size_t i;
            json_t *a;
            ck_assert_msg(fired_at(r1, based[k], "entity:ACME"), "%s never fired", based[k]);
            ck_assert_int_eq(ival(r, "fired"), 1);
            ck_assert_int_eq(ival(l, "caught"), 1);
            ck_assert_int_eq(ival(l, "false_alerts"), 0);
            json_array_foreach(json_object_get(r1, "alerts"), i, a)
            {
                if (strcmp(json_string_value(json_object_get(a, "rule")), based[k]) == 0)
                    ck_assert_int_eq(ival(a, "baseline_n"), 16);
            }
        }
    }

    /* Every alert row carries the values it was judged on. */
    {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(r1, "alerts"), i, a)
        {
            ck_assert(json_is_integer(json_object_get(a, "n")));
            ck_assert(json_is_number(json_object_get(a, "value")));
            ck_assert(json_is_number(json_object_get(a, "threshold")));
            ck_assert_ptr_null(json_object_get(a, "id"));
        }
    }

#ifndef TH_SANITIZED
    /* The second run (the same report) in the release build only: under
     * the sanitizers each run classifies the 3,161 items for 20 s and more. */
    ck_assert_int_eq(backtest(&out2, &err2, NULL, "-c", demo_conf(), "--input",
                              data("demo/stream.jsonl"), "--labels", data("demo/labels.csv"),
                              "--json", NULL),
                     0);
    r2 = parse(out2);
    ck_assert_msg(json_equal(json_object_get(r1, "alerts"), json_object_get(r2, "alerts")),
                  "two runs differ:\n%s\n----\n%s", out1, out2);
    ck_assert(json_equal(json_object_get(r1, "rules"), json_object_get(r2, "rules")));
    json_decref(r2);
    free(out2);
    free(err2);
#else
    (void)out2;
    (void)err2;
    (void)r2;
#endif
    json_decref(r1);
    free(out1);
    free(err1);
}
END_TEST

/* Malformed lines: each named with its line number, skipped and counted. */
START_TEST(bad_lines_skipped)
{
    const char *in =
        write_slice("bad.jsonl", 1, 101, 50,
                    "{\"id\": \"broken\", \"text\": \n"
                    "{\"id\":\"nots\",\"text\":\"a headline without an event time\"}\n");
    char *out, *err;
    json_t *r;
    char want[800];

    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input", in, NULL), 0);
    snprintf(want, sizeof want, "%s:51: invalid JSON", in);
    ck_assert_msg(strstr(err, want), "%s", err);
    snprintf(want, sizeof want, "%s:52: no \"ts\"", in);
    ck_assert_msg(strstr(err, want), "%s", err);
    ck_assert_msg(strstr(err, "2 bad line(s) of"), "%s", err);
    ck_assert_msg(strstr(out, "100 messages, 2 bad line(s) skipped"), "%s", out);
    ck_assert_msg(strstr(out, "\nTIME "), "%s", out);
    ck_assert_msg(strstr(out, "\nRULE "), "%s", out);
    free(out);
    free(err);

    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input", in, "--json", NULL),
                     0);
    r = parse(out);
    ck_assert_int_eq(ival(r, "messages"), 100);
    ck_assert_int_eq(ival(r, "skipped"), 2);
    json_decref(r);
    free(out);
    free(err);
}
END_TEST

/* --redis-port: keys under the prefix are refused (the error says how to
 * go on), a fresh prefix runs, and a run's keys are gone afterwards. */
START_TEST(redis_port_prefix)
{
    const char *in = write_slice("small.jsonl", 1, 200, 0, NULL);
    char *out, *err, port[16];

    ck_assert_int_eq(th_redis_start(&redis, TH_REDIS_EPHEMERAL), 0);
    snprintf(port, sizeof port, "%d", redis.port);
    ck_assert_int_eq(backtest(&out, &err, NULL, "-c", demo_conf(), "--input", in, "--redis-port",
                              port, "--keep", NULL),
                     0);
    ck_assert_msg(strstr(err, "keys stay under the prefix 'finsent:'"), "%s", err);
    free(out);
    free(err);

    ck_assert_int_eq(
        backtest(&out, &err, NULL, "-c", demo_conf(), "--input", in, "--redis-port", port, NULL),
        1);
    ck_assert_msg(strstr(err, "already has keys under the prefix 'finsent:'") &&
                      strstr(err, "--set redis.prefix="),
                  "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);

    /* A fresh prefix runs, twice: the first run deleted its keys. */
    for (int i = 0; i < 2; i++) {
        int rc = backtest(&out, &err, NULL, "-c", demo_conf(), "--input", in, "--redis-port", port,
                          "--set", "redis.prefix=bt:", NULL);
        ck_assert_msg(rc == 0, "run %d: exit %d\n%s", i, rc, err);
        ck_assert_msg(strstr(out, "199 messages"), "%s\n%s", out, err);
        ck_assert_msg(!strstr(err, "deleting"), "%s", err);
        free(out);
        free(err);
    }
    th_redis_stop(&redis);
}
END_TEST

Suite *suite_backtest_cmd(int with_redis)
{
    Suite *s = suite_create("backtest_cmd");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, missing_input);
    tcase_add_test(tc, bad_labels_line);
    tcase_add_test(tc, no_redis_server);
    suite_add_tcase(s, tc);
    if (with_redis) {
        tc = tcase_create("redis");
        tcase_add_checked_fixture(tc, setup, NULL);
        /* Two classifications of 3,161 headlines (a few seconds each;
         * much longer under the sanitizers). */
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, demo_fires_and_repeats);
        tcase_add_test(tc, bad_lines_skipped);
        tcase_add_test(tc, redis_port_prefix);
        suite_add_tcase(s, tc);
    }
    return s;
}
