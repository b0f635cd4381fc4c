/*
 * cls_model: a BERT model directory loaded and validated (config.json,
 * vocab.txt, model.safetensors; models/FORMAT.md).
 *
 * Design. Loading does every check before anything uses the weights, so the
 * encoder never meets a surprise: config values present and in range,
 * hidden_size divisible by num_attention_heads, hidden_act one of gelu
 * (erf), gelu_new / gelu_pytorch_tanh / gelu_fast (tanh form) or relu,
 * vocab.txt line count == vocab_size == rows of the word embeddings, every
 * tensor present with its exact shape and a float dtype. Every failure is
 * CORE_EMODEL (or CORE_ENOT_FOUND / CORE_EIO for files) with a sentence
 * naming the file, the tensor, the expected and the found shape.
 *
 * Tensor names: the encoder is found under "bert." (BertForSequenceClassi-
 * fication, our multi-task checkpoint) or with no prefix (bare BertModel).
 * Heads:
 *   - multi-task: "topic_classifier.*" with config "topic_labels" and/or
 *     "sentiment_classifier.*" with "sentiment_labels";
 *   - single head "classifier.*" with labels from config "id2label" (or
 *     LABEL_i): a head of 3 labels that are negative/neutral/positive in any
 *     order and case is a sentiment head (FinBERT: positive, negative,
 *     neutral), any other head is a topic head;
 *   - none: an encoder only (bench); the classifier refuses it.
 * A sentiment head keeps the checkpoint's output order; head->order[k] is
 * the output index of core_sentiment_t k (negative, neutral, positive).
 *
 * Memory: F32 tensors point into the read-only mmap of model.safetensors
 * (never copied; one exception: a tensor whose offset is not 4-byte aligned
 * is copied). F16 and BF16 tensors are converted to F32 once, at load, into
 * one heap block. A loaded model is immutable and may be shared by any
 * number of encoders and threads.
 */
#ifndef CLS_MODEL_H
#define CLS_MODEL_H

#include <stddef.h>

#include "core/core_error.h"

typedef enum cls_act { CLS_ACT_GELU_ERF, CLS_ACT_GELU_TANH, CLS_ACT_RELU } cls_act_t;

typedef struct cls_bert_config {
    size_t vocab_size, hidden, layers, heads, intermediate, max_pos, type_vocab;
    float eps;
    cls_act_t act;
} cls_bert_config_t;

typedef struct cls_layer_weights {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b; /* (H, H), (H) */
    const float *ao_w, *ao_b;                       /* attention output (H, H), (H) */
    const float *aln_g, *aln_b;                     /* (H) */
    const float *i_w, *i_b;                         /* intermediate (I, H), (I) */
    const float *o_w, *o_b;                         /* output (H, I), (H) */
    const float *oln_g, *oln_b;                     /* (H) */
} cls_layer_weights_t;

typedef enum cls_head_kind {
    CLS_HEAD_TOPIC = 0,
    CLS_HEAD_SENTIMENT = 1,
    CLS_HEAD__COUNT
} cls_head_kind_t;

typedef struct cls_head {
    size_t n_labels;
    const char *const *labels; /* (n_labels), checkpoint output order */
    const float *w, *b;        /* (n_labels, H), (n_labels) */
    int order[3];              /* sentiment heads: output index of negative/neutral/positive */
    float inv_temperature;     /* probabilities = softmax(logits / T); config.json
                                  '<head>_temperature', 1 when absent */
} cls_head_t;

typedef struct cls_weights {
    const float *word_emb; /* (vocab, H) */
    const float *pos_emb;  /* (max_pos, H) */
    const float *type_emb; /* (type_vocab, H) */
    const float *emb_ln_g, *emb_ln_b;
    const cls_layer_weights_t *layer; /* (layers) */
    const float *pool_w, *pool_b;     /* (H, H), (H); NULL when the model has no head */
} cls_weights_t;

typedef struct cls_model cls_model_t;

/* cls_model_load loads the model directory dir and returns it in *out (the
 * caller frees it with cls_model_free). Errors as described above, with err
 * (may be NULL) naming what is wrong. Any thread. */
core_err_t cls_model_load(const char *dir, cls_model_t **out, char *err, size_t errlen);

/* cls_model_free: NULL is a no-op. No encoder may still use the model. */
void cls_model_free(cls_model_t *m);

/* Accessors (borrowed pointers, valid while the model lives; any thread). */
const cls_bert_config_t *cls_model_config(const cls_model_t *m);
const cls_weights_t *cls_model_weights(const cls_model_t *m);
/* cls_model_head: the head of that kind, or NULL when the model has none. */
const cls_head_t *cls_model_head(const cls_model_t *m, cls_head_kind_t kind);
const char *cls_model_dir(const cls_model_t *m);
/* cls_model_id: "name@hash", the directory name and the first 12 hex digits
 * of a 64-bit fingerprint of model.safetensors. */
const char *cls_model_id(const cls_model_t *m);
/* cls_model_drop_pages: the caller will never read the n floats at p (a
 * tensor of m) again, because a packed copy replaced them: when they lie in
 * the read-only file mapping, its whole pages are handed back to the kernel
 * (MADV_DONTNEED; a later read would simply fault them in from the file
 * again), so packing does not double the resident memory. Converted (F16,
 * BF16) tensors are left alone. Any thread. */
void cls_model_drop_pages(const cls_model_t *m, const float *p, size_t n);
/* cls_model_precisions: the precisions the model may run at, bit (1 <<
 * cls_precision_t) each: config.json 'finsent_precisions', else all. */
unsigned cls_model_precisions(const cls_model_t *m);
/* cls_model_dtype: "F32", "F16" or "BF16" (the dtype of the word embeddings). */
const char *cls_model_dtype(const cls_model_t *m);

/* cls_model_new_random builds a model of the given shape with random
 * weights (uniform, scale 0.02; LayerNorm weights 1) and, when n_topics > 0,
 * a topic head with labels "T0".."Tn-1" and a sentiment head: for the bench.
 * seed makes the weights reproducible. */
core_err_t cls_model_new_random(const cls_bert_config_t *cfg, size_t n_topics, unsigned seed,
                                cls_model_t **out);

#endif
