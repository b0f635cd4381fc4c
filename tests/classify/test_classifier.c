/*
 * Tests of classify/cls_classifier: texts through tokenizer + encoder +
 * heads match the PyTorch golden probabilities (tests/data/parity), with
 * sentiment always in negative/neutral/positive order (a FinBERT-like
 * positive/negative/neutral checkpoint is reordered); topic and sentiment
 * from two model directories; tagging items fills every core_tagged_t
 * field; bad options and models are refused with the right error; and the
 * `finsent classify` command end to end (order, bad lines, exit status).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "classify/cls_classifier.h"
#include "classify/cls_model.h"
#include "core/core_msg.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

static const char *dir_of(const char *name, char *buf, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "parity/%s", name);
    return th_data_path(buf, cap, rel);
}

static json_t *expected(const char *name)
{
    char d[1024], p[1200];
    json_error_t e;
    json_t *j;
    snprintf(p, sizeof p, "%s/expected.json", dir_of(name, d, sizeof d));
    j = json_load_file(p, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", p, e.text);
    return j;
}

static size_t g_threads = 1;

static cls_classifier_t *make(const char *model, const char *topic, const char *sent, size_t batch)
{
    char a[1024], b[1024], c[1024], err[512] = "";
    cls_classifier_opts_t o = {0};
    cls_classifier_t *cl = NULL;
    o.model_dir = model ? dir_of(model, a, sizeof a) : NULL;
    o.topic_model_dir = topic ? dir_of(topic, b, sizeof b) : NULL;
    o.sentiment_model_dir = sent ? dir_of(sent, c, sizeof c) : NULL;
    o.max_batch = batch;
    o.threads = g_threads;
    ck_assert_msg(cls_classifier_new(&o, &cl, err, sizeof err) == CORE_OK, "%s", err);
    return cl;
}

static void run_texts(cls_classifier_t *cl, json_t *texts)
{
    size_t n = json_array_size(texts);
    const char **t = calloc(n, sizeof *t);
    size_t *l = calloc(n, sizeof *l);
    for (size_t i = 0; i < n; i++) {
        t[i] = json_string_value(json_array_get(texts, i));
        l[i] = strlen(t[i]);
    }
    ck_assert_int_eq(cls_classifier_run(cl, t, l, n), CORE_OK);
    free(t);
    free(l);
}

/* probs[i][k] == golden head probs[i][order[k]] */
static void check_probs(const float *probs, json_t *head, size_t n, size_t nl, const int *order)
{
    json_t *ep = json_object_get(head, "probs");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nl; k++) {
            double want = json_number_value(
                json_array_get(json_array_get(ep, i), order ? (size_t)order[k] : k));
            ck_assert_msg(fabs(probs[i * nl + k] - want) <= 1e-5, "item %zu label %zu: %g vs %g", i,
                          k, probs[i * nl + k], want);
        }
}

/* _i: compute threads 1, 3 (uneven shares) and 32 (more threads than some batches) */
START_TEST(test_one_model)
{
    static const size_t threads[] = {1, 3, 32};
    json_t *g = expected("mt_l2_h64_f32"), *heads = json_object_get(g, "heads");
    size_t n = json_array_size(json_object_get(g, "texts"));
    cls_classifier_t *cl;

    g_threads = threads[_i];
    cl = make("mt_l2_h64_f32", NULL, NULL, n);

    ck_assert_uint_eq(cls_classifier_n_topics(cl), 5);
    ck_assert_str_eq(cls_classifier_topic_labels(cl)[0], "Earnings");
    ck_assert(cls_classifier_has_sentiment(cl));
    ck_assert_ptr_nonnull(strstr(cls_classifier_model_id(cl), "mt_l2_h64_f32@"));
    ck_assert_uint_eq(cls_classifier_max_seq(cl), 64);
    run_texts(cl, json_object_get(g, "texts"));
    check_probs(cls_classifier_topic_probs(cl), json_object_get(heads, "topic_classifier"), n, 5,
                NULL);
    check_probs(cls_classifier_sentiment_probs(cl), json_object_get(heads, "sentiment_classifier"),
                n, 3, NULL);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(cls_classifier_lengths(cl)[i],
                          json_array_size(json_array_get(json_object_get(g, "ids"), i)));
    ck_assert_double_gt(cls_classifier_flops(cl), 0);
    cls_classifier_free(cl);
    cls_classifier_free(NULL);
    json_decref(g);
}
END_TEST

