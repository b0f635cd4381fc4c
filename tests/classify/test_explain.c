/*
 * Tests of classify/cls_explain: the word split (exact byte offsets, UTF-8,
 * space as the tokenizer sees it, punctuation merged into a neighbour, the
 * caps), and explanations with the shipped model (models/finsent-mini): a
 * negative headline's deltas point at the word that makes it negative, each
 * delta equals p(full) - p(text without the word) computed by hand, slicing
 * into several classifier runs changes nothing, long texts are cut at 64
 * words / 1000 bytes and say so (with a small test model), bad input is refused with its error; and
 * `finsent classify --explain` end to end. The model cases are skipped
 * (TH_SKIP, need "model") when the shipped model is not in the tree.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify/cls_classifier.h"
#include "classify/cls_explain.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

#define HEADLINE "Acme shares plunge after refinery explosion"

/* ---- split ------------------------------------------------------------- */

/* split_is: text splits (options o) into exactly the words listed. */
static void split_is(const char *text, const cls_explain_opts_t *o, int want_trunc,
                     const char *const *want, size_t nwant)
{
    size_t st[CLS_EXPLAIN_WORDS_LIMIT], ln[CLS_EXPLAIN_WORDS_LIMIT], n;
    int trunc = -1;
    n = cls_explain_split(text, strlen(text), o, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_msg(n == nwant, "'%s': %zu words, want %zu", text, n, nwant);
    ck_assert_int_eq(trunc, want_trunc);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(ln[i] == strlen(want[i]) && memcmp(text + st[i], want[i], ln[i]) == 0,
                      "'%s' word %zu: '%.*s' at %zu, want '%s'", text, i, (int)ln[i], text + st[i],
                      st[i], want[i]);
    }
}

#define SPLIT(text, ...)                                                                           \
    do {                                                                                           \
        static const char *const w_[] = {__VA_ARGS__};                                             \
        split_is(text, NULL, 0, w_, sizeof w_ / sizeof w_[0]);                                     \
    } while (0)

START_TEST(split_offsets)
{
    size_t st[8], ln[8];
    int trunc;

    ck_assert_uint_eq(cls_explain_split(HEADLINE, strlen(HEADLINE), NULL, st, ln, 8, &trunc), 6);
    ck_assert_int_eq(trunc, 0);
    {
        static const size_t ws[] = {0, 5, 12, 19, 25, 34}, wl[] = {4, 6, 6, 5, 8, 9};
        for (int i = 0; i < 6; i++) {
            ck_assert_uint_eq(st[i], ws[i]);
            ck_assert_uint_eq(ln[i], wl[i]);
        }
    }
    SPLIT("  a \t b\r\nc  ", "a", "b", "c");
    /* one run each: cashtags, percentages, prices */
    SPLIT("$ACME up 18% to $1,234.56", "$ACME", "up", "18%", "to", "$1,234.56");
    /* Unicode: multi-byte words; NBSP (Zs), ideographic space, U+2028 split */
    SPLIT("Z\xc3\xbcrich\xc2\xa0stocks\xe3\x80\x80"
          "fall\xe2\x80\xa8\xe6\x9d\xb1\xe4\xba\xac",
          "Z\xc3\xbcrich", "stocks", "fall", "\xe6\x9d\xb1\xe4\xba\xac");
    /* a zero-width space is not a space (the tokenizer drops it inside a word) */
    SPLIT("ab\xe2\x80\x8b"
          "cd ef",
          "ab\xe2\x80\x8b"
          "cd",
          "ef");
}
END_TEST

START_TEST(split_merges_punctuation)
{
    cls_explain_opts_t raw = {.no_merge = 1};

    /* closing punctuation joins the previous word, opening the next */
    SPLIT("Acme - shares fall .", "Acme -", "shares", "fall .");
    SPLIT("up $ 5 ( ACME ) today", "up", "$ 5", "( ACME )", "today");
    /* a currency sign opens; an em dash closes */
    SPLIT("\xe2\x82\xac 5 bn \xe2\x80\x94 loss", "\xe2\x82\xac 5", "bn \xe2\x80\x94", "loss");
    /* punctuation first (no word before it) joins the first word */
    SPLIT("- Acme falls", "- Acme", "falls");
    /* punctuation last after an opening sign joins the last word */
    SPLIT("Acme falls $", "Acme", "falls $");
    /* only punctuation: one unit */
    SPLIT("!! ?", "!! ?");
    {
        static const char *const w[] = {"Acme", "-", "shares"};
        split_is("Acme - shares", &raw, 0, w, 3);
    }
}
END_TEST

