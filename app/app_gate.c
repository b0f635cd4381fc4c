/*
 * finsent eval --gate: the accuracy gate of the reduced-precision engine.
 * The same texts go through the classifier at fp32 (the reference) and at
 * bf16 and int8; per file and precision it reports how many labels agree
 * with fp32 (the head the file's labels belong to: sentiment when they are
 * negative/neutral/positive, else topic), the largest difference of any
 * probability of that head, and the accuracy of both. The gate fails when
 * agreement is under 99.5% (bf16) or 99.0% (int8) on any file.
 */
#include "app/app_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "classify/cls_classifier.h"

typedef struct gate_data {
    char **texts;
    size_t *lens;
    char **gold;
    size_t n;
    int sentiment; /* 1: sentiment head, 0: topic head */
} gate_data_t;

static void data_free(gate_data_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->texts[i]);
        free(d->gold[i]);
    }
    free(d->texts);
    free(d->lens);
    free(d->gold);
    memset(d, 0, sizeof *d);
}

static int is_sentiment_label(const char *l)
{
    return strcasecmp(l, "negative") == 0 || strcasecmp(l, "neutral") == 0 ||
           strcasecmp(l, "positive") == 0;
}

/* Reads text<TAB>label lines after the header. 0 on success. */
static int data_read(const char *path, gate_data_t *d)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, ncap = 0, lineno = 0;
    int ok = 1;

    memset(d, 0, sizeof *d);
    d->sentiment = 1;
    if (!f) {
        fprintf(stderr, "finsent eval --gate: %s: cannot open\n", path);
        return -1;
    }
    while (ok && getline(&line, &cap, f) >= 0) {
        char *tab;
        if (++lineno == 1)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        if (!(tab = strrchr(line, '\t')) || !tab[1])
            continue;
        *tab = '\0';
        if (d->n == ncap) {
            size_t nc = ncap ? 2 * ncap : 1024;
            char **t = realloc(d->texts, nc * sizeof *t), **g;
            size_t *l;
            if (t)
                d->texts = t;
            g = realloc(d->gold, nc * sizeof *g);
            if (g)
                d->gold = g;
            l = realloc(d->lens, nc * sizeof *l);
            if (l)
                d->lens = l;
            if (!t || !g || !l) {
                ok = 0;
                break;
            }
            ncap = nc;
        }
        d->texts[d->n] = strdup(line);
        d->gold[d->n] = strdup(tab + 1);
        if (!d->texts[d->n] || !d->gold[d->n]) {
            free(d->texts[d->n]);
            free(d->gold[d->n]);
            ok = 0;
            break;
        }
        d->lens[d->n] = strlen(line);
        d->sentiment &= is_sentiment_label(tab + 1);
        d->n++;
    }
    free(line);
    fclose(f);
    if (!ok)
        fprintf(stderr, "finsent eval --gate: %s: out of memory\n", path);
    else if (d->n == 0)
        fprintf(stderr, "finsent eval --gate: %s: no labelled lines\n", path);
    if (!ok || d->n == 0) {
        data_free(d);
        return -1;
    }
    return 0;
}

/* Runs cl over all texts; probs gets (n, nl) of the file's head. */
static int classify_all(cls_classifier_t *cl, const gate_data_t *d, size_t nl, float *probs)
{
    size_t batch = cls_classifier_max_batch(cl);
    for (size_t b0 = 0; b0 < d->n; b0 += batch) {
        size_t m = d->n - b0 < batch ? d->n - b0 : batch;
        const float *p;
        if (cls_classifier_run(cl, (const char *const *)d->texts + b0, d->lens + b0, m) !=
            CORE_OK)
            return -1;
        p = d->sentiment ? cls_classifier_sentiment_probs(cl) : cls_classifier_topic_probs(cl);
        if (!p)
            return -1;
        memcpy(probs + b0 * nl, p, m * nl * sizeof *probs);
    }
    return 0;
}

static size_t argmax(const float *p, size_t n)
{
    size_t b = 0;
    for (size_t k = 1; k < n; k++)
        if (p[k] > p[b])
            b = k;
    return b;
}

/* 1 when label is the gold label (topic files may list several, comma
 * separated, as reuters does; such files are skipped by the caller). */
