#!/usr/bin/env python3
"""Train a WordPiece vocabulary on the pretraining text; writes vocab.txt."""
import argparse
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_data  # noqa: E402
import fs_tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="output vocab.txt")
    ap.add_argument("--size", type=int, default=12000)
    ap.add_argument("--min-word-freq", type=int, default=2)
    ap.add_argument("--commercial-only", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="lines per source (smoke tests)")
    a = ap.parse_args()
    t0 = time.time()
    wc = Counter()
    n = 0
    for _, text in fs_data.pretrain_texts(a.data, a.commercial_only, a.limit):
        wc.update(fs_tokenizer.basic_tokenize(text))
        n += 1
    print("vocab: %d lines, %d distinct words, %d words (%.1fs)" % (n, len(wc), sum(wc.values()), time.time() - t0), flush=True)
    vocab = fs_tokenizer.train_wordpiece(wc, a.size, a.min_word_freq,
                                         log=lambda m: print(m, flush=True))
    with open(a.out, "w", encoding="utf-8") as f:
        for t in vocab:
            f.write(t + "\n")
    tok = fs_tokenizer.Tokenizer(vocab)
    tot = unk = 0
    for w, c in wc.items():
        ids = tok.wordpiece(w)
        tot += len(ids) * c
        unk += ids.count(fs_tokenizer.UNK_ID) * c
    print("vocab: wrote %s (%d tokens); %.3f pieces/word, unk %.4f%% (%.1fs)" % (
        a.out, len(vocab), tot / max(1, sum(wc.values())), 100.0 * unk / max(1, tot), time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
