/* th_redis: a real redis-server for tests; see th_redis.h. */
#include "tests/common/th_redis.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/common/th.h"

#define START_TIMEOUT_MS 10000

const char *th_redis_binary(void)
{
    /* PATH only (as `finsent backtest` and e2e.py look it up), so that a
     * run with redis-server left out of PATH shows what skips without it */
    return th_have_program("redis-server") ? "redis-server" : NULL;
}

int th_redis_ping(const th_redis_t *r)
{
    struct sockaddr_in a;
    struct timeval tv = {1, 0};
    char buf[64];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)r->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "PING\r\n", 6) == 6) {
        n = read(fd, buf, sizeof buf - 1);
        ok = n >= 5 && memcmp(buf, "+PONG", 5) == 0;
    }
    close(fd);
    return ok;
}

static int launch(th_redis_t *r)
{
    char port[16];
    const char *persist_args[3][6] = {
        {"--appendonly", "no", "--save", "", NULL, NULL},
        {"--appendonly", "yes", "--appendfsync", "always", "--save", ""},
        {"--appendonly", "no", "--save", "1 1", NULL, NULL},
    };
    char *argv[32];
    int n = 0;
    struct timespec ts = {0, 20 * 1000000L};

    snprintf(port, sizeof port, "%d", r->port);
    argv[n++] = r->bin;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--dir";
    argv[n++] = r->dir;
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n++] = "--protected-mode";
    argv[n++] = "no";
    argv[n++] = "--dbfilename";
    argv[n++] = "dump.rdb";
    argv[n++] = "--unixsocket";
    argv[n++] = r->sock;
    for (int i = 0; i < 6 && persist_args[r->mode][i]; i++)
        argv[n++] = (char *)persist_args[r->mode][i];
    argv[n] = NULL;
    r->pid = th_spawn(argv, r->log);
    if (r->pid < 0)
        return -1;
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
        if (th_redis_ping(r))
            return 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1; /* exited: port taken, bad args */
        }
        nanosleep(&ts, NULL);
    }
    th_kill(r->pid, SIGKILL);
    r->pid = 0;
    return -1;
}

int th_redis_start(th_redis_t *r, th_redis_mode_t mode)
{
    const char *bin = th_redis_binary(), *dir;

    memset(r, 0, sizeof *r);
    if (!bin)
        return -1;
    snprintf(r->bin, sizeof r->bin, "%s", bin);
    r->mode = mode;
    dir = th_tmpdir("redis");
    if (!dir)
        return -1;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snprintf(r->log, sizeof r->log, "%s/redis.log", r->dir);
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    /* A free port can be taken between probing and binding: try a few. */
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = th_free_port();
        if (r->port > 0 && launch(r) == 0)
            return 0;
    }
    return -1;
}

int th_redis_restart(th_redis_t *r)
{
    if (r->pid > 0)
        th_kill(r->pid, SIGKILL);
    r->pid = 0;
    /* The old socket may linger briefly; Redis binds with SO_REUSEADDR, so
     * only a real conflict fails, and then we retry a few times. */
    for (int attempt = 0; attempt < 20; attempt++) {
        struct timespec ts = {0, 100 * 1000000L};
        if (launch(r) == 0)
            return 0;
        nanosleep(&ts, NULL);
    }
    return -1;
}

void th_redis_kill(th_redis_t *r)
{
    if (r->pid > 0)
        th_kill(r->pid, SIGKILL);
    r->pid = 0;
}

void th_redis_shutdown(th_redis_t *r)
{
    if (r->pid > 0)
        th_kill(r->pid, SIGTERM);
    r->pid = 0;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    if (!d) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[1024];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

void th_redis_stop(th_redis_t *r)
{
    th_redis_kill(r);
    if (r->dir[0] && !getenv("TH_KEEP_TMP"))
        remove_tree(r->dir);
    r->dir[0] = '\0';
}
