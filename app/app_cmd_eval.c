/*
 * finsent eval: accuracy, macro-F1, per-label precision/recall/F1 and the
 * confusion matrix of the classifier on labelled TSV files.
 *
 * A file is "text<TAB>label" lines after a header line "text\tlabel". Its
 * head is chosen from its labels: the sentiment head when every label is
 * negative/neutral/positive (any case), else the topic head when every label
 * is one of its labels; otherwise the file is refused. Lines without a tab
 * or with an unknown label are reported on stderr and skipped. Macro-F1
 * averages F1 over the labels that occur as gold or as prediction (as
 * scikit-learn does). --out DIR writes DIR/<parent>_<name>.pred.tsv with the
 * columns of models/train/predict.py (index gold pred topic topic_p
 * sentiment p_negative p_neutral p_positive), so the two engines can be
 * compared item by item. Exit 0 when every file was scored, 1 otherwise.
 */
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/app_gate.h"
#include "app/app_opts.h"
#include "classify/cls_classifier.h"
#include "core/core_item.h"

typedef struct sample {
    char *text;
    int gold;
} sample_t;

/* Index of label in names (case-insensitive), or -1. */
static int find_label(const char *const *names, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], label) == 0)
            return (int)i;
    return -1;
}

/* A file's samples, with its labels in order of first appearance. */
typedef struct tsv {
    sample_t *s;
    size_t n, cap, skipped;
    char **labels;
    size_t nlab;
} tsv_t;

static void tsv_free(tsv_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i].text);
    free(t->s);
    for (size_t i = 0; i < t->nlab; i++)
        free(t->labels[i]);
    free(t->labels);
}

/* tsv_add adds text with the label lab (gold: its index in t->labels).
 * Returns 0, or -1 when out of memory. */
static int tsv_add(tsv_t *t, const char *text, const char *lab)
{
    int k = find_label((const char *const *)t->labels, t->nlab, lab);
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 1024;
        sample_t *g = realloc(t->s, nc * sizeof *g);
        if (!g)
            return -1;
        t->s = g;
        t->cap = nc;
    }
    if (k < 0) {
        char **g = realloc(t->labels, (t->nlab + 1) * sizeof *g);
        if (!g)
            return -1;
        t->labels = g;
        if (!(g[t->nlab] = strdup(lab)))
            return -1;
        k = (int)t->nlab++;
    }
    if (!(t->s[t->n].text = strdup(text)))
        return -1;
    t->s[t->n++].gold = k;
    return 0;
}

/* tsv_read reads path into t. Returns 0, or -1 after saying why. */
static int tsv_read(const char *path, tsv_t *t)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "finsent eval: %s: cannot open\n", path);
        return -1;
    }
    while (getline(&line, &cap, f) >= 0) {
        char *tab;
        line[strcspn(line, "\r\n")] = '\0';
        if (++lineno == 1) {
            if (strcmp(line, "text\tlabel") == 0)
                continue;
            fprintf(stderr, "finsent eval: %s: line 1 must be the header 'text<TAB>label'\n", path);
            goto out;
        }
        tab = strrchr(line, '\t');
        if (!tab || !tab[1]) {
            fprintf(stderr, "finsent eval: %s: line %zu: no label, skipped\n", path, lineno);
            t->skipped++;
            continue;
        }
        *tab = '\0';
        if (tsv_add(t, line, tab + 1) != 0) {
            fprintf(stderr, "finsent eval: out of memory\n");
            goto out;
        }
    }
    if (t->n == 0)
        fprintf(stderr, "finsent eval: %s: no labelled lines\n", path);
    else
        rc = 0;
out:
    free(line);
    fclose(f);
    return rc;
}

static const char *const sent_names[3] = {"negative", "neutral", "positive"};

/* choose_head picks the head of t's labels (sentiment when every label is
 * one of it) and maps every gold label to the head's index. Returns the
 * head's labels (*nl of them, *use_sent set), or NULL after saying why. */
static const char *const *choose_head(cls_classifier_t *cl, const char *path, tsv_t *t, size_t *nl,
                                      int *use_sent)
{
    const char *const *names = sent_names;
    *nl = 3;
    *use_sent = cls_classifier_has_sentiment(cl);
    for (size_t i = 0; i < t->nlab && *use_sent; i++)
        if (find_label(sent_names, 3, t->labels[i]) < 0)
            *use_sent = 0;
    if (!*use_sent) {
        names = cls_classifier_topic_labels(cl);
        *nl = cls_classifier_n_topics(cl);
        for (size_t i = 0; i < t->nlab; i++)
            if (!names || find_label(names, *nl, t->labels[i]) < 0) {
                fprintf(stderr,
                        "finsent eval: %s: label '%s' is in neither the sentiment nor the topic "
                        "head of the model\n",
                        path, t->labels[i]);
                return NULL;
            }
    }
    for (size_t i = 0; i < t->n; i++)
        t->s[i].gold = find_label(names, *nl, t->labels[t->s[i].gold]);
    return names;
}

