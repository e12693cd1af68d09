#!/usr/bin/env bash
# End to end: the 3 wild shared videos with face cropping and vit_small, `marlin featurize`
# against the official `extract_video(crop_face=True)` run on each, interleaved rounds.
# The numbers in docs/BENCHMARKS.md come from this script.
#
#   tools/featurize_compare.sh FACE_SDK_DIR [ROUNDS]     (default 2)
#
# FACE_SDK_DIR and $PY as for tools/official_featurize_bench.py. Needs
# `cargo build --release -p marlin-cli`. PRIO prefixes every measured command (e.g.
# PRIO="chrt -f 10" on a machine shared with other work: neither side is time-sliced with it).
set -euo pipefail
cd "$(dirname "$0")/.."
sdk=$1
rounds=${2:-2}
py=${PY:-/tmp/venv-official/bin/python}
model=../shared/oracle/models/marlin_vit_small_random.encoder.f16.safetensors
det=../shared/models/facexzoo_retinaface/face_detection_retina.pkl
videos=(../shared/media/marlin/video01.mp4 ../shared/media/marlin/video02.mp4 ../shared/media/marlin/video03.mp4)
ort=$(tools/onnxruntime.sh)
read -r -a prio <<< "${PRIO:-}"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(date -u)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for r in $(seq 1 "$rounds"); do
    echo "round=$r official $("${prio[@]}" "$py" tools/official_featurize_bench.py "$sdk" "${videos[@]}" 2>/dev/null | tail -n 1)"
    # the presets, the default preset with the detector on ONNX Runtime's CPU provider, then
    # presets with the int8 encoder (PRESET:DETECTOR_BACKEND:PRECISION)
    for run in featurize_vit_small featurize_compat featurize_fast featurize_vit_small:onnx-cpu \
        featurize_vit_small:cpu:int8 featurize_fast:cpu:int8; do
        IFS=: read -r preset detector_backend precision <<< "$run"
        detector_backend=${detector_backend:-cpu}
        rm -rf "$work/out"
        "${prio[@]}" /usr/bin/time -f "%e %M" -o "$work/time" target/release/marlin featurize "${videos[@]}" \
            --settings "configs/$preset.yaml" --model "$model" --detector "$det" --detector-backend "$detector_backend" \
            ${precision:+--precision "$precision"} --onnxruntime "$ort" --out "$work/out" --quiet 2>"$work/err"
        read -r wall rss < "$work/time"
        echo "round=$r marlin-rs config=$preset detector=$detector_backend precision=${precision:-preset} total_s=$wall peak_rss_mb=$((rss / 1024)) rows=$(($(wc -l < "$work/out/clips.csv") - 1))"
        grep '^stages:' "$work/err" | sed "s/^/round=$r   /"
    done
done
