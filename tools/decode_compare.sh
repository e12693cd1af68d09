#!/usr/bin/env bash
# Decode throughput, marlin-rs (exact colour) against OpenCV (the official frame path),
# interleaved in one session. The numbers in docs/BENCHMARKS.md come from this script.
#
#   tools/decode_compare.sh [VIDEO] [ROUNDS]   (default ../shared/media/marlin/video02.mp4, 3)
#
# Needs `cargo build --release -p marlin-cli` and, for the baseline, opencv-python-headless in
# $PY (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
video=${1:-../shared/media/marlin/video02.mp4}
rounds=${2:-3}
py=${PY:-python3}
marlin=target/release/marlin
[ -x "$marlin" ] || { echo "build first: cargo build --release -p marlin-cli" >&2; exit 1; }
for r in $(seq 1 "$rounds"); do
    echo "round=$r opencv $("$py" tools/opencv_decode_bench.py "$video" | tr '\n' ' ')"
    echo "round=$r marlin-rs exact $("$marlin" bench decode "$video" --colour exact --decoder software | tr '\n' ' ')"
    echo "round=$r marlin-rs videoconvert $("$marlin" bench decode "$video" --colour videoconvert --decoder software | tr '\n' ' ')"
done
