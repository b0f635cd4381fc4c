/* Runner of the core suites (ctest -L core). core_tls needs redis-server
 * and openssl; without them it is reported as skipped. */

#include "tests/common/th.h"
#include "tests/common/th_redis.h"
#include "tests/core/suites.h"

int main(void)
{
    Suite *s[] = {suite_error(), suite_time(), suite_queue(), suite_config(), suite_metrics(),
                  suite_msg(),   suite_item(), suite_lines(), suite_log(),    suite_watchlist(),
                  suite_utf8(),  suite_hash(), suite_alloc(), suite_gate(),   NULL};
    size_t n = sizeof s / sizeof s[0] - 1;
    if (!th_redis_binary())
        th_skip_suite("redis", "core_tls", "redis-server not found in PATH");
    else if (!th_have_program("openssl"))
        th_skip_suite("openssl", "core_tls", "openssl not found in PATH");
    else
        s[n++] = suite_tls();
    return th_main(s, n);
}
