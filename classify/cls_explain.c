/*
 * cls_explain: occlusion explanations; see cls_explain.h.
 *
 * Two steps. cls_explain_split walks the text once, code point by code
 * point, and emits units (a run of non-space, with punctuation-only runs
 * merged into a neighbour); it stops as soon as a unit would break a cap,
 * so a long text costs only the words explained. cls_explain then builds
 * the occluded copies in one buffer (n copies of at most explained_len
 * bytes: at most 64 KiB with the default caps), runs [full, copy 1, ...,
 * copy n] through the classifier in slices of its max_batch, and turns the
 * probabilities into deltas. The full text is item 0 of the first slice, so
 * its topic is known before any copy's topic probability is read and no
 * (items, topics) table is kept.
 *
 * The explanation is allocated per call (it is not the pipeline's hot path);
 * the classifier's own buffers are reused as for any run.
 */
#include "classify/cls_explain.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/core_time.h"
#include "core/core_utf8.h"

#define NONE SIZE_MAX

/* ---- words ------------------------------------------------------------- */

/* next_cp decodes the code point at s[*i] and advances *i; an invalid byte
 * is one U+FFFD (an ordinary word character here). */
static int32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
    utf8proc_int32_t cp;
    size_t left = len - *i;
    utf8proc_ssize_t n = utf8proc_iterate(s + *i, left > 4 ? 4 : (utf8proc_ssize_t)left, &cp);
    if (n < 1) {
        *i += 1;
        return 0xFFFD;
    }
    *i += (size_t)n;
    return cp;
}

/* Space as the tokenizer splits on it (docs/tokenizer.md, steps 2 and 4). */
static int is_space(int32_t cp)
{
    if (cp < 128)
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r';
    return cp == 0x2028 || cp == 0x2029 || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* Punctuation as the tokenizer splits it off, plus currency signs. */
static int is_punct(int32_t cp)
{
    utf8proc_category_t c;
    if (cp < 128)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) || c == UTF8PROC_CATEGORY_SC;
}

/* Punctuation that belongs to the word after it. */
static int is_opening(int32_t cp)
{
    utf8proc_category_t c;
    if (cp < 128)
        return cp == '$' || cp == '(' || cp == '[' || cp == '{' || cp == '#' || cp == '@';
    c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_PS || c == UTF8PROC_CATEGORY_PI || c == UTF8PROC_CATEGORY_SC;
}

static void caps(const cls_explain_opts_t *o, size_t *mw, size_t *mb)
{
    *mw = o && o->max_words ? o->max_words : CLS_EXPLAIN_MAX_WORDS;
    *mb = o && o->max_bytes ? o->max_bytes : CLS_EXPLAIN_MAX_BYTES;
}

size_t cls_explain_split(const char *text, size_t len, const cls_explain_opts_t *o, size_t *starts,
                         size_t *lens, size_t cap, int *truncated)
{
    const unsigned char *s = (const unsigned char *)text;
    int merge = !(o && o->no_merge);
    size_t mw, mb, n = 0, i = 0, pend = NONE, last_end = 0;

    caps(o, &mw, &mb);
    if (cap < mw)
        mw = cap;
    *truncated = 0;
    while (i < len) {
        size_t ws, we, j;
        int punct = 1;
        int32_t cp, last = 0;

        /* skip space */
        j = i;
        cp = next_cp(s, len, &j);
        if (is_space(cp)) {
            i = j;
            continue;
        }
        /* one run of non-space */
        ws = i;
        while (i < len) {
            j = i;
            cp = next_cp(s, len, &j);
            if (is_space(cp))
                break;
            punct = punct && is_punct(cp);
            last = cp;
            i = j;
        }
        we = i;
        last_end = we;
        if (merge && punct) {
            if (!is_opening(last) && n > 0 && pend == NONE) {
                /* closing punctuation: the previous word's */
                if (we > mb) {
                    *truncated = 1;
                    return n;
                }
                lens[n - 1] = we - starts[n - 1];
                continue;
            }
            if (pend == NONE)
                pend = ws; /* joins the next word */
            continue;
        }
        if (pend != NONE)
            ws = pend;
        pend = NONE;
        if (n == mw || we > mb) {
            *truncated = 1;
            return n;
        }
        starts[n] = ws;
        lens[n] = we - ws;
        n++;
    }
    if (pend != NONE) {
        /* punctuation at the end with no word after it */
        if (last_end > mb) {
            *truncated = 1;
        } else if (n > 0) {
            lens[n - 1] = last_end - starts[n - 1];
        } else if (mw > 0) {
            starts[0] = pend;
            lens[0] = last_end - pend;
            n = 1;
        } else {
            *truncated = 1;
        }
    }
    return n;
}

/* ---- explanation ------------------------------------------------------- */

void cls_explanation_free(cls_explanation_t *e)
{
    if (!e)
        return;
    free(e->words);
    free(e);
}

static size_t argmax(const float *p, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] > p[best])
            best = i;
    return best;
}

