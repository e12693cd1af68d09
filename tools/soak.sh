#!/usr/bin/env bash
# Soak: `marlin featurize --crop-face` (tiny oracle model) over N videos made from the shared
# media (copies, re-muxes to mkv, re-encodes to webm, trimmed lengths, one broken file in 20),
# SIGKILLed 5 times at random moments, each kill followed by `--resume`; then a clean run into
# another folder, watched (finished videos, open file descriptors every 0.1 s; peak RSS), and a
# clean run of the first N/10 videos. Checks, each failing the script loudly:
#   - the resumed folder equals the clean one row for row, no video missing or doubled, exactly
#     the broken videos failed (tools/compare_featurize.py);
#   - peak RSS of the N-video run within 10% of the N/10-video run;
#   - open file descriptors once the last videos run within FD_SLACK (default 4) of the most
#     while the first ones ran;
#   - throughput (videos/s) of the last 10% of videos within 20% of the first 10%.
#
#   tools/soak.sh N           (.ci/run: N = 60; docs/BENCHMARKS.md: N = 1000)
#
# SOAK_SEED=S repeats a run's kill moments; SOAK_KEEP=1 keeps the work folder. Prints one
# `soak:` line per measure. Needs `cargo build --release -p marlin-cli`, ffmpeg, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
n=${1:?usage: tools/soak.sh N (videos, at least 20)}
[ "$n" -ge 20 ] || { echo "error: N must be at least 20" >&2; exit 1; }
marlin=$repo/target/release/marlin
[ -x "$marlin" ] || { echo "error: $marlin missing: cargo build --release -p marlin-cli" >&2; exit 1; }
shared=$(cd ../shared 2>/dev/null && pwd) || { echo "error: ../shared (the oracle) is missing beside the checkout" >&2; exit 1; }
media=$shared/media/marlin
for f in "$shared/oracle/models/marlin_tiny.encoder.pt" "$shared/oracle/marlin_tiny.yaml" \
    "$shared/models/facexzoo_retinaface/face_detection_retina.pkl" "$media/cropped01.mp4" "$media/video01.mp4"; do
    [ -f "$f" ] || { echo "error: $f is missing" >&2; exit 1; }
