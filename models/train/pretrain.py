#!/usr/bin/env python3
"""Pretraining of a small BERT on corpus/*.txt + the train.tsv text columns.

Two objectives (--objective):
  mlm      masked-language modelling: the loss is on the masked 15%.
  electra  replaced-token detection (ELECTRA): a small generator (MLM, shared
           embeddings) fills the masked positions with samples and the
           encoder we keep classifies every token as original or replaced,
           so it learns from every position.
Lines are tokenized, then packed greedily into sequences of at most --seq-len
ids: [CLS] line [SEP] line [SEP] ... (lines longer than a sequence are cut).
Dynamic masking (--mask-prob, 80% [MASK], 10% random, 10% kept; optionally of
whole words), AdamW, linear warmup then linear decay. Resumable checkpoints
(model, optimizer, step, RNG). --init starts the encoder from an exported
model directory or an encoder.pt (continued pretraining); --bf16 runs the
forward pass under bf16 autocast (oneDNN on AVX512-BF16/AMX CPUs, or CUDA).
"""
import argparse
import json
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402

import fs_data  # noqa: E402
import fs_log  # noqa: E402
import fs_model  # noqa: E402
import fs_tokenizer as tk  # noqa: E402
import fs_train  # noqa: E402


_TOK = None


def _tok_line(text):
    return _TOK.tokenize_ids(text)


def build_sequences(args, tok, log):
    cache = os.path.join(args.out, "packed.pt")
    if os.path.exists(cache):
        d = torch.load(cache)
        log("pretrain: loaded %s: %d sequences" % (cache, d["ids"].shape[0]))
        return d["ids"], d["lens"]
    t0 = time.time()
    rng = random.Random(args.seed)
    cap = args.seq_len - 1  # room after [CLS]
    texts = [t for _, t in fs_data.pretrain_texts(args.data, args.commercial_only, args.limit)]
    if args.workers > 1 and len(texts) > 10000:
        import multiprocessing as mp
        global _TOK
        _TOK = tok
        with mp.get_context("fork").Pool(args.workers) as pool:
            enc = pool.map(_tok_line, texts, chunksize=2000)
    else:
        enc = [tok.tokenize_ids(t) for t in texts]
    del texts
    lines = []
    for ids in enc:
        if ids:
            ids.append(tk.SEP_ID)
            lines.append(ids)
    del enc
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


def mask_batch(ids, lens, vocab_size, g, prob=0.15, cont=None):
    """cont: bool tensor over the vocabulary, True for '##' pieces; when
    given, whole words are masked (a word = a piece and the '##' pieces
    after it), each word with probability prob."""
    ids = ids.long()
    B, N = ids.shape
    attn = (torch.arange(N)[None, :] < lens[:, None]).long()
    special = (ids <= 4)
    probs = torch.full((B, N), prob)
    probs[special] = 0.0
    if cont is None:
        m = torch.bernoulli(probs, generator=g).bool()
    else:
        start = ~cont[ids]
        probs[~start] = 0.0
        ms = torch.bernoulli(probs, generator=g).bool()
        pos = torch.where(start, torch.arange(N).expand(B, N), torch.zeros(B, N, dtype=torch.long))
        first = torch.cummax(pos, dim=1).values
        m = torch.gather(ms, 1, first) & ~special
    labels = torch.where(m, ids, torch.full_like(ids, -100))
    r = torch.rand((B, N), generator=g)
    inp = ids.clone()
    inp[m & (r < 0.8)] = tk.MASK_ID
    rnd = m & (r >= 0.8) & (r < 0.9)
    inp[rnd] = torch.randint(5, vocab_size, (B, N), generator=g)[rnd]
    return inp, attn, labels


