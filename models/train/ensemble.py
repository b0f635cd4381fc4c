#!/usr/bin/env python3
"""Accuracy and macro-F1 on the validation splits of an ensemble of exported
models (their probabilities averaged), e.g. the teacher of a distillation.

usage: ensemble.py --data DIR MODEL_DIR [MODEL_DIR ...]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402

import fs_data  # noqa: E402
import predict  # noqa: E402
from finetune import macro_f1  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    models = [predict.load_model(d) for d in a.models]
    res = {}
    for ds in fs_data.SENTIMENT_SETS + fs_data.TOPIC_SETS:
        rows = fs_data.read_tsv(os.path.join(a.data, ds, "validation.tsv"))
        topic = ds in fs_data.TOPIC_SETS
        p = 0
        for m, tok, cfg in models:
            tl, sl = predict.logits(m, tok, [r[0] for r in rows])
            p = p + torch.softmax(tl if topic else sl, -1)
        labels = fs_data.TOPIC_LABELS if topic else fs_data.SENTIMENT_LABELS
        pred = [labels[i] for i in p.argmax(-1).tolist()]
        gold = [r[1] for r in rows]
        acc = sum(g == q for g, q in zip(gold, pred)) / len(gold)
        res[ds] = (acc, macro_f1(gold, pred, sorted(set(gold))))
        print("%-40s n=%5d acc %.4f macro-F1 %.4f" % (ds, len(gold), *res[ds]), flush=True)
    print("mean accuracy over %d datasets: %.4f" % (len(res), sum(v[0] for v in res.values()) / len(res)))


if __name__ == "__main__":
    main()
