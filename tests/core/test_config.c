/* Tests of core_config: the three layers and their precedence, instance
 * sections, librdkafka pass-through, and every kind of bad input with an
 * error that names the file, line and key. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_config.h"
#include "tests/common/th.h"
#include "tests/core/suites.h"

static core_config_t *fresh(void)
{
    core_config_t *c = NULL;
    ck_assert_int_eq(core_config_new(&c), CORE_OK);
    return c;
}

START_TEST(defaults)
{
    core_config_t *c = fresh();
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_BATCH), 32);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_MAX_WAIT), 50);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_INPUT_MAX_MESSAGE_BYTES), 1048576);
    ck_assert_str_eq(core_config_str(c, CORE_CFG_REDIS_PREFIX), "finsent:");
    ck_assert_int_eq(core_config_bool(c, CORE_CFG_ENTITIES_CASHTAGS), 1);
    ck_assert(core_config_inst_double(c, CORE_CFG_RULE_THRESHOLD, "x") == 0.5);
    ck_assert_str_eq(core_config_origin(c, CORE_CFG_REDIS_PORT), "default");
    core_config_free(c);
    core_config_free(NULL);
}
END_TEST

START_TEST(file_env_set_precedence)
{
    core_config_t *c = fresh();
    char err[512];
    const char *ini = "; comment\n"
                      "[classify]\n"
                      "batch = 64\n"
                      "max_wait = 2s\n"
                      "threads = 3\n"
                      "[redis]\n"
                      "port = 6380\n"
                      "windows = 1m, 5m ,1h\n";
    char *env[] = {"FINSENT_CLASSIFY_BATCH=16", "FINSENT_REDIS_HOST=redis.local",
                   "FINSENT_UNRELATED=1", "PATH=/bin", NULL};
    char **items;
    size_t n;

    ck_assert_int_eq(core_config_load_string(c, "t.conf", ini, err, sizeof err), CORE_OK);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_BATCH), 64);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_MAX_WAIT), 2000);
    ck_assert_str_eq(core_config_origin(c, CORE_CFG_CLASSIFY_BATCH), "t.conf:3");
    ck_assert_int_eq(core_config_apply_env(c, env, err, sizeof err), CORE_OK);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_BATCH), 16);
    ck_assert_str_eq(core_config_str(c, CORE_CFG_REDIS_HOST), "redis.local");
    ck_assert_str_eq(core_config_origin(c, CORE_CFG_CLASSIFY_BATCH),
                     "environment FINSENT_CLASSIFY_BATCH");
    ck_assert_int_eq(core_config_set(c, "classify.batch=8", err, sizeof err), CORE_OK);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_BATCH), 8);
    ck_assert_str_eq(core_config_origin(c, CORE_CFG_CLASSIFY_BATCH), "--set");
    /* untouched by env and flags */
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_THREADS), 3);
    ck_assert_int_eq(core_config_int(c, CORE_CFG_REDIS_PORT), 6380);
    ck_assert_int_eq(core_config_split_list(core_config_str(c, CORE_CFG_REDIS_WINDOWS), &items, &n),
                     CORE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(items[0], "1m");
    ck_assert_str_eq(items[1], "5m");
    ck_assert_str_eq(items[2], "1h");
    free(items);
    core_config_free(c);
}
END_TEST

