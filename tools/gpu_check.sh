#!/usr/bin/env bash
# The GPU check kit: proves marlin-rs's GPU paths (the CUDA kernels against their CPU twins,
# the patches handed to ONNX Runtime as device memory, the ONNX Runtime CUDA / TensorRT
# providers, compute-sanitizer) on the first NVIDIA machine it meets, even a bare one: only the
# driver and NVRTC (CUDA 12 or 13: a toolkit, or pip's NVIDIA libraries in a Python) are needed.
#
# Here, on the build machine (cargo, GStreamer, ../shared beside the checkout):
#     tools/gpu_check.sh build
#   writes the folder to copy across, gpu-kit/ (git-ignored, ~28 MiB): marlin-gpu-check
#   (release, CUDA kernels and ONNX Runtime providers built in; links no GStreamer, FFmpeg,
#   TurboJPEG or ONNX Runtime), inputs/*.npy (frames of the shared videos, decoded by
#   `marlin decode`), BUILD (commit, date, the glibc it needs).
#
# On the GPU machine, from the repository root with gpu-kit/ beside it, one command:
#     tools/gpu_check.sh run
#   (with the device tool: command `tools/gpu_check.sh run`, carry ["gpu-kit"]; the report is
#   printed as well as written). It runs every check in under 5 minutes and writes
#   gpu-kit/report.txt. Exit status: 0 every check passed, 1 a check FAILED, 3 a check was
#   skipped. Arguments after `run` go to marlin-gpu-check: --allow-skips on a machine without a
#   GPU, --lib-dir DIR, --python PY, --onnxruntime PATH (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
kit=gpu-kit

build() {
    if [ ! -f ../shared/media/README.md ]; then
        echo "error: ../shared/media is missing beside the checkout: the kit's frames come from its videos" >&2
        exit 1
    fi
    cargo build --release --locked -p marlin-gpu-check --features providers
    cargo build --locked -p marlin-cli
    local tmp=$kit.part
    rm -rf "$tmp"
    mkdir -p "$tmp/inputs"
    cp target/release/marlin-gpu-check "$tmp/"
    strip "$tmp/marlin-gpu-check"
    if ldd "$tmp/marlin-gpu-check" | grep -E 'gst|glib|swscale|avutil|avcodec|turbojpeg|onnxruntime'; then
        echo "error: marlin-gpu-check links a library the GPU machine may lack (above)" >&2
        exit 1
    fi
    # a 720p video, an odd width, a small one and a pre-cropped face
    for spec in marlin/video02.mp4:4 marlin/video03.mp4:16 marlin/video01.mp4:8 marlin/cropped01.mp4:16; do
        local video=${spec%:*}
        target/debug/marlin decode "../shared/media/$video" --frames "${spec#*:}" --decoder software \
            -o "$tmp/inputs/$(basename "$video" .mp4).npy"
    done
    local glibc
    glibc=$(objdump -T "$tmp/marlin-gpu-check" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    {
        echo "built $(date -u '+%Y-%m-%d %H:%M UTC') from commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
        echo "needs $glibc or newer"
    } >"$tmp/BUILD"
    local mib
    mib=$(du -sm "$tmp" | cut -f1)
    if [ "$mib" -gt 48 ]; then
        echo "error: the kit is $mib MiB; it must stay well under the 64 MiB that can be carried" >&2
        exit 1
    fi
    rm -rf "$kit"
    mv "$tmp" "$kit"
    echo "$kit/: $mib MiB ($(ls "$kit/inputs" | tr '\n' ' ')); $(cat "$kit/BUILD" | tr '\n' ';')"
    echo "on the GPU machine, from the repository root with $kit/ copied beside it: tools/gpu_check.sh run"
}

run() {
    if [ ! -x "$kit/marlin-gpu-check" ]; then
        echo "error: $kit/marlin-gpu-check is missing: run \`tools/gpu_check.sh build\` on the build machine and copy $kit/ here" >&2
        exit 2
    fi
    local args=(--inputs "$kit/inputs" --sanitizer)
    local py
    for py in "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" "$(command -v python3 || true)" "$(command -v python || true)"; do
        if [ -n "$py" ] && [ -x "$py" ]; then
            args+=(--python "$py")
        fi
    done
    # a last resort for layouts the search does not know: folders holding NVRTC or the driver
    local dir
    while read -r dir; do
        [ -n "$dir" ] && args+=(--lib-dir "$dir")
    done < <(timeout 15 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o \
        \( -name 'libnvrtc.so.1[23]' -o -name libcuda.so.1 \) -not -path '*/stubs/*' -printf '%h\n' 2>/dev/null |
        sort -u || true)
    local status=0
    set +e +o pipefail
    {
        echo "# marlin-rs GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n)"
        sed 's/^/# kit /' "$kit/BUILD"
        echo "# $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
        echo "# $kit/marlin-gpu-check ${args[*]} $*"
        timeout 270 "$kit/marlin-gpu-check" "${args[@]}" "$@" || status=$?
        echo "# exit status $status"
        exit "$status"
    } 2>&1 | tee "$kit/report.txt"
    status=${PIPESTATUS[0]}
    set -e -o pipefail
    echo "report: $kit/report.txt" >&2
    exit "$status"
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    *)
        echo "usage: tools/gpu_check.sh build | run [marlin-gpu-check arguments]" >&2
        exit 2
        ;;
esac
