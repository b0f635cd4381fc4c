/* Runner of the core suites (ctest -L core). */
#include "tests/common/th.h"
#include "tests/core/suites.h"

int main(void)
{
    Suite *s[] = {suite_error(), suite_time(),  suite_queue(), suite_config(), suite_metrics(),
                  suite_msg(),   suite_item(),  suite_lines(), suite_log(), suite_watchlist(), suite_utf8()};
    return th_main(s, sizeof s / sizeof s[0]);
}
