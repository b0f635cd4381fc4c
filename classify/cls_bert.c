/*
 * cls_bert: see cls_bert.h. The forward pass, top to bottom:
 *   x = LN(word[id] + pos[t] + type[0])                      (rows, H)
 *   per layer: q, k, v = x W^T + b;  per sequence, per head:
 *              s = q_h k_h^T / sqrt(d) over the sequence's real keys,
 *              softmax, ctx_h = s v_h;  t = ctx Wo^T + bo; x = LN(t + x);
 *              u = act(x Wi^T + bi); t = u Wo2^T + bo2; x = LN(t + x)
 *   pooled = tanh([CLS] rows Wp^T + bp); logits = pooled Wh^T + bh;
 *   probs = softmax(logits / T) (T: the head's calibration temperature).
 * Each layer reads x and leaves its output in x again (t holds the state
 * after attention). The last layer, when a pooler follows, computes queries,
 * attention output and FFN for the [CLS] rows only, gathered into cls.
 */
#include "classify/cls_bert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_blas.h"
#include "classify/kernels/cls_kernels.h"
#include "classify/kernels/cls_lowp.h"
#include "core/core_alloc.h"

/* Below this many multiply-adds a layer is not worth waking the team (a
 * wake-up costs tens of microseconds); FINSENT_TEAM_MIN_MACS overrides it
 * (the tests set 1 so that tiny models use the team too). */
#define TEAM_MIN_MACS (1u << 20)

/* The dense weights of one encoder layer packed for a precision's kernels. */
typedef struct packed_layer {
    cls_wpack_t *q, *k, *v, *ao, *i, *o;
} packed_layer_t;

struct cls_bert_packed {
    cls_precision_t prec;
    size_t layers;
    packed_layer_t *layer;
    /* the pooler and the heads, packed for our own fp32 GEMM (at every
     * precision: they stay fp32) whenever it is the one fp32 runs, so that
     * no product is left to OpenBLAS */
    cls_wpack_t *pool, *head[CLS_HEAD__COUNT];
};

struct cls_bert {
    const cls_model_t *m;
    const cls_kernels_t *k;
    const cls_bert_packed_t *p;   /* NULL: fp32 through cls_gemm_xwt (OpenBLAS) */
    const cls_lowp_kernels_t *lk; /* p's kernels */
    /* lk's attention (bf16 tiles) where it has one and FINSENT_ATTENTION is
     * not fp32, else NULL: the fp32 kernel */
    int (*lp_attention)(const float *q, size_t nq, const float *k, const float *v, size_t nk,
                        size_t ld, size_t d, float scale, float *s_scratch, float *ctx);
    void *abuf;                   /* packed activations (max_rows, max K); NULL at fp32 */
    float *ascale;                /* int8: per-row scales (max_rows) */
    int32_t *azp;                 /* int8: per-row zero points (max_rows) */
    cls_bert_team_fn team_run;    /* NULL: every dense layer on the calling thread */
    void *team;
    size_t team_parts;
    size_t team_min_macs; /* smaller layers stay on the calling thread */
    size_t max_batch, max_seq, max_rows;
    float *x, *t;        /* (max_rows, H) hidden state; state after attention */
    float *q, *kk, *v;   /* (max_rows, H) */
    float *ctx;          /* (max_rows, H) */
    float *u;            /* (max_rows, I) */
    float *s;            /* (s_parts, max_seq, max_seq) attention scores of one head,
                          * one buffer per team part */
    size_t s_parts;
    float *cls, *pooled; /* (max_batch, H) */
    float *logits[CLS_HEAD__COUNT], *probs[CLS_HEAD__COUNT]; /* (max_batch, labels) */
    size_t *off, *stride; /* (max_batch) row offset and row count per sequence */
    size_t rows, n;
};

void cls_bert_free(cls_bert_t *b)
{
    if (!b)
        return;
    core_free(b->x);
    core_free(b->t);
    core_free(b->q);
    core_free(b->kk);
    core_free(b->v);
    core_free(b->ctx);
    core_free(b->u);
    core_free(b->s);
    core_free(b->cls);
    core_free(b->pooled);
    for (int h = 0; h < CLS_HEAD__COUNT; h++) {
        core_free(b->logits[h]);
        core_free(b->probs[h]);
    }
    core_free(b->off);
    core_free(b->stride);
    core_free(b->abuf);
    core_free(b->ascale);
    core_free(b->azp);
    core_free(b);
}

