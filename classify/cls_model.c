/*
 * cls_model: see cls_model.h. Loading runs in this order, each step
 * returning at the first error: config.json (jansson) -> vocab.txt line
 * count -> model.safetensors (cls_st_open) -> encoder tensors -> heads and
 * their labels. Converted tensors (F16/BF16, or misaligned F32) are kept in
 * a list of heap blocks owned by the model.
 */
#include "classify/cls_model.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <strings.h>

#include "classify/cls_safetensors.h"
#include "classify/kernels/cls_lowp.h"
#include "core/core_alloc.h"

struct cls_model {
    char *dir;
    char id[160];
    const char *dtype;
    cls_bert_config_t cfg;
    cls_weights_t w;
    cls_layer_weights_t *layers;
    cls_head_t heads[CLS_HEAD__COUNT];
    int has_head[CLS_HEAD__COUNT];
    char **labels[CLS_HEAD__COUNT]; /* owned label strings */
    unsigned precisions; /* bit (1 << cls_precision_t) per allowed precision */
    cls_st_t *st;
    float **owned; /* converted tensors */
    size_t n_owned, cap_owned;
};

static void free_labels(char **labels, size_t n)
{
    if (!labels)
        return;
    for (size_t i = 0; i < n; i++)
        core_free(labels[i]);
    core_free(labels);
}

void cls_model_free(cls_model_t *m)
{
    if (!m)
        return;
    for (int k = 0; k < CLS_HEAD__COUNT; k++)
        free_labels(m->labels[k], m->heads[k].n_labels);
    for (size_t i = 0; i < m->n_owned; i++)
        core_free(m->owned[i]);
    core_free(m->owned);
    core_free(m->layers);
    cls_st_free(m->st);
    core_free(m->dir);
    core_free(m);
}

static float *own(cls_model_t *m, size_t n)
{
    float *p;
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **g = core_realloc(m->owned, cap * sizeof *g);
        if (!g)
            return NULL;
        m->owned = g;
        m->cap_owned = cap;
    }
    p = core_malloc(n ? n * sizeof(float) : sizeof(float));
    if (p)
        m->owned[m->n_owned++] = p;
    return p;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24 */
        f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* get: the tensor name with shape (d0) or (d0, d1) as float32. */
static core_err_t get(cls_model_t *m, const char *name, size_t d0, size_t d1, const float **out,
                      char *err, size_t errlen)
{
    const cls_st_tensor_t *t = cls_st_find(m->st, name);
    int ndim = d1 ? 2 : 1;
    size_t n = d1 ? d0 * d1 : d0;
    float *f;

    if (!t) {
        core_err_set(err, errlen, "%s/model.safetensors: missing tensor '%s'", m->dir, name);
        return CORE_EMODEL;
    }
    if (t->ndim != ndim || (uint64_t)t->shape[0] != d0 ||
        (ndim == 2 && (uint64_t)t->shape[1] != d1)) {
        char found[128] = "[";
        size_t o = 1;
        for (int i = 0; i < t->ndim && o < sizeof found; i++)
            o += (size_t)snprintf(found + o, sizeof found - o, "%s%lld", i ? ", " : "",
                                  (long long)t->shape[i]);
        snprintf(found + (o < sizeof found ? o : sizeof found - 2), 2, "]");
        if (ndim == 2)
            core_err_set(err, errlen,
                         "%s/model.safetensors: tensor '%s' has shape %s, expected [%zu, %zu]",
                         m->dir, name, found, d0, d1);
        else
            core_err_set(err, errlen,
                         "%s/model.safetensors: tensor '%s' has shape %s, expected [%zu]", m->dir,
                         name, found, d0);
        return CORE_EMODEL;
    }
    /* Matrices are read where they lie in the file mapping. Vectors
     * (biases, LayerNorm) are copied: the packed engines drop the
     * matrices' pages once packed, and a read of a bias there faulted the
     * pages around it back in, up to a whole large folio of the page cache
     * (int8 BERT-base: 208 MB of dropped fp32 weights mapped again by the
     * first batch). */
    if (t->dtype == CLS_DT_F32 && ((uintptr_t)t->data & 3) == 0 && ndim == 2) {
        *out = t->data;
        return CORE_OK;
    }
    if (t->dtype != CLS_DT_F32 && t->dtype != CLS_DT_F16 && t->dtype != CLS_DT_BF16) {
        core_err_set(err, errlen,
                     "%s/model.safetensors: tensor '%s' has unsupported dtype %s (F32, F16 or BF16 "
                     "expected)",
                     m->dir, name, cls_dtype_name(t->dtype));
        return CORE_EMODEL;
    }
    if (!(f = own(m, n)))
        return CORE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)t->data + i * cls_dtype_size(t->dtype);
        if (t->dtype == CLS_DT_F32) {
            memcpy(&f[i], p, 4);
        } else {
            uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
            if (t->dtype == CLS_DT_F16) {
                f[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&f[i], &bits, 4);
            }
        }
    }
    *out = f;
    return CORE_OK;
}

