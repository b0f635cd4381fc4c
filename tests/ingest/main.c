/* The ingest test runner: one Check suite per ingest module. seen_redis
 * needs redis-server and openssl; without them it is reported as
 * skipped. */
#include <stddef.h>

#include "tests/common/th.h"
#include "tests/common/th_redis.h"

Suite *suite_jsonl(void);
Suite *suite_ktrack(void);
Suite *suite_kafka(void);
Suite *suite_kafka_oom(void);
Suite *suite_feed(void);
Suite *suite_feed_charset(void);
Suite *suite_feed_dialects(void);
Suite *suite_seen(void);
Suite *suite_rss(void);
Suite *suite_opml(void);
Suite *suite_seen_redis(void);

int main(void)
{
    Suite *suites[] = {suite_jsonl(), suite_ktrack(), suite_feed(), suite_feed_charset(), suite_feed_dialects(),
                       suite_opml(),  suite_seen(),   suite_rss(),    suite_kafka(), suite_kafka_oom(), NULL};
    size_t n = sizeof suites / sizeof suites[0] - 1;
    if (!th_redis_binary())
        th_skip_suite("redis", "seen_redis", "redis-server not found in PATH");
    else if (!th_have_program("openssl"))
        th_skip_suite("openssl", "seen_redis", "openssl not found in PATH");
    else
        suites[n++] = suite_seen_redis();
    return th_main(suites, n);
}
