/*
 * Tests of app_config_validate (app/app_validate.c): one table of bad
 * configurations, each refused by the function itself, by `finsent config
 * -c` and by `finsent run -c` with the same message, run exiting non-zero
 * at once, before connecting to anything; a directory given as the config
 * file; a good configuration that both commands accept (run then processes
 * a small JSONL file into a real redis-server and exits 0); and the warning
 * `finsent run` logs when started as root.
 *
 * "Before connecting to anything": every address of the base configuration
 * (Redis, Kafka brokers, feed URLs) is a TCP port this test listens on and
 * never accepts on; after run has exited, that port must have no connection
 * waiting. Assertions are on messages and exit statuses; the only timing is
 * a generous deadline after which a run that has not exited is a failure.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "tests/common/th.h"
#include "tests/common/th_redis.h"

/* How long a refused `finsent run` may take (model loading is not part of
 * it; this is for slow sanitizer builds on a loaded machine). */
#define REFUSE_DEADLINE_MS 20000
/* The good run: load the model, classify three items, count them, exit. */
#define GOOD_DEADLINE_MS 180000

static char dir[512];
static int trap_fd = -1; /* listening, never accepting */
static int trap_port;

/* ---- helpers ------------------------------------------------------------------- */

static void at_exit(void)
{
    if (dir[0])
        th_rmtree(dir);
    dir[0] = '\0';
}

