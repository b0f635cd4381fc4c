/*
 * app_explain: see app_explain.h. The handler validates the parameters
 * before taking the lock (a bad request never waits and never counts as
 * busy), then under the lock: the Redis lookup (id=), the classifier made
 * on first use, the explanation; the JSON is built after the lock is given
 * back.
 */
#include "app/app_explain.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_explain_read.h"
#include "app/app.h"
#include "core/core_log.h"

#define MOD "api"

struct app_explain {
    pthread_mutex_t mu;
    cls_classifier_opts_t co; /* strings point into model/tmodel/smodel */
    char *model, *tmodel, *smodel;
    cls_classifier_t *cl; /* NULL until the first explanation */
    alr_explain_reader_t *reader;
    cls_explain_opts_t eo;
};

/* ---- JSON -------------------------------------------------------------- */

static double round4(double x)
{
    return round(x * 10000.0) / 10000.0 + 0.0; /* + 0.0: no "-0.0" */
}

json_t *app_explain_words_json(const cls_explanation_t *e, const char *text)
{
    json_t *arr = json_array();
    int bad = !arr;

    for (size_t i = 0; !bad && i < e->n_words; i++) {
        const cls_explain_word_t *w = &e->words[i];
        json_t *o = json_object(), *d = NULL, *word = json_stringn(text + w->start, w->len);
        bad = !o || !word;
        if (!bad && e->sentiment >= 0) {
            d = json_object();
            for (int s = 0; d && s < CORE_SENT__COUNT; s++)
                bad |=
                    json_object_set_new(d, core_sentiment_name(s), json_real(round4(w->delta[s])));
            bad |= !d;
        }
        bad |= json_object_set_new(o, "word", word ? word : json_null());
        bad |= json_object_set_new(o, "start", json_integer((json_int_t)w->start));
        bad |= json_object_set_new(o, "len", json_integer((json_int_t)w->len));
        bad |= json_object_set_new(o, "delta", d ? d : json_null());
        bad |= json_object_set_new(o, "topic_delta",
                                   e->topic >= 0 ? json_real(round4(w->topic_delta)) : json_null());
        bad |= json_array_append_new(arr, o);
    }
    if (bad) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static double round_ms(double ms)
{
    return round(ms * 10.0) / 10.0;
}

json_t *app_explain_json(const cls_explanation_t *e, const char *text)
{
    json_t *words = app_explain_words_json(e, text);
    if (!words)
        return NULL;
    return json_pack("{s:o, s:b, s:f}", "words", words, "truncated", e->truncated, "ms",
                     round_ms(e->ms));
}

/* ---- life cycle -------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

core_err_t app_explain_new(const core_config_t *cfg, app_explain_t **out, char *err, size_t errlen)
{
    app_explain_t *x = calloc(1, sizeof *x);
    cls_classifier_opts_t co;
    core_err_t rc;

    *out = NULL;
    if (!x)
        return CORE_ENOMEM;
    if (pthread_mutex_init(&x->mu, NULL) != 0) {
        free(x);
        return CORE_ENOMEM;
    }
    app_classifier_opts(cfg, &co);
    x->model = dup_or_null(co.model_dir);
    x->tmodel = dup_or_null(co.topic_model_dir);
    x->smodel = dup_or_null(co.sentiment_model_dir);
    if ((co.model_dir && !x->model) || (co.topic_model_dir && !x->tmodel) ||
        (co.sentiment_model_dir && !x->smodel)) {
        rc = CORE_ENOMEM;
        goto out;
    }
    x->co = co;
    x->co.model_dir = x->model;
    x->co.topic_model_dir = x->tmodel;
    x->co.sentiment_model_dir = x->smodel;
    /* Its own classifier: one compute thread (the pipeline's threads are
     * busy classifying), one batch per explanation. */
    x->co.threads = 1;
    x->co.max_batch = CLS_EXPLAIN_MAX_WORDS + 1;
    if ((rc = alr_explain_reader_new(cfg, &x->reader, err, errlen)) != CORE_OK)
        goto out;
    *out = x;
    x = NULL;
out:
    app_explain_free(x);
    return rc;
}