done
seed=${SOAK_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
fd_slack=${FD_SLACK:-4}
work=$(mktemp -d /tmp/marlin-soak.XXXXXX)
bg=""
fail() {
    echo "soak: FAILED (SOAK_SEED=$seed): $*" >&2
    exit 1
}
cleanup() {
    [ -n "$bg" ] && kill -9 "$bg" 2>/dev/null
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
echo "soak: N=$n SOAK_SEED=$seed $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) CPUs)"

# ---- the videos: a pool of variants, then N hard links cycling through it ----
pool=$work/pool
mkdir -p "$pool" "$work/in"
ff() { ffmpeg -nostdin -v error -y "$@"; }
for v in cropped01 cropped02 cropped04 cropped05; do cp "$media/$v.mp4" "$pool/$v.mp4"; done
ff -i "$media/cropped01.mp4" -c copy "$pool/cropped01_remux.mkv"
ff -i "$media/cropped02.mp4" -c copy "$pool/cropped02_remux.mkv"
ff -i "$media/cropped05.mp4" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k "$pool/cropped05_vp9.webm"
ff -i "$media/cropped04.mp4" -c:v libvpx -deadline realtime -b:v 500k "$pool/cropped04_vp8.webm"
ff -i "$media/cropped01.mp4" -t 1.5 -c copy "$pool/cropped01_trim.mp4"
ff -i "$media/cropped02.mp4" -t 3 -c:v libx264 -preset ultrafast "$pool/cropped02_trim_h264.mkv"
ff -i "$media/video01.mp4" -t 1.2 -c:v libx264 -preset ultrafast "$pool/video01_trim.mp4"
ff -i "$media/video03.mp4" -ss 2 -t 1 -c:v libx264 -preset ultrafast "$pool/video03_trim.mkv"
head -c 20000 "$media/video01.mp4" > "$pool/broken_truncated.mp4"
head -c 50000 /dev/urandom > "$pool/broken_noise.mkv"
: > "$pool/broken_empty.webm"
good=()
for f in "$pool"/*; do case $(basename "$f") in broken_*) ;; *) good+=("$f") ;; esac; done
broken=("$pool"/broken_*)
: > "$work/videos.txt"
: > "$work/failed.txt"
for i in $(seq 0 $((n - 1))); do
    if [ $((i % 20)) -eq 19 ]; then
        src=${broken[(i / 20) % ${#broken[@]}]}
    else
        src=${good[i % ${#good[@]}]}
    fi
    name=$(printf 'v%05d_%s' "$i" "$(basename "$src")")
    ln "$src" "$work/in/$name"
    echo "${name%.*}" >> "$work/videos.txt"
    case $name in *broken_*) echo "${name%.*}" >> "$work/failed.txt" ;; esac
done
[ "$n" -ge 100 ] && small=$((n / 10)) || small=10
mkdir -p "$work/in_small"
for f in $(ls "$work/in" | head -n "$small"); do ln "$work/in/$f" "$work/in_small/$f"; done
cat > "$work/settings.yaml" <<EOF
model: $shared/oracle/models/marlin_tiny.encoder.pt
model_config: $shared/oracle/marlin_tiny.yaml
faces:
  crop_face: true
  detector: $shared/models/facexzoo_retinaface/face_detection_retina.pkl
EOF
featurize() { # IN OUT [--resume]: in the background, its pid in $bg
    "$marlin" featurize "$1" --settings "$work/settings.yaml" --out "$2" ${3:+"$3"} --quiet 2>> "$work/stderr.log" &
    bg=$!
}
finished() { # OUT: the videos its journal lists (a line cut by a kill does not count)
    local lines
    lines=$(grep -c '}$' "$1/.marlin/journal.jsonl" 2>/dev/null) || true
    echo "${lines:-0}"
}

# ---- 5 SIGKILLs at random moments, each followed by --resume ----
out=$work/killed
resume=""
for k in 1 2 3 4 5; do
    featurize "$work/in" "$out" $resume
    resume=--resume
    before=$(finished "$out")
    # a random number of further videos (none: the kill lands in the start-up or the first video),
    # then a random moment within the next video or two
    ahead=$((RANDOM % (n / 8 + 1)))
    until [ "$(finished "$out")" -ge $((before + ahead)) ]; do
        kill -0 "$bg" 2>/dev/null || fail "run $k ended by itself before kill $k (after $(finished "$out") videos)"
        sleep 0.05
    done
    sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
    kill -0 "$bg" 2>/dev/null || fail "run $k ended by itself before kill $k"
    kill -9 "$bg"
    wait "$bg" 2>/dev/null || true
    bg=""
    echo "soak: kill $k after $(finished "$out") of $n videos (this run: +$(($(finished "$out") - before)))"
done
status=0
"$marlin" featurize "$work/in" --settings "$work/settings.yaml" --out "$out" --resume --quiet 2>> "$work/stderr.log" || status=$?
[ "$status" -eq 2 ] || fail "the last resumed run exited $status, expected 2 (the broken videos): $(tail -n 5 "$work/stderr.log")"

# ---- clean runs, watched ----
watch_run() { # IN OUT: runs to the end; peak RSS (KiB) in $work/OUT.rss, samples in $work/OUT.tsv
    local name status mpid
    name=$(basename "$2")
    /usr/bin/time -f %M -o "$work/$name.rss" "$marlin" featurize "$1" --settings "$work/settings.yaml" --out "$2" \
        --quiet 2>> "$work/stderr.log" &
    bg=$!
    mpid=""
    : > "$work/$name.tsv"
    while kill -0 "$bg" 2>/dev/null; do
        [ -n "$mpid" ] || mpid=$(ps -o pid= --ppid "$bg" | tr -d ' ')
        if [ -n "$mpid" ] && [ -d "/proc/$mpid/fd" ]; then
            local fds=(/proc/"$mpid"/fd/*)
            echo "$(date +%s.%N) $(finished "$2") ${#fds[@]}" >> "$work/$name.tsv"
        fi
        sleep 0.1
    done
    status=0
    wait "$bg" || status=$?
    bg=""
    [ "$status" -eq 2 ] || fail "the clean run of $1 exited $status, expected 2: $(tail -n 5 "$work/stderr.log")"
}
start=$(date +%s%N)
watch_run "$work/in" "$work/clean"
wall=$((($(date +%s%N) - start) / 1000000))
watch_run "$work/in_small" "$work/clean_small"

python3 "$repo/tools/compare_featurize.py" "$out" "$work/clean" --videos "$work/videos.txt" --failed "$work/failed.txt" ||
    fail "the killed-and-resumed run differs from the clean run"
python3 - "$work" "$n" "$small" "$fd_slack" "$wall" <<'EOF' || fail "a measure is out of bounds (above)"
import sys
work, n, small, fd_slack, wall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) / 1000
rss = int(open(f"{work}/clean.rss").read().split()[-1]) / 1024
rss_small = int(open(f"{work}/clean_small.rss").read().split()[-1]) / 1024
samples = [tuple(map(float, l.split())) for l in open(f"{work}/clean.tsv") if l.strip()]
k = max(1, n // 10)
def first_time(done):
    return next(t for t, d, _ in samples if d >= done)
# videos k+1 .. 2k against the last k: the first video also carries the start-up
t1, t2 = first_time(1), first_time(k + 1)
first = k / (t2 - t1)
last_start = first_time(n - k)
last_end = samples[-1][0] if samples[-1][1] >= n else None
ok = True
if last_end is None:
    print(f"soak: the watched run's last sample shows {samples[-1][1]:.0f} of {n} videos"); ok = False
    last_end = samples[-1][0]
last = k / max(last_end - last_start, 1e-9)
fds_first = max(f for _, d, f in samples if 1 <= d <= k)
fds_last = max(f for _, d, f in samples if d >= n - k)
print(f"soak: clean run of {n} videos: {wall:.1f} s, {n / wall:.2f} videos/s, peak RSS {rss:.0f} MiB; of {small} videos: {rss_small:.0f} MiB ({100 * (rss / rss_small - 1):+.1f}%)")
print(f"soak: throughput: first {k} videos {first:.2f} videos/s, last {k} {last:.2f} videos/s ({100 * (last / first - 1):+.1f}%)")
print(f"soak: open file descriptors: at most {fds_first:.0f} during the first {k} videos, {fds_last:.0f} during the last {k}")
if abs(rss / rss_small - 1) > 0.10:
    print("soak: peak RSS differs by more than 10%"); ok = False
if abs(last / first - 1) > 0.20:
    print("soak: throughput of the last 10% differs by more than 20% from the first 10%"); ok = False
if fds_last > fds_first + fd_slack:
    print(f"soak: {fds_last - fds_first:.0f} more file descriptors at the end (slack {fd_slack})"); ok = False
sys.exit(0 if ok else 1)
EOF
echo "soak: passed"