static core_err_t cfg_size(json_t *root, const char *dir, const char *key, size_t def, size_t lo,
                           size_t hi, size_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        if (def) {
            *out = def;
            return CORE_OK;
        }
        core_err_set(err, errlen, "%s/config.json: missing '%s'", dir, key);
        return CORE_EMODEL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi) {
        core_err_set(err, errlen, "%s/config.json: '%s' must be an integer in [%zu, %zu]", dir, key,
                     lo, hi);
        return CORE_EMODEL;
    }
    *out = (size_t)json_integer_value(v);
    return CORE_OK;
}

/* 'finsent_precisions': the precisions the engine may run this model at
 * (a non-empty array of "fp32", "bf16", "int8"); absent: all. fp32 is
 * always allowed (it is the exact reference). */
static core_err_t parse_precisions(cls_model_t *m, json_t *root, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "finsent_precisions"), *e;
    size_t i;

    m->precisions = 1u << CLS_PREC_FP32 | 1u << CLS_PREC_BF16 | 1u << CLS_PREC_INT8;
    if (!v)
        return CORE_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 8) {
        core_err_set(err, errlen,
                     "%s/config.json: 'finsent_precisions' must be a non-empty array of \"fp32\", "
                     "\"bf16\", \"int8\"",
                     m->dir);
        return CORE_EMODEL;
    }
    m->precisions = 1u << CLS_PREC_FP32;
    json_array_foreach(v, i, e)
    {
        cls_precision_t p;
        if (!json_is_string(e) || cls_precision_parse(json_string_value(e), &p) != 0 ||
            p == CLS_PREC_AUTO) {
            core_err_set(err, errlen,
                         "%s/config.json: 'finsent_precisions'[%zu] is not one of \"fp32\", "
                         "\"bf16\", \"int8\"",
                         m->dir, i);
            return CORE_EMODEL;
        }
        m->precisions |= 1u << p;
    }
    return CORE_OK;
}

