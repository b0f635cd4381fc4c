/* The app test runner: the finsent binary's commands, run as a user would.
 *
 * The `feeds check` tests need python3 (tests/ingest/feed_server.py). When
 * it is missing they are not added, the others run, and the runner exits 77
 * (ctest's SKIP_RETURN_CODE for this test) instead of 0, so a run without
 * python3 reports "skipped", never "passed". */
#include <stdio.h>

#include "tests/common/th.h"

Suite *suite_feeds_cmd(int with_server);

int main(void)
{
    int have_python = th_have_program("python3");
    Suite *suites[] = {suite_feeds_cmd(have_python)};
    int rc = th_main(suites, sizeof suites / sizeof suites[0]);
    if (rc == 0 && !have_python) {
        fprintf(stderr, "SKIPPED: python3 not found; the finsent feeds check tests did not run\n");
        return 77;
    }
    return rc;
}
