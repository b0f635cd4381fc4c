/*
 * cls_classifier: see cls_classifier.h. Up to two encoders (enc[0] and, for
 * a separate sentiment model, enc[1]); each owns its model, tokenizer,
 * tokenizer workspace and id buffer (max_batch * max_seq). The compute
 * threads are `threads` workers (the caller's thread is worker 0, the others
 * are pthreads that wait at a core_gate between batches and team parts: a
 * spin of at most CORE_GATE_SPIN_US, then asleep); each worker has its own
 * cls_bert_t per encoder sized for ceil(max_batch / threads) items, with
 * OpenBLAS single-threaded. A batch is cut into chunks of contiguous items
 * with about equal token counts, about cls_classifier_chunk_tokens each (at
 * least one per worker, at most CHUNKS_PER_WORKER per worker, each at most
 * ceil(max_batch / threads) items), and the workers take chunks from a
 * shared counter until none is left: a worker the scheduler preempts (the
 * daemon's other threads and redis-server share the cores) or that wakes up
 * late holds back only the chunk it is on, not a fixed half of the batch.
 * Packing makes every item independent of its batch neighbours, so
 * splitting a batch never changes a result.
 */
#include "classify/cls_classifier.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_bert.h"
#include "classify/cls_blas.h"
#include "classify/cls_model.h"
#include "classify/cls_wordpiece.h"
#include "core/core_alloc.h"
#include "core/core_gate.h"

typedef struct enc {
    cls_model_t *m;
    cls_wordpiece_t *wp;
    cls_wordpiece_ws_t *ws;
    int32_t *ids; /* (max_batch, max_seq), packed */
    size_t *lens; /* (max_batch) */
    size_t *off;  /* (max_batch) start of item i in ids */
    size_t max_seq, used;
    cls_bert_packed_t *packed; /* NULL at fp32 on OpenBLAS */
} enc_t;

/* The most chunks per worker in a batch: more balance what a preempted
 * worker holds back, fewer make larger GEMMs (bench/e2e, docs/pipeline.md);
 * their size is set by cls_classifier_chunk_tokens. */
#define CHUNKS_PER_WORKER 8

typedef struct chunk {
    size_t first, count; /* items of the current batch */
} chunk_t;

typedef struct worker {
    struct cls_classifier *c;
    cls_bert_t *bert[2]; /* per encoder */
    size_t first, count; /* items of the current chunk */
    double flops;
    core_err_t rc;
    pthread_t tid;
    int started;
} worker_t;

struct cls_classifier {
    enc_t enc[2];
    int n_enc;
    size_t max_batch, n, per_worker;
    worker_t *w;
    size_t n_workers;
    chunk_t *chunks; /* (max_batch) the current batch's chunks */
    size_t n_chunks, chunks_per_worker;
    int chunks_fixed;         /* FINSENT_CHUNKS_PER_WORKER: exactly chunks_per_worker */
    size_t chunk_tokens;      /* else chunks of about this many tokens */
    atomic_size_t next_chunk; /* the next chunk a worker takes */
    core_gate_t gate;         /* hands batches and team parts to workers 1.. */
    cls_bert_part_fn team_fn; /* set: the wake-up is a team part, not a batch share */
    void *team_arg;
    int sync_ok;
    int padded;
    cls_precision_t prec; /* resolved: FP32, BF16 or INT8 */
    const cls_head_t *topic_head, *sent_head;
    enc_t *topic_enc, *sent_enc;
    float *topic_probs; /* (max_batch, n_topics) */
    float *sent_probs;  /* (max_batch, 3) */
    char *join;         /* title "\n" text */
    size_t join_cap;
    char id[340];
    double flops;
};

static void enc_cleanup(enc_t *e)
{
    core_free(e->ids);
    core_free(e->lens);
    core_free(e->off);
    cls_wordpiece_ws_free(e->ws);
    cls_wordpiece_free(e->wp);
    cls_bert_packed_free(e->packed);
    cls_model_free(e->m);
    memset(e, 0, sizeof *e);
}