/* take_full records the explained text's label from row 0 of the results. */
static void take_full(cls_classifier_t *c, cls_explanation_t *e)
{
    const float *sp = cls_classifier_sentiment_probs(c);
    const float *tp = cls_classifier_topic_probs(c);
    size_t nt = cls_classifier_n_topics(c);

    if (sp) {
        memcpy(e->sentiment_p, sp, sizeof e->sentiment_p);
        e->sentiment = (int)argmax(sp, CORE_SENT__COUNT);
    }
    if (tp && nt) {
        size_t t = argmax(tp, nt);
        e->topic = (int)t;
        e->topic_p = tp[t];
        snprintf(e->topic_label, sizeof e->topic_label, "%s", cls_classifier_topic_labels(c)[t]);
    }
}

core_err_t cls_explain(cls_classifier_t *c, const char *text, size_t len,
                       const cls_explain_opts_t *o, cls_explanation_t **out, char *err,
                       size_t errlen)
{
    int64_t t0 = core_time_mono_ns();
    cls_explanation_t *e = NULL;
    size_t mw, mb, n, L, total, mbatch, nt, bad = 0;
    size_t *starts = NULL, *wlens = NULL, *tl = NULL;
    const char **texts = NULL;
    char *buf = NULL;
    int truncated = 0;
    core_err_t rc = CORE_ENOMEM;

    *out = NULL;
    caps(o, &mw, &mb);
    if (!c || (!text && len) || mw > CLS_EXPLAIN_WORDS_LIMIT || mb > CLS_EXPLAIN_BYTES_LIMIT) {
        core_err_set(err, errlen,
                     "explain: no classifier, or max_words above %d or max_bytes above %d",
                     CLS_EXPLAIN_WORDS_LIMIT, CLS_EXPLAIN_BYTES_LIMIT);
        return CORE_EINVAL;
    }
    if (len == 0) {
        core_err_set(err, errlen, "text: empty");
        return CORE_EEMPTY_TEXT;
    }
    if (!core_utf8_valid(text, len, &bad)) {
        core_err_set(err, errlen, "text: invalid UTF-8 at byte %zu", bad);
        return CORE_EUTF8;
    }
    if (!(starts = malloc(mw * sizeof *starts)) || !(wlens = malloc(mw * sizeof *wlens)))
        goto out;
    n = cls_explain_split(text, len, o, starts, wlens, mw, &truncated);
    if (n == 0) {
        if (truncated) {
            core_err_set(err, errlen, "text: the first word is longer than %zu bytes", mb);
            rc = CORE_ETOO_LARGE;
        } else {
            core_err_set(err, errlen, "text: no words (only spaces)");
            rc = CORE_EEMPTY_TEXT;
        }
        goto out;
    }
    L = truncated ? starts[n - 1] + wlens[n - 1] : len;
    total = n + 1;
    if (!(e = calloc(1, sizeof *e)) || !(e->words = calloc(n, sizeof *e->words)) ||
        !(buf = malloc(n * L)) || !(texts = malloc(total * sizeof *texts)) ||
        !(tl = malloc(total * sizeof *tl)))
        goto out;
    e->n_words = n;
    e->truncated = truncated;
    e->explained_len = L;
    e->sentiment = -1;
    e->topic = -1;
    e->n_items = total;
    texts[0] = text;
    tl[0] = L;
    for (size_t i = 0; i < n; i++) {
        char *p = buf + i * L;
        size_t s = starts[i], w = wlens[i];
        memcpy(p, text, s);
        memcpy(p + s, text + s + w, L - s - w);
        texts[i + 1] = p;
        tl[i + 1] = L - w;
        e->words[i].start = s;
        e->words[i].len = w;
    }

    mbatch = cls_classifier_max_batch(c);
    nt = cls_classifier_n_topics(c);
    for (size_t k = 0; k < total; k += mbatch) {
        size_t m = total - k < mbatch ? total - k : mbatch;
        const float *sp, *tp;
        if ((rc = cls_classifier_run(c, texts + k, tl + k, m)) != CORE_OK) {
            core_err_set(err, errlen, "explain: classifier: %s", core_strerror(rc));
            goto out;
        }
        e->n_batches++;
        sp = cls_classifier_sentiment_probs(c);
        tp = cls_classifier_topic_probs(c);
        for (size_t j = 0; j < m; j++) {
            cls_explain_word_t *w;
            if (k + j == 0) {
                take_full(c, e);
                continue;
            }
            w = &e->words[k + j - 1];
            if (sp)
                for (int s = 0; s < CORE_SENT__COUNT; s++)
                    w->delta[s] = e->sentiment_p[s] - sp[j * CORE_SENT__COUNT + (size_t)s];
            if (tp && e->topic >= 0)
                w->topic_delta = e->topic_p - tp[j * nt + (size_t)e->topic];
        }
    }
    e->ms = (double)(core_time_mono_ns() - t0) / 1e6;
    *out = e;
    e = NULL;
    rc = CORE_OK;
out:
    if (rc == CORE_ENOMEM)
        core_err_set(err, errlen, "explain: out of memory");
    cls_explanation_free(e);
    free(starts);
    free(wlens);
    free(buf);
    free(texts);
    free(tl);
    return rc;
}
