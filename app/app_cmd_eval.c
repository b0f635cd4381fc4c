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
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/app_gate.h"
#include "classify/cls_classifier.h"
#include "core/core_item.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: finsent eval [options] FILE.tsv...\n\n"
            "Scores the classifier on text<TAB>label files (header line text<TAB>label):\n"
            "accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix.\n"
            "The head (sentiment or topic) is chosen from the file's labels.\n\n"
            "  --model DIR            model directory (default: classify.model, else %s)\n"
            "  --topic-model DIR      topic head from this directory\n"
            "  --sentiment-model DIR  sentiment head from this directory\n"
            "  --batch N, --threads N classifier batch and threads\n"
            "  --precision P          auto, fp32, bf16 or int8 (classify.precision)\n"
            "  --gate                 the accuracy gate instead: label agreement of bf16\n"
            "                         and int8 with fp32 per file (>= 99.5%% / 99.0%%) and\n"
            "                         the largest probability difference\n"
            "  --out DIR              write DIR/<parent>_<name>.pred.tsv per file\n"
            "                         (the format of models/train/predict.py)\n"
            "  -c FILE, --set S.K=V   configuration\n"
            "Exit status: 0 all files scored, 1 otherwise, 2 usage error.\n",
            app_default_model_dir());
}

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

