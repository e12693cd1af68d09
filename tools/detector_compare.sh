#!/usr/bin/env bash
# Face detector latency, marlin-rs against the official FaceX-Zoo handler (PyTorch), interleaved.
# The numbers in docs/BENCHMARKS.md come from this script.
#
#   tools/detector_compare.sh FACE_SDK_DIR [ROUNDS]     (default 3)
#
# FACE_SDK_DIR: FaceX-Zoo's face_sdk folder with face_detection_1.0 in models/ (see
# tools/official_detector_bench.py); $PY (default /tmp/venv-official/bin/python) needs torch
# and opencv-python-headless. Needs `cargo build --release -p marlin-cli`. marlin-rs runs twice:
# the native port (cpu) and the exported graph on ONNX Runtime's CPU provider (onnx-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
sdk=$1
rounds=${2:-3}
py=${PY:-/tmp/venv-official/bin/python}
det=../shared/models/facexzoo_retinaface/face_detection_retina.pkl
ort=$(tools/onnxruntime.sh)
for r in $(seq 1 "$rounds"); do
    for v in ../shared/media/marlin/video02.mp4 ../shared/media/registry/single_face.mp4; do
        echo "round=$r official $("$py" tools/official_detector_bench.py "$sdk" "$v" 2>/dev/null | tail -n 2 | tr '\n' ' ')"
        for b in cpu onnx-cpu; do
            echo "round=$r marlin-rs $(target/release/marlin bench detect "$v" --detector "$det" --detector-threads 2 \
                --detector-backend "$b" --onnxruntime "$ort" | tr '\n' ' ')"
        done
    done
done
