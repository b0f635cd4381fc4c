/*
 * finsent backtest: replay a history of messages (JSONL with event times)
 * through the classifier and the [rule.*] rules of a config, at full speed
 * in event time, and report every alert that would have fired.
 *
 * Design. The replay runs the daemon's own Redis stage (alr_sink) against
 * a Redis of its own: by default a private redis-server on a free loopback
 * port in a fresh temporary directory (no persistence), killed and removed
 * at the end, also after an error or SIGINT; or, with --redis-port, a
 * server the user names, under a prefix that must hold no key yet (the
 * replay's keys are deleted at the end unless --keep). The sink's clock is
 * event time: messages are read whole (a file or stdin), sorted by event
 * time (input order among equals), classified in batches of classify.batch,
 * and written in groups of one --step of event time (1 s, the daemon's
 * rate refresh interval) with the clock at the group's latest event, so
 * time never goes back and no item is "too old". Every write refreshes and
 * evaluates the scopes it counted into (refresh interval 0: a run's
 * evaluations depend on the input only, never on how fast this machine
 * is); alr_sink_tick runs at every --tick boundary of event time (60 s)
 * while anything can still change (the longest window after the last
 * item) and once at the end. The alerts are then read from the stream
 * <prefix>alerts:log and reported (app_backtest.h).
 *
 * Time shift. The sink writes absolute expiries derived from event time
 * (a minute bucket expires redis.retention after its minute), which Redis
 * applies against its wall clock: a replay of old events would be expired
 * as it is written. Every event is therefore moved forward by a whole
 * number of days, so that the last one lands within the day before now, and
 * the report moves the alerts back; whole days keep minutes, hours and
 * days of the week aligned. The first event then lies up to span + 1 day
 * in the past, so redis.retention and redis.hourly_retention (the surge
 * and volume baselines' roll-ups) are raised to span + 2 days when they
 * are shorter, seen_ttl with them, and redis.alerts_log_max to its maximum
 * so that no alert is trimmed from the stream before it is read.
 *
 * What it does not do: it does not simulate arrival delays (every item is
 * counted on time, never too old or in the future), the daemon's 2 s tick
 * (a pending alert's `for` and a cooldown are seen at the next write of its
 * scope or the next --tick), nor several instances.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_admin.h"
#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "alerting/alr_rule.h"
#include "alerting/alr_sink.h"
#include "app/app.h"
#include "app/app_backtest.h"
#include "app/app_opts.h"
#include "classify/cls_classifier.h"
#include "core/core_hash.h"
#include "core/core_lines.h"
#include "core/core_log.h"
#include "core/core_msg.h"
#include "core/core_time.h"
#include "core/core_watchlist.h"

#define ME "finsent backtest"
#define REDIS_START_MS 10000
#define REDIS_STOP_MS 3000
#define MAX_RETENTION_MS 31536000000LL /* the config's ceiling for redis.retention */
#define MAX_ALERTS_LOG "10000000"      /* ... and for redis.alerts_log_max */

static volatile sig_atomic_t stop_sig;   /* SIGINT or SIGTERM received */
static volatile sig_atomic_t redis_died; /* the private redis-server exited */
static volatile pid_t signal_child;      /* the private redis-server */
static alr_sink_t *volatile signal_sink;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGCHLD) {
        pid_t pid = signal_child;
        if (pid <= 0 || waitpid(pid, NULL, WNOHANG) != pid) {
            errno = saved;
            return;
        }
        signal_child = 0;
        redis_died = 1;
    } else {
        stop_sig = sig;
    }
    if (signal_sink)
        alr_sink_cancel(signal_sink); /* only sets an atomic flag */
    errno = saved;
}

/* ---- input ------------------------------------------------------------- */

typedef struct entry {
    core_item_t *item;
    size_t order; /* input order, the tie-break of equal event times */
} entry_t;

typedef struct input {
    entry_t *v;
    size_t n, cap;
    size_t bad, lines;
} input_t;

static void input_free(input_t *in)
{
    for (size_t i = 0; i < in->n; i++)
        core_item_free(in->v[i].item);
    free(in->v);
    memset(in, 0, sizeof *in);
}

static int by_time(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->item->event_ms != y->item->event_ms)
        return x->item->event_ms < y->item->event_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* read_input decodes every line of path ("-": stdin) into in, sorted by
 * event time. Bad lines are reported on stderr and counted. Returns 0, or
 * -1 after printing why the input cannot be read. */
