#!/usr/bin/env python3
"""The official marlin-pytorch and `marlin_rs` side by side on the same videos, as a user runs
them: `Marlin.extract_video(path, crop_face=True)` on each video, official (in its own venv, with
torch) then `marlin_rs` (in this interpreter) then the `marlin extract --crop-face --compat`
command, interleaved round by round. Prints per video the max-abs and mean-abs difference of
the features (official vs marlin_rs) and the seconds of each, then the speed ratios. Not in CI;
the numbers in docs/BENCHMARKS.md come from it.

    python tools/python_compare.py FACE_SDK_DIR [--rounds 2] [--official-python PY] [VIDEO ...]

Run with a Python that has marlin_rs installed (`pip install ./pipeline/python`); PY (default
/tmp/venv-official/bin/python) has marlin-pytorch 0.3.4 and torch (tools/official_bench.py);
FACE_SDK_DIR is FaceX-Zoo's face_sdk (tools/official_featurize_bench.py). Both run the oracle's
vit_small weights on 2 threads; times exclude model loading for both (the command's include its
process start and loading). Needs `cargo build --release -p marlin-cli`.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

import marlin_rs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("face_sdk")
    ap.add_argument("videos", nargs="*", default=[os.path.join(SHARED, "media", "marlin", f"video0{i}.mp4") for i in (1, 2, 3)])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--official-python", default="/tmp/venv-official/bin/python")
    ap.add_argument("--model", default=os.path.join(SHARED, "oracle", "models", "marlin_vit_small_random.encoder.f16.safetensors"))
    ap.add_argument("--detector", default=os.path.join(SHARED, "models", "facexzoo_retinaface", "face_detection_retina.pkl"))
    ap.add_argument("--cli", default=os.path.join(REPO, "target", "release", "marlin"))
    a = ap.parse_args()
    videos = [os.path.abspath(v) for v in a.videos]
    names = [os.path.splitext(os.path.basename(v))[0] for v in videos]
    model = marlin_rs.Marlin.load(a.model, threads=2)
    print(f"marlin_rs {marlin_rs.__version__}: {model}")
    work = tempfile.mkdtemp()
    totals = {"official": [], "marlin_rs": [], "cli": []}
    for r in range(1, a.rounds + 1):
        official = subprocess.run(
            [a.official_python, os.path.join(REPO, "tools", "official_featurize_bench.py"), a.face_sdk, *videos,
             "--threads", "2", "--weights", a.model, "--save", work],
            check=True, capture_output=True, text=True).stdout
        official_s = {m[0]: float(m[1]) for m in re.findall(r"video=(\S+)\.mp4 clips=\d+ s=([\d.]+)", official)}
        ours_s, cli_s = {}, {}
        for name, video in zip(names, videos):
            t = time.perf_counter()
            ours = model.extract_video(video, crop_face=True, detector=a.detector)
            ours_s[name] = time.perf_counter() - t
            out = os.path.join(work, f"{name}.cli.npy")
            t = time.perf_counter()
            subprocess.run([a.cli, "extract", "--crop-face", "--compat", "--detector", a.detector, "--model", a.model,
                            "--threads", "2", "--detector-threads", "2", video, "-o", out], check=True, capture_output=True)
            cli_s[name] = time.perf_counter() - t
            theirs = np.load(os.path.join(work, f"{name}.npy"))
            assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
            diff = np.abs(ours - theirs)
            same_cli = np.array_equal(np.load(out), ours)
            print(f"round={r} video={name} clips={len(ours)} max_abs={diff.max():.2e} mean_abs={diff.mean():.2e} "
                  f"official_s={official_s[name]:.2f} marlin_rs_s={ours_s[name]:.2f} cli_s={cli_s[name]:.2f} "
                  f"cli_same_features={same_cli}")
        for key, d in [("official", official_s), ("marlin_rs", ours_s), ("cli", cli_s)]:
            totals[key].append(sum(d.values()))
        o, p, c = totals["official"][-1], totals["marlin_rs"][-1], totals["cli"][-1]
        print(f"round={r} total official_s={o:.2f} marlin_rs_s={p:.2f} cli_s={c:.2f} "
              f"speedup_marlin_rs={o / p:.2f}x speedup_cli={o / c:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