/* pred_open opens outdir/<parent>_<name>.pred.tsv for path and writes its
 * header. NULL after saying why. */
static FILE *pred_open(const char *outdir, const char *path)
{
    char dir[PATH_MAX], base[PATH_MAX], out[PATH_MAX * 2 + 16];
    const char *b, *dot;
    FILE *pf;

    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    b = basename(base);
    dot = strrchr(b, '.');
    snprintf(out, sizeof out, "%s/%s_%.*s.pred.tsv", outdir, basename(dirname(dir)),
             (int)(dot ? dot - b : (long)strlen(b)), b);
    pf = fopen(out, "w");
    if (!pf) {
        fprintf(stderr, "finsent eval: cannot write %s\n", out);
        return NULL;
    }
    fprintf(pf,
            "index\tgold\tpred\ttopic\ttopic_p\tsentiment\tp_negative\tp_neutral\tp_positive\n");
    return pf;
}

static size_t argmax(const float *p, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (p[k] > p[best])
            best = k;
    return best;
}

/* print_report prints the metrics of the confusion matrix conf (nl x nl,
 * rows gold) of t. */
static void print_report(cls_classifier_t *cl, const char *path, const tsv_t *t, int use_sent,
                         const char *const *names, size_t nl, const size_t *conf)
{
    size_t correct = 0, used = 0;
    double f1sum = 0;

    printf("%s: %zu items (%zu skipped), %s head of %s\n", path, t->n, t->skipped,
           use_sent ? "sentiment" : "topic", cls_classifier_model_id(cl));
    for (size_t k = 0; k < nl; k++)
        correct += conf[k * nl + k];
    printf("%-28s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (size_t k = 0; k < nl; k++) {
        size_t tp = conf[k * nl + k], gold = 0, predicted = 0;
        double p, r, f1;
        for (size_t j = 0; j < nl; j++) {
            gold += conf[k * nl + j];
            predicted += conf[j * nl + k];
        }
        if (gold == 0 && predicted == 0)
            continue;
        p = predicted ? (double)tp / (double)predicted : 0.0;
        r = gold ? (double)tp / (double)gold : 0.0;
        f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        f1sum += f1;
        used++;
        printf("%-28.28s %9.4f %9.4f %9.4f %8zu\n", names[k], p, r, f1, gold);
    }
    printf("accuracy %.4f  macro-F1 %.4f\n", (double)correct / (double)t->n,
           used ? f1sum / (double)used : 0.0);
    printf("confusion matrix (rows gold, columns predicted):\n%-6s", "");
    for (size_t j = 0; j < nl; j++)
        printf(" %6zu", j);
    printf("\n");
    for (size_t k = 0; k < nl; k++) {
        printf("%6zu", k);
        for (size_t j = 0; j < nl; j++)
            printf(" %6zu", conf[k * nl + j]);
        printf("  %s\n", names[k]);
    }
    printf("\n");
}

/* score classifies t in batches, counts the confusion matrix conf and
 * writes a row per item to pf (when not NULL). Returns 0, or -1 when the
 * classifier failed. */
static int score(cls_classifier_t *cl, const tsv_t *t, size_t batch, int use_sent,
                 const char *const *names, size_t nl, size_t *conf, FILE *pf)
{
    const char **texts = calloc(batch, sizeof *texts);
    size_t *lens = calloc(batch, sizeof *lens), nt = cls_classifier_n_topics(cl);
    int rc = -1;

    if (!texts || !lens)
        goto out;
    for (size_t b0 = 0; b0 < t->n; b0 += batch) {
        size_t m = t->n - b0 < batch ? t->n - b0 : batch;
        const float *tp, *sp;
        for (size_t i = 0; i < m; i++) {
            texts[i] = t->s[b0 + i].text;
            lens[i] = strlen(texts[i]);
        }
        if (cls_classifier_run(cl, texts, lens, m) != CORE_OK)
            goto out;
        tp = cls_classifier_topic_probs(cl);
        sp = cls_classifier_sentiment_probs(cl);
        for (size_t i = 0; i < m; i++) {
            size_t bt = tp ? argmax(tp + i * nt, nt) : 0, bs = sp ? argmax(sp + i * 3, 3) : 0;
            size_t best = use_sent ? bs : bt;
            conf[(size_t)t->s[b0 + i].gold * nl + best]++;
            if (pf)
                fprintf(pf, "%zu\t%s\t%s\t%s\t%.6f\t%s\t%.6f\t%.6f\t%.6f\n", b0 + i,
                        names[t->s[b0 + i].gold], names[best],
                        tp ? cls_classifier_topic_labels(cl)[bt] : "", tp ? tp[i * nt + bt] : 0.0,
                        sp ? sent_names[bs] : "", sp ? sp[i * 3] : 0.0, sp ? sp[i * 3 + 1] : 0.0,
                        sp ? sp[i * 3 + 2] : 0.0);
        }
    }
    rc = 0;
out:
    free(texts);
    free(lens);
    return rc;
}

