#!/usr/bin/env bash
# Soak: `marlin featurize --crop-face` (tiny oracle model) over N videos made from the shared
# media (copies, re-muxes to mkv, re-encodes to webm, trimmed lengths, one broken file in 20, in
# cycles of 20 that cost the same), SIGKILLed 5 times at random moments, each kill followed by
# `--resume`; then a clean run into another folder, watched (finished videos and open file
# descriptors every 0.1 s, peak RSS), and a clean run of the first W videos, W = 10% of N in
# whole cycles (N = 1000: 100; N = 60: 20). Checks, each failing the script loudly:
#   - the resumed folder equals the clean one row for row, no video missing or doubled, exactly
#     the broken videos failed (tools/compare_featurize.py);
#   - peak RSS of the N-video run at most 10% above that at W videos (the larger of the W-video
#     run's and the N-video run's own while its first W videos ran: from run to run the peak
#     moves by about 10% on a 2-core machine), and the N-video run's RSS during its last W videos
#     at most 10% above that during the W before video N/2 (a leak grows on; RSS grows by about
#     15% over the first few hundred videos and then stays, so the first W are no baseline);
#   - open file descriptors while the last W videos run within FD_SLACK (default 4) of the most
#     while the first W ran;
#   - throughput of the last W videos within 20% of the first W (videos 2..W+1: the first
#     carries the start-up; the last W before the final 5, which run while nothing else is in
#     flight), in videos per CPU second of the process (videos per wall second are printed too,
#     but move with whatever else the machine runs).
#
#   tools/soak.sh N           (.ci/run: N = 60; docs/BENCHMARKS.md: N = 1000)
#
# SOAK_SEED=S repeats a run's kill moments; SOAK_KEEP=1 keeps the work folder. Prints one
# `soak:` line per measure. Needs `cargo build --release -p marlin-cli` (or MARLIN_BIN=another
# marlin binary), ffmpeg, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
n=${1:?usage: tools/soak.sh N (videos, at least 40)}
[ "$n" -ge 40 ] || { echo "error: N must be at least 40" >&2; exit 1; }
marlin=${MARLIN_BIN:-$repo/target/release/marlin}
[ -x "$marlin" ] || { echo "error: $marlin missing: cargo build --release -p marlin-cli" >&2; exit 1; }
marlin=$(cd "$(dirname "$marlin")" && pwd)/$(basename "$marlin")
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
# one cycle of 20 names: the 12 good variants, the first 7 again, one broken file (of the three
# kinds in turn): every 20 consecutive videos cost the same, so windows of whole cycles compare
good=()
for f in "$pool"/*; do case $(basename "$f") in broken_*) ;; *) good+=("$f") ;; esac; done
cycle=("${good[@]}" "${good[@]:0:$((19 - ${#good[@]}))}")
[ ${#cycle[@]} -eq 19 ] || fail "the pool holds ${#good[@]} good variants, 10 to 19 are needed"
broken=("$pool"/broken_*)
: > "$work/videos.txt"
: > "$work/failed.txt"
for i in $(seq 0 $((n - 1))); do
    if [ $((i % 20)) -eq 19 ]; then
        src=${broken[(i / 20) % ${#broken[@]}]}
    else
        src=${cycle[i % 20]}
    fi
    name=$(printf 'v%05d_%s' "$i" "$(basename "$src")")
    ln "$src" "$work/in/$name"
    echo "${name%.*}" >> "$work/videos.txt"
    case $name in *broken_*) echo "${name%.*}" >> "$work/failed.txt" ;; esac
done
# the windows compared: 10% of the videos rounded to whole cycles, at least one cycle
window=$(((n / 10 + 10) / 20 * 20))
[ "$window" -ge 20 ] || window=20
[ $((2 * window)) -le "$n" ] || fail "N=$n is too small for two windows of $window videos"
mkdir -p "$work/in_small"
for f in $(ls "$work/in" | head -n "$window"); do ln "$work/in/$f" "$work/in_small/$f"; done
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
            local fds=(/proc/"$mpid"/fd/*) rss stat=()
            rss=$(awk '/^VmRSS/ {print $2}' "/proc/$mpid/status" 2>/dev/null) || true
            read -r -a stat < "/proc/$mpid/stat" 2>/dev/null || true
            # utime + stime: the process's CPU time, in clock ticks
            echo "$(date +%s.%N) $(finished "$2") ${#fds[@]} ${rss:-0} $((${stat[13]:-0} + ${stat[14]:-0}))" >> "$work/$name.tsv"
        fi
        sleep 0.1
    done
    status=0
    wait "$bg" || status=$?
    echo "$(date +%s.%N) $(finished "$2") 0 0 -1" >> "$work/$name.tsv"
    bg=""
    # 2: some videos failed, as the broken ones must (the small run may have none)
    [ "$status" -eq 2 ] || { [ "$status" -eq 0 ] && ! grep -q broken_ <(ls "$1"); } ||
        fail "the clean run of $1 exited $status: $(tail -n 5 "$work/stderr.log")"
}
start=$(date +%s%N)
watch_run "$work/in" "$work/clean"
wall=$((($(date +%s%N) - start) / 1000000))
watch_run "$work/in_small" "$work/clean_small"

python3 "$repo/tools/compare_featurize.py" "$out" "$work/clean" --videos "$work/videos.txt" --failed "$work/failed.txt" ||
    fail "the killed-and-resumed run differs from the clean run"
python3 - "$work" "$n" "$window" "$fd_slack" "$wall" "$(getconf CLK_TCK)" <<'EOF' || fail "a measure is out of bounds (above)"
import sys
work, n, k, fd_slack, wall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) / 1000
ticks = int(sys.argv[6])
rss = int(open(f"{work}/clean.rss").read().split()[-1]) / 1024
rss_small = int(open(f"{work}/clean_small.rss").read().split()[-1]) / 1024
# (time, videos finished, open fds, RSS KiB, CPU ticks) every 0.1 s; the last line: the end
samples = [tuple(map(float, l.split())) for l in open(f"{work}/clean.tsv") if l.strip()]
ok = True
if samples[-1][1] != n:
    print(f"soak: the watched run's journal lists {samples[-1][1]:.0f} of {n} videos"); ok = False
def first(done):
    return next(s for s in samples if s[1] >= done)
# videos 2 .. k+1 (the first one carries the start-up) against the last k before the final 5
# (while those run, no further video is in flight: its window would miss that work), both whole
# cycles; per second of wall time, and per second of the process's CPU time (what other
# processes on the machine change little)
samples = samples[:-1]
a, b = first(1), first(k + 1)
c, d = first(n - 5 - k), first(n - 5)
wall_first, wall_last = k / (b[0] - a[0]), k / (d[0] - c[0])
cpu_first, cpu_last = k * ticks / (b[4] - a[4]), k * ticks / (d[4] - c[4])
fds_first = max(s[2] for s in samples if 1 <= s[1] <= k)
fds_last = max(s[2] for s in samples if s[1] >= n - k)
rss_first = max(s[3] for s in samples if 1 <= s[1] <= k) / 1024
rss_middle = max(s[3] for s in samples if n // 2 - k <= s[1] <= n // 2) / 1024
rss_last = max(s[3] for s in samples if s[1] >= n - k) / 1024
print(f"soak: clean run of {n} videos: {wall:.1f} s, {n / wall:.2f} videos/s, peak RSS {rss:.0f} MiB; of the first {k} videos: {rss_small:.0f} MiB ({100 * (rss / rss_small - 1):+.1f}%)")
print(f"soak: RSS in the clean run of {n}: at most {rss_first:.0f} MiB during the first {k} videos, {rss_middle:.0f} MiB during the {k} before video {n // 2}, {rss_last:.0f} MiB during the last {k} ({100 * (rss_last / rss_middle - 1):+.1f}% on the middle)")
print(f"soak: throughput: videos 2-{k + 1} {wall_first:.2f} videos/s, videos {n - 4 - k}-{n - 5} {wall_last:.2f} videos/s ({100 * (wall_last / wall_first - 1):+.1f}%); per CPU second {cpu_first:.2f} and {cpu_last:.2f} ({100 * (cpu_last / cpu_first - 1):+.1f}%)")
print(f"soak: open file descriptors: at most {fds_first:.0f} during the first {k} videos, {fds_last:.0f} during the last {k}")
# the peak at k videos, measured twice: the k-video run's, and the long run's own while its first
# k videos ran (from one run to the next the peak moves by about 10% here)
if rss > 1.10 * max(rss_small, rss_first):
    print(f"soak: peak RSS of {n} videos more than 10% above that of {k}"); ok = False
if rss_last > 1.10 * rss_middle:
    print(f"soak: RSS grew by more than 10% over the second half of the run"); ok = False
if abs(cpu_last / cpu_first - 1) > 0.20:
    print(f"soak: videos per CPU second of the last {k} differ by more than 20% from the first {k}"); ok = False
if fds_last > fds_first + fd_slack:
    print(f"soak: {fds_last - fds_first:.0f} more file descriptors at the end (slack {fd_slack})"); ok = False
sys.exit(0 if ok else 1)
EOF
echo "soak: passed"