void cls_classifier_free(cls_classifier_t *c)
{
    if (!c)
        return;
    if (c->sync_ok)
        core_gate_stop(&c->gate);
    for (size_t i = 0; c->w && i < c->n_workers; i++) {
        if (c->w[i].started)
            pthread_join(c->w[i].tid, NULL);
        cls_bert_free(c->w[i].bert[0]);
        cls_bert_free(c->w[i].bert[1]);
    }
    core_free(c->w);
    core_free(c->chunks);
    if (c->sync_ok)
        core_gate_destroy(&c->gate);
    for (int i = 0; i < 2; i++)
        enc_cleanup(&c->enc[i]);
    core_free(c->topic_probs);
    core_free(c->sent_probs);
    core_free(c->join);
    core_free(c);
}

static core_err_t enc_init(enc_t *e, const char *dir, size_t max_batch, size_t max_seq, char *err,
                           size_t errlen)
{
    const cls_bert_config_t *cfg;
    core_err_t rc;

    if ((rc = cls_model_load(dir, &e->m, err, errlen)) != CORE_OK)
        return rc;
    cfg = cls_model_config(e->m);
    if ((rc = cls_wordpiece_load_dir(dir, cfg->max_pos, &e->wp, err, errlen)) != CORE_OK)
        return rc;
    if (cls_wordpiece_vocab_size(e->wp) != cfg->vocab_size) {
        core_err_set(err, errlen, "%s: vocab.txt has %zu tokens but the model has %zu embeddings",
                     dir, cls_wordpiece_vocab_size(e->wp), cfg->vocab_size);
        return CORE_EMODEL;
    }
    e->max_seq = cls_wordpiece_max_len(e->wp);
    if (max_seq && max_seq < e->max_seq)
        e->max_seq = max_seq;
    if (e->max_seq > cfg->max_pos)
        e->max_seq = cfg->max_pos;
    if (e->max_seq < 2) {
        core_err_set(err, errlen, "%s: max sequence length %zu is too small", dir, e->max_seq);
        return CORE_EINVAL;
    }
    if ((rc = cls_wordpiece_ws_new(e->wp, &e->ws)) != CORE_OK)
        return rc;
    if (!(e->ids = core_malloc(max_batch * e->max_seq * sizeof *e->ids)) ||
        !(e->lens = core_malloc(max_batch * sizeof *e->lens)) ||
        !(e->off = core_malloc(max_batch * sizeof *e->off)))
        return CORE_ENOMEM;
    return CORE_OK;
}

/* Runs the items w->first .. w->first + w->count on every encoder, adds
 * their flops to w->flops and copies their probabilities into the
 * classifier's result rows. */
static void run_share(worker_t *w)
{
    cls_classifier_t *c = w->c;
    w->rc = CORE_OK;
    if (w->count == 0)
        return;
    for (int k = 0; k < c->n_enc; k++) {
        enc_t *e = &c->enc[k];
        w->rc = cls_bert_run(w->bert[k], e->ids + e->off[w->first], e->lens + w->first, w->count,
                             c->padded);
        if (w->rc != CORE_OK)
            return;
        w->flops += cls_bert_flops(e->m, e->lens + w->first, w->count, c->padded);
    }
    if (c->topic_enc) {
        size_t nt = c->topic_head->n_labels;
        memcpy(c->topic_probs + w->first * nt,
               cls_bert_probs(w->bert[c->topic_enc - c->enc], CLS_HEAD_TOPIC),
               w->count * nt * sizeof(float));
    }
    if (c->sent_enc) {
        const float *p = cls_bert_probs(w->bert[c->sent_enc - c->enc], CLS_HEAD_SENTIMENT);
        for (size_t i = 0; i < w->count; i++)
            for (int s = 0; s < 3; s++)
                c->sent_probs[(w->first + i) * 3 + s] = p[i * 3 + c->sent_head->order[s]];
    }
}

/* Worker w takes chunks of the current batch until none is left or one
 * fails (w->rc). */
static void run_chunks(worker_t *w)
{
    cls_classifier_t *c = w->c;
    size_t k;
    w->rc = CORE_OK;
    w->flops = 0;
    while (w->rc == CORE_OK &&
           (k = atomic_fetch_add_explicit(&c->next_chunk, 1, memory_order_relaxed)) < c->n_chunks) {
        w->first = c->chunks[k].first;
        w->count = c->chunks[k].count;
        run_share(w);
    }
}

static void team_run(void *team, cls_bert_part_fn fn, void *arg);

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    cls_classifier_t *c = w->c;
    unsigned seen = 0;
    cls_bert_part_fn fn;
    void *fn_arg;

    while (core_gate_wait(&c->gate, &seen)) {
        fn = c->team_fn;
        fn_arg = c->team_arg;
        if (fn)
            fn(fn_arg, (size_t)(w - c->w), c->n_workers);
        else
            run_chunks(w);
        core_gate_finish(&c->gate);
    }
    return NULL;
}

