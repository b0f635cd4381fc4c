#!/usr/bin/python3
"""Golden logits for the C BERT engine (tests/classify/test_bert.c).

Writes small random BERT checkpoints in Hugging Face layout into
tests/data/parity/<name>/ (config.json, vocab.txt, tokenizer_config.json,
model.safetensors) plus expected.json: the texts, the token ids fed to the
model (from models/train/fs_tokenizer.py, the Python reference of the
tokenizer), and every head's logits and softmax probabilities computed by an
independent PyTorch BERT written here (no transformers library).

The checkpoints cover: 1-4 layers, hidden 32-256, both head layouts
(bert.-prefixed BertForSequenceClassification with id2label, one of them
FinBERT-like positive/negative/neutral; our multi-task layout), a bare
BertModel with unprefixed names, F32, F16 and BF16 weights, gelu, gelu_new
and relu. F16/BF16 weights are rounded first and the reference runs on the
rounded values, so the C engine must match at float32 tolerances.

Run (from the repo root, Debian's python3 with python3-torch):
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tests/reference/parity/make_parity.py
Deterministic: fixed seeds, one thread.
"""
import json
import math
import os
import struct
import sys

os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
import fs_tokenizer  # noqa: E402

OUT = os.path.join(ROOT, "tests", "data", "parity")
VOCAB_SRC = os.path.join(ROOT, "tests", "data", "parity", "vocab.txt")
VOCAB_LINES = 1000

TEXTS = [
    "Fed hikes rates by 25 basis points, signals more to come",
    "$AAPL beats earnings estimates; shares jump 5% after hours",
    "Oil prices tumble as OPEC+ output deal collapses",
    "Tesla recalls 2 million vehicles over Autopilot concerns",
    "Goldman Sachs upgrades Nvidia to buy, raises target to $650",
    "Bitcoin slides below $40,000 as regulators tighten rules",
    "Héllo, WORLD!! $AAPL up 5%...",
    "中文abc can’t stop, won't stop",
    "",
    "a",
    "Dividend announced: 0.42 per share, payable March 1",
    "Treasury yields climb to 16-year highs amid inflation worries and strong jobs data",
    "Microsoft to acquire Activision Blizzard for $68.7 billion in all-cash deal",
    "Stocks end mixed; Dow slips, Nasdaq edges up",
    "The company said it expects revenue to decline in the coming quarter, citing weak demand "
    "in Europe and Asia, higher input costs, a stronger dollar, and continued supply chain "
    "disruptions that have hurt margins across most of its product lines for two years now",
    "UK inflation eases to 6.7%, still far above the Bank of England's 2% target",
    "IPO: chip designer Arm prices shares at top of range",
    "Layoffs: bank cuts 3,000 jobs as deal-making slumps",
    "Gold hits record high as investors seek safety",
    "CEO steps down effective immediately; CFO named interim chief",
]


