#!/usr/bin/env bash
# Fetches NVIDIA's NVRTC (the run-time CUDA compiler, no GPU needed) from PyPI into
# target/nvrtc and prints the directory to put on LD_LIBRARY_PATH. Pinned: the kernels are
# compiled with the CUDA 12.8 API (cudarc feature cuda-12080).
set -euo pipefail
cd "$(dirname "$0")/.."
version=12.8.93
dir=target/nvrtc/$version
if [ ! -f "$dir/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ]; then
    mkdir -p "$dir"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        "nvidia-cuda-nvrtc-cu12==$version" -d "$dir" >&2
    python3 -c "import zipfile, glob, sys; zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]).extractall(sys.argv[1])" "$dir"
fi
echo "$PWD/$dir/nvidia/cuda_nvrtc/lib"
