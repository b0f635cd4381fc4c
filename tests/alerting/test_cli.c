/* End-to-end tests of `finsent stats` and `finsent alerts`: the real binary
 * against a real redis-server filled by the sink. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_sink.h"
#include "core/core_time.h"
#include "tests/alerting/th_alr.h"
#include "tests/common/th.h"

static const char *finsent_bin(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/app/finsent", FINSENT_BINARY_DIR);
    return path;
}

/* run executes a shell command line and returns its exit status; its
 * stdout goes to *out (malloc'd, caller frees). */
static int run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...)
{
    char cmd[2048], buf[4096];
    va_list ap;
    FILE *p;
    size_t len = 0, n;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    *out = calloc(1, 1);
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        *out = realloc(*out, len + n + 1);
        memcpy(*out + len, buf, n);
        len += n;
        (*out)[len] = '\0';
    }
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_items(alr_sink_t *s, const char *topic, int neg, int pos, const char *tag)
{
    int64_t now = core_time_now_ms();
    for (int i = 0; i < neg + pos; i++) {
        char id[64];
        core_tagged_t *t;
        snprintf(id, sizeof id, "%s-%d", tag, i);
        t = th_alr_item(id, topic, i < neg ? 0 : 2, now - 60000, NULL);
        ck_assert_int_eq(alr_sink_write(s, &t, 1, NULL), CORE_OK);
        core_tagged_free(t);
    }
}

static alr_sink_t *mksink(const th_redis_t *r, const char *extra)
{
    core_config_t *cfg = th_alr_config(r, extra);
    alr_sink_t *s = NULL;
    char err[256];
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_OK);
    alr_sink_set_refresh_interval(s, 0);
    core_config_free(cfg);
    return s;
}

#define NEED_BINARY()                                                                              \
    do {                                                                                           \
        if (access(finsent_bin(), X_OK) != 0)                                                      \
            TH_SKIP("finsent", "%s not built", finsent_bin());                                     \
    } while (0)

START_TEST(stats_json_and_table)
{
    th_redis_t r;
    alr_sink_t *s;
    char *out = NULL;
    json_t *arr;
    double prev = 2.0;
    int found = 0;

    NEED_BINARY();
    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    s = mksink(&r, NULL);
    write_items(s, "Earnings", 3, 1, "e");
    write_items(s, "Macro", 1, 3, "m");
    ck_assert_int_eq(
        run(&out, "%s stats --set redis.port=%d --window 15m --json", finsent_bin(), r.port), 0);
    arr = json_loads(out, 0, NULL);
    ck_assert_msg(json_is_array(arr), "output: %s", out);
    ck_assert_uint_eq(json_array_size(arr), 3); /* all, 2 topics */
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *row = json_array_get(arr, i);
        const char *scope = json_string_value(json_object_get(row, "scope"));
        double rate = json_real_value(json_object_get(row, "neg_rate"));
        ck_assert(rate <= prev); /* sorted by neg_rate, highest first */
        prev = rate;
        ck_assert_str_eq(json_string_value(json_object_get(row, "window")), "15m");
        if (strcmp(scope, "topic:earnings") == 0) {
            ck_assert_int_eq(i, 0);
            ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), 4);
            ck_assert_int_eq(json_integer_value(json_object_get(row, "negative")), 3);
            found++;
        } else if (strcmp(scope, "all") == 0) {
            ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), 8);
            found++;
        }
    }
    ck_assert_int_eq(found, 2);
    json_decref(arr);
    free(out);

    /* The table, every window: 3 scopes x 3 windows + header. */
    ck_assert_int_eq(run(&out, "%s stats --set redis.port=%d", finsent_bin(), r.port), 0);
    ck_assert_ptr_nonnull(strstr(out, "NEG_RATE"));
    ck_assert_ptr_nonnull(strstr(out, "topic:earnings"));
    {
        int lines = 0;
        for (char *p = out; *p; p++)
            lines += *p == '\n';
        ck_assert_int_eq(lines, 10);
    }
    free(out);
    /* A window that is not kept is a usage error naming the windows. */
    ck_assert_int_eq(
        run(&out, "%s stats --set redis.port=%d --window 7m 2>&1", finsent_bin(), r.port), 2);
    ck_assert_ptr_nonnull(strstr(out, "5m 15m 1h"));
    free(out);
    ck_assert_int_eq(run(&out, "%s stats --window soon 2>&1", finsent_bin()), 2);
    free(out);
    ck_assert_int_eq(run(&out, "%s stats --help", finsent_bin()), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: finsent stats"));
    free(out);
    alr_sink_free(s);
    th_redis_kill(&r);
    /* Redis away: status 1 and a message. */
    ck_assert_int_eq(run(&out,
                         "%s stats --set redis.port=%d --set redis.connect_timeout=200ms "
                         "2>&1",
                         finsent_bin(), r.port),
                     1);
    ck_assert_ptr_nonnull(strstr(out, "127.0.0.1"));
    free(out);
    th_redis_stop(&r);
}
END_TEST

