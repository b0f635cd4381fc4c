/*
 * finsent classify: stdin (one message per line: a JSON object as in
 * DESIGN.md, or plain text) to stdout (one tagged JSON line per input line,
 * in input order).
 *
 * Lines are read and decoded as they come by the daemon's JSONL source
 * (ing_jsonl, the limits of [input]; cashtags by entities.cashtags, as the
 * daemon adds them) and classified in batches of classify.batch items; a
 * batch is written as soon as it is full, when the input has nothing more
 * to read at the moment (an interactive or slow producer gets its answers
 * without waiting for a full batch), and at end of input. A line that
 * cannot be decoded is reported on stderr as "finsent classify: line N:
 * reason" and skipped; blank lines are skipped silently. Items without an
 * id get "h:" + the FNV-1a hash of the line, without a source "stdin",
 * without a ts the time they were read (all as the JSONL source does). With
 * --explain each item is also explained by occlusion (classify/cls_explain.h)
 * on the text the classifier saw (the title, a newline and the text; either
 * alone when the other is missing) with the same classifier, after its
 * batch, and its line gains an "explain" object (app_explain_json). Exit 0
 * when every line was good, 1 when at least one line
 * was bad or the model failed to load, 2 for usage errors.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_explain.h"
#include "app/app_opts.h"
#include "classify/cls_classifier.h"
#include "classify/cls_explain.h"
#include "core/core_msg.h"
#include "ingest/ing_jsonl.h"

/* explain_line explains item t with c and writes its line: the tagged JSON
 * js (len bytes, one object) with an "explain" member added before the
 * closing brace, so the tagged fields stay byte for byte as without
 * --explain. Returns 0 when the explanation failed (the line then carries
 * "explain": {"error": ...}). */
static int explain_line(cls_classifier_t *c, const core_tagged_t *t, const char *js, size_t len)
{
    const core_item_t *it = t->item;
    const char *ti = it->title ? it->title : "", *tx = it->text ? it->text : "";
    size_t tl = strlen(ti), xl = strlen(tx), n = 0;
    char *text = malloc(tl + xl + 2), *ex = NULL, err[512] = "";
    cls_explanation_t *e = NULL;
    json_t *o = NULL;
    core_err_t rc = CORE_ENOMEM;

    if (text) {
        /* The classifier's own join (cls_classifier_tag), without the
         * newline when one side is missing. */
        if (tl) {
            memcpy(text, ti, tl);
            n = tl;
        }
        if (tl && xl)
            text[n++] = '\n';
        memcpy(text + n, tx, xl);
        n += xl;
        text[n] = '\0';
        rc = cls_explain(c, text, n, NULL, &e, err, sizeof err);
    }
    if (rc == CORE_OK)
        o = app_explain_json(e, text);
    else
        o = json_pack("{s:s}", "error", err[0] ? err : core_strerror(rc));
    if (rc != CORE_OK)
        fprintf(stderr, "finsent classify: item %s: explain: %s\n", it->id ? it->id : "?",
                err[0] ? err : core_strerror(rc));
    if (o)
        ex = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (ex && len > 1 && js[len - 1] == '}') {
        fwrite(js, 1, len - 1, stdout);
        fputs(",\"explain\":", stdout);
        fputs(ex, stdout);
        fputs("}\n", stdout);
    } else {
        fprintf(stderr, "finsent classify: out of memory explaining an item\n");
        rc = CORE_ENOMEM;
    }
    free(ex);
    json_decref(o);
    cls_explanation_free(e);
    free(text);
    return rc == CORE_OK;
}

/* Classifies and prints the pending batch (explaining each item when
 * explain is set); frees its items. */
static int flush_batch(cls_classifier_t *c, core_tagged_t **batch, size_t *n, int explain, int *bad)
{
    int ok = 1;
    core_err_t rc;

    if (*n == 0)
        return 1;
    rc = cls_classifier_tag(c, batch, *n);
    if (rc != CORE_OK) {
        fprintf(stderr, "finsent classify: classifier: %s\n", core_strerror(rc));
        ok = 0;
    }
    for (size_t i = 0; i < *n; i++) {
        char *js = NULL;
        size_t len = 0;
        if (ok && core_msg_encode_tagged(batch[i], &js, &len) == CORE_OK) {
            if (!explain) {
                fwrite(js, 1, len, stdout);
                fputc('\n', stdout);
            } else if (!explain_line(c, batch[i], js, len)) {
                *bad = 1;
            }
        } else if (ok) {
            fprintf(stderr, "finsent classify: out of memory encoding an item\n");
            ok = 0;
        }
        free(js);
        core_tagged_free(batch[i]);
        batch[i] = NULL;
    }
    *n = 0;
    fflush(stdout);
    return ok;
}

/* classify_stream classifies stdin with cl in batches of batch items (see
 * the top of the file). Returns the exit status. */
