/* Tests of ing_seen_redis with redis.tls against a real redis-server that
 * listens with TLS only (certificates made at run time): seen feed items
 * written by one store are loaded by the next over verified TLS; a wrong CA
 * is CORE_EAUTH with OpenSSL's reason; TLS with a unix socket is
 * CORE_ECONFIG. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "core/core_config.h"
#include "core/core_time.h"
#include "ingest/ing_seen_redis.h"
#include "tests/common/th.h"
#include "tests/common/th_tls.h"

#define TTL_MS (3600 * 1000LL)

static th_tls_t T;

static void make_certs(void)
{
    if (th_tls_make(&T) != 0)
        T.dir[0] = '\0';
}

static void free_certs(void)
{
    th_tls_free(&T);
}

static core_config_t *config(const th_redis_t *r, const char *ca, const char *extra)
{
    core_config_t *cfg = NULL;
    char text[2048], err[512] = "";
    snprintf(text, sizeof text,
             "[redis]\nhost = 127.0.0.1\nport = %d\nconnect_timeout = 2s\ncommand_timeout = 5s\n"
             "tls = true\ntls_ca_file = %s\n%s",
             r->port, ca, extra ? extra : "");
    ck_assert_int_eq(core_config_new(&cfg), CORE_OK);
    ck_assert_msg(core_config_load_string(cfg, "test", text, err, sizeof err) == CORE_OK, "%s",
                  err);
    return cfg;
}

START_TEST(seen_over_tls)
{
    th_redis_t r;
    core_config_t *cfg;
    ing_seen_redis_t *sr = NULL;
    ing_seen_t *seen = NULL;
    int64_t now = core_time_now_ms();
    char err[512] = "";

    ck_assert_msg(T.dir[0], "could not make the test certificates (openssl)");
    ck_assert_int_eq(th_redis_start_tls(&r, &T, "no"), 0);
    cfg = config(&r, T.ca, NULL);
    /* First run: load (empty), acknowledge two items, flush. */
    ck_assert_int_eq(ing_seen_open(NULL, TTL_MS, now, &seen, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_new(cfg, &sr), CORE_OK);
    ck_assert_msg(ing_seen_redis_load(sr, seen, now, err, sizeof err) == CORE_OK, "%s", err);
    for (int i = 0; i < 2; i++) {
        const char *id = i ? "item-b" : "item-a";
        ck_assert(ing_seen_claim(seen, "rss:test", id));
        ck_assert_int_eq(ing_seen_commit(seen, "rss:test", id, now), CORE_OK);
    }
    ck_assert_msg(ing_seen_redis_flush(sr, seen, now, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_uint_eq(ing_seen_redis_backlog(sr), 0);
    ing_seen_redis_free(sr);
    ing_seen_free(seen);
    /* Next run: both are seen. */
    ck_assert_int_eq(ing_seen_open(NULL, TTL_MS, now, &seen, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_new(cfg, &sr), CORE_OK);
    ck_assert_msg(ing_seen_redis_load(sr, seen, now, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert(ing_seen_is_seen(seen, "rss:test", "item-a"));
    ck_assert(ing_seen_is_seen(seen, "rss:test", "item-b"));
    ing_seen_redis_free(sr);
    ing_seen_free(seen);
    core_config_free(cfg);

    /* Wrong CA: refused, with the reason. */
    cfg = config(&r, T.other_ca, NULL);
    ck_assert_int_eq(ing_seen_open(NULL, TTL_MS, now, &seen, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_new(cfg, &sr), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_load(sr, seen, now, err, sizeof err), CORE_EAUTH);
    ck_assert_msg(strstr(err, "server certificate refused"), "%s", err);
    ing_seen_redis_free(sr);
    ing_seen_free(seen);
    core_config_free(cfg);

    /* TLS with a unix socket. */
    cfg = config(&r, T.ca, "socket = /tmp/none.sock\n");
    ck_assert_int_eq(ing_seen_open(NULL, TTL_MS, now, &seen, err, sizeof err), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_new(cfg, &sr), CORE_OK);
    ck_assert_int_eq(ing_seen_redis_load(sr, seen, now, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "redis.tls cannot be used with redis.socket"), "%s", err);
    ing_seen_redis_free(sr);
    ing_seen_free(seen);
    core_config_free(cfg);
    th_redis_stop(&r);
}
END_TEST

Suite *suite_seen_redis(void)
{
    Suite *s = suite_create("seen_redis");
    TCase *tc = tcase_create("tls");
    tcase_add_unchecked_fixture(tc, make_certs, free_certs);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, seen_over_tls);
    suite_add_tcase(s, tc);
    return s;
}
