#!/usr/bin/env bash
# docs/kubernetes/featurize-job.yaml, offline (no cluster here):
#   1. validated strictly (unknown fields are errors) against the Kubernetes API schemas of
#      1.29 to 1.37 with kubernetes-validate (PyPI, bundles the schemas; installed into
#      target/kubernetes-validate), and a copy with a misspelt field must fail;
#   2. the Indexed Job's own rules: completionMode Indexed, completions = MARLIN_SHARD_COUNT,
#      parallelism <= completions, backoffLimitPerIndex set, restartPolicy Never, every mount a
#      declared volume, --resume on the command line;
#   3. the container's command line run here for every JOB_COMPLETION_INDEX with the manifest's
#      environment (/data and /opt/marlin swapped for local folders; the model swapped for the
#      tiny oracle one, its settings file naming its architecture), each exiting 0, one index
#      run again as a replacement pod would be; `marlin merge` then equals a one-process run row
#      for row, and failures.csv lists the broken video.
#
#   tools/kubernetes_test.sh            (.ci/run runs it)
#
# Needs `cargo build --release -p marlin-cli` (or MARLIN_BIN=another marlin binary), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
manifest=$repo/docs/kubernetes/featurize-job.yaml
marlin=${MARLIN_BIN:-$repo/target/release/marlin}
[ -x "$marlin" ] || { echo "error: $marlin missing: cargo build --release -p marlin-cli" >&2; exit 1; }
marlin=$(cd "$(dirname "$marlin")" && pwd)/$(basename "$marlin")
shared=$(cd ../shared 2>/dev/null && pwd) || { echo "error: ../shared (the oracle) is missing beside the checkout" >&2; exit 1; }
for f in "$shared/oracle/models/marlin_tiny.encoder.pt" "$shared/oracle/marlin_tiny.yaml" \
    "$shared/models/facexzoo_retinaface/face_detection_retina.pkl" "$shared/media/marlin/cropped01.mp4"; do
    [ -f "$f" ] || { echo "error: $f is missing" >&2; exit 1; }