static core_err_t parse_config(cls_model_t *m, json_t *root, char *err, size_t errlen)
{
    cls_bert_config_t *c = &m->cfg;
    json_t *v;
    core_err_t rc;
    const char *act;

    if ((rc = cfg_size(root, m->dir, "vocab_size", 0, 5, 1 << 24, &c->vocab_size, err, errlen)) ||
        (rc = cfg_size(root, m->dir, "hidden_size", 0, 1, 16384, &c->hidden, err, errlen)) ||
        (rc = cfg_size(root, m->dir, "num_hidden_layers", 0, 1, 256, &c->layers, err, errlen)) ||
        (rc = cfg_size(root, m->dir, "num_attention_heads", 0, 1, 1024, &c->heads, err, errlen)) ||
        (rc = cfg_size(root, m->dir, "intermediate_size", 0, 1, 65536, &c->intermediate, err,
                       errlen)) ||
        (rc = cfg_size(root, m->dir, "max_position_embeddings", 0, 2, 65536, &c->max_pos, err,
                       errlen)) ||
        (rc = cfg_size(root, m->dir, "type_vocab_size", 2, 1, 1024, &c->type_vocab, err, errlen)))
        return rc;
    if (c->hidden % c->heads) {
        core_err_set(err, errlen,
                     "%s/config.json: hidden_size %zu is not divisible by num_attention_heads %zu",
                     m->dir, c->hidden, c->heads);
        return CORE_EMODEL;
    }
    c->eps = 1e-12f;
    v = json_object_get(root, "layer_norm_eps");
    if (v) {
        if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1) {
            core_err_set(err, errlen, "%s/config.json: 'layer_norm_eps' must be a number in (0, 1]",
                         m->dir);
            return CORE_EMODEL;
        }
        c->eps = (float)json_number_value(v);
    }
    v = json_object_get(root, "hidden_act");
    act = v ? json_string_value(v) : "gelu";
    if (!act) {
        core_err_set(err, errlen, "%s/config.json: 'hidden_act' must be a string", m->dir);
        return CORE_EMODEL;
    }
    if (strcmp(act, "gelu") == 0)
        c->act = CLS_ACT_GELU_ERF;
    else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 ||
             strcmp(act, "gelu_fast") == 0)
        c->act = CLS_ACT_GELU_TANH;
    else if (strcmp(act, "relu") == 0)
        c->act = CLS_ACT_RELU;
    else {
        core_err_set(
            err, errlen,
            "%s/config.json: unknown hidden_act '%.40s' (gelu, gelu_new, gelu_pytorch_tanh, "
            "gelu_fast or relu)",
            m->dir, act);
        return CORE_EMODEL;
    }
    return parse_precisions(m, root, err, errlen);
}

/* Counts vocab.txt lines (a final line without newline counts). */
static core_err_t vocab_lines(const char *dir, size_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX], buf[65536];
    FILE *fp;
    size_t n = 0, got;
    int last = '\n';

    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    fp = fopen(path, "rb");
    if (!fp) {
        core_err_set(err, errlen, "%s: cannot open", path);
        return CORE_ENOT_FOUND;
    }
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) {
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
        last = (unsigned char)buf[got - 1];
    }
    fclose(fp);
    *out = n + (last != '\n');
    return CORE_OK;
}

static core_err_t str_array(json_t *a, size_t n_expected, const char *what, const char *dir,
                            char ***out, char *err, size_t errlen)
{
    char **l;
    if (!json_is_array(a) || json_array_size(a) != n_expected) {
        core_err_set(
            err, errlen,
            "%s/config.json: '%s' must be an array of %zu strings (the head has %zu outputs)", dir,
            what, n_expected, n_expected);
        return CORE_EMODEL;
    }
    if (!(l = core_calloc(n_expected ? n_expected : 1, sizeof *l)))
        return CORE_ENOMEM;
    for (size_t i = 0; i < n_expected; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !*s || strlen(s) >= 64) {
            core_err_set(err, errlen,
                         "%s/config.json: '%s'[%zu] must be a non-empty string under 64 bytes", dir,
                         what, i);
            free_labels(l, n_expected);
            return CORE_EMODEL;
        }
        if (!(l[i] = core_strdup(s))) {
            free_labels(l, n_expected);
            return CORE_ENOMEM;
        }
    }
    *out = l;
    return CORE_OK;
}

