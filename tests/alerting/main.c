/* test_alerting: the alerting suites. The Redis suites need redis-server;
 * without it they are reported as skipped (th_skip_suite; the pure suites
 * still run). */

#include "tests/common/th.h"
#include "tests/common/th_redis.h"

Suite *suite_keys(void);
Suite *suite_rule(void);
Suite *suite_json(void);
Suite *suite_redis(void);
Suite *suite_sink(void);
Suite *suite_follow(void);
Suite *suite_cli(void);
Suite *suite_admin_pure(void);
Suite *suite_admin(void);
Suite *suite_baseline(void);
Suite *suite_redis_tls(void);
Suite *suite_windows(void);
Suite *suite_sentinel(void);
Suite *suite_read(int with_redis);
Suite *suite_sink_oom(void);

int main(void)
{
    Suite *s[20];
    size_t n = 0;
    s[n++] = suite_keys();
    s[n++] = suite_rule();
    s[n++] = suite_json();
    s[n++] = suite_admin_pure();
    s[n++] = suite_windows();
    s[n++] = suite_read(th_redis_binary() != NULL);
    if (th_redis_binary()) {
        s[n++] = suite_redis();
        s[n++] = suite_sink();
        s[n++] = suite_follow();
        s[n++] = suite_cli();
        s[n++] = suite_admin();
        s[n++] = suite_baseline();
        s[n++] = suite_sentinel();
        s[n++] = suite_sink_oom();
        if (th_have_program("openssl"))
            s[n++] = suite_redis_tls();
        else
            th_skip_suite("openssl", "alr_redis_tls", "openssl not found in PATH");
    } else {
        th_skip_suite("redis", "alr_redis, alr_redis_tls, alr_sink, alr_sentinel, alr_follow, "
                      "alr_cli, alr_baseline, alr_admin, alr_read (against Redis)",
                      "redis-server not found in PATH");
    }
    return th_main(s, n);
}
