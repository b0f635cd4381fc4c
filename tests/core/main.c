/* Runner of the core suites (ctest -L core). core_tls needs redis-server
 * and openssl; without them it is skipped with a message. */
#include <stdio.h>

#include "tests/common/th.h"
#include "tests/common/th_redis.h"
#include "tests/core/suites.h"

int main(void)
{
    Suite *s[] = {suite_error(), suite_time(),  suite_queue(), suite_config(), suite_metrics(),
                  suite_msg(),   suite_item(),  suite_lines(), suite_log(), suite_watchlist(), suite_utf8(),
                  suite_alloc(), NULL};
    size_t n = sizeof s / sizeof s[0] - 1;
    if (th_redis_binary() && th_have_program("openssl"))
        s[n++] = suite_tls();
    else
        printf("SKIP core_tls: needs redis-server and openssl (install the redis-server and "
               "openssl packages)\n");
    return th_main(s, n);
}
