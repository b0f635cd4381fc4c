/*
 * Tests of classify/cls_model: the parity checkpoints load with the right
 * heads and label orders (multi-task, FinBERT-like id2label, topic-only
 * F16, bare BertModel names in BF16); each kind of broken model directory
 * (made by copying a good one and changing one thing) fails with
 * CORE_EMODEL and a message naming the problem.
 */
#include <check.h>
#include <math.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_bert.h"
#include "classify/cls_model.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

static const char *src_dir(const char *name, char *buf, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "parity/%s", name);
    return th_data_path(buf, cap, rel);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    ck_assert(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Copies parity checkpoint name into a fresh directory; returns its path. */
static const char *copy_model(const char *name)
{
    static char dst[1024];
    const char *files[] = {"config.json", "vocab.txt", "tokenizer_config.json",
                           "model.safetensors"};
    char src[1024];
    snprintf(dst, sizeof dst, "%s", th_tmpdir("model"));
    src_dir(name, src, sizeof src);
    for (size_t i = 0; i < 4; i++) {
        char a[1200], b[1200];
        size_t len;
        char *data;
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", dst, files[i]);
        data = slurp(a, &len);
        ck_assert_int_eq(th_write_file(b, data, len), 0);
        free(data);
    }
    return dst;
}

/* config.json: set key to the JSON value (NULL deletes it). */
static void edit_config(const char *dir, const char *key, const char *json_value)
{
    char path[1200];
    json_error_t e;
    json_t *root;
    snprintf(path, sizeof path, "%s/config.json", dir);
    root = json_load_file(path, 0, &e);
    ck_assert_ptr_nonnull(root);
    if (json_value)
        json_object_set_new(root, key, json_loads(json_value, JSON_DECODE_ANY, &e));
    else
        json_object_del(root, key);
    ck_assert_int_eq(json_dump_file(root, path, 0), 0);
    json_decref(root);
}

/* model.safetensors: edit one tensor's header entry (rename it, or set a
 * field to a JSON value), keeping the data section as it is. */
static void edit_tensor(const char *dir, const char *name, const char *new_name, const char *field,
                        const char *json_value)
{
    char path[1200], *file, *hdr, *out;
    size_t len, hl = 0, ol;
    json_error_t e;
    json_t *root, *t;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    file = slurp(path, &len);
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | (unsigned char)file[i];
    root = json_loadb(file + 8, hl, 0, &e);
    ck_assert_ptr_nonnull(root);
    t = json_object_get(root, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    json_incref(t);
    if (field)
        json_object_set_new(t, field, json_loads(json_value, JSON_DECODE_ANY, &e));
    if (new_name) {
        json_object_del(root, name);
        json_object_set(root, new_name, t);
    }
    json_decref(t);
    hdr = json_dumps(root, JSON_COMPACT);
    ol = strlen(hdr);
    out = malloc(8 + ol + len - 8 - hl);
    for (int i = 0; i < 8; i++)
        out[i] = (char)((uint64_t)ol >> (8 * i));
    memcpy(out + 8, hdr, ol);
    memcpy(out + 8 + ol, file + 8 + hl, len - 8 - hl);
    ck_assert_int_eq(th_write_file(path, out, 8 + ol + len - 8 - hl), 0);
    free(out);
    free(hdr);
    free(file);
    json_decref(root);
}

static void expect_fail(const char *dir, core_err_t want, const char *msg)
{
    cls_model_t *m = NULL;
    char err[512] = "";
    core_err_t rc = cls_model_load(dir, &m, err, sizeof err);
    ck_assert_msg(rc == want, "rc %s (%s), want %s", core_errname(rc), err, core_errname(want));
    ck_assert_msg(strstr(err, msg) != NULL, "error '%s' lacks '%s'", err, msg);
    ck_assert_ptr_null(m);
}

static cls_model_t *load_ok(const char *dir)
{
    cls_model_t *m = NULL;
    char err[512] = "";
    core_err_t rc = cls_model_load(dir, &m, err, sizeof err);
    ck_assert_msg(rc == CORE_OK, "%s: %s", dir, err);
    return m;
}

START_TEST(test_multitask)
{
    char d[1024];
    cls_model_t *m = load_ok(src_dir("mt_l2_h64_f32", d, sizeof d));
    const cls_bert_config_t *c = cls_model_config(m);
    const cls_head_t *t = cls_model_head(m, CLS_HEAD_TOPIC),
                     *s = cls_model_head(m, CLS_HEAD_SENTIMENT);
    ck_assert_uint_eq(c->hidden, 64);
    ck_assert_uint_eq(c->layers, 2);
    ck_assert_uint_eq(c->heads, 4);
    ck_assert_uint_eq(c->intermediate, 128);
    ck_assert_uint_eq(c->vocab_size, 1000);
    ck_assert_int_eq(c->act, CLS_ACT_GELU_ERF);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(t->n_labels, 5);
    ck_assert_str_eq(t->labels[2], "M&A | Investments");
    ck_assert_int_eq(s->order[0], 0);
    ck_assert_int_eq(s->order[2], 2);
    ck_assert_str_eq(cls_model_dtype(m), "F32");
    ck_assert_ptr_nonnull(strstr(cls_model_id(m), "mt_l2_h64_f32@"));
    ck_assert_uint_eq(strlen(strchr(cls_model_id(m), '@') + 1), 12);
    ck_assert_ptr_nonnull(cls_model_weights(m)->pool_w);
    cls_model_free(m);
    cls_model_free(NULL);
}
END_TEST

/* The mapping of /proc/self/maps that holds p: its bounds, 0 if none. */
static int mapping_of(const void *p, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && (uintptr_t)p >= a && (uintptr_t)p < b) {
            *lo = a;
            *hi = b;
            found = strstr(line, "model.safetensors") != NULL;
        }
    }
    fclose(f);
    return found;
}

