/*
 * core_msg: see core_msg.h. jansson parses the JSON (JSON_DISALLOW_NUL keeps
 * "\u0000" out of C strings); our own UTF-8 check runs first so plain-text
 * messages get the same guarantee as JSON ones. The decoder only builds the
 * item; deriving ids and fallback times is the source's job.
 */
#include "core/core_msg.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_time.h"
#include "core/core_utf8.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_space(s[i]))
            return 0;
    }
    return 1;
}

/* Copies an optional string field. */
static core_err_t take_string(json_t *obj, const char *name, core_item_t *item, char **field,
                              char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return CORE_OK;
    if (!json_is_string(v)) {
        core_err_set(err, errlen, "field '%s' must be a string", name);
        return CORE_EBAD_FIELD;
    }
    return core_item_set(item, field, json_string_value(v), json_string_length(v));
}

/* The fields of a message object (root is a JSON object). */
static core_err_t decode_object(json_t *root, core_item_t *item, char *err, size_t errlen)
{
    json_t *v;
    core_err_t rc = CORE_OK;

    if ((rc = take_string(root, "text", item, &item->text, err, errlen)) ||
        (rc = take_string(root, "title", item, &item->title, err, errlen)) ||
        (rc = take_string(root, "source", item, &item->source, err, errlen)) ||
        (rc = take_string(root, "url", item, &item->url, err, errlen)) ||
        (rc = take_string(root, "lang", item, &item->lang, err, errlen)))
        goto out;

    v = json_object_get(root, "id");
    if (v && !json_is_null(v)) {
        char num[32];
        if (json_is_string(v)) {
            if (json_string_length(v) == 0) {
                core_err_set(err, errlen, "field 'id' is empty");
                rc = CORE_EBAD_FIELD;
                goto out;
            }
            rc = core_item_set(item, &item->id, json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v)) {
            int n = snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            rc = core_item_set(item, &item->id, num, (size_t)n);
        } else {
            core_err_set(err, errlen, "field 'id' must be a string or an integer");
            rc = CORE_EBAD_FIELD;
        }
        if (rc)
            goto out;
    }

    v = json_object_get(root, "ts");
    if (v && !json_is_null(v)) {
        if (json_is_integer(v)) {
            if (json_integer_value(v) < 0) {
                core_err_set(err, errlen, "field 'ts' is a negative epoch");
                rc = CORE_EBAD_TIME;
                goto out;
            }
            item->event_ms = (int64_t)json_integer_value(v);
            item->event_set = 1; /* 0 too: 1970 is a time, if a useless one */
        } else if (json_is_string(v)) {
            if (core_time_parse_any(json_string_value(v), &item->event_ms) != CORE_OK) {
                core_err_set(err, errlen,
                             "field 'ts' '%.64s' is not RFC 3339, RFC 822 or epoch milliseconds",
                             json_string_value(v));
                rc = CORE_EBAD_TIME;
                goto out;
            }
            item->event_set = 1;
        } else {
            core_err_set(err, errlen, "field 'ts' must be a string or an integer");
            rc = CORE_EBAD_FIELD;
            goto out;
        }
    }
out:
    return rc;
}

/* The bytes (from the first non-space) must be a JSON object: '{' then,
 * after spaces, a key's '"', the '}' of an empty object or nothing (a
 * truncated message). "{Free} Premium ..." cannot be JSON and is text. */
static int looks_like_object(const char *p, size_t n)
{
    size_t i = 1;

    if (n == 0 || p[0] != '{')
        return 0;
    while (i < n && is_space(p[i]))
        i++;
    return i == n || p[i] == '"' || p[i] == '}';
}

/* nul_string: the bytes are a JSON string that jansson refused only for a
 * "\u0000" in it. Such a string is a broken message like an object with
 * one, not plain text (which would keep its quotes and backslashes). */
static int nul_string(const char *buf, size_t len)
{
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int is = json_is_string(v);
    json_decref(v);
    return is;
}

