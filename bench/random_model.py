#!/usr/bin/python3
"""Write a model directory of a given BERT shape with random weights, for
benchmarks of the real loading path (mmap, tokenizer, classify):

  bench/random_model.py OUT [--layers 12 --hidden 768 --heads 12
                             --intermediate 3072] [--vocab FILE]

Layout: bert.-prefixed encoder + pooler, multi-task heads (20 topics,
3 sentiments), F32, config.json as models/FORMAT.md. The vocabulary defaults
to ../shared/data/vocab/bert-base-uncased.txt (vocab_size = its line count).
Needs only numpy.
"""
import argparse
import json
import os
import struct

import numpy as np

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=12)
ap.add_argument("--hidden", type=int, default=768)
ap.add_argument("--heads", type=int, default=12)
ap.add_argument("--intermediate", type=int, default=3072)
ap.add_argument("--max-pos", type=int, default=512)
ap.add_argument("--vocab", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                "shared", "data", "vocab", "bert-base-uncased.txt"))
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
vocab = open(a.vocab, encoding="utf-8").read().splitlines()
H, I, V = a.hidden, a.intermediate, len(vocab)
rng = np.random.default_rng(0)
shapes = [("bert.embeddings.word_embeddings.weight", (V, H)),
          ("bert.embeddings.position_embeddings.weight", (a.max_pos, H)),
          ("bert.embeddings.token_type_embeddings.weight", (2, H)),
          ("bert.embeddings.LayerNorm.weight", (H,)), ("bert.embeddings.LayerNorm.bias", (H,))]
for i in range(a.layers):
    p = "bert.encoder.layer.%d." % i
    for n in ("attention.self.query", "attention.self.key", "attention.self.value",
              "attention.output.dense"):
        shapes += [(p + n + ".weight", (H, H)), (p + n + ".bias", (H,))]
    shapes += [(p + "attention.output.LayerNorm.weight", (H,)), (p + "attention.output.LayerNorm.bias", (H,)),
               (p + "intermediate.dense.weight", (I, H)), (p + "intermediate.dense.bias", (I,)),
               (p + "output.dense.weight", (H, I)), (p + "output.dense.bias", (H,)),
               (p + "output.LayerNorm.weight", (H,)), (p + "output.LayerNorm.bias", (H,))]
shapes += [("bert.pooler.dense.weight", (H, H)), ("bert.pooler.dense.bias", (H,)),
           ("topic_classifier.weight", (20, H)), ("topic_classifier.bias", (20,)),
           ("sentiment_classifier.weight", (3, H)), ("sentiment_classifier.bias", (3,))]
header, off = {"__metadata__": {"format": "pt"}}, 0
for n, s in shapes:
    size = 4 * int(np.prod(s))
    header[n] = {"dtype": "F32", "shape": list(s), "data_offsets": [off, off + size]}
    off += size
hb = json.dumps(header, separators=(",", ":")).encode()
hb += b" " * ((-len(hb)) % 8)
with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hb)))
    f.write(hb)
    for n, s in shapes:
        if "LayerNorm.weight" in n:
            t = np.ones(s, np.float32)
        else:
            t = (rng.standard_normal(s, dtype=np.float32) * 0.02)
        f.write(t.astype("<f4").tobytes())
cfg = {"architectures": ["FinsentMultiTask"], "model_type": "bert", "vocab_size": V, "hidden_size": H,
       "num_hidden_layers": a.layers, "num_attention_heads": a.heads, "intermediate_size": I,
       "hidden_act": "gelu", "max_position_embeddings": a.max_pos, "type_vocab_size": 2,
       "layer_norm_eps": 1e-12, "pad_token_id": 0,
       "topic_labels": ["T%d" % i for i in range(20)],
       "sentiment_labels": ["negative", "neutral", "positive"]}
json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8").write("\n".join(vocab) + "\n")
json.dump({"do_lower_case": True, "model_max_length": 128}, open(os.path.join(a.out, "tokenizer_config.json"), "w"))
print("%s: %d tensors, %.1f MB" % (a.out, len(shapes), off / 1e6))
