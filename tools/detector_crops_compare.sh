#!/usr/bin/env bash
# The compat face crops of two builds of the native detector, on the three wild shared videos:
# `extract --crop-face --compat` (tiny oracle model) with each binary, then per video the rows,
# how many crop squares (cx, cy, half: the official `int()` of the box geometry) differ, the
# largest change of a box coordinate or score, and whether the features are identical.
#
#   tools/detector_crops_compare.sh BASELINE_MARLIN [CANDIDATE_MARLIN]
#
# CANDIDATE_MARLIN defaults to target/release/marlin (`cargo build --release -p marlin-cli`);
# BASELINE_MARLIN is another build (e.g. main's, copied aside before building this branch).
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1
cand=${2:-target/release/marlin}
oracle=../shared/oracle
det=../shared/models/facexzoo_retinaface/face_detection_retina.pkl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in video01 video02 video03; do
    for side in base cand; do
        bin=$base
        [ "$side" = cand ] && bin=$cand
        "$bin" extract ../shared/media/marlin/$v.mp4 --crop-face --compat --detector "$det" \
            --model $oracle/models/marlin_tiny.encoder.pt --config $oracle/marlin_tiny.yaml \
            --faces-csv "$tmp/$v.$side.csv" -o "$tmp/$v.$side.npy" 2>/dev/null
    done
    python3 - "$tmp/$v.base.csv" "$tmp/$v.cand.csv" "$v" <<'EOF'
import csv, sys
a, b = (list(csv.reader(open(p)))[1:] for p in sys.argv[1:3])
assert len(a) == len(b), "different crop counts"
changed = sum(r[7:10] != s[7:10] for r, s in zip(a, b))
moved = max((abs(float(x) - float(y)) for r, s in zip(a, b) for x, y in zip(r[2:7], s[2:7])), default=0.0)
print(f"{sys.argv[3]}: crops={len(a)} crop_squares_changed={changed} max_box_or_score_change={moved:.2e}", end=" ")
EOF
    if cmp -s "$tmp/$v.base.npy" "$tmp/$v.cand.npy"; then echo "features=identical"; else echo "features=differ"; fi
done