void cls_bert_packed_free(cls_bert_packed_t *p)
{
    if (!p)
        return;
    for (size_t l = 0; p->layer && l < p->layers; l++) {
        packed_layer_t *pl = &p->layer[l];
        cls_wpack_free(pl->q);
        cls_wpack_free(pl->k);
        cls_wpack_free(pl->v);
        cls_wpack_free(pl->ao);
        cls_wpack_free(pl->i);
        cls_wpack_free(pl->o);
    }
    core_free(p->layer);
    cls_wpack_free(p->pool);
    for (int h = 0; h < CLS_HEAD__COUNT; h++)
        cls_wpack_free(p->head[h]);
    core_free(p);
}

size_t cls_bert_packed_bytes(const cls_bert_packed_t *p)
{
    size_t n = 0;
    for (size_t l = 0; p && l < p->layers; l++) {
        const packed_layer_t *pl = &p->layer[l];
        n += cls_wpack_bytes(pl->q) + cls_wpack_bytes(pl->k) + cls_wpack_bytes(pl->v) +
             cls_wpack_bytes(pl->ao) + cls_wpack_bytes(pl->i) + cls_wpack_bytes(pl->o);
    }
    if (p && p->pool)
        n += cls_wpack_bytes(p->pool);
    for (int h = 0; p && h < CLS_HEAD__COUNT; h++)
        if (p->head[h])
            n += cls_wpack_bytes(p->head[h]);
    return n;
}

cls_precision_t cls_bert_packed_precision(const cls_bert_packed_t *p)
{
    return p ? p->prec : CLS_PREC_FP32;
}

core_err_t cls_bert_pack(const cls_model_t *m, cls_precision_t prec, unsigned flags,
                         cls_bert_packed_t **out)
{
    const cls_bert_config_t *c = cls_model_config(m);
    const cls_weights_t *w = cls_model_weights(m);
    cls_bert_packed_t *p;
    core_err_t rc = CORE_OK;
    size_t H = c->hidden, I = c->intermediate;

    *out = NULL;
    if (prec != CLS_PREC_BF16 && prec != CLS_PREC_INT8 && prec != CLS_PREC_FP32)
        return CORE_EINVAL;
    if (!(p = core_calloc(1, sizeof *p)) ||
        !(p->layer = core_calloc(c->layers, sizeof *p->layer))) {
        core_free(p);
        return CORE_ENOMEM;
    }
    p->prec = prec;
    p->layers = c->layers;
    for (size_t l = 0; l < c->layers && rc == CORE_OK; l++) {
        const cls_layer_weights_t *lw = &w->layer[l];
        packed_layer_t *pl = &p->layer[l];
        if ((rc = cls_wpack_new(prec, lw->q_w, H, H, &pl->q)) != CORE_OK ||
            (rc = cls_wpack_new(prec, lw->k_w, H, H, &pl->k)) != CORE_OK ||
            (rc = cls_wpack_new(prec, lw->v_w, H, H, &pl->v)) != CORE_OK ||
            (rc = cls_wpack_new(prec, lw->ao_w, H, H, &pl->ao)) != CORE_OK ||
            (rc = cls_wpack_new(prec, lw->i_w, I, H, &pl->i)) != CORE_OK ||
            (rc = cls_wpack_new(prec, lw->o_w, H, I, &pl->o)) != CORE_OK)
            break;
        if (flags & CLS_PACK_DROP_ORIGINALS) {
            /* layer by layer, so the peak holds one fp32 layer, not all */
            cls_model_drop_pages(m, lw->q_w, H * H);
            cls_model_drop_pages(m, lw->k_w, H * H);
            cls_model_drop_pages(m, lw->v_w, H * H);
            cls_model_drop_pages(m, lw->ao_w, H * H);
            cls_model_drop_pages(m, lw->i_w, I * H);
            cls_model_drop_pages(m, lw->o_w, H * I);
        }
    }
    if (rc == CORE_OK && (prec == CLS_PREC_FP32 || cls_lowp_fp32_own()) && w->pool_w) {
        rc = cls_wpack_new(CLS_PREC_FP32, w->pool_w, H, H, &p->pool);
        for (int h = 0; h < CLS_HEAD__COUNT && rc == CORE_OK; h++) {
            const cls_head_t *hd = cls_model_head(m, (cls_head_kind_t)h);
            if (hd)
                rc = cls_wpack_new(CLS_PREC_FP32, hd->w, hd->n_labels, H, &p->head[h]);
            if (hd && rc == CORE_OK && (flags & CLS_PACK_DROP_ORIGINALS))
                cls_model_drop_pages(m, hd->w, hd->n_labels * H);
        }
        if (rc == CORE_OK && (flags & CLS_PACK_DROP_ORIGINALS))
            cls_model_drop_pages(m, w->pool_w, H * H);
    }
    if (rc != CORE_OK) {
        cls_bert_packed_free(p);
        return rc;
    }
    *out = p;
    return CORE_OK;
}

