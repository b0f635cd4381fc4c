/*
 * Tests of classify/cls_bert: numerical parity with PyTorch and batch
 * independence.
 *
 * tests/data/parity/<name>/ holds small random checkpoints and expected.json
 * (tests/reference/parity/make_parity.py: an independent PyTorch BERT, fp32,
 * on the stored weights): texts, the token ids fed to torch, and each head's
 * logits and probabilities. For every checkpoint and every kernel variant
 * this CPU runs, the engine must match: max |logit diff| <= 1e-4 and max
 * |prob diff| <= 1e-5. The tokenizer must produce the same ids.
 *
 * Batch independence: each item alone, the batch reversed and the batch in
 * padded mode must give the same results as the full batch (1e-6: only
 * OpenBLAS's blocking for a different row count may move a last bit).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_bert.h"
#include "classify/cls_model.h"
#include "classify/kernels/cls_kernels.h"
#include "classify/cls_wordpiece.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

static const char *const checkpoints[] = {"mt_l2_h64_f32", "finbert_l1_h32_gelunew_f32",
                                          "topic_l3_h48_relu_f16", "mt_l4_h96_tanh_f16",
                                          "bare_l1_h256_bf16"};
#define N_CKPT (sizeof checkpoints / sizeof checkpoints[0])
static const char *const kernel_names[] = {"generic", "avx2", "avx512"};

typedef struct golden {
    json_t *root;
    size_t n;
    int32_t *ids; /* packed */
    size_t *lens;
    size_t total;
} golden_t;

static void golden_load(const char *name, golden_t *g, char *dir, size_t dircap)
{
    char rel[256], path[1024];
    json_error_t jerr;
    json_t *ids;

    snprintf(rel, sizeof rel, "parity/%s", name);
    th_data_path(dir, dircap, rel);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    g->root = json_load_file(path, 0, &jerr);
    ck_assert_msg(g->root != NULL, "%s: %s", path, jerr.text);
    ids = json_object_get(g->root, "ids");
    g->n = json_array_size(ids);
    ck_assert_uint_gt(g->n, 0);
    g->lens = calloc(g->n, sizeof *g->lens);
    g->total = 0;
    for (size_t i = 0; i < g->n; i++)
        g->total += json_array_size(json_array_get(ids, i));
    g->ids = calloc(g->total, sizeof *g->ids);
    ck_assert(g->lens && g->ids);
    g->total = 0;
    for (size_t i = 0; i < g->n; i++) {
        json_t *row = json_array_get(ids, i);
        g->lens[i] = json_array_size(row);
        for (size_t t = 0; t < g->lens[i]; t++)
            g->ids[g->total++] = (int32_t)json_integer_value(json_array_get(row, t));
    }
}

static void golden_free(golden_t *g)
{
    json_decref(g->root);
    free(g->ids);
    free(g->lens);
}

static cls_model_t *load(const char *dir)
{
    cls_model_t *m = NULL;
    char err[512] = "";
    core_err_t rc = cls_model_load(dir, &m, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "%s: %s", dir, err);
    return m;
}

static cls_head_kind_t kind_of(json_t *head)
{
    return strcmp(json_string_value(json_object_get(head, "kind")), "topic") == 0
               ? CLS_HEAD_TOPIC
               : CLS_HEAD_SENTIMENT;
}