/* The chunk size: BERT-base's dense weights exceed CLS_CHUNK_BIG_BYTES at
 * every precision, finsent-mini's at none, and the boundary is strict
 * (hidden 256, intermediate 512: 0.5 MiB of int8 weights per layer). */
START_TEST(test_chunk_tokens)
{
    cls_bert_config_t base = {.hidden = 768, .layers = 12, .intermediate = 3072};
    cls_bert_config_t mini = {.hidden = 256, .layers = 8, .intermediate = 1024};
    cls_bert_config_t edge = {.hidden = 256, .layers = 64, .intermediate = 512};
    static const cls_precision_t precs[] = {CLS_PREC_FP32, CLS_PREC_BF16, CLS_PREC_INT8};

    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(cls_classifier_chunk_tokens(&base, precs[i]), CLS_CHUNK_TOKENS_BIG);
        ck_assert_uint_eq(cls_classifier_chunk_tokens(&mini, precs[i]), CLS_CHUNK_TOKENS_SMALL);
    }
    ck_assert_uint_eq(cls_classifier_chunk_tokens(&edge, CLS_PREC_INT8), CLS_CHUNK_TOKENS_SMALL);
    ck_assert_uint_eq(cls_classifier_chunk_tokens(&edge, CLS_PREC_BF16), CLS_CHUNK_TOKENS_BIG);
    edge.layers = 65;
    ck_assert_uint_eq(cls_classifier_chunk_tokens(&edge, CLS_PREC_INT8), CLS_CHUNK_TOKENS_BIG);
}
END_TEST

/* A batch smaller than the thread count runs as a team (each dense
 * layer's columns and the attention heads split between the threads: 3
 * parts of this model's 4 heads take 1, 1 and 2): single items with 3
 * threads give what 1 thread gives, at each precision (packed kernels, our
 * own fp32 GEMM included: bit for bit, every element is computed the same
 * way; fp32 on OpenBLAS: it may block a narrower product differently, last
 * bits). _i: fp32 OpenBLAS, fp32 own, bf16, int8. */
START_TEST(test_team_equals_single_thread)
{
    static const cls_precision_t precs[] = {CLS_PREC_FP32, CLS_PREC_FP32, CLS_PREC_BF16,
                                            CLS_PREC_INT8};
    json_t *g = expected("mt_l2_h64_f32"), *texts = json_object_get(g, "texts");
    size_t n = json_array_size(texts);
    char a[1024], err[512] = "";
    cls_classifier_t *cl[2] = {NULL, NULL};
    double tol = _i == 0 ? 1e-6 : 0.0;

    setenv("FINSENT_TEAM_MIN_MACS", "1", 1); /* fork mode: this process only */
    setenv("FINSENT_FP32_GEMM", _i == 0 ? "blas" : "own", 1);
    for (int k = 0; k < 2; k++) {
        cls_classifier_opts_t o = {0};
        o.model_dir = dir_of("mt_l2_h64_f32", a, sizeof a);
        o.max_batch = 4;
        o.threads = k ? 3 : 1;
        o.precision = precs[_i];
        ck_assert_msg(cls_classifier_new(&o, &cl[k], err, sizeof err) == CORE_OK, "%s", err);
        ck_assert_int_eq(cls_classifier_precision(cl[k]), precs[_i]);
        if (_i < 2) {
            ck_assert_str_eq(cls_classifier_kernels(cl[k]),
                             _i == 0 ? "openblas" : cls_lowp_get(CLS_PREC_FP32)->name);
            ck_assert(_i == 0 ? cls_classifier_packed_bytes(cl[k]) == 0
                              : cls_classifier_packed_bytes(cl[k]) > 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(texts, i));
        size_t l = strlen(t);
        float p[2][8];
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(cls_classifier_run(cl[k], &t, &l, 1), CORE_OK);
            memcpy(p[k], cls_classifier_topic_probs(cl[k]), 5 * sizeof(float));
            memcpy(p[k] + 5, cls_classifier_sentiment_probs(cl[k]), 3 * sizeof(float));
        }
        for (int j = 0; j < 8; j++)
            ck_assert_msg(fabs(p[0][j] - p[1][j]) <= tol, "%s item %zu prob %d: %g vs team %g",
                          cls_precision_name(precs[_i]), i, j, p[0][j], p[1][j]);
    }
    /* a full batch after team runs still splits as shares */
    {
        const char *t[4];
        size_t l[4];
        for (int i = 0; i < 4; i++) {
            t[i] = json_string_value(json_array_get(texts, (size_t)i));
            l[i] = strlen(t[i]);
        }
        ck_assert_int_eq(cls_classifier_run(cl[1], t, l, 4), CORE_OK);
        ck_assert_int_eq(cls_classifier_run(cl[0], t, l, 4), CORE_OK);
        for (int j = 0; j < 4 * 3; j++)
            ck_assert(fabs(cls_classifier_sentiment_probs(cl[0])[j] -
                           cls_classifier_sentiment_probs(cl[1])[j]) <= 1e-5);
    }
    cls_classifier_free(cl[0]);
    cls_classifier_free(cl[1]);
    json_decref(g);
}
END_TEST

