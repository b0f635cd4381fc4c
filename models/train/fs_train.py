"""Training helpers shared by pretrain.py and finetune.py."""
import contextlib

import fs_cpu  # noqa: F401  (sets OPENBLAS_CORETYPE: before torch)
import torch


def make_optimizer(model, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    """AdamW with weight decay on matrices only (not biases, LayerNorm)."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": nodecay, "weight_decay": 0.0}], lr=lr, betas=betas, eps=eps)


def autocast_for(bf16, dev):
    """A function returning the forward pass's autocast context."""
    if not bf16:
        return contextlib.nullcontext
    if dev.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return lambda: torch.cpu.amp.autocast(dtype=torch.bfloat16)