START_TEST(instances_and_passthrough)
{
    core_config_t *c = fresh();
    char err[512];
    const char *key, *val, *origin;
    const char *ini = "[feed.reuters]\nurl = http://x/rss\ninterval = 30s\n"
                      "[feed.ft]\nurl = http://y/atom\n"
                      "[rule.neg_spike]\nscope = topic\nthreshold = 0.6\nbasis = wilson\n"
                      "[kafka]\nbrokers = k:9092\nsecurity.protocol = SASL_SSL\n";

    ck_assert_int_eq(core_config_load_string(c, "i.conf", ini, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(core_config_instance_count(c, "feed"), 2);
    ck_assert_str_eq(core_config_instance_name(c, "feed", 0), "reuters");
    ck_assert_str_eq(core_config_instance_name(c, "feed", 1), "ft");
    ck_assert_ptr_null(core_config_instance_name(c, "feed", 2));
    ck_assert_int_eq(core_config_inst_int(c, CORE_CFG_FEED_INTERVAL, "reuters"), 30000);
    /* unset: rss.interval */
    ck_assert_int_eq(core_config_inst_int(c, CORE_CFG_FEED_INTERVAL, "ft"), 0);
    ck_assert_str_eq(core_config_inst_str(c, CORE_CFG_FEED_URL, "ft"), "http://y/atom");
    ck_assert(core_config_inst_double(c, CORE_CFG_RULE_THRESHOLD, "neg_spike") == 0.6);
    ck_assert_str_eq(core_config_inst_str(c, CORE_CFG_RULE_BASIS, "neg_spike"), "wilson");
    ck_assert_int_eq(core_config_set(c, "rule.neg_spike.threshold=0.7", err, sizeof err),
                     CORE_OK);
    ck_assert(core_config_inst_double(c, CORE_CFG_RULE_THRESHOLD, "neg_spike") == 0.7);
    ck_assert_int_eq(core_config_set(c, "rule.other.window=5m", err, sizeof err), CORE_OK);
    ck_assert_uint_eq(core_config_instance_count(c, "rule"), 2);
    ck_assert_uint_eq(core_config_passthrough_count(c, "kafka"), 1);
    core_config_passthrough(c, "kafka", 0, &key, &val, &origin);
    ck_assert_str_eq(key, "security.protocol");
    ck_assert_str_eq(val, "SASL_SSL");
    ck_assert_str_eq(origin, "i.conf:12");
    ck_assert_int_eq(core_config_set(c, "kafka.sasl.mechanisms=PLAIN", err, sizeof err),
                     CORE_OK);
    ck_assert_uint_eq(core_config_passthrough_count(c, "kafka"), 2);
    core_config_free(c);
}
END_TEST

typedef struct bad_case {
    const char *ini;
    const char *want; /* substring of the error */
} bad_case;

START_TEST(bad_files_name_line_and_key)
{
    static const bad_case cases[] = {
        {"[nosuch]\nx = 1\n", "b.conf:2: unknown section [nosuch]"},
        {"[classify]\nbatchh = 1\n", "b.conf:2: [classify] unknown key 'batchh'"},
        {"[classify]\n\nbatch = lots\n", "b.conf:3: [classify] batch: bad integer 'lots'"},
        {"[classify]\nbatch = 12abc\n", "b.conf:2: [classify] batch: bad integer '12abc'"},
        {"[classify]\nbatch = 0\n", "b.conf:2: [classify] batch: 0 is out of range"},
        {"[classify]\nbatch = 99999999999999999999\n", "[classify] batch: bad integer"},
        {"[classify]\nmax_wait = 500\n", "b.conf:2: [classify] max_wait: bad duration '500'"},
        {"[classify]\nmax_wait = 5x\n", "[classify] max_wait: bad duration '5x'"},
        {"[classify]\nmax_wait = ms\n", "[classify] max_wait: bad duration 'ms'"},
        {"[classify]\nmax_wait = -5s\n", "[classify] max_wait: bad duration '-5s'"},
        {"[classify]\nmax_wait = 2h\n", "[classify] max_wait: 2h is out of range"},
        {"[rss]\nmax_body = 8XB\n", "b.conf:2: [rss] max_body: bad size '8XB'"},
        {"[rss]\nmax_body = MiB\n", "[rss] max_body: bad size 'MiB'"},
        {"[rss]\nmax_body = 12\n", "[rss] max_body: 12 is out of range"},
        {"[entities]\ncashtags = maybe\n", "[entities] cashtags: bad boolean 'maybe'"},
        {"[rule.x]\nthreshold = 1.5\n", "b.conf:2: [rule.x] threshold: 1.5 is out of range"},
        {"[rule.x]\nthreshold = abc\n", "[rule.x] threshold: bad number 'abc'"},
        {"[rule.x]\nnosuch = 1\n", "b.conf:2: [rule.x] unknown key 'nosuch'"},
        {"[rule.bad name]\nscope = all\n", "bad rule name 'bad name'"},
        {"[rule]\nscope = all\n", "unknown section [rule] (name it"},
        {"[kafka]\nnodots = 1\n", "b.conf:2: [kafka] unknown key 'nodots'"},
        {"[redis]\nport = 70000\n", "[redis] port: 70000 is out of range"},
        {"x = 1\n", "b.conf:1: key 'x' is outside any [section]"},
        {"[classify]\nthis line is not ini\n", "b.conf:2: syntax error"},
        {"[classify\nbatch = 1\n", "b.conf:1: syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        core_config_t *c = fresh();
        char err[512] = "";
        ck_assert_msg(core_config_load_string(c, "b.conf", cases[i].ini, err, sizeof err) ==
                          CORE_ECONFIG,
                      "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: got '%s', want '%s'", i,
                      err, cases[i].want);
        core_config_free(c);
    }
}
END_TEST

START_TEST(long_line_rejected)
{
    core_config_t *c = fresh();
    char err[512], *ini = malloc(20000);
    snprintf(ini, 20000, "[feed.x]\nurl = http://example.com/");
    size_t n = strlen(ini);
    memset(ini + n, 'a', 19000 - n);
    strcpy(ini + 19000, "\n");
    ck_assert_int_eq(core_config_load_string(c, "l.conf", ini, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "l.conf:2: line longer than") != NULL, "%s", err);
    free(ini);
    core_config_free(c);
}
END_TEST

/* inih would cut a section name at 49 bytes and merge two long sections. */
START_TEST(long_section_rejected)
{
    core_config_t *c = fresh();
    char err[512];
    const char *ok = "[feed.a234567890123456789012345678901234567890abcd]\nurl = http://a/\n";
    const char *bad = "[feed.a234567890123456789012345678901234567890abcde]\nurl = http://a/\n"
                      "[feed.a234567890123456789012345678901234567890abcdf]\nurl = http://b/\n";
    ck_assert_msg(core_config_load_string(c, "s.conf", ok, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(
        core_config_inst_str(c, CORE_CFG_FEED_URL, "a234567890123456789012345678901234567890abcd"),
        "http://a/");
    core_config_free(c);
    c = fresh();
    ck_assert_int_eq(core_config_load_string(c, "s.conf", bad, err, sizeof err), CORE_ECONFIG);
    ck_assert_msg(strstr(err, "s.conf:1: section name longer than 49 bytes") != NULL, "%s", err);
    core_config_free(c);
}
END_TEST

START_TEST(bad_env_and_set)
{
    core_config_t *c = fresh();
    char err[512];
    char *env[] = {"FINSENT_CLASSIFY_MAX_WAIT=fast", NULL};
    ck_assert_int_eq(core_config_apply_env(c, env, err, sizeof err), CORE_ECONFIG);
    ck_assert_str_eq(err, "environment FINSENT_CLASSIFY_MAX_WAIT: [classify] max_wait: bad "
                          "duration 'fast' (use e.g. 500ms, 30s, 15m, 2h, 1d)");
    ck_assert_int_eq(core_config_set(c, "classify.batch", err, sizeof err), CORE_ECONFIG);
    ck_assert(strstr(err, "expected section.key=value") != NULL);
    ck_assert_int_eq(core_config_set(c, "batch=3", err, sizeof err), CORE_ECONFIG);
    ck_assert_int_eq(core_config_set(c, "=3", err, sizeof err), CORE_ECONFIG);
    ck_assert_int_eq(core_config_set(c, "rule.x=3", err, sizeof err), CORE_ECONFIG);
    ck_assert(strstr(err, "expected rule.NAME.key=value") != NULL);
    ck_assert_int_eq(core_config_set(c, "classify.nosuch=3", err, sizeof err), CORE_ECONFIG);
    ck_assert_str_eq(err, "--set: [classify] unknown key 'nosuch'");
    ck_assert_int_eq(core_config_set(c, "redis.db=x", err, sizeof err), CORE_ECONFIG);
    ck_assert_str_eq(err, "--set: [redis] db: bad integer 'x'");
    /* a failed set leaves the old value */
    ck_assert_int_eq(core_config_int(c, CORE_CFG_REDIS_DB), 0);
    core_config_free(c);
}
END_TEST

START_TEST(parse_duration_and_size)
{
    int64_t v;
    ck_assert_int_eq(core_config_parse_duration("500ms", &v), CORE_OK);
    ck_assert_int_eq(v, 500);
    ck_assert_int_eq(core_config_parse_duration("15m", &v), CORE_OK);
    ck_assert_int_eq(v, 900000);
    ck_assert_int_eq(core_config_parse_duration("2h", &v), CORE_OK);
    ck_assert_int_eq(v, 7200000);
    ck_assert_int_eq(core_config_parse_duration("1d", &v), CORE_OK);
    ck_assert_int_eq(v, 86400000);
    ck_assert_int_eq(core_config_parse_duration("1h30m", &v), CORE_OK);
    ck_assert_int_eq(v, 5400000);
    ck_assert_int_eq(core_config_parse_duration("0s", &v), CORE_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(core_config_parse_duration("15", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_duration("1.5s", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_duration("", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_duration("5 m", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_duration("1w", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_size("512", &v), CORE_OK);
    ck_assert_int_eq(v, 512);
    ck_assert_int_eq(core_config_parse_size("64KiB", &v), CORE_OK);
    ck_assert_int_eq(v, 65536);
    ck_assert_int_eq(core_config_parse_size("64k", &v), CORE_OK);
    ck_assert_int_eq(v, 65536);
    ck_assert_int_eq(core_config_parse_size("8MB", &v), CORE_OK);
    ck_assert_int_eq(v, 8388608);
    ck_assert_int_eq(core_config_parse_size("1GiB", &v), CORE_OK);
    ck_assert_int_eq(v, 1073741824);
    ck_assert_int_eq(core_config_parse_size("1T", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_size("-1", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_size("1.5M", &v), CORE_EINVAL);
    ck_assert_int_eq(core_config_parse_size("KiB", &v), CORE_EINVAL);
}
END_TEST

START_TEST(defaults_file_loads_back)
{
    const char *dir = th_tmpdir("cfg");
    char path[600], err[512];
    FILE *f;
    core_config_t *c = fresh();

    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/defaults.conf", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    core_config_print_defaults(f);
    fclose(f);
    ck_assert_msg(core_config_load_file(c, path, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_str_eq(core_config_str(c, CORE_CFG_LOG_LEVEL), "info");
    ck_assert_int_eq(core_config_int(c, CORE_CFG_CLASSIFY_BATCH), 32);
    ck_assert_uint_eq(core_config_instance_count(c, "feed"), 0);
    ck_assert_int_eq(core_config_load_file(c, "/nonexistent/x.conf", err, sizeof err), CORE_EIO);
    ck_assert(strstr(err, "/nonexistent/x.conf: cannot open") != NULL);
    unlink(path);
    rmdir(dir);
    core_config_free(c);
}
END_TEST

/* A directory opens (fopen "r" succeeds on Linux) and then reads as
 * nothing: it must be refused, naming the path, not taken for an empty
 * file of defaults. So must a FIFO or a device. */
START_TEST(not_a_regular_file)
{
    const char *dir = th_tmpdir("cfgdir");
    char fifo[600], err[512];
    core_config_t *c = fresh();

    ck_assert_ptr_nonnull(dir);
    err[0] = '\0';
    ck_assert_int_eq(core_config_load_file(c, dir, err, sizeof err), CORE_EIO);
    ck_assert_msg(strncmp(err, dir, strlen(dir)) == 0 && strstr(err, "is a directory"), "%s",
                  err);
    ck_assert_int_eq(core_config_load_file(c, "/dev/null", err, sizeof err), CORE_EIO);
    ck_assert_msg(strstr(err, "/dev/null: cannot read: not a regular file"), "%s", err);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* no writer: refused at once, not waited for (Check's timeout) */
    ck_assert_int_eq(core_config_load_file(c, fifo, err, sizeof err), CORE_EIO);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
    unlink(fifo);
    rmdir(dir);
    core_config_free(c);
}
END_TEST

/* Every row's id is its section and key in upper case (a template's kind
 * for "feed.*" and "rule.*"), so CORE_CFG_<SECTION>_<KEY> names the key it
 * reads; the enumerators are the rows (core_config_key_name agrees). */
START_TEST(key_ids_match_the_table)
{
    static const struct {
        const char *id, *section, *key;
        core_config_key_t row;
    } rows[] = {
#define ROW(id, s, k, t, d, mn, mx, h) {#id, s, k, CORE_CFG_##id},
        CORE_CONFIG_KEYS(ROW)
#undef ROW
    };
    size_t n = sizeof rows / sizeof rows[0];

    ck_assert_uint_eq(n, CORE_CONFIG_NKEYS);
    for (size_t i = 0; i < n; i++) {
        char want[128];
        size_t len = 0;
        for (const char *p = rows[i].section; *p && *p != '.'; p++)
            want[len++] = (char)toupper((unsigned char)*p);
        want[len++] = '_';
        for (const char *p = rows[i].key; *p; p++)
            want[len++] = (char)toupper((unsigned char)*p);
        want[len] = '\0';
        ck_assert_str_eq(rows[i].id, want);
        ck_assert_int_eq(rows[i].row, (core_config_key_t)i);
        ck_assert_str_eq(core_config_key_name(rows[i].row), rows[i].key);
    }
}
END_TEST

/* A getter handed a key it cannot read is a bug: it stops the program in
 * every build (NDEBUG or not) instead of reading the wrong slot. */
START_TEST(int_getter_on_string_key_aborts)
{
    core_config_t *c = fresh();
    (void)core_config_int(c, (core_config_int_key_t)CORE_CFG_LOG_LEVEL);
}
END_TEST

START_TEST(str_getter_on_bool_key_aborts)
{
    core_config_t *c = fresh();
    (void)core_config_str(c, (core_config_str_key_t)CORE_CFG_REDIS_TLS);
}
END_TEST

START_TEST(key_out_of_range_aborts)
{
    core_config_t *c = fresh();
    (void)core_config_origin(c, CORE_CONFIG_NKEYS);
}
END_TEST

START_TEST(template_key_without_instance_aborts)
{
    core_config_t *c = fresh();
    (void)core_config_double(c, CORE_CFG_RULE_THRESHOLD);
}
END_TEST

START_TEST(fixed_key_with_instance_aborts)
{
    core_config_t *c = fresh();
    (void)core_config_inst_int(c, CORE_CFG_REDIS_PORT, "x");
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, not_a_regular_file);
    tcase_add_test(tc, file_env_set_precedence);
    tcase_add_test(tc, instances_and_passthrough);
    tcase_add_test(tc, bad_files_name_line_and_key);
    tcase_add_test(tc, long_line_rejected);
    tcase_add_test(tc, long_section_rejected);
    tcase_add_test(tc, bad_env_and_set);
    tcase_add_test(tc, parse_duration_and_size);
    tcase_add_test(tc, defaults_file_loads_back);
    tcase_add_test(tc, key_ids_match_the_table);
    tcase_add_test_raise_signal(tc, int_getter_on_string_key_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, str_getter_on_bool_key_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, key_out_of_range_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, template_key_without_instance_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, fixed_key_with_instance_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}
