#!/usr/bin/env python3
"""Wall time of the official `Marlin.extract_video(path, crop_face=True)` (marlin-pytorch
0.3.4, CPU, vit_small with random weights: speed does not depend on the values) on each video,
as a user featurising a folder with the official code runs it. Baseline for
`tools/featurize_compare.sh`.

    python3 tools/official_featurize_bench.py FACE_SDK_DIR VIDEO [VIDEO ...] [--threads 2]

FACE_SDK_DIR: FaceX-Zoo's face_sdk folder (see tools/official_detector_bench.py). `--weights
X.safetensors` loads encoder weights (default: random init); `--save DIR` writes each video's
features to DIR/<video>.npy (tools/python_compare.py compares them). Needs torch,
marlin-pytorch, opencv-python-headless, av, ffmpeg-python and ffprobe. Last line:
`total_s=<x>`.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("face_sdk")
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", help="safetensors with encoder.* keys (default: random init)")
    ap.add_argument("--save", help="folder for each video's features (<video>.npy)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    face_sdk = os.path.abspath(args.face_sdk)
    videos = [os.path.abspath(v) for v in args.videos]

    # FaceX-Zoo's detector is a whole pickled module, which torch >= 2.6 refuses by default
    load = torch.load
    torch.load = lambda f, *a, **k: load(f, *a, **{"weights_only": False, "map_location": "cpu", **k})

    import av
    import marlin_pytorch.model.marlin as marlin_module
    from marlin_pytorch import Marlin
    from marlin_pytorch.config import resolve_config

    def read_video_pyav(path, channel_first=True):
        """torchvision.io.read_video as marlin-pytorch 0.3.4 used it (gone from torchvision)."""
        with av.open(path) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        video = torch.from_numpy(np.stack(frames))
        return video.permute(0, 3, 1, 2) if channel_first else video

    marlin_module.read_video = read_video_pyav
    cfg = resolve_config("marlin_vit_small_ytf")
    model = Marlin(cfg.img_size, cfg.patch_size, cfg.n_frames, cfg.encoder_embed_dim, cfg.encoder_depth,
                   cfg.encoder_num_heads, cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads,
                   cfg.mlp_ratio, cfg.qkv_bias, cfg.qk_scale, cfg.drop_rate, cfg.attn_drop_rate, cfg.norm_layer,
                   cfg.init_values, cfg.tubelet_size, as_feature_extractor=True)
    if args.weights:
        from safetensors.torch import load_file
        model.load_state_dict({k: v.float() for k, v in load_file(args.weights).items()})
    save = os.path.abspath(args.save) if args.save else None
    # extract_video installs FaceX-Zoo at ./.marlin/FaceXZoo: point it at the given face_sdk
    work = tempfile.mkdtemp()
    os.makedirs(os.path.join(work, ".marlin"))
    os.symlink(face_sdk, os.path.join(work, ".marlin", "FaceXZoo"))
    os.chdir(work)
    total = 0.0
    for v in videos:
        t0 = time.perf_counter()
        feats = model.extract_video(v, crop_face=True, detector_device="cpu")
        dt = time.perf_counter() - t0
        total += dt
        print(f"video={os.path.basename(v)} clips={feats.shape[0]} s={dt:.2f}")
        if save:
            np.save(os.path.join(save, os.path.splitext(os.path.basename(v))[0] + ".npy"), feats.numpy())
    print(f"torch={torch.__version__} threads={args.threads}")
    print(f"total_s={total:.2f}")


if __name__ == "__main__":
    main()