class Bert(torch.nn.Module):
    """Post-LN BERT encoder + pooler, parameter names as Hugging Face."""

    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.c = c
        P = torch.nn.ParameterDict
        self.emb = P({
            "word": torch.nn.Parameter(torch.empty(c["vocab_size"], H)),
            "pos": torch.nn.Parameter(torch.empty(c["max_position_embeddings"], H)),
            "ttype": torch.nn.Parameter(torch.empty(c["type_vocab_size"], H)),
        })
        self.emb_ln = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.layers = torch.nn.ModuleList()
        for _ in range(c["num_hidden_layers"]):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.ao = (torch.nn.Linear(H, H) for _ in range(4))
            m.aln = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
            m.i = torch.nn.Linear(H, I)
            m.o = torch.nn.Linear(I, H)
            m.oln = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
            self.layers.append(m)
        self.pool = torch.nn.Linear(H, H)

    def act(self, x):
        a = self.c["hidden_act"]
        if a == "gelu":
            return torch.nn.functional.gelu(x)
        if a in ("gelu_new", "gelu_pytorch_tanh"):
            return torch.nn.functional.gelu(x, approximate="tanh")
        if a == "relu":
            return torch.relu(x)
        raise ValueError(a)

    def forward(self, ids, mask):
        B, T = ids.shape
        H = self.c["hidden_size"]
        nh = self.c["num_attention_heads"]
        d = H // nh
        x = self.emb["word"][ids] + self.emb["pos"][:T][None] + self.emb["ttype"][0][None, None]
        x = self.emb_ln(x)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for m in self.layers:
            def split(t):
                return t.view(B, T, nh, d).transpose(1, 2)
            q, k, v = split(m.q(x)), split(m.k(x)), split(m.v(x))
            s = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
            a = torch.softmax(s, dim=-1) @ v
            a = a.transpose(1, 2).reshape(B, T, H)
            x = m.aln(x + m.ao(a))
            x = m.oln(x + m.o(self.act(m.i(x))))
        return torch.tanh(self.pool(x[:, 0]))

    def hf_state(self, prefix):
        s = {}
        s[prefix + "embeddings.word_embeddings.weight"] = self.emb["word"]
        s[prefix + "embeddings.position_embeddings.weight"] = self.emb["pos"]
        s[prefix + "embeddings.token_type_embeddings.weight"] = self.emb["ttype"]
        s[prefix + "embeddings.LayerNorm.weight"] = self.emb_ln.weight
        s[prefix + "embeddings.LayerNorm.bias"] = self.emb_ln.bias
        for i, m in enumerate(self.layers):
            p = "%sencoder.layer.%d." % (prefix, i)
            for name, lin in (("attention.self.query", m.q), ("attention.self.key", m.k),
                              ("attention.self.value", m.v), ("attention.output.dense", m.ao),
                              ("intermediate.dense", m.i), ("output.dense", m.o)):
                s[p + name + ".weight"] = lin.weight
                s[p + name + ".bias"] = lin.bias
            for name, ln in (("attention.output.LayerNorm", m.aln), ("output.LayerNorm", m.oln)):
                s[p + name + ".weight"] = ln.weight
                s[p + name + ".bias"] = ln.bias
        s[prefix + "pooler.dense.weight"] = self.pool.weight
        s[prefix + "pooler.dense.bias"] = self.pool.bias
        return s


def round_to(t, dtype):
    if dtype == "F16":
        return t.half().float()
    if dtype == "BF16":
        return t.bfloat16().float()
    return t


def tensor_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.float().numpy().tobytes()
    if dtype == "F16":
        return t.half().numpy().tobytes()
    return t.bfloat16().view(torch.int16).numpy().tobytes()