def load_init(path, log):
    """(encoder state dict, config) from an exported model directory
    (model.safetensors + config.json) or an encoder.pt of pretrain.py."""
    if os.path.isdir(path):
        import predict
        model, _, mc = predict.load_model(path)
        cfg = {k: mc[k] for k in fs_model.make_config("mini", 1)}
        sd = model.bert.state_dict()
    else:
        st = torch.load(path)
        cfg, sd = st["config"], st["model"]
    log("pretrain: encoder initialised from %s (%d tensors)" % (path, len(sd)))
    return sd, cfg


def parse_args():
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
    ap.add_argument("--objective", default="mlm", choices=["mlm", "electra"])
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--whole-word", action="store_true", help="mask whole words, not single pieces")
    ap.add_argument("--gen-layers", type=int, default=1, help="electra: generator layers (same width)")
    ap.add_argument("--gen-intermediate", type=int, default=0, help="electra: generator FFN size (0: the encoder's)")
    ap.add_argument("--disc-weight", type=float, default=50.0, help="electra: weight of the discriminator loss")
    ap.add_argument("--init", default=None,
                    help="start the encoder from an exported model directory or an encoder.pt (its vocabulary must be --vocab)")
    ap.add_argument("--grow-layers", type=int, default=0,
                    help="with --init: a deeper encoder of this many layers, its layers copied from the "
                         "--init encoder's stacked in order (layer j from layer j mod L; Gong et al. 2019)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for forward passes")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--workers", type=int, default=2, help="processes for tokenizing the text")
    return ap.parse_args()


def grow_layers(sd, cfg, n, log):
    """(state dict, config) of an encoder of n layers whose layer j is a copy
    of layer j mod L of the given L-layer encoder (progressive stacking)."""
    L = cfg["num_hidden_layers"]
    if n < L:
        raise SystemExit("pretrain: --grow-layers %d is fewer than the --init encoder's %d" % (n, L))
    out = {}
    pat = re.compile(r"^encoder\.layer\.(\d+)\.(.*)$")
    for k, v in sd.items():
        m = pat.match(k)
        if not m:
            out[k] = v
            continue
        i, rest = int(m.group(1)), m.group(2)
        for j in range(i, n, L):
            out["encoder.layer.%d.%s" % (j, rest)] = v.clone()
    cfg = dict(cfg, num_hidden_layers=n)
    log("pretrain: encoder grown from %d to %d layers (layer j = layer j mod %d)" % (L, n, L))
    return out, cfg


def build_model(a, tok, log):
    """(model, config): the ELECTRA or MLM model, its encoder from --init when
    given; seeds torch before the weights are drawn."""
    init_sd = load_init(a.init, log) if a.init else None
    if a.grow_layers and init_sd is None:
        raise SystemExit("pretrain: --grow-layers needs --init")
    if init_sd is not None and a.grow_layers:
        init_sd = grow_layers(init_sd[0], init_sd[1], a.grow_layers, log)
    if init_sd is not None:
        cfg = init_sd[1]
    else:
        cfg = fs_model.make_config(a.size, len(tok.itos), a.seq_len)
    if cfg["vocab_size"] != len(tok.itos):
        raise SystemExit("pretrain: --init has %d tokens, --vocab %d" % (cfg["vocab_size"], len(tok.itos)))
    torch.manual_seed(a.seed)
    if a.objective == "electra":
        model = fs_model.Electra(cfg, a.gen_layers, a.gen_intermediate or None)
    else:
        model = fs_model.BertMLM(cfg)
    if init_sd is not None:
        model.bert.load_state_dict(init_sd[0], strict=True)
    nparams = sum(p.numel() for p in model.bert.parameters())
    log("pretrain: objective %s, %d encoder params (incl. embeddings), %d trained in all%s%s" % (
        a.objective, nparams, sum(p.numel() for p in model.parameters()),
        ", whole-word masking" if a.whole_word else "", ", bf16 autocast" if a.bf16 else ""))
    return model, cfg