/* A batch is cut into chunks of about equal token counts that the workers
 * take from a shared counter: however it is cut (1, 2, 5 or 64 chunks per
 * worker, the last one item per chunk), every item is run exactly once
 * (the flops equal one thread's) and gives what one thread gives: bit for
 * bit at fp32 on our own GEMM; at int8 the pooler and heads run fp32 on
 * OpenBLAS, whose last bits depend on how many rows a call has. _i: fp32
 * own, int8. */
START_TEST(test_chunks_equal_single_thread)
{
    static const cls_precision_t precs[] = {CLS_PREC_FP32, CLS_PREC_INT8};
    static const char *const per_worker[] = {"1", "2", "5", "64"};
    json_t *g = expected("mt_l2_h64_f32"), *texts = json_object_get(g, "texts");
    size_t n = json_array_size(texts);
    const char **t = calloc(n, sizeof *t);
    size_t *l = calloc(n, sizeof *l);
    float *want_s = calloc(n * 3, sizeof *want_s), *want_t = calloc(n * 5, sizeof *want_t);
    double want_flops = 0, tol = _i ? 1e-6 : 0.0;
    char a[1024], err[512] = "";

    ck_assert_uint_ge(n, 4);
    for (size_t i = 0; i < n; i++) {
        t[i] = json_string_value(json_array_get(texts, i));
        l[i] = strlen(t[i]);
    }
    setenv("FINSENT_FP32_GEMM", "own", 1); /* fork mode: this process only */
    for (int k = -1; k < 4; k++) {
        cls_classifier_opts_t o = {0};
        cls_classifier_t *cl = NULL;
        if (k >= 0)
            setenv("FINSENT_CHUNKS_PER_WORKER", per_worker[k], 1);
        o.model_dir = dir_of("mt_l2_h64_f32", a, sizeof a);
        o.max_batch = n;
        o.threads = k < 0 ? 1 : 2;
        o.precision = precs[_i];
        ck_assert_msg(cls_classifier_new(&o, &cl, err, sizeof err) == CORE_OK, "%s", err);
        ck_assert_int_eq(cls_classifier_run(cl, t, l, n), CORE_OK);
        if (k < 0) {
            memcpy(want_s, cls_classifier_sentiment_probs(cl), n * 3 * sizeof(float));
            memcpy(want_t, cls_classifier_topic_probs(cl), n * 5 * sizeof(float));
            want_flops = cls_classifier_flops(cl);
        } else {
            for (size_t j = 0; j < n * 3; j++)
                ck_assert_msg(fabs(cls_classifier_sentiment_probs(cl)[j] - want_s[j]) <= tol,
                              "%s, %s chunks per worker: sentiment %zu: %g vs %g",
                              cls_precision_name(precs[_i]), per_worker[k], j,
                              cls_classifier_sentiment_probs(cl)[j], want_s[j]);
            for (size_t j = 0; j < n * 5; j++)
                ck_assert_msg(fabs(cls_classifier_topic_probs(cl)[j] - want_t[j]) <= tol,
                              "%s, %s chunks per worker: topic %zu: %g vs %g",
                              cls_precision_name(precs[_i]), per_worker[k], j,
                              cls_classifier_topic_probs(cl)[j], want_t[j]);
            ck_assert_msg(cls_classifier_flops(cl) == want_flops, "flops %g vs %g",
                          cls_classifier_flops(cl), want_flops);
        }
        cls_classifier_free(cl);
    }
    free(t);
    free(l);
    free(want_s);
    free(want_t);
    json_decref(g);
}
END_TEST