/* The precision the classifier runs at: an explicit one if every model
 * allows it, else CORE_EINVAL; auto: the fastest one this CPU runs natively
 * that every model allows (int8, then bf16, then fp32). */
static core_err_t choose_precision(cls_classifier_t *c, cls_precision_t want, char *err,
                                   size_t errlen)
{
    unsigned allowed = ~0u;

    for (int k = 0; k < c->n_enc; k++)
        allowed &= cls_model_precisions(c->enc[k].m);
    if (want == CLS_PREC_AUTO) {
        c->prec = cls_lowp_auto(allowed);
        return CORE_OK;
    }
    if (want != CLS_PREC_FP32 && want != CLS_PREC_BF16 && want != CLS_PREC_INT8) {
        core_err_set(
            err, errlen,
            "classifier: unknown precision (classify.precision must be auto, fp32, bf16 or "
            "int8)");
        return CORE_EINVAL;
    }
    if (!(allowed & (1u << want))) {
        core_err_set(err, errlen,
                     "classifier: precision %s is not allowed by the model (config.json "
                     "\"finsent_precisions\")",
                     cls_precision_name(want));
        return CORE_EINVAL;
    }
    c->prec = want;
    return CORE_OK;
}

static core_err_t start_workers(cls_classifier_t *c, size_t threads)
{
    const char *env = getenv("FINSENT_CHUNKS_PER_WORKER"); /* bench: A/B of the split */
    int cpw = env ? atoi(env) : 0;
    c->n_workers = threads;
    c->per_worker = (c->max_batch + threads - 1) / threads;
    c->chunks_per_worker = cpw > 0 && cpw <= 64 ? (size_t)cpw : CHUNKS_PER_WORKER;
    c->chunks_fixed = cpw > 0 && cpw <= 64;
    /* the larger encoder sets the size */
    for (int k = 0; k < c->n_enc; k++) {
        size_t t = cls_classifier_chunk_tokens(cls_model_config(c->enc[k].m), c->prec);
        c->chunk_tokens = t > c->chunk_tokens ? t : c->chunk_tokens;
    }
    if (!(c->w = core_calloc(threads, sizeof *c->w)) ||
        !(c->chunks = core_calloc(c->max_batch, sizeof *c->chunks)))
        return CORE_ENOMEM;
    for (size_t i = 0; i < threads; i++) {
        c->w[i].c = c;
        for (int k = 0; k < c->n_enc; k++) {
            core_err_t rc =
                cls_bert_new_packed(c->enc[k].m, c->enc[k].packed, c->per_worker,
                                    c->enc[k].max_seq, &c->w[i].bert[k]);
            if (rc != CORE_OK)
                return rc;
        }
    }
    /* worker 0 leads the team of small batches: its encoders get the
     * team's attention buffers now, not on the first such batch */
    for (int k = 0; threads > 1 && k < c->n_enc; k++) {
        core_err_t rc = cls_bert_set_team(c->w[0].bert[k], team_run, c, threads);
        if (rc != CORE_OK)
            return rc;
        (void)cls_bert_set_team(c->w[0].bert[k], NULL, NULL, 0);
    }
    core_err_t rc = core_gate_init(&c->gate, CORE_GATE_SPIN_US);
    if (rc != CORE_OK)
        return rc;
    c->sync_ok = 1;
    for (size_t i = 1; i < threads; i++) {
        if (pthread_create(&c->w[i].tid, NULL, worker_main, &c->w[i]) != 0)
            return CORE_ENOMEM;
        c->w[i].started = 1;
    }
    return CORE_OK;
}

