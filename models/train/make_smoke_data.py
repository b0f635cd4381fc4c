#!/usr/bin/env python3
"""Write a small synthetic data folder with the layout of ../shared/data
(corpus/*.txt, <dataset>/{train,validation}.tsv) for the training smoke run,
so CI can exercise every stage of models/train/run on a clean clone even
where the real data folder is absent. The sentences are generated from
templates (no dataset text), so they carry no licence; a model trained on
them means nothing.

usage: make_smoke_data.py OUT_DIR
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_data  # noqa: E402

COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]
NEG = ["plunges", "slumps", "misses estimates", "cuts guidance", "faces probe", "sinks"]
NEU = ["schedules call", "names new CFO", "holds annual meeting", "files report", "updates website"]
POS = ["soars", "beats estimates", "raises dividend", "wins contract", "rallies", "upgraded"]


def sentence(rnd, words):
    c = rnd.choice(COMPANIES)
    return "%s ($%s) %s %s" % (c, c[:4].upper(), rnd.choice(words), rnd.choice(["today", "after hours", "in Q3", "again"]))


def main():
    out = sys.argv[1]
    rnd = random.Random(1)
    os.makedirs(os.path.join(out, "corpus"), exist_ok=True)
    for fn in fs_data.CORPUS_FILES:
        with open(os.path.join(out, "corpus", fn), "w", encoding="utf-8") as f:
            for _ in range(200):
                f.write(sentence(rnd, NEG + NEU + POS) + "\n")
    for ds in fs_data.SENTIMENT_SETS + fs_data.TOPIC_SETS + fs_data.TEXT_ONLY_SETS:
        os.makedirs(os.path.join(out, ds), exist_ok=True)
        for split, n in (("train", 120), ("validation", 40)):
            with open(os.path.join(out, ds, split + ".tsv"), "w", encoding="utf-8") as f:
                f.write("text\tlabel\n")
                for i in range(n):
                    if ds in fs_data.TOPIC_SETS:
                        label = fs_data.TOPIC_LABELS[i % len(fs_data.TOPIC_LABELS)]
                        text = sentence(rnd, NEU) + " " + label.lower()
                    elif ds in fs_data.TEXT_ONLY_SETS:
                        label, text = "earn", sentence(rnd, NEU)
                    else:
                        labels = ["negative", "positive"] if ds == "stockemotions" else fs_data.SENTIMENT_LABELS
                        label = labels[i % len(labels)]
                        text = sentence(rnd, {"negative": NEG, "neutral": NEU, "positive": POS}[label])
                    f.write("%s\t%s\n" % (text, label))
    print("wrote synthetic smoke data to", out)


if __name__ == "__main__":
    main()