START_TEST(test_two_models_and_order)
{
    json_t *gt = expected("topic_l3_h48_relu_f16"), *gs = expected("finbert_l1_h32_gelunew_f32");
    size_t n = json_array_size(json_object_get(gt, "texts"));
    static const int finbert_order[3] = {1, 2, 0}; /* positive, negative, neutral */
    cls_classifier_t *cl;

    g_threads = (size_t)_i + 1;
    cl = make(NULL, "topic_l3_h48_relu_f16", "finbert_l1_h32_gelunew_f32", n);

    ck_assert_ptr_nonnull(strchr(cls_classifier_model_id(cl), '+'));
    run_texts(cl, json_object_get(gt, "texts"));
    check_probs(cls_classifier_topic_probs(cl),
                json_object_get(json_object_get(gt, "heads"), "classifier"), n, 5, NULL);
    check_probs(cls_classifier_sentiment_probs(cl),
                json_object_get(json_object_get(gs, "heads"), "classifier"), n, 3, finbert_order);
    cls_classifier_free(cl);
    /* a sentiment-only model: no topic */
    cl = make("finbert_l1_h32_gelunew_f32", NULL, NULL, 4);
    ck_assert_uint_eq(cls_classifier_n_topics(cl), 0);
    ck_assert_ptr_null(cls_classifier_topic_probs(cl));
    cls_classifier_free(cl);
    json_decref(gt);
    json_decref(gs);
}
END_TEST

START_TEST(test_tag)
{
    cls_classifier_t *cl = make("mt_l4_h96_tanh_f16", NULL, NULL, 2);
    core_tagged_t *t[2];
    const char *text = "Oil prices tumble as OPEC+ output deal collapses";
    const char *joined = "\nOil prices tumble as OPEC+ output deal collapses";
    size_t jl = strlen(joined);
    float sp[3];
    char *js = NULL;
    size_t len;

    for (int i = 0; i < 2; i++) {
        core_item_t *it = NULL;
        ck_assert_int_eq(core_item_new(&it), CORE_OK);
        ck_assert_int_eq(core_item_set(it, &it->text, text, strlen(text)), CORE_OK);
        if (i == 1)
            ck_assert_int_eq(core_item_set(it, &it->title, "Breaking", 8), CORE_OK);
        ck_assert_int_eq(core_tagged_new(it, &t[i]), CORE_OK);
    }
    ck_assert_int_eq(cls_classifier_tag(cl, t, 2), CORE_OK);
    ck_assert_uint_eq(t[0]->n_topics, 7);
    ck_assert_ptr_eq(t[0]->topic_labels, cls_classifier_topic_labels(cl));
    ck_assert_int_ge(t[0]->sentiment, 0);
    ck_assert_str_eq(t[0]->model, cls_classifier_model_id(cl));
    {
        size_t best = 0;
        for (size_t k = 1; k < 7; k++)
            if (t[0]->topic_probs[k] > t[0]->topic_probs[best])
                best = k;
        ck_assert_str_eq(t[0]->topic, t[0]->topic_labels[best]);
        ck_assert_float_eq(t[0]->topic_p, t[0]->topic_probs[best]);
        ck_assert(t[0]->sentiment_p[t[0]->sentiment] >= t[0]->sentiment_p[0] &&
                  t[0]->sentiment_p[t[0]->sentiment] >= t[0]->sentiment_p[2]);
    }
    /* an item is the title and text joined by a newline */
    memcpy(sp, t[0]->sentiment_p, sizeof sp);
    {
        const char *tx[1] = {joined};
        ck_assert_int_eq(cls_classifier_run(cl, tx, &jl, 1), CORE_OK);
        for (int k = 0; k < 3; k++)
            ck_assert_float_eq_tol(cls_classifier_sentiment_probs(cl)[k], sp[k], 1e-6f);
    }
    ck_assert_int_eq(core_msg_encode_tagged(t[1], &js, &len), CORE_OK);
    ck_assert_ptr_nonnull(strstr(js, "\"topic_probs\":{\"Earnings\":"));
    ck_assert_ptr_nonnull(strstr(js, "\"sentiment_p\":{\"negative\":"));
    free(js);
    ck_assert_int_eq(cls_classifier_tag(cl, t, 3), CORE_EINVAL);
    core_tagged_free(t[0]);
    core_tagged_free(t[1]);
    cls_classifier_free(cl);
}
END_TEST

