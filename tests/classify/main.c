/* Runner of the classify suites (ctest -L classify). One line per suite. */
#include "tests/classify/suites.h"
#include "tests/common/th.h"

int main(void)
{
    Suite *s[] = {
        suite_wordpiece(),
        suite_safetensors(),
        suite_kernels(),
        suite_lowp(),
        suite_lowp_fp32(),
        suite_model(),
        suite_bert(),
        suite_classifier(),
        suite_explain(),
        suite_classifier_oom(),
    };
    return th_main(s, sizeof s / sizeof s[0]);
}
