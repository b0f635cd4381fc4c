/*
 * cls_explain: which words of a text drove its label, by occlusion.
 *
 * The text is cut into words (runs of non-space, space as the tokenizer
 * sees it: ASCII space, \t \n \r, Unicode Zs, U+2028, U+2029). A word made
 * only of punctuation or currency signs is merged into a neighbour, so a
 * lone "$" or "%" or "-" is not explained on its own: an opening one ("$",
 * "(", an opening quote, any currency sign) joins the next word, the others
 * the previous word ("Acme - shares" gives "Acme -" and "shares"). Words
 * that are already one run ("$ACME", "18%") need no merging. Each unit
 * keeps its byte offset and length in the caller's text.
 *
 * For each word the classifier also sees a copy of the text with that word's
 * bytes removed (occlusion). The full text and all copies go through the
 * classifier as one batch, or several when there are more of them than its
 * max_batch (results do not depend on the batching: the engine packs every
 * item on its own). A word's delta is p_full - p_without for each sentiment
 * class (so a positive "negative" delta means the word pushes towards
 * negative) and for the full text's predicted topic.
 *
 * Caps: at most max_words words and max_bytes bytes are explained. A longer
 * text is explained on its prefix that ends with the last word that fits:
 * the label, the probabilities and every copy are those of that prefix
 * (`explained_len` bytes), and `truncated` says so.
 *
 * Threads: pure computation on the caller's classifier, which is not
 * thread-safe: the caller serialises every use of it (cls_explain included)
 * and must not run the classifier from another thread meanwhile. cls_explain
 * overwrites the classifier's last results (cls_classifier_*_probs).
 */
#ifndef CLS_EXPLAIN_H
#define CLS_EXPLAIN_H

#include <stddef.h>

#include "classify/cls_classifier.h"
#include "core/core_error.h"
#include "core/core_item.h"

#define CLS_EXPLAIN_MAX_WORDS 64      /* default cap on words */
#define CLS_EXPLAIN_MAX_BYTES 1000    /* default cap on bytes */
#define CLS_EXPLAIN_WORDS_LIMIT 512   /* the largest max_words accepted */
#define CLS_EXPLAIN_BYTES_LIMIT 65536 /* the largest max_bytes accepted */

/* Options; all zero (or a NULL pointer) means the defaults. */
typedef struct cls_explain_opts {
    size_t max_words; /* 0: CLS_EXPLAIN_MAX_WORDS; at most CLS_EXPLAIN_WORDS_LIMIT */
    size_t max_bytes; /* 0: CLS_EXPLAIN_MAX_BYTES; at most CLS_EXPLAIN_BYTES_LIMIT */
    int no_merge;     /* 1: every run of non-space is a word, punctuation too */
} cls_explain_opts_t;

typedef struct cls_explain_word {
    size_t start, len;             /* bytes of the word in the text */
    float delta[CORE_SENT__COUNT]; /* p_full - p_without, core_sentiment_t order */
    float topic_delta;             /* same for the full text's topic */
} cls_explain_word_t;

typedef struct cls_explanation {
    size_t n_words;
    cls_explain_word_t *words; /* (n_words), in text order */
    int truncated;             /* the text had more words than were explained */
    size_t explained_len;      /* bytes of the text explained (a prefix) */
    /* The explained text's label. sentiment is -1 and sentiment_p zeros when
     * the model has no sentiment head; topic is -1, topic_label "" and
     * topic_p 0 when it has no topic head. */
    int sentiment;
    float sentiment_p[CORE_SENT__COUNT];
    int topic; /* index into cls_classifier_topic_labels */
    char topic_label[64];
    float topic_p;
    size_t n_items;   /* texts classified: 1 + n_words */
    size_t n_batches; /* classifier runs they took */
    double ms;        /* wall-clock time of the explanation */
} cls_explanation_t;

/* cls_explain explains text[0..len) (borrowed; need not be NUL-terminated)
 * with classifier c (see Threads above) and options o (NULL: defaults).
 * On success *out is a new explanation, freed with cls_explanation_free.
 * Errors (*out NULL, err says why in words fit for a user):
 * CORE_EEMPTY_TEXT for an empty or all-space text; CORE_EUTF8 for invalid
 * UTF-8 (err names the byte offset); CORE_ETOO_LARGE when the first word
 * alone is longer than max_bytes; CORE_EINVAL for options out of range;
 * CORE_ENOMEM; the classifier's errors. */
core_err_t cls_explain(cls_classifier_t *c, const char *text, size_t len,
                       const cls_explain_opts_t *o, cls_explanation_t **out, char *err,
                       size_t errlen);

/* cls_explanation_free: NULL is a no-op. */
void cls_explanation_free(cls_explanation_t *e);

/* cls_explain_split cuts text[0..len) into words as cls_explain does (the
 * same merging and caps) and writes up to cap (start, len) pairs into
 * starts/lens; returns the number of words kept, sets *truncated when the
 * text had more than the caps allow. Does not check UTF-8 (invalid bytes are
 * word bytes). Pure; for tests and for callers that want the words only. */
size_t cls_explain_split(const char *text, size_t len, const cls_explain_opts_t *o, size_t *starts,
                         size_t *lens, size_t cap, int *truncated);

#endif