/* eval_file scores the file at path and prints its report. Returns 1 when
 * it was scored, 0 after saying why not. */
static int eval_file(cls_classifier_t *cl, const char *path, size_t batch, const char *outdir)
{
    tsv_t t = {0};
    const char *const *names;
    size_t nl = 0, *conf = NULL;
    int use_sent = 0, ok = 0;
    FILE *pf = NULL;

    if (tsv_read(path, &t) != 0 || !(names = choose_head(cl, path, &t, &nl, &use_sent)))
        goto out;
    if (!(conf = calloc(nl * nl, sizeof *conf))) {
        fprintf(stderr, "finsent eval: out of memory\n");
        goto out;
    }
    if (outdir && !(pf = pred_open(outdir, path)))
        goto out;
    if (score(cl, &t, batch, use_sent, names, nl, conf, pf) != 0) {
        fprintf(stderr, "finsent eval: %s: classifier failed\n", path);
        goto out;
    }
    print_report(cl, path, &t, use_sent, names, nl, conf);
    ok = 1;
out:
    if (pf)
        fclose(pf);
    free(conf);
    tsv_free(&t);
    return ok;
}

int app_cmd_eval(int argc, char **argv)
{
    app_cls_flags_t fl = {0};
    const char *outdir = NULL;
    int gate = 0, all = 1, rc;
    char model_help[PATH_MAX + 64], err[1024] = "";
    app_args_t args;
    const app_opt_t opts[] = {
        APP_STR("model", 0, "DIR", &fl.model, model_help),
        APP_STR("topic-model", 0, "DIR", &fl.topic_model, "topic head from this directory"),
        APP_STR("sentiment-model", 0, "DIR", &fl.sentiment_model,
                "sentiment head from this directory"),
        {.name = "batch",
         .kind = APP_OPT_SIZE,
         .arg = "N",
         .lo = 1,
         .hi = 1024,
         .dst = &fl.batch,
         .label = "--batch N, --threads N",
         .help = "classifier batch and threads"},
        APP_SIZE("threads", 0, "N", 1, 256, &fl.threads, NULL),
        APP_KEY("precision", "P", "classify.precision", app_check_precision,
                "auto, fp32, bf16 or int8 (classify.precision)"),
        APP_FLAG("gate", 0, &gate,
                 "the accuracy gate instead: label agreement of bf16\n"
                 "and int8 with fp32 per file (>= 99.5% / 99.0%) and\n"
                 "the largest probability difference"),
        APP_STR("out", 0, "DIR", &outdir,
                "write DIR/<parent>_<name>.pred.tsv per file\n"
                "(the format of models/train/predict.py)"),
        {.name = "config",
         .letter = 'c',
         .kind = APP_OPT_STR,
         .arg = "FILE",
         .dst = &args.config,
         .label = "-c FILE, --set S.K=V",
         .help = "configuration"},
        APP_SET_ROW(NULL),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent eval",
        .usage = "usage: finsent eval [options] FILE.tsv...\n\n"
                 "Scores the classifier on text<TAB>label files (header line text<TAB>label):\n"
                 "accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix.\n"
                 "The head (sentiment or topic) is chosen from the file's labels.\n\n",
        .footer = "Exit status: 0 all files scored, 1 otherwise, 2 usage error.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 25,
        .min_pos = 1,
        .max_pos = SIZE_MAX,
        .too_few = "no TSV file given",
    };
    core_config_t *cfg = NULL;
    cls_classifier_t *cl = NULL;
    cls_classifier_opts_t co;

    snprintf(model_help, sizeof model_help, "model directory (default: classify.model, else %s)",
             app_default_model_dir());
    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    app_classifier_opts_flags(cfg, &fl, &co);
    if (gate) {
        rc = app_eval_gate(&co, args.pos, args.npos) ? APP_EXIT_OK : APP_EXIT_FAIL;
        goto out;
    }
    if (cls_classifier_new(&co, &cl, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent eval: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < args.npos; i++)
        all &= eval_file(cl, args.pos[i], co.max_batch, outdir);
    rc = all ? APP_EXIT_OK : APP_EXIT_FAIL;
out:
    cls_classifier_free(cl);
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