static int correct(const gate_data_t *d, size_t i, size_t k, const char *const *names)
{
    return strcasecmp(d->gold[i], names[k]) == 0;
}

int app_eval_gate(const cls_classifier_opts_t *base, char *const *files, size_t nfiles)
{
    static const cls_precision_t precs[] = {CLS_PREC_BF16, CLS_PREC_INT8};
    static const double floor_pct[] = {99.5, 99.0};
    static const char *const sent_names[3] = {"negative", "neutral", "positive"};
    cls_classifier_t *cl[3] = {NULL, NULL, NULL};
    char err[1024];
    int pass = 1;

    for (int c = 0; c < 3; c++) {
        cls_classifier_opts_t o = *base;
        o.precision = c ? precs[c - 1] : CLS_PREC_FP32;
        if (cls_classifier_new(&o, &cl[c], err, sizeof err) != CORE_OK) {
            fprintf(stderr, "finsent eval --gate: %s\n", err);
            pass = 0;
            goto out;
        }
    }
    printf("%-48s %-5s %-8s %6s %9s %10s %9s %9s\n", "file", "prec", "kernels", "items",
           "agree%", "max|dp|", "acc fp32", "acc");
    for (size_t fi = 0; fi < nfiles; fi++) {
        gate_data_t d;
        size_t nl;
        const char *const *names;
        float *ref = NULL, *got = NULL;
        if (data_read(files[fi], &d) != 0) {
            pass = 0;
            continue;
        }
        nl = d.sentiment ? 3 : cls_classifier_n_topics(cl[0]);
        names = d.sentiment ? sent_names : cls_classifier_topic_labels(cl[0]);
        if (nl == 0 || !names || (d.sentiment && !cls_classifier_has_sentiment(cl[0]))) {
            fprintf(stderr, "finsent eval --gate: %s: the model has no head for its labels\n",
                    files[fi]);
            data_free(&d);
            pass = 0;
            continue;
        }
        ref = malloc(d.n * nl * sizeof *ref);
        got = malloc(d.n * nl * sizeof *got);
        if (!ref || !got || classify_all(cl[0], &d, nl, ref) != 0) {
            fprintf(stderr, "finsent eval --gate: %s: fp32 run failed\n", files[fi]);
            pass = 0;
        }
        for (int c = 1; c < 3 && ref && got; c++) {
            size_t agree = 0, acc_ref = 0, acc = 0;
            double maxdp = 0, pct;
            if (classify_all(cl[c], &d, nl, got) != 0) {
                fprintf(stderr, "finsent eval --gate: %s: %s run failed\n", files[fi],
                        cls_precision_name(precs[c - 1]));
                pass = 0;
                break;
            }
            for (size_t i = 0; i < d.n; i++) {
                size_t a = argmax(ref + i * nl, nl), b = argmax(got + i * nl, nl);
                agree += a == b;
                acc_ref += (size_t)correct(&d, i, a, names);
                acc += (size_t)correct(&d, i, b, names);
                for (size_t k = 0; k < nl; k++) {
                    double dp = (double)ref[i * nl + k] - got[i * nl + k];
                    maxdp = dp > maxdp ? dp : -dp > maxdp ? -dp : maxdp;
                }
            }
            pct = 100.0 * (double)agree / (double)d.n;
            printf("%-48.48s %-5s %-8s %6zu %9.2f %10.4f %9.4f %9.4f%s\n", files[fi],
                   cls_precision_name(precs[c - 1]), cls_classifier_kernels(cl[c]), d.n, pct,
                   maxdp, (double)acc_ref / (double)d.n, (double)acc / (double)d.n,
                   pct < floor_pct[c - 1] ? "  BELOW THE GATE" : "");
            if (pct < floor_pct[c - 1])
                pass = 0;
        }
        free(ref);
        free(got);
        data_free(&d);
    }
    printf("gate: %s (label agreement with fp32 >= 99.5%% for bf16, >= 99.0%% for int8)\n",
           pass ? "pass" : "FAIL");
out:
    for (int c = 0; c < 3; c++)
        cls_classifier_free(cl[c]);
    return pass;
}