/* Matrices are read in place from the file mapping; vectors are copies, so
 * that reading a bias at run time does not map the pages of the matrices
 * around it back in after packing dropped them (cls_model.c, get). */
START_TEST(test_vectors_copied)
{
    char d[1024];
    cls_model_t *m = load_ok(src_dir("mt_l2_h64_f32", d, sizeof d));
    const cls_weights_t *w = cls_model_weights(m);
    const cls_layer_weights_t *l = &w->layer[1];
    const float *vec[] = {l->q_b, l->k_b, l->v_b,   l->ao_b,  l->aln_g,    l->aln_b,
                          l->i_b, l->o_b, l->oln_g, l->oln_b, w->emb_ln_g, w->emb_ln_b};
    uintptr_t lo = 0, hi = 0;
    if (!mapping_of(l->q_w, &lo, &hi)) {
        cls_model_free(m);
        TH_SKIP("mmap", "the model's matrices are not in a file mapping of model.safetensors");
    }
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++)
        ck_assert_msg((uintptr_t)vec[i] < lo || (uintptr_t)vec[i] >= hi,
                      "vector %zu lies in the file mapping", i);
    cls_model_free(m);
}
END_TEST

START_TEST(test_finbert_order)
{
    char d[1024];
    cls_model_t *m = load_ok(src_dir("finbert_l1_h32_gelunew_f32", d, sizeof d));
    const cls_head_t *s = cls_model_head(m, CLS_HEAD_SENTIMENT);
    ck_assert_ptr_null(cls_model_head(m, CLS_HEAD_TOPIC));
    ck_assert_ptr_nonnull(s);
    /* labels positive, negative, neutral */
    ck_assert_int_eq(s->order[0], 1);
    ck_assert_int_eq(s->order[1], 2);
    ck_assert_int_eq(s->order[2], 0);
    ck_assert_int_eq(cls_model_config(m)->act, CLS_ACT_GELU_TANH);
    cls_model_free(m);
    m = load_ok(src_dir("bare_l1_h256_bf16", d, sizeof d));
    s = cls_model_head(m, CLS_HEAD_SENTIMENT);
    /* labels NEUTRAL, Positive, negative */
    ck_assert_int_eq(s->order[0], 2);
    ck_assert_int_eq(s->order[1], 0);
    ck_assert_int_eq(s->order[2], 1);
    ck_assert_str_eq(cls_model_dtype(m), "BF16");
    cls_model_free(m);
    m = load_ok(src_dir("topic_l3_h48_relu_f16", d, sizeof d));
    ck_assert_ptr_null(cls_model_head(m, CLS_HEAD_SENTIMENT));
    ck_assert_uint_eq(cls_model_head(m, CLS_HEAD_TOPIC)->n_labels, 5);
    ck_assert_int_eq(cls_model_config(m)->act, CLS_ACT_RELU);
    ck_assert_str_eq(cls_model_dtype(m), "F16");
    cls_model_free(m);
}
END_TEST

