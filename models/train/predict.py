#!/usr/bin/env python3
"""Run an exported finsent model directory (config.json, vocab.txt,
model.safetensors) with PyTorch on labelled TSV files (text<TAB>label).

For each FILE writes OUTDIR/<parent>_<name>.pred.tsv with one row per item:
index, gold, pred (label of the head that matches the file's labels), topic,
topic_p, sentiment, p_negative, p_neutral, p_positive. Prints accuracy and
macro-F1 per file. A file whose labels are all sentiment labels is scored on
the sentiment head, one with topic labels on the topic head. For a binary
file (no gold neutral), 'acc(no neutral)' is also printed: argmax over
negative/positive only.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402

import fs_data  # noqa: E402
import fs_model  # noqa: E402
import fs_tokenizer as tk  # noqa: E402
from finetune import macro_f1  # noqa: E402


def load_model(d):
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(d, "tokenizer_config.json")) as f:
        tcfg = json.load(f)
    assert tcfg.get("do_lower_case", True)
    cfg.setdefault("hidden_dropout_prob", 0.1)
    cfg.setdefault("attention_probs_dropout_prob", 0.1)
    cfg.setdefault("initializer_range", 0.02)
    model = fs_model.MultiTask(cfg, len(cfg["topic_labels"]), len(cfg["sentiment_labels"]))
    sd = fs_model.load_safetensors(os.path.join(d, "model.safetensors"))
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    if missing or extra:
        raise SystemExit("predict: tensor mismatch: missing %s extra %s" % (missing, extra))
    model.load_state_dict(sd)
    model.eval()
    tok = tk.Tokenizer.from_file(os.path.join(d, "vocab.txt"), tcfg.get("model_max_length", 128))
    return model, tok, cfg


def temperatures(cfg):
    """(topic T, sentiment T) from config.json; 1 where absent (no calibration)."""
    return float(cfg.get("topic_temperature", 1.0)), float(cfg.get("sentiment_temperature", 1.0))


@torch.no_grad()
def logits(model, tok, texts, bs=128):
    """Raw (topic, sentiment) logits, float tensors in the order of texts."""
    enc = [tok.encode(t) for t in texts]
    order = sorted(range(len(enc)), key=lambda j: len(enc[j]))
    tl_all = torch.zeros(len(enc), model.topic_classifier.out_features)
    sl_all = torch.zeros(len(enc), model.sentiment_classifier.out_features)
    for k in range(0, len(order), bs):
        idx = order[k:k + bs]
        n = max(len(enc[j]) for j in idx)
        ids = torch.zeros(len(idx), n, dtype=torch.long)
        mask = torch.zeros(len(idx), n, dtype=torch.long)
        for i, j in enumerate(idx):
            ids[i, :len(enc[j])] = torch.tensor(enc[j])
            mask[i, :len(enc[j])] = 1
        tl, sl = model(ids, mask)
        tl_all[idx], sl_all[idx] = tl.float(), sl.float()
    return tl_all, sl_all


@torch.no_grad()
def predict(model, tok, texts, bs=128, temps=(1.0, 1.0)):
    """Per text: the topic and sentiment probabilities, softmax(logits / T)."""
    tl, sl = logits(model, tok, texts, bs)
    return torch.softmax(tl / temps[0], -1).tolist(), torch.softmax(sl / temps[1], -1).tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, help="exported model directory")
    ap.add_argument("--out", default=None, help="directory for the .pred.tsv files (default: none written)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write the metrics as JSON here")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok, cfg = load_model(a.model)
    tl, sl = cfg["topic_labels"], cfg["sentiment_labels"]
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    metrics = {}
    for path in a.files:
        rows = fs_data.read_tsv(path)
        texts = [r[0] for r in rows]
        gold = [r[1] for r in rows]
        tp, sp = predict(model, tok, texts, temps=temperatures(cfg))
        tpred = [tl[max(range(len(p)), key=p.__getitem__)] for p in tp]
        spred = [sl[max(range(len(p)), key=p.__getitem__)] for p in sp]
        is_sent = set(gold) <= set(sl)
        pred = spred if is_sent else tpred
        name = os.path.basename(os.path.dirname(os.path.abspath(path))) + "_" + os.path.basename(path).rsplit(".", 1)[0]
        if a.out:
            with open(os.path.join(a.out, name + ".pred.tsv"), "w", encoding="utf-8") as f:
                f.write("index\tgold\tpred\ttopic\ttopic_p\tsentiment\t" + "\t".join("p_" + s for s in sl) + "\n")
                for i in range(len(rows)):
                    f.write("%d\t%s\t%s\t%s\t%.6f\t%s\t%s\n" % (
                        i, gold[i], pred[i], tpred[i], max(tp[i]), spred[i], "\t".join("%.6f" % p for p in sp[i])))
        labels = sorted(set(gold))
        acc = sum(1 for g, p in zip(gold, pred) if g == p) / len(gold)
        f1 = macro_f1(gold, pred, labels)
        m = {"n": len(gold), "head": "sentiment" if is_sent else "topic", "accuracy": acc, "macro_f1": f1}
        line = "%-55s n=%5d %-9s acc %.4f macro-F1 %.4f" % (name, len(gold), m["head"], acc, f1)
        if is_sent and "neutral" not in gold:
            ineg, ipos = sl.index("negative"), sl.index("positive")
            bpred = ["negative" if p[ineg] >= p[ipos] else "positive" for p in sp]
            bacc = sum(1 for g, p in zip(gold, bpred) if g == p) / len(gold)
            m["accuracy_no_neutral"] = bacc
            m["macro_f1_no_neutral"] = macro_f1(gold, bpred, labels)
            line += " | acc(no neutral) %.4f F1 %.4f" % (bacc, m["macro_f1_no_neutral"])
        print(line, flush=True)
        metrics[name] = m
    if a.json:
        with open(a.json, "w") as f:
            json.dump(metrics, f, indent=1)


if __name__ == "__main__":
    main()
