/* The app test runner: the finsent binary's commands, run as a user would,
 * and the pure parts of the commands.
 *
 * The `feeds check` tests need python3 (tests/ingest/feed_server.py), the
 * `backtest` replays and the `run` daemon tests need redis-server. When one
 * is missing its tests are not added, the others run, and the left-out
 * tests are recorded as skipped (th_skip_suite), so the run reports
 * "skipped", never "passed". The HTTPS test needs openssl (to make a
 * certificate) and a libmicrohttpd built with TLS. */
#include "app/app_http.h"

#include "tests/common/th.h"
#include "tests/common/th_redis.h"

Suite *suite_feeds_cmd(int with_server);
Suite *suite_backtest(void);
Suite *suite_backtest_cmd(int with_redis);
Suite *suite_run_cmd(int with_redis);
Suite *suite_validate(int with_redis);
Suite *suite_redis_tls_cmd(int with_redis);
Suite *suite_http(int with_tls);
Suite *suite_opts(void);
Suite *suite_pipeline_oom(int with_redis);

int main(void)
{
    int have_python = th_have_program("python3");
    int have_redis = th_redis_binary() != NULL;
    int have_openssl = th_have_program("openssl");
    int have_tls = app_http_tls_supported() && have_openssl;
    Suite *suites[] = {suite_opts(),
                       suite_feeds_cmd(have_python),
                       suite_backtest(),
                       suite_backtest_cmd(have_redis),
                       suite_validate(have_redis),
                       suite_run_cmd(have_redis),
                       suite_redis_tls_cmd(have_redis && have_openssl),
                       suite_http(have_tls),
                       suite_pipeline_oom(have_redis)};
    if (!have_python)
        th_skip_suite("python3", "feeds_cmd (finsent feeds check)", "python3 not found in PATH");
    if (!have_redis)
        th_skip_suite("redis",
                      "backtest_cmd (the replays), validate (the good `finsent run`), run_cmd "
                      "(the daemon), redis_tls_cmd",
                      "redis-server not found in PATH");
    else if (!have_openssl)
        th_skip_suite("openssl", "redis_tls_cmd (redis.tls of finsent run, stats, alerts)",
                      "openssl not found in PATH");
    if (!app_http_tls_supported())
        th_skip_suite("mhd-tls", "app_http (the https test)", "libmicrohttpd has no TLS support");
    else if (!have_openssl)
        th_skip_suite("openssl", "app_http (the https test)", "openssl not found in PATH");
    return th_main(suites, sizeof suites / sizeof suites[0]);
}