/* Activation buffers start on a cache line: from malloc, a buffer this
 * large is mmap'ed and starts 16 bytes into a page, so every 64-byte
 * vector load and store of its rows spans two lines (bench_lowp's GEMMs
 * with their input and output so placed: 0.90-0.92x). */
static float *fbuf(size_t n, int *ok)
{
    float *p = core_aligned_alloc(64, ((n ? n : 1) * sizeof(float) + 63) / 64 * 64);
    if (!p)
        *ok = 0;
    return p;
}

core_err_t cls_bert_new(const cls_model_t *m, size_t max_batch, size_t max_seq, cls_bert_t **out)
{
    return cls_bert_new_packed(m, NULL, max_batch, max_seq, out);
}

core_err_t cls_bert_new_packed(const cls_model_t *m, const cls_bert_packed_t *p, size_t max_batch,
                               size_t max_seq, cls_bert_t **out)
{
    const cls_bert_config_t *c = cls_model_config(m);
    cls_bert_t *b;
    int ok = 1;

    *out = NULL;
    if (max_batch == 0 || max_seq < 2 || max_seq > c->max_pos || max_batch > (1u << 20))
        return CORE_EINVAL;
    if (!(b = core_calloc(1, sizeof *b)))
        return CORE_ENOMEM;
    b->m = m;
    b->k = cls_kernels_get();
    b->max_batch = max_batch;
    b->max_seq = max_seq;
    b->max_rows = max_batch * max_seq;
    b->team_min_macs = TEAM_MIN_MACS;
    if (getenv("FINSENT_TEAM_MIN_MACS"))
        b->team_min_macs = strtoul(getenv("FINSENT_TEAM_MIN_MACS"), NULL, 10);
    b->x = fbuf(b->max_rows * c->hidden, &ok);
    b->t = fbuf(b->max_rows * c->hidden, &ok);
    b->q = fbuf(b->max_rows * c->hidden, &ok);
    b->kk = fbuf(b->max_rows * c->hidden, &ok);
    b->v = fbuf(b->max_rows * c->hidden, &ok);
    b->ctx = fbuf(b->max_rows * c->hidden, &ok);
    b->u = fbuf(b->max_rows * c->intermediate, &ok);
    b->s = fbuf(max_seq * max_seq, &ok);
    b->s_parts = 1;
    b->cls = fbuf(max_batch * c->hidden, &ok);
    b->pooled = fbuf(max_batch * c->hidden, &ok);
    for (int h = 0; h < CLS_HEAD__COUNT; h++) {
        const cls_head_t *hd = cls_model_head(m, (cls_head_kind_t)h);
        if (hd) {
            b->logits[h] = fbuf(max_batch * hd->n_labels, &ok);
            b->probs[h] = fbuf(max_batch * hd->n_labels, &ok);
        }
    }
    if (p) {
        size_t kmax = c->intermediate > c->hidden ? c->intermediate : c->hidden;
        size_t bytes = cls_lowp_abytes(p->prec, b->max_rows, kmax);
        b->p = p;
        b->lk = cls_lowp_get(p->prec);
        if (!(getenv("FINSENT_ATTENTION") && strcmp(getenv("FINSENT_ATTENTION"), "fp32") == 0))
            b->lp_attention = b->lk->attention;
        if (b->lk->pack_a) { /* fp32 reads its input rows as they are */
            b->abuf = core_aligned_alloc(64, (bytes + 63) / 64 * 64);
            b->ascale = fbuf(b->max_rows + CLS_LOWP_MBLOCK, &ok);
            b->azp = core_malloc((b->max_rows + CLS_LOWP_MBLOCK) * sizeof *b->azp);
            if (!b->abuf || !b->azp)
                ok = 0;
        }
    }
    b->off = core_malloc(max_batch * sizeof *b->off);
    b->stride = core_malloc(max_batch * sizeof *b->stride);
    if (!ok || !b->off || !b->stride) {
        cls_bert_free(b);
        return CORE_ENOMEM;
    }
    *out = b;
    return CORE_OK;
}