/* id2label {"0": "...", ...} or LABEL_i when absent. */
static core_err_t id2label(json_t *root, size_t n, const char *dir, char ***out, char *err,
                           size_t errlen)
{
    json_t *o = json_object_get(root, "id2label");
    char **l = core_calloc(n ? n : 1, sizeof *l);
    core_err_t rc = CORE_EMODEL;

    if (!l)
        return CORE_ENOMEM;
    if (o && (!json_is_object(o) || json_object_size(o) != n)) {
        core_err_set(err, errlen, "%s/config.json: 'id2label' must be an object with %zu entries",
                     dir, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char key[32], def[32];
        const char *s;
        snprintf(key, sizeof key, "%zu", i);
        snprintf(def, sizeof def, "LABEL_%zu", i);
        s = o ? json_string_value(json_object_get(o, key)) : def;
        if (!s || !*s || strlen(s) >= 64) {
            core_err_set(
                err, errlen,
                "%s/config.json: id2label[\"%s\"] is missing or not a non-empty string under "
                "64 bytes",
                dir, key);
            goto out;
        }
        if (!(l[i] = core_strdup(s))) {
            rc = CORE_ENOMEM;
            goto out;
        }
    }
    *out = l;
    l = NULL;
    rc = CORE_OK;
out:
    free_labels(l, n);
    return rc;
}

/* 1 when the 3 labels are negative/neutral/positive in some order; fills order. */
static int sentiment_order(char *const *labels, size_t n, int order[3])
{
    static const char *const want[3] = {"negative", "neutral", "positive"};
    if (n != 3)
        return 0;
    for (int k = 0; k < 3; k++) {
        order[k] = -1;
        for (int i = 0; i < 3; i++)
            if (strcasecmp(labels[i], want[k]) == 0)
                order[k] = i;
        if (order[k] < 0)
            return 0;
    }
    return order[0] != order[1] && order[1] != order[2] && order[0] != order[2];
}

/* Calibration: config.json 'topic_temperature' / 'sentiment_temperature'
 * (fitted on validation data by models/train/calibrate.py) divide the head's
 * logits before the softmax. Absent means 1. */
static core_err_t head_temperature(cls_model_t *m, json_t *root, cls_head_kind_t kind,
                                   cls_head_t *h, char *err, size_t errlen)
{
    const char *key = kind == CLS_HEAD_TOPIC ? "topic_temperature" : "sentiment_temperature";
    json_t *v = json_object_get(root, key);
    double t;

    h->inv_temperature = 1.0f;
    if (!v)
        return CORE_OK;
    t = json_is_number(v) ? json_number_value(v) : -1;
    if (!(t >= 0.01 && t <= 100)) {
        core_err_set(err, errlen, "%s/config.json: '%s' must be a number in [0.01, 100]", m->dir,
                     key);
        return CORE_EMODEL;
    }
    h->inv_temperature = (float)(1.0 / t);
    return CORE_OK;
}

static core_err_t load_head(cls_model_t *m, json_t *root, cls_head_kind_t kind, const char *tname,
                            const char *labels_key, char *err, size_t errlen)
{
    char wn[160], bn[160];
    const cls_st_tensor_t *t;
    cls_head_t *h = &m->heads[kind];
    core_err_t rc;
    size_t n;

    snprintf(wn, sizeof wn, "%s.weight", tname);
    snprintf(bn, sizeof bn, "%s.bias", tname);
    t = cls_st_find(m->st, wn);
    if (!t)
        return CORE_OK;
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 4096) {
        core_err_set(err, errlen, "%s/model.safetensors: tensor '%s' must be 2-D (labels, %zu)",
                     m->dir, wn, m->cfg.hidden);
        return CORE_EMODEL;
    }
    n = (size_t)t->shape[0];
    if (labels_key)
        rc = str_array(json_object_get(root, labels_key), n, labels_key, m->dir, &m->labels[kind],
                       err, errlen);
    else
        rc = id2label(root, n, m->dir, &m->labels[kind], err, errlen);
    if (rc)
        return rc;
    h->n_labels = n;
    h->labels = (const char *const *)m->labels[kind];
    if ((rc = head_temperature(m, root, kind, h, err, errlen)))
        return rc;
    if ((rc = get(m, wn, n, m->cfg.hidden, &h->w, err, errlen)) ||
        (rc = get(m, bn, n, 0, &h->b, err, errlen)))
        return rc;
    m->has_head[kind] = 1;
    return CORE_OK;
}

