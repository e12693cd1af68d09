#!/usr/bin/env python3
"""Latency of the official face detector (FaceX-Zoo's RetinaFace through its
FaceDetModelHandler, as marlin-pytorch's crop_face calls it) on one frame: median of --repeat
runs after a warm-up. Baseline for `marlin bench detect`.

    # FaceX-Zoo's face_sdk folder (github.com/ControlNet/FaceX-Zoo), torch, opencv-python-headless
    python3 tools/official_detector_bench.py FACE_SDK_DIR INPUT [--repeat 10] [--threads 2]

INPUT is an image or a video (its first frame). Last line: `ms/frame=<x>`.
"""
import argparse
import os
import sys
import time

import cv2
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("face_sdk")
    ap.add_argument("input")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.face_sdk)
    from core.model_handler.face_detection.FaceDetModelHandler import FaceDetModelHandler
    from core.model_loader.face_detection.FaceDetModelLoader import FaceDetModelLoader

    load = torch.load
    torch.load = lambda f, *a, **k: load(f, *a, **{"weights_only": False, "map_location": "cpu", **k})
    model, cfg = FaceDetModelLoader(os.path.join(args.face_sdk, "models"), "face_detection", "face_detection_1.0").load_model()
    handler = FaceDetModelHandler(model, "cpu", cfg)
    frame = cv2.imread(args.input)
    if frame is None:
        ok, frame = cv2.VideoCapture(args.input).read()
        assert ok, f"cannot read {args.input}"
    faces = len(handler.inference_on_image(frame))
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        handler.inference_on_image(frame)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"input={args.input} size={frame.shape[1]}x{frame.shape[0]} faces={faces} threads={args.threads} torch={torch.__version__} best_ms={times[0]:.1f} repeat={args.repeat}")
    print(f"ms/frame={times[len(times) // 2]:.1f}")


if __name__ == "__main__":
    main()
