#!/usr/bin/env python3
"""Decode throughput of the official code's frame path: cv2.VideoCapture + BGR→RGB, every
frame of VIDEO, best of --repeat passes. Baseline for `marlin bench decode`.

    pip install opencv-python-headless==4.12.0.88 numpy
    python3 tools/opencv_decode_bench.py VIDEO [--repeat 3]

Last line: `frames/s=<x>`.
"""
import argparse
import time

import cv2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    best, frames = float("inf"), 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        cap = cv2.VideoCapture(args.video)
        frames = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            frames += 1
        cap.release()
        best = min(best, time.perf_counter() - t0)
    print(f"video={args.video} frames={frames} opencv={cv2.__version__} threads={cv2.getNumThreads()} best_seconds={best:.3f}")
    print(f"frames/s={frames / best:.1f}")


if __name__ == "__main__":
    main()