static int read_input(const char *path, const core_config_t *cfg, const core_watchlist_t *wl,
                      input_t *in)
{
    core_msg_limits_t lim;
    core_lines_t *lines = NULL;
    FILE *fp = stdin;
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path, *base = strrchr(path, '/');
    char source[300], err[512];
    int cashtags = core_config_bool(cfg, CORE_CFG_ENTITIES_CASHTAGS), ret = -1;

    lim.max_message_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_MESSAGE_BYTES);
    lim.max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES);
    if (strcmp(path, "-") != 0) {
        fp = fopen(path, "r");
        if (!fp) {
            fprintf(stderr, "%s: %s: cannot open: %s\n", ME, path, strerror(errno));
            return -1;
        }
    }
    if (strcmp(path, "-") == 0)
        snprintf(source, sizeof source, "stdin");
    else
        snprintf(source, sizeof source, "jsonl:%s", base ? base + 1 : path);
    if (core_lines_new(fp, lim.max_message_bytes, &lines) != CORE_OK) {
        fprintf(stderr, "%s: out of memory\n", ME);
        goto out;
    }
    for (;;) {
        const char *line;
        size_t len, k, ln;
        core_item_t *item = NULL;
        core_err_t e = core_lines_next(lines, &line, &len);

        ln = core_lines_number(lines);
        if (e == CORE_ECLOSED)
            break;
        if (e == CORE_EIO) {
            fprintf(stderr, "%s: %s: read error after line %zu\n", ME, name, ln);
            goto out;
        }
        if (e == CORE_ETOO_LARGE) {
            fprintf(stderr, "%s: %s:%zu: longer than input.max_message_bytes (%zu); skipped\n", ME,
                    name, ln, lim.max_message_bytes);
            in->bad++;
            continue;
        }
        for (k = 0; k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'); k++) {
        }
        if (k == len)
            continue; /* blank line */
        e = core_msg_decode(line, len, &lim, core_time_now_ms(), &item, err, sizeof err);
        if (e == CORE_OK && !core_item_event_known(item)) {
            snprintf(err, sizeof err,
                     "no \"ts\": a backtest needs the event time of every "
                     "message");
            e = CORE_EBAD_TIME;
        }
        if (e == CORE_OK && !item->id) {
            /* The JSONL source's id for a message without one
             * (ingest/ing_jsonl.c), so a backtest names items as
             * `finsent run --jsonl` would. */
            char id[CORE_HASH_ID_SIZE];
            size_t il = core_hash_id(id, core_fnv64(CORE_FNV64_BASIS, line, len));
            e = core_item_set(item, &item->id, id, il);
        }
        if (e == CORE_OK && !item->source)
            e = core_item_set(item, &item->source, source, strlen(source));
        if (e == CORE_OK && cashtags)
            e = core_item_add_cashtags(item);
        if (e == CORE_OK && wl)
            e = core_watchlist_match(wl, item);
        if (e == CORE_ENOMEM) {
            fprintf(stderr, "%s: out of memory reading %s\n", ME, name);
            core_item_free(item);
            goto out;
        }
        if (e != CORE_OK) {
            fprintf(stderr, "%s: %s:%zu: %s; skipped\n", ME, name, ln, err);
            core_item_free(item);
            in->bad++;
            continue;
        }
        if (in->n == in->cap) {
            size_t nc = in->cap ? in->cap * 2 : 1024;
            entry_t *v = realloc(in->v, nc * sizeof *v);
            if (!v) {
                fprintf(stderr, "%s: out of memory reading %s\n", ME, name);
                core_item_free(item);
                goto out;
            }
            in->v = v;
            in->cap = nc;
        }
        in->v[in->n].item = item;
        in->v[in->n].order = in->n;
        in->n++;
    }
    in->lines = core_lines_number(lines);
    qsort(in->v, in->n, sizeof *in->v, by_time);
    ret = 0;
out:
    core_lines_free(lines);
    if (fp && fp != stdin)
        fclose(fp);
    return ret;
}

static int read_labels(const char *path, app_bt_label_t **labels, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, err[1200];
    size_t len = 0, cap = 0;
    int ret = -1;

    if (!f) {
        fprintf(stderr, "%s: --labels %s: cannot open: %s\n", ME, path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 4096;
            char *t = nc <= (64u << 20) ? realloc(text, nc) : NULL;
            if (!t) {
                fprintf(stderr, "%s: --labels %s: too large or out of memory\n", ME, path);
                goto out;
            }
            text = t;
            cap = nc;
        }
        got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: --labels %s: read error\n", ME, path);
        goto out;
    }
    if (app_bt_labels_parse(path, text, len, labels, n, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: labels: %s\n", ME, err);
        goto out;
    }
    ret = 0;
out:
    free(text);
    fclose(f);
    return ret;
}

/* ---- the private redis-server ----------------------------------------- */

typedef struct private_redis {
    pid_t pid;
    int port;
    char dir[PATH_MAX];
    char log[PATH_MAX + 16];
} private_redis_t;

/* find_redis_server writes the redis-server to run into buf:
 * $FINSENT_REDIS_SERVER, else the first in PATH. 0 when there is none. */
static int find_redis_server(char *buf, size_t cap)
{
    const char *env = getenv("FINSENT_REDIS_SERVER"), *path = getenv("PATH");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return access(buf, X_OK) == 0;
    }
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n > 0) {
            snprintf(buf, cap, "%.*s/redis-server", (int)n, path);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        path += n + (path[n] == ':');
    }
    return 0;
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* redis_stop: SIGTERM (Redis shuts down cleanly; nothing to save), SIGKILL
 * after REDIS_STOP_MS, then the directory goes. */