static void setup(void)
{
    const char *d = th_tmpdir("validate");
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;

    ck_assert_ptr_nonnull(d);
    snprintf(dir, sizeof dir, "%s", d);
    atexit(at_exit);

    trap_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(trap_fd, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(trap_fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(trap_fd, 16), 0);
    ck_assert_int_eq(getsockname(trap_fd, (struct sockaddr *)&a, &len), 0);
    trap_port = ntohs(a.sin_port);
}

/* trap_untouched: no connection reached the trap port. */
static int trap_untouched(void)
{
    int c = accept(trap_fd, NULL, NULL);
    if (c >= 0) {
        close(c);
        return 0;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

static const char *tmp(const char *name)
{
    static char paths[8][700];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* finsent runs the binary with args (NULL-terminated), stdin from
 * /dev/null, in its own process group, and returns its exit status; *err
 * (freed by the caller) gets its stderr. A run still going after
 * deadline_ms is killed and fails the test. */
static int finsent(char **err, int deadline_ms, ...)
{
    char bin[1024], *argv[32];
    const char *outp = tmp("stdout"), *errp = tmp("stderr");
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
            !freopen(errp, "w", stderr))
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
        *err = th_slurp(errp, NULL);
        ck_abort_msg("finsent %s did not exit within %d ms; stderr:\n%s", argv[1], deadline_ms,
                     *err);
    }
    ck_assert_int_eq(w, pid);
    ck_assert_msg(WIFEXITED(status), "finsent died with signal %d", WTERMSIG(status));
    *err = th_slurp(errp, NULL);
    /* Under -DFINSENT_ASAN=ON a sanitizer report also exits 1: never take it
     * for the expected refusal. */
    ck_assert_msg(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error:"), "%s", *err);
    return WEXITSTATUS(status);
}

/* error_line copies the line of text holding "config error: " (without the
 * newline) into buf; "" when there is none. */
static const char *error_line(const char *text, char *buf, size_t cap)
{
    const char *p = strstr(text, "config error: ");
    size_t n;
    buf[0] = '\0';
    if (!p)
        return buf;
    while (p > text && p[-1] != '\n')
        p--;
    n = strcspn(p, "\n");
    snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    return buf;
}

/* write_config writes the base configuration (a JSONL input that exists,
 * every network address the trap port, HTTP on a free port) followed by
 * extra, to name; returns the path. */
static const char *write_config(const char *name, const char *extra)
{
    const char *jsonl = tmp("in.jsonl"), *path = tmp(name);
    char text[8192];
    int n;

    static const char item[] = "{\"id\":\"v-1\",\"text\":\"$ACME plunges after a fire\"}\n";
    ck_assert_int_eq(th_write_file(jsonl, item, sizeof item - 1), 0);
    n = snprintf(text, sizeof text,
                 "[input]\njsonl = %s\n\n"
                 "[redis]\nhost = 127.0.0.1\nport = %d\nconnect_timeout = 10s\n\n"
                 "[http]\nlisten = 127.0.0.1:0\n\n"
                 "%s\n",
                 jsonl, trap_port, extra);
    ck_assert(n > 0 && (size_t)n < sizeof text);
    ck_assert_int_eq(th_write_file(path, text, (size_t)n), 0);
    return path;
}

/* ---- the table ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *ini;  /* appended to the base config; "TRAP" is the trap port */
    const char *want; /* part of the message */
} bad_case;

static const bad_case bad[] = {
    /* http.listen: whatever run refuses (an IPv6 address, a bad port) */
    {"[http]\nlisten = ::1:9464\n", "http.listen '::1:9464'"},
    {"[http]\nlisten = 127.0.0.1:99999\n", "http.listen '127.0.0.1:99999': bad port"},
    /* the rest of [http]: credential and certificate files are read at validation */
    {"[http]\nauth_token_file = /nonexistent/token\n",
     "http.auth_token_file '/nonexistent/token'"},
    {"[http]\nmetrics_auth_basic_file = /\n", "http.metrics_auth_basic_file '/'"},
    {"[http]\nhealthz_auth = true\n", "http.healthz_auth"},
    {"[http]\ntls_key = /nonexistent/key.pem\n", "http.tls_cert and http.tls_key"},
    {"[http]\nops_listen = 127.0.0.1:x\n", "http.ops_listen '127.0.0.1:x': bad port"},
    /* [redis] windows and retention, as the sink reads them */
    {"[redis]\nwindows = 0m\n", "[redis] windows: '0m'"},
    {"[redis]\nwindows = 5m,90s\n", "[redis] windows: '90s'"},
    {"[redis]\nwindows =\n", "[redis] windows: no window configured"},
    {"[rule.s]\nbasis = surge\nbaseline = 7d\n[redis]\nhourly_retention = 2d\n",
     "[rule.s] baseline: 168h before a 15-minute window needs redis.hourly_retention"},
    /* rules */
    {"[rule.x]\nbasis = foo\n", "[rule.x] basis: 'foo' is not rate, wilson, surge or volume"},
    {"[rule.x]\nscope = sector\n", "[rule.x] scope: 'sector'"},
    {"[rule.x]\nwindow = 90s\n", "[rule.x] window: must be a whole number of minutes"},
    {"[rule.x]\nthreshold = 0.5\nclear = 0.6\n", "[rule.x] clear: 0.6 is above threshold 0.5"},
    {"[rule.x]\nbasis = volume\nfallback = loud\n", "[rule.x] fallback: 'loud'"},
    {"[rule.x]\nbasis = surge\nmin_lift = 0.1\nclear_lift = 0.2\n",
     "[rule.x] clear_lift: 0.2 is above min_lift 0.1"},
    {"[rule.x]\nbasis = volume\nbaseline = 90m\n", "[rule.x] baseline"},
    /* logging */
    {"[log]\nlevel = verbose\n", "[log] level"},
    {"[log]\nformat = xml\n", "[log] format"},
    /* feeds */
    {"[feed.local]\nurl = file:///etc/hosts\n", "[feed.local] url (" /* origin */},
    {"[feed.bare]\nurl = example.com/rss\n", "only http:// and https:// feeds are supported"},
    {"[feed.empty]\nsource = x\n", "[feed.empty] url (default): missing"},
    {"[rss]\nseen_store = disk\n[feed.ok]\nurl = http://127.0.0.1:TRAP/rss\n", "[rss] seen_store"},
    {"[rss]\nseen_store = file\n[feed.ok]\nurl = http://127.0.0.1:TRAP/rss\n",
     "'file' needs rss.state_file"},
    /* Kafka, as librdkafka takes the settings */
    {"[kafka]\nbrokers = 127.0.0.1:TRAP\ntopics =\n", "[kafka] topics"},
    {"[kafka]\nbrokers = 127.0.0.1:TRAP\nno.such.property = 1\n", "[kafka] no.such.property"},
    {"[kafka]\nbrokers = 127.0.0.1:TRAP\ngroup.id = other\n", "[kafka] group.id"},
    {"[kafka]\nbrokers = 127.0.0.1:TRAP\nsecurity.protocol = carrier-pigeon\n",
     "[kafka] security.protocol"},
    {"[kafka]\noutput_topic = tagged\n", "[kafka] output_topic"},
    /* files the daemon opens at start */
    {"[entities]\nwatchlist = /nonexistent/watch.tsv\n", "/nonexistent/watch.tsv"},
    {"[classify]\nmodel = /nonexistent/model\n", "[classify] model"},
    {"[input]\njsonl = /nonexistent/in.jsonl\n", "[input] jsonl"},
    {"[input]\njsonl = /\n", "[input] jsonl"},
    /* redis.tls* (no TLS without verification material that loads) */
    {"[redis]\ntls_ca_file = /etc/hosts\n", "redis.tls_ca_file is set but redis.tls is off"},
    {"[redis]\ntls = true\nsocket = /tmp/redis.sock\n",
     "TLS cannot be used with redis.socket"},
    {"[redis]\ntls = true\ntls_ca_file = /nonexistent/ca.pem\n",
     "redis.tls_ca_file /nonexistent/ca.pem: cannot load CA certificates"},
    {"[redis]\ntls = true\ntls_cert = /nonexistent/client.pem\n",
     "redis.tls_cert and redis.tls_key go together"},
    /* no source at all */
    {"[input]\njsonl =\n", "no source configured"},
};

/* expand writes ini with every "TRAP" replaced by the trap port. */
static void expand(const char *ini, char *buf, size_t cap)
{
    size_t o = 0;
    for (const char *p = ini; *p && o + 8 < cap;) {
        if (strncmp(p, "TRAP", 4) == 0) {
            o += (size_t)snprintf(buf + o, cap - o, "%d", trap_port);
            p += 4;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
}

/* The function itself, in this process. */
START_TEST(validate_refuses)
{
    char ini[2048], err[1024];
    core_config_t *cfg = NULL;
    const char *path;

    expand(bad[_i].ini, ini, sizeof ini);
    path = write_config("bad.conf", ini);
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_file(cfg, path, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(app_config_validate(cfg, err, sizeof err) != CORE_OK, "accepted:\n%s", ini);
    ck_assert_msg(strstr(err, bad[_i].want), "case %d: '%s' not in '%s'", _i, bad[_i].want, err);
    core_config_free(cfg);
    ck_assert(trap_untouched());
}
END_TEST

/* `finsent config -c` and `finsent run -c`: both refuse, with one message. */
START_TEST(config_and_run_refuse_alike)
{
    char ini[2048], line_config[1024], line_run[1024], *err;
    const char *path;
    int rc;

    expand(bad[_i].ini, ini, sizeof ini);
    path = write_config("bad.conf", ini);

    rc = finsent(&err, REFUSE_DEADLINE_MS, "config", "-c", path, NULL);
    ck_assert_msg(rc == 1, "case %d: finsent config exit %d for\n%s\nstderr: %s", _i, rc, ini, err);
    error_line(err, line_config, sizeof line_config);
    free(err);
    ck_assert_msg(strstr(line_config, bad[_i].want), "case %d: '%s' not in '%s'", _i, bad[_i].want,
                  line_config);

    rc = finsent(&err, REFUSE_DEADLINE_MS, "run", "-c", path, NULL);
    ck_assert_msg(rc != 0, "case %d: finsent run exit 0 for\n%s\nstderr: %s", _i, ini, err);
    error_line(err, line_run, sizeof line_run);
    ck_assert_msg(strcmp(line_config, line_run) == 0,
                  "case %d: different messages\n config: %s\n run:    %s\nrun stderr:\n%s", _i,
                  line_config, line_run, err);
    /* refused first: no other line (no model loaded, nothing started) */
    ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "run said more:\n%s", err);
    free(err);
    ck_assert_msg(trap_untouched(), "case %d: finsent run connected before refusing", _i);
}
END_TEST

/* A directory as the config file: an error naming it, not every default. */
START_TEST(directory_as_config)
{
    char line_config[1024], line_run[1024], *err;
    const char *d = tmp("conf.d");
    int rc;

    ck_assert_int_eq(mkdir(d, 0700), 0);
    write_config("unused.conf", ""); /* the base input exists: only the path is wrong */
    rc = finsent(&err, REFUSE_DEADLINE_MS, "config", "-c", d, NULL);
    ck_assert_msg(rc == 1, "finsent config -c DIR: exit %d\n%s", rc, err);
    error_line(err, line_config, sizeof line_config);
    free(err);
    ck_assert_msg(strstr(line_config, d) && strstr(line_config, "is a directory"), "%s",
                  line_config);

    rc = finsent(&err, REFUSE_DEADLINE_MS, "run", "-c", d, "--jsonl", tmp("in.jsonl"), NULL);
    ck_assert_msg(rc == 1, "finsent run -c DIR: exit %d\n%s", rc, err);
    error_line(err, line_run, sizeof line_run);
    free(err);
    ck_assert_str_eq(line_config, line_run);
}
END_TEST

/* A good configuration: accepted by the function, by `finsent config`, and
 * by `finsent run`, which processes its input into Redis and exits 0. */
START_TEST(good_config_accepted)
{
    th_redis_t redis;
    char ini[1024], err[1024], *out;
    core_config_t *cfg = NULL;
    const char *path;
    int rc;

    ck_assert_int_eq(th_redis_start(&redis, TH_REDIS_EPHEMERAL), 0);
    snprintf(ini, sizeof ini,
             "[redis]\nport = %d\nprefix = validate:\nwindows = 5m,1h\n\n"
             "[rule.spike]\nscope = topic\nwindow = 15m\nbasis = wilson\n\n"
             "[rule.surge]\nscope = entity\nbasis = surge\nbaseline = 24h\n\n"
             "[log]\nlevel = warn\nformat = json\n",
             redis.port);
    path = write_config("good.conf", ini);

    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_file(cfg, path, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(app_config_validate(cfg, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);

    rc = finsent(&out, REFUSE_DEADLINE_MS, "config", "-c", path, NULL);
    ck_assert_msg(rc == 0, "finsent config: exit %d\n%s", rc, out);
    free(out);
    rc = finsent(&out, GOOD_DEADLINE_MS, "run", "-c", path, NULL);
    th_redis_stop(&redis);
    ck_assert_msg(rc == 0, "finsent run: exit %d\n%s", rc, out);
    free(out);
}
END_TEST

/* ---- root ----------------------------------------------------------------------- */

START_TEST(root_warning)
{
    const char *w = app_root_warning(0);
    ck_assert_ptr_nonnull(w);
    ck_assert_msg(strstr(w, "running as root"), "%s", w);
    ck_assert_ptr_null(app_root_warning(1));
    ck_assert_ptr_null(app_root_warning(10001));
}
END_TEST

Suite *suite_validate(int with_redis)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    int n = (int)(sizeof bad / sizeof bad[0]);

    tcase_add_checked_fixture(tc, setup, at_exit);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, validate_refuses, 0, n);
    tcase_add_loop_test(tc, config_and_run_refuse_alike, 0, n);
    tcase_add_test(tc, directory_as_config);
    if (with_redis)
        tcase_add_test(tc, good_config_accepted);
    tcase_add_test(tc, root_warning);
    suite_add_tcase(s, tc);
    return s;
}
