#!/usr/bin/env python3
"""MLM pretraining of a small BERT on corpus/*.txt + the train.tsv text columns.

Lines are tokenized, then packed greedily into sequences of at most --seq-len
ids: [CLS] line [SEP] line [SEP] ... (lines longer than a sequence are cut).
Dynamic 15% masking (80% [MASK], 10% random, 10% kept), AdamW, linear warmup
then linear decay. Resumable checkpoints (model, optimizer, step, RNG).
"""
import argparse
import json
import os
import random
import signal
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_data  # noqa: E402
import fs_model  # noqa: E402
import fs_tokenizer as tk  # noqa: E402


def build_sequences(args, tok, log):
    cache = os.path.join(args.out, "packed.pt")
    if os.path.exists(cache):
        d = torch.load(cache)
        log("pretrain: loaded %s: %d sequences" % (cache, d["ids"].shape[0]))
        return d["ids"], d["lens"]
    t0 = time.time()
    rng = random.Random(args.seed)
    cap = args.seq_len - 1  # room after [CLS]
    lines = []
    for _, text in fs_data.pretrain_texts(args.data, args.commercial_only, args.limit):
        ids = tok.tokenize_ids(text)
        if ids:
            ids.append(tk.SEP_ID)
            lines.append(ids)
    nlines = len(lines)
    rng.shuffle(lines)
    # one stream of lines, each followed by [SEP], cut into full sequences
    stream = [t for l in lines for t in l]
    del lines
    seqs = [[tk.CLS_ID] + stream[i:i + cap] for i in range(0, len(stream), cap)]
    npieces = len(seqs)
    ids = torch.zeros(len(seqs), args.seq_len, dtype=torch.int32)
    lens = torch.zeros(len(seqs), dtype=torch.int32)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.int32)
        lens[i] = len(s)
    torch.save({"ids": ids, "lens": lens}, cache)
    log("pretrain: %d lines -> %d chunks -> %d sequences, %d tokens (fill %.1f%%) in %.0fs" % (
        nlines, npieces, len(seqs), int(lens.sum()), 100.0 * float(lens.sum()) / ids.numel(), time.time() - t0))
    return ids, lens