static const char RULE[] = "[rule.cli]\nscope = topic\nwindow = 15m\nthreshold = 0.5\n"
                           "clear = 0.3\nmin_count = 3\nfor = 0s\n";

START_TEST(alerts_replay_and_follow)
{
    th_redis_t r;
    alr_sink_t *s;
    char *out = NULL, conf[256], outfile[600], buf[8192];
    json_t *a;
    pid_t pid;
    FILE *f;
    redisContext *c;
    int status = 0;
    int64_t deadline;

    NEED_BINARY();
    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    s = mksink(&r, RULE);
    write_items(s, "Earnings", 4, 0, "a"); /* fires once */
    snprintf(conf, sizeof conf, "%s/finsent.conf", r.dir);
    snprintf(buf, sizeof buf, "[redis]\nport = %d\n", r.port);
    ck_assert_int_eq(th_write_file(conf, buf, strlen(buf)), 0);

    ck_assert_int_eq(run(&out, "%s alerts -c %s --since 0 --no-follow", finsent_bin(), conf), 0);
    a = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_msg(a != NULL, "output: %s", out);
    ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "firing");
    ck_assert_str_eq(json_string_value(json_object_get(a, "scope")), "topic:earnings");
    ck_assert_ptr_null(strchr(strchr(out, '\n') + 1, '\n')); /* one line */
    json_decref(a);
    free(out);
    ck_assert_int_eq(
        run(&out, "%s alerts -c %s --since 1h --no-follow --text", finsent_bin(), conf), 0);
    ck_assert_ptr_nonnull(strstr(out, "FIRING"));
    ck_assert_ptr_nonnull(strstr(out, "rule=cli scope=topic:earnings window=15m"));
    free(out);
    ck_assert_int_eq(run(&out, "%s alerts --since yesterday 2>&1", finsent_bin()), 2);
    free(out);
    ck_assert_int_eq(run(&out, "%s alerts -c %s --scope 'topic:EARNINGS!' --since 0 --no-follow",
                         finsent_bin(), conf),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\"scope\":\"topic:earnings\""));
    free(out);
    ck_assert_int_eq(
        run(&out, "%s alerts -c %s --scope topic:macro --since 0 --no-follow", finsent_bin(), conf),
        0);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_int_eq(run(&out, "%s alerts -c %s --scope sector:x 2>&1", finsent_bin(), conf), 2);
    ck_assert_ptr_nonnull(strstr(out, "--scope"));
    free(out);

    /* Follow live: a resolve published while it runs is printed, after the
     * replayed firing alert; SIGTERM ends it with status 0. */
    snprintf(outfile, sizeof outfile, "%s/alerts.out", r.dir);
    {
        char *argv[] = {(char *)finsent_bin(), "alerts", "-c", conf, "--since", "0", NULL};
        pid = th_spawn(argv, outfile);
    }
    ck_assert_int_gt(pid, 0);
    c = th_alr_connect(&r);
    /* wait on conditions (subscribed, then the resolve printed) with a
     * deadline that a busy machine does not reach */
    deadline = core_time_mono_ms() + 30000;
    for (;;) {
        redisReply *rep = redisCommand(c, "PUBSUB NUMSUB finsent:alerts");
        long long subs;
        ck_assert_ptr_nonnull(rep);
        subs = rep->element[1]->integer;
        freeReplyObject(rep);
        if (subs > 0)
            break;
        ck_assert_msg(core_time_mono_ms() < deadline, "finsent alerts never subscribed");
        usleep(10000);
    }
    write_items(s, "Earnings", 0, 10, "b"); /* 4/14 < clear: resolves */
    deadline = core_time_mono_ms() + 30000;
    while (core_time_mono_ms() < deadline) {
        size_t n;
        f = fopen(outfile, "r");
        n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        if (strstr(buf, "\"resolved\""))
            break;
        usleep(10000);
    }
    ck_assert_msg(strstr(buf, "\"firing\"") && strstr(buf, "\"resolved\"") &&
                      strstr(buf, "\"firing\"") < strstr(buf, "\"resolved\""),
                  "output: %s", buf);
    kill(pid, SIGTERM);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    redisFree(c);
    alr_sink_free(s);
    th_redis_stop(&r);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("alr_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stats_json_and_table);
    tcase_add_test(tc, alerts_replay_and_follow);
    suite_add_tcase(s, tc);
    return s;
}
