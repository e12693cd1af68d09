#!/usr/bin/env bash
# Encoder speed, marlin-rs against the official marlin-pytorch, interleaved in one session so
# both see the same machine state. The numbers in docs/BENCHMARKS.md come from this script.
#
#   tools/bench_compare.sh [ROUNDS]        (default 3)
#
# Needs: `cargo build --release -p marlin-cli`; for the baseline, a venv with marlin-pytorch
# at $OFFICIAL_PY (default /tmp/venv-official/bin/python; see tools/official_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
py=${OFFICIAL_PY:-/tmp/venv-official/bin/python}
marlin=target/release/marlin
small=../shared/oracle/models/marlin_vit_small_random.encoder.f16.safetensors
threads=2
[ -x "$marlin" ] || { echo "build first: cargo build --release -p marlin-cli" >&2; exit 1; }
have_official=0
if "$py" -c "import marlin_pytorch" 2>/dev/null; then have_official=1; else echo "no marlin-pytorch at $py: baseline skipped" >&2; fi

last() { tail -n 1; }
for r in $(seq 1 "$rounds"); do
    if [ $have_official = 1 ]; then
        echo "round=$r official vit_small f32 $("$py" tools/official_bench.py --arch vit_small --weights "$small" --clips 4 --threads $threads 2>/dev/null | last)"
    fi
    echo "round=$r marlin-rs vit_small f32 $($marlin bench encode --model "$small" --clips 4 --threads $threads | last)"
    echo "round=$r marlin-rs vit_small bf16 $($marlin bench encode --model "$small" --clips 4 --threads $threads --precision bf16 | last)"
    echo "round=$r marlin-rs vit_small int8 $($marlin bench encode --model "$small" --clips 4 --threads $threads --precision int8 | last)"
    echo "round=$r marlin-rs vit_small f32 batch=4 $($marlin bench encode --model "$small" --clips 8 --batch 4 --threads $threads | last)"
    if [ $have_official = 1 ]; then
        echo "round=$r official vit_base f32 $("$py" tools/official_bench.py --arch vit_base --clips 2 --threads $threads 2>/dev/null | last)"
    fi
    echo "round=$r marlin-rs vit_base f32 $($marlin bench encode --model random:vit_base --clips 2 --threads $threads | last)"
    echo "round=$r marlin-rs vit_base bf16 $($marlin bench encode --model random:vit_base --clips 2 --threads $threads --precision bf16 | last)"
    echo "round=$r marlin-rs vit_base int8 $($marlin bench encode --model random:vit_base --clips 2 --threads $threads --precision int8 | last)"
done
