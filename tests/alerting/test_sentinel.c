/* Tests of Redis Sentinel support in alr_redis and the sink, against real
 * servers: a primary, a replica and three sentinels (redis-server
 * --sentinel) on loopback ports, with a short down-after so a failover takes
 * a few seconds. Discovery (a dead sentinel first in the list, an unknown
 * master name, malformed settings), reconnection after a SIGKILL of the
 * primary, READONLY, and redis.wait_replicas: a batch is not reported
 * written while no replica acknowledges it, and one written to a primary
 * that dies before its replica got it is counted on the promoted replica. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_redis_int.h"
#include "alerting/alr_sink.h"
#include "core/core_metrics.h"
#include "core/core_time.h"
#include "tests/alerting/th_alr.h"
#include "tests/common/th.h"

#define NSENT 3
#define MASTER "fsm"

typedef struct cluster {
    th_redis_t p, r;  /* primary, replica (at start) */
    int sport[NSENT]; /* sentinel ports */
    pid_t spid[NSENT];
    char dir[512];
} cluster_t;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void replicaof(const th_redis_t *r, int port)
{
    redisContext *c = th_alr_connect(r);
    redisReply *rep = redisCommand(c, "REPLICAOF 127.0.0.1 %d", port);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    redisFree(c);
}

/* wait_synced: the replica r reports master_link_status:up. */
static void wait_synced(const th_redis_t *r)
{
    for (int i = 0; i < 200; i++) {
        redisContext *c = th_alr_connect(r);
        redisReply *rep = redisCommand(c, "INFO replication");
        int up = rep && rep->type == REDIS_REPLY_STRING &&
                 strstr(rep->str, "master_link_status:up") != NULL;
        if (rep)
            freeReplyObject(rep);
        redisFree(c);
        if (up)
            return;
        sleep_ms(50);
    }
    ck_abort_msg("replica on port %d never synced", r->port);
}

/* sentinel_says: the primary's port according to sentinel i (0: none). */
static int sentinel_says(const cluster_t *k, int i)
{
    redisContext *c = redisConnect("127.0.0.1", k->sport[i]);
    redisReply *rep;
    int port = 0;
    if (!c || c->err) {
        redisFree(c);
        return 0;
    }
    rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", MASTER);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
        port = atoi(rep->element[1]->str);
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return port;
}

/* sentinel_ready: sentinel i monitors the primary and knows its replica
 * and the other sentinels. A sentinel that has not yet seen the others'
 * hello messages (every 2 s) when the primary dies may never learn of the
 * failover: wait_replicas_replays_on_the_promoted_replica once failed
 * with one sentinel still naming the dead primary after 30 s. */
static int sentinel_ready(const cluster_t *k, int i)
{
    redisContext *c = redisConnect("127.0.0.1", k->sport[i]);
    redisReply *rep;
    int replicas = -1, others = -1, port = -1;
    if (!c || c->err) {
        redisFree(c);
        return 0;
    }
    rep = redisCommand(c, "SENTINEL master %s", MASTER);
    if (rep && rep->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j + 1 < rep->elements; j += 2) {
            const char *f = rep->element[j]->str, *v = rep->element[j + 1]->str;
            if (!f || !v)
                continue;
            if (strcmp(f, "num-slaves") == 0)
                replicas = atoi(v);
            else if (strcmp(f, "num-other-sentinels") == 0)
                others = atoi(v);
            else if (strcmp(f, "port") == 0)
                port = atoi(v);
        }
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return port == k->p.port && replicas == 1 && others == NSENT - 1;
}