static core_err_t load_heads(cls_model_t *m, json_t *root, char *err, size_t errlen)
{
    core_err_t rc;

    if ((rc =
             load_head(m, root, CLS_HEAD_TOPIC, "topic_classifier", "topic_labels", err, errlen)) ||
        (rc = load_head(m, root, CLS_HEAD_SENTIMENT, "sentiment_classifier", "sentiment_labels",
                        err, errlen)))
        return rc;
    if (m->has_head[CLS_HEAD_SENTIMENT] &&
        !sentiment_order(m->labels[CLS_HEAD_SENTIMENT], m->heads[CLS_HEAD_SENTIMENT].n_labels,
                         m->heads[CLS_HEAD_SENTIMENT].order)) {
        core_err_set(
            err, errlen,
            "%s/config.json: 'sentiment_labels' must be negative, neutral and positive (in any "
            "order)",
            m->dir);
        return CORE_EMODEL;
    }
    if (!m->has_head[CLS_HEAD_TOPIC] && !m->has_head[CLS_HEAD_SENTIMENT]) {
        int order[3];
        if ((rc = load_head(m, root, CLS_HEAD_TOPIC, "classifier", NULL, err, errlen)))
            return rc;
        if (m->has_head[CLS_HEAD_TOPIC] &&
            sentiment_order(m->labels[CLS_HEAD_TOPIC], m->heads[CLS_HEAD_TOPIC].n_labels, order)) {
            /* A 3-way negative/neutral/positive head is a sentiment model. */
            m->heads[CLS_HEAD_SENTIMENT] = m->heads[CLS_HEAD_TOPIC];
            memcpy(m->heads[CLS_HEAD_SENTIMENT].order, order, sizeof order);
            if ((rc = head_temperature(m, root, CLS_HEAD_SENTIMENT, &m->heads[CLS_HEAD_SENTIMENT],
                                       err, errlen)))
                return rc;
            m->labels[CLS_HEAD_SENTIMENT] = m->labels[CLS_HEAD_TOPIC];
            m->labels[CLS_HEAD_TOPIC] = NULL;
            memset(&m->heads[CLS_HEAD_TOPIC], 0, sizeof m->heads[CLS_HEAD_TOPIC]);
            m->has_head[CLS_HEAD_TOPIC] = 0;
            m->has_head[CLS_HEAD_SENTIMENT] = 1;
        }
    }
    return CORE_OK;
}

static core_err_t load_encoder(cls_model_t *m, const char *pre, char *err, size_t errlen)
{
    const cls_bert_config_t *c = &m->cfg;
    size_t H = c->hidden, I = c->intermediate;
    char n[200];
    core_err_t rc;

#define GET(ptr, d0, d1, ...)                                                                      \
    do {                                                                                           \
        snprintf(n, sizeof n, __VA_ARGS__);                                                        \
        if ((rc = get(m, n, (d0), (d1), &(ptr), err, errlen)) != CORE_OK)                          \
            return rc;                                                                             \
    } while (0)

    GET(m->w.word_emb, c->vocab_size, H, "%sembeddings.word_embeddings.weight", pre);
    GET(m->w.pos_emb, c->max_pos, H, "%sembeddings.position_embeddings.weight", pre);
    GET(m->w.type_emb, c->type_vocab, H, "%sembeddings.token_type_embeddings.weight", pre);
    GET(m->w.emb_ln_g, H, 0, "%sembeddings.LayerNorm.weight", pre);
    GET(m->w.emb_ln_b, H, 0, "%sembeddings.LayerNorm.bias", pre);
    if (!(m->layers = core_calloc(c->layers, sizeof *m->layers)))
        return CORE_ENOMEM;
    m->w.layer = m->layers;
    for (size_t i = 0; i < c->layers; i++) {
        cls_layer_weights_t *l = &m->layers[i];
        const char *p = pre;
        GET(l->q_w, H, H, "%sencoder.layer.%zu.attention.self.query.weight", p, i);
        GET(l->q_b, H, 0, "%sencoder.layer.%zu.attention.self.query.bias", p, i);
        GET(l->k_w, H, H, "%sencoder.layer.%zu.attention.self.key.weight", p, i);
        GET(l->k_b, H, 0, "%sencoder.layer.%zu.attention.self.key.bias", p, i);
        GET(l->v_w, H, H, "%sencoder.layer.%zu.attention.self.value.weight", p, i);
        GET(l->v_b, H, 0, "%sencoder.layer.%zu.attention.self.value.bias", p, i);
        GET(l->ao_w, H, H, "%sencoder.layer.%zu.attention.output.dense.weight", p, i);
        GET(l->ao_b, H, 0, "%sencoder.layer.%zu.attention.output.dense.bias", p, i);
        GET(l->aln_g, H, 0, "%sencoder.layer.%zu.attention.output.LayerNorm.weight", p, i);
        GET(l->aln_b, H, 0, "%sencoder.layer.%zu.attention.output.LayerNorm.bias", p, i);
        GET(l->i_w, I, H, "%sencoder.layer.%zu.intermediate.dense.weight", p, i);
        GET(l->i_b, I, 0, "%sencoder.layer.%zu.intermediate.dense.bias", p, i);
        GET(l->o_w, H, I, "%sencoder.layer.%zu.output.dense.weight", p, i);
        GET(l->o_b, H, 0, "%sencoder.layer.%zu.output.dense.bias", p, i);
        GET(l->oln_g, H, 0, "%sencoder.layer.%zu.output.LayerNorm.weight", p, i);
        GET(l->oln_b, H, 0, "%sencoder.layer.%zu.output.LayerNorm.bias", p, i);
    }
    return CORE_OK;
}

