/*
 * cls_classifier: texts in, topic and sentiment probabilities out. The batch
 * API the app uses: tokenizer (cls_wordpiece) + encoder (cls_bert) + heads,
 * for one model directory holding both heads, or a topic model and a
 * sentiment model from two directories (then two encoders run).
 *
 * Design. Everything is allocated by cls_classifier_new for max_batch items;
 * a run allocates nothing except when joining an item's title and text
 * needs a larger buffer than any before (the buffer only grows). Sentiment
 * probabilities come out in core_sentiment_t order (negative, neutral,
 * positive) whatever the checkpoint's order; topic probabilities in the
 * topic head's label order.
 *
 * Threads: the classifier is THE compute pool of the process. opts.threads
 * workers (the calling thread plus threads-1 pthreads that sleep between
 * batches) each run a contiguous share of a batch on their own encoder,
 * and cls_classifier_new sets OpenBLAS to one thread so that no second pool
 * competes with it (measured: docs/engine.md). Results do not depend on the
 * number of threads. One thread at a time calls a given classifier; run one
 * classifier per process.
 */
#ifndef CLS_CLASSIFIER_H
#define CLS_CLASSIFIER_H

#include <stddef.h>

#include "classify/kernels/cls_lowp.h"
#include "core/core_error.h"
#include "core/core_item.h"

typedef struct cls_classifier cls_classifier_t;

/* cls_classifier_chunk_tokens: about how many tokens one encoder call of a
 * model of shape cf at precision prec should take. The classifier cuts each batch
 * into chunks of about this size (its workers take them one at a time), and
 * `finsent bench` cuts each worker's share the same way. Every chunk streams
 * the dense weights once more, so a large model (weights over
 * CLS_CHUNK_BIG_BYTES at prec: BERT-base) gets CLS_CHUNK_TOKENS_BIG-token
 * chunks, a small one CLS_CHUNK_TOKENS_SMALL for balance between the
 * workers (docs/engine.md has the measurements). */
#define CLS_CHUNK_TOKENS_SMALL 64
#define CLS_CHUNK_TOKENS_BIG 256
#define CLS_CHUNK_BIG_BYTES ((size_t)32 << 20)
struct cls_bert_config;
size_t cls_classifier_chunk_tokens(const struct cls_bert_config *cf, cls_precision_t prec);

typedef struct cls_classifier_opts {
    const char *model_dir;           /* used for any head not given below */
    const char *topic_model_dir;     /* NULL or "": the topic head of model_dir */
    const char *sentiment_model_dir; /* NULL or "": the sentiment head of model_dir */
    size_t max_batch;                /* items per run, >= 1 */
    size_t max_seq;                  /* tokens per item incl. [CLS]/[SEP]; 0: the model's */
    size_t threads;                  /* compute threads; 0: OpenBLAS's thread count
                                      * at the time of the call (cls_blas_set_threads) */
    int padded;                      /* bench: pad to the longest item instead of packing */
    cls_precision_t precision;       /* dense layers: FP32 (0, exact), BF16, INT8, or AUTO:
                                      * the fastest the CPU runs natively that the
                                      * model allows (docs/engine.md) */
} cls_classifier_opts_t;

/* cls_classifier_new loads the model(s) and tokenizer(s) and allocates the
 * encoders. A directory named explicitly for a head must have that head;
 * model_dir alone must have at least one head. Errors: those of
 * cls_model_load / cls_wordpiece_load_dir, CORE_EMODEL when a head is
 * missing, a topic head has more than CORE_TOPICS_MAX labels, or the
 * tokenizer's vocabulary does not match the model; CORE_EINVAL for bad
 * opts. err names the model directory. */
core_err_t cls_classifier_new(const cls_classifier_opts_t *opts, cls_classifier_t **out, char *err,
                              size_t errlen);

/* cls_classifier_free: NULL is a no-op. */
void cls_classifier_free(cls_classifier_t *c);

/* cls_classifier_run classifies n <= max_batch texts (texts[i] of lens[i]
 * bytes, any bytes; borrowed). The results stay until the next run. */
core_err_t cls_classifier_run(cls_classifier_t *c, const char *const *texts, const size_t *lens,
                              size_t n);

/* cls_classifier_tag classifies n <= max_batch items (title, then text,
 * joined by a newline) and fills each tagged item's topic, topic_p,
 * topic_probs, sentiment, sentiment_p and model. */
core_err_t cls_classifier_tag(cls_classifier_t *c, core_tagged_t *const *items, size_t n);

/* Results of the last run/tag. NULL when there is no such head. */
const float *cls_classifier_topic_probs(const cls_classifier_t *c);     /* (n, n_topics) */
const float *cls_classifier_sentiment_probs(const cls_classifier_t *c); /* (n, 3) */
const size_t *
cls_classifier_lengths(const cls_classifier_t *c); /* tokens of item i (topic encoder first) */

/* Model description (borrowed, valid while c lives). */
size_t cls_classifier_n_topics(const cls_classifier_t *c);
const char *const *cls_classifier_topic_labels(const cls_classifier_t *c);
int cls_classifier_has_sentiment(const cls_classifier_t *c);
const char *cls_classifier_model_id(const cls_classifier_t *c);
/* cls_classifier_max_batch: the most texts one run takes (opts.max_batch). */
size_t cls_classifier_max_batch(const cls_classifier_t *c);
/* cls_classifier_precision: the precision the dense layers run at (AUTO
 * resolved); cls_classifier_kernels: their kernels ("amx", "avx512" or
 * "generic"; at fp32 "openblas" or our own GEMM's "avx512" or "generic",
 * cls_lowp_fp32_own); cls_classifier_packed_bytes: memory of the packed
 * weights (0 at fp32 on OpenBLAS). */
cls_precision_t cls_classifier_precision(const cls_classifier_t *c);
const char *cls_classifier_kernels(const cls_classifier_t *c);
size_t cls_classifier_packed_bytes(const cls_classifier_t *c);
/* cls_classifier_max_seq: the tokens per item actually used. */
size_t cls_classifier_max_seq(const cls_classifier_t *c);
/* cls_classifier_flops: the floating point operations of the last run. */
double cls_classifier_flops(const cls_classifier_t *c);

#endif