static void cluster_start(cluster_t *k)
{
    const char *tmp;
    memset(k, 0, sizeof *k);
    ck_assert_int_eq(th_redis_start(&k->p, TH_REDIS_EPHEMERAL), 0);
    ck_assert_int_eq(th_redis_start(&k->r, TH_REDIS_EPHEMERAL), 0);
    replicaof(&k->r, k->p.port);
    wait_synced(&k->r);
    tmp = th_tmpdir("sentinel");
    ck_assert_ptr_nonnull(tmp);
    snprintf(k->dir, sizeof k->dir, "%s", tmp);
    for (int i = 0; i < NSENT; i++) {
        char conf[700], text[1024], log[700], *argv[4];
        k->sport[i] = th_free_port();
        snprintf(conf, sizeof conf, "%s/sentinel%d.conf", k->dir, i);
        snprintf(log, sizeof log, "%s/sentinel%d.log", k->dir, i);
        snprintf(text, sizeof text,
                 "port %d\nbind 127.0.0.1\ndir %s\nprotected-mode no\n"
                 "sentinel monitor %s 127.0.0.1 %d 2\n"
                 "sentinel down-after-milliseconds %s 1000\n"
                 "sentinel failover-timeout %s 4000\n",
                 k->sport[i], k->dir, MASTER, k->p.port, MASTER, MASTER);
        ck_assert_int_eq(th_write_file(conf, text, strlen(text)), 0);
        argv[0] = (char *)th_redis_binary();
        argv[1] = conf;
        argv[2] = "--sentinel";
        argv[3] = NULL;
        k->spid[i] = th_spawn(argv, log);
        ck_assert_int_gt(k->spid[i], 0);
        ck_assert_msg(th_wait_port(k->sport[i], 10000) == 1, "sentinel %d did not start", i);
    }
    /* The sentinels know of the replica once they have INFO from the
     * primary (at once) and of each other via hello messages (2 s). */
    for (int i = 0; i < NSENT; i++) {
        int t = 0;
        for (; t < 400 && !sentinel_ready(k, i); t++)
            sleep_ms(50);
        ck_assert_msg(t < 400, "sentinel %d did not see the primary, its replica and %d others", i,
                      NSENT - 1);
    }
}

static void cluster_stop(cluster_t *k)
{
    for (int i = 0; i < NSENT; i++)
        if (k->spid[i] > 0)
            th_kill(k->spid[i], SIGKILL);
    th_redis_stop(&k->p);
    th_redis_stop(&k->r);
    if (k->dir[0] && !getenv("TH_KEEP_TMP"))
        th_rmtree(k->dir);
}

/* wait_promoted: until every sentinel names port as the primary. */
static void wait_promoted(const cluster_t *k, int port, int timeout_ms)
{
    int64_t end = core_time_mono_ms() + timeout_ms;
    while (core_time_mono_ms() < end) {
        int all = 1;
        for (int i = 0; i < NSENT; i++)
            all &= sentinel_says(k, i) == port;
        if (all)
            return;
        sleep_ms(100);
    }
    ck_abort_msg("sentinels never named port %d as the primary", port);
}

/* sentinels "127.0.0.1:DEAD,127.0.0.1:s0,..." (a dead one first). */
static void sentinel_list(const cluster_t *k, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "127.0.0.1:%d", th_free_port());
    for (int i = 0; i < NSENT; i++)
        n += snprintf(buf + n, cap - (size_t)n, ",127.0.0.1:%d", k->sport[i]);
}

static core_config_t *cfg_for(const cluster_t *k, const char *name, const char *extra)
{
    char list[256], text[1024];
    sentinel_list(k, list, sizeof list);
    /* redis.port names a dead port: only the sentinels can find the primary. */
    snprintf(text, sizeof text, "[redis]\nport = %d\nsentinels = %s\nmaster_name = %s\n%s",
             th_free_port(), list, name, extra ? extra : "");
    return th_alr_config(&k->p, text);
}

static alr_redis_t *handle(const core_config_t *cfg)
{
    alr_redis_opts_t o;
    alr_redis_t *h = NULL;
    alr_redis_opts_from_config(cfg, &o);
    ck_assert_int_eq(alr_redis_new(&o, &h), CORE_OK);
    return h;
}

static int primary_port(alr_redis_t *h, uint64_t *failovers)
{
    char at[300];
    uint64_t n = alr_redis_primary(h, at, sizeof at);
    if (failovers)
        *failovers = n;
    return strrchr(at, ':') ? atoi(strrchr(at, ':') + 1) : 0;
}

static long long incr(alr_redis_t *h, core_err_t *rc)
{
    const char *argv[] = {"INCR", "k"};
    redisReply *rep = NULL;
    long long v = -1;
    *rc = alr_redis_cmd(h, &rep, 2, argv, NULL);
    if (*rc == CORE_OK) {
        if (rep->type == REDIS_REPLY_INTEGER)
            v = rep->integer;
        freeReplyObject(rep);
    }
    return v;
}

