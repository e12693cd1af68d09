#!/usr/bin/env bash
# docs/slurm/featurize.sbatch, unchanged, on a real throw-away one-node Slurm cluster (Debian 12's
# Slurm 22.05 and MUNGE, started here as background processes and stopped at the end, also on
# failure), against a one-process run of the same videos (the shared ones, renamed copies and one
# broken file):
#   1. an array of 3: the merge equals the one-process run row for row, failures.csv lists the
#      broken video;
#   2. one task SIGKILLed mid-run with `scancel --signal=KILL`, that index resubmitted: identical;
#   3. the node set down mid-run (`scontrol update state=down`), Slurm requeues the tasks, the
#      node resumed: identical.
#
#   tools/slurm_test.sh            (root or sudo; .ci/run runs it)
#
# Needs `cargo build --release -p marlin-cli` (or MARLIN_BIN=another marlin binary); installs
# the Slurm packages (tools/setup.sh) when missing. Exit status 1 with what differs when anything
# does.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
marlin=${MARLIN_BIN:-$repo/target/release/marlin}
[ -x "$marlin" ] || { echo "error: $marlin missing: cargo build --release -p marlin-cli" >&2; exit 1; }
marlin=$(cd "$(dirname "$marlin")" && pwd)/$(basename "$marlin")
shared=$(cd ../shared 2>/dev/null && pwd) || { echo "error: ../shared (the oracle) is missing beside the checkout" >&2; exit 1; }
for f in "$shared/oracle/models/marlin_tiny.encoder.pt" "$shared/oracle/marlin_tiny.yaml" "$shared/media/marlin/cropped01.mp4"; do
    [ -f "$f" ] || { echo "error: $f is missing" >&2; exit 1; }
done
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    tools/setup.sh
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