static void redis_stop(private_redis_t *pr)
{
    pid_t pid = pr->pid;
    signal_child = 0;
    if (pid > 0) {
        int waited = 0;
        kill(pid, SIGTERM);
        while (waitpid(pid, NULL, WNOHANG) == 0) {
            if (waited >= REDIS_STOP_MS) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                break;
            }
            sleep_ms(20);
            waited += 20;
        }
    }
    pr->pid = 0;
    if (pr->dir[0])
        nftw(pr->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    pr->dir[0] = '\0';
}

/* spawn starts redis-server on pr->port in its own session (a Ctrl-C at
 * the terminal reaches finsent, which stops it; --keep leaves it running).
 * Unless kept, the server also gets SIGTERM when finsent dies without
 * cleaning up (SIGKILL, a test runner's timeout): no orphan stays behind. */
static pid_t spawn(const char *bin, const private_redis_t *pr, int keep)
{
    char port[16];
    char *argv[] = {
        (char *)bin, "--port",           port, "--bind",    "127.0.0.1",     "--save",
        "",          "--appendonly",     "no", "--dir",     (char *)pr->dir, "--daemonize",
        "no",        "--protected-mode", "no", "--logfile", (char *)pr->log, NULL};
    pid_t pid, parent = getpid();

    snprintf(port, sizeof port, "%d", pr->port);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        setsid();
#ifdef __linux__
        if (!keep && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent))
            _exit(126); /* finsent is already gone */
#else
        (void)keep;
        (void)parent;
#endif
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* log_tail writes the last non-empty line of the file at path into out
 * ("" when there is none). */
static void log_tail(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n > 0)
            snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

/* redis_start starts a private server and points cfg's [redis] at it.
 * Returns 0, or -1 after printing why. */
static int redis_start(private_redis_t *pr, core_config_t *cfg, int keep)
{
    char bin[PATH_MAX], set[64], err[512] = "", tail[512];
    const char *tmp = getenv("TMPDIR");
    int status = -1;
    static const char *const direct[] = {"redis.host=127.0.0.1", "redis.socket=",
                                         "redis.user=",          "redis.password=",
                                         "redis.tls=false",      "redis.tls_ca_file=",
                                         "redis.tls_ca_dir=",    "redis.tls_cert=",
                                         "redis.tls_key=",       "redis.tls_server_name=",
                                         "redis.db=0"};

    memset(pr, 0, sizeof *pr);
    if (!find_redis_server(bin, sizeof bin)) {
        fprintf(stderr,
                "%s: redis-server not found (%s); install it (apt-get install redis-server), "
                "or name a running Redis with --redis-port P\n",
                ME,
                getenv("FINSENT_REDIS_SERVER") && *getenv("FINSENT_REDIS_SERVER")
                    ? "FINSENT_REDIS_SERVER is not executable"
                    : "not in PATH");
        return -1;
    }
    snprintf(pr->dir, sizeof pr->dir, "%s/finsent-backtest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(pr->dir)) {
        fprintf(stderr, "%s: cannot make a temporary directory %s: %s\n", ME, pr->dir,
                strerror(errno));
        pr->dir[0] = '\0';
        return -1;
    }
    snprintf(pr->log, sizeof pr->log, "%s/redis.log", pr->dir);
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
        if (core_config_set(cfg, direct[i], err, sizeof err) != CORE_OK) {
            fprintf(stderr, "%s: %s\n", ME, err);
            return -1;
        }
    }
    /* A free port can be taken between the probe and redis-server's bind:
     * try a few. */
    for (int attempt = 0; attempt < 5 && !stop_sig; attempt++) {
        int waited = 0, exited = 0;
        pr->port = free_port();
        snprintf(set, sizeof set, "redis.port=%d", pr->port);
        if (pr->port <= 0 || core_config_set(cfg, set, err, sizeof err) != CORE_OK)
            continue;
        pr->pid = spawn(bin, pr, keep);
        if (pr->pid < 0) {
            fprintf(stderr, "%s: fork: %s\n", ME, strerror(errno));
            pr->pid = 0;
            return -1;
        }
        while (waited < REDIS_START_MS && !stop_sig && !exited) {
            if (alr_admin_ping(cfg, 0, err, sizeof err) == CORE_OK)
                return 0;
            exited = waitpid(pr->pid, &status, WNOHANG) == pr->pid;
            if (!exited) {
                sleep_ms(50);
                waited += 50;
            }
        }
        if (exited) {
            pr->pid = 0;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
                fprintf(stderr, "%s: cannot run %s\n", ME, bin);
                return -1;
            }
            continue; /* port taken meanwhile, most likely: another one */
        }
        status = -1;
        break; /* running but not answering, or interrupted */
    }
    if (stop_sig)
        return -1;
    log_tail(pr->log, tail, sizeof tail);
    if (status != -1 && WIFEXITED(status))
        fprintf(stderr, "%s: %s exited with status %d at start-up%s%s\n", ME, bin,
                WEXITSTATUS(status), tail[0] ? "; its log: " : " (no log)", tail);
    else if (status != -1)
        fprintf(stderr, "%s: %s was killed by signal %d at start-up%s%s\n", ME, bin,
                WIFSIGNALED(status) ? WTERMSIG(status) : 0, tail[0] ? "; its log: " : "", tail);
    else
        fprintf(stderr, "%s: %s did not answer PING on 127.0.0.1:%d within %d s (%s)%s%s\n", ME,
                bin, pr->port, REDIS_START_MS / 1000, err, tail[0] ? "; its log: " : "", tail);
    return -1;
}

