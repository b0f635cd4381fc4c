/* th: test helpers, see th.h. */
#include "tests/common/th.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- skips (see th.h) ----------------------------------------------------- */

/* The record: an unlinked temporary file opened O_APPEND, created by the
 * runner before Check forks, so every test process inherits it. One line
 * per skip, "need TAB test TAB reason", written with one write(2). */
static int skip_fd = -1;

static int skip_log(void)
{
    char path[512];
    const char *base = getenv("TMPDIR");

    if (skip_fd >= 0)
        return skip_fd;
    snprintf(path, sizeof path, "%s/finsent-skips-XXXXXX", base && *base ? base : "/tmp");
    skip_fd = mkstemp(path);
    if (skip_fd < 0)
        return -1;
    unlink(path);
    /* O_APPEND: concurrent test processes never overwrite each other;
     * FD_CLOEXEC: the servers tests start do not inherit it */
    if (fcntl(skip_fd, F_SETFL, fcntl(skip_fd, F_GETFL) | O_APPEND) != 0 ||
        fcntl(skip_fd, F_SETFD, FD_CLOEXEC) != 0) {
        close(skip_fd);
        skip_fd = -1;
    }
    return skip_fd;
}

/* put appends s to the line at *n with tabs and newlines made spaces. */
static void put(char *line, size_t cap, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *n + 1 < cap; i++)
        line[(*n)++] = s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
}

/* skip_write records one skip; 0 on success. */
static int skip_write(const char *need, const char *what, const char *fmt, va_list ap)
{
    char reason[512], line[1024];
    size_t n = 0;
    int fd = skip_log();

    vsnprintf(reason, sizeof reason, fmt, ap);
    put(line, sizeof line - 3, &n, need, strlen(need));
    line[n++] = '\t';
    put(line, sizeof line - 3, &n, what, strlen(what));
    line[n++] = '\t';
    put(line, sizeof line - 3, &n, reason, strlen(reason));
    line[n++] = '\n';
    return fd >= 0 && write(fd, line, n) == (ssize_t)n ? 0 : -1;
}

void th_skip_record(const char *need, const char *test, const char *fmt, ...)
{
    char what[256];
    size_t len = strlen(test);
    va_list ap;
    int rc;

    /* START_TEST(x) defines x_fn: report the name the test was given */
    if (len > 3 && strcmp(test + len - 3, "_fn") == 0)
        len -= 3;
    snprintf(what, sizeof what, "%.*s", (int)len, test);
    va_start(ap, fmt);
    rc = skip_write(need, what, fmt, ap);
    va_end(ap);
    /* a skip that cannot be recorded must not pass silently */
    ck_assert_msg(rc == 0, "%s skipped (needs %s) but the skip could not be recorded", what, need);
}

void th_skip_suite(const char *need, const char *suite, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    int rc;

    snprintf(what, sizeof what, "suite %s", suite);
    va_start(ap, fmt);
    rc = skip_write(need, what, fmt, ap);
    va_end(ap);
    if (rc != 0) {
        fprintf(stderr, "th: cannot record the skip of %s: %s\n", what, strerror(errno));
        exit(1);
    }
}

int th_required(const char *need)
{
    const char *list = getenv("FINSENT_REQUIRE");
    size_t len = strlen(need);

    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t n = comma ? (size_t)(comma - list) : strlen(list);
        if (n == len && strncmp(list, need, n) == 0)
            return 1;
        list = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* report lists the recorded skips; returns how many there were and, in
 * *required, how many were for a need FINSENT_REQUIRE lists. */
static size_t report(size_t *required)
{
    char buf[65536];
    ssize_t len;
    size_t n = 0;

    *required = 0;
    if (skip_fd < 0)
        return 0;
    len = pread(skip_fd, buf, sizeof buf - 1, 0);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *what = strchr(l, '\t'), *reason = what ? strchr(what + 1, '\t') : NULL;
        int req;
        if (!reason)
            continue;
        *what++ = '\0';
        *reason++ = '\0';
        req = th_required(l);
        *required += (size_t)req;
        n++;
        printf("%s %s: %s [needs %s]\n",
               req ? "FAILED (skipped, but FINSENT_REQUIRE lists its need):" : "SKIPPED", what,
               reason, l);
    }
    if ((size_t)len == sizeof buf - 1)
        printf("SKIPPED ...: more skips than th_main lists\n");
    return n;
}

int th_main(Suite **suites, size_t n)
{
    SRunner *sr = NULL;
    int failed = 0, run = 0;
    size_t skipped, required;

    if (skip_log() < 0) {
        fprintf(stderr, "th: cannot create the skip record: %s\n", strerror(errno));
        return 1;
    }
    if (n > 0) {
        sr = srunner_create(suites[0]);
        for (size_t i = 1; i < n; i++)
            srunner_add_suite(sr, suites[i]);
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        run = srunner_ntests_run(sr);
        srunner_free(sr);
    }
    skipped = report(&required);
    printf("th: %d test(s) run, %d failed, %zu skip(s)%s\n", run, failed, skipped,
           required ? " for a need FINSENT_REQUIRE lists (a failure)" : "");
    fflush(stdout);
    if (failed > 0 || required > 0)
        return 1;
    return skipped > 0 ? 77 : 0;
}

