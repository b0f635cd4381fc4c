/* test_dashboard: the dashboard's HTTP API and page server (app_api,
 * app_static, app_explain). They need redis-server; without it they are
 * reported as skipped. The reader's own suite (alr_read) is in
 * tests/alerting. */
#include "tests/common/th.h"
#include "tests/common/th_redis.h"

Suite *suite_api(void);
Suite *suite_explain_api(void);

int main(void)
{
    Suite *s[2];
    if (!th_redis_binary()) {
        th_skip_suite("redis", "app_api, explain_api", "redis-server not found in PATH");
        return th_main(s, 0);
    }
    s[0] = suite_api();
    s[1] = suite_explain_api();
    return th_main(s, 2);
}