START_TEST(discovery_and_failover)
{
    cluster_t k;
    core_config_t *cfg, *bad;
    alr_redis_t *h, *hb;
    uint64_t fo;
    core_err_t rc;
    int fresh;

    cluster_start(&k);
    cfg = cfg_for(&k, MASTER, NULL);
    h = handle(cfg);
    /* The dead sentinel first in the list is skipped. */
    ck_assert_msg(alr_redis_connect(h) == CORE_OK, "%s", alr_redis_error(h));
    ck_assert_int_eq(primary_port(h, &fo), k.p.port);
    ck_assert_int_eq(fo, 0);
    ck_assert_int_eq(incr(h, &rc), 1);
    /* Replication is asynchronous: without WAIT the primary can die before
     * the replica has the write, and the promoted replica then counts from
     * 0 (seen once in CI-like runs: INCR returned 1 after the failover). */
    {
        const char *wargv[] = {"WAIT", "1", "5000"};
        redisReply *rep = NULL;
        ck_assert_int_eq(alr_redis_cmd(h, &rep, 3, wargv, NULL), CORE_OK);
        ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
        ck_assert_int_eq(rep->integer, 1);
        freeReplyObject(rep);
    }

    /* An unknown master name is a configuration error, in words. */
    bad = cfg_for(&k, "nosuch", NULL);
    hb = handle(bad);
    ck_assert_int_eq(alr_redis_connect(hb), CORE_ECONFIG);
    ck_assert_msg(strstr(alr_redis_error(hb), "no master named 'nosuch'") != NULL, "%s",
                  alr_redis_error(hb));
    ck_assert_msg(strstr(alr_redis_error(hb), "Connection refused") != NULL, "%s",
                  alr_redis_error(hb)); /* the dead sentinel is listed too */
    alr_redis_free(hb);
    core_config_free(bad);

    /* SIGKILL of the primary: the sentinels promote the replica and the
     * handle follows it through connect_retry. */
    th_redis_kill(&k.p);
    {
        int64_t t0 = core_time_mono_ms();
        incr(h, &rc);
        ck_assert_int_eq(rc, CORE_ENET);
        ck_assert_int_eq(alr_redis_connect_retry(h, &fresh), CORE_OK);
        ck_assert_int_eq(primary_port(h, &fo), k.r.port);
        ck_assert_int_eq(fo, 1);
        ck_assert_int_eq(incr(h, &rc), 2); /* the replica had the first write */
        printf("alr_sentinel: SIGKILL of the primary to a write on the promoted replica: %lld ms\n",
               (long long)(core_time_mono_ms() - t0));
    }
    alr_redis_free(h);
    core_config_free(cfg);
    cluster_stop(&k);
}
END_TEST

START_TEST(readonly_drops)
{
    th_redis_t a, b;
    alr_redis_t *h;
    core_config_t *cfg;
    core_err_t rc;

    ck_assert_int_eq(th_redis_start(&a, TH_REDIS_EPHEMERAL), 0);
    ck_assert_int_eq(th_redis_start(&b, TH_REDIS_EPHEMERAL), 0);
    cfg = th_alr_config(&a, NULL);
    h = handle(cfg);
    ck_assert_int_eq(alr_redis_connect(h), CORE_OK);
    ck_assert_int_eq(incr(h, &rc), 1);
    replicaof(&a, b.port); /* a is a replica now; our connection stays open */
    incr(h, &rc);
    ck_assert_int_eq(rc, CORE_ENET);
    ck_assert_int_eq(alr_redis_connected(h), 0);
    ck_assert_msg(strstr(alr_redis_error(h), "READONLY") != NULL, "%s", alr_redis_error(h));
    alr_redis_free(h);
    core_config_free(cfg);
    th_redis_stop(&a);
    th_redis_stop(&b);
}
END_TEST

START_TEST(malformed_settings)
{
    static const struct {
        const char *ini, *want;
    } cases[] = {
        {"sentinels = 127.0.0.1\nmaster_name = m\n", "'127.0.0.1': expected host:port"},
        {"sentinels = a:1,b:0\nmaster_name = m\n", "'b:0': the port must be a number"},
        {"sentinels = a:1,:5\nmaster_name = m\n", "':5': empty host"},
        {"sentinels = ::1:26379\nmaster_name = m\n", "needs brackets"},
        {"sentinels = a:26379\n", "redis.master_name: required"},
    };
    th_redis_t fake = {.port = 1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], err[512] = "";
        core_config_t *cfg;
        alr_sink_t *s = NULL;
        alr_redis_t *h;
        snprintf(text, sizeof text, "[redis]\n%s", cases[i].ini);
        cfg = th_alr_config(&fake, text);
        ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_ECONFIG);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
        h = handle(cfg);
        ck_assert_int_eq(alr_redis_connect(h), CORE_ECONFIG);
        ck_assert_msg(strstr(alr_redis_error(h), cases[i].want) != NULL, "%s", alr_redis_error(h));
        alr_redis_free(h);
        core_config_free(cfg);
    }
}
END_TEST

/* ---- redis.wait_replicas ---------------------------------------------- */

typedef struct writer {
    alr_sink_t *s;
    core_tagged_t **items;
    size_t n;
    core_err_t rc;
    atomic_int done;
} writer_t;

static void *write_main(void *arg)
{
    writer_t *w = arg;
    alr_write_result_t res = {0};
    w->rc = alr_sink_write(w->s, w->items, w->n, &res);
    atomic_store(&w->done, 1);
    return NULL;
}