def write_safetensors(path, tensors, dtype):
    """Official layout: tensors back to back (no gaps), header padded with spaces."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def make(spec, vocab, tok):
    name = spec["name"]
    torch.manual_seed(spec["seed"])
    c = {
        "model_type": "bert", "vocab_size": len(vocab), "hidden_size": spec["H"],
        "num_hidden_layers": spec["L"], "num_attention_heads": spec["A"],
        "intermediate_size": spec["I"], "hidden_act": spec["act"],
        "max_position_embeddings": spec["max_pos"], "type_vocab_size": 2,
        "layer_norm_eps": spec.get("eps", 1e-12), "pad_token_id": 0,
    }
    model = Bert(c)
    heads = {}  # tensor prefix -> (labels, Linear)
    for hname, labels in spec["heads"]:
        heads[hname] = (labels, torch.nn.Linear(c["hidden_size"], len(labels)))
    with torch.no_grad():
        for p in list(model.parameters()) + [p for _, l in heads.values() for p in l.parameters()]:
            p.uniform_(-1.0, 1.0)
            p.mul_(0.5 if p.dim() == 2 else 0.2)
        for m in model.layers:
            for lin in (m.q, m.k, m.v, m.ao, m.i, m.o):
                lin.weight.mul_(2.0 / math.sqrt(lin.weight.shape[1]))
        for ln in [model.emb_ln] + [m.aln for m in model.layers] + [m.oln for m in model.layers]:
            ln.weight.add_(1.0)
        for _, lin in heads.values():
            lin.weight.mul_(4.0 / math.sqrt(c["hidden_size"]))
        # The reference runs on the stored (rounded) weights.
        for p in list(model.parameters()) + [p for _, l in heads.values() for p in l.parameters()]:
            p.copy_(round_to(p, spec["dtype"]))

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    prefix = spec["prefix"]
    state = model.hf_state(prefix)
    for hname, (labels, lin) in heads.items():
        state[hname + ".weight"] = lin.weight
        state[hname + ".bias"] = lin.bias
    write_safetensors(os.path.join(d, "model.safetensors"), state, spec["dtype"])
    cfg = dict(c)
    if spec["layout"] == "multitask":
        cfg["architectures"] = ["FinsentMultiTask"]
        for hname, (labels, _) in heads.items():
            cfg[hname.replace("_classifier", "_labels")] = labels
    else:
        cfg["architectures"] = ["BertForSequenceClassification"]
        labels = heads["classifier"][0]
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": spec["max_pos"],
                   "tokenize_chinese_chars": True, "strip_accents": None}, f)
        f.write("\n")

    ids = [tok.encode(t, spec["max_pos"]) for t in TEXTS]
    T = max(len(x) for x in ids)
    batch = torch.zeros(len(ids), T, dtype=torch.long)
    mask = torch.zeros(len(ids), T, dtype=torch.long)
    for i, x in enumerate(ids):
        batch[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    out = {"name": name, "dtype": spec["dtype"], "max_len": spec["max_pos"], "texts": TEXTS,
           "ids": ids, "heads": {}}
    with torch.inference_mode():
        pooled = model(batch, mask)
        for hname, (labels, lin) in heads.items():
            logits = lin(pooled)
            probs = torch.softmax(logits, dim=-1)
            out["heads"][hname] = {"kind": spec["kinds"][hname], "labels": labels,
                                   "logits": [[float("%.9g" % v) for v in r] for r in logits.tolist()],
                                   "probs": [[float("%.9g" % v) for v in r] for r in probs.tolist()]}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("%s: %d bytes of weights" % (name, os.path.getsize(os.path.join(d, "model.safetensors"))))


TOPICS5 = ["Earnings", "Macro", "M&A | Investments", "Markets", "Energy | Oil"]
SENT = ["negative", "neutral", "positive"]
SPECS = [
    {"name": "mt_l2_h64_f32", "seed": 1, "L": 2, "H": 64, "A": 4, "I": 128, "act": "gelu",
     "max_pos": 64, "dtype": "F32", "prefix": "bert.", "layout": "multitask",
     "heads": [("topic_classifier", TOPICS5), ("sentiment_classifier", SENT)],
     "kinds": {"topic_classifier": "topic", "sentiment_classifier": "sentiment"}},
    {"name": "finbert_l1_h32_gelunew_f32", "seed": 2, "L": 1, "H": 32, "A": 2, "I": 64,
     "act": "gelu_new", "max_pos": 40, "dtype": "F32", "prefix": "bert.", "layout": "seqcls",
     "heads": [("classifier", ["positive", "negative", "neutral"])],
     "kinds": {"classifier": "sentiment"}},
    {"name": "topic_l3_h48_relu_f16", "seed": 3, "L": 3, "H": 48, "A": 3, "I": 96, "act": "relu",
     "max_pos": 64, "dtype": "F16", "prefix": "bert.", "layout": "seqcls", "eps": 1e-5,
     "heads": [("classifier", TOPICS5)], "kinds": {"classifier": "topic"}},
    {"name": "mt_l4_h96_tanh_f16", "seed": 4, "L": 4, "H": 96, "A": 4, "I": 192,
     "act": "gelu_pytorch_tanh", "max_pos": 64, "dtype": "F16", "prefix": "bert.",
     "layout": "multitask",
     "heads": [("topic_classifier", TOPICS5 + ["Dividend", "IPO"]),
               ("sentiment_classifier", ["positive", "neutral", "negative"])],
     "kinds": {"topic_classifier": "topic", "sentiment_classifier": "sentiment"}},
    {"name": "bare_l1_h256_bf16", "seed": 5, "L": 1, "H": 256, "A": 4, "I": 384, "act": "gelu",
     "max_pos": 64, "dtype": "BF16", "prefix": "", "layout": "seqcls",
     "heads": [("classifier", ["NEUTRAL", "Positive", "negative"])],
     "kinds": {"classifier": "sentiment"}},
]


def main():
    torch.set_num_threads(1)
    src = os.path.join(ROOT, "models", "train", "runs", "main", "vocab.txt")
    if os.path.exists(VOCAB_SRC):
        vocab = fs_tokenizer.load_vocab(VOCAB_SRC)
    else:
        vocab = fs_tokenizer.load_vocab(src)[:VOCAB_LINES]
        os.makedirs(OUT, exist_ok=True)
        with open(VOCAB_SRC, "w") as f:
            f.write("\n".join(vocab) + "\n")
    tok = fs_tokenizer.Tokenizer(vocab)
    for spec in SPECS:
        make(spec, vocab, tok)


if __name__ == "__main__":
    main()
