/* Tests of alr_redis, the hiredis adapter: TCP and unix socket, AUTH,
 * SELECT, refused connections, error replies, and a stop flag that ends a
 * reconnect loop. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/alr_read.h"
#include "alerting/alr_redis_int.h"
#include "alerting/alr_sink.h"
#include "core/core_time.h"
#include "tests/alerting/th_alr.h"
#include "tests/common/th.h"

static alr_redis_t *mk(const th_redis_t *r, const char *socket, const char *password, int db)
{
    alr_redis_opts_t o;
    alr_redis_t *h = NULL;
    memset(&o, 0, sizeof o);
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    o.port = r->port;
    snprintf(o.socket, sizeof o.socket, "%s", socket ? socket : "");
    snprintf(o.password, sizeof o.password, "%s", password ? password : "");
    o.db = db;
    o.connect_timeout_ms = 1000;
    o.command_timeout_ms = 2000;
    o.reconnect_max_ms = 200;
    ck_assert_int_eq(alr_redis_new(&o, &h), CORE_OK);
    return h;
}

static redisReply *cmd2(alr_redis_t *h, const char *a, const char *b)
{
    const char *argv[2] = {a, b};
    redisReply *rep = NULL;
    ck_assert_int_eq(alr_redis_cmd(h, &rep, b ? 2 : 1, argv, NULL), CORE_OK);
    return rep;
}

START_TEST(tcp_socket_auth_db)
{
    th_redis_t r;
    alr_redis_t *h;
    redisReply *rep;
    redisContext *c;

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    /* Unix socket, db 3. */
    h = mk(&r, r.sock, NULL, 3);
    ck_assert_int_eq(alr_redis_connect(h), CORE_OK);
    rep = cmd2(h, "INCR", "k");
    ck_assert_int_eq(rep->integer, 1);
    freeReplyObject(rep);
    /* An error reply is a reply, not a connection failure. */
    rep = cmd2(h, "HGET", "k");
    ck_assert(alr_redis_reply_err(h, rep));
    ck_assert_ptr_nonnull(strstr(alr_redis_error(h), "wrong number of arguments"));
    freeReplyObject(rep);
    ck_assert(alr_redis_connected(h));
    alr_redis_free(h);
    c = th_alr_connect(&r);
    ck_assert_int_eq(th_alr_int(c, "EXISTS k"), 0);
    freeReplyObject(redisCommand(c, "SELECT 3"));
    ck_assert_int_eq(th_alr_int(c, "EXISTS k"), 1);

    /* AUTH: the right password works, a wrong one is CORE_EREDIS. */
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass s3cret"));
    h = mk(&r, NULL, "s3cret", 0);
    ck_assert_int_eq(alr_redis_connect(h), CORE_OK);
    rep = cmd2(h, "PING", NULL);
    ck_assert_str_eq(rep->str, "PONG");
    freeReplyObject(rep);
    alr_redis_free(h);
    h = mk(&r, NULL, "wrong", 0);
    ck_assert_int_eq(alr_redis_connect(h), CORE_EAUTH);
    ck_assert(!alr_redis_connected(h));
    ck_assert_ptr_nonnull(strstr(alr_redis_error(h), "WRONGPASS"));
    alr_redis_free(h);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

/* The daemon's write path never refreshes (ALR_SINK_REFRESH_NEVER): the
 * write counts and leaves the rates and rules to a tick, which finds the
 * counted scopes in the dirty set from its own sink and connection, as the
 * tick thread does. */
