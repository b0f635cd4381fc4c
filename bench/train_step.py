#!/usr/bin/python3
"""bench/train_step.py: one pretraining step (forward, backward, AdamW) of the
finsent-mini shape (4 x 256, vocabulary 12,000) on a batch of 32 x 128 random
tokens, fp32 against bf16 autocast, for MLM and ELECTRA, in one process so the
ratios are measured side by side. Prints the median of --runs steps (after one
warm-up step) and tokens/s.

usage: bench/train_step.py [--threads 2] [--runs 5]
"""
import argparse
import contextlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "train"))
if "OPENBLAS_CORETYPE" not in os.environ:
    flags = open("/proc/cpuinfo").read()
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX" if " avx512f" in flags else "Haswell"
import torch  # noqa: E402
import fs_model  # noqa: E402


def step_time(obj, bf16, runs):
    torch.manual_seed(0)
    cfg = fs_model.make_config("mini", 12000, 128)
    m = fs_model.Electra(cfg) if obj == "electra" else fs_model.BertMLM(cfg)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    g = torch.Generator()
    g.manual_seed(0)
    ids = torch.randint(5, 12000, (32, 128))
    mask = torch.ones(32, 128, dtype=torch.long)
    lab = torch.where(torch.rand(32, 128) < 0.15, ids, torch.full_like(ids, -100))
    ts = []
    for _ in range(runs + 1):
        t = time.time()
        ctx = torch.cpu.amp.autocast(dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            out = m(ids, mask, lab, ids, g) if obj == "electra" else m(ids, mask, lab)
        loss = out[0] if obj == "electra" else out
        opt.zero_grad()
        loss.backward()
        opt.step()
        ts.append(time.time() - t)
    ts = sorted(ts[1:])
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for obj in ("mlm", "electra"):
        f = step_time(obj, False, a.runs)
        b = step_time(obj, True, a.runs)
        print("%-7s fp32 %.3f s/step (%5.0f tok/s)  bf16 %.3f s/step (%5.0f tok/s)  bf16 speed-up %.2fx"
              % (obj, f, 32 * 128 / f, b, 32 * 128 / b, f / b), flush=True)


if __name__ == "__main__":
    main()