/* Hands the whole pages of [p, p + bytes) back to the kernel when they lie
 * in the read-only file mapping (a later read faults them in again). */
static void drop_bytes(const cls_model_t *m, const void *p, size_t bytes)
{
    size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
    const char *map = m->st ? cls_st_map(m->st, &len) : NULL;
    uintptr_t lo = (uintptr_t)p, hi = lo + bytes;

    if (!map || lo < (uintptr_t)map || hi > (uintptr_t)map + len || page == 0)
        return;
    lo = (lo + page - 1) / page * page; /* whole pages inside the range only */
    hi = hi / page * page;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* The id's hash reads every byte of the file once; each tensor's pages go
 * back to the kernel right after, so loading a model does not make the
 * whole file resident (the weights fault in again when first used). */
static void fingerprint(cls_model_t *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const char *base = strrchr(m->dir, '/');
    size_t dl = strlen(m->dir);

    for (size_t i = 0; i < cls_st_count(m->st); i++) {
        const cls_st_tensor_t *t = cls_st_at(m->st, i);
        const unsigned char *p = t->data;
        size_t len = (size_t)(t->end - t->begin), j = 0;
        for (const char *s = t->name; *s; s++)
            h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
        for (; j + 8 <= len; j += 8) {
            uint64_t w;
            memcpy(&w, p + j, 8);
            h = (h ^ w) * 0x100000001b3ull;
            h ^= h >> 29;
        }
        for (; j < len; j++)
            h = (h ^ p[j]) * 0x100000001b3ull;
        drop_bytes(m, p, len);
    }
    /* name = last path component, ignoring trailing slashes */
    while (dl > 1 && m->dir[dl - 1] == '/')
        m->dir[--dl] = '\0';
    base = strrchr(m->dir, '/');
    base = base ? base + 1 : m->dir;
    snprintf(m->id, sizeof m->id, "%.100s@%012llx", base,
             (unsigned long long)(h & 0xffffffffffffull));
}

core_err_t cls_model_load(const char *dir, cls_model_t **out, char *err, size_t errlen)
{
    cls_model_t *m = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    char path[PATH_MAX];
    const char *pre;
    size_t vlines = 0;
    core_err_t rc = CORE_ENOMEM;

    *out = NULL;
    if (!(m = core_calloc(1, sizeof *m)) || !(m->dir = core_strdup(dir)))
        goto out;
    snprintf(path, sizeof path, "%s/config.json", dir);
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        int missing = strstr(jerr.text, "unable to open") != NULL;
        core_err_set(err, errlen, "%s: %s%s", path, missing ? "" : "malformed JSON: ", jerr.text);
        rc = missing ? CORE_ENOT_FOUND : CORE_EMODEL;
        goto out;
    }
    if (!json_is_object(root)) {
        core_err_set(err, errlen, "%s: not a JSON object", path);
        rc = CORE_EMODEL;
        goto out;
    }
    if ((rc = parse_config(m, root, err, errlen)) != CORE_OK)
        goto out;
    if ((rc = vocab_lines(dir, &vlines, err, errlen)) != CORE_OK)
        goto out;
    if (vlines != m->cfg.vocab_size) {
        core_err_set(err, errlen, "%s: vocab.txt has %zu lines but config.json vocab_size is %zu",
                     dir, vlines, m->cfg.vocab_size);
        rc = CORE_EMODEL;
        goto out;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((rc = cls_st_open(path, &m->st, err, errlen)) != CORE_OK) {
        if (rc == CORE_EMODEL && err) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            core_err_set(err, errlen, "%s: %s", path, tmp);
        }
        goto out;
    }
    if (cls_st_find(m->st, "bert.embeddings.word_embeddings.weight"))
        pre = "bert.";
    else if (cls_st_find(m->st, "embeddings.word_embeddings.weight"))
        pre = "";
    else {
        core_err_set(err, errlen,
                     "%s: missing tensor 'bert.embeddings.word_embeddings.weight' (or "
                     "'embeddings.word_embeddings.weight')",
                     path);
        rc = CORE_EMODEL;
        goto out;
    }
    m->dtype = cls_dtype_name(cls_st_find(m->st, pre[0] ? "bert.embeddings.word_embeddings.weight"
                                                        : "embeddings.word_embeddings.weight")
                                  ->dtype);
    if ((rc = load_encoder(m, pre, err, errlen)) != CORE_OK)
        goto out;
    if ((rc = load_heads(m, root, err, errlen)) != CORE_OK)
        goto out;
    if (m->has_head[CLS_HEAD_TOPIC] || m->has_head[CLS_HEAD_SENTIMENT]) {
        char n[160];
        snprintf(n, sizeof n, "%spooler.dense.weight", pre);
        if ((rc = get(m, n, m->cfg.hidden, m->cfg.hidden, &m->w.pool_w, err, errlen)) != CORE_OK)
            goto out;
        snprintf(n, sizeof n, "%spooler.dense.bias", pre);
        if ((rc = get(m, n, m->cfg.hidden, 0, &m->w.pool_b, err, errlen)) != CORE_OK)
            goto out;
    }
    fingerprint(m);
    *out = m;
    m = NULL;
    rc = CORE_OK;
out:
    json_decref(root);
    cls_model_free(m);
    return rc;
}