core_err_t cls_classifier_new(const cls_classifier_opts_t *o, cls_classifier_t **out, char *err,
                              size_t errlen)
{
    cls_classifier_t *c = NULL;
    const char *td = o->topic_model_dir && *o->topic_model_dir ? o->topic_model_dir : o->model_dir;
    const char *sd =
        o->sentiment_model_dir && *o->sentiment_model_dir ? o->sentiment_model_dir : o->model_dir;
    core_err_t rc = CORE_ENOMEM;

    *out = NULL;
    if (!td || !*td || !sd || !*sd || o->max_batch == 0 || o->max_batch > 65536 ||
        o->threads > 256) {
        core_err_set(err, errlen,
                     "classifier: no model directory, or batch size or threads out of range");
        return CORE_EINVAL;
    }
    if (!(c = core_calloc(1, sizeof *c)))
        goto out;
    c->max_batch = o->max_batch;
    c->padded = o->padded;
    if ((rc = enc_init(&c->enc[0], td, o->max_batch, o->max_seq, err, errlen)) != CORE_OK)
        goto out;
    c->n_enc = 1;
    if (strcmp(td, sd) != 0) {
        if ((rc = enc_init(&c->enc[1], sd, o->max_batch, o->max_seq, err, errlen)) != CORE_OK)
            goto out;
        c->n_enc = 2;
        c->topic_enc = &c->enc[0];
        c->sent_enc = &c->enc[1];
        rc = CORE_EMODEL;
        if (!cls_model_head(c->enc[0].m, CLS_HEAD_TOPIC)) {
            core_err_set(err, errlen, "%s: the topic model has no topic head", td);
            goto out;
        }
        if (!cls_model_head(c->enc[1].m, CLS_HEAD_SENTIMENT)) {
            core_err_set(err, errlen, "%s: the sentiment model has no sentiment head", sd);
            goto out;
        }
    } else {
        c->topic_enc = cls_model_head(c->enc[0].m, CLS_HEAD_TOPIC) ? &c->enc[0] : NULL;
        c->sent_enc = cls_model_head(c->enc[0].m, CLS_HEAD_SENTIMENT) ? &c->enc[0] : NULL;
        if (!c->topic_enc && !c->sent_enc) {
            core_err_set(err, errlen, "%s: the model has no classification head", td);
            rc = CORE_EMODEL;
            goto out;
        }
    }
    rc = CORE_ENOMEM;
    if (c->topic_enc) {
        c->topic_head = cls_model_head(c->topic_enc->m, CLS_HEAD_TOPIC);
        if (c->topic_head->n_labels > CORE_TOPICS_MAX) {
            core_err_set(err, errlen, "%s: the topic head has %zu labels, at most %d are supported",
                         td, c->topic_head->n_labels, CORE_TOPICS_MAX);
            rc = CORE_EMODEL;
            goto out;
        }
        if (!(c->topic_probs = core_malloc(o->max_batch * c->topic_head->n_labels * sizeof(float))))
            goto out;
    }
    if (c->sent_enc) {
        c->sent_head = cls_model_head(c->sent_enc->m, CLS_HEAD_SENTIMENT);
        if (!(c->sent_probs = core_malloc(o->max_batch * 3 * sizeof(float))))
            goto out;
    }
    if ((rc = choose_precision(c, o->precision, err, errlen)) != CORE_OK)
        goto out;
    /* fp32 packs too when it runs on our own GEMM (not OpenBLAS) */
    for (int k = 0; k < c->n_enc && (c->prec != CLS_PREC_FP32 || cls_lowp_fp32_own()); k++) {
        if ((rc = cls_bert_pack(c->enc[k].m, c->prec, CLS_PACK_DROP_ORIGINALS,
                                &c->enc[k].packed)) != CORE_OK) {
            core_err_set(err, errlen, "%s: cannot pack the weights for %s",
                         cls_model_dir(c->enc[k].m), cls_precision_name(c->prec));
            goto out;
        }
    }
    rc = CORE_ENOMEM;
    {
        size_t threads = o->threads;
        if (!threads) {
            int bt = cls_blas_get_threads();
            threads = bt > 0 && bt <= 256 ? (size_t)bt : 1;
        }
        cls_blas_set_threads(1);
        rc = start_workers(c, threads);
    }
    if (rc != CORE_OK) {
        core_err_set(err, errlen, "classifier: cannot start %zu compute threads", o->threads);
        goto out;
    }
    if (c->n_enc == 2)
        snprintf(c->id, sizeof c->id, "%s+%s", cls_model_id(c->enc[0].m),
                 cls_model_id(c->enc[1].m));
    else
        snprintf(c->id, sizeof c->id, "%s", cls_model_id(c->enc[0].m));
    *out = c;
    c = NULL;
    rc = CORE_OK;
out:
    cls_classifier_free(c);
    return rc;
}

