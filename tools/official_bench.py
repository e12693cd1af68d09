#!/usr/bin/env python3
"""Times the official MARLIN code (marlin-pytorch) on one clip at a time: the baseline that
`marlin bench encode` is compared with in docs/BENCHMARKS.md. Not part of CI.

Setup (once, in a venv; torch from PyPI):
    python3 -m venv /tmp/venv-official
    /tmp/venv-official/bin/pip install torch einops numpy opencv-python-headless ffmpeg-python \
        safetensors tqdm pillow pyyaml
    /tmp/venv-official/bin/pip install --no-deps marlin-pytorch==0.3.4 torchvision

Usage:
    /tmp/venv-official/bin/python tools/official_bench.py --arch vit_small --clips 4 --threads 2
    [--weights ../shared/oracle/models/marlin_vit_small_random.encoder.f16.safetensors]

Prints `s/clip=<x> clips/s=<y>` last, like `marlin bench encode`.

`--save-encoder X.encoder.pt` also writes the model's encoder in the released checkpoint layout
(seeded random weights unless --weights), and `--features CLIP.npy OUT.npy` the official pooled
features of a (16,224,224,3) uint8 clip: a vit_base / vit_large check of `marlin encode` and
of its memory use on a real-size checkpoint.
"""
import argparse
import time

import torch
from marlin_pytorch import Marlin
from marlin_pytorch.config import resolve_config


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="vit_small", choices=["vit_small", "vit_base", "vit_large"])
    p.add_argument("--weights", help="safetensors with encoder.* keys (default: random init)")
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-encoder", help="write the encoder as a released-layout .encoder.pt")
    p.add_argument("--features", nargs=2, metavar=("CLIP", "OUT"), help="official pooled features of a uint8 clip")
    a = p.parse_args()
    torch.manual_seed(3)
    torch.set_num_threads(a.threads)
    cfg = resolve_config(f"marlin_{a.arch}_ytf")
    model = Marlin(cfg.img_size, cfg.patch_size, cfg.n_frames, cfg.encoder_embed_dim, cfg.encoder_depth,
                   cfg.encoder_num_heads, cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads,
                   cfg.mlp_ratio, cfg.qkv_bias, cfg.qk_scale, cfg.drop_rate, cfg.attn_drop_rate, cfg.norm_layer,
                   cfg.init_values, cfg.tubelet_size, as_feature_extractor=True)
    if a.weights:
        from safetensors.torch import load_file
        state = {k: v.float() for k, v in load_file(a.weights).items()}
        model.load_state_dict(state, strict=False)
    model.eval()
    if a.save_encoder:
        torch.save({k: v.contiguous() for k, v in model.state_dict().items() if k.startswith("encoder.")},
                   a.save_encoder)
    if a.features:
        import numpy as np
        clip = torch.from_numpy(np.load(a.features[0])).permute(3, 0, 1, 2).unsqueeze(0).float() / 255
        np.save(a.features[1], model.extract_features(clip, keep_seq=False)[0].numpy())
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, 3, 16, 224, 224), generator=g).float() / 255
    model.extract_features(x, keep_seq=False)  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.clips):
        model.extract_features(x, keep_seq=False)
    secs = time.perf_counter() - t0
    print(f"official marlin-pytorch torch={torch.__version__} arch={a.arch} threads={torch.get_num_threads()} "
          f"clips={a.clips} seconds={secs:.3f}")
    print(f"s/clip={secs / a.clips:.3f} clips/s={a.clips / secs:.3f}")


if __name__ == "__main__":
    main()
