/*
 * redis.tls through the finsent binary, against a real redis-server that
 * listens with TLS only and requires a client certificate (certificates made
 * at run time): `finsent run` with a CA that did not sign the server's
 * certificate fails at start, at once, with OpenSSL's reason; with the right
 * CA and client certificate it counts a JSONL input into Redis and exits 0;
 * `finsent stats` and `finsent alerts --no-follow` then read it over TLS.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/th.h"
#include "tests/common/th_tls.h"

#define REFUSE_DEADLINE_MS 20000
#define RUN_DEADLINE_MS 180000

static char dir[512];

static const char *path_in(const char *name)
{
    static char paths[16][700]; /* ring: a test keeps at most a few */
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* finsent runs the binary with args (NULL-terminated), stdin /dev/null;
 * returns its exit status, *out gets stdout and stderr (caller frees). A
 * run past deadline_ms is killed and fails the test. */
static int finsent(char **out, int deadline_ms, ...)
{
    char bin[1024], *argv[32];
    const char *outp = path_in("out");
    int n = 0, status = 0;
    int64_t end;
    va_list ap;
    pid_t pid, w;

    snprintf(bin, sizeof bin, "%s/app/finsent", FINSENT_BINARY_DIR);
    ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
    argv[n++] = bin;
    va_start(ap, deadline_ms);
    for (char *a; n < 31 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        if (!freopen("/dev/null", "r", stdin) || !freopen(outp, "w", stdout) ||
            dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    end = mono_ms() + deadline_ms;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < end) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        *out = th_slurp(outp, NULL);
        ck_abort_msg("finsent %s did not exit within %d ms:\n%s", argv[1], deadline_ms, *out);
    }
    ck_assert_msg(WIFEXITED(status), "finsent died with signal %d", WTERMSIG(status));
    *out = th_slurp(outp, NULL);
    ck_assert_msg(!strstr(*out, "Sanitizer") && !strstr(*out, "runtime error:"), "%s", *out);
    return WEXITSTATUS(status);
}

START_TEST(run_stats_alerts_over_tls)
{
    th_tls_t t;
    th_redis_t r;
    char text[4096], *out, conf[700], bad[700], jsonl[700];
    int rc;
    static const char items[] =
        "{\"id\":\"t-1\",\"text\":\"$ACME plunges after a fire at its main plant\"}\n"
        "{\"id\":\"t-2\",\"text\":\"$ACME shares collapse as losses mount\"}\n"
        "{\"id\":\"t-3\",\"text\":\"$ACME beats estimates and raises its outlook\"}\n";

    snprintf(dir, sizeof dir, "%s", th_tmpdir("app-tls"));
    ck_assert_msg(th_tls_make(&t) == 0, "could not make the test certificates (openssl)");
    ck_assert_msg(th_redis_start_tls(&r, &t, "yes") == 0, "redis-server did not start with TLS");
    snprintf(jsonl, sizeof jsonl, "%s", path_in("in.jsonl"));
    ck_assert_int_eq(th_write_file(jsonl, items, sizeof items - 1), 0);

    /* The wrong CA: refused at start, with the reason and the settings. */
    snprintf(text, sizeof text,
             "[input]\njsonl = %s\n[redis]\nport = %d\ntls = true\ntls_ca_file = %s\n"
             "tls_cert = %s\ntls_key = %s\n",
             jsonl, r.port, t.other_ca, t.client_crt, t.client_key);
    snprintf(bad, sizeof bad, "%s", path_in("bad.conf"));
    ck_assert_int_eq(th_write_file(bad, text, strlen(text)), 0);
    rc = finsent(&out, REFUSE_DEADLINE_MS, "run", "-c", bad, NULL);
    ck_assert_msg(rc != 0, "run started with the wrong CA:\n%s", out);
    ck_assert_msg(strstr(out, "server certificate refused") &&
                      strstr(out, "the redis.tls* settings"),
                  "%s", out);
    free(out);

    /* The right CA and a client certificate: counted, exit 0. */
    snprintf(text, sizeof text,
             "[input]\njsonl = %s\n[redis]\nport = %d\ntls = true\ntls_ca_file = %s\n"
             "tls_cert = %s\ntls_key = %s\nwindows = 5m\n[log]\nlevel = warn\n",
             jsonl, r.port, t.ca, t.client_crt, t.client_key);
    snprintf(conf, sizeof conf, "%s", path_in("good.conf"));
    ck_assert_int_eq(th_write_file(conf, text, strlen(text)), 0);
    rc = finsent(&out, RUN_DEADLINE_MS, "run", "-c", conf, NULL);
    ck_assert_msg(rc == 0, "finsent run: exit %d\n%s", rc, out);
    free(out);

    /* finsent stats reads the rates over TLS: scope all has the 3 items. */
    rc = finsent(&out, REFUSE_DEADLINE_MS, "stats", "-c", conf, "--json", NULL);
    ck_assert_msg(rc == 0, "finsent stats: exit %d\n%s", rc, out);
    ck_assert_msg(strstr(out, "\"scope\": \"all\",\n    \"window\": \"5m\",\n    \"n\": 3,"), "%s",
                  out);
    free(out);
    /* finsent alerts replays the (empty) log over TLS and exits. */
    rc = finsent(&out, REFUSE_DEADLINE_MS, "alerts", "-c", conf, "--since", "0", "--no-follow",
                 NULL);
    ck_assert_msg(rc == 0, "finsent alerts: exit %d\n%s", rc, out);
    free(out);
    /* ... and says why when the CA is wrong. */
    rc = finsent(&out, REFUSE_DEADLINE_MS, "stats", "-c", bad, NULL);
    ck_assert_msg(rc == 1 && strstr(out, "server certificate refused"), "exit %d\n%s", rc, out);
    free(out);

    th_redis_stop(&r);
    th_tls_free(&t);
    th_rmtree(dir);
}
END_TEST

Suite *suite_redis_tls_cmd(int with_redis)
{
    Suite *s = suite_create("redis_tls_cmd");
    TCase *tc = tcase_create("redis_tls_cmd");
    tcase_set_timeout(tc, 300);
    if (with_redis)
        tcase_add_test(tc, run_stats_alerts_over_tls);
    suite_add_tcase(s, tc);
    return s;
}