START_TEST(test_errors)
{
    char a[1024], b[1024], err[512] = "";
    cls_classifier_opts_t o = {0};
    cls_classifier_t *cl = NULL;

    o.max_batch = 4;
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_EINVAL);
    o.model_dir = "/nonexistent/dir";
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_ENOT_FOUND);
    o.model_dir = dir_of("mt_l2_h64_f32", a, sizeof a);
    o.sentiment_model_dir = dir_of("topic_l3_h48_relu_f16", b, sizeof b);
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "no sentiment head"));
    o.sentiment_model_dir = NULL;
    o.topic_model_dir = dir_of("finbert_l1_h32_gelunew_f32", b, sizeof b);
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "no topic head"));
    o.topic_model_dir = NULL;
    o.threads = 1000;
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_EINVAL);
    o.threads = 2;
    o.max_batch = 0;
    ck_assert_int_eq(cls_classifier_new(&o, &cl, err, sizeof err), CORE_EINVAL);
    ck_assert_ptr_null(cl);
}
END_TEST

/* finsent classify end to end */
START_TEST(test_command)
{
    const char *dir = th_tmpdir("classify");
    char in[1100], out[1100], errp[1100], cmd[4096], model[1024], line[8192];
    const char *input = "{\"id\":\"x1\",\"text\":\"$AAPL beats estimates\"}\n"
                        "{\"text\": 5}\n"
                        "\n"
                        "Oil prices tumble\n"
                        "{\"id\":\"x3\",\"title\":\"Fed hikes\",\"ts\":\"2026-11-28T10:00:00Z\"}\n";
    FILE *f;
    int status, n = 0;

    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    snprintf(errp, sizeof errp, "%s/err.txt", dir);
    ck_assert_int_eq(th_write_file(in, input, strlen(input)), 0);
    snprintf(cmd, sizeof cmd,
             "%s/app/finsent classify --model %s --batch 2 --threads 2 < %s > %s 2> %s",
             FINSENT_BINARY_DIR, dir_of("mt_l2_h64_f32", model, sizeof model), in, out, errp);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        ck_assert_msg(j != NULL, "output line not JSON: %s", line);
        if (n == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "x1");
            ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "entities"), 0)),
                             "AAPL");
        } else if (n == 1) {
            ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "stdin");
        } else {
            ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "x3");
            ck_assert_str_eq(json_string_value(json_object_get(j, "ts")),
                             "2026-11-28T10:00:00.000Z");
        }
        ck_assert_ptr_nonnull(json_object_get(j, "topic_probs"));
        ck_assert_ptr_nonnull(json_object_get(j, "sentiment"));
        json_decref(j);
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 3);
    f = fopen(errp, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(strstr(line, "line 2: field 'text' must be a string") != NULL, "%s", line);
    fclose(f);
    /* all good: exit 0 */
    snprintf(cmd, sizeof cmd,
             "printf 'one\\ntwo\\n' | %s/app/finsent classify --model %s > %s 2> %s",
             FINSENT_BINARY_DIR, model, out, errp);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    /* bad model: exit 1 with the reason */
    snprintf(cmd, sizeof cmd, "echo x | %s/app/finsent classify --model /nonexistent 2> %s > %s",
             FINSENT_BINARY_DIR, errp, out);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    /* usage error */
    snprintf(cmd, sizeof cmd, "%s/app/finsent classify --batch 0 2> %s", FINSENT_BINARY_DIR, errp);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
}
END_TEST

/* finsent eval end to end: head chosen from the labels, metrics printed,
 * predictions file written; bad files refused. */
