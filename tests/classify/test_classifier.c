/* placeholder replaced below */
#include <check.h>
#include "tests/classify/suites.h"
Suite *suite_classifier(void)
{
    return suite_create("classifier");
}