static uint64_t counter(core_metrics_t *m, const char *name)
{
    return core_counter_value(core_metrics_counter(m, name, NULL, ""));
}

START_TEST(wait_replicas_replays_on_the_promoted_replica)
{
    enum { N = 40 };
    cluster_t k;
    core_config_t *cfg;
    core_metrics_t *m;
    alr_sink_t *s;
    core_tagged_t *items[N];
    writer_t w = {0};
    pthread_t th;
    char err[512], id[32], key[128];
    redisContext *c;
    int64_t t0;
    th_redis_t spare;

    cluster_start(&k);
    cfg = cfg_for(&k, MASTER, "wait_replicas = 1\nwait_timeout = 300ms\n");
    ck_assert_int_eq(core_metrics_new(&m), CORE_OK);
    ck_assert_msg(alr_sink_new(cfg, m, &s, err, sizeof err) == CORE_OK, "%s", err);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "w-%d", i);
        items[i] = th_alr_item(id, "Markets", i % 3, TH_T0, NULL);
    }
    /* With the replica up, a batch is written and acknowledged by it. */
    w.s = s;
    w.items = items;
    w.n = N / 2;
    write_main(&w);
    ck_assert_int_eq(w.rc, CORE_OK);
    ck_assert_int_eq(counter(m, "finsent_redis_wait_shortfalls_total"), 0);

    /* The replica stops (SIGSTOP) and the primary drops its link: the next
     * batch reaches the primary only; WAIT gets no acknowledgement, so the
     * write does not return. */
    kill(k.r.pid, SIGSTOP);
    c = th_alr_connect(&k.p); /* and its link goes, so nothing more reaches it */
    freeReplyObject(redisCommand(c, "CLIENT KILL TYPE replica"));
    redisFree(c);
    w.items = items + N / 2;
    w.n = N - N / 2;
    atomic_store(&w.done, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, write_main, &w), 0);
    sleep_ms(1500);
    ck_assert_int_eq(atomic_load(&w.done), 0);
    ck_assert_int_ge(counter(m, "finsent_redis_wait_shortfalls_total"), 2);
    c = th_alr_connect(&k.p);
    snprintf(key, sizeof key, "finsent:b:all:%lld", (long long)(TH_T0 / 60000));
    ck_assert_int_eq(th_alr_hget(c, key, "n"), N); /* on the primary only */
    redisFree(c);

    /* The primary dies before the replica has the batch; the replica is
     * promoted without it. The sink replays the batch there; with a spare
     * server attached as the new primary's replica, WAIT is satisfied. */
    th_redis_kill(&k.p);
    kill(k.r.pid, SIGCONT);
    t0 = core_time_mono_ms();
    wait_promoted(&k, k.r.port, 30000);
    ck_assert_int_eq(atomic_load(&w.done), 0); /* no replica of the new primary yet */
    ck_assert_int_eq(th_redis_start(&spare, TH_REDIS_EPHEMERAL), 0);
    replicaof(&spare, k.r.port);
    for (int i = 0; i < 300 && !atomic_load(&w.done); i++)
        sleep_ms(50);
    ck_assert_int_eq(atomic_load(&w.done), 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.rc, CORE_OK);
    printf("alr_sentinel: wait_replicas: SIGKILL of the primary to the batch acknowledged: %lld "
           "ms\n",
           (long long)(core_time_mono_ms() - t0));
    c = th_alr_connect(&k.r);
    ck_assert_int_eq(th_alr_hget(c, key, "n"), N); /* every item, once */
    redisFree(c);
    ck_assert_int_eq(counter(m, "finsent_redis_failovers_total"), 1);
    {
        char at[300], want[32];
        ck_assert_int_eq(alr_sink_primary(s, at, sizeof at), 1);
        snprintf(want, sizeof want, "127.0.0.1:%d", k.r.port);
        ck_assert_str_eq(at, want);
    }

    for (int i = 0; i < N; i++)
        core_tagged_free(items[i]);
    alr_sink_free(s);
    core_metrics_free(m);
    core_config_free(cfg);
    th_redis_stop(&spare);
    cluster_stop(&k);
}
END_TEST

Suite *suite_sentinel(void)
{
    Suite *s = suite_create("alr_sentinel");
    TCase *t = tcase_create("sentinel");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, malformed_settings);
    tcase_add_test(t, readonly_drops);
    tcase_add_test(t, discovery_and_failover);
    tcase_add_test(t, wait_replicas_replays_on_the_promoted_replica);
    suite_add_tcase(s, t);
    return s;
}