/* Compares every head of the last run with the golden values. */
static void check_heads_tol(const cls_bert_t *b, const cls_model_t *m, const golden_t *g,
                            const char *what, double tol_logit, double tol_prob)
{
    const char *hname;
    json_t *head;
    json_object_foreach(json_object_get(g->root, "heads"), hname, head)
    {
        cls_head_kind_t k = kind_of(head);
        const cls_head_t *hd = cls_model_head(m, k);
        const float *lo = cls_bert_logits(b, k), *pr = cls_bert_probs(b, k);
        json_t *el = json_object_get(head, "logits"), *ep = json_object_get(head, "probs");
        double dl = 0, dp = 0;
        ck_assert_msg(hd != NULL, "%s: head %s not found as %d", what, hname, (int)k);
        ck_assert_uint_eq(hd->n_labels, json_array_size(json_object_get(head, "labels")));
        for (size_t l = 0; l < hd->n_labels; l++)
            ck_assert_str_eq(hd->labels[l],
                             json_string_value(json_array_get(json_object_get(head, "labels"), l)));
        for (size_t i = 0; i < g->n; i++)
            for (size_t l = 0; l < hd->n_labels; l++) {
                double el_ = json_number_value(json_array_get(json_array_get(el, i), l));
                double ep_ = json_number_value(json_array_get(json_array_get(ep, i), l));
                dl = fmax(dl, fabs(lo[i * hd->n_labels + l] - el_));
                dp = fmax(dp, fabs(pr[i * hd->n_labels + l] - ep_));
            }
        if (getenv("FINSENT_TEST_VERBOSE"))
            fprintf(stderr, "%s head %s: max logit diff %.3g, max prob diff %.3g\n", what, hname,
                    dl, dp);
        ck_assert_msg(dl <= tol_logit, "%s head %s: max logit diff %g > %g", what, hname, dl,
                      tol_logit);
        ck_assert_msg(dp <= tol_prob, "%s head %s: max prob diff %g > %g", what, hname, dp,
                      tol_prob);
    }
}

static void check_heads(const cls_bert_t *b, const cls_model_t *m, const golden_t *g,
                        const char *what)
{
    check_heads_tol(b, m, g, what, 1e-4, 1e-5);
}

/* _i = checkpoint * 3 + kernel variant */
START_TEST(test_parity)
{
    const char *name = checkpoints[_i / 3], *kname = kernel_names[_i % 3];
    char dir[1024], what[128];
    golden_t g;
    cls_model_t *m;
    cls_bert_t *b = NULL;

    if (!cls_kernels_named(kname))
        TH_SKIP(kname, "%s kernels: not supported by this CPU", kname);
    ck_assert_int_eq(setenv("FINSENT_KERNELS", kname, 1), 0); /* fork mode: chosen fresh in this process */
    golden_load(name, &g, dir, sizeof dir);
    m = load(dir);
    ck_assert_int_eq(
        cls_bert_new(m, g.n, (size_t)json_integer_value(json_object_get(g.root, "max_len")), &b),
        CORE_OK);
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, g.n, 0), CORE_OK);
    snprintf(what, sizeof what, "%s [%s]", name, kname);
    check_heads(b, m, &g, what);
    cls_bert_free(b);
    cls_model_free(m);
    golden_free(&g);
}
END_TEST

/* Reduced precision against the same fp32 PyTorch reference. _i =
 * (checkpoint * 2 + precision) * 3 + kernel variant. Tolerances: bf16
 * rounds both GEMM operands to 8 significant bits (relative 2^-9 each);
 * through LayerNorm-bounded activations of O(1) and 1-4 layers the
 * logits of these small checkpoints move by a few 1e-3 (observed with
 * FINSENT_TEST_VERBOSE=1: at most 8.8e-3 for bf16 and 2.4e-2 for int8,
 * probabilities 1.5e-3 and 7.2e-3): 2e-2 for logits and 1e-2 for
 * probabilities leaves room without hiding a wrong kernel (an error in
 * one column or row block moves logits by O(0.1-1)). int8: activations are
 * quantized to 1/255 of each token's range and weights to 1/254 of each
 * channel's range (~0.4% relative steps, 2x bf16's), so twice the
 * tolerances. */
static const char *const lowp_names[] = {"generic", "avx512", "amx"};

