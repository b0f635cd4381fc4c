"""Small BERT in PyTorch (post-LN, exact GELU, learned absolute positions,
token types) with HF parameter names, MLM head, multi-task heads, and a
dependency-free safetensors reader/writer."""
import json
import math
import struct

import fs_cpu  # noqa: F401  (sets OPENBLAS_CORETYPE: before torch)
import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {
    # name: (layers, hidden, heads, intermediate)
    "mini": (4, 256, 4, 1024),
    "tiny": (2, 256, 4, 1024),
    "micro": (2, 128, 2, 512),
}


def make_config(size, vocab_size, max_pos=128):
    L, H, A, I = SIZES[size]
    return {
        "vocab_size": vocab_size, "hidden_size": H, "num_hidden_layers": L,
        "num_attention_heads": A, "intermediate_size": I, "hidden_act": "gelu",
        "max_position_embeddings": max_pos, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": 0, "model_type": "bert",
    }


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], H, padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], H)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], H)
        self.LayerNorm = nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, ids):
        n = ids.shape[1]
        pos = torch.arange(n, device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(pos)[None] \
            + self.token_type_embeddings.weight[0][None, None]
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.query = nn.Linear(H, H)
        self.key = nn.Linear(H, H)
        self.value = nn.Linear(H, H)
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def forward(self, x, bias):
        B, N, H = x.shape
        d = H // self.heads

        def split(t):
            return t.view(B, N, self.heads, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        if bias is not None:
            s = s + bias
        p = self.dropout(torch.softmax(s, dim=-1))
        return torch.matmul(p, v).transpose(1, 2).reshape(B, N, H)


class DenseLN(nn.Module):
    def __init__(self, cin, H, eps, drop):
        super().__init__()
        self.dense = nn.Linear(cin, H)
        self.LayerNorm = nn.LayerNorm(H, eps=eps)
        self.dropout = nn.Dropout(drop)

    def forward(self, h, resid):
        # .float(): under bf16 autocast the residual stream stays fp32 (a no-op otherwise)
        return self.LayerNorm((resid + self.dropout(self.dense(h))).float())


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseLN(c["hidden_size"], c["hidden_size"], c["layer_norm_eps"], c["hidden_dropout_prob"])

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact (erf) GELU


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseLN(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"], c["hidden_dropout_prob"])

    def forward(self, x, bias):
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, bias):
        for l in self.layer:
            x = l(x, bias)
        return x


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, ids, mask=None):
        bias = None
        if mask is not None:
            bias = (1.0 - mask[:, None, None, :].float()) * -10000.0
        return self.encoder(self.embeddings(ids), bias)


def init_weights(module, std):
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, std)
            m.bias.data.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.data.normal_(0.0, std)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()


class MLMHead(nn.Module):
    """HF BertOnlyMLMHead; decoder tied to the word embeddings."""
    def __init__(self, c, word_emb):
        super().__init__()
        H = c["hidden_size"]
        self.dense = nn.Linear(H, H)
        self.LayerNorm = nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.word_emb = word_emb
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))

    def forward(self, h):
        h = self.LayerNorm(F.gelu(self.dense(h)).float())
        return F.linear(h, self.word_emb.weight, self.bias)


class BertMLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = Bert(c)
        self.cls = MLMHead(c, self.bert.embeddings.word_embeddings)
        init_weights(self, c["initializer_range"])

    def forward(self, ids, mask, labels):
        """labels: -100 where not masked. Decoder runs on masked positions only."""
        h = self.bert(ids, mask)
        sel = labels.view(-1) != -100
        hs = h.view(-1, h.shape[-1])[sel]
        logits = self.cls(hs)
        return F.cross_entropy(logits, labels.view(-1)[sel])


class DiscHead(nn.Module):
    """ELECTRA discriminator head: dense + GELU + one logit per token (replaced?)."""
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.dense = nn.Linear(H, H)
        self.dense_prediction = nn.Linear(H, 1)

    def forward(self, h):
        return self.dense_prediction(F.gelu(self.dense(h))).squeeze(-1)


