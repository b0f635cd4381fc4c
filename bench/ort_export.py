#!/usr/bin/python3
"""Export the BERT of bench/peer_torch.py to ONNX for the ONNX Runtime peer
(bench/peer_ort.mjs), twice: fp32, and int8 the way onnxruntime.quantization.
quantize_dynamic writes it (that tool is Python-only and not installable
here, so the same graph is emitted directly).

  bench/ort_export.py OUTDIR [--model DIR | --layers L --hidden H --heads A
                              --intermediate I --vocab V]
                             [--texts FILE.tsv --batch N[,N...] --limit N]

Writes OUTDIR/fp32.onnx, OUTDIR/int8.onnx and OUTDIR/check.json (random ids
of two lengths and torch's outputs on them, so the peer can check the fp32
graph against torch and the int8 graph against fp32). With --texts (needs
--model) it also writes OUTDIR/texts_bN.json for each batch size N: the
texts tokenized with models/train/fs_tokenizer.py and cut into batches of N,
as peer_torch.py does (the peer pads each batch to its longest item).

The int8 graph: every MatMul whose B is a constant weight (the six dense
layers of each encoder layer; the attention products are activation x
activation and stay fp32, as quantize_dynamic's MatMulConstBOnly default
leaves them) becomes
  DynamicQuantizeLinear(A) -> A_q uint8, a_scale, a_zp   (per tensor)
  MatMulInteger(A_q, W_q int8, a_zp, 0) -> int32
  Cast(float) -> Mul(a_scale * w_scale) -> Add(bias)
with W quantized per tensor, symmetric (w_scale = max|W| / 127, zero point
0), which is quantize_dynamic's default (weight_type QInt8, per_channel
False, reduce_range False). ONNX Runtime's own graph optimizer then fuses
these into its MatMulIntegerToFloat / DynamicQuantizeMatMul kernels, as it
does for quantize_dynamic's output. Not quantized (as quantize_dynamic does
by default but which does not change speed here): the embedding Gather, and
the pooler and heads, which torch exports as Gemm (2-D input), an op the
dynamic quantizer does not handle either.

torch 1.13's TorchScript exporter writes the protobuf itself; the `onnx`
Python package is not needed. Opset 17 (LayerNormalization).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

import peer_torch  # noqa: E402


class QMatMul(torch.autograd.Function):
    """x @ W^T + b for export: forward simulates the quantized product (only
    shapes matter while tracing); symbolic emits quantize_dynamic's ops."""

    @staticmethod
    def forward(ctx, x, wq_t, w_scale, bias):
        return x @ (wq_t.float() * w_scale) + bias

    @staticmethod
    def symbolic(g, x, wq_t, w_scale, bias):
        xq, xs, xzp = g.op("DynamicQuantizeLinear", x, outputs=3)
        wzp = g.op("Constant", value_t=torch.tensor(0, dtype=torch.int8))
        y = g.op("MatMulInteger", xq, wq_t, xzp, wzp)
        y = g.op("Cast", y, to_i=1)  # TensorProto.FLOAT
        y = g.op("Mul", y, g.op("Mul", xs, w_scale))
        return g.op("Add", y, bias)


class QLinear(torch.nn.Module):
    def __init__(self, lin):
        super().__init__()
        w = lin.weight.detach()
        scale = float(w.abs().max()) / 127.0
        if scale == 0.0:
            scale = 1.0
        self.register_buffer("wq_t", torch.clamp(torch.round(w / scale), -127, 127)
                             .to(torch.int8).t().contiguous())  # (in, out)
        self.register_buffer("w_scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("bias", lin.bias.detach().clone())

    def forward(self, x):
        return QMatMul.apply(x, self.wq_t, self.w_scale, self.bias)


def quantize(model):
    for m in model.layers:
        for name in ("q", "k", "v", "ao", "i", "o"):
            setattr(m, name, QLinear(getattr(m, name)))
    return model


def export(model, path, ids, mask):
    torch.onnx.export(model, (ids, mask), path, input_names=["ids", "mask"],
                      output_names=["topic", "sentiment"],
                      dynamic_axes={"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"},
                                    "topic": {0: "batch"}, "sentiment": {0: "batch"}},
                      opset_version=17, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--model")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=12000)
    ap.add_argument("--max-pos", type=int, default=512)
    ap.add_argument("--texts")
    ap.add_argument("--batch", default="32")
    ap.add_argument("--limit", type=int, default=1024)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    if a.model:
        model, c = peer_torch.from_dir(a.model)
        V = c["vocab_size"]
    else:
        model = peer_torch.Bert(a.layers, a.hidden, a.heads, a.intermediate, a.vocab, a.max_pos)
        V = a.vocab
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    check = []
    with torch.inference_mode():
        for B, T in ((2, 16), (3, 40)):
            ids = torch.randint(5, V, (B, T))
            ids[:, 0] = 2
            mask = torch.ones(B, T)
            mask[1, T // 2:] = 0  # one padded row: the mask must matter
            topic, sent = model(ids, mask)
            check.append({"ids": ids.tolist(), "mask": mask.tolist(), "topic": topic.tolist(),
                          "sentiment": sent.tolist()})
    ids = torch.tensor(check[0]["ids"])
    mask = torch.tensor(check[0]["mask"])
    with torch.no_grad():
        export(model, os.path.join(a.out, "fp32.onnx.tmp"), ids, mask)
        os.replace(os.path.join(a.out, "fp32.onnx.tmp"), os.path.join(a.out, "fp32.onnx"))
        export(quantize(model), os.path.join(a.out, "int8.onnx.tmp"), ids, mask)
        os.replace(os.path.join(a.out, "int8.onnx.tmp"), os.path.join(a.out, "int8.onnx"))
    json.dump(check, open(os.path.join(a.out, "check.json"), "w"))
    if a.texts:
        enc = peer_torch.encode_texts(a.model, c, a.texts, a.limit)
        for B in [int(x) for x in a.batch.split(",")]:
            batches = [enc[s:s + B] for s in range(0, len(enc), B)]
            json.dump({"batch": B, "batches": batches},
                      open(os.path.join(a.out, "texts_b%d.json" % B), "w"))
    print("ort_export: %s: fp32.onnx %.1f MB, int8.onnx %.1f MB" %
          (a.out, os.path.getsize(os.path.join(a.out, "fp32.onnx")) / 1e6,
           os.path.getsize(os.path.join(a.out, "int8.onnx")) / 1e6), file=sys.stderr)


if __name__ == "__main__":
    main()
