/* The ingest test runner: one Check suite per ingest module. */
#include <stddef.h>

#include "tests/common/th.h"

Suite *suite_jsonl(void);
Suite *suite_ktrack(void);
Suite *suite_kafka(void);
Suite *suite_feed(void);
Suite *suite_feed_charset(void);
Suite *suite_feed_dialects(void);
Suite *suite_seen(void);
Suite *suite_rss(void);
Suite *suite_opml(void);

int main(void)
{
    Suite *suites[] = {suite_jsonl(), suite_ktrack(), suite_feed(), suite_feed_charset(), suite_feed_dialects(),
                       suite_opml(),  suite_seen(),   suite_rss(),    suite_kafka()};
    return th_main(suites, sizeof suites / sizeof suites[0]);
}