START_TEST(split_caps)
{
    char text[2000];
    size_t st[CLS_EXPLAIN_WORDS_LIMIT], ln[CLS_EXPLAIN_WORDS_LIMIT], n, p = 0;
    int trunc;
    cls_explain_opts_t o = {.max_words = 3};

    for (int i = 0; i < 80; i++)
        p += (size_t)snprintf(text + p, sizeof text - p, "w%02d ", i);
    n = cls_explain_split(text, p, NULL, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_uint_eq(n, CLS_EXPLAIN_MAX_WORDS);
    ck_assert_int_eq(trunc, 1);
    ck_assert_uint_eq(st[63], 63 * 4);
    /* exactly at the cap: not truncated */
    n = cls_explain_split(text, 64 * 4, NULL, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_uint_eq(n, 64);
    ck_assert_int_eq(trunc, 0);
    n = cls_explain_split(text, p, &o, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(trunc, 1);
    /* bytes: 30 words of 39 bytes + space; words end at 39, 79, ... */
    memset(text, 'x', sizeof text);
    for (int i = 0; i < 30; i++)
        text[i * 40 + 39] = ' ';
    n = cls_explain_split(text, 1200, NULL, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_uint_eq(n, 25); /* word 25 ends at 999, word 26 at 1039 */
    ck_assert_uint_eq(st[24] + ln[24], 999);
    ck_assert_int_eq(trunc, 1);
    /* trailing punctuation that would cross the byte cap is left out */
    o.max_words = 0;
    o.max_bytes = 10;
    {
        static const char *const w[] = {"abc", "def"};
        split_is("abc def ghi", &o, 1, w, 2);
        split_is("abc def ...", &o, 1, w, 2);
    }
    /* a first word longer than the cap: nothing fits */
    n = cls_explain_split("abcdefghijklmnop q", 18, &o, st, ln, CLS_EXPLAIN_WORDS_LIMIT, &trunc);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(trunc, 1);
}
END_TEST

/* ---- with the shipped model ---------------------------------------------- */

static char g_model[1024];

static int have_model(void)
{
    char p[1200];
    th_data_path(g_model, sizeof g_model, "../../models/finsent-mini");
    snprintf(p, sizeof p, "%s/model.safetensors", g_model);
    return access(p, R_OK) == 0;
}

static cls_classifier_t *make_from(const char *dir, size_t batch, size_t threads)
{
    cls_classifier_opts_t o = {0};
    cls_classifier_t *cl = NULL;
    char err[512] = "";
    o.model_dir = dir;
    o.max_batch = batch;
    o.threads = threads;
    ck_assert_msg(cls_classifier_new(&o, &cl, err, sizeof err) == CORE_OK, "%s", err);
    return cl;
}

static cls_classifier_t *make(size_t batch, size_t threads)
{
    return make_from(g_model, batch, threads);
}

static cls_explanation_t *explain(cls_classifier_t *cl, const char *text, size_t len)
{
    cls_explanation_t *e = NULL;
    char err[512] = "";
    ck_assert_msg(cls_explain(cl, text, len, NULL, &e, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_ptr_nonnull(e);
    return e;
}

static size_t find_word(const cls_explanation_t *e, const char *text, const char *w)
{
    for (size_t i = 0; i < e->n_words; i++)
        if (e->words[i].len == strlen(w) &&
            memcmp(text + e->words[i].start, w, e->words[i].len) == 0)
            return i;
    ck_abort_msg("word '%s' not found", w);
    return 0;
}

START_TEST(negative_headline)
{
    cls_classifier_t *cl;
    cls_explanation_t *e;
    size_t plunge, after;
    const char *t = HEADLINE;

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", g_model);
    cl = make(8, 1);
    e = explain(cl, t, strlen(t));
    ck_assert_int_eq(e->sentiment, CORE_SENT_NEGATIVE);
    ck_assert_float_gt(e->sentiment_p[CORE_SENT_NEGATIVE], 0.6f);
    ck_assert_int_ge(e->topic, 0);
    ck_assert_str_eq(e->topic_label, cls_classifier_topic_labels(cl)[e->topic]);
    ck_assert_uint_eq(e->n_words, 6);
    ck_assert_int_eq(e->truncated, 0);
    ck_assert_uint_eq(e->explained_len, strlen(t));
    ck_assert_uint_eq(e->n_items, 7);
    ck_assert_uint_eq(e->n_batches, 1);
    ck_assert_double_gt(e->ms, 0);
    plunge = find_word(e, t, "plunge");
    after = find_word(e, t, "after");
    ck_assert_uint_eq(e->words[plunge].start, 12);
    ck_assert_uint_eq(e->words[after].start, 19);
    /* "plunge" is what makes it negative: the largest push by far */
    for (size_t i = 0; i < e->n_words; i++) {
        if (i != plunge)
            ck_assert_float_gt(e->words[plunge].delta[CORE_SENT_NEGATIVE] - 0.2f,
                               e->words[i].delta[CORE_SENT_NEGATIVE]);
    }
    ck_assert_float_gt(e->words[plunge].delta[CORE_SENT_NEGATIVE], 0.3f);
    ck_assert_float_lt(fabsf(e->words[after].delta[CORE_SENT_NEGATIVE]), 0.05f);
    /* the three deltas of a word sum to zero (probabilities sum to one) */
    for (size_t i = 0; i < e->n_words; i++) {
        const float *d = e->words[i].delta;
        ck_assert_float_lt(fabsf(d[0] + d[1] + d[2]), 1e-5f);
    }
    /* a delta is p(full) - p(without the word), by hand */
    {
        const char *without = "Acme shares  after refinery explosion";
        size_t len = strlen(without);
        const float *sp, *tp;
        ck_assert_int_eq(cls_classifier_run(cl, &without, &len, 1), CORE_OK);
        sp = cls_classifier_sentiment_probs(cl);
        tp = cls_classifier_topic_probs(cl);
        for (int s = 0; s < 3; s++)
            ck_assert_float_lt(fabsf(e->words[plunge].delta[s] - (e->sentiment_p[s] - sp[s])),
                               1e-6f);
        ck_assert_float_lt(fabsf(e->words[plunge].topic_delta - (e->topic_p - tp[e->topic])),
                           1e-6f);
    }
    cls_explanation_free(e);
    cls_explanation_free(NULL);
    cls_classifier_free(cl);
}
END_TEST

/* more copies than max_batch: several runs, the same numbers; and the
 * number of compute threads changes nothing either */
START_TEST(batch_slices)
{
    const char *t = "Acme Corp ( ACME ) shares plunge 18% after a refinery explosion in Texas; "
                    "analysts cut targets";
    cls_classifier_t *one, *sliced;
    cls_explanation_t *a, *b;

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", g_model);
    one = make(CLS_EXPLAIN_MAX_WORDS + 1, 1);
    sliced = make(3, 2);
    a = explain(one, t, strlen(t));
    b = explain(sliced, t, strlen(t));
    ck_assert_uint_eq(a->n_batches, 1);
    ck_assert_uint_eq(b->n_batches, (a->n_items + 2) / 3);
    ck_assert_uint_eq(a->n_words, b->n_words);
    ck_assert_uint_eq(a->n_words, 15); /* "( ACME )" is one unit */
    ck_assert_int_eq(a->sentiment, b->sentiment);
    ck_assert_int_eq(a->topic, b->topic);
    for (size_t i = 0; i < a->n_words; i++) {
        ck_assert_uint_eq(a->words[i].start, b->words[i].start);
        ck_assert_uint_eq(a->words[i].len, b->words[i].len);
        for (int s = 0; s < 3; s++)
            ck_assert_float_lt(fabsf(a->words[i].delta[s] - b->words[i].delta[s]), 1e-5f);
        ck_assert_float_lt(fabsf(a->words[i].topic_delta - b->words[i].topic_delta), 1e-5f);
    }
    cls_explanation_free(a);
    cls_explanation_free(b);
    cls_classifier_free(one);
    cls_classifier_free(sliced);
}
END_TEST

START_TEST(long_text_truncated)
{
    char text[4000];
    size_t p = 0;
    cls_classifier_t *cl;
    cls_explanation_t *e;
    char small[1024];

    /* The cut is the explainer's, not the model's: a 2-layer test model
     * keeps 65 classifications cheap under the sanitizers. */
    th_data_path(small, sizeof small, "parity/mt_l2_h64_f32");
    for (int i = 0; i < 100; i++)
        p += (size_t)snprintf(text + p, sizeof text - p, "%s ", i % 2 ? "oil" : "falls");
    cl = make_from(small, 16, 2);
    e = explain(cl, text, p);
    ck_assert_uint_eq(e->n_words, 64);
    ck_assert_int_eq(e->truncated, 1);
    ck_assert_uint_eq(e->explained_len, e->words[63].start + e->words[63].len);
    ck_assert_uint_eq(e->n_items, 65);
    ck_assert_uint_eq(e->n_batches, 5);
    cls_explanation_free(e);
    /* 1000 bytes: 40 words of 29 bytes + a space; 33 end within 1000 bytes */
    memset(text, 'a', 1200);
    for (int i = 0; i < 40; i++)
        text[i * 30 + 29] = ' ';
    e = explain(cl, text, 1200);
    ck_assert_uint_eq(e->n_words, 33);
    ck_assert_int_eq(e->truncated, 1);
    ck_assert_uint_le(e->explained_len, 1000);
    cls_explanation_free(e);
    cls_classifier_free(cl);
}
END_TEST

START_TEST(bad_input)
{
    cls_classifier_t *cl;
    cls_explanation_t *e = (cls_explanation_t *)1;
    char err[256], big[1300];
    cls_explain_opts_t o = {.max_words = CLS_EXPLAIN_WORDS_LIMIT + 1};

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", g_model);
    cl = make(4, 1);
    ck_assert_int_eq(cls_explain(cl, "", 0, NULL, &e, err, sizeof err), CORE_EEMPTY_TEXT);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    ck_assert_int_eq(cls_explain(cl, " \t\r\n\xc2\xa0", 6, NULL, &e, err, sizeof err),
                     CORE_EEMPTY_TEXT);
    ck_assert_ptr_nonnull(strstr(err, "no words"));
    ck_assert_int_eq(cls_explain(cl,
                                 "ab\xff"
                                 "cd",
                                 5, NULL, &e, err, sizeof err),
                     CORE_EUTF8);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(err, "invalid UTF-8 at byte 2"));
    ck_assert_int_eq(cls_explain(cl, "caf\xc3", 4, NULL, &e, err, sizeof err), CORE_EUTF8);
    ck_assert_int_eq(cls_explain(cl, "\xed\xa0\x80", 3, NULL, &e, err, sizeof err), CORE_EUTF8);
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(cls_explain(cl, big, sizeof big, NULL, &e, err, sizeof err), CORE_ETOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err, "longer than 1000 bytes"));
    ck_assert_int_eq(cls_explain(cl, "a b", 3, &o, &e, err, sizeof err), CORE_EINVAL);
    ck_assert_ptr_null(e);
    /* not NUL-terminated: only len bytes are read */
    e = explain(cl, "falls sharplyXXXX", 13);
    ck_assert_uint_eq(e->n_words, 2);
    ck_assert_uint_eq(e->explained_len, 13);
    cls_explanation_free(e);
    cls_classifier_free(cl);
}
END_TEST

/* finsent classify --explain end to end: every line gets its explanation,
 * the tagged fields are those of a run without --explain */
START_TEST(classify_command)
{
    const char *tmp = th_tmpdir("explain");
    char in[600], out1[600], out2[600], errp[600], cmd[4000];
    FILE *f;
    json_t *a, *b, *ex, *w;
    char line1[65536], line2[65536];
    int lines = 0;

    if (!have_model())
        TH_SKIP("model", "%s/model.safetensors not found", g_model);
    snprintf(in, sizeof in, "%s/in.jsonl", tmp);
    snprintf(out1, sizeof out1, "%s/plain.jsonl", tmp);
    snprintf(out2, sizeof out2, "%s/explained.jsonl", tmp);
    snprintf(errp, sizeof errp, "%s/err.txt", tmp);
    f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(HEADLINE "\n", f), 0);
    ck_assert_int_ge(
        fputs("{\"id\":\"x1\",\"title\":\"Acme beats estimates\",\"text\":\"Shares rose 5%.\"}\n",
              f),
        0);
    ck_assert_int_ge(fputs("{\"id\":\"x2\",\"text\":\"Gold steady\"}\n", f), 0);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "%s/app/finsent classify --model %s --batch 2 < %s > %s 2> %s && "
             "%s/app/finsent classify --model %s --batch 2 --explain < %s > %s 2>> %s",
             FINSENT_BINARY_DIR, g_model, in, out1, errp, FINSENT_BINARY_DIR, g_model, in, out2,
             errp);
    ck_assert_int_eq(system(cmd), 0);
    {
        FILE *f1 = fopen(out1, "r"), *f2 = fopen(out2, "r");
        ck_assert(f1 && f2);
        while (fgets(line1, sizeof line1, f1)) {
            ck_assert_ptr_nonnull(fgets(line2, sizeof line2, f2));
            a = json_loads(line1, 0, NULL);
            b = json_loads(line2, 0, NULL);
            ck_assert(a && b);
            ex = json_object_get(b, "explain");
            ck_assert(json_is_object(ex));
            json_incref(ex);
            json_object_del(b, "explain");
            json_object_del(a, "ts"); /* the time of reading, for plain text */
            json_object_del(b, "ts");
            ck_assert_msg(json_equal(a, b), "tagged fields differ:\n%s%s", line1, line2);
            ck_assert(json_is_false(json_object_get(ex, "truncated")));
            ck_assert(json_is_number(json_object_get(ex, "ms")));
            w = json_array_get(json_object_get(ex, "words"), 0);
            ck_assert(json_is_string(json_object_get(w, "word")));
            ck_assert_int_eq(json_integer_value(json_object_get(w, "start")), 0);
            ck_assert(json_is_number(json_object_get(json_object_get(w, "delta"), "negative")));
            ck_assert(json_is_number(json_object_get(w, "topic_delta")));
            if (lines == 0) {
                json_t *p = json_array_get(json_object_get(ex, "words"), 2);
                ck_assert_str_eq(json_string_value(json_object_get(p, "word")), "plunge");
                ck_assert_int_eq(json_integer_value(json_object_get(p, "start")), 12);
                ck_assert_int_eq(json_integer_value(json_object_get(p, "len")), 6);
            }
            if (lines == 1) {
                /* title, newline, text: "Shares" starts after the newline */
                json_t *p = json_array_get(json_object_get(ex, "words"), 3);
                ck_assert_str_eq(json_string_value(json_object_get(p, "word")), "Shares");
                ck_assert_int_eq(json_integer_value(json_object_get(p, "start")), 21);
            }
            json_decref(ex);
            json_decref(a);
            json_decref(b);
            lines++;
        }
        ck_assert_ptr_null(fgets(line2, sizeof line2, f2));
        fclose(f1);
        fclose(f2);
    }
    ck_assert_int_eq(lines, 3);
    snprintf(cmd, sizeof cmd, "%s/app/finsent classify --help | grep -q -- --explain",
             FINSENT_BINARY_DIR);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *suite_explain(void)
{
    Suite *s = suite_create("explain");
    TCase *p = tcase_create("split");
    TCase *m = tcase_create("model");
    tcase_add_test(p, split_offsets);
    tcase_add_test(p, split_merges_punctuation);
    tcase_add_test(p, split_caps);
    suite_add_tcase(s, p);
    tcase_set_timeout(m, 120);
    tcase_add_test(m, negative_headline);
    tcase_add_test(m, batch_slices);
    tcase_add_test(m, long_text_truncated);
    tcase_add_test(m, bad_input);
    tcase_add_test(m, classify_command);
    suite_add_tcase(s, m);
    return s;
}