static core_err_t encode_item(cls_classifier_t *c, size_t i, const char *text, size_t len)
{
    for (int k = 0; k < c->n_enc; k++) {
        enc_t *e = &c->enc[k];
        size_t n = 0;
        core_err_t rc;
        if (i == 0)
            e->used = 0;
        e->off[i] = e->used;
        rc = cls_wordpiece_encode(e->wp, e->ws, text, len, e->ids + e->used, e->max_seq, &n);
        if (rc != CORE_OK)
            return rc;
        e->lens[i] = n;
        e->used += n;
    }
    return CORE_OK;
}

/* cls_bert_team_fn of the classifier: worker 0 (the caller) runs part 0,
 * the sleeping workers the others. */
static void team_run(void *team, cls_bert_part_fn fn, void *arg)
{
    cls_classifier_t *c = team;
    c->team_fn = fn;
    c->team_arg = arg;
    core_gate_open(&c->gate, c->n_workers - 1);
    fn(arg, 0, c->n_workers);
    core_gate_wait_done(&c->gate);
    c->team_fn = NULL;
    c->team_arg = NULL;
}

/* A batch smaller than the team (a single item at light load): worker 0
 * encodes it with every worker taking a share of each dense layer and of
 * the attention heads. */
static core_err_t run_as_team(cls_classifier_t *c, size_t n)
{
    worker_t *w0 = &c->w[0];
    /* allocates nothing: the buffers were made with the encoders */
    for (int k = 0; k < c->n_enc; k++)
        (void)cls_bert_set_team(w0->bert[k], team_run, c, c->n_workers);
    w0->first = 0;
    w0->count = n;
    w0->flops = 0;
    run_share(w0);
    for (int k = 0; k < c->n_enc; k++)
        (void)cls_bert_set_team(w0->bert[k], NULL, NULL, 0);
    for (size_t i = 1; i < c->n_workers; i++)
        c->w[i].count = 0;
    if (w0->rc != CORE_OK)
        return w0->rc;
    c->flops = w0->flops;
    c->n = n;
    return CORE_OK;
}

size_t cls_classifier_chunk_tokens(const cls_bert_config_t *cf, cls_precision_t prec)
{
    size_t esz = prec == CLS_PREC_INT8 ? 1 : prec == CLS_PREC_BF16 ? 2 : 4;
    size_t per_layer = 4 * cf->hidden * cf->hidden + 2 * cf->hidden * cf->intermediate;
    return per_layer * cf->layers * esz > CLS_CHUNK_BIG_BYTES ? CLS_CHUNK_TOKENS_BIG
                                                              : CLS_CHUNK_TOKENS_SMALL;
}

/* make_chunks cuts items 0..n of the encoded batch into runs of contiguous
 * items with about equal token counts, about chunk_tokens each but at
 * least one and at most chunks_per_worker per worker (exactly that many with
 * FINSENT_CHUNKS_PER_WORKER), none longer than per_worker items. */
static void make_chunks(cls_classifier_t *c, size_t n)
{
    const size_t *lens = c->enc[0].lens;
    size_t total = 0, want = c->n_workers * c->chunks_per_worker, done = 0, i = 0;

    for (size_t j = 0; j < n; j++)
        total += lens[j];
    if (!c->chunks_fixed) {
        size_t by_tokens = (total + c->chunk_tokens - 1) / c->chunk_tokens;
        want = by_tokens < c->n_workers ? c->n_workers : by_tokens < want ? by_tokens : want;
    }
    c->n_chunks = 0;
    while (i < n) {
        chunk_t *ch = &c->chunks[c->n_chunks++];
        size_t left = want > c->n_chunks ? want - c->n_chunks + 1 : 1;
        /* tokens: an equal share of what is left */
        size_t target = (total - done + left - 1) / left;
        size_t tok = 0;
        ch->first = i;
        do
            tok += lens[i++];
        while (i < n && i - ch->first < c->per_worker && tok + lens[i] / 2 < target);
        ch->count = i - ch->first;
        done += tok;
    }
    atomic_store_explicit(&c->next_chunk, 0, memory_order_relaxed);
}