static void embed(cls_bert_t *b, const int32_t *ids, const size_t *lens)
{
    const cls_bert_config_t *c = cls_model_config(b->m);
    const cls_weights_t *w = cls_model_weights(b->m);
    size_t H = c->hidden;

    for (size_t i = 0; i < b->n; i++) {
        for (size_t t = 0; t < b->stride[i]; t++) {
            int32_t id = t < lens[i] ? ids[t] : 0; /* [PAD] in padded mode */
            const float *we = w->word_emb + (size_t)id * H, *pe = w->pos_emb + t * H,
                        *te = w->type_emb;
            float *x = b->x + (b->off[i] + t) * H;
            for (size_t j = 0; j < H; j++)
                x[j] = we[j] + pe[j] + te[j];
        }
        ids += lens[i];
    }
    b->k->add_layernorm(b->x, NULL, w->emb_ln_g, w->emb_ln_b, b->rows, H, c->eps);
}

/* Self-attention of every sequence and head: ctx from q, k, v. Keys past a
 * sequence's real length (padded mode) are left out of the softmax, which
 * is exactly an additive -inf mask. cls_only: q and ctx hold one row per
 * sequence (its [CLS] query), row i for sequence i. */
typedef struct att_job {
    cls_bert_t *b;
    const size_t *lens;
    int cls_only;
} att_job_t;

/* Team part `part` of `parts`: the heads [heads part / parts, heads (part +
 * 1) / parts) of every sequence, with the part's own score buffer. */
static void attention_part(void *arg, size_t part, size_t parts)
{
    const att_job_t *j = arg;
    cls_bert_t *b = j->b;
    const cls_bert_config_t *c = cls_model_config(b->m);
    size_t H = c->hidden, d = H / c->heads;
    size_t h0 = c->heads * part / parts, h1 = c->heads * (part + 1) / parts;
    float scale = 1.0f / sqrtf((float)d), *s = b->s + part * b->max_seq * b->max_seq;

    for (size_t i = 0; i < b->n; i++) {
        size_t L = j->cls_only ? 1 : b->stride[i], nk = j->lens[i], r0 = b->off[i],
               q0 = j->cls_only ? i : r0;
        for (size_t h = h0; h < h1; h++) {
            const float *q = b->q + q0 * H + h * d, *k = b->kk + r0 * H + h * d,
                        *v = b->v + r0 * H + h * d;
            float *ctx = b->ctx + q0 * H + h * d;
            /* ctx_h (L, d) = softmax(scale * q_h k_h^T) v_h, scores (L, nk) in s */
            if (!b->lp_attention || b->lp_attention(q, L, k, v, nk, H, d, scale, s, ctx) != 0)
                b->k->attention_head(q, L, k, v, nk, H, d, scale, s, ctx);
        }
    }
}

/* With a team, the heads are split between its threads (each element is
 * computed as without one), when the products are worth a hand-over. */
static void attention(cls_bert_t *b, const size_t *lens, int cls_only)
{
    const cls_bert_config_t *c = cls_model_config(b->m);
    att_job_t j = {b, lens, cls_only};
    size_t macs = 0;

    if (b->team_run && b->team_parts > 1 && b->s_parts >= b->team_parts) {
        for (size_t i = 0; i < b->n; i++)
            macs += (cls_only ? 1 : b->stride[i]) * lens[i];
        macs *= 2 * c->hidden; /* q k^T and p v over every head */
        if (macs >= b->team_min_macs) {
            b->team_run(b->team, attention_part, &j);
            return;
        }
    }
    attention_part(&j, 0, 1);
}

/* Epilogues of the reduced-precision GEMMs: the fp32 kernel table's bias +
 * activation on the rows of a finished tile (see cls_lowp.h); contiguous
 * rows go in one call. */