/* ---- the replay -------------------------------------------------------- */

typedef struct replay {
    alr_sink_t *sink;
    int64_t now; /* the sink's clock: shifted event time */
    int64_t tick_ms, step_ms;
    int64_t next_tick;  /* the next tick boundary */
    int64_t last_ev;    /* latest event written, INT64_MIN before any */
    int64_t horizon_ms; /* after the last event, ticks still matter this long */
    size_t counted, duplicate, not_counted;
} replay_t;

static int64_t replay_clock(void *ctx)
{
    return ((const replay_t *)ctx)->now;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int sink_failed(const replay_t *rp, const char *what, core_err_t e)
{
    if (stop_sig)
        fprintf(stderr, "%s: interrupted\n", ME);
    else if (redis_died)
        fprintf(stderr, "%s: the private redis-server exited during the replay\n", ME);
    else
        fprintf(stderr, "%s: %s: %s: %s\n", ME, what, core_strerror(e), alr_sink_error(rp->sink));
    return -1;
}

/* ticks_until runs the ticks at every boundary up to t. Past the horizon
 * of the last event nothing can change until the next one, so the
 * boundaries in between are skipped. */
static int ticks_until(replay_t *rp, int64_t t)
{
    while (rp->next_tick <= t) {
        core_err_t e;
        if (rp->last_ev != INT64_MIN && rp->next_tick > rp->last_ev + rp->horizon_ms) {
            int64_t last = floor_div(t, rp->tick_ms) * rp->tick_ms;
            if (last > rp->next_tick)
                rp->next_tick = last;
        }
        rp->now = rp->next_tick;
        e = alr_sink_tick(rp->sink, NULL, NULL);
        if (e != CORE_OK)
            return sink_failed(rp, "rule tick", e);
        rp->next_tick += rp->tick_ms;
    }
    return 0;
}

static int write_group(replay_t *rp, core_tagged_t **t, size_t n)
{
    alr_write_result_t res;
    int64_t latest = t[n - 1]->item->event_ms;
    core_err_t e;

    if (ticks_until(rp, latest) != 0)
        return -1;
    memset(&res, 0, sizeof res);
    rp->now = latest;
    e = alr_sink_write(rp->sink, t, n, &res);
    if (e != CORE_OK)
        return sink_failed(rp, "writing to Redis", e);
    rp->counted += res.counted;
    rp->duplicate += res.duplicate;
    rp->not_counted += res.too_old + res.future + res.uncounted;
    rp->last_ev = latest;
    return 0;
}

/* replay classifies and writes every item of in (taking them), shifted by
 * shift_ms, then ticks once more at the last event. */
static int replay_run(replay_t *rp, cls_classifier_t *cl, size_t batch, input_t *in,
                      int64_t shift_ms)
{
    core_tagged_t **t = calloc(batch, sizeof *t);
    int ret = -1;

    if (!t) {
        fprintf(stderr, "%s: out of memory\n", ME);
        return -1;
    }
    for (size_t b = 0; b < in->n; b += batch) {
        size_t k = 0, e = b + batch < in->n ? b + batch : in->n, i = 0;
        core_err_t rc;
        if (stop_sig || redis_died) {
            sink_failed(rp, "", CORE_ECLOSED);
            goto out;
        }
        for (size_t j = b; j < e; j++) {
            core_item_t *it = in->v[j].item;
            it->event_ms += shift_ms;
            if (core_tagged_new(it, &t[k]) != CORE_OK) {
                it->event_ms -= shift_ms;
                fprintf(stderr, "%s: out of memory\n", ME);
                goto out;
            }
            in->v[j].item = NULL;
            k++;
        }
        rc = cls_classifier_tag(cl, t, k);
        if (rc != CORE_OK) {
            fprintf(stderr, "%s: classifier: %s\n", ME, core_strerror(rc));
            goto out;
        }
        while (i < k) {
            int64_t g = floor_div(t[i]->item->event_ms, rp->step_ms);
            size_t j = i + 1;
            while (j < k && floor_div(t[j]->item->event_ms, rp->step_ms) == g)
                j++;
            if (write_group(rp, t + i, j - i) != 0)
                goto out;
            i = j;
        }
        for (size_t j = 0; j < k; j++) {
            core_tagged_free(t[j]);
            t[j] = NULL;
        }
    }
    if (rp->last_ev != INT64_MIN) {
        core_err_t e;
        if (ticks_until(rp, rp->last_ev) != 0)
            goto out;
        rp->now = rp->last_ev;
        e = alr_sink_tick(rp->sink, NULL, NULL);
        if (e != CORE_OK) {
            sink_failed(rp, "rule tick", e);
            goto out;
        }
    }
    ret = 0;
out:
    for (size_t j = 0; j < batch; j++)
        core_tagged_free(t[j]);
    free(t);
    return ret;
}

/* read_alerts pages through the alert stream into a new array (*out). */
static int read_alerts(const core_config_t *cfg, json_t **out)
{
    alr_reader_t *rd = NULL;
    json_t *all = json_array();
    char after[64] = "", err[512] = "";
    int ret = -1;

    *out = NULL;
    if (!all || alr_reader_new(cfg, &rd, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: reading the alerts: %s\n", ME, err[0] ? err : "out of memory");
        goto out;
    }
    for (;;) {
        json_t *page = NULL, *a;
        const char *last;
        size_t i;
        int more;
        core_err_t e = alr_read_alerts(rd, after[0] ? after : NULL, after[0] ? -1 : 0,
                                       ALR_READ_MAX_ALERTS, &page, err, sizeof err);
        if (e != CORE_OK) {
            fprintf(stderr, "%s: reading the alerts: %s: %s\n", ME, core_strerror(e), err);
            goto out;
        }
        json_array_foreach(json_object_get(page, "alerts"), i, a)
        {
            if (json_array_append(all, a) != 0) {
                json_decref(page);
                fprintf(stderr, "%s: out of memory\n", ME);
                goto out;
            }
        }
        more = json_is_true(json_object_get(page, "more"));
        last = json_string_value(json_object_get(page, "last_id"));
        if (!more || !last || strlen(last) >= sizeof after) {
            json_decref(page);
            break;
        }
        snprintf(after, sizeof after, "%s", last);
        json_decref(page);
    }
    *out = all;
    all = NULL;
    ret = 0;
out:
    json_decref(all);
    alr_reader_free(rd);
    return ret;
}

static int set_key(core_config_t *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_key(core_config_t *cfg, const char *fmt, ...)
{
    char a[256], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a, sizeof a, fmt, ap);
    va_end(ap);
    if (core_config_set(cfg, a, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: %s\n", ME, err);
        return -1;
    }
    return 0;
}

/* prepare_redis_keys raises retention, hourly_retention, seen_ttl and
 * alerts_log_max for a history of span_ms (see the file comment). Unless the data is kept for
 * a look, rates are kept for the rules' windows only (redis.windows
 * emptied): the rules never read the others, and summing an hour of
 * buckets per scope on every write made the replay three times slower. */
static int prepare_redis_keys(core_config_t *cfg, int64_t span_ms, int keep)
{
    int64_t need = span_ms + 2 * APP_BT_DAY_MS,
            ret = core_config_int(cfg, CORE_CFG_REDIS_RETENTION);
    if (need > MAX_RETENTION_MS)
        need = MAX_RETENTION_MS;
    if (need > ret) {
        ret = need;
        if (set_key(cfg, "redis.retention=%" PRId64 "ms", ret) != 0)
            return -1;
    }
    if (core_config_int(cfg, CORE_CFG_REDIS_SEEN_TTL) < ret &&
        set_key(cfg, "redis.seen_ttl=%" PRId64 "ms", ret) != 0)
        return -1;
    if (core_config_int(cfg, CORE_CFG_REDIS_HOURLY_RETENTION) < need &&
        set_key(cfg, "redis.hourly_retention=%" PRId64 "ms", need) != 0)
        return -1;
    if (!keep && set_key(cfg, "redis.windows=") != 0)
        return -1;
    return set_key(cfg, "redis.alerts_log_max=%s", MAX_ALERTS_LOG);
}

static const char backtest_usage[] =
    "usage: finsent backtest -c CONFIG [--set S.K=V ...] --input FILE.jsonl|-\n"
    "                        [--private | --redis-port P] [--labels FILE] [--json] [--keep]\n"
    "                        [--tick D] [--step D]\n\n"
    "Replays a history of messages (JSONL with event times \"ts\", as the daemon reads\n"
    "them) through the classifier and the [rule.*] rules of CONFIG, at full speed in\n"
    "event time, and prints every alert that would have fired: one row per alert\n"
    "transition, then a summary per rule (alerts, alerts per day, time firing,\n"
    "scopes). See docs/backtest.md.\n\n";

static const char backtest_footer[] =
    "\nBad input lines are reported with their line number, skipped and counted.\n"
    "Exit status: 0 report printed, 1 error (input, labels, Redis, model), 2 usage.\n";

/* The command line of a backtest. */
typedef struct bt_opts {
    const char *input, *labels_path;
    int redis_port; /* 0: a private redis-server */
    int json, keep, private_flag;
    int64_t tick_ms, step_ms;
} bt_opts_t;

/* parse_options fills *o and *args from argv. Returns APP_OPTS_RUN or the
 * exit status (usage errors said). */
static int parse_options(int argc, char **argv, bt_opts_t *o, app_args_t *args)
{
    const app_opt_t opts[] = {
        APP_CONFIG_ROW(args, "config file: [rule.*], [classify], [entities], [redis]"),
        APP_SET_ROW("override one key (repeatable), e.g. --set rule.ticker.threshold=0.5"),
        APP_STR("input", 'i', "FILE", &o->input,
                "the history, JSONL; - for stdin (read whole, then sorted by\n"
                "event time); a message without \"ts\" is a bad line"),
        APP_FLAG("private", 0, &o->private_flag,
                 "run a private redis-server (the default): free loopback\n"
                 "port, temporary directory, no persistence, removed at the\n"
                 "end (redis-server from $FINSENT_REDIS_SERVER or PATH)"),
        APP_INT("redis-port", 0, "P", 1, 65535, &o->redis_port,
                "use the Redis at redis.host:P instead; it must hold no key\n"
                "under redis.prefix (give a fresh one with --set\n"
                "redis.prefix=NAME:); the replay's keys are deleted at the end"),
        APP_STR("labels", 0, "FILE", &o->labels_path,
                "known events, lines scope,start,end (CSV or TSV; RFC 3339 or\n"
                "epoch ms; # comments): which each rule caught, its lag, and\n"
                "its false alerts"),
        APP_FLAG("json", 0, &o->json, "print the report as one JSON object"),
        APP_FLAG("keep", 0, &o->keep,
                 "leave the private redis-server running (or the keys in the\n"
                 "--redis-port server) to look at with the dashboard or\n"
                 "redis-cli; times there are shifted by whole days"),
        APP_DURATION("tick", "D", 1000, 3600000, &o->tick_ms,
                     "event time between two rule ticks (default 60s)"),
        APP_DURATION("step", "D", 1, 3600000, &o->step_ms,
                     "event time written per sink write (default 1s)"),
    };
    const app_cmd_spec_t spec = {
        .name = ME,
        .usage = backtest_usage,
        .footer = backtest_footer,
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 22,
    };
    int rc = app_opts_parse(&spec, argc, argv, args);

    if (rc != APP_OPTS_RUN)
        return rc;
    if (!o->input)
        fprintf(stderr, "%s: --input FILE.jsonl (or - for stdin) is required\n", ME);
    else if (o->private_flag && o->redis_port)
        fprintf(stderr, "%s: --private and --redis-port exclude each other\n", ME);
    else if (o->step_ms > o->tick_ms)
        fprintf(stderr, "%s: --step must not be longer than --tick\n", ME);
    else
        return APP_OPTS_RUN;
    return APP_EXIT_USAGE;
}

/* use_redis points cfg at the Redis of the replay: the server of
 * --redis-port, after checking it holds nothing under the prefix, or a
 * private redis-server started into *pr. 0, or -1 after saying why. */
static int use_redis(core_config_t *cfg, const bt_opts_t *o, private_redis_t *pr)
{
    char err[1024] = "";
    if (o->redis_port) {
        int found = 0;
        char key[ALR_KEY_MAX];
        if (set_key(cfg, "redis.port=%d", o->redis_port) != 0 || set_key(cfg, "redis.socket=") != 0)
            return -1;
        if (alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err) != CORE_OK) {
            fprintf(stderr, "%s: --redis-port %d: %s\n", ME, o->redis_port, err);
            return -1;
        }
        if (found) {
            fprintf(stderr,
                    "%s: the Redis at %s:%d (db %" PRId64 ") already has keys under the prefix "
                    "'%s' (e.g. '%s'): a backtest would mix its counts and alerts with them. "
                    "Give a fresh prefix, e.g. --set redis.prefix=backtest:, or run without "
                    "--redis-port (a private redis-server)\n",
                    ME, core_config_str(cfg, CORE_CFG_REDIS_HOST), o->redis_port,
                    core_config_int(cfg, CORE_CFG_REDIS_DB),
                    core_config_str(cfg, CORE_CFG_REDIS_PREFIX), key);
            return -1;
        }
        return 0;
    }
    if (redis_start(pr, cfg, o->keep) != 0) {
        if (stop_sig)
            fprintf(stderr, "%s: interrupted\n", ME);
        return -1;
    }
    /* From now on SIGCHLD means the server died: the replay stops instead
     * of waiting for it forever. */
    signal_child = pr->pid;
    if (waitpid(pr->pid, NULL, WNOHANG) == pr->pid) {
        signal_child = 0;
        pr->pid = 0;
        redis_died = 1;
    }
    return 0;
}

/* print_report prints the report of run (the alerts read back, the
 * rules, the labels) as text or, with --json, as JSON. 0, or -1 when out
 * of memory. */
static int print_report(const core_config_t *cfg, const bt_opts_t *o, alr_rule_t *rules,
                        size_t nrules, const app_bt_label_t *labels, size_t nlabels,
                        const app_bt_run_t *run, const json_t *alerts)
{
    app_bt_rule_t *brules = calloc(nrules ? nrules : 1, sizeof *brules);
    json_t *report = NULL;
    char *js = NULL;
    int rc = -1;

    if (!brules)
        goto out;
    for (size_t i = 0; i < nrules; i++) {
        brules[i].rule = &rules[i];
        brules[i].basis = core_config_inst_str(cfg, CORE_CFG_RULE_BASIS, rules[i].name);
    }
    if (app_bt_report(run, alerts, brules, nrules, labels, nlabels, &report) != CORE_OK)
        goto out;
    if (!o->json) {
        app_bt_print_text(report, stdout);
        rc = 0;
    } else if ((js = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                            JSON_REAL_PRECISION(8))) != NULL) {
        printf("%s\n", js);
        rc = 0;
    }
out:
    if (rc != 0)
        fprintf(stderr, "%s: out of memory\n", ME);
    free(js);
    json_decref(report);
    free(brules);
    return rc;
}

int app_cmd_backtest(int argc, char **argv)
{
    size_t nrules = 0, nlabels = 0;
    int rc, wrote = 0;
    int64_t t0;
    core_config_t *cfg = NULL;
    core_watchlist_t *wl = NULL;
    alr_rule_t *rules = NULL;
    app_bt_label_t *labels = NULL;
    app_bt_run_t run = {0};
    input_t in = {0};
    private_redis_t pr = {0};
    cls_classifier_t *cl = NULL;
    cls_classifier_opts_t co;
    replay_t rp = {0};
    json_t *alerts = NULL;
    struct sigaction sa, old_int, old_term, old_chld;
    int handlers = 0;
    char err[1024] = "";
    int64_t shift_ms = 0;
    app_args_t args;
    bt_opts_t o = {.tick_ms = 60000, .step_ms = 1000};

    if ((rc = parse_options(argc, argv, &o, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    core_log_setup(CORE_LOG_WARN, CORE_LOG_TEXT);
    if (alr_rules_load(cfg, &rules, &nrules, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: config error: %s\n", ME, err);
        goto out;
    }
    if (nrules == 0) {
        fprintf(stderr, "%s: %s has no [rule.NAME] section: nothing to backtest\n", ME,
                args.config ? args.config : "the configuration");
        goto out;
    }
    if (o.labels_path && read_labels(o.labels_path, &labels, &nlabels) != 0)
        goto out;
    if (core_config_str(cfg, CORE_CFG_ENTITIES_WATCHLIST)[0] &&
        core_watchlist_load(core_config_str(cfg, CORE_CFG_ENTITIES_WATCHLIST), &wl, err,
                            sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: %s\n", ME, err);
        goto out;
    }

    /* Signals from here on: SIGINT/SIGTERM stop the replay, which then
     * cleans up; SIGCHLD tells that the private redis-server went away. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, &old_chld);
    handlers = 1;

    t0 = core_time_mono_ms();
    if (read_input(o.input, cfg, wl, &in) != 0)
        goto out;
    if (in.n == 0) {
        fprintf(stderr, "%s: %s holds no message to replay\n", ME,
                strcmp(o.input, "-") == 0 ? "stdin" : o.input);
        goto out;
    }
    shift_ms = app_bt_shift_ms(core_time_now_ms(), in.v[in.n - 1].item->event_ms);
    if (prepare_redis_keys(cfg, in.v[in.n - 1].item->event_ms - in.v[0].item->event_ms, o.keep) !=
        0)
        goto out;

    /* The classifier before Redis: a bad model fails before anything runs. */
    app_classifier_opts(cfg, &co);
    if (cls_classifier_new(&co, &cl, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: %s\n", ME, err);
        goto out;
    }

    if (use_redis(cfg, &o, &pr) != 0)
        goto out;
    wrote = 1;

    rp.tick_ms = o.tick_ms;
    rp.step_ms = o.step_ms;
    rp.last_ev = INT64_MIN;
    if (alr_sink_new(cfg, NULL, &rp.sink, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: config error: %s\n", ME, err);
        goto out;
    }
    alr_sink_set_clock(rp.sink, replay_clock, &rp);
    alr_sink_set_refresh_interval(rp.sink, 0);
    {
        const int *w;
        size_t nw = alr_sink_windows(rp.sink, &w);
        rp.horizon_ms = (int64_t)w[nw - 1] * 60000 + 2 * o.tick_ms + 60000;
    }
    rp.now = in.v[0].item->event_ms + shift_ms;
    rp.next_tick = (floor_div(rp.now, o.tick_ms) + 1) * o.tick_ms;
    if (alr_sink_connect(rp.sink) != CORE_OK) {
        fprintf(stderr, "%s: %s\n", ME, alr_sink_error(rp.sink));
        goto out;
    }
    signal_sink = rp.sink;
    if (stop_sig || redis_died) {
        sink_failed(&rp, "", CORE_ECLOSED);
        goto out;
    }
    run.input = strcmp(o.input, "-") == 0 ? "-" : o.input;
    run.messages = in.n;
    run.skipped = in.bad;
    run.from_ms = in.v[0].item->event_ms;
    run.to_ms = in.v[in.n - 1].item->event_ms;
    run.shift_ms = shift_ms;
    run.labels_file = o.labels_path;
    if (replay_run(&rp, cl, co.max_batch, &in, shift_ms) != 0)
        goto out;
    signal_sink = NULL;
    if (read_alerts(cfg, &alerts) != 0)
        goto out;
    fprintf(stderr, "%s: replayed %zu messages in %.1f s\n", ME, run.messages,
            (double)(core_time_mono_ms() - t0) / 1000.0);
    run.counted = rp.counted;
    run.duplicate = rp.duplicate;
    run.not_counted = rp.not_counted;
    if (print_report(cfg, &o, rules, nrules, labels, nlabels, &run, alerts) != 0)
        goto out;
    fflush(stdout);
    if (in.bad)
        fprintf(stderr, "%s: %zu bad line(s) of %s skipped (reported above)\n", ME, in.bad,
                strcmp(o.input, "-") == 0 ? "stdin" : o.input);
    rc = APP_EXIT_OK;
out:
    signal_sink = NULL;
    alr_sink_free(rp.sink);
    rp.sink = NULL;
    signal_child = 0;
    if (redis_died)
        pr.pid = 0; /* reaped by the SIGCHLD handler */
    if (pr.pid > 0 && o.keep) {
        fprintf(stderr,
                "%s: --keep: redis-server left running on 127.0.0.1:%d (pid %d, directory %s), "
                "its data %" PRId64 " day(s) later than the history; look with e.g. redis-cli -p "
                "%d or the dashboard (finsent run --set redis.port=%d); stop it with: kill %d; "
                "rm -r %s\n",
                ME, pr.port, (int)pr.pid, pr.dir, shift_ms / APP_BT_DAY_MS, pr.port, pr.port,
                (int)pr.pid, pr.dir);
    } else if (pr.pid > 0 || pr.dir[0]) {
        redis_stop(&pr);
    }
    if (o.redis_port && wrote && o.keep) {
        fprintf(stderr, "%s: --keep: the replay's keys stay under the prefix '%s'\n", ME,
                core_config_str(cfg, CORE_CFG_REDIS_PREFIX));
    } else if (o.redis_port && wrote) {
        if (alr_admin_prefix_delete(cfg, NULL, err, sizeof err) != CORE_OK)
            fprintf(stderr, "%s: deleting the replay's keys under '%s': %s\n", ME,
                    core_config_str(cfg, CORE_CFG_REDIS_PREFIX), err);
    }
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGCHLD, &old_chld, NULL);
    }
    json_decref(alerts);
    cls_classifier_free(cl);
    input_free(&in);
    free(labels);
    free(rules);
    core_watchlist_free(wl);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