static core_err_t run_encoded(cls_classifier_t *c, size_t n)
{
    if (c->n_workers > 1 && n < c->n_workers && n <= c->per_worker)
        return run_as_team(c, n);

    make_chunks(c, n);
    if (c->n_workers > 1)
        core_gate_open(&c->gate, c->n_workers - 1);
    run_chunks(&c->w[0]);
    if (c->n_workers > 1)
        core_gate_wait_done(&c->gate);
    c->flops = 0;
    for (size_t i = 0; i < c->n_workers; i++) {
        if (c->w[i].rc != CORE_OK)
            return c->w[i].rc;
        c->flops += c->w[i].flops;
    }
    c->n = n;
    return CORE_OK;
}

core_err_t cls_classifier_run(cls_classifier_t *c, const char *const *texts, const size_t *lens,
                              size_t n)
{
    core_err_t rc;
    if (n == 0 || n > c->max_batch)
        return CORE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((rc = encode_item(c, i, texts[i], lens[i])) != CORE_OK)
            return rc;
    return run_encoded(c, n);
}

static size_t argmax(const float *p, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] > p[best])
            best = i;
    return best;
}

core_err_t cls_classifier_tag(cls_classifier_t *c, core_tagged_t *const *items, size_t n)
{
    core_err_t rc;

    if (n == 0 || n > c->max_batch)
        return CORE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const core_item_t *it = items[i]->item;
        const char *ti = it->title ? it->title : "", *tx = it->text ? it->text : "";
        size_t tl = strlen(ti), xl = strlen(tx), need = tl + xl + 2;
        if (need > c->join_cap) {
            char *g = core_realloc(c->join, need);
            if (!g)
                return CORE_ENOMEM;
            c->join = g;
            c->join_cap = need;
        }
        memcpy(c->join, ti, tl);
        c->join[tl] = '\n';
        memcpy(c->join + tl + 1, tx, xl);
        if ((rc = encode_item(c, i, c->join, tl + 1 + xl)) != CORE_OK)
            return rc;
    }
    if ((rc = run_encoded(c, n)) != CORE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        core_tagged_t *t = items[i];
        snprintf(t->model, sizeof t->model, "%s", c->id);
        if (c->topic_head) {
            size_t nt = c->topic_head->n_labels;
            const float *p = c->topic_probs + i * nt;
            size_t best = argmax(p, nt);
            snprintf(t->topic, sizeof t->topic, "%s", c->topic_head->labels[best]);
            t->topic_p = p[best];
            t->n_topics = nt;
            t->topic_labels = c->topic_head->labels;
            memcpy(t->topic_probs, p, nt * sizeof(float));
        }
        if (c->sent_head) {
            const float *p = c->sent_probs + i * 3;
            t->sentiment = (int)argmax(p, 3);
            memcpy(t->sentiment_p, p, sizeof t->sentiment_p);
        }
    }
    return CORE_OK;
}

const float *cls_classifier_topic_probs(const cls_classifier_t *c)
{
    return c->topic_probs;
}

const float *cls_classifier_sentiment_probs(const cls_classifier_t *c)
{
    return c->sent_probs;
}

const size_t *cls_classifier_lengths(const cls_classifier_t *c)
{
    return c->enc[0].lens;
}

size_t cls_classifier_n_topics(const cls_classifier_t *c)
{
    return c->topic_head ? c->topic_head->n_labels : 0;
}

const char *const *cls_classifier_topic_labels(const cls_classifier_t *c)
{
    return c->topic_head ? c->topic_head->labels : NULL;
}

int cls_classifier_has_sentiment(const cls_classifier_t *c)
{
    return c->sent_head != NULL;
}

const char *cls_classifier_model_id(const cls_classifier_t *c)
{
    return c->id;
}

size_t cls_classifier_max_batch(const cls_classifier_t *c)
{
    return c->max_batch;
}

size_t cls_classifier_max_seq(const cls_classifier_t *c)
{
    return c->enc[0].max_seq;
}

double cls_classifier_flops(const cls_classifier_t *c)
{
    return c->flops;
}

cls_precision_t cls_classifier_precision(const cls_classifier_t *c)
{
    return c->prec;
}

const char *cls_classifier_kernels(const cls_classifier_t *c)
{
    const cls_lowp_kernels_t *k;
    if (c->prec == CLS_PREC_FP32)
        return cls_lowp_fp32_gemm();
    k = cls_lowp_get(c->prec);
    return k ? k->name : "openblas";
}

size_t cls_classifier_packed_bytes(const cls_classifier_t *c)
{
    size_t n = 0;
    for (int k = 0; k < c->n_enc; k++)
        n += cls_bert_packed_bytes(c->enc[k].packed);
    return n;
}
