/*
 * Allocation-failure test of cls_classifier_new: allocation N = 1, 2, ... of
 * loading a classifier (config, vocabulary, safetensors, weights packing,
 * per-thread buffers) fails until a load meets no failure. Every failure
 * must return CORE_ENOMEM with no classifier; the ASan build checks that
 * nothing leaks. The classifier that finally loads must classify. One
 * compute thread, so no other thread allocates meanwhile.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "classify/cls_classifier.h"
#include "core/core_alloc.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

#ifdef FINSENT_ALLOC_HOOK

/* oom_loop returns the allocations a load of o makes. */
static long oom_loop(const cls_classifier_opts_t *o)
{
    for (long n = 1;; n++) {
        cls_classifier_t *cl = (cls_classifier_t *)1;
        char err[512] = "";
        core_err_t rc;

        ck_assert_int_lt(n, 100000);
        core_alloc_fail_at(n, CORE_ALLOC_ONCE);
        rc = cls_classifier_new(o, &cl, err, sizeof err);
        if (core_alloc_failures() == 0) {
            const char *t = "Fed raises rates";
            size_t l = strlen(t);
            core_alloc_fail_at(0, CORE_ALLOC_ONCE);
            ck_assert_msg(rc == CORE_OK, "N=%ld: %s (%s)", n, core_strerror(rc), err);
            ck_assert_int_eq(cls_classifier_run(cl, &t, &l, 1), CORE_OK);
            cls_classifier_free(cl);
            return n - 1;
        }
        core_alloc_fail_at(0, CORE_ALLOC_ONCE);
        ck_assert_msg(rc == CORE_ENOMEM, "N=%ld: %s (%s), not CORE_ENOMEM", n, core_strerror(rc),
                      err);
        ck_assert_ptr_null(cl);
    }
}

START_TEST(new_every_allocation_fails_cleanly)
{
    static const struct {
        const char *name, *model, *topic, *sent;
        cls_precision_t prec;
    } CASES[] = {
        {"multi-task fp32", "mt_l2_h64_f32", NULL, NULL, CLS_PREC_FP32},
        {"two models fp32", "mt_l2_h64_f32", "topic_l3_h48_relu_f16", NULL, CLS_PREC_FP32},
        {"multi-task auto precision", "mt_l2_h64_f32", NULL, NULL, CLS_PREC_AUTO},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char a[1024], b[1024], ra[256], rb[256];
        cls_classifier_opts_t o = {0};
        long n;

        snprintf(ra, sizeof ra, "parity/%s", CASES[i].model);
        o.model_dir = th_data_path(a, sizeof a, ra);
        if (CASES[i].topic) {
            snprintf(rb, sizeof rb, "parity/%s", CASES[i].topic);
            o.topic_model_dir = th_data_path(b, sizeof b, rb);
        }
        o.max_batch = 4;
        o.threads = 1;
        o.precision = CASES[i].prec;
        n = oom_loop(&o);
        ck_assert_int_gt(n, 0);
        printf("alloc-fail cls_classifier_new[%s]: %ld allocations, each failed once: "
               "CORE_ENOMEM\n",
               CASES[i].name, n);
    }
}
END_TEST

#endif

Suite *suite_classifier_oom(void)
{
    Suite *s = suite_create("classifier_oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 600);
#ifdef FINSENT_ALLOC_HOOK
    tcase_add_test(tc, new_every_allocation_fails_cleanly);
#endif
    suite_add_tcase(s, tc);
    return s;
}