done
fail() {
    echo "kubernetes_test: FAILED: $*" >&2
    exit 1
}
venv=$repo/target/kubernetes-validate
if ! "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate==1.37.0
fi
tmp=$(mktemp -d /tmp/marlin-k8s.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "kubernetes_test: 1. the API schemas"
for v in 29 30 31 32 33 34 35 36 37; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "1.$v.0" "$manifest" || fail "not a valid Job for Kubernetes 1.$v"
done
sed 's/^  completionMode:/  completionMod:/' "$manifest" > "$tmp/misspelt.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet -k 1.37.0 "$tmp/misspelt.yaml" >/dev/null 2>&1; then
    fail "a misspelt field passed the schema check: it checks nothing"
fi

echo "kubernetes_test: 2. the Indexed Job's rules"
# the container's shell command and environment, for the runs below
"$venv/bin/python" - "$manifest" "$tmp" <<'EOF' || fail "the manifest breaks a rule (above)"
import json, shlex, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
spec, pod = job["spec"], job["spec"]["template"]["spec"]
(container,) = pod["containers"]
env = {e["name"]: e["value"] for e in container.get("env", [])}
problems = []
if spec.get("completionMode") != "Indexed":
    problems.append("completionMode is not Indexed")
if str(spec.get("completions")) != env.get("MARLIN_SHARD_COUNT"):
    problems.append(f"completions {spec.get('completions')} but MARLIN_SHARD_COUNT {env.get('MARLIN_SHARD_COUNT')}")
if not 1 <= spec.get("parallelism", 1) <= spec["completions"]:
    problems.append("parallelism is not within 1..completions")
if "backoffLimitPerIndex" not in spec:
    problems.append("no backoffLimitPerIndex: one bad shard would use up the Job's retries")
if pod.get("restartPolicy") != "Never":
    problems.append("restartPolicy must be Never (podFailurePolicy, a pod per attempt)")
volumes = {v["name"] for v in pod.get("volumes", [])}
for m in container.get("volumeMounts", []):
    if m["name"] not in volumes:
        problems.append(f"volumeMount {m['name']} names no volume")
line = container.get("command", []) + container.get("args", [])
if "--resume" not in " ".join(line):
    problems.append("no --resume: a replaced pod would start its shard over")
for p in problems:
    print(f"kubernetes_test: {p}", file=sys.stderr)
json.dump({"line": line, "env": env, "completions": spec["completions"]}, open(f"{sys.argv[2]}/job.json", "w"))
sys.exit(1 if problems else 0)
EOF

echo "kubernetes_test: 3. the command line for every index"
data=$tmp/data
mkdir -p "$data/videos" "$data/models" "$tmp/opt/marlin/configs" "$tmp/bin"
for v in "$shared"/media/marlin/*.mp4; do
    cp "$v" "$data/videos/"
    cp "$v" "$data/videos/$(basename "$v" .mp4)_copy.mp4"
done
head -c 20000 "$shared/media/marlin/video01.mp4" > "$data/videos/broken.mp4"
echo broken > "$tmp/failed.txt"
cp "$shared/oracle/models/marlin_tiny.encoder.pt" "$data/models/marlin_vit_small_ytf.encoder.pt"
cp "$shared/models/facexzoo_retinaface/face_detection_retina.pkl" "$data/models/"
# the image's settings files, the preset the manifest names telling the tiny model's architecture
cp configs/*.yaml "$tmp/opt/marlin/configs/"
echo "model_config: $shared/oracle/marlin_tiny.yaml" >> "$tmp/opt/marlin/configs/featurize_vit_small.yaml"
ln -s "$marlin" "$tmp/bin/marlin"
run_pod() { # INDEX OUT: the container's command, as the pod of INDEX runs it, with out at OUT
    "$venv/bin/python" - "$tmp" "$1" "$2" <<'EOF'
import json, os, subprocess, sys
tmp, index, out = sys.argv[1], sys.argv[2], sys.argv[3]
job = json.load(open(f"{tmp}/job.json"))
line = [a.replace("/data/out", out).replace("/data", f"{tmp}/data").replace("/opt/marlin", f"{tmp}/opt/marlin") for a in job["line"]]
env = {k: v for k, v in os.environ.items() if k not in ("JOB_COMPLETION_INDEX", "MARLIN_SHARD_COUNT", "SLURM_ARRAY_TASK_ID")}
env["PATH"] = f"{tmp}/bin:{env['PATH']}"
if index != "none":
    env.update(job["env"], JOB_COMPLETION_INDEX=index)
status = subprocess.run(line, env=env).returncode
if status != 0:
    sys.exit(f"kubernetes_test: the pod of index {index} exited {status}")
EOF
}
completions=$("$venv/bin/python" -c "import json, sys; print(json.load(open(sys.argv[1]))['completions'])" "$tmp/job.json")
for i in $(seq 0 $((completions - 1))); do
    run_pod "$i" "$tmp/out" 2> "$tmp/pod-$i.log" || fail "$(tail -n 5 "$tmp/pod-$i.log")"
    [ -d "$tmp/out/shard-$i-of-$completions" ] || fail "the pod of index $i wrote no shard-$i-of-$completions"
done
# a replacement pod for index 0 (after an eviction): resumes, finds its shard done, exits 0
run_pod 0 "$tmp/out" 2> "$tmp/pod-0-again.log" || fail "$(tail -n 5 "$tmp/pod-0-again.log")"
"$marlin" merge "$tmp/out" 2> "$tmp/merge.log" || fail "marlin merge: $(cat "$tmp/merge.log")"
run_pod none "$tmp/single" 2> "$tmp/single.log" || fail "the one-process run: $(tail -n 5 "$tmp/single.log")"
python3 tools/compare_featurize.py "$tmp/out" "$tmp/single" --failed "$tmp/failed.txt" ||
    fail "the merged shards differ from the one-process run"
echo "kubernetes_test: all passed ($completions indices, merged)"