typedef void (*bias_act_fn)(float *y, const float *b, size_t rows, size_t n);

static void epi_rows(bias_act_fn f, float *y, size_t ldy, const float *bias, size_t rows,
                     size_t n)
{
    if (ldy == n) {
        f(y, bias, rows, n);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        f(y + r * ldy, bias, 1, n);
}

static void epi_gelu_erf(float *y, size_t ldy, const float *bias, size_t rows, size_t n)
{
    epi_rows(cls_kernels_get()->bias_gelu_erf, y, ldy, bias, rows, n);
}

static void epi_gelu_tanh(float *y, size_t ldy, const float *bias, size_t rows, size_t n)
{
    epi_rows(cls_kernels_get()->bias_gelu_tanh, y, ldy, bias, rows, n);
}

static void epi_relu(float *y, size_t ldy, const float *bias, size_t rows, size_t n)
{
    epi_rows(cls_kernels_get()->bias_relu, y, ldy, bias, rows, n);
}

static cls_lowp_epi_fn act_epilogue(cls_act_t act)
{
    return act == CLS_ACT_GELU_ERF ? epi_gelu_erf : act == CLS_ACT_GELU_TANH ? epi_gelu_tanh
                                                                             : epi_relu;
}

/* The reduced-precision dense layers read their input from b->abuf:
 * lp_pack converts x (rows, k) once (Q, K and V share one conversion). The
 * packed fp32 GEMM reads x itself. */
static void lp_pack(cls_bert_t *b, const float *x, size_t rows, size_t k)
{
    if (b->lk->pack_a)
        b->lk->pack_a(x, rows, k, k, b->abuf, b->ascale, b->azp);
}

/* One dense layer y (rows, n) = act(x W^T + bias): from b->abuf (fp32: x)
 * and the packed weights wp when the encoder is packed, else x and w
 * through OpenBLAS. With a team, the output columns are split into parts of whole
 * 16-column blocks, one per thread; each element is computed exactly as
 * without one. act: 0 none, else the model's activation. */
typedef struct dense_job {
    cls_bert_t *b;
    const float *x, *w, *bias;
    const cls_wpack_t *wp;
    size_t rows, k, n;
    int act;
    float *y;
} dense_job_t;

static void dense_part(void *arg, size_t part, size_t nparts)
{
    const dense_job_t *j = arg;
    cls_bert_t *b = j->b;
    size_t blocks = (j->n + 15) / 16, b0 = blocks * part / nparts, b1 = blocks * (part + 1) / nparts;
    size_t j0 = b0 * 16, j1 = b1 * 16 < j->n ? b1 * 16 : j->n;
    cls_act_t act = cls_model_config(b->m)->act;

    if (j0 >= j1)
        return;
    if (j->wp) {
        cls_wpack_t view = *j->wp;
        size_t esz = view.prec == CLS_PREC_INT8 ? 1 : view.prec == CLS_PREC_FP32 ? 4 : 2;
        const void *a = view.prec == CLS_PREC_FP32 ? (const void *)j->x : b->abuf;
        view.data = (char *)view.data + b0 * 16 * view.k_pad * esz;
        view.n = j1 - j0;
        view.n_pad = (b1 - b0) * 16;
        if (view.scale) {
            view.scale += j0;
            view.wsum += j0;
        }
        b->lk->gemm(a, b->ascale, b->azp, j->rows, &view, j->bias + j0,
                    j->act ? act_epilogue(act) : NULL, j->y + j0, j->n);
        return;
    }
    if (!j->act) {
        cls_gemm_xwt_bias(j->x, j->rows, j->k, j->w + j0 * j->k, j1 - j0, j->bias + j0, j->y + j0,
                          j->n);
        return;
    }
    cls_gemm_xwt(j->x, j->rows, j->k, j->w + j0 * j->k, j1 - j0, j->y + j0, j->n);
    act_epilogue(act)(j->y + j0, j->n, j->bias + j0, j->rows, j1 - j0);
}

/* Several dense layers on the same input, one team hand-over for all: each
 * thread takes its part of every layer's columns in turn. */
typedef struct dense_set {
    dense_job_t j[3];
    size_t n;
} dense_set_t;

static void dense_set_part(void *arg, size_t part, size_t parts)
{
    dense_set_t *set = arg;
    for (size_t i = 0; i < set->n; i++)
        dense_part(&set->j[i], part, parts);
}

static void dense_set(cls_bert_t *b, dense_set_t *set)
{
    size_t macs = 0;
    for (size_t i = 0; i < set->n; i++)
        macs += set->j[i].rows * set->j[i].n * set->j[i].k;
    if (b->team_run && b->team_parts > 1 && macs >= b->team_min_macs)
        b->team_run(b->team, dense_set_part, set);
    else
        dense_set_part(set, 0, 1);
}

static void dense(cls_bert_t *b, const float *x, size_t rows, size_t k, const float *w,
                  const cls_wpack_t *wp, size_t n, const float *bias, int act, float *y)
{
    dense_set_t set = {.j = {{b, x, w, bias, wp, rows, k, n, act, y}}, .n = 1};
    dense_set(b, &set);
}

/* y (m, n) = x (m, k) W^T for the pooler and the heads: our own fp32 GEMM
 * on the packed wp, else OpenBLAS on w. */
static void gemm_xwt(const float *x, size_t m, size_t k, const float *w, const cls_wpack_t *wp,
                     size_t n, float *y)
{
    if (wp)
        cls_lowp_get(CLS_PREC_FP32)->gemm(x, NULL, NULL, m, wp, NULL, NULL, y, n);
    else
        cls_gemm_xwt(x, m, k, w, n, y, n);
}

core_err_t cls_bert_set_team(cls_bert_t *b, cls_bert_team_fn run, void *team, size_t parts)
{
    if (run && parts > b->s_parts) {
        /* a score buffer per part for the team's attention */
        int ok = 1;
        float *s = fbuf(parts * b->max_seq * b->max_seq, &ok);
        if (!s)
            return CORE_ENOMEM;
        core_free(b->s);
        b->s = s;
        b->s_parts = parts;
    }
    b->team_run = run;
    b->team = team;
    b->team_parts = parts;
    return CORE_OK;
}

core_err_t cls_bert_run(cls_bert_t *b, const int32_t *ids, const size_t *lens, size_t n, int padded)
{
    const cls_bert_config_t *c = cls_model_config(b->m);
    const cls_weights_t *w = cls_model_weights(b->m);
    const cls_kernels_t *k = b->k;
    size_t H = c->hidden, I = c->intermediate, longest = 0, total = 0;

    if (n == 0 || n > b->max_batch)
        return CORE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > b->max_seq)
            return CORE_EINVAL;
        longest = lens[i] > longest ? lens[i] : longest;
        for (size_t t = 0; t < lens[i]; t++)
            if (ids[total + t] < 0 || (size_t)ids[total + t] >= c->vocab_size)
                return CORE_EINVAL;
        total += lens[i];
    }
    b->n = n;
    b->rows = 0;
    for (size_t i = 0; i < n; i++) {
        b->off[i] = b->rows;
        b->stride[i] = padded ? longest : lens[i];
        b->rows += b->stride[i];
    }
    embed(b, ids, lens);
    for (size_t l = 0; l < c->layers; l++) {
        const cls_layer_weights_t *lw = &w->layer[l];
        const packed_layer_t *pl = b->p ? &b->p->layer[l] : NULL;
        /* Only the [CLS] rows of the last layer reach the pooler: there,
         * queries, attention output and FFN run on those n rows only (keys
         * and values still cover every token). */
        int last = l + 1 == c->layers && w->pool_w != NULL;
        size_t rows = last ? n : b->rows;
        float *xin = b->x;
        if (last) {
            for (size_t i = 0; i < n; i++)
                memcpy(b->cls + i * H, b->x + b->off[i] * H, H * sizeof(float));
            xin = b->cls;
        }
        if (pl)
            lp_pack(b, b->x, b->rows, H);
        /* K, V and (but in the last layer, whose queries are the [CLS]
         * rows with their own packed input) Q in one hand-over */
        dense_set_t kvq = {
            .j = {{b, b->x, lw->k_w, lw->k_b, pl ? pl->k : NULL, b->rows, H, H, 0, b->kk},
                  {b, b->x, lw->v_w, lw->v_b, pl ? pl->v : NULL, b->rows, H, H, 0, b->v},
                  {b, xin, lw->q_w, lw->q_b, pl ? pl->q : NULL, rows, H, H, 0, b->q}},
            .n = last ? 2 : 3};
        dense_set(b, &kvq);
        if (last) {
            if (pl)
                lp_pack(b, xin, rows, H);
            dense(b, xin, rows, H, lw->q_w, pl ? pl->q : NULL, H, lw->q_b, 0, b->q);
        }
        attention(b, lens, last);
        if (pl)
            lp_pack(b, b->ctx, rows, H);
        dense(b, b->ctx, rows, H, lw->ao_w, pl ? pl->ao : NULL, H, lw->ao_b, 0, b->t);
        k->add_layernorm(b->t, xin, lw->aln_g, lw->aln_b, rows, H, c->eps);
        /* now t holds the layer's hidden state after attention; the FFN's
         * bias + activation run on each finished tile (packed) or right
         * after the GEMM */
        if (pl)
            lp_pack(b, b->t, rows, H);
        dense(b, b->t, rows, H, lw->i_w, pl ? pl->i : NULL, I, lw->i_b, 1, b->u);
        /* FFN output into the buffer the layer input came from */
        if (pl)
            lp_pack(b, b->u, rows, I);
        dense(b, b->u, rows, I, lw->o_w, pl ? pl->o : NULL, H, lw->o_b, 0, xin);
        k->add_layernorm(xin, b->t, lw->oln_g, lw->oln_b, rows, H, c->eps);
    }
    if (w->pool_w) {
        /* the last layer left the [CLS] rows in b->cls */
        gemm_xwt(b->cls, n, H, w->pool_w, b->p ? b->p->pool : NULL, H, b->pooled);
        k->bias_tanh(b->pooled, w->pool_b, n, H);
        for (int h = 0; h < CLS_HEAD__COUNT; h++) {
            const cls_head_t *hd = cls_model_head(b->m, (cls_head_kind_t)h);
            if (!hd)
                continue;
            gemm_xwt(b->pooled, n, H, hd->w, b->p ? b->p->head[h] : NULL, hd->n_labels,
                     b->logits[h]);
            k->bias_add(b->logits[h], hd->b, n, hd->n_labels);
            if (hd->inv_temperature != 1.0f) {
                const float *lg = b->logits[h];
                float *pr = b->probs[h];
                for (size_t i = 0; i < n * hd->n_labels; i++)
                    pr[i] = lg[i] * hd->inv_temperature;
            } else {
                memcpy(b->probs[h], b->logits[h], n * hd->n_labels * sizeof(float));
            }
            k->softmax_rows(b->probs[h], n, hd->n_labels);
        }
    }
    return CORE_OK;
}

