/* Tests of alr_admin: the glob pattern of a prefix (pure), PING against a
 * live and a closed port, and probing / deleting the keys under a prefix
 * (only those: keys of another prefix, and keys that merely contain the
 * prefix or match it as a glob, are left alone). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "alerting/alr_admin.h"
#include "core/core_time.h"
#include "tests/alerting/th_alr.h"
#include "tests/common/th.h"

START_TEST(glob_escape)
{
    char out[64];
    ck_assert_uint_eq(alr_admin_glob_escape("finsent:", out, sizeof out), 9);
    ck_assert_str_eq(out, "finsent:*");
    ck_assert_uint_gt(alr_admin_glob_escape("a*b?c[d]e\\f:", out, sizeof out), 0);
    ck_assert_str_eq(out, "a\\*b\\?c\\[d\\]e\\\\f:*");
    ck_assert_uint_eq(alr_admin_glob_escape("", out, sizeof out), 1);
    ck_assert_str_eq(out, "*");
    /* Does not fit: 0, never a pattern that matches more. */
    ck_assert_uint_eq(alr_admin_glob_escape("abcd", out, 5), 0);
    ck_assert_uint_eq(alr_admin_glob_escape("abc", out, 5), 4);
    ck_assert_uint_eq(alr_admin_glob_escape("ab*", out, 5), 0);
}
END_TEST

START_TEST(ping)
{
    th_redis_t r;
    core_config_t *cfg;
    char err[256] = "", set[64];
    int64_t t0;

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    cfg = th_alr_config(&r, NULL);
    ck_assert_int_eq(alr_admin_ping(cfg, 0, err, sizeof err), CORE_OK);
    th_redis_stop(&r);
    /* Nobody listens any more: a timeout that says why. */
    t0 = core_time_mono_ms();
    ck_assert_int_eq(alr_admin_ping(cfg, 300, err, sizeof err), CORE_ETIMEOUT);
    ck_assert_int_ge(core_time_mono_ms() - t0, 300);
    ck_assert_msg(strstr(err, "connect"), "%s", err);
    snprintf(set, sizeof set, "redis.port=%d", th_free_port());
    ck_assert_int_eq(core_config_set(cfg, set, err, sizeof err), CORE_OK);
    ck_assert_int_eq(alr_admin_ping(cfg, 0, err, sizeof err), CORE_ETIMEOUT);
    core_config_free(cfg);
}
END_TEST

static void put(redisContext *c, const char *key)
{
    redisReply *rep = redisCommand(c, "SET %s x", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
}

START_TEST(probe_and_delete)
{
    th_redis_t r;
    redisContext *c;
    core_config_t *cfg, *other;
    char err[256] = "", key[128];
    uint64_t deleted = 0;
    int found = -1;

    ck_assert_int_eq(th_redis_start(&r, TH_REDIS_EPHEMERAL), 0);
    cfg = th_alr_config(&r, "[redis]\nprefix = bt*:\n");
    other = th_alr_config(&r, "[redis]\nprefix = finsent:\n");
    c = th_alr_connect(&r);

    ck_assert_int_eq(alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(found, 0);
    ck_assert_str_eq(key, "");

    /* Keys that a glob "bt*:*" would match but that are not under "bt*:". */
    put(c, "btx:1");
    put(c, "x:bt*:1");
    put(c, "finsent:scopes");
    ck_assert_int_eq(alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(alr_admin_prefix_delete(cfg, &deleted, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(deleted, 0);

    /* 2500 keys under the prefix: several SCAN steps. */
    for (int i = 0; i < 2500; i++)
        th_alr_int(c, "HSET bt*:b:all:%d n 1", i);
    put(c, "bt*:recent");
    ck_assert_int_eq(alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_msg(strncmp(key, "bt*:", 4) == 0, "%s", key);
    ck_assert_int_eq(alr_admin_prefix_probe(other, &found, key, sizeof key, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(key, "finsent:scopes");

    ck_assert_int_eq(alr_admin_prefix_delete(cfg, &deleted, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(deleted, 2501);
    ck_assert_int_eq(th_alr_int(c, "DBSIZE"), 3);
    ck_assert_int_eq(th_alr_int(c, "EXISTS btx:1 x:bt*:1 finsent:scopes"), 3);
    ck_assert_int_eq(alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err),
                     CORE_OK);
    ck_assert_int_eq(found, 0);

    redisFree(c);
    th_redis_stop(&r);
    /* Redis away: an error that names the server. */
    ck_assert_int_eq(alr_admin_prefix_probe(cfg, &found, key, sizeof key, err, sizeof err),
                     CORE_ENET);
    ck_assert_msg(strstr(err, "127.0.0.1:"), "%s", err);
    ck_assert_int_eq(alr_admin_prefix_delete(cfg, &deleted, err, sizeof err), CORE_ENET);
    core_config_free(cfg);
    core_config_free(other);
}
END_TEST

Suite *suite_admin_pure(void)
{
    Suite *s = suite_create("alr_admin_pure");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, glob_escape);
    suite_add_tcase(s, tc);
    return s;
}

Suite *suite_admin(void)
{
    Suite *s = suite_create("alr_admin");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ping);
    tcase_add_test(tc, probe_and_delete);
    suite_add_tcase(s, tc);
    return s;
}