START_TEST(test_config_errors)
{
    const char *d;
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "hidden_size", NULL);
    expect_fail(d, CORE_EMODEL, "missing 'hidden_size'");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "num_attention_heads", "5");
    expect_fail(d, CORE_EMODEL, "not divisible by num_attention_heads 5");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "hidden_act", "\"swish\"");
    expect_fail(d, CORE_EMODEL, "unknown hidden_act 'swish'");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "vocab_size", "999");
    expect_fail(d, CORE_EMODEL, "vocab.txt has 1000 lines but config.json vocab_size is 999");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "layer_norm_eps", "\"small\"");
    expect_fail(d, CORE_EMODEL, "layer_norm_eps");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "num_hidden_layers", "-1");
    expect_fail(d, CORE_EMODEL, "'num_hidden_layers' must be an integer");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "sentiment_labels", "[\"bad\", \"neutral\", \"positive\"]");
    expect_fail(d, CORE_EMODEL, "sentiment_labels");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "topic_labels", "[\"a\", \"b\"]");
    expect_fail(d, CORE_EMODEL, "'topic_labels' must be an array of 5 strings");
    d = copy_model("finbert_l1_h32_gelunew_f32");
    edit_config(d, "id2label", "{\"0\": \"a\", \"1\": \"b\", \"7\": \"c\"}");
    expect_fail(d, CORE_EMODEL, "id2label[\"2\"]");
    d = copy_model("mt_l2_h64_f32");
    {
        char p[1200];
        snprintf(p, sizeof p, "%s/config.json", d);
        ck_assert_int_eq(th_write_file(p, "{\"vocab_size\": ", 15), 0);
    }
    expect_fail(d, CORE_EMODEL, "malformed JSON");
    expect_fail("/nonexistent/model", CORE_ENOT_FOUND, "config.json");
}
END_TEST

START_TEST(test_tensor_errors)
{
    const char *d;
    char p[1200], *data;
    size_t len;

    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "bert.encoder.layer.1.attention.self.key.bias", "renamed", NULL, NULL);
    expect_fail(d, CORE_EMODEL, "missing tensor 'bert.encoder.layer.1.attention.self.key.bias'");
    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "bert.encoder.layer.0.output.dense.weight", NULL, "shape", "[128, 64]");
    expect_fail(d, CORE_EMODEL,
                "tensor 'bert.encoder.layer.0.output.dense.weight' has shape [128, 64], expected "
                "[64, 128]");
    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "bert.pooler.dense.bias", NULL, "dtype", "\"I32\"");
    expect_fail(d, CORE_EMODEL, "'bert.pooler.dense.bias' has unsupported dtype I32");
    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "bert.pooler.dense.bias", NULL, "dtype", "\"F8\"");
    expect_fail(d, CORE_EMODEL, "unsupported dtype 'F8'");
    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "sentiment_classifier.weight", NULL, "shape", "[3, 32, 2]");
    expect_fail(d, CORE_EMODEL, "sentiment_classifier.weight");
    /* truncated file */
    d = copy_model("mt_l2_h64_f32");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    data = slurp(p, &len);
    ck_assert_int_eq(th_write_file(p, data, len / 2), 0);
    free(data);
    expect_fail(d, CORE_EMODEL, "outside the file");
    /* no word embeddings under either name */
    d = copy_model("mt_l2_h64_f32");
    edit_tensor(d, "bert.embeddings.word_embeddings.weight", "words", NULL, NULL);
    expect_fail(d, CORE_EMODEL, "missing tensor 'bert.embeddings.word_embeddings.weight'");
    /* missing vocab.txt */
    d = copy_model("mt_l2_h64_f32");
    snprintf(p, sizeof p, "%s/vocab.txt", d);
    ck_assert_int_eq(remove(p), 0);
    expect_fail(d, CORE_ENOT_FOUND, "vocab.txt");
}
END_TEST

/* Calibration temperatures in config.json divide a head's logits before the
 * softmax: logits stay as they were, probabilities become softmax(z / T),
 * the argmax does not move. */
