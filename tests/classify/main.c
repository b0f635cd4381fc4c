/* Runner of the classify suites (ctest -L classify). One line per suite. */
#include "tests/classify/suites.h"
#include "tests/common/th.h"

int main(void)
{
    Suite *s[] = {
        suite_wordpiece(),
    };
    return th_main(s, sizeof s / sizeof s[0]);
}