def mask_batch(ids, lens, vocab_size, g, prob=0.15):
    ids = ids.long()
    B, N = ids.shape
    attn = (torch.arange(N)[None, :] < lens[:, None]).long()
    special = (ids <= 4)
    probs = torch.full((B, N), prob)
    probs[special] = 0.0
    m = torch.bernoulli(probs, generator=g).bool()
    labels = torch.where(m, ids, torch.full_like(ids, -100))
    r = torch.rand((B, N), generator=g)
    inp = ids.clone()
    inp[m & (r < 0.8)] = tk.MASK_ID
    rnd = m & (r >= 0.8) & (r < 0.9)
    inp[rnd] = torch.randint(5, vocab_size, (B, N), generator=g)[rnd]
    return inp, attn, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True, help="run directory (checkpoints, logs)")
    ap.add_argument("--size", default="mini", choices=sorted(fs_model.SIZES))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--time-budget", type=float, default=0,
                    help="seconds of training (summed over resumes); LR decays by max(step/steps, time/budget) and training stops at the budget")
    ap.add_argument("--stop-at", type=float, default=0, help="unix time: save and stop at this time")
    ap.add_argument("--commercial-only", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="lines per source (smoke tests)")
    a = ap.parse_args()
    args = a
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "pretrain.log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    tok = tk.Tokenizer.from_file(a.vocab)
    ids_all, lens_all = build_sequences(args, tok, log)
    nseq = ids_all.shape[0]
    cfg = fs_model.make_config(a.size, len(tok.itos), a.seq_len)
    torch.manual_seed(a.seed)
    model = fs_model.BertMLM(cfg)
    nparams = sum(p.numel() for p in model.bert.parameters())
    log("pretrain: size %s %s, %d encoder params (incl. embeddings)" % (a.size, fs_model.SIZES[a.size], nparams))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": nodecay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.98), eps=1e-6)

    clock = {"before": 0.0, "t0": time.time()}

    def elapsed():
        return clock["before"] + time.time() - clock["t0"]

    def progress(step):
        p = (step - a.warmup) / max(1, a.steps - a.warmup)
        if a.time_budget:
            p = max(p, elapsed() / a.time_budget)
        return p

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        return a.lr * max(0.0, 1.0 - progress(step))

    g = torch.Generator()
    g.manual_seed(a.seed)
    step = 0
    ck = os.path.join(a.out, "ckpt.pt")
    if os.path.exists(ck):
        st = torch.load(ck)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        g.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        random.setstate(st["py_rng"])
        clock["before"] = st.get("elapsed", 0.0)
        log("pretrain: resumed from %s at step %d (%.0fs trained before)" % (ck, step, clock["before"]))
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    def save():
        tmp = ck + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "gen": g.get_state(), "torch_rng": torch.get_rng_state(),
                    "py_rng": random.getstate(), "elapsed": elapsed(), "config": cfg, "args": vars(a)}, tmp)
        os.replace(tmp, ck)
        torch.save({"model": model.bert.state_dict(), "config": cfg, "step": step},
                   os.path.join(a.out, "encoder.pt"))

    stop = {"flag": False}

    def on_term(signum, frame):
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    lossf = open(os.path.join(a.out, "pretrain_loss.tsv"), "a")
    model.train()
    t0 = time.time()
    clock["t0"] = t0
    tok_done = 0
    steps_done = 0
    ema = None
    tty = sys.stdout.isatty()
    while step < a.steps and not stop["flag"]:
        if a.stop_at and time.time() >= a.stop_at:
            log("pretrain: --stop-at reached")
            break
        if a.time_budget and elapsed() >= a.time_budget:
            log("pretrain: --time-budget reached")
            break
        epoch, pos = divmod(step * a.batch, nseq)
        pg = torch.Generator()
        pg.manual_seed(a.seed * 1000003 + epoch)
        perm = torch.randperm(nseq, generator=pg)
        idx = perm[pos:pos + a.batch]
        if idx.numel() < a.batch:  # wrap into the next epoch's order
            pg2 = torch.Generator()
            pg2.manual_seed(a.seed * 1000003 + epoch + 1)
            idx = torch.cat([idx, torch.randperm(nseq, generator=pg2)[:a.batch - idx.numel()]])
        lens = lens_all[idx].long()
        n = int(lens.max())
        inp, attn, labels = mask_batch(ids_all[idx, :n], lens, len(tok.itos), g)
        for pgp in opt.param_groups:
            pgp["lr"] = lr_at(step)
        loss = model(inp, attn, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        steps_done += 1
        tok_done += int(lens.sum())
        lv = float(loss)
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        lossf.write("%d\t%.4f\t%.6g\t%.1f\n" % (step, lv, lr_at(step - 1), time.time()))
        if step % 10 == 0 or step == a.steps:
            lossf.flush()
            el = time.time() - t0
            sps = steps_done / el
            eta = (a.steps - step) / max(sps, 1e-9)
            if a.time_budget:
                eta = min(eta, a.time_budget - elapsed())
            line = "step %d/%d loss %.3f (ema %.3f) lr %.2e | %.2f steps/s %.0f tok/s | ETA %dm%02ds" % (
                step, a.steps, lv, ema, lr_at(step - 1), sps, tok_done / el, eta // 60, eta % 60)
            if tty:
                print("\r" + line, end="", flush=True)
            else:
                print(line, flush=True)
        if step % a.ckpt_every == 0:
            save()
    if tty:
        print()
    save()
    log("pretrain: stopped at step %d, loss ema %.4f, %.0f tok/s, %.0fs this run" % (
        step, ema or 0.0, tok_done / max(1e-9, time.time() - t0), time.time() - t0))


if __name__ == "__main__":
    main()
