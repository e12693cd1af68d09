#!/usr/bin/env bash
# Fetches ONNX Runtime's CPU library from the PyPI `onnxruntime` wheel into target/onnxruntime
# and prints the path of libonnxruntime.so (for --onnxruntime or ORT_DYLIB_PATH). Pinned to the
# version the `ort` crate's api-31 bindings are tested with (≥ 1.31 needed).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.32.0
dir=target/onnxruntime/$version
lib=$dir/onnxruntime/capi/libonnxruntime.so.$version
if [ ! -f "$lib" ]; then
    mkdir -p "$dir"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 "onnxruntime==$version" -d "$dir" >&2
    python3 -c "
import zipfile, glob, sys
z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0])
z.extractall(sys.argv[1], [n for n in z.namelist() if n.startswith('onnxruntime/capi/lib')])" "$dir"
fi
echo "$PWD/$lib"
