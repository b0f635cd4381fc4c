#!/usr/bin/env python3
"""Export a fine-tuned checkpoint (finetune.py best.pt) to a Hugging Face style
model directory: config.json, vocab.txt, tokenizer_config.json, model.safetensors.
See models/FORMAT.md."""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fs_cpu  # noqa: E402,F401  (sets OPENBLAS_CORETYPE: before torch)
import torch  # noqa: E402

import fs_data  # noqa: E402
import fs_model  # noqa: E402
import fs_tokenizer as tk  # noqa: E402

TOKENIZER_CONFIG = {"do_lower_case": True, "model_max_length": 128,
                    "tokenize_chinese_chars": True, "strip_accents": None}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16"])
    a = ap.parse_args()
    st = torch.load(a.ckpt)
    cfg = dict(st["config"])
    model = fs_model.MultiTask(cfg)
    model.load_state_dict(st["model"])
    os.makedirs(a.out, exist_ok=True)
    out_cfg = {
        "architectures": ["FinsentMultiTask"],
        "model_type": "bert",
        "vocab_size": cfg["vocab_size"],
        "hidden_size": cfg["hidden_size"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"],
        "intermediate_size": cfg["intermediate_size"],
        "hidden_act": "gelu",
        "max_position_embeddings": cfg["max_position_embeddings"],
        "type_vocab_size": cfg["type_vocab_size"],
        "layer_norm_eps": cfg["layer_norm_eps"],
        "hidden_dropout_prob": cfg["hidden_dropout_prob"],
        "attention_probs_dropout_prob": cfg["attention_probs_dropout_prob"],
        "initializer_range": cfg["initializer_range"],
        "pad_token_id": 0,
        "topic_labels": fs_data.TOPIC_LABELS,
        "sentiment_labels": fs_data.SENTIMENT_LABELS,
        "special_token_ids": {s: i for i, s in enumerate(tk.SPECIALS)},
    }
    with open(os.path.join(a.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(out_cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(TOKENIZER_CONFIG, f)
        f.write("\n")
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.txt"))
    tensors = fs_model.export_state(model)
    path = os.path.join(a.out, "model.safetensors")
    fs_model.save_safetensors(tensors, path, {"format": "pt"}, a.dtype)
    back = fs_model.load_safetensors(path)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].shape == v.shape and (a.dtype != "F32" or torch.equal(back[k], v)), k
    n = sum(v.numel() for v in tensors.values())
    size = sum(os.path.getsize(os.path.join(a.out, x)) for x in os.listdir(a.out))
    print("export: %s: %d tensors, %d parameters, directory %.1f MB" % (a.out, len(tensors), n, size / 1e6))


if __name__ == "__main__":
    main()