class Electra(nn.Module):
    """Replaced-token detection (Clark et al. 2020). A small MLM generator
    (gen_layers layers of the same width) fills the masked positions with
    samples; the discriminator (self.bert, the encoder we keep) classifies
    every real token as original or replaced. Generator and discriminator
    share the embeddings; the generator's MLM decoder is tied to them too."""
    def __init__(self, c, gen_layers=1, gen_intermediate=None):
        super().__init__()
        self.bert = Bert(c)
        gc = dict(c, num_hidden_layers=gen_layers,
                  intermediate_size=gen_intermediate or c["intermediate_size"])
        self.gen_config = gc
        self.gen = Bert(gc)
        self.gen.embeddings = self.bert.embeddings
        self.gen.pooler = None
        self.gen_head = MLMHead(gc, self.bert.embeddings.word_embeddings)
        self.disc_head = DiscHead(c)
        init_weights(self, c["initializer_range"])

    def forward(self, inp, mask, labels, orig, g, disc_weight=50.0):
        """inp: generator input (masked); orig: original ids; labels: -100
        where not masked. Returns (loss, gen_loss, disc_loss, disc_acc,
        replaced_fraction_of_masked)."""
        H = self.bert.config["hidden_size"]
        hg = self.gen(inp, mask)
        sel = labels.view(-1) != -100
        logits = self.gen_head(hg.reshape(-1, H)[sel])
        gen_loss = F.cross_entropy(logits, labels.view(-1)[sel])
        with torch.no_grad():
            probs = torch.softmax(logits.detach().float(), -1)
            sampled = torch.multinomial(probs, 1, generator=g).squeeze(-1)
            dinp = orig.clone().view(-1)
            dinp[sel] = sampled
            dinp = dinp.view_as(orig)
            target = (dinp != orig).float()
        hd = self.bert(dinp, mask)
        dl = self.disc_head(hd)
        real = mask.bool()
        dlr, tr = dl[real].float(), target[real]
        disc_loss = F.binary_cross_entropy_with_logits(dlr, tr)
        with torch.no_grad():
            acc = float(((dlr > 0).float() == tr).float().mean())
            rep = float(target.view(-1)[sel].mean()) if sel.any() else 0.0
        return gen_loss + disc_weight * disc_loss, gen_loss, disc_loss, acc, rep


class MultiTask(nn.Module):
    def __init__(self, c, n_topic=20, n_sent=3):
        super().__init__()
        self.bert = Bert(c)
        drop = c["hidden_dropout_prob"]
        self.dropout = nn.Dropout(drop)
        self.topic_classifier = nn.Linear(c["hidden_size"], n_topic)
        self.sentiment_classifier = nn.Linear(c["hidden_size"], n_sent)
        init_weights(self, c["initializer_range"])

    def forward(self, ids, mask):
        h = self.bert(ids, mask)
        p = self.dropout(self.bert.pooler(h))
        return self.topic_classifier(p), self.sentiment_classifier(p)


def export_state(model):
    """Tensors exported to model.safetensors, in a fixed order."""
    sd = model.state_dict()
    keep = [k for k in sd if k.startswith("bert.") or k.startswith("topic_classifier.")
            or k.startswith("sentiment_classifier.")]
    return {k: sd[k].detach().float().contiguous() for k in keep}


# ---------------------------------------------------------------- safetensors

_DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def save_safetensors(tensors, path, metadata=None, dtype="F32"):
    header, blobs, off = {}, [], 0
    tdt, _ = _DT[dtype]
    for name, t in tensors.items():
        b = t.detach().to(tdt).contiguous().cpu().numpy().tobytes() if dtype != "BF16" else \
            t.detach().to(tdt).contiguous().view(torch.int16).cpu().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        pad = (-len(b)) % 8
        blobs.append(b + b"\0" * pad)
        off += len(b) + pad
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    npdt = {"F32": np.float32, "F16": np.float16, "BF16": np.int16}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype=npdt[info["dtype"]], count=(e - b) // np.dtype(npdt[info["dtype"]]).itemsize,
                            offset=base + b).reshape(info["shape"])
        t = torch.from_numpy(arr.copy())
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t.float()
    return out