START_TEST(test_eval_command)
{
    const char *dir = th_tmpdir("eval");
    char tsv[1100], tsv2[1100], out[1100], pred[1300], cmd[4096], model[1024], line[4096];
    const char *good = "text\tlabel\nStocks rally\tpositive\nOil falls\tNEGATIVE\nno label here\n"
                       "Fed holds rates\tneutral\n";
    const char *topics = "text\tlabel\nStocks rally\tMarkets\nBig deal\tM&A | Investments\n";
    FILE *f;
    int status, rows = 0, acc = 0, topic_head = 0;

    snprintf(tsv, sizeof tsv, "%s/sent.tsv", dir);
    snprintf(tsv2, sizeof tsv2, "%s/topic.tsv", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    ck_assert_int_eq(th_write_file(tsv, good, strlen(good)), 0);
    ck_assert_int_eq(th_write_file(tsv2, topics, strlen(topics)), 0);
    snprintf(cmd, sizeof cmd, "%s/app/finsent eval --model %s --out %s %s %s > %s 2>&1",
             FINSENT_BINARY_DIR, dir_of("mt_l2_h64_f32", model, sizeof model), dir, tsv, tsv2, out);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    f = fopen(out, "r");
    while (fgets(line, sizeof line, f)) {
        acc += strncmp(line, "accuracy ", 9) == 0;
        topic_head += strstr(line, "topic head of mt_l2_h64_f32@") != NULL;
        if (strstr(line, "sent.tsv: 3 items (1 skipped), sentiment head"))
            rows++;
    }
    fclose(f);
    ck_assert_int_eq(acc, 2);
    ck_assert_int_eq(topic_head, 1);
    ck_assert_int_eq(rows, 1);
    snprintf(pred, sizeof pred, "%s/%s_sent.pred.tsv", dir, strrchr(dir, '/') + 1);
    f = fopen(pred, "r");
    ck_assert_msg(f != NULL, "%s", pred);
    rows = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(
        line, "index\tgold\tpred\ttopic\ttopic_p\tsentiment\tp_negative\tp_neutral\tp_positive\n");
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    ck_assert_int_eq(rows, 3);
    /* unknown label, bad header: exit 1 */
    ck_assert_int_eq(th_write_file(tsv, "text\tlabel\nx\tbullish\n", 20), 0);
    snprintf(cmd, sizeof cmd, "%s/app/finsent eval --model %s %s > %s 2>&1", FINSENT_BINARY_DIR,
             model, tsv, out);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    ck_assert_int_eq(th_write_file(tsv, "sentence,label\nx\tpositive\n", 26), 0);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
}
END_TEST

/* finsent bench runs (no timing asserted): synthetic fixed mode and the
 * real-text mode, which reports packed and padded. */
START_TEST(test_bench_command)
{
    const char *dir = th_tmpdir("bench");
    char tsv[1100], out[1100], cmd[4096], model[1024], line[4096];
    const char *texts = "text\tlabel\nStocks rally\tpositive\nOil falls sharply on supply "
                        "fears\tnegative\nFed\tneutral\n";
    FILE *f;
    int status, packed = 0, padded = 0, fixed = 0;

    snprintf(tsv, sizeof tsv, "%s/t.tsv", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    ck_assert_int_eq(th_write_file(tsv, texts, strlen(texts)), 0);
    snprintf(cmd, sizeof cmd,
             "%s/app/finsent bench --json --layers 1 --hidden 32 --heads 2 --intermediate 64 "
             "--vocab 100 --seq-len 8 --batch 4 --runs 1 --iters 1 > %s && "
             "%s/app/finsent bench --json --model %s --texts %s --batch 2 --runs 1 --iters 2 "
             "--workers 1 >> %s",
             FINSENT_BINARY_DIR, out, FINSENT_BINARY_DIR,
             dir_of("mt_l2_h64_f32", model, sizeof model), tsv, out);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    f = fopen(out, "r");
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        const char *mode;
        ck_assert_msg(j != NULL, "not JSON: %s", line);
        mode = json_string_value(json_object_get(j, "mode"));
        ck_assert_double_gt(json_number_value(json_object_get(j, "items_per_s")), 0);
        ck_assert_double_gt(json_number_value(json_object_get(j, "gflops")), 0);
        fixed += strcmp(mode, "fixed") == 0;
        packed += strcmp(mode, "packed") == 0;
        padded += strcmp(mode, "padded") == 0;
        json_decref(j);
    }
    fclose(f);
    ck_assert_int_eq(fixed, 1);
    ck_assert_int_eq(packed, 1);
    ck_assert_int_eq(padded, 1);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s/app/finsent bench --hidden 30 --heads 4 2>/dev/null",
             FINSENT_BINARY_DIR);
    status = system(cmd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
}
END_TEST

Suite *suite_classifier(void)
{
    Suite *s = suite_create("classifier");
    TCase *tc = tcase_create("classifier");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_team_equals_single_thread, 0, 4);
    tcase_add_test(tc, test_chunk_tokens);
    tcase_add_loop_test(tc, test_one_model, 0, 3);
    tcase_add_loop_test(tc, test_chunks_equal_single_thread, 0, 2);
    tcase_add_loop_test(tc, test_two_models_and_order, 0, 2);
    tcase_add_test(tc, test_tag);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_command);
    tcase_add_test(tc, test_eval_command);
    tcase_add_test(tc, test_bench_command);
    suite_add_tcase(s, tc);
    return s;
}
