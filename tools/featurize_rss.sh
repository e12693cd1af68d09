#!/usr/bin/env bash
# Peak RSS of `marlin featurize` over N videos (links to the shared cropped videos, face
# cropping on, the tiny oracle model): it must stay flat as N grows.
#
#   tools/featurize_rss.sh [N ...]      (default: 20 200)
#
# Needs `cargo build --release -p marlin-cli`.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(20 200)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
media=$(cd ../shared/media/marlin && pwd)
names=(cropped01 cropped02 cropped04 cropped05)
printf 'faces:\n  crop_face: true\n  detector: %s\n' "$(cd ../shared/models/facexzoo_retinaface && pwd)/face_detection_retina.pkl" > "$work/settings.yaml"
for n in "${counts[@]}"; do
    rm -rf "$work/in" "$work/out"
    mkdir -p "$work/in"
    for i in $(seq 1 "$n"); do
        ln -s "$media/${names[i % 4]}.mp4" "$work/in/v$i.mp4"
    done
    /usr/bin/time -f "%e %M" -o "$work/time" target/release/marlin featurize "$work/in" --settings "$work/settings.yaml" \
        --model ../shared/oracle/models/marlin_tiny.encoder.pt --model-config ../shared/oracle/marlin_tiny.yaml \
        --out "$work/out" --quiet 2>/dev/null
    read -r wall rss < "$work/time"
    echo "videos=$n rows=$(($(wc -l < "$work/out/clips.csv") - 1)) wall_s=$wall peak_rss_mb=$((rss / 1024))"
done