core_err_t core_msg_decode(const char *buf, size_t len, const core_msg_limits_t *limits,
                           int64_t now_ms, core_item_t **out, char *err, size_t errlen)
{
    core_item_t *item = NULL;
    json_t *root;
    json_error_t jerr;
    core_err_t rc;
    size_t bad, i = 0, tl = 0;

    *out = NULL;
    if (len > limits->max_message_bytes) {
        core_err_set(err, errlen, "message of %zu bytes exceeds the limit of %zu bytes", len,
                     limits->max_message_bytes);
        return CORE_ETOO_LARGE;
    }
    if (!core_utf8_valid(buf, len, &bad)) {
        core_err_set(err, errlen, "invalid UTF-8 at byte %zu", bad);
        return CORE_EUTF8;
    }
    if ((rc = core_item_new(&item)) != CORE_OK)
        return rc;
    item->ingest_ms = now_ms;
    while (i < len && is_space(buf[i]))
        i++;
    /* One parse decides: an object is a message, a string is its text (a
     * quoted headline, or a producer that JSON-encodes plain text), another
     * JSON value is an error; bytes that are not JSON are an error when they
     * start like an object, else text as they are ("[VIDEO] Fed ...",
     * "{Free} Earnings ..."). */
    root = i < len ? json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (root && json_is_object(root)) {
        rc = decode_object(root, item, err, errlen);
    } else if (root && json_is_string(root)) {
        rc = core_item_set(item, &item->text, json_string_value(root), json_string_length(root));
    } else if (root) {
        core_err_set(err, errlen, "JSON value is %s, not an object",
                     json_is_array(root)    ? "an array"
                     : json_is_number(root) ? "a number"
                     : json_is_null(root)   ? "null"
                                            : "a boolean");
        rc = CORE_ENOT_OBJECT;
    } else if (looks_like_object(buf + i, len - i) ||
               (i < len && buf[i] == '"' && nul_string(buf, len))) {
        core_err_set(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        rc = CORE_EJSON;
    } else {
        size_t e = len;
        while (e > i && is_space(buf[e - 1]))
            e--;
        rc = core_item_set(item, &item->text, buf + i, e - i);
    }
    json_decref(root);
    if (rc != CORE_OK)
        goto out;
    if ((!item->text || blank(item->text, strlen(item->text))) &&
        (!item->title || blank(item->title, strlen(item->title)))) {
        core_err_set(err, errlen, "message has no text: 'text' and 'title' are missing or blank");
        rc = CORE_EEMPTY_TEXT;
        goto out;
    }
    tl = (item->text ? strlen(item->text) : 0) + (item->title ? strlen(item->title) : 0);
    if (tl > limits->max_text_bytes) {
        core_err_set(err, errlen, "text of %zu bytes exceeds the limit of %zu bytes", tl,
                     limits->max_text_bytes);
        rc = CORE_ETOO_LARGE;
        goto out;
    }
    *out = item;
    item = NULL;
out:
    core_item_free(item);
    return rc;
}

core_err_t core_msg_encode_tagged(const core_tagged_t *t, char **out, size_t *len)
{
    const core_item_t *it = t->item;
    json_t *o = json_object(), *ents = json_array(), *sp = json_object();
    char ts[40];
    core_err_t rc = CORE_ENOMEM;
    char *s;

    *out = NULL;
    if (!o || !ents || !sp)
        goto out;
    core_time_format_rfc3339(core_item_event_known(it) ? it->event_ms : it->ingest_ms, ts,
                             sizeof ts);
    json_object_set_new(o, "id", it->id ? json_string(it->id) : json_null());
    json_object_set_new(o, "source", it->source ? json_string(it->source) : json_null());
    json_object_set_new(o, "ts", json_string(ts));
    if (t->topic[0]) {
        json_object_set_new(o, "topic", json_string(t->topic));
        json_object_set_new(o, "topic_p", json_real(t->topic_p));
        if (t->n_topics && t->topic_labels) {
            json_t *tp = json_object();
            if (!tp)
                goto out;
            for (size_t k = 0; k < t->n_topics && k < CORE_TOPICS_MAX; k++)
                json_object_set_new(tp, t->topic_labels[k], json_real(t->topic_probs[k]));
            json_object_set_new(o, "topic_probs", tp);
        }
    }
    if (t->sentiment >= 0) {
        json_object_set_new(o, "sentiment", json_string(core_sentiment_name(t->sentiment)));
        for (int k = 0; k < CORE_SENT__COUNT; k++)
            json_object_set_new(sp, core_sentiment_name(k), json_real(t->sentiment_p[k]));
        json_object_set(o, "sentiment_p", sp);
    }
    for (size_t k = 0; k < it->n_entities; k++)
        json_array_append_new(ents, json_string(it->entities[k]));
    json_object_set(o, "entities", ents);
    json_object_set_new(o, "model", json_string(t->model));
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (!s)
        goto out;
    *out = s;
    *len = strlen(s);
    rc = CORE_OK;
out:
    json_decref(o);
    json_decref(ents);
    json_decref(sp);
    return rc;
}