START_TEST(test_parity_lowp)
{
    size_t ck = (size_t)_i / 6, pi = ((size_t)_i / 3) % 2;
    const char *name = checkpoints[ck], *kname = lowp_names[_i % 3];
    cls_precision_t prec = pi ? CLS_PREC_INT8 : CLS_PREC_BF16;
    double scale = prec == CLS_PREC_INT8 ? 2.0 : 1.0;
    char dir[1024], what[160];
    golden_t g;
    cls_model_t *m;
    cls_bert_t *b = NULL;
    cls_bert_packed_t *p = NULL;

    if (!cls_lowp_named(kname, prec))
        TH_SKIP(lowp_need(kname, prec), "%s %s kernels: not supported by this CPU", kname,
                cls_precision_name(prec));
    ck_assert_int_eq(setenv("FINSENT_LOWP", kname, 1), 0); /* fork mode: chosen fresh in this process */
    golden_load(name, &g, dir, sizeof dir);
    m = load(dir);
    ck_assert_int_eq(cls_bert_pack(m, prec, 0, &p), CORE_OK);
    ck_assert_int_eq(cls_bert_packed_precision(p), prec);
    ck_assert_str_eq(cls_lowp_get(prec)->name, kname);
    ck_assert_int_eq(cls_bert_new_packed(
                         m, p, g.n, (size_t)json_integer_value(json_object_get(g.root, "max_len")),
                         &b),
                     CORE_OK);
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, g.n, 0), CORE_OK);
    snprintf(what, sizeof what, "%s [%s %s]", name, cls_precision_name(prec), kname);
    check_heads_tol(b, m, &g, what, 2e-2 * scale, 1e-2 * scale);
    cls_bert_free(b);
    cls_bert_packed_free(p);
    cls_model_free(m);
    golden_free(&g);
}
END_TEST

START_TEST(test_tokenizer_ids)
{
    char dir[1024], err[512] = "";
    golden_t g;
    cls_wordpiece_t *wp = NULL;
    cls_wordpiece_ws_t *ws = NULL;
    json_t *texts;
    int32_t ids[512];
    size_t off = 0;

    golden_load(checkpoints[_i], &g, dir, sizeof dir);
    ck_assert_msg(
        cls_wordpiece_load_dir(dir, (size_t)json_integer_value(json_object_get(g.root, "max_len")),
                               &wp, err, sizeof err) == CORE_OK,
        "%s", err);
    ck_assert_int_eq(cls_wordpiece_ws_new(wp, &ws), CORE_OK);
    texts = json_object_get(g.root, "texts");
    for (size_t i = 0; i < g.n; i++) {
        const char *t = json_string_value(json_array_get(texts, i));
        size_t n = 0;
        ck_assert_int_eq(cls_wordpiece_encode(wp, ws, t, strlen(t), ids, 512, &n), CORE_OK);
        ck_assert_msg(n == g.lens[i], "%s text %zu: %zu ids, torch got %zu", checkpoints[_i], i, n,
                      g.lens[i]);
        ck_assert_msg(memcmp(ids, g.ids + off, n * sizeof *ids) == 0, "%s text %zu: ids differ",
                      checkpoints[_i], i);
        off += n;
    }
    cls_wordpiece_ws_free(ws);
    cls_wordpiece_free(wp);
    golden_free(&g);
}
END_TEST

static void copy_results(const cls_bert_t *b, const cls_model_t *m, size_t n, float *out[2])
{
    for (int k = 0; k < CLS_HEAD__COUNT; k++) {
        const cls_head_t *hd = cls_model_head(m, (cls_head_kind_t)k);
        if (hd)
            memcpy(out[k], cls_bert_probs(b, (cls_head_kind_t)k), n * hd->n_labels * sizeof(float));
    }
}

START_TEST(test_batch_independence)
{
    char dir[1024];
    golden_t g;
    cls_model_t *m;
    cls_bert_t *b = NULL;
    float *full[2], *other[2];
    int32_t *rev;
    size_t *rlens, off = 0;

    golden_load(checkpoints[_i], &g, dir, sizeof dir);
    m = load(dir);
    ck_assert_int_eq(
        cls_bert_new(m, g.n, (size_t)json_integer_value(json_object_get(g.root, "max_len")), &b),
        CORE_OK);
    for (int k = 0; k < 2; k++) {
        full[k] = calloc(g.n * 64, sizeof(float));
        other[k] = calloc(g.n * 64, sizeof(float));
    }
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, g.n, 0), CORE_OK);
    copy_results(b, m, g.n, full);

