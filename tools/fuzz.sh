#!/usr/bin/env bash
# Mutation fuzzing of every parser of user files (tools/fuzz: marlin-fuzz), seeded with the
# oracle's files: CASES cases per target (default 1,000,000), reproducible from SEED (default 1).
# Prints a table (cases, parsed, refused, panics, allocations over the cap, slowest case) and
# keeps each failing input in target/fuzz/<target>-<case>.bin; exits non-zero on any panic,
# hang or allocation above the cap. CI runs the first 10,000 cases of seed 1 (.ci/run).
#
#   tools/fuzz.sh [CASES [SEED [TARGET...]]]
#   target/debug/marlin-fuzz --target NAME --replay CASE --seed SEED   # one case's input, again
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000000}
seed=${2:-1}
shift $(($# < 2 ? $# : 2))
targets=()
for t in "$@"; do
    targets+=(--target "$t")
done
cargo build -p marlin-fuzz --locked
exec target/debug/marlin-fuzz --cases "$cases" --seed "$seed" --out target/fuzz "${targets[@]}"