static int classify_stream(cls_classifier_t *cl, const core_config_t *cfg, size_t batch,
                           int explain)
{
    core_msg_limits_t lim = {
        .max_message_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_MESSAGE_BYTES),
        .max_text_bytes = (size_t)core_config_int(cfg, CORE_CFG_INPUT_MAX_TEXT_BYTES)};
    int cashtags = core_config_bool(cfg, CORE_CFG_ENTITIES_CASHTAGS), bad = 0, rc = APP_EXIT_FAIL;
    core_tagged_t **pending = calloc(batch, sizeof *pending);
    ing_jsonl_t *src = NULL;
    size_t n = 0;
    char err[1024] = "";

    if (!pending || ing_jsonl_open("-", &lim, &src, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent classify: %s\n", err[0] ? err : "out of memory");
        goto out;
    }
    for (;;) {
        core_item_t *item = NULL;
        /* Nothing more to read at the moment (an interactive or slow
         * producer): write what is pending now, not after a full batch. */
        core_err_t e = ing_jsonl_next_wait(src, n > 0 ? 0 : -1, &item, err, sizeof err);
        if (e == CORE_ETIMEOUT) {
            if (!flush_batch(cl, pending, &n, explain, &bad))
                goto out;
            continue;
        }
        if (e == CORE_ECLOSED)
            break;
        if (e == CORE_EIO) {
            fprintf(stderr, "finsent classify: read error on stdin\n");
            bad = 1;
            break;
        }
        if (e == CORE_OK && cashtags)
            e = core_item_add_cashtags(item); /* as the daemon, by entities.cashtags */
        if (e == CORE_OK)
            e = core_tagged_new(item, &pending[n]);
        if (e != CORE_OK) {
            if (e == CORE_ENOMEM)
                snprintf(err, sizeof err, "line %zu: out of memory", ing_jsonl_line(src));
            fprintf(stderr, "finsent classify: %s\n", err);
            core_item_free(item);
            bad = 1;
            continue;
        }
        if (++n == batch && !flush_batch(cl, pending, &n, explain, &bad))
            goto out;
    }
    if (flush_batch(cl, pending, &n, explain, &bad))
        rc = bad ? APP_EXIT_FAIL : APP_EXIT_OK;
out:
    for (size_t i = 0; pending && i < n; i++)
        core_tagged_free(pending[i]);
    free(pending);
    ing_jsonl_free(src);
    return rc;
}

/* explain_help states the limits. */
_Static_assert(CLS_EXPLAIN_MAX_WORDS == 64 && CLS_EXPLAIN_MAX_BYTES == 1000,
               "update the help text of --explain");

static const char explain_help[] = "also explain each label by occlusion: add\n"
                                   "\"explain\": {\"words\": [{\"word\", \"start\", \"len\",\n"
                                   "\"delta\": {\"negative\", \"neutral\", \"positive\"},\n"
                                   "\"topic_delta\"}, ...], \"truncated\", \"ms\"}, where\n"
                                   "delta is p(full text) - p(text without the word)\n"
                                   "and start/len are bytes of the title, a newline and\n"
                                   "the text; the first 64 words / 1000 bytes are\n"
                                   "explained; an item costs about (words + 1)\n"
                                   "classifications";

int app_cmd_classify(int argc, char **argv)
{
    app_cls_flags_t fl = {0};
    int explain = 0, rc;
    char model_help[PATH_MAX + 128];
    app_args_t args;
    const app_opt_t opts[] = {
        APP_STR("model", 0, "DIR", &fl.model, model_help),
        APP_STR("topic-model", 0, "DIR", &fl.topic_model,
                "take the topic head from this model directory"),
        APP_STR("sentiment-model", 0, "DIR", &fl.sentiment_model,
                "take the sentiment head from this model directory"),
        APP_SIZE("batch", 0, "N", 1, 1024, &fl.batch,
                 "items per classifier batch (classify.batch)"),
        APP_SIZE("threads", 0, "N", 1, 256, &fl.threads, "compute threads (classify.threads)"),
        APP_KEY("precision", "P", "classify.precision", app_check_precision,
                "auto, fp32, bf16 or int8 (classify.precision)"),
        APP_FLAG("explain", 0, &explain, explain_help),
        APP_CONFIG_ROW(&args, "config file; --set S.K=V overrides one key"),
        APP_SET_ROW(NULL),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent classify",
        .usage = "usage: finsent classify [options] < messages.jsonl > tagged.jsonl\n\n"
                 "Reads one message per line on stdin (a JSON object with \"text\" and/or "
                 "\"title\",\n"
                 "or plain text) and writes one tagged JSON line per message, in input order:\n"
                 "topic, topic_p, topic_probs, sentiment, sentiment_p, entities, model.\n\n",
        .footer = "\nA bad line is reported on stderr with its line number and skipped.\n"
                  "Exit status: 0 all lines classified, 1 some line was bad or the model could "
                  "not\n"
                  "be loaded, 2 usage error. See docs/dashboard.md, \"Explaining a label\".\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 25,
    };
    core_config_t *cfg = NULL;
    cls_classifier_t *cl = NULL;
    cls_classifier_opts_t co;
    char err[1024] = "";

    snprintf(model_help, sizeof model_help,
             "model directory (default: classify.model, else the\nshipped model %s)",
             app_default_model_dir());
    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    app_classifier_opts_flags(cfg, &fl, &co);
    if (cls_classifier_new(&co, &cl, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent classify: %s\n", err);
        goto out;
    }
    rc = classify_stream(cl, cfg, co.max_batch, explain);
out:
    cls_classifier_free(cl);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
