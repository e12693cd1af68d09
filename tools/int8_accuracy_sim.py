#!/usr/bin/env python3
"""What each int8 choice costs in accuracy, before writing kernels: the vit_small encoder (the
oracle's random weights) written out in torch with fake quantisation (quantise → dequantise) at
chosen products, against the official f32 features of the oracle clips. The design of
`--precision int8` (pipeline/model/src/matmul/quant.rs) follows from its table; the shipped
kernels are tested by `cargo test` (oracle_encoder, faces, featurize).

    /tmp/venv-official/bin/python tools/int8_accuracy_sim.py [CONFIG ...]

CONFIGs (default: all): f32, lin (the linear layers: weights s8 per output channel, activations
u8 per token with a zero point), lin_sym (the same with symmetric s8 activations), lin_weights /
lin_acts (only the weights / only the activations of the linear layers quantised), lin+qk
(+ queries per token and head, keys per token), lin+qk+pv (+ softmax probabilities as 255ths,
values per channel), all (+ the patch embedding). Prints the pooled feature's cosine and
max-abs against the oracle, and the worst token's cosine, per clip.
"""
import sys

import numpy as np
import torch
from safetensors.torch import load_file

ORACLE = "../shared/oracle"
D, HEADS, DEPTH = 384, 6, 12
CONFIGS = {
    "f32": {},
    "lin": {"lin": "asym"},
    "lin_sym": {"lin": "sym"},
    "lin_weights": {"lin": "weights"},
    "lin_acts": {"lin": "acts"},
    "lin+qk": {"lin": "asym", "qk": True},
    "lin+qk+pv": {"lin": "asym", "qk": True, "pv": True},
    "all": {"lin": "asym", "qk": True, "pv": True, "embed": True},
}


def q_rows(x, mode="asym"):
    """Per-row activations: asymmetric u8 over [min(x, 0), max(x, 0)], or symmetric s8."""
    if mode == "weights":
        return x
    if mode == "sym":
        s = (x.abs().amax(-1, keepdim=True) / 127).clamp(min=1e-12)
        return torch.clamp(torch.round(x / s), -127, 127) * s
    lo, hi = x.amin(-1, keepdim=True).clamp(max=0), x.amax(-1, keepdim=True).clamp(min=0)
    s = ((hi - lo) / 255).clamp(min=1e-12)
    z = torch.round(-lo / s)
    return (torch.clamp(torch.round(x / s) + z, 0, 255) - z) * s


def q_cols(w, dim):
    """Symmetric s8 with one scale per slice along `dim` reduced (per output channel)."""
    s = (w.abs().amax(dim, keepdim=True) / 127).clamp(min=1e-12)
    return torch.clamp(torch.round(w / s), -127, 127) * s


def forward(w, clip, cfg):
    def linear(x, weight, bias, quantise):
        if quantise:
            x, weight = q_rows(x, quantise), weight if quantise == "acts" else q_cols(weight, 1)
        return x @ weight.T + bias

    def norm(x, p):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), w[p + ".weight"], w[p + ".bias"], 1e-5)

    x = torch.from_numpy(clip).float().permute(3, 0, 1, 2) / 255
    patches = x.reshape(3, 8, 2, 14, 16, 14, 16).permute(1, 3, 5, 0, 2, 4, 6).reshape(1568, 1536)
    pw = w["encoder.patch_embedding.projection.weight"].reshape(D, -1)
    x = linear(patches, pw, w["encoder.patch_embedding.projection.bias"], cfg.get("embed") and "asym")
    x = x + w["encoder.pos_embedding.emb"][0]
    for i in range(DEPTH):
        p = f"encoder.blocks.{i}."
        qkv_bias = torch.cat([w[p + "attn.q_bias"], torch.zeros(D), w[p + "attn.v_bias"]])
        qkv = linear(norm(x, p + "norm1"), w[p + "attn.qkv.weight"], qkv_bias, cfg.get("lin"))
        q, k, v = qkv.reshape(1568, 3, HEADS, 64).permute(1, 2, 0, 3)
        q = q * 64**-0.5
        if cfg.get("qk"):
            q, k = q_rows(q), q_cols(k, 2)
        scores = q @ k.transpose(1, 2)
        e = torch.exp(scores - scores.amax(-1, keepdim=True))
        inv = 1 / e.sum(-1, keepdim=True)
        if cfg.get("pv"):
            e, v = torch.round(e * 255) / 255, q_cols(v, 1)
        o = ((e @ v) * inv).permute(1, 0, 2).reshape(1568, D)
        x = x + linear(o, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"], cfg.get("lin"))
        h = linear(norm(x, p + "norm2"), w[p + "mlp.layers.0.linear.weight"], w[p + "mlp.layers.0.linear.bias"],
                   cfg.get("lin"))
        h = torch.nn.functional.gelu(h)
        x = x + linear(h, w[p + "mlp.layers.1.linear.weight"], w[p + "mlp.layers.1.linear.bias"], cfg.get("lin"))
    return norm(x.mean(0), "encoder.norm"), norm(x, "encoder.norm")


def main():
    names = sys.argv[1:] or list(CONFIGS)
    torch.set_num_threads(2)
    w = {k: v.float() for k, v in
         load_file(f"{ORACLE}/models/marlin_vit_small_random.encoder.f16.safetensors").items()}
    for clip in ["face", "noise"]:
        frames = np.load(f"{ORACLE}/clips/{clip}.u8.npy")
        want = torch.from_numpy(np.load(f"{ORACLE}/features/marlin_vit_small_random/{clip}.mean.npy"))
        want_seq = torch.from_numpy(np.load(f"{ORACLE}/features/marlin_vit_small_random/{clip}.seq.npy"))
        for name in names:
            with torch.no_grad():
                pooled, seq = forward(w, frames, CONFIGS[name])
            cos = float(torch.nn.functional.cosine_similarity(pooled, want, dim=0))
            worst = float(torch.nn.functional.cosine_similarity(seq, want_seq, dim=1).min())
            print(f"{clip} {name}: pooled cosine {cos:.6f} max-abs {float((pooled - want).abs().max()):.2e} "
                  f"worst token cosine {worst:.6f}", flush=True)


if __name__ == "__main__":
    main()
