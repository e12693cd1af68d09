#!/usr/bin/env bash
# Installs the system packages marlin-rs builds and tests with (Debian 12 / Ubuntu 22.04+):
# a C compiler, GStreamer 1.22 with its decoders, FFmpeg's libswscale (the exact colour path),
# libjpeg-turbo's TurboJPEG (images as cv2.imread reads them),
# and for the tests gst-launch-1.0 (test videos), ffmpeg (an independent colour reference; H.264
# copies of test videos), chromium (opens the screening report headless), Slurm 22.05 with
# MUNGE (tools/slurm_test.sh runs docs/slurm/featurize.sbatch on a one-node cluster of its own),
# python3-venv (the Python module's tests, tools/python_test.sh, and tools/kubernetes_test.sh's
# schema checker), GNU time and procps (tools/soak.sh); then ONNX Runtime's CPU library from PyPI into
# target/ (tools/onnxruntime.sh: the onnx-cpu backend and its tests).
# Installs only what is missing; uses sudo when not root. .ci/run calls it.
set -euo pipefail
packages=(build-essential pkg-config
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
    gstreamer1.0-libav gstreamer1.0-tools libswscale-dev libturbojpeg0-dev ffmpeg chromium
    python3-pip python3-venv time procps
    slurmctld slurmd slurm-client munge)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
"$(dirname "$0")/onnxruntime.sh" >/dev/null