static int eval_file(cls_classifier_t *cl, const char *path, size_t batch, const char *outdir)
{
    static const char *const sent_names[3] = {"negative", "neutral", "positive"};
    FILE *f = fopen(path, "r"), *pf = NULL;
    char *line = NULL, **labels = NULL;
    size_t cap = 0, n = 0, ncap = 0, nl = 0, nlab = 0, lineno = 0, skipped = 0;
    ssize_t len;
    sample_t *s = NULL;
    int rc = 0, use_sent = -1;
    const char *const *names = NULL;
    size_t *conf = NULL, *pred = NULL;
    const char **texts = NULL;
    size_t *lens = NULL;

    if (!f) {
        fprintf(stderr, "finsent eval: %s: cannot open\n", path);
        return 0;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *tab;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, "text\tlabel") != 0) {
                fprintf(stderr, "finsent eval: %s: line 1 must be the header 'text<TAB>label'\n",
                        path);
                goto out;
            }
            continue;
        }
        tab = strrchr(line, '\t');
        if (!tab || !tab[1]) {
            fprintf(stderr, "finsent eval: %s: line %zu: no label, skipped\n", path, lineno);
            skipped++;
            continue;
        }
        *tab = '\0';
        if (n == ncap) {
            size_t nc = ncap ? 2 * ncap : 1024;
            sample_t *g = realloc(s, nc * sizeof *g);
            if (!g)
                goto oom;
            s = g;
            ncap = nc;
        }
        s[n].text = strdup(line);
        if (!s[n].text)
            goto oom;
        /* remember the label string for now in a list */
        {
            int k = find_label((const char *const *)labels, nlab, tab + 1);
            if (k < 0) {
                char **g = realloc(labels, (nlab + 1) * sizeof *g);
                if (!g || !(g[nlab] = strdup(tab + 1))) {
                    labels = g ? g : labels;
                    goto oom;
                }
                labels = g;
                k = (int)nlab++;
            }
            s[n].gold = k;
        }
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "finsent eval: %s: no labelled lines\n", path);
        goto out;
    }
    /* choose the head */
    use_sent = cls_classifier_has_sentiment(cl);
    for (size_t i = 0; i < nlab && use_sent; i++)
        if (find_label(sent_names, 3, labels[i]) < 0)
            use_sent = 0;
    if (use_sent) {
        names = sent_names;
        nl = 3;
    } else {
        names = cls_classifier_topic_labels(cl);
        nl = cls_classifier_n_topics(cl);
        for (size_t i = 0; i < nlab; i++)
            if (!names || find_label(names, nl, labels[i]) < 0) {
                fprintf(stderr,
                        "finsent eval: %s: label '%s' is in neither the sentiment nor the topic "
                        "head of the model\n",
                        path, labels[i]);
                goto out;
            }
    }
    for (size_t i = 0; i < n; i++)
        s[i].gold = find_label(names, nl, labels[s[i].gold]);
    conf = calloc(nl * nl, sizeof *conf);
    pred = calloc(n, sizeof *pred);
    texts = calloc(batch, sizeof *texts);
    lens = calloc(batch, sizeof *lens);
    if (!conf || !pred || !texts || !lens)
        goto oom;
    if (outdir) {
        char tmp[PATH_MAX], tmp2[PATH_MAX], out[PATH_MAX * 2 + 16];
        snprintf(tmp, sizeof tmp, "%s", path);
        snprintf(tmp2, sizeof tmp2, "%s", path);
        snprintf(out, sizeof out, "%s/%s_%.*s.pred.tsv", outdir, basename(dirname(tmp)),
                 (int)(strrchr(basename(tmp2), '.') ? strrchr(basename(tmp2), '.') - basename(tmp2)
                                                    : (long)strlen(basename(tmp2))),
                 basename(tmp2));
        pf = fopen(out, "w");
        if (!pf) {
            fprintf(stderr, "finsent eval: cannot write %s\n", out);
            goto out;
        }
        fprintf(
            pf,
            "index\tgold\tpred\ttopic\ttopic_p\tsentiment\tp_negative\tp_neutral\tp_positive\n");
    }
    for (size_t b0 = 0; b0 < n; b0 += batch) {
        size_t m = n - b0 < batch ? n - b0 : batch;
        const float *tp, *sp;
        size_t nt = cls_classifier_n_topics(cl);
        for (size_t i = 0; i < m; i++) {
            texts[i] = s[b0 + i].text;
            lens[i] = strlen(texts[i]);
        }
        if (cls_classifier_run(cl, texts, lens, m) != CORE_OK) {
            fprintf(stderr, "finsent eval: %s: classifier failed\n", path);
            goto out;
        }
        tp = cls_classifier_topic_probs(cl);
        sp = cls_classifier_sentiment_probs(cl);
        for (size_t i = 0; i < m; i++) {
            const float *p = use_sent ? sp + i * 3 : tp + i * nt;
            size_t best = 0, bt = 0, bs = 0;
            for (size_t k = 1; k < nl; k++)
                if (p[k] > p[best])
                    best = k;
            pred[b0 + i] = best;
            conf[(size_t)s[b0 + i].gold * nl + best]++;
            if (pf) {
                for (size_t k = 1; tp && k < nt; k++)
                    if (tp[i * nt + k] > tp[i * nt + bt])
                        bt = k;
                for (size_t k = 1; sp && k < 3; k++)
                    if (sp[i * 3 + k] > sp[i * 3 + bs])
                        bs = k;
                fprintf(pf, "%zu\t%s\t%s\t%s\t%.6f\t%s\t%.6f\t%.6f\t%.6f\n", b0 + i,
                        names[s[b0 + i].gold], names[best],
                        tp ? cls_classifier_topic_labels(cl)[bt] : "", tp ? tp[i * nt + bt] : 0.0,
                        sp ? sent_names[bs] : "", sp ? sp[i * 3] : 0.0, sp ? sp[i * 3 + 1] : 0.0,
                        sp ? sp[i * 3 + 2] : 0.0);
            }
        }
    }
    {
        size_t correct = 0, used = 0;
        double f1sum = 0;
        printf("%s: %zu items (%zu skipped), %s head of %s\n", path, n, skipped,
               use_sent ? "sentiment" : "topic", cls_classifier_model_id(cl));
        for (size_t k = 0; k < nl; k++)
            correct += conf[k * nl + k];
        printf("%-28s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
        for (size_t k = 0; k < nl; k++) {
            size_t tp_ = conf[k * nl + k], gold = 0, predicted = 0;
            double p, r, f1;
            for (size_t j = 0; j < nl; j++) {
                gold += conf[k * nl + j];
                predicted += conf[j * nl + k];
            }
            if (gold == 0 && predicted == 0)
                continue;
            p = predicted ? (double)tp_ / (double)predicted : 0.0;
            r = gold ? (double)tp_ / (double)gold : 0.0;
            f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
            f1sum += f1;
            used++;
            printf("%-28.28s %9.4f %9.4f %9.4f %8zu\n", names[k], p, r, f1, gold);
        }
        printf("accuracy %.4f  macro-F1 %.4f\n", (double)correct / (double)n,
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
    rc = 1;
    goto out;
oom:
    fprintf(stderr, "finsent eval: out of memory\n");
out:
    if (pf)
        fclose(pf);
    fclose(f);
    free(line);
    for (size_t i = 0; i < n; i++)
        free(s[i].text);
    free(s);
    for (size_t i = 0; i < nlab; i++)
        free(labels[i]);
    free(labels);
    free(conf);
    free(pred);
    free(texts);
    free(lens);
    return rc;
}

int app_cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"topic-model", required_argument, NULL, 'T'},
                                         {"sentiment-model", required_argument, NULL, 'S'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"precision", required_argument, NULL, 'P'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"gate", no_argument, NULL, 'g'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *model = NULL, *tmodel = NULL, *smodel = NULL, *outdir = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof(char *)), err[1024] = "";
    char precset[64];
    size_t nsets = 0;
    long batch = 0, threads = 0;
    int c, rc = APP_EXIT_USAGE, all = 1, gate = 0;
    core_config_t *cfg = NULL;
    cls_classifier_t *cl = NULL;
    cls_classifier_opts_t co;

    if (!sets)
        return APP_EXIT_FAIL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        char *end = NULL;
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
            batch = strtol(optarg, &end, 10);
            if (*end || batch < 1 || batch > 1024) {
                fprintf(stderr, "finsent eval: --batch must be 1..1024\n");
                goto out;
            }
            break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 256) {
                fprintf(stderr, "finsent eval: --threads must be 1..256\n");
                goto out;
            }
            break;
        case 'o':
            outdir = optarg;
            break;
        case 'g':
            gate = 1;
            break;
        case 'P':
            if (cls_precision_parse(optarg, &(cls_precision_t){0}) != 0) {
                fprintf(stderr, "finsent eval: --precision must be auto, fp32, bf16 or int8\n");
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
    if (optind >= argc) {
        fprintf(stderr, "finsent eval: no TSV file given\n");
        help(stderr);
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
    if (gate) {
        rc = app_eval_gate(&co, argv + optind, (size_t)(argc - optind)) ? APP_EXIT_OK
                                                                         : APP_EXIT_FAIL;
        goto out;
    }
    if (cls_classifier_new(&co, &cl, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "finsent eval: %s\n", err);
        goto out;
    }
    for (int i = optind; i < argc; i++)
        all &= eval_file(cl, argv[i], co.max_batch, outdir);
    rc = all ? APP_EXIT_OK : APP_EXIT_FAIL;
out:
    cls_classifier_free(cl);
    core_config_free(cfg);
    free(sets);
    return rc;
}