#define SAME(i_other, i_full, label)                                                               \
    for (int k = 0; k < CLS_HEAD__COUNT; k++) {                                                    \
        const cls_head_t *hd = cls_model_head(m, (cls_head_kind_t)k);                              \
        if (!hd)                                                                                   \
            continue;                                                                              \
        for (size_t l = 0; l < hd->n_labels; l++)                                                  \
            ck_assert_msg(fabsf(other[k][(i_other)*hd->n_labels + l] -                             \
                                full[k][(i_full)*hd->n_labels + l]) <= 1e-6f,                      \
                          "%s: item %zu differs %s", checkpoints[_i], (size_t)(i_full), label);    \
    }

    /* each item alone */
    for (size_t i = 0; i < g.n; i++) {
        ck_assert_int_eq(cls_bert_run(b, g.ids + off, &g.lens[i], 1, 0), CORE_OK);
        copy_results(b, m, 1, other);
        SAME(0, i, "alone");
        off += g.lens[i];
    }
    /* reversed order */
    rev = malloc(g.total * sizeof *rev);
    rlens = malloc(g.n * sizeof *rlens);
    off = 0;
    for (size_t i = g.n; i-- > 0;) {
        size_t start = 0;
        for (size_t j = 0; j < i; j++)
            start += g.lens[j];
        memcpy(rev + off, g.ids + start, g.lens[i] * sizeof *rev);
        rlens[g.n - 1 - i] = g.lens[i];
        off += g.lens[i];
    }
    ck_assert_int_eq(cls_bert_run(b, rev, rlens, g.n, 0), CORE_OK);
    copy_results(b, m, g.n, other);
    for (size_t i = 0; i < g.n; i++) {
        SAME(g.n - 1 - i, i, "reversed");
    }
    /* padded to the longest: same results for the real tokens */
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, g.n, 1), CORE_OK);
    copy_results(b, m, g.n, other);
    for (size_t i = 0; i < g.n; i++) {
        SAME(i, i, "padded");
    }
    free(rev);
    free(rlens);
    for (int k = 0; k < 2; k++) {
        free(full[k]);
        free(other[k]);
    }
    cls_bert_free(b);
    cls_model_free(m);
    golden_free(&g);
}
END_TEST

START_TEST(test_run_errors)
{
    char dir[1024];
    golden_t g;
    cls_model_t *m;
    cls_bert_t *b = NULL;
    int32_t bad[3] = {2, 1000000, 3};
    size_t len3 = 3, len0 = 0, len_long = 65;

    golden_load(checkpoints[0], &g, dir, sizeof dir);
    m = load(dir);
    ck_assert_int_eq(cls_bert_new(m, 4, 65, &b), CORE_EINVAL); /* over max_position 64 */
    ck_assert_int_eq(cls_bert_new(m, 0, 8, &b), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_new(m, 4, 64, &b), CORE_OK);
    ck_assert_int_eq(cls_bert_run(b, bad, &len3, 1, 0), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_run(b, g.ids, &len0, 1, 0), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_run(b, g.ids, &len_long, 1, 0), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, 5, 0), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, 0, 0), CORE_EINVAL);
    ck_assert_int_eq(cls_bert_run(b, g.ids, g.lens, 4, 0), CORE_OK);
    ck_assert_double_gt(cls_bert_flops(m, g.lens, 4, 0), 0);
    ck_assert_double_gt(cls_bert_flops(m, g.lens, 4, 1), cls_bert_flops(m, g.lens, 4, 0));
    cls_bert_free(b);
    cls_bert_free(NULL);
    cls_model_free(m);
    golden_free(&g);
}
END_TEST

Suite *suite_bert(void)
{
    Suite *s = suite_create("bert");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_parity, 0, (int)(N_CKPT * 3));
    tcase_add_loop_test(tc, test_parity_lowp, 0, (int)(N_CKPT * 6));
    tcase_add_loop_test(tc, test_tokenizer_ids, 0, (int)N_CKPT);
    tcase_add_loop_test(tc, test_batch_independence, 0, (int)N_CKPT);
    tcase_add_test(tc, test_run_errors);
    suite_add_tcase(s, tc);
    return s;
}