static float rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static const float *rnd_tensor(cls_model_t *m, uint64_t *s, size_t n, float scale, float base)
{
    float *p = own(m, n);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = base + scale * rnd(s);
    return p;
}

core_err_t cls_model_new_random(const cls_bert_config_t *cfg, size_t n_topics, unsigned seed,
                                cls_model_t **out)
{
    cls_model_t *m = core_calloc(1, sizeof *m);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ seed;
    size_t H = cfg->hidden, I = cfg->intermediate;
    int ok = 1;
    core_err_t rc = cfg->hidden % cfg->heads ? CORE_EINVAL : CORE_ENOMEM;

    *out = NULL;
    if (!m || !(m->dir = core_strdup("random")) ||
        !(m->layers = core_calloc(cfg->layers, sizeof *m->layers)))
        goto out;
    if (cfg->hidden % cfg->heads)
        goto out;
    m->cfg = *cfg;
    m->dtype = "F32";
    m->precisions = 1u << CLS_PREC_FP32 | 1u << CLS_PREC_BF16 | 1u << CLS_PREC_INT8;
#define R(n, sc, b) (ok = ok && (tmp = rnd_tensor(m, &s, (n), (sc), (b))) != NULL, tmp)
    {
        const float *tmp = NULL;
        m->w.word_emb = R(cfg->vocab_size * H, 0.5f, 0);
        m->w.pos_emb = R(cfg->max_pos * H, 0.5f, 0);
        m->w.type_emb = R(cfg->type_vocab * H, 0.5f, 0);
        m->w.emb_ln_g = R(H, 0.1f, 1);
        m->w.emb_ln_b = R(H, 0.1f, 0);
        for (size_t i = 0; i < cfg->layers && ok; i++) {
            cls_layer_weights_t *l = &m->layers[i];
            float ws = 1.0f / sqrtf((float)H) * 1.7f, wi = 1.0f / sqrtf((float)I) * 1.7f;
            l->q_w = R(H * H, ws, 0);
            l->q_b = R(H, 0.1f, 0);
            l->k_w = R(H * H, ws, 0);
            l->k_b = R(H, 0.1f, 0);
            l->v_w = R(H * H, ws, 0);
            l->v_b = R(H, 0.1f, 0);
            l->ao_w = R(H * H, ws, 0);
            l->ao_b = R(H, 0.1f, 0);
            l->aln_g = R(H, 0.1f, 1);
            l->aln_b = R(H, 0.1f, 0);
            l->i_w = R(I * H, ws, 0);
            l->i_b = R(I, 0.1f, 0);
            l->o_w = R(H * I, wi, 0);
            l->o_b = R(H, 0.1f, 0);
            l->oln_g = R(H, 0.1f, 1);
            l->oln_b = R(H, 0.1f, 0);
        }
        m->w.layer = m->layers;
        if (n_topics) {
            static const char *const sent[3] = {"negative", "neutral", "positive"};
            m->w.pool_w = R(H * H, 1.0f / sqrtf((float)H), 0);
            m->w.pool_b = R(H, 0.1f, 0);
            if (!(m->labels[CLS_HEAD_TOPIC] = core_calloc(n_topics, sizeof(char *))) ||
                !(m->labels[CLS_HEAD_SENTIMENT] = core_calloc(3, sizeof(char *))))
                goto out;
            m->heads[CLS_HEAD_TOPIC].n_labels = n_topics;
            m->heads[CLS_HEAD_SENTIMENT].n_labels = 3;
            for (size_t k = 0; k < n_topics; k++) {
                char b[16];
                snprintf(b, sizeof b, "T%zu", k);
                if (!(m->labels[CLS_HEAD_TOPIC][k] = core_strdup(b)))
                    goto out;
            }
            for (int k = 0; k < 3; k++) {
                if (!(m->labels[CLS_HEAD_SENTIMENT][k] = core_strdup(sent[k])))
                    goto out;
                m->heads[CLS_HEAD_SENTIMENT].order[k] = k;
            }
            for (int k = 0; k < CLS_HEAD__COUNT; k++) {
                cls_head_t *h = &m->heads[k];
                h->labels = (const char *const *)m->labels[k];
                h->w = R(h->n_labels * H, 1.0f / sqrtf((float)H), 0);
                h->b = R(h->n_labels, 0.1f, 0);
                h->inv_temperature = 1.0f;
                m->has_head[k] = 1;
            }
        }
    }
#undef R
    if (!ok)
        goto out;
    snprintf(m->id, sizeof m->id, "random@%08x", seed);
    *out = m;
    m = NULL;
    rc = CORE_OK;
out:
    cls_model_free(m);
    return rc;
}

const cls_bert_config_t *cls_model_config(const cls_model_t *m)
{
    return &m->cfg;
}

const cls_weights_t *cls_model_weights(const cls_model_t *m)
{
    return &m->w;
}

const cls_head_t *cls_model_head(const cls_model_t *m, cls_head_kind_t kind)
{
    return kind < CLS_HEAD__COUNT && m->has_head[kind] ? &m->heads[kind] : NULL;
}

const char *cls_model_dir(const cls_model_t *m)
{
    return m->dir;
}

const char *cls_model_id(const cls_model_t *m)
{
    return m->id;
}

const char *cls_model_dtype(const cls_model_t *m)
{
    return m->dtype;
}

unsigned cls_model_precisions(const cls_model_t *m)
{
    return m->precisions;
}

void cls_model_drop_pages(const cls_model_t *m, const float *p, size_t n)
{
    drop_bytes(m, p, n * sizeof *p);
}