START_TEST(test_temperature)
{
    char src[1024];
    const char *d;
    cls_model_t *m0, *m1;
    cls_bert_t *b0 = NULL, *b1 = NULL;
    int32_t ids[] = {2, 17, 250, 999, 31, 3, 2, 5, 600, 3};
    size_t lens[] = {6, 4};
    const double temp[CLS_HEAD__COUNT] = {0.5, 2.5}; /* topic, sentiment */
    int moved = 0;

    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "topic_temperature", "0.5");
    edit_config(d, "sentiment_temperature", "2.5");
    m0 = load_ok(src_dir("mt_l2_h64_f32", src, sizeof src));
    m1 = load_ok(d);
    ck_assert_float_eq_tol(cls_model_head(m1, CLS_HEAD_SENTIMENT)->inv_temperature, 0.4f, 1e-7f);
    ck_assert_float_eq(cls_model_head(m0, CLS_HEAD_SENTIMENT)->inv_temperature, 1.0f);
    ck_assert_int_eq(cls_bert_new(m0, 2, 16, &b0), CORE_OK);
    ck_assert_int_eq(cls_bert_new(m1, 2, 16, &b1), CORE_OK);
    ck_assert_int_eq(cls_bert_run(b0, ids, lens, 2, 0), CORE_OK);
    ck_assert_int_eq(cls_bert_run(b1, ids, lens, 2, 0), CORE_OK);
    for (int k = 0; k < CLS_HEAD__COUNT; k++) {
        size_t nl = cls_model_head(m1, (cls_head_kind_t)k)->n_labels;
        const float *z0 = cls_bert_logits(b0, (cls_head_kind_t)k),
                    *z1 = cls_bert_logits(b1, (cls_head_kind_t)k),
                    *p0 = cls_bert_probs(b0, (cls_head_kind_t)k),
                    *p1 = cls_bert_probs(b1, (cls_head_kind_t)k);
        for (size_t i = 0; i < 2; i++) {
            double mx = -INFINITY, sum = 0;
            size_t a0 = 0, a1 = 0;
            for (size_t l = 0; l < nl; l++) {
                ck_assert_float_eq(z0[i * nl + l], z1[i * nl + l]);
                mx = fmax(mx, z1[i * nl + l] / temp[k]);
            }
            for (size_t l = 0; l < nl; l++)
                sum += exp(z1[i * nl + l] / temp[k] - mx);
            for (size_t l = 0; l < nl; l++) {
                double want = exp(z1[i * nl + l] / temp[k] - mx) / sum;
                ck_assert_msg(fabs(p1[i * nl + l] - want) <= 1e-6,
                              "head %d item %zu label %zu: %g, want %g", k, i, l, p1[i * nl + l],
                              want);
                moved |= fabsf(p1[i * nl + l] - p0[i * nl + l]) > 1e-3f;
                if (p0[i * nl + l] > p0[i * nl + a0])
                    a0 = l;
                if (p1[i * nl + l] > p1[i * nl + a1])
                    a1 = l;
            }
            ck_assert_uint_eq(a0, a1);
        }
    }
    ck_assert_msg(moved, "the temperatures changed no probability");
    cls_bert_free(b0);
    cls_bert_free(b1);
    cls_model_free(m0);
    cls_model_free(m1);

    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "sentiment_temperature", "0");
    expect_fail(d, CORE_EMODEL, "'sentiment_temperature' must be a number in [0.01, 100]");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "topic_temperature", "\"warm\"");
    expect_fail(d, CORE_EMODEL, "'topic_temperature' must be a number");
    d = copy_model("mt_l2_h64_f32");
    edit_config(d, "topic_temperature", "1e300");
    expect_fail(d, CORE_EMODEL, "'topic_temperature' must be a number");
}
END_TEST

START_TEST(test_random)
{
    cls_bert_config_t c = {.vocab_size = 100,
                           .hidden = 32,
                           .layers = 2,
                           .heads = 4,
                           .intermediate = 64,
                           .max_pos = 16,
                           .type_vocab = 2,
                           .eps = 1e-12f,
                           .act = CLS_ACT_GELU_ERF};
    cls_model_t *m = NULL, *m2 = NULL;
    ck_assert_int_eq(cls_model_new_random(&c, 7, 1, &m), CORE_OK);
    ck_assert_int_eq(cls_model_new_random(&c, 7, 1, &m2), CORE_OK);
    ck_assert_uint_eq(cls_model_head(m, CLS_HEAD_TOPIC)->n_labels, 7);
    ck_assert_ptr_nonnull(cls_model_head(m, CLS_HEAD_SENTIMENT));
    ck_assert_float_eq(cls_model_weights(m)->layer[1].o_w[5],
                       cls_model_weights(m2)->layer[1].o_w[5]);
    cls_model_free(m);
    cls_model_free(m2);
    c.heads = 5;
    ck_assert_int_eq(cls_model_new_random(&c, 0, 1, &m), CORE_EINVAL);
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_multitask);
    tcase_add_test(tc, test_vectors_copied);
    tcase_add_test(tc, test_finbert_order);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_tensor_errors);
    tcase_add_test(tc, test_temperature);
    tcase_add_test(tc, test_random);
    suite_add_tcase(s, tc);
    return s;
}
