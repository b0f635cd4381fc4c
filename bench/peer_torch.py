#!/usr/bin/python3
"""PyTorch peer of `finsent bench`: the same BERT shape or checkpoint and the
same kind of inputs, fp32, torch.inference_mode, 2 threads (--threads),
OPENBLAS_CORETYPE=SkylakeX. Prints one JSON object per measurement (same
fields as `finsent bench --json`), median of --runs rounds of --iters
batches after --warmup rounds.

  fixed mode: --batch items of --seq-len random ids, on --model DIR
              (model.safetensors F32/F16/BF16) or a synthetic shape with
              random weights (--layers --hidden --heads --intermediate --vocab).
  texts mode: --texts FILE.tsv --model DIR: the first column tokenized with
              models/train/fs_tokenizer.py, each batch padded to its longest
              item with an attention mask (what PyTorch users do).
The model is the HF-style eager BERT (linear layers, matmul attention with an
additive mask, erf GELU, post-LN), as in tests/reference/parity.
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class Bert(torch.nn.Module):
    def __init__(self, L, H, A, I, V, P):
        super().__init__()
        self.H, self.A = H, A
        self.word = torch.nn.Embedding(V, H)
        self.pos = torch.nn.Embedding(P, H)
        self.typ = torch.nn.Embedding(2, H)
        self.ln = torch.nn.LayerNorm(H, eps=1e-12)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.ao = (torch.nn.Linear(H, H) for _ in range(4))
            m.aln = torch.nn.LayerNorm(H, eps=1e-12)
            m.i = torch.nn.Linear(H, I)
            m.o = torch.nn.Linear(I, H)
            m.oln = torch.nn.LayerNorm(H, eps=1e-12)
            self.layers.append(m)
        self.pool = torch.nn.Linear(H, H)
        self.topic = torch.nn.Linear(H, 20)
        self.sent = torch.nn.Linear(H, 3)

    def forward(self, ids, mask):
        B, T = ids.shape
        d = self.H // self.A
        x = self.ln(self.word(ids) + self.pos.weight[:T][None] + self.typ.weight[0])
        bias = (1.0 - mask[:, None, None, :]) * -1e9
        for m in self.layers:
            def split(t):
                return t.view(B, T, self.A, d).transpose(1, 2)
            q, k, v = split(m.q(x)), split(m.k(x)), split(m.v(x))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1) @ v
            x = m.aln(x + m.ao(a.transpose(1, 2).reshape(B, T, self.H)))
            x = m.oln(x + m.o(torch.nn.functional.gelu(m.i(x))))
        p = torch.tanh(self.pool(x[:, 0]))
        return torch.softmax(self.topic(p), -1), torch.softmax(self.sent(p), -1)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8:8 + n])
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, np.float32)
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, np.float16).astype(np.float32)
        else:
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(a.copy()).reshape(info["shape"])
    return out


def from_dir(d):
    c = json.load(open(os.path.join(d, "config.json")))
    m = Bert(c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"],
             c["intermediate_size"], c["vocab_size"], c["max_position_embeddings"])
    st = load_safetensors(os.path.join(d, "model.safetensors"))
    pre = "bert." if "bert.embeddings.word_embeddings.weight" in st else ""
    g = lambda n: st[pre + n]  # noqa: E731
    with torch.no_grad():
        m.word.weight.copy_(g("embeddings.word_embeddings.weight"))
        m.pos.weight.copy_(g("embeddings.position_embeddings.weight"))
        m.typ.weight.copy_(g("embeddings.token_type_embeddings.weight"))
        m.ln.weight.copy_(g("embeddings.LayerNorm.weight"))
        m.ln.bias.copy_(g("embeddings.LayerNorm.bias"))
        for i, l in enumerate(m.layers):
            p = "encoder.layer.%d." % i
            for name, lin in (("attention.self.query", l.q), ("attention.self.key", l.k),
                              ("attention.self.value", l.v), ("attention.output.dense", l.ao),
                              ("intermediate.dense", l.i), ("output.dense", l.o)):
                lin.weight.copy_(g(p + name + ".weight"))
                lin.bias.copy_(g(p + name + ".bias"))
            for name, ln in (("attention.output.LayerNorm", l.aln), ("output.LayerNorm", l.oln)):
                ln.weight.copy_(g(p + name + ".weight"))
                ln.bias.copy_(g(p + name + ".bias"))
        # the multi-task pooler and heads when present with these shapes
        # (they cost nothing; bench/peer_ort.mjs --check compares labels)
        for lin, name in ((m.pool, pre + "pooler.dense"), (m.topic, "topic_classifier"),
                          (m.sent, "sentiment_classifier")):
            w, b = st.get(name + ".weight"), st.get(name + ".bias")
            if w is not None and b is not None and w.shape == lin.weight.shape:
                lin.weight.copy_(w)
                lin.bias.copy_(b)
    return m, c


def encode_texts(model_dir, c, path, limit):
    """The first column of a TSV (header skipped), at most limit rows,
    tokenized with models/train/fs_tokenizer.py: a list of id lists."""
    sys.path.insert(0, os.path.join(ROOT, "models", "train"))
    import fs_tokenizer
    tok = fs_tokenizer.Tokenizer.from_file(os.path.join(model_dir, "vocab.txt"),
                                           any_special_ids=True)
    texts = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            texts.append(line.rstrip("\n").split("\t")[0])
            if len(texts) >= limit:
                break
    return [tok.encode(t, c["max_position_embeddings"]) for t in texts]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=12000)
    ap.add_argument("--seq-len", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--texts")
    ap.add_argument("--limit", type=int, default=1024)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model:
        model, c = from_dir(a.model)
        L, H, V = c["num_hidden_layers"], c["hidden_size"], c["vocab_size"]
        I = c["intermediate_size"]
    else:
        L, H, V, I = a.layers, a.hidden, a.vocab, a.intermediate
        model = Bert(L, H, a.heads, I, V, max(512, a.seq_len))
    model.eval()
    batches = []
    if a.texts:
        enc = encode_texts(a.model, c, a.texts, a.limit)
        for s in range(0, len(enc), a.batch):
            chunk = enc[s:s + a.batch]
            T = max(len(x) for x in chunk)
            ids = torch.zeros(len(chunk), T, dtype=torch.long)
            mask = torch.zeros(len(chunk), T)
            for i, x in enumerate(chunk):
                ids[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            batches.append((ids, mask, sum(len(x) for x in chunk)))
    else:
        ids = torch.randint(5, V, (a.batch, a.seq_len))
        ids[:, 0] = 2
        batches.append((ids, torch.ones(a.batch, a.seq_len), a.batch * a.seq_len))
    times = []
    with torch.inference_mode():
        for r in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            items = toks = 0
            for it in range(a.iters):
                ids, mask, nt = batches[it % len(batches)]
                model(ids, mask)
                items += ids.shape[0]
                toks += nt
            dt = time.perf_counter() - t0
            if r >= a.warmup:
                times.append(dt)
    med = statistics.median(times)
    rows = 0
    flops = 0.0
    for it in range(a.iters):
        ids, mask, nt = batches[it % len(batches)]
        B, T = ids.shape
        flops += L * (2.0 * B * T * (4 * H * H + 2 * H * I) + 4.0 * B * T * T * H) + 2.0 * B * H * H
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"engine": "torch", "mode": "padded" if a.texts else "fixed", "layers": L,
                      "hidden": H, "seq": 0 if a.texts else a.seq_len, "batch": a.batch,
                      "threads": a.threads, "items_per_s": round(items / med, 2),
                      "tokens_per_s": round(toks / med, 1), "gflops": round(flops / med * 1e-9, 2),
                      "ms_per_batch": round(med * 1e3 / a.iters, 3), "rss_mib": round(rss, 1),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