const float *cls_bert_logits(const cls_bert_t *b, cls_head_kind_t kind)
{
    return kind < CLS_HEAD__COUNT ? b->logits[kind] : NULL;
}

const float *cls_bert_probs(const cls_bert_t *b, cls_head_kind_t kind)
{
    return kind < CLS_HEAD__COUNT ? b->probs[kind] : NULL;
}

double cls_bert_flops(const cls_model_t *m, const size_t *lens, size_t n, int padded)
{
    const cls_bert_config_t *c = cls_model_config(m);
    double H = (double)c->hidden, I = (double)c->intermediate, rows = 0, att = 0, longest = 0;
    double f;

    for (size_t i = 0; i < n; i++)
        longest = (double)lens[i] > longest ? (double)lens[i] : longest;
    for (size_t i = 0; i < n; i++) {
        double L = padded ? longest : (double)lens[i];
        rows += L;
        att += 2.0 * 2.0 * L * (double)lens[i] * H; /* q k^T and s v, all heads */
    }
    f = (double)c->layers * (2.0 * rows * (4.0 * H * H + 2.0 * H * I) + att);
    if (cls_model_weights(m)->pool_w) {
        /* last layer: keys and values for all rows, the rest for [CLS] only */
        double att_last = 0;
        for (size_t i = 0; i < n; i++)
            att_last += 2.0 * 2.0 * (double)lens[i] * H;
        f -= 2.0 * rows * (4.0 * H * H + 2.0 * H * I) + att;
        f += 2.0 * rows * 2.0 * H * H + 2.0 * (double)n * (2.0 * H * H + 2.0 * H * I) + att_last;
        f += 2.0 * (double)n * H * H; /* pooler */
    }
    return f;
}
