/*
 * core_item: the unit of work, and the tagged item the classifier makes of it.
 *
 * Ownership: a core_item_t owns every string it points to and its entity
 * array; core_item_free releases them all. A core_tagged_t owns its item.
 * Items move through the pipeline by pointer; whoever holds the pointer owns
 * the item, and handing it to a queue hands over ownership.
 *
 * Acknowledgement: the source that made an item fills item->ack. When the
 * pipeline is done with an item (its counters are in Redis, or it was
 * rejected for good), it calls core_item_ack exactly once; the source then
 * stores the Kafka offset or marks the feed entry seen. The ack callback runs
 * on the caller's thread and must be cheap and thread-safe.
 */
#ifndef CORE_ITEM_H
#define CORE_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

struct core_item;

typedef struct core_ack {
    /* fn(ctx, item, status): status is CORE_OK when the item was fully
     * processed, or the error that made the pipeline give it up. NULL when the
     * source needs no acknowledgement (stdin). */
    void (*fn)(void *ctx, const struct core_item *item, core_err_t status);
    void *ctx;   /* the source object */
    void *ref;   /* source-defined (e.g. a partition record) */
    int64_t seq; /* source-defined (e.g. a Kafka offset) */
} core_ack_t;

/* Ids longer than this are replaced by a prefix and a hash (core_item_set). */
#define CORE_ITEM_ID_MAX 256
#define CORE_ITEM_ID_KEEP 64

typedef struct core_item {
    char *id;         /* unique per item; NULL until the source derives one */
    char *source;     /* e.g. "kafka:news", "rss:reuters", "stdin" */
    char *title;      /* may be NULL */
    char *text;       /* may be NULL, but not both title and text */
    char *url;        /* may be NULL */
    char *lang;       /* may be NULL */
    int64_t event_ms; /* event time, epoch ms: see core_item_event_known */
    int event_set;    /* 1: event_ms was given, even as 0 (1970-01-01T00:00:00Z) */
    int64_t ingest_ms;
    char **entities; /* upper-case tickers, no duplicates */
    size_t n_entities;
    unsigned utf8_repaired; /* invalid sequences core_item_set replaced */
    int id_hashed;          /* the id was longer than CORE_ITEM_ID_MAX: hashed */
    core_ack_t ack;
} core_item_t;

/* core_item_event_known: 1 when the item has an event time, 0 when it is
 * still unknown (the message had no ts; its source fills one in). A time
 * is known when event_set is 1 (a message's explicit "ts": 0 is 1970, too
 * old to count, never "now") or when event_ms is not 0 (sources that fill
 * in a time need only set event_ms). Any thread. */
static inline int core_item_event_known(const core_item_t *item)
{
    return item->event_set || item->event_ms != 0;
}

typedef enum core_sentiment {
    CORE_SENT_NEGATIVE = 0,
    CORE_SENT_NEUTRAL = 1,
    CORE_SENT_POSITIVE = 2,
    CORE_SENT__COUNT = 3
} core_sentiment_t;

/* core_sentiment_name: "negative", "neutral", "positive". */
const char *core_sentiment_name(core_sentiment_t s);

/* Most topic labels a tagged item carries probabilities for. */
#define CORE_TOPICS_MAX 64

typedef struct core_tagged {
    core_item_t *item; /* owned */
    char topic[64];    /* topic label; "" when the model has no topic head */
    float topic_p;
    /* Probability of every topic label, in the order of topic_labels, which
     * is borrowed from the classifier (valid while it lives). n_topics 0:
     * not filled (encoded without "topic_probs"). */
    size_t n_topics;
    const char *const *topic_labels;
    float topic_probs[CORE_TOPICS_MAX];
    int sentiment; /* core_sentiment_t, or -1 when the model has no sentiment head */
    float sentiment_p[CORE_SENT__COUNT];
    char model[96]; /* "name@sha" */
} core_tagged_t;

/* core_item_new allocates an empty item (all NULL, times 0). */
core_err_t core_item_new(core_item_t **out);

/* core_item_free releases the item and all it owns. NULL is a no-op. It does
 * not acknowledge the item. */
void core_item_free(core_item_t *item);

/* core_item_set replaces *field (one of item's string members) with a copy
 * of the len bytes at s, NUL-terminated. It is the UTF-8 gate
 * (core/core_utf8.h): every source sets text through it, and what is not
 * valid UTF-8 is repaired, never stored. In the text fields (title, text,
 * url, source, lang) each invalid subpart or NUL becomes U+FFFD; in the id,
 * each invalid byte becomes "%XX" (upper-case hex), so ids that differ only
 * in their invalid bytes stay different. Each repair adds 1 to
 * item->utf8_repaired. An id longer than CORE_ITEM_ID_MAX bytes is replaced
 * by its first CORE_ITEM_ID_KEEP bytes, "~h:" and 32 hex digits of a 128-bit
 * hash of the whole id (stable: a replay gets the same id), and
 * item->id_hashed is set; the original is not kept (Redis, alerts and the
 * API only ever see bounded ids). CORE_ENOMEM. */
core_err_t core_item_set(core_item_t *item, char **field, const char *s, size_t len);

/* core_item_add_entity adds a ticker (copied, upper-cased ASCII) unless it is
 * already there. At most 64 entities are kept; extra ones are ignored. */
core_err_t core_item_add_entity(core_item_t *item, const char *ticker, size_t len);

/* core_item_add_cashtags scans title and text for cashtags ($AAPL, $BRK.B:
 * '$' then 1-6 letters, optionally '.' or '-' and 1-2 letters, not preceded
 * by a letter/digit and not followed by one) and adds them as entities. */
core_err_t core_item_add_cashtags(core_item_t *item);

/* core_item_ack calls the item's acknowledgement callback, if any, once;
 * later calls do nothing. */
void core_item_ack(core_item_t *item, core_err_t status);

/* core_tagged_new takes the item (on success) and returns a zeroed tagged
 * item with sentiment -1. */
core_err_t core_tagged_new(core_item_t *item, core_tagged_t **out);

/* core_tagged_free frees the tagged item and its item. NULL is a no-op. */
void core_tagged_free(core_tagged_t *t);

#endif
