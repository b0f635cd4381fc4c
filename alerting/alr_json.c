/* alr_json: item and alert JSON; see alr_json.h. Numbers are rounded to 4
 * decimals so the documents stay short and stable. */
#include "alerting/alr_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_time.h"

static double round4(double v)
{
    return isfinite(v) ? round(v * 10000.0) / 10000.0 : 0.0;
}

/* sig6: six significant digits, for values that may be tiny (p-values). */
static double sig6(double v)
{
    char b[32];
    if (!isfinite(v))
        return 0.0;
    snprintf(b, sizeof b, "%.6g", v);
    return strtod(b, NULL);
}

static core_err_t dump(json_t *o, char **out)
{
    char *s;
    if (!o)
        return CORE_ENOMEM;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!s)
        return CORE_ENOMEM;
    *out = s;
    return CORE_OK;
}

static json_t *str_or_null(const char *s)
{
    /* json_string rejects invalid UTF-8; an id is input and may be anything. */
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* The item's headline for people reading the recent list: the title, else
 * the text, cut to at most ALR_HEADLINE_MAX bytes at a character boundary
 * (input was validated as UTF-8 by the decoder; json_stringn re-checks). */
#define ALR_HEADLINE_MAX 240

static json_t *headline(const core_item_t *it)
{
    const char *s = it->title && it->title[0] ? it->title : it->text;
    size_t n;
    json_t *v;

    if (!s)
        return json_null();
    n = strlen(s);
    if (n > ALR_HEADLINE_MAX) {
        n = ALR_HEADLINE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    v = json_stringn(s, n);
    return v ? v : json_null();
}

core_err_t alr_json_item(const core_tagged_t *t, char **out)
{
    char ts[32];
    json_t *o = json_object(), *p = json_object(), *ents = json_array();
    const core_item_t *it = t->item;
    int bad = !o || !p || !ents;

    *out = NULL;
    core_time_format_rfc3339(it->event_ms, ts, sizeof ts);
    bad |= json_object_set_new(o, "id", str_or_null(it->id));
    bad |= json_object_set_new(o, "ts", json_string(ts));
    bad |= json_object_set_new(o, "source", str_or_null(it->source));
    bad |= json_object_set_new(o, "title", headline(it));
    bad |= json_object_set_new(o, "topic", t->topic[0] ? str_or_null(t->topic) : json_null());
    bad |= json_object_set_new(o, "topic_p", json_real(round4(t->topic_p)));
    bad |= json_object_set_new(o, "sentiment",
                               t->sentiment >= 0 && t->sentiment < CORE_SENT__COUNT
                                   ? json_string(core_sentiment_name(t->sentiment))
                                   : json_null());
    for (int i = 0; i < CORE_SENT__COUNT; i++)
        bad |= json_object_set_new(p, core_sentiment_name(i), json_real(round4(t->sentiment_p[i])));
    for (size_t i = 0; i < it->n_entities; i++)
        bad |= json_array_append_new(ents, str_or_null(it->entities[i]));
    bad |= json_object_set(o, "sentiment_p", p);
    bad |= json_object_set(o, "entities", ents);
    json_decref(p);
    json_decref(ents);
    if (bad) {
        json_decref(o);
        return CORE_ENOMEM;
    }
    return dump(o, out);
}

core_err_t alr_json_alert(const alr_alert_t *a, char **out)
{
    char since[32], ts[32];
    json_t *o = json_object(), *s = json_array();
    int bad = !o || !s;

    *out = NULL;
    core_time_format_rfc3339(a->since_ms, since, sizeof since);
    core_time_format_rfc3339(a->ts_ms, ts, sizeof ts);
    bad |= json_object_set_new(o, "id", json_string(a->id));
    bad |= json_object_set_new(o, "rule", str_or_null(a->rule));
    bad |= json_object_set_new(o, "scope", str_or_null(a->scope));
    bad |= json_object_set_new(o, "window", str_or_null(a->window));
    bad |= json_object_set_new(o, "state", str_or_null(a->state));
    bad |= json_object_set_new(o, "neg_rate", json_real(round4(a->neg_rate)));
    bad |= json_object_set_new(o, "n", json_integer((json_int_t)a->n));
    bad |= json_object_set_new(o, "negative", json_integer((json_int_t)a->negative));
    bad |= json_object_set_new(o, "basis", str_or_null(a->basis));
    bad |= json_object_set_new(o, "value", json_real(round4(a->value)));
    bad |= json_object_set_new(o, "threshold", json_real(round4(a->threshold)));
    bad |= json_object_set_new(o, "clear", json_real(round4(a->clear)));
    if (a->with_baseline) {
        bad |= json_object_set_new(o, "baseline", str_or_null(a->baseline));
        bad |= json_object_set_new(o, "baseline_n", json_integer((json_int_t)a->baseline_n));
        bad |= json_object_set_new(o, "baseline_negative",
                                   json_integer((json_int_t)a->baseline_negative));
        bad |= json_object_set_new(o, "baseline_share", json_real(round4(a->baseline_share)));
        bad |= json_object_set_new(o, "lift", json_real(round4(a->lift)));
        bad |= json_object_set_new(o, "expected", json_real(sig6(a->expected)));
        bad |= json_object_set_new(o, "ratio", json_real(sig6(a->ratio)));
        bad |= json_object_set_new(o, "p_value", json_real(sig6(a->p_value)));
        bad |= json_object_set_new(o, "fallback", json_boolean(a->fallback));
    }
    bad |= json_object_set_new(o, "since", json_string(since));
    bad |= json_object_set_new(o, "ts", json_string(ts));
    for (size_t i = 0; i < a->n_samples && i < ALR_ALERT_SAMPLES; i++)
        bad |= json_array_append_new(s, str_or_null(a->samples[i]));
    bad |= json_object_set(o, "samples", s);
    json_decref(s);
    if (bad) {
        json_decref(o);
        return CORE_ENOMEM;
    }
    return dump(o, out);
}
