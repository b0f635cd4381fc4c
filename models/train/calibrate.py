#!/usr/bin/env python3
"""Temperature scaling (Guo et al. 2017) of an exported finsent model.

Fits one temperature per head on the validation splits by minimising the
negative log-likelihood of softmax(logits / T): the sentiment head on the
three-class sentiment sets pooled (StockEmotions, binary, is reported but not
fitted on), the topic head on the topic set. Reports the expected calibration
error (15 equal-width confidence bins) per dataset before and after, writes
'topic_temperature' and 'sentiment_temperature' into the model's config.json
(--write; the C engine and predict.py divide the logits by them), a JSON
report and a reliability diagram (PNG).

Temperatures change probabilities only, never the predicted label.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402

import fs_data  # noqa: E402
import predict  # noqa: E402

FIT_SENT = ["financial_phrasebank", "twitter_financial_news_sentiment", "sentfin", "fiqa_semeval2017"]


def nll(logits, gold, t):
    return float(torch.nn.functional.cross_entropy(logits / t, gold))


def fit_temperature(logits, gold):
    """argmin_T NLL over T in [0.05, 20]: a log-spaced grid, then golden-section."""
    grid = [math.exp(math.log(0.05) + i * (math.log(20) - math.log(0.05)) / 400) for i in range(401)]
    best = min(grid, key=lambda t: nll(logits, gold, t))
    lo, hi = best / 1.02, best * 1.02
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(logits, gold, a) < nll(logits, gold, b):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


def ece(probs, gold, bins=15):
    """Expected calibration error and the per-bin (confidence, accuracy, count)."""
    conf, pred = probs.max(-1)
    correct = (pred == gold).float()
    total, rows = 0.0, []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        sel = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        n = int(sel.sum())
        if n == 0:
            rows.append((None, None, 0))
            continue
        c, a = float(conf[sel].mean()), float(correct[sel].mean())
        total += n * abs(c - a)
        rows.append((c, a, n))
    return total / len(gold), rows


def diagram(path, curves, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4.6))
    for ax, (name, before, after, e0, e1, t) in zip(axes, curves):
        ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="perfect calibration")
        for rows, lab, col, e in ((before, "T = 1", "#c0392b", e0), (after, "T = %.2f" % t, "#2471a3", e1)):
            pts = [(c, a) for c, a, n in rows if n]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=4, color=col,
                    label="%s (ECE %.3f)" % (lab, e))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (max probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(name)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, help="exported model directory")
    ap.add_argument("--data", required=True)
    ap.add_argument("--write", action="store_true", help="store the temperatures in the model's config.json")
    ap.add_argument("--report", default=None, help="JSON report here")
    ap.add_argument("--png", default=None, help="reliability diagram here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--commercial-only", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="rows per file (smoke tests)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok, cfg = predict.load_model(a.model)
    sets = {}
    for ds in fs_data.SENTIMENT_SETS + fs_data.TOPIC_SETS:
        if not fs_data.allowed(ds, a.commercial_only):
            continue
        rows = fs_data.read_tsv(os.path.join(a.data, ds, "validation.tsv"), a.limit)
        topic = ds in fs_data.TOPIC_SETS
        labels = cfg["topic_labels"] if topic else cfg["sentiment_labels"]
        tl, sl = predict.logits(model, tok, [r[0] for r in rows])
        sets[ds] = (topic, tl if topic else sl, torch.tensor([labels.index(r[1]) for r in rows]))
    fit_s = [ds for ds in FIT_SENT if ds in sets]
    fit_t = [ds for ds in sets if sets[ds][0]]
    temps = {}
    for head, names in (("sentiment", fit_s), ("topic", fit_t)):
        if not names:
            continue
        lg = torch.cat([sets[d][1] for d in names])
        gold = torch.cat([sets[d][2] for d in names])
        temps[head] = fit_temperature(lg, gold)
        print("calibrate: %s head: T = %.4f (NLL %.4f -> %.4f on %d validation items of %s)" % (
            head, temps[head], nll(lg, gold, 1.0), nll(lg, gold, temps[head]), len(gold), ", ".join(names)))
    report = {"temperature": temps, "datasets": {}}
    print("| dataset (validation) | n | head | ECE T=1 | ECE calibrated | NLL T=1 | NLL calibrated |")
    print("|---|---:|---|---:|---:|---:|---:|")
    pooled = {}
    for ds, (topic, lg, gold) in sets.items():
        head = "topic" if topic else "sentiment"
        t = temps.get(head, 1.0)
        e0, r0 = ece(torch.softmax(lg, -1), gold)
        e1, r1 = ece(torch.softmax(lg / t, -1), gold)
        report["datasets"][ds] = {"n": len(gold), "head": head, "ece_before": e0, "ece_after": e1,
                                  "nll_before": nll(lg, gold, 1.0), "nll_after": nll(lg, gold, t)}
        print("| %s | %d | %s | %.4f | %.4f | %.4f | %.4f |" % (ds, len(gold), head, e0, e1, nll(lg, gold, 1.0),
                                                             nll(lg, gold, t)))
        if ds in fit_s or topic:
            p = pooled.setdefault(head, ([], []))
            p[0].append(lg)
            p[1].append(gold)
    curves = []
    for head in ("sentiment", "topic"):
        if head not in pooled:
            continue
        lg, gold = torch.cat(pooled[head][0]), torch.cat(pooled[head][1])
        t = temps[head]
        e0, r0 = ece(torch.softmax(lg, -1), gold)
        e1, r1 = ece(torch.softmax(lg / t, -1), gold)
        report["pooled_" + head] = {"n": len(gold), "ece_before": e0, "ece_after": e1}
        print("calibrate: %s head pooled over %d items: ECE %.4f -> %.4f" % (head, len(gold), e0, e1))
        curves.append(("%s head (%d validation items)" % (head, len(gold)), r0, r1, e0, e1, t))
    if a.png and curves:
        diagram(a.png, curves, "Reliability of %s before and after temperature scaling" %
                os.path.basename(os.path.abspath(a.model)))
        print("calibrate: reliability diagram in %s" % a.png)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=1)
    if a.write:
        path = os.path.join(a.model, "config.json")
        with open(path, encoding="utf-8") as f:
            mc = json.load(f)
        for head, t in temps.items():
            mc[head + "_temperature"] = round(t, 4)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(mc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print("calibrate: temperatures written to %s" % path)


if __name__ == "__main__":
    main()
