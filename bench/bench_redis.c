/*
 * bench_redis: items/s the Redis stage (alr_sink_write) sustains against a
 * local redis-server, pipelined per batch, with everything the daemon does
 * per batch: the idempotent count script per item, the rate refresh of the
 * touched scopes and the evaluation of one rule per topic.
 *
 *   bench_redis [-p PORT] [-n ITEMS] [-b BATCH] [-r REFRESH_MS] [--aof] [--socket]
 *               [--tickers K] [--baseline]
 *
 * Without -p it starts its own redis-server (redis-server from PATH) on a
 * free loopback port in a temporary directory, with --aof as the tests run
 * it (appendonly yes, appendfsync always). --socket talks to that server over
 * a unix socket instead of TCP. It writes ITEMS (default 20000) new items in
 * batches of BATCH (default 32, the classifier's batch), then replays them
 * all (every item a duplicate), and prints items/s and batch latency
 * percentiles for both passes. Items carry one of 12 topics and 0-2 of 50
 * tickers, event times spread over the last 10 minutes. -r sets the sink's
 * rate refresh interval (default ALR_SINK_REFRESH_MS as in the daemon; 0
 * refreshes after every batch). --tickers K draws the tickers from K (default
 * 50), so K entity scopes are active. --baseline adds a surge and a volume
 * rule on every entity (24h baselines) to the topic rule. After the passes
 * it resets Redis' command statistics, runs one tick that refreshes every
 * scope counted into (the rates, the baselines, the rules), and prints the
 * commands Redis executed for it (scripts and the commands they ran) per
 * scope, and the tick's time. Measurement only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "alerting/alr_sink.h"
#include "core/core_config.h"
#include "core/core_log.h"
#include "core/core_time.h"

static const char *const TOPICS[12] = {"Fed | Central Banks",
                                       "Earnings",
                                       "M&A",
                                       "Crypto",
                                       "Energy",
                                       "Macro",
                                       "Markets",
                                       "Tech",
                                       "Banking",
                                       "Real Estate",
                                       "Commodities",
                                       "Regulation"};

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t spawn_redis(int port, const char *dir, int aof, const char *sock)
{
    char p[16];
    pid_t pid;
    snprintf(p, sizeof p, "%d", port);
    pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--dir", dir,
               "--save", "", "--appendonly", aof ? "yes" : "no", "--appendfsync", "always",
               "--unixsocket", sock, "--protected-mode", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, size_t items, int64_t ns, int64_t *lat, size_t nb)
{
    qsort(lat, nb, sizeof *lat, cmp_i64);
    printf("%-8s %8zu items in %7.3f s: %9.0f items/s; batch latency p50 %.2f ms, p99 %.2f "
           "ms, max %.2f ms\n",
           what, items, (double)ns / 1e9, (double)items / ((double)ns / 1e9),
           (double)lat[nb / 2] / 1e6, (double)lat[nb * 99 / 100] / 1e6, (double)lat[nb - 1] / 1e6);
}

/* cmdstats prints Redis' calls per command since the last CONFIG RESETSTAT,
 * per scope. */
static void cmdstats(redisContext *c, size_t scopes)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    const char *p;
    if (!r || r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "bench_redis: INFO commandstats failed\n");
        if (r)
            freeReplyObject(r);
        return;
    }
    for (p = strstr(r->str, "cmdstat_"); p; p = strstr(p + 1, "cmdstat_")) {
        char name[64];
        long long calls;
        if (sscanf(p, "cmdstat_%63[^:]:calls=%lld", name, &calls) == 2 &&
            strcmp(name, "config") != 0 && strcmp(name, "info") != 0)
            printf("  %-10s %8lld calls, %6.2f per scope\n", name, calls,
                   (double)calls / (double)(scopes ? scopes : 1));
    }
    freeReplyObject(r);
}