float th_urand(unsigned long long *state, float lo, float hi)
{
    unsigned long long x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return lo + (hi - lo) * (float)((x >> 40) & 0xffffff) / 16777216.0f;
}

float *th_urand_new(unsigned long long *state, size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = th_urand(state, lo, hi);
    return p;
}

/* Ports come from below the kernel's ephemeral range (32768 and up by
 * default), so no outgoing connection takes one between the probe and the
 * server's bind, and each is reserved by an flock on
 * $TMPDIR/finsent-test-ports/<port> held until this process exits: ctest
 * runs tests in parallel, and tests/e2e/e2e.py takes the same locks. */
#define PORT_LO 20000
#define PORT_HI 32000

/* port_bindable: 1 when 127.0.0.1:port can be bound now. */
static int port_bindable(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int th_free_port(void)
{
    const char *base = getenv("TMPDIR");
    char dir[512], path[600];
    static unsigned long long state;

    if (!state) /* a child forked by Check goes on from its parent's state */
        state = (unsigned long long)getpid() * 0x9E3779B97F4A7C15ull ^
                (unsigned long long)time(NULL) ^ 1;

    snprintf(dir, sizeof dir, "%s/finsent-test-ports", base && *base ? base : "/tmp");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    for (int attempt = 0; attempt < 1000; attempt++) {
        int port, fd;
        port = PORT_LO + (int)th_urand(&state, 0.0f, (float)(PORT_HI - PORT_LO));
        snprintf(path, sizeof path, "%s/%d", dir, port);
        if ((fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0666)) < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 || !port_bindable(port)) {
            close(fd);
            continue;
        }
        return port; /* fd stays open: the reservation lasts until exit */
    }
    return -1;
}

const char *th_tmpdir(const char *tag)
{
    static char buf[512];
    const char *base = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/finsent-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_msg(mkdtemp(buf) != NULL, "th_tmpdir: mkdtemp %s: %s", buf, strerror(errno));
    return buf;
}

/* Servers th_spawn started and th_kill has not reaped, with the process
 * that started each: at exit (a failed assertion ends a forked Check test
 * by exit(), before its cleanup) a process kills the ones it started, and
 * not those a forked test inherited from its parent. */
#define SPAWNED_MAX 64
static struct {
    pid_t pid, owner;
} spawned[SPAWNED_MAX];

static void kill_spawned(void)
{
    for (int i = 0; i < SPAWNED_MAX; i++)
        /* waitpid 0: still our running child (not one reaped elsewhere,
         * whose pid may now be someone else's) */
        if (spawned[i].pid > 0 && spawned[i].owner == getpid() &&
            waitpid(spawned[i].pid, NULL, WNOHANG) == 0) {
            kill(-spawned[i].pid, SIGKILL);
            kill(spawned[i].pid, SIGKILL);
            waitpid(spawned[i].pid, NULL, 0);
            spawned[i].pid = 0;
        }
}

static pthread_mutex_t spawned_mu = PTHREAD_MUTEX_INITIALIZER;

static void note_spawned(pid_t pid)
{
    static int registered;
    pthread_mutex_lock(&spawned_mu);
    if (!registered)
        registered = atexit(kill_spawned) == 0;
    for (int i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i].pid <= 0) {
            spawned[i].pid = pid;
            spawned[i].owner = getpid();
            break;
        }
    pthread_mutex_unlock(&spawned_mu);
}

pid_t th_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        execvp(argv[0], argv);
        fprintf(stderr, "th_spawn: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    note_spawned(pid);
    return pid;
}

void th_kill(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    kill(-pid, sig);
    kill(pid, sig);
    waitpid(pid, NULL, 0);
    pthread_mutex_lock(&spawned_mu);
    for (int i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i].pid == pid)
            spawned[i].pid = 0;
    pthread_mutex_unlock(&spawned_mu);
}

int th_wait_port(int port, int timeout_ms)
{
    struct timespec ts = {0, 20 * 1000000L};
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 1;
        nanosleep(&ts, NULL);
    }
    return 0;
}

int th_have_program(const char *name)
{
    const char *path = getenv("PATH");
    char buf[1024];
    if (!path)
        return 0;
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return 1;
        path += n + (colon ? 1 : 0);
    }
    return 0;
}

const char *th_data_path(char *buf, size_t cap, const char *rel)
{
#ifdef FINSENT_TEST_DATA
    snprintf(buf, cap, "%s/%s", FINSENT_TEST_DATA, rel);
#else
    snprintf(buf, cap, "tests/data/%s", rel);
#endif
    return buf;
}

int th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

char *th_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert_msg(n >= 0, "cannot size %s", path);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void th_rmtree(const char *dir)
{
    if (dir && dir[0])
        nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}