tmp=$(mktemp -d /tmp/marlin-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
fail() {
    echo "slurm_test: FAILED: $*" >&2
    exit 1
}
cleanup() {
    local rc=$?
    if [ ${#pids[@]} -gt 0 ]; then
        # jobs first (their processes are slurmd's children's), then the daemons, newest first
        scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(squeue -h -t R,CG 2>/dev/null)" ] && break
            sleep 0.2
        done
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
            $sudo kill "${pids[i]}" 2>/dev/null || true
        done
        for p in "${pids[@]}"; do
            for _ in $(seq 50); do
                $sudo kill -0 "$p" 2>/dev/null || break
                sleep 0.1
            done
            $sudo kill -9 "$p" 2>/dev/null || true
        done
    fi
    if [ "$rc" -ne 0 ]; then
        for log in "$tmp"/*.log "$tmp"/work/*.log; do
            [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
        done >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the cluster: MUNGE, slurmctld, slurmd, everything under $tmp ----
host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
cpus=$(nproc)
mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/work"
chmod 755 "$tmp/munge"
$sudo dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
$sudo chmod 400 "$tmp/munge/munge.key"
$sudo munged --force --socket="$tmp/munge/munge.socket" --key-file="$tmp/munge/munge.key" \
    --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge.log" --seed-file="$tmp/munge/munged.seed"
pids+=("$(cat "$tmp/munge/munged.pid")")
export SLURM_CONF=$tmp/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=marlin-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket,cred_expire=10
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$tmp/jobcomp.txt
MpiDefault=none
ReturnToService=1
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=600
KillWait=2
InactiveLimit=0
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
$sudo slurmctld -D -i -f "$SLURM_CONF" > "$tmp/slurmctld.out" 2>&1 &
pids+=("$!")
$sudo slurmd -D -f "$SLURM_CONF" > "$tmp/slurmd.out" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -qx idle && break
    sleep 0.2
done
sinfo -h -o %T | grep -qx idle || fail "the node did not come up: $(sinfo 2>&1)"
echo "slurm_test: $(sinfo --version) cluster up on $host ($cpus CPUs), port $port"

# ---- the videos: the shared ones, renamed copies (more tasks' worth) and one broken file ----
data=$tmp/work/videos
mkdir -p "$data"
for v in "$shared"/media/marlin/*.mp4; do
    name=$(basename "$v" .mp4)
    cp "$v" "$data/$name.mp4"
    cp "$v" "$data/${name}_copy.mp4"
done
head -c 20000 "$shared/media/marlin/video01.mp4" > "$data/broken.mp4"
cat > "$tmp/work/settings.yaml" <<EOF
model: $shared/oracle/models/marlin_tiny.encoder.pt
model_config: $shared/oracle/marlin_tiny.yaml
encoder_threads: 1
detector_threads: 1
jobs: 1
faces:
  crop_face: true
  detector: $shared/models/facexzoo_retinaface/face_detection_retina.pkl
EOF
echo broken > "$tmp/work/failed.txt"

echo "slurm_test: the one-process run"
status=0
"$marlin" featurize "$data" --settings "$tmp/work/settings.yaml" --out "$tmp/work/single" --quiet || status=$?
[ "$status" -eq 2 ] || fail "the one-process run exited $status, expected 2 (the broken video)"

cd "$tmp/work"
# sbatch's options and environment only: the recipe itself is used as users copy it
submit() { # OUT [ARRAY]: prints the job id
    sbatch --parsable --array="${2:-0-2}" --cpus-per-task=1 --mem=1G \
        --export="ALL,DATA=$data,OUT=$1,MARLIN=$marlin,CONFIG=$tmp/work/settings.yaml,SHARDS=3" \
        "$repo/docs/slurm/featurize.sbatch"
}
wait_idle() { # until no job is left (the merge included), at most 10 minutes
    for _ in $(seq 3000); do
        [ -z "$(squeue -h)" ] && return 0
        sleep 0.2
    done
    fail "jobs still queued after 10 minutes: $(squeue)"
}
wait_for_videos() { # DIR: until one of DIR's shards has featurised a video
    for _ in $(seq 1500); do
        cat "$1"/shard-*/.marlin/journal.jsonl 2>/dev/null | grep -q '"status":"done"' && return 0
        sleep 0.1
    done
    fail "no shard of $1 finished a video within 5 minutes"
}
job_field() { # JOB FIELD: FIELD=value of every task of JOB in scontrol's record
    scontrol -o show job "$1" | grep -o "$2=[^ ]*" | cut -d= -f2
}
check() { # OUT NAME
    [ -f "$1/features.npy" ] || fail "$2: the merge job wrote no $1/features.npy ($(cat marlin-merge-*.log 2>/dev/null))"
    python3 "$repo/tools/compare_featurize.py" "$1" single --failed failed.txt || fail "$2: the merge differs from the one-process run"
    echo "slurm_test: $2: ok (${SECONDS} s)"
}

echo "slurm_test: 1. array of 3, merged by the job the last task submits"
job=$(submit "$tmp/work/out1")
wait_idle
for s in $(job_field "$job" JobState); do [ "$s" = COMPLETED ] || fail "array task state $s: $(scontrol -o show job "$job")"; done
check out1 "array of 3"

echo "slurm_test: 2. one task SIGKILLed mid-run with scancel, that index resubmitted"
job=$(submit "$tmp/work/out2")
wait_for_videos out2
victim=""
for _ in $(seq 300); do
    victim=$(squeue -h -j "$job" -t R -o %K | head -n 1)
    [ -n "$victim" ] && break
    sleep 0.1
done
[ -n "$victim" ] || fail "no task of $job running"
scancel --signal=KILL "${job}_$victim"
for _ in $(seq 200); do
    case $(job_field "${job}_$victim" JobState) in RUNNING | COMPLETING) sleep 0.1 ;; *) break ;; esac
done
state=$(job_field "${job}_$victim" JobState)
[ "$state" = CANCELLED ] || [ "$state" = FAILED ] || fail "task $victim after scancel: $state"
[ -f "out2/shard-$victim-of-3/manifest.json" ] && grep -q '"complete": *true' "out2/shard-$victim-of-3/manifest.json" &&
    fail "task $victim finished before the kill: nothing was tested"
wait_idle
resubmitted=$(submit "$tmp/work/out2" "$victim")
wait_idle
[ "$(job_field "$resubmitted" JobState)" = COMPLETED ] || fail "resubmitted task: $(scontrol -o show job "$resubmitted")"
check out2 "task $victim killed and resubmitted"

echo "slurm_test: 3. the node goes down mid-run, Slurm requeues, the node comes back"
job=$(submit "$tmp/work/out3")
wait_for_videos out3
scontrol update nodename="$host" state=down reason="marlin slurm_test"
for _ in $(seq 300); do
    [ -z "$(squeue -h -t R,CG)" ] && break
    sleep 0.1
done
[ -z "$(squeue -h -t R,CG)" ] || fail "tasks still running on the down node: $(squeue)"
scontrol update nodename="$host" state=resume
# a requeued job waits until its old credential has expired (cred_expire above: 10 s, not the
# default 120 s, to spare CI the wait)
wait_idle
restarts=$(job_field "$job" Restarts | sort -n | tail -n 1)
[ "${restarts:-0}" -ge 1 ] || fail "no task was requeued: $(scontrol -o show job "$job")"
for s in $(job_field "$job" JobState); do [ "$s" = COMPLETED ] || fail "array task state $s after the requeue"; done
check out3 "node down, tasks requeued ($restarts restart(s))"
echo "slurm_test: all passed"
