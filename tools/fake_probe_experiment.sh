#!/usr/bin/env bash
# A labelled deepfake-screening set made from real face videos, and a probe's held-out AUC on it.
#
#   tools/fake_probe_experiment.sh OUT_DIR MODEL [MODEL_CONFIG]
#
# Sources: the four 224×224 face-crop videos of ../shared/media/marlin. Per source, as `real`:
# the video re-encoded through the same compositor pipeline with its face region unchanged, and
# its mirror image; as `fake`: the same two with the face region (112×112 around the face)
# re-coloured as a badly colour-matched face swap is (two strengths). Then `marlin featurize`
# and `marlin probe train --group-column source --folds 4`: every source held out in turn, so a
# probe never sees any version of the video it scores. The printed AUC is the held-out one.
# Needs gst-launch-1.0 (tools/setup.sh) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
model=$2
config=${3:-}
marlin=target/release/marlin
mkdir -p "$out/videos"
out=$(cd "$out" && pwd)
list=$out/videos.csv
echo "path,video_id,label,source" > "$list"
for s in cropped01 cropped02 cropped04 cropped05; do
    src=../shared/media/marlin/$s.mp4
    for view in orig mirror; do
        pre=identity
        [ "$view" = mirror ] && pre="videoflip method=horizontal-flip"
        for kind in real swap1 swap2; do
            case $kind in
                real) region=identity ;;
                swap1) region="videobalance saturation=1.5 hue=0.04" ;;
                swap2) region="videobalance saturation=1.25 hue=0.02" ;;
            esac
            name=${s}_${view}_$kind
            label=fake
            [ "$kind" = real ] && label=real
            # shellcheck disable=SC2086 # the element descriptions are word lists
            gst-launch-1.0 -q compositor name=c sink_1::xpos=56 sink_1::ypos=48 ! video/x-raw,format=I420 ! x264enc \
                ! mp4mux ! filesink location="$out/videos/$name.mp4" \
                filesrc location="$src" ! decodebin ! videoconvert ! $pre ! videoconvert ! video/x-raw,format=I420 ! tee name=t \
                t. ! queue ! c.sink_0 \
                t. ! queue ! videocrop top=48 bottom=64 left=56 right=56 ! videoconvert ! $region ! videoconvert \
                ! video/x-raw,format=I420 ! c.sink_1
            echo "$out/videos/$name.mp4,$name,$label,$s" >> "$list"
        done
    done
done
rm -rf "$out/features"
$marlin featurize "$list" --model "$model" ${config:+--model-config "$config"} --out "$out/features" --quiet
for c in 1.0 0.01; do
    echo "C=$c: $($marlin probe train --features "$out/features" --group-column source --folds 4 --c "$c" -o "$out/probe.json" 2>&1 | head -2 | tr '\n' ' ')"
done