START_TEST(refresh_never_leaves_it_to_the_tick)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    redisContext *c;
    alr_sink_t *w = NULL, *t = NULL;
    alr_write_result_t res = {0};
    core_config_t *cfg;
    char err[512] = "";
    core_tagged_t *it[30];
    size_t fired = 0, resolved = 0;

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    c = th_alr_connect(&r);
    cfg = th_alr_config(&r, "[rule.neg]\nscope = all\nwindow = 5m\nthreshold = 0.5\n"
                            "clear = 0.3\nmin_count = 20\n");
    ck_assert_msg(alr_sink_new(cfg, NULL, &w, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_msg(alr_sink_new(cfg, NULL, &t, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    alr_sink_set_clock(w, th_clock_now, &clk);
    alr_sink_set_clock(t, th_clock_now, &clk);
    alr_sink_set_refresh_interval(w, ALR_SINK_REFRESH_NEVER);
    for (int i = 0; i < 30; i++) {
        char id[16];
        snprintf(id, sizeof id, "never-%d", i);
        it[i] = th_alr_item(id, "Markets", 0, TH_T0, NULL);
    }
    ck_assert_int_eq(alr_sink_write(w, it, 30, &res), CORE_OK);
    ck_assert_uint_eq(res.counted, 30);
    ck_assert_uint_eq(res.fired, 0);
    ck_assert_int_eq(th_alr_int(c, "EXISTS finsent:rate:all:5m"), 0);
    ck_assert_int_eq(th_alr_int(c, "SISMEMBER finsent:scopes:dirty all"), 1);
    ck_assert_int_eq(alr_sink_tick(t, &fired, &resolved), CORE_OK);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 30);
    ck_assert_uint_eq(fired, 1);
    /* a replay is a duplicate and changes nothing: the next tick neither
     * fires again nor moves the rate */
    ck_assert_int_eq(alr_sink_write(w, it, 30, &res), CORE_OK);
    ck_assert_uint_eq(res.duplicate, 30);
    ck_assert_int_eq(alr_sink_tick(t, &fired, &resolved), CORE_OK);
    ck_assert_uint_eq(fired, 0);
    ck_assert_uint_eq(resolved, 0);
    ck_assert_int_eq(th_alr_hget(c, "finsent:rate:all:5m", "n"), 30);
    for (int i = 0; i < 30; i++)
        core_tagged_free(it[i]);
    alr_sink_free(w);
    alr_sink_free(t);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

/* ACL users: the daemon's least-privilege user (docs/redis.md) counts,
 * evaluates and publishes; the dashboard's read-only user reads rates and
 * cannot write; wrong credentials are CORE_EAUTH at once, with the server's
 * words. */
START_TEST(acl_users)
{
    th_redis_t r;
    th_clock_t clk = {TH_T0};
    redisContext *c;
    alr_sink_t *s;
    alr_write_result_t res = {0};
    core_config_t *cfg;
    char err[512] = "";
    core_tagged_t *it[30];

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    c = th_alr_connect(&r);
    freeReplyObject(redisCommand(c, "ACL SETUSER finsent on >s3cret ~finsent:* &finsent:* -@all "
                                    "+@read +@write +@scripting +@pubsub +@connection "
                                    "-@dangerous"));
    freeReplyObject(redisCommand(c, "ACL SETUSER dash on >dashpw ~finsent:* &finsent:* -@all "
                                    "+@read +@connection -keys -scan"));
    /* The daemon's user: 30 negatives fire a rule, all through its ACL. */
    cfg = th_alr_config(&r, "[redis]\nuser = finsent\npassword = s3cret\n"
                            "[rule.neg]\nscope = all\nwindow = 5m\nthreshold = 0.5\nclear = 0.3\n"
                            "min_count = 20\n");
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    alr_sink_set_clock(s, th_clock_now, &clk);
    alr_sink_set_refresh_interval(s, 0);
    ck_assert_int_eq(alr_sink_connect(s), CORE_OK);
    for (int i = 0; i < 30; i++) {
        char id[16];
        snprintf(id, sizeof id, "acl-%d", i);
        it[i] = th_alr_item(id, "Markets", 0, TH_T0, NULL);
    }
    ck_assert_int_eq(alr_sink_write(s, it, 30, &res), CORE_OK);
    for (int i = 0; i < 30; i++)
        core_tagged_free(it[i]);
    ck_assert_uint_eq(res.counted, 30);
    ck_assert_uint_eq(res.fired, 1);
    alr_sink_free(s);
    /* The dashboard's read-only user reads, and cannot write. */
    {
        redisContext *d = th_alr_connect(&r);
        redisReply *rep = redisCommand(d, "AUTH dash dashpw");
        ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
        freeReplyObject(rep);
        rep = redisCommand(d, "HGET finsent:rate:all:5m n");
        ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(rep->str, "30");
        freeReplyObject(rep);
        rep = redisCommand(d, "HSET finsent:rate:all:5m n 0");
        ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
        ck_assert_ptr_nonnull(strstr(rep->str, "NOPERM"));
        freeReplyObject(rep);
        redisFree(d);
    }
    /* ... and sums the buckets as `finsent stats` does (it used to load a
     * script, which the read-only user may not). */
    {
        alr_reader_t *rd = NULL;
        alr_rate_t *rows = NULL;
        size_t nrows = 0;
        cfg = th_alr_config(&r, "[redis]\nuser = dash\npassword = dashpw\n"
                                "[rule.neg]\nscope = all\nwindow = 5m\n");
        ck_assert_msg(alr_reader_new(cfg, &rd, err, sizeof err) == CORE_OK, "%s", err);
        core_config_free(cfg);
        alr_reader_set_clock(rd, th_clock_now, &clk);
        ck_assert_msg(alr_read_bucket_rates(rd, 5, &rows, &nrows, err, sizeof err) == CORE_OK,
                      "%s", err);
        ck_assert_uint_eq(nrows, 2); /* all, topic:markets */
        for (size_t i = 0; i < nrows; i++) {
            ck_assert_uint_eq(rows[i].n, 30);
            ck_assert_uint_eq(rows[i].negative, 30);
        }
        free(rows);
        alr_reader_free(rd);
    }
    /* Wrong password for the user: CORE_EAUTH, naming the user and the
     * server's answer. */
    cfg = th_alr_config(&r, "[redis]\nuser = finsent\npassword = nope\n");
    ck_assert_msg(alr_sink_new(cfg, NULL, &s, err, sizeof err) == CORE_OK, "%s", err);
    core_config_free(cfg);
    ck_assert_int_eq(alr_sink_connect(s), CORE_EAUTH);
    ck_assert_msg(strstr(alr_sink_error(s), "AUTH as finsent refused") &&
                      strstr(alr_sink_error(s), "WRONGPASS"),
                  "%s", alr_sink_error(s));
    alr_sink_free(s);
    redisFree(c);
    th_redis_stop(&r);
}
END_TEST

static void *stop_later(void *h)
{
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    alr_redis_stop(h);
    return NULL;
}

START_TEST(refused_and_stop)
{
    th_redis_t r = {.port = 0};
    alr_redis_t *h;
    pthread_t th;
    int fresh = 1;

    r.port = th_free_port(); /* nothing listens there */
    h = mk(&r, NULL, NULL, 0);
    ck_assert_int_eq(alr_redis_connect(h), CORE_ENET);
    ck_assert_ptr_nonnull(strstr(alr_redis_error(h), "127.0.0.1"));
    ck_assert_ptr_nonnull(strstr(alr_redis_error(h), "refused"));
    ck_assert_int_eq(pthread_create(&th, NULL, stop_later, h), 0);
    ck_assert_int_eq(alr_redis_connect_retry(h, &fresh), CORE_ECLOSED);
    ck_assert_int_eq(fresh, 0);
    pthread_join(th, NULL);
    alr_redis_free(h);

    h = mk(&r, "/nonexistent/redis.sock", NULL, 0);
    ck_assert_int_eq(alr_redis_connect(h), CORE_ENET);
    ck_assert_ptr_nonnull(strstr(alr_redis_error(h), "/nonexistent/redis.sock"));
    alr_redis_free(h);
}
END_TEST

START_TEST(sink_over_unix_socket_with_db)
{
    th_redis_t r;
    core_config_t *cfg;
    alr_sink_t *s = NULL;
    core_tagged_t *it;
    redisContext *c;
    char extra[800], err[256];

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    snprintf(extra, sizeof extra, "[redis]\nsocket = %s\ndb = 2\nprefix = fs:\n", r.sock);
    cfg = th_alr_config(&r, extra);
    ck_assert_int_eq(alr_sink_new(cfg, NULL, &s, err, sizeof err), CORE_OK);
    it = th_alr_item("u1", "Macro", 0, core_time_now_ms(), NULL);
    ck_assert_int_eq(alr_sink_write(s, &it, 1, NULL), CORE_OK);
    c = th_alr_connect(&r);
    freeReplyObject(redisCommand(c, "SELECT 2"));
    ck_assert_int_eq(th_alr_hget(c, "fs:rate:topic:macro:5m", "negative"), 1);
    ck_assert_int_eq(th_alr_int(c, "EXISTS fs:seen:u1"), 1);
    redisFree(c);
    core_tagged_free(it);
    alr_sink_free(s);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

/* The harness itself, which the daemon tests reuse: what survives a restart
 * in each mode. */
START_TEST(harness_persistence_modes)
{
    static const struct {
        th_redis_mode_t mode;
        int graceful, survives;
    } cases[] = {
        {TH_REDIS_EPHEMERAL, 1, 0}, /* nothing on disk */
        {TH_REDIS_AOF, 0, 1},       /* fsynced before the reply: survives SIGKILL */
        {TH_REDIS_RDB, 1, 1},       /* SHUTDOWN writes the snapshot */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_redis_t r;
        redisContext *c;
        int port;
        ck_assert_int_eq(th_redis_start(&r, cases[i].mode), 0);
        port = r.port;
        c = th_alr_connect(&r);
        ck_assert_int_eq(th_alr_int(c, "INCRBY k 41"), 41);
        redisFree(c);
        if (cases[i].graceful)
            th_redis_shutdown(&r);
        else
            th_redis_kill(&r);
        ck_assert(!th_redis_ping(&r));
        ck_assert_int_eq(th_redis_restart(&r), 0);
        ck_assert_int_eq(r.port, port);
        c = th_alr_connect(&r);
        ck_assert_int_eq(th_alr_int(c, "EXISTS k"), cases[i].survives);
        redisFree(c);
        th_redis_stop(&r);
        ck_assert_int_eq(access(r.log, F_OK), -1); /* directory removed */
    }
}
END_TEST

Suite *suite_redis(void)
{
    Suite *s = suite_create("alr_redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tcp_socket_auth_db);
    tcase_add_test(tc, acl_users);
    tcase_add_test(tc, refresh_never_leaves_it_to_the_tick);
    tcase_add_test(tc, refused_and_stop);
    tcase_add_test(tc, sink_over_unix_socket_with_db);
    tcase_add_test(tc, harness_persistence_modes);
    suite_add_tcase(s, tc);
    return s;
}