static int run_pass(alr_sink_t *s, core_tagged_t **items, size_t n, size_t batch, const char *what,
                    alr_outcome_t want)
{
    size_t nb = (n + batch - 1) / batch, k = 0, ok = 0;
    int64_t *lat = calloc(nb, sizeof *lat), t0 = core_time_mono_ns();
    for (size_t i = 0; i < n; i += batch, k++) {
        size_t m = n - i < batch ? n - i : batch;
        alr_write_result_t res = {0};
        int64_t b0 = core_time_mono_ns();
        if (alr_sink_write(s, items + i, m, &res) != CORE_OK) {
            fprintf(stderr, "bench_redis: write failed: %s\n", alr_sink_error(s));
            free(lat);
            return -1;
        }
        lat[k] = core_time_mono_ns() - b0;
        ok += want == ALR_ITEM_COUNTED ? res.counted : res.duplicate;
    }
    report(what, n, core_time_mono_ns() - t0, lat, nb);
    if (ok != n)
        fprintf(stderr, "bench_redis: %s: %zu of %zu items had the expected outcome\n", what, ok,
                n);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    int port = 0, aof = 0, use_sock = 0, rc = 1, baseline = 0;
    unsigned tickers = 50;
    long refresh_ms = ALR_SINK_REFRESH_MS;
    size_t n = 20000, batch = 32;
    pid_t pid = 0;
    char dir[256] = "", sock[300] = "", text[1024], err[256];
    core_config_t *cfg = NULL;
    alr_sink_t *s = NULL;
    core_tagged_t **items = NULL;
    uint32_t seed = 12345;
    int64_t now = core_time_now_ms();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            refresh_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--aof") == 0)
            aof = 1;
        else if (strcmp(argv[i], "--socket") == 0)
            use_sock = 1;
        else if (strcmp(argv[i], "--tickers") == 0 && i + 1 < argc)
            tickers = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--baseline") == 0)
            baseline = 1;
        else {
            fprintf(stderr, "usage: bench_redis [-p PORT] [-n ITEMS] [-b BATCH] [-r MS] "
                            "[--aof] [--socket] [--tickers K] [--baseline]\n");
            return 2;
        }
    }
    if (n == 0 || batch == 0 || tickers == 0 || tickers > 100000)
        return 2;
    core_log_setup(CORE_LOG_ERROR, CORE_LOG_TEXT);
    if (port == 0) {
        snprintf(dir, sizeof dir, "/tmp/bench_redis-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
        snprintf(sock, sizeof sock, "%s/redis.sock", dir);
        port = free_port();
        pid = spawn_redis(port, dir, aof, sock);
        for (int i = 0; i < 250 && access(sock, F_OK) != 0; i++)
            usleep(20000);
        usleep(100000);
    } else if (use_sock) {
        fprintf(stderr, "bench_redis: --socket only with the server it starts\n");
        return 2;
    }
    snprintf(text, sizeof text,
             "[redis]\nhost = 127.0.0.1\nport = %d\nsocket = %s\nprefix = bench:\n"
             "[rule.spike]\nscope = topic\nwindow = 15m\nthreshold = 0.6\nclear = 0.4\n"
             "min_count = 50\n%s",
             port, use_sock ? sock : "",
             baseline ? "[rule.surge]\nscope = entity\nwindow = 30m\nbasis = surge\n"
                        "baseline = 24h\n[rule.volume]\nscope = entity\nwindow = 30m\n"
                        "basis = volume\nbaseline = 24h\n"
                      : "");
    if (core_config_new(&cfg) != CORE_OK ||
        core_config_load_string(cfg, "bench", text, err, sizeof err) != CORE_OK ||
        alr_sink_new(cfg, NULL, &s, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "bench_redis: %s\n", err);
        goto out;
    }
    alr_sink_set_refresh_interval(s, refresh_ms);
    if (alr_sink_connect(s) != CORE_OK) {
        fprintf(stderr, "bench_redis: %s\n", alr_sink_error(s));
        goto out;
    }
    items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        core_item_t *it = NULL;
        char id[48];
        int ne;
        seed = seed * 1664525u + 1013904223u;
        core_item_new(&it);
        snprintf(id, sizeof id, "bench-%lld-%zu", (long long)now, i);
        core_item_set(it, &it->id, id, strlen(id));
        it->event_ms = now - (int64_t)((seed >> 8) % 600000);
        ne = (int)((seed >> 4) % 3);
        for (int e = 0; e < ne; e++) {
            char t[8];
            snprintf(t, sizeof t, "T%05u", (unsigned)(((seed >> 12) * (e + 7)) % tickers));
            core_item_add_entity(it, t, strlen(t));
        }
        core_tagged_new(it, &items[i]);
        snprintf(items[i]->topic, sizeof items[i]->topic, "%s", TOPICS[(seed >> 20) % 12]);
        items[i]->sentiment = (int)((seed >> 26) % 3);
        items[i]->sentiment_p[items[i]->sentiment] = 0.9f;
    }
    printf("bench_redis: %zu items, batch %zu, rate refresh every %ld ms, redis %s%s\n", n, batch,
           refresh_ms, use_sock ? "unix socket" : "TCP loopback",
           aof ? ", appendonly yes + appendfsync always" : ", no persistence");
    if (run_pass(s, items, n, batch, "new", ALR_ITEM_COUNTED) != 0 ||
        run_pass(s, items, n, batch, "replay", ALR_ITEM_DUPLICATE) != 0)
        goto out;
    {
        /* One tick over every scope: what a refresh costs in Redis. */
        redisContext *c = use_sock ? redisConnectUnix(sock) : redisConnect("127.0.0.1", port);
        redisReply *r;
        size_t fired = 0, resolved = 0, scopes = 0;
        int64_t t0;
        if (!c || c->err) {
            fprintf(stderr, "bench_redis: cannot connect for the statistics\n");
            goto out;
        }
        r = redisCommand(c, "ZCARD bench:scopes");
        scopes = r && r->type == REDIS_REPLY_INTEGER ? (size_t)r->integer : 0;
        if (r)
            freeReplyObject(r);
        /* every scope dirty again, as after a minute of traffic */
        r = redisCommand(c, "EVAL %s 0", "local s = redis.call('ZRANGE', 'bench:scopes', 0, -1) "
                                         "for _, x in ipairs(s) do redis.call('SADD', "
                                         "'bench:scopes:dirty', x) end return #s");
        if (r)
            freeReplyObject(r);
        r = redisCommand(c, "CONFIG RESETSTAT");
        if (r)
            freeReplyObject(r);
        t0 = core_time_mono_ns();
        if (alr_sink_tick(s, &fired, &resolved) != CORE_OK) {
            fprintf(stderr, "bench_redis: tick failed: %s\n", alr_sink_error(s));
            redisFree(c);
            goto out;
        }
        printf("tick     %8zu scopes in %7.3f s (%s); Redis commands:\n", scopes,
               (double)(core_time_mono_ns() - t0) / 1e9,
               baseline ? "rates, baselines, topic + surge + volume rules"
                        : "rates, topic rule");
        cmdstats(c, scopes);
        redisFree(c);
    }
    rc = 0;
out:
    for (size_t i = 0; items && i < n; i++)
        core_tagged_free(items[i]);
    free(items);
    alr_sink_free(s);
    core_config_free(cfg);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (dir[0]) {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                fprintf(stderr, "bench_redis: could not remove %s\n", dir);
        }
    }
    return rc;
}