class Schedule:
    """Linear warmup then linear decay by max(step / steps, time / budget);
    the training time is summed over resumes."""

    def __init__(self, a):
        self.a = a
        self.before = 0.0  # seconds trained by earlier runs
        self.t0 = time.time()

    def elapsed(self):
        return self.before + time.time() - self.t0

    def lr_at(self, step):
        a = self.a
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        p = (step - a.warmup) / max(1, a.steps - a.warmup)
        if a.time_budget:
            p = max(p, self.elapsed() / a.time_budget)
        return a.lr * max(0.0, 1.0 - p)


class Run:
    """What a checkpoint holds: model, optimizer, step, RNG states, clock."""

    def __init__(self, a, cfg, model, opt, sched):
        self.a, self.cfg, self.model, self.opt, self.sched = a, cfg, model, opt, sched
        self.g = torch.Generator()
        self.g.manual_seed(a.seed)
        self.step = 0
        self.ck = os.path.join(a.out, "ckpt.pt")

    def resume(self, log):
        """Continues from ckpt.pt when there is one."""
        if not os.path.exists(self.ck):
            return
        st = torch.load(self.ck)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.step = st["step"]
        self.g.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        random.setstate(st["py_rng"])
        self.sched.before = st.get("elapsed", 0.0)
        log("pretrain: resumed from %s at step %d (%.0fs trained before)" % (self.ck, self.step, self.sched.before))

    def save(self):
        """ckpt.pt (atomically) and encoder.pt (the encoder alone)."""
        tmp = self.ck + ".tmp"
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                    "gen": self.g.get_state(), "torch_rng": torch.get_rng_state(),
                    "py_rng": random.getstate(), "elapsed": self.sched.elapsed(), "config": self.cfg,
                    "args": vars(self.a)}, tmp)
        os.replace(tmp, self.ck)
        torch.save({"model": self.model.bert.state_dict(), "config": self.cfg, "step": self.step},
                   os.path.join(self.a.out, "encoder.pt"))


def stop_on_signals():
    """A dict whose "flag" turns True on SIGTERM or SIGINT."""
    stop = {"flag": False}

    def on_term(signum, frame):
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return stop


def batch_indices(a, step, nseq):
    """The sequences of batch `step`: a fixed permutation per epoch, wrapping
    into the next epoch's order at its end."""
    epoch, pos = divmod(step * a.batch, nseq)
    pg = torch.Generator()
    pg.manual_seed(a.seed * 1000003 + epoch)
    perm = torch.randperm(nseq, generator=pg)
    idx = perm[pos:pos + a.batch]
    if idx.numel() < a.batch:
        pg2 = torch.Generator()
        pg2.manual_seed(a.seed * 1000003 + epoch + 1)
        idx = torch.cat([idx, torch.randperm(nseq, generator=pg2)[:a.batch - idx.numel()]])
    return idx


