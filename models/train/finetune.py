#!/usr/bin/env python3
"""Multi-task fine-tuning: one encoder, a topic head (20 labels) and a sentiment
head (negative/neutral/positive), both on the pooled [CLS] output.

Batches mix both tasks; each item's loss uses its own head. Trains on the
train splits only; validation splits are used for model selection only.

Distillation (--teacher DIR[,DIR...]): the exported teacher models (their
probabilities averaged: an ensemble) give soft targets for both heads on every
train item, and on --pseudo N unlabelled corpus sentences that have no label at
all. Loss per item: --kd-alpha x cross-entropy with the teacher's probabilities
(both heads) + (1 - --kd-alpha) x the label loss of its own head; pseudo items
have the soft part only.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import fs_data  # noqa: E402
import fs_log  # noqa: E402
import fs_model  # noqa: E402
import fs_tokenizer as tk  # noqa: E402
import fs_train  # noqa: E402

TOPIC, SENT = 0, 1


PSEUDO = 2  # task of unlabelled items (soft targets only)


def encode_sets(sets, tok, max_len):
    """[(ids, task, label_id, dataset)]"""
    out = []
    for ds, rows in sets.items():
        task = TOPIC if ds in fs_data.TOPIC_SETS else SENT
        labels = fs_data.TOPIC_LABELS if task == TOPIC else fs_data.SENTIMENT_LABELS
        for text, lab in rows:
            out.append((tok.encode(text, max_len), task, labels.index(lab), ds))
    return out


def collate(items):
    n = max(len(x[0]) for x in items)
    ids = torch.zeros(len(items), n, dtype=torch.long)
    mask = torch.zeros(len(items), n, dtype=torch.long)
    for i, x in enumerate(items):
        ids[i, :len(x[0])] = torch.tensor(x[0])
        mask[i, :len(x[0])] = 1
    task = torch.tensor([x[1] for x in items])
    lab = torch.tensor([x[2] for x in items])
    return ids, mask, task, lab


@torch.no_grad()
def teacher_targets(dirs, items, log, bs=128):
    """Average of the teachers' (topic, sentiment) probabilities for each item:
    two float tensors (n, 20) and (n, 3)."""
    import predict
    n = len(items)
    tsum, ssum = torch.zeros(n, len(fs_data.TOPIC_LABELS)), torch.zeros(n, 3)
    order = sorted(range(n), key=lambda j: len(items[j][0]))
    for d in dirs:
        t0 = time.time()
        model, _, cfg = predict.load_model(d)
        if cfg["topic_labels"] != fs_data.TOPIC_LABELS or cfg["sentiment_labels"] != fs_data.SENTIMENT_LABELS:
            raise SystemExit("finetune: teacher %s has other labels" % d)
        for k in range(0, n, bs):
            idx = order[k:k + bs]
            ids, mask, _, _ = collate([items[j] for j in idx])
            tl, sl = model(ids, mask)
            tsum[idx] += torch.softmax(tl.float(), -1)
            ssum[idx] += torch.softmax(sl.float(), -1)
        log("finetune: teacher %s on %d items in %.0fs" % (d, n, time.time() - t0))
    return tsum / len(dirs), ssum / len(dirs)


def batches(items, bs, rng, bucket=50):
    idx = list(range(len(items)))
    rng.shuffle(idx)
    out = []
    for i in range(0, len(idx), bs * bucket):
        chunk = sorted(idx[i:i + bs * bucket], key=lambda j: len(items[j][0]))
        out.extend(chunk[k:k + bs] for k in range(0, len(chunk), bs))
    rng.shuffle(out)
    return out


def macro_f1(gold, pred, labels):
    f1s = []
    for l in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == l and p == l)
        fp = sum(1 for g, p in zip(gold, pred) if g != l and p == l)
        fn = sum(1 for g, p in zip(gold, pred) if g == l and p != l)
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / max(1, len(f1s))


@torch.no_grad()
def evaluate(model, items, bs=128):
    """{dataset: (acc, macro_f1, n)}"""
    model.eval()
    order = sorted(range(len(items)), key=lambda j: len(items[j][0]))
    preds = [None] * len(items)
    for k in range(0, len(order), bs):
        b = [items[j] for j in order[k:k + bs]]
        ids, mask, task, lab = collate(b)
        tl, sl = model(ids, mask)
        tp, sp = tl.argmax(-1), sl.argmax(-1)
        for i, j in enumerate(order[k:k + bs]):
            preds[j] = int(tp[i]) if items[j][1] == TOPIC else int(sp[i])
    res = {}
    for ds in sorted(set(x[3] for x in items)):
        sel = [j for j in range(len(items)) if items[j][3] == ds]
        gold = [items[j][2] for j in sel]
        pr = [preds[j] for j in sel]
        acc = sum(1 for g, p in zip(gold, pr) if g == p) / len(sel)
        res[ds] = (acc, macro_f1(gold, pr, sorted(set(gold))), len(sel))
    model.train()
    return res


def score(res):
    """Selection score: mean validation accuracy over datasets."""
    return sum(v[0] for v in res.values()) / len(res)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--init", default=None, help="encoder.pt from pretrain.py (default: random init)")
    ap.add_argument("--size", default="mini", choices=sorted(fs_model.SIZES), help="used only without --init")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup-frac", type=float, default=0.06)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--topic-weight", type=float, default=1.0)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--evals-per-epoch", type=int, default=1)
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; LR decays by time too and training stops at the budget")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--commercial-only", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="rows per file (smoke tests)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for the training forward pass")
    ap.add_argument("--teacher", default=None, help="comma-separated exported model directories (distillation)")
    ap.add_argument("--pseudo", type=int, default=0, help="distillation: this many unlabelled corpus sentences")
    ap.add_argument("--kd-alpha", type=float, default=0.5, help="distillation: weight of the soft targets")
    ap.add_argument("--init-model", default=None,
                    help="start from an exported model directory (encoder and heads), e.g. to distil into it")
    return ap.parse_args()


def load_items(a, tok, log):
    """(train, validation, soft topic targets, soft sentiment targets): the
    encoded items; with --teacher, pseudo items are added to train and every
    train item carries its row in the soft targets (None without)."""
    train = encode_sets(fs_data.labelled(a.data, "train", a.commercial_only, a.limit), tok, a.max_len)
    val = encode_sets(fs_data.labelled(a.data, "validation", a.commercial_only, a.limit), tok, a.max_len)
    log("finetune: %d train items, %d validation items" % (len(train), len(val)))
    if not a.teacher:
        return train, val, None, None
    if a.pseudo:
        texts = fs_data.pseudo_texts(a.data, a.pseudo, a.seed, a.commercial_only)
        train += [(tok.encode(t, a.max_len), PSEUDO, 0, "pseudo") for t in texts]
        log("finetune: %d unlabelled corpus sentences for pseudo-labels" % len(texts))
    soft_t, soft_s = teacher_targets(a.teacher.split(","), train, log)
    train = [x + (j,) for j, x in enumerate(train)]
    return train, val, soft_t, soft_s


def build_model(a, tok, log):
    """(model, config) from --init-model, --init or a random init."""
    if a.init_model:
        import predict
        model, _, cfg = predict.load_model(a.init_model)
        cfg = {k: cfg[k] for k in fs_model.make_config("mini", 1)}
        model.train()
        log("finetune: encoder and heads from %s" % a.init_model)
    elif a.init:
        st = torch.load(a.init)
        cfg = st["config"]
        model = fs_model.MultiTask(cfg)
        model.bert.load_state_dict(st["model"], strict=True)
        log("finetune: encoder from %s (pretrain step %s)" % (a.init, st.get("step")))
    else:
        cfg = fs_model.make_config(a.size, len(tok.itos), a.max_len)
        model = fs_model.MultiTask(cfg)
        log("finetune: random init, size %s" % a.size)
    return model, cfg


def batch_loss(a, model, train, bidx, soft_t, soft_s, autocast):
    """(loss, tokens) of one batch: the label loss of each item's own head
    (label smoothing, topic weight) and, when distilling, the soft part."""
    ids, mask, task, lab = collate([train[j] for j in bidx])
    with autocast():
        tl, sl = model(ids, mask)
    tl, sl = tl.float(), sl.float()
    loss = 0.0
    tsel, ssel = task == TOPIC, task == SENT
    n = len(bidx)
    hard = 1.0 if soft_t is None else 1.0 - a.kd_alpha
    if tsel.any():
        loss = loss + hard * a.topic_weight * F.cross_entropy(
            tl[tsel], lab[tsel], label_smoothing=a.label_smoothing, reduction="sum") / n
    if ssel.any():
        loss = loss + hard * F.cross_entropy(sl[ssel], lab[ssel], label_smoothing=a.label_smoothing,
                                             reduction="sum") / n
    if soft_t is not None:
        rows = torch.tensor([train[j][4] for j in bidx])
        soft = -(soft_t[rows] * F.log_softmax(tl, -1)).sum() * a.topic_weight \
            - (soft_s[rows] * F.log_softmax(sl, -1)).sum()
        loss = loss + a.kd_alpha * soft / n
    return loss, int(mask.sum())


def results_line(res):
    return " ".join("%s acc %.4f f1 %.4f" % (k, v[0], v[1]) for k, v in res.items())


class Best:
    """The best evaluation so far, saved to best.pt, and the last two
    evaluated weights (for averaging)."""

    def __init__(self, out, cfg):
        self.path = os.path.join(out, "best.pt")
        self.cfg = cfg
        self.score, self.res, self.states = -1.0, None, []

    def offer(self, sd, res, step, keep=True, **extra):
        """Saves sd when it scores best; keeps it among the last two when
        keep."""
        sc = score(res)
        if keep:
            self.states = (self.states + [sd])[-2:]
        if sc > self.score:
            self.score, self.res = sc, res
            torch.save(dict({"model": sd, "config": self.cfg, "step": step, "val": res}, **extra), self.path)
        return sc


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train(a, model, train_items, val, soft_t, soft_s, best, rng, log):
    """The training loop: AdamW, linear warmup and decay (by steps or
    --time-budget), evaluation every 1 / --evals-per-epoch epoch. Returns
    (steps, tokens, t0)."""
    nb = (len(train_items) + a.batch - 1) // a.batch
    total = int(nb * a.epochs)
    warm = max(1, int(total * a.warmup_frac))
    opt = fs_train.make_optimizer(model, a.lr, 0.01)
    t0 = time.time()

    def lr_at(step):
        if step < warm:
            return a.lr * (step + 1) / warm
        p = (step - warm) / max(1, total - warm)
        if a.time_budget:
            p = max(p, (time.time() - t0) / a.time_budget)
        return a.lr * max(0.0, 1.0 - p)

    autocast = fs_train.autocast_for(a.bf16, torch.device("cpu"))
    eval_every = max(1, nb // a.evals_per_epoch)
    step, done, tokens = 0, False, 0
    model.train()
    while not done:
        for bidx in batches(train_items, a.batch, rng):
            if step >= total or (a.time_budget and time.time() - t0 >= a.time_budget):
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss, ntok = batch_loss(a, model, train_items, bidx, soft_t, soft_s, autocast)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens += ntok
            if step % 20 == 0:
                el = time.time() - t0
                eta = (total - step) * el / step
                if a.time_budget:
                    eta = min(eta, a.time_budget - el)
                log.progress("ft step %d/%d loss %.3f lr %.2e | %.2f steps/s %.0f tok/s | ETA %dm%02ds" % (
                    step, total, float(loss), lr_at(step - 1), step / el, tokens / el, eta // 60, eta % 60))
            if step % eval_every == 0 or step == total:
                log.end_progress()
                res = evaluate(model, val)
                sc = best.offer(snapshot(model), res, step)
                log("eval step %d (epoch %.2f, %.0fs): score %.4f | %s" % (
                    step, step / nb, time.time() - t0, sc, results_line(res)))
    return step, tokens, t0


def finish(model, val, best, step, log):
    """The final evaluation (the last step may not have been evaluated),
    then the average of the final weights and the previous evaluation's."""
    res = evaluate(model, val)
    sd = snapshot(model)
    sc = best.offer(sd, res, step, keep=False)
    log("eval final step %d: score %.4f | %s" % (step, sc, results_line(res)))
    if not best.states or best.states[-1] is None:
        return
    prev = best.states[-1] if not all(torch.equal(best.states[-1][k], sd[k]) for k in sd) else (
        best.states[-2] if len(best.states) > 1 else None)
    if prev is None:
        return
    avg = {k: (sd[k].float() + prev[k].float()) / 2 for k in sd}
    model.load_state_dict(avg)
    res = evaluate(model, val)
    sc = best.offer(avg, res, step, keep=False, averaged=True)
    log("eval average(last two): score %.4f | %s" % (sc, results_line(res)))


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = fs_log.Log(a.out, "finetune.log")
    tok = tk.Tokenizer.from_file(a.vocab)
    train_items, val, soft_t, soft_s = load_items(a, tok, log)
    model, cfg = build_model(a, tok, log)
    best = Best(a.out, cfg)
    step, tokens, t0 = train(a, model, train_items, val, soft_t, soft_s, best, rng, log)
    finish(model, val, best, step, log)
    log("finetune: best score %.4f, %d steps, %.0fs, %.0f tok/s" % (
        best.score, step, time.time() - t0, tokens / max(1e-9, time.time() - t0)))
    with open(os.path.join(a.out, "val_metrics.json"), "w") as f:
        json.dump({"score": best.score, "val": best.res}, f, indent=1)
    log.close()


if __name__ == "__main__":
    main()
