/*
 * finsent classify: stdin (one message per line: a JSON object as in
 * DESIGN.md, or plain text) to stdout (one tagged JSON line per input line,
 * in input order).
 *
 * Lines are decoded as they come (core_msg_decode, the limits of [input])
 * and classified in batches of classify.batch items; a batch is written as
 * soon as it is full, when the input has nothing more to read at the moment
 * (an interactive or slow producer gets its answers without waiting for a
 * full batch), and at end of input. A line that cannot be
 * decoded is reported on stderr as "finsent classify: line N: reason" and
 * skipped; blank lines are skipped silently. Items without an id get
 * "h:" + the FNV-1a hash of the line (as the JSONL source does), without a
 * source "stdin". With --explain each item is also explained by occlusion
 * (classify/cls_explain.h) on the text the classifier saw (the title, a
 * newline and the text; either alone when the other is missing) with the
 * same classifier, after its batch, and its line gains an "explain" object
 * (app_explain_json). Exit 0 when every line was good, 1 when at least one line
 * was bad or the model failed to load, 2 for usage errors.
 */
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_explain.h"
#include "classify/cls_classifier.h"
#include "classify/cls_explain.h"
#include "core/core_lines.h"
#include "core/core_msg.h"
#include "core/core_time.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: finsent classify [options] < messages.jsonl > tagged.jsonl\n\n"
            "Reads one message per line on stdin (a JSON object with \"text\" and/or \"title\",\n"
            "or plain text) and writes one tagged JSON line per message, in input order:\n"
            "topic, topic_p, topic_probs, sentiment, sentiment_p, entities, model.\n\n"
            "  --model DIR            model directory (default: classify.model, else the\n"
            "                         shipped model %s)\n"
            "  --topic-model DIR      take the topic head from this model directory\n"
            "  --sentiment-model DIR  take the sentiment head from this model directory\n"
            "  --batch N              items per classifier batch (classify.batch)\n"
            "  --threads N            compute threads (classify.threads)\n"
            "  --precision P          auto, fp32, bf16 or int8 (classify.precision)\n"
            "  --explain              also explain each label by occlusion: add\n"
            "                         \"explain\": {\"words\": [{\"word\", \"start\", \"len\",\n"
            "                         \"delta\": {\"negative\", \"neutral\", \"positive\"},\n"
            "                         \"topic_delta\"}, ...], \"truncated\", \"ms\"}, where\n"
            "                         delta is p(full text) - p(text without the word)\n"
            "                         and start/len are bytes of the title, a newline and\n"
            "                         the text; the first %d words / %d bytes are\n"
            "                         explained; an item costs about (words + 1)\n"
            "                         classifications\n"
            "  -c, --config FILE      config file; --set S.K=V overrides one key\n\n"
            "A bad line is reported on stderr with its line number and skipped.\n"
            "Exit status: 0 all lines classified, 1 some line was bad or the model could not\n"
            "be loaded, 2 usage error. See docs/dashboard.md, \"Explaining a label\".\n",
            app_default_model_dir(), CLS_EXPLAIN_MAX_WORDS, CLS_EXPLAIN_MAX_BYTES);
}