def train_step(run, ids_all, lens_all, nvocab, cont, dev, autocast):
    """One optimizer step; returns (tokens, loss, gen loss, disc loss, disc
    accuracy, replaced share) with None for what the objective lacks."""
    a, model, opt = run.a, run.model, run.opt
    idx = batch_indices(a, run.step, ids_all.shape[0])
    lens = lens_all[idx].long()
    orig = ids_all[idx, :int(lens.max())].long()
    inp, attn, labels = mask_batch(orig, lens, nvocab, run.g, a.mask_prob, cont)
    for pgp in opt.param_groups:
        pgp["lr"] = run.sched.lr_at(run.step)
    inp, attn, labels, orig = inp.to(dev), attn.to(dev), labels.to(dev), orig.to(dev)
    gl = dl = dacc = rep = None
    with autocast():
        if a.objective == "electra":
            loss, gl, dl, dacc, rep = model(inp, attn, labels, orig, run.g if dev.type == "cpu" else None,
                                            a.disc_weight)
        else:
            loss = model(inp, attn, labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    run.step += 1
    return int(lens.sum()), loss, gl, dl, dacc, rep


def train(run, ids_all, lens_all, nvocab, cont, dev, log):
    """The training loop: until --steps, --time-budget, --stop-at or a
    signal; logs losses to pretrain_loss.tsv and progress to stdout, saves
    every --ckpt-every steps and at the end. Returns (ema, dema, tokens,
    seconds) of this run."""
    a, sched = run.a, run.sched
    electra = a.objective == "electra"
    autocast = fs_train.autocast_for(a.bf16, dev)
    stop = stop_on_signals()
    lossf = open(os.path.join(a.out, "pretrain_loss.tsv"), "a")
    run.model.train()
    t0 = time.time()
    sched.t0 = t0
    tok_done = steps_done = 0
    ema = dema = None
    while run.step < a.steps and not stop["flag"]:
        if a.stop_at and time.time() >= a.stop_at:
            log("pretrain: --stop-at reached")
            break
        if a.time_budget and sched.elapsed() >= a.time_budget:
            log("pretrain: --time-budget reached")
            break
        ntok, loss, gl, dl, dacc, rep = train_step(run, ids_all, lens_all, nvocab, cont, dev, autocast)
        step = run.step
        steps_done += 1
        tok_done += ntok
        lv = float(gl) if electra else float(loss)
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if electra:
            dv = float(dl)
            dema = dv if dema is None else 0.98 * dema + 0.02 * dv
            lossf.write("%d\t%.4f\t%.6g\t%.1f\t%.4f\t%.4f\t%.4f\n" % (step, lv, sched.lr_at(step - 1), time.time(),
                                                                 dv, dacc, rep))
        else:
            lossf.write("%d\t%.4f\t%.6g\t%.1f\n" % (step, lv, sched.lr_at(step - 1), time.time()))
        if step % 10 == 0 or step == a.steps:
            lossf.flush()
            el = time.time() - t0
            sps = steps_done / el
            eta = (a.steps - step) / max(sps, 1e-9)
            if a.time_budget:
                eta = min(eta, a.time_budget - sched.elapsed())
            log.progress("step %d/%d %sloss %.3f (ema %.3f)%s lr %.2e | %.2f steps/s %.0f tok/s | ETA %dm%02ds" % (
                step, a.steps, "gen " if electra else "", lv, ema,
                (" disc loss %.4f (ema %.4f) acc %.3f replaced %.2f" % (dv, dema, dacc, rep)) if electra else "",
                sched.lr_at(step - 1), sps, tok_done / el, eta // 60, eta % 60))
        if step % a.ckpt_every == 0:
            run.save()
    log.end_progress()
    lossf.close()
    run.save()
    return ema, dema, tok_done, time.time() - t0


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    log = fs_log.Log(a.out, "pretrain.log")
    tok = tk.Tokenizer.from_file(a.vocab)
    ids_all, lens_all = build_sequences(a, tok, log)
    model, cfg = build_model(a, tok, log)
    dev = torch.device(a.device)
    model.to(dev)
    cont = None
    if a.whole_word:
        cont = torch.tensor([t.startswith("##") for t in tok.itos], dtype=torch.bool)
    opt = fs_train.make_optimizer(model, a.lr, a.weight_decay, betas=(0.9, 0.98), eps=1e-6)
    run = Run(a, cfg, model, opt, Schedule(a))
    run.resume(log)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    ema, dema, tok_done, secs = train(run, ids_all, lens_all, len(tok.itos), cont, dev, log)
    log("pretrain: stopped at step %d, %sloss ema %.4f%s, %.0f tok/s, %.0fs this run" % (
        run.step, "generator " if a.objective == "electra" else "", ema or 0.0,
        (", discriminator loss ema %.4f" % (dema or 0.0)) if a.objective == "electra" else "",
        tok_done / max(1e-9, secs), secs))
    log.close()


if __name__ == "__main__":
    main()
