#!/usr/bin/env bash
# The native CPU engines against the same graphs on ONNX Runtime's CPU provider, interleaved in
# rounds (the machine's speed drifts): the face detector at 1280×720 and 640×360 (first frame of
# video02), then the vit_small encoder (random weights, one clip per forward). Needs a release
# build (cargo build --release -p marlin-cli) and ../shared.
# Usage: tools/backend_compare.sh [ROUNDS] [all|detector|encoder]
# PRIO: a command prefix for every run, e.g. PRIO="chrt -f 10" (real-time priority: on a machine
# shared with other work, the measured process is not preempted by it; needs root).
# BASELINE: another marlin binary (e.g. main's) whose native detector runs in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
what=${2:-all}
prio=${PRIO:-}
ort=$(tools/onnxruntime.sh)
marlin=target/release/marlin
video=../shared/media/marlin/video02.mp4
detector=../shared/models/facexzoo_retinaface/face_detection_retina.pkl
date -u
lscpu | grep 'Model name'
for r in $(seq 1 "$rounds"); do
    if [ "$what" != encoder ]; then
        if [ -n "${BASELINE:-}" ]; then
            echo "round $r detector baseline cpu: $($prio "$BASELINE" bench detect "$video" --detector "$detector" \
                --detector-threads 2 --repeat 10 --max-side 640 | tr '\n' ' ')"
        fi
        for b in cpu onnx-cpu; do
            echo "round $r detector $b: $($prio $marlin bench detect "$video" --detector "$detector" --detector-threads 2 \
                --detector-backend "$b" --onnxruntime "$ort" --repeat 10 --max-side 640 | tr '\n' ' ')"
        done
    fi
    if [ "$what" != detector ]; then
        for b in cpu onnx-cpu; do
            echo "round $r encoder $b: $($prio $marlin bench encode --model random:vit_small --threads 2 --backend "$b" \
                --onnxruntime "$ort" --clips 4 | tr '\n' ' ')"
        done
    fi
done