static int parse_pos(const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

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

int app_cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"topic-model", required_argument, NULL, 'T'},
                                         {"sentiment-model", required_argument, NULL, 'S'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"precision", required_argument, NULL, 'P'},
                                         {"explain", no_argument, NULL, 'x'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *model = NULL, *tmodel = NULL, *smodel = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    char precset[64];
    size_t nsets = 0, n = 0;
    long batch = 0, threads = 0;
    int c, rc = APP_EXIT_USAGE, bad = 0, explain = 0;
    core_config_t *cfg = NULL;
    cls_classifier_t *cl = NULL;
    core_lines_t *lines = NULL;
    core_tagged_t **pending = NULL;
    cls_classifier_opts_t co;
    core_msg_limits_t lim;
    char err[1024] = "";

    if (!sets)
        return APP_EXIT_FAIL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'T':
            tmodel = optarg;
            break;
        case 'S':
            smodel = optarg;
            break;
        case 'b':
            if (!parse_pos(optarg, 1024, &batch)) {
                fprintf(stderr, "finsent classify: --batch must be 1..1024\n");
                goto out;
            }
            break;
        case 't':
            if (!parse_pos(optarg, 256, &threads)) {
                fprintf(stderr, "finsent classify: --threads must be 1..256\n");
                goto out;
            }
            break;
        case 'x':
            explain = 1;
            break;
        case 'P':
            if (cls_precision_parse(optarg, &(cls_precision_t){0}) != 0) {
                fprintf(stderr, "finsent classify: --precision must be auto, fp32, bf16 or int8\n");
                goto out;
            }
            snprintf(precset, sizeof precset, "classify.precision=%s", optarg);
            sets[nsets++] = precset;
            break;
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'h':
            help(stdout);
            rc = APP_EXIT_OK;
            goto out;
        default:
            help(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "finsent classify: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_config_build(path, sets, nsets)))
        goto out;
    app_classifier_opts(cfg, &co); /* the config's; the command line overrides */
    if (model)
        co.model_dir = model;
    if (tmodel)
        co.topic_model_dir = tmodel;
    if (smodel)
        co.sentiment_model_dir = smodel;
    if (batch)
        co.max_batch = (size_t)batch;
    if (threads)
        co.threads = (size_t)threads;
    batch = (long)co.max_batch;
    if (cls_classifier_new(&co, &cl, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent classify: %s\n", err);
        goto out;
    }
    lim.max_message_bytes = (size_t)core_config_int(cfg, "input", "max_message_bytes");
    lim.max_text_bytes = (size_t)core_config_int(cfg, "input", "max_text_bytes");
    if (!(pending = calloc((size_t)batch, sizeof *pending)) ||
        core_lines_new(stdin, lim.max_message_bytes, &lines) != CORE_OK) {
        fprintf(stderr, "finsent classify: out of memory\n");
        goto out;
    }
    for (;;) {
        const char *line;
        size_t len, k;
        core_item_t *item = NULL;
        core_err_t e;
        struct pollfd pfd = {.fd = fileno(stdin), .events = POLLIN};
        /* Input is idle (an interactive or slow producer): write what is
         * pending now instead of waiting for a full batch. */
        if (n > 0 && poll(&pfd, 1, 0) == 0 && !flush_batch(cl, pending, &n, explain, &bad))
            goto out;
        e = core_lines_next(lines, &line, &len);
        if (e == CORE_ECLOSED)
            break;
        if (e == CORE_EIO) {
            fprintf(stderr, "finsent classify: read error on stdin\n");
            bad = 1;
            break;
        }
        if (e == CORE_ETOO_LARGE) {
            fprintf(stderr, "finsent classify: line %zu: longer than %zu bytes\n",
                    core_lines_number(lines), lim.max_message_bytes);
            bad = 1;
            continue;
        }
        for (k = 0; k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'); k++)
            ;
        if (k == len)
            continue; /* blank line */
        e = core_msg_decode(line, len, &lim, core_time_now_ms(), &item, err, sizeof err);
        if (e == CORE_OK && !item->id) {
            char id[24];
            int il = snprintf(id, sizeof id, "h:%016llx", (unsigned long long)fnv1a(line, len));
            e = core_item_set(item, &item->id, id, (size_t)il);
        }
        if (e == CORE_OK && !item->source)
            e = core_item_set(item, &item->source, "stdin", 5);
        if (e == CORE_OK)
            e = core_item_add_cashtags(item);
        if (e == CORE_OK)
            e = core_tagged_new(item, &pending[n]);
        if (e != CORE_OK) {
            fprintf(stderr, "finsent classify: line %zu: %s\n", core_lines_number(lines),
                    e == CORE_ENOMEM ? "out of memory" : err);
            core_item_free(item);
            bad = 1;
            continue;
        }
        if (++n == (size_t)batch && !flush_batch(cl, pending, &n, explain, &bad))
            goto out;
    }
    if (!flush_batch(cl, pending, &n, explain, &bad))
        goto out;
    rc = bad ? APP_EXIT_FAIL : APP_EXIT_OK;
out:
    if (pending) {
        for (size_t i = 0; i < n; i++)
            core_tagged_free(pending[i]);
        free(pending);
    }
    core_lines_free(lines);
    cls_classifier_free(cl);
    core_config_free(cfg);
    free(sets);
    return rc;
}
