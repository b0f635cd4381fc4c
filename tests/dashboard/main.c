/* test_dashboard: the dashboard's read queries (alr_read) and HTTP API and
 * page server (app_api, app_static). They need redis-server; without it only
 * the pure cases run, and the rest is skipped with a message. */
#include <stdio.h>

#include "tests/common/th.h"
#include "tests/common/th_redis.h"

Suite *suite_read(void);
Suite *suite_api(void);
Suite *suite_explain_api(void);

int main(void)
{
    Suite *s[3];
    if (!th_redis_binary()) {
        printf("SKIP alr_read, app_api, explain_api: redis-server not found "
               "(/usr/bin/redis-server or PATH); "
               "install the redis-server package to run them\n");
        return 0;
    }
    s[0] = suite_read();
    s[1] = suite_api();
    s[2] = suite_explain_api();
    return th_main(s, 3);
}
