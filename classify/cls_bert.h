/*
 * cls_bert: the BERT encoder and its heads, on one batch of token id
 * sequences.
 *
 * Design. The batch's sequences are PACKED: sequence i occupies rows
 * [off_i, off_i + len_i) of one (tokens, H) matrix holding only real
 * tokens, so every dense layer (Q, K, V, attention output, FFN in and out,
 * pooler, heads) is one GEMM over real tokens and no work is spent on
 * padding. Attention runs per sequence and per head on that sequence's rows.
 * Post-LN BERT as in models/FORMAT.md; the elementwise work and attention
 * go through the kernel table (cls_kernels_get), fp32 GEMMs through
 * cls_gemm_xwt* (cls_blas.h, OpenBLAS) or, with weights packed for fp32,
 * our own GEMM (cls_lowp), bf16/int8 ones through cls_lowp. Since only the
 * [CLS] rows of the last layer reach the pooler, that layer computes
 * queries, attention output and FFN for those rows only (keys and values
 * for all): the same results with 1/L less work for L layers.
 *
 * Every buffer is allocated by cls_bert_new for max_batch sequences of up to
 * max_seq tokens; cls_bert_run allocates nothing. Because each sequence's
 * rows only ever meet its own rows (attention) or the weights (everything
 * else, row by row), an item's result does not depend on the other items of
 * its batch or their order. (OpenBLAS may choose a different blocking for a
 * different number of rows, which can move the last bit of a float; the
 * tests bound that at 1e-5. The packed kernels sum every output in the same
 * order whatever the row count: bit for bit.)
 *
 * Padded mode (bench only): every sequence is given the length of the
 * longest, padded with [PAD] (id 0) and its keys masked, which is what a
 * framework without packing computes; the real tokens' results are the
 * same.
 *
 * One cls_bert_t is used by one thread at a time; any number of them may
 * share one model.
 */
#ifndef CLS_BERT_H
#define CLS_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "classify/cls_model.h"
#include "classify/kernels/cls_lowp.h"
#include "core/core_error.h"

typedef struct cls_bert cls_bert_t;

/* Packed weights. cls_bert_pack packs the dense weights of every encoder
 * layer of m (Q, K, V, attention output, FFN in and out) once for prec
 * (CLS_PREC_BF16, CLS_PREC_INT8, or CLS_PREC_FP32 for our own fp32 GEMM
 * instead of OpenBLAS; cls_lowp.h has the layouts); the result is immutable
 * and shared by any number of encoders of m (borrowed: it must outlive
 * them). The embeddings, LayerNorms and attention itself stay fp32; the
 * pooler and the heads stay fp32 on OpenBLAS at bf16/int8 and are packed too
 * at fp32. flags CLS_PACK_DROP_ORIGINALS: the caller will never run m on
 * OpenBLAS, so each layer's fp32 weights (at fp32 also the pooler's and the
 * heads') are handed back to the kernel as soon as they are packed
 * (cls_model_drop_pages), which keeps the peak memory near the unpacked
 * engine's. CORE_EINVAL for another precision, CORE_ENOMEM. */
typedef struct cls_bert_packed cls_bert_packed_t;
#define CLS_PACK_DROP_ORIGINALS 1u
core_err_t cls_bert_pack(const cls_model_t *m, cls_precision_t prec, unsigned flags,
                         cls_bert_packed_t **out);
void cls_bert_packed_free(cls_bert_packed_t *p);
size_t cls_bert_packed_bytes(const cls_bert_packed_t *p);
/* cls_bert_packed_precision: p's precision; CLS_PREC_FP32 for NULL. */
cls_precision_t cls_bert_packed_precision(const cls_bert_packed_t *p);

/* cls_bert_new makes an encoder for model m (borrowed; must outlive it) with
 * buffers for max_batch sequences of at most max_seq tokens (max_seq <=
 * max_position_embeddings). CORE_EINVAL for bad sizes, CORE_ENOMEM. */
core_err_t cls_bert_new(const cls_model_t *m, size_t max_batch, size_t max_seq, cls_bert_t **out);
/* cls_bert_new_packed: the same, running the dense layers on the packed
 * weights p (from cls_bert_pack of the same model) with the kernels
 * cls_lowp_get(precision) chose; p NULL is cls_bert_new (fp32 on OpenBLAS). */
core_err_t cls_bert_new_packed(const cls_model_t *m, const cls_bert_packed_t *p, size_t max_batch,
                               size_t max_seq, cls_bert_t **out);

/* cls_bert_free: NULL is a no-op. */
void cls_bert_free(cls_bert_t *b);

/* cls_bert_run encodes n sequences: sequence i is lens[i] ids starting at
 * ids + sum(lens[0..i)). Then the pooler and every head of the model run and
 * each head's logits and softmax probabilities are kept until the next run
 * (cls_bert_logits / cls_bert_probs). padded: see above. CORE_EINVAL when n
 * is 0 or over max_batch, a length is 0 or over max_seq, or an id is out of
 * the vocabulary. Allocates nothing. */
core_err_t cls_bert_run(cls_bert_t *b, const int32_t *ids, const size_t *lens, size_t n,
                        int padded);

/* A team for one batch's dense layers and attention: when a batch has fewer
 * items than the classifier has threads, the idle threads take a share of
 * each layer's output columns and of the attention heads. run(team, fn,
 * arg) must call fn(arg, i, parts) once for every i in [0, parts) (i = 0 on
 * the calling thread is fine) and return when all are done. run NULL: no
 * team. The results are identical with and without a team (each element is
 * computed the same way), except that OpenBLAS (fp32 unpacked) may block a
 * product of fewer columns differently (last bits). */
typedef void (*cls_bert_part_fn)(void *arg, size_t part, size_t parts);
typedef void (*cls_bert_team_fn)(void *team, cls_bert_part_fn fn, void *arg);
/* cls_bert_set_team: the heads of attention are split between the team's
 * parts too, each with its own score buffer, allocated here the first time
 * a team has more parts than before: CORE_ENOMEM (the team is then left as
 * it was), else CORE_OK. */
core_err_t cls_bert_set_team(cls_bert_t *b, cls_bert_team_fn run, void *team, size_t parts);

/* The results of the last run, in the checkpoint's output order: (n,
 * n_labels) row-major, or NULL when the model has no such head. */
const float *cls_bert_logits(const cls_bert_t *b, cls_head_kind_t kind);
const float *cls_bert_probs(const cls_bert_t *b, cls_head_kind_t kind);
/* cls_bert_flops: floating point operations of one run over sequences of
 * these lengths (multiply-add = 2) as this engine computes them: dense
 * layers and attention, padding included in padded mode, the last layer's
 * [CLS]-only shortcut counted as done. For the bench. */
double cls_bert_flops(const cls_model_t *m, const size_t *lens, size_t n, int padded);

#endif
