/* The app test runner: the finsent binary's commands, run as a user would,
 * and the pure parts of the commands.
 *
 * The `feeds check` tests need python3 (tests/ingest/feed_server.py), the
 * `backtest` replays and the `run` daemon tests need redis-server. When one
 * is missing its tests are not added, the others run, and the runner exits
 * 77 (ctest's SKIP_RETURN_CODE for this test) instead of 0, so a run
 * without them reports "skipped", never "passed". The HTTPS test needs
 * openssl (to make a certificate) and a libmicrohttpd built with TLS. */
#include <stdio.h>

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
    int rc = th_main(suites, sizeof suites / sizeof suites[0]);
    if (rc == 0 && (!have_python || !have_redis || !have_openssl || !have_tls)) {
        if (!have_openssl)
            fprintf(stderr, "SKIPPED: openssl not found; the redis.tls tests of finsent run, "
                            "stats and alerts did not run\n");
        if (!have_tls)
            fprintf(stderr, "SKIPPED: %s; the app_http https test did not run\n",
                    app_http_tls_supported() ? "openssl not found"
                                             : "libmicrohttpd has no TLS support");
        if (!have_python)
            fprintf(stderr,
                    "SKIPPED: python3 not found; the finsent feeds check tests did not run\n");
        if (!have_redis)
            fprintf(stderr, "SKIPPED: redis-server not found (/usr/bin/redis-server or PATH); "
                            "the finsent backtest replays, the good `finsent run` of "
                            "the validate suite and the run_cmd daemon tests did not run\n");
        return 77;
    }
    return rc;
}