void app_explain_free(app_explain_t *x)
{
    if (!x)
        return;
    cls_classifier_free(x->cl);
    alr_explain_reader_free(x->reader);
    free(x->model);
    free(x->tmodel);
    free(x->smodel);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

int app_explain_hold(app_explain_t *x)
{
    return pthread_mutex_trylock(&x->mu) == 0;
}

void app_explain_release(app_explain_t *x)
{
    pthread_mutex_unlock(&x->mu);
}

/* ---- handler ----------------------------------------------------------- */

static void respond(app_http_response_t *resp, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (!s) {
        app_http_respond_text(resp, 500, "application/json", "{\"error\":\"out of memory\"}");
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->cache_control = "no-store";
    resp->body = s;
    resp->len = strlen(s);
}

static void respond_error(app_http_response_t *resp, int status, const char *msg)
{
    respond(resp, status, json_pack("{s:s}", "error", msg));
}

/* status_of maps an error of the lookup or the explanation to HTTP. */
static int status_of(core_err_t rc)
{
    switch (rc) {
    case CORE_EINVAL:
    case CORE_EEMPTY_TEXT:
    case CORE_EUTF8:
    case CORE_ETOO_LARGE:
        return 400;
    case CORE_ENOT_FOUND:
        return 404;
    case CORE_ENET:
    case CORE_EREDIS:
    case CORE_ECLOSED:
    case CORE_EAGAIN:
    case CORE_ETIMEOUT:
        return 503;
    default:
        return 500;
    }
}

/* answer builds the 200 body. item: the recent entry (id=) or NULL. */
static json_t *answer(const app_explain_t *x, const cls_explanation_t *e, const char *text,
                      const json_t *item)
{
    json_t *o = json_object(), *p = json_object(), *words = app_explain_words_json(e, text);
    int bad = !o || !p || !words;

    for (int s = 0; p && s < CORE_SENT__COUNT; s++)
        bad |= json_object_set_new(p, core_sentiment_name(s), json_real(round4(e->sentiment_p[s])));
    bad |=
        json_object_set_new(o, "id", item ? json_incref(json_object_get(item, "id")) : json_null());
    bad |= json_object_set_new(o, "text", json_stringn(text, e->explained_len));
    bad |= json_object_set_new(o, "sentiment",
                               e->sentiment >= 0 ? json_string(core_sentiment_name(e->sentiment))
                                                 : json_null());
    bad |= json_object_set_new(o, "sentiment_p", e->sentiment >= 0 ? json_incref(p) : json_null());
    bad |=
        json_object_set_new(o, "topic", e->topic >= 0 ? json_string(e->topic_label) : json_null());
    bad |= json_object_set_new(o, "topic_p", json_real(round4(e->topic_p)));
    bad |= json_object_set_new(o, "model", json_string(cls_classifier_model_id(x->cl)));
    bad |= json_object_set_new(o, "words", words);
    words = NULL;
    bad |= json_object_set_new(o, "truncated", json_boolean(e->truncated));
    bad |= json_object_set_new(o, "ms", json_real(round_ms(e->ms)));
    if (item) {
        /* The label the pipeline stored (title and text together). */
        json_t *st = json_pack(
            "{s:O?, s:O?, s:O?}", "sentiment", json_object_get(item, "sentiment"), "sentiment_p",
            json_object_get(item, "sentiment_p"), "topic", json_object_get(item, "topic"));
        bad |= !st || json_object_set_new(o, "stored", st);
    }
    json_decref(p);
    json_decref(words);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void app_explain_handle(app_explain_t *x, const app_http_request_t *req, app_http_response_t *resp)
{
    const char *id = app_http_query(req, "id"), *text = app_http_query(req, "text");
    cls_explanation_t *e = NULL;
    json_t *item = NULL, *o = NULL;
    char err[512] = "";
    int status = 500;
    core_err_t rc = CORE_EINTERNAL;

    if (id && text) {
        respond_error(resp, 400, "give id=ID or text=TEXT, not both");
        return;
    }
    if (!id && !text) {
        respond_error(resp, 400,
                      "id or text: missing; use /api/explain?id=ID (an item of the recent "
                      "list) or /api/explain?text=TEXT (URL-encoded)");
        return;
    }
    if (id && (!*id || strlen(id) > ALR_EXPLAIN_ID_MAX)) {
        snprintf(err, sizeof err, "id: empty or longer than %d bytes", ALR_EXPLAIN_ID_MAX);
        respond_error(resp, 400, err);
        return;
    }
    if (text && strlen(text) > APP_EXPLAIN_TEXT_MAX) {
        snprintf(err, sizeof err,
                 "text: longer than %d bytes (and only the first %d words or %d bytes are "
                 "explained)",
                 APP_EXPLAIN_TEXT_MAX, CLS_EXPLAIN_MAX_WORDS, CLS_EXPLAIN_MAX_BYTES);
        respond_error(resp, 400, err);
        return;
    }
    if (!app_explain_hold(x)) {
        respond_error(resp, 429, "busy, retry");
        resp->retry_after = "1";
        return;
    }
    if (id) {
        rc = alr_explain_read_item(x->reader, id, &item, err, sizeof err);
        if (rc != CORE_OK) {
            status = status_of(rc);
            goto unlock;
        }
        text = json_string_value(json_object_get(item, "title"));
        if (!text) {
            snprintf(err, sizeof err, "item %.200s has no title or text in the recent list", id);
            status = 404;
            goto unlock;
        }
    }
    if (!x->cl) {
        char cerr[512] = "";
        rc = cls_classifier_new(&x->co, &x->cl, cerr, sizeof cerr);
        if (rc != CORE_OK) {
            CORE_WARN(MOD, "explain: cannot load the model: %s", cerr);
            snprintf(err, sizeof err, "explain: cannot load the model: %s", cerr);
            status = 500;
            goto unlock;
        }
    }
    rc = cls_explain(x->cl, text, strlen(text), &x->eo, &e, err, sizeof err);
    if (rc != CORE_OK)
        status = status_of(rc);
unlock:
    app_explain_release(x);
    if (!e) {
        respond_error(resp, status, err[0] ? err : core_strerror(rc));
        json_decref(item);
        return;
    }
    o = answer(x, e, text, item);
    respond(resp, o ? 200 : 500, o);
    cls_explanation_free(e);
    json_decref(item);
}
