#!/usr/bin/env python3
"""Uniform weight average ("model soup", Wortsman et al. 2022) of fine-tuned
checkpoints that share one pretrained encoder: every tensor is the mean of
the same tensor in each checkpoint. Writes a checkpoint in finetune.py's
best.pt format, for export.py.

usage: soup.py --out SOUP.pt CKPT.pt CKPT.pt [...]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("ckpts", nargs="+")
    a = ap.parse_args()
    if len(a.ckpts) < 2:
        raise SystemExit("soup: give at least two checkpoints")
    sts = [torch.load(p) for p in a.ckpts]
    cfg = sts[0]["config"]
    keys = set(sts[0]["model"])
    for p, st in zip(a.ckpts, sts):
        if st["config"] != cfg:
            raise SystemExit("soup: %s has another configuration than %s" % (p, a.ckpts[0]))
        if set(st["model"]) != keys:
            raise SystemExit("soup: %s has other tensors than %s" % (p, a.ckpts[0]))
    sd = {}
    for k in sts[0]["model"]:
        t = sts[0]["model"][k]
        if t.is_floating_point():
            sd[k] = sum(st["model"][k].double() for st in sts).div(len(sts)).to(t.dtype)
        else:
            sd[k] = t.clone()
    torch.save({"model": sd, "config": cfg, "step": 0, "soup_of": a.ckpts}, a.out)
    print("soup: %d checkpoints -> %s (%d tensors)" % (len(sts), a.out, len(sd)))


if __name__ == "__main__":
    main()
