//! `marlin featurize` and `marlin merge`: a messy folder (failures recorded, the batch goes
//! on, official clip counts), a run killed with SIGKILL and resumed, the same run as 3 shards
//! merged: the same rows and features as the uninterrupted run. Per-video files equal the
//! official `extract_video`. Settings errors are clear.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{arg, marlin, max_abs_diff, media, oracle, read_f32, stderr};

/// The 7 real videos (`cropped01` twice, in different folders: the second is cropped05's
/// content), a truncated mp4 and a text file named `.mp4`. Returns the official clip count per
/// video id.
fn messy_folder(root: &Path) -> BTreeMap<String, usize> {
    let official: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(oracle("videos/videos.json")).unwrap()).unwrap();
    let clips = |name: &str| official["videos"][name]["n_clips"].as_u64().unwrap() as usize;
    let mut expected = BTreeMap::new();
    for (id, source) in [
        ("wild/video01", "video01.mp4"),
        ("wild/video02", "video02.mp4"),
        ("wild/video03", "video03.mp4"),
        ("crops/a/cropped01", "cropped01.mp4"),
        ("crops/a/cropped02", "cropped02.mp4"),
        ("crops/b/cropped01", "cropped05.mp4"),
        ("crops/b/cropped04", "cropped04.mp4"),
    ] {
        let to = root.join(format!("{id}.mp4"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(media(&format!("marlin/{source}")), &to).unwrap();
        expected.insert(id.to_string(), clips(source));
    }
    std::fs::create_dir_all(root.join("bad")).unwrap();
    let full = std::fs::read(media("marlin/video01.mp4")).unwrap();
    std::fs::write(root.join("bad/truncated.mp4"), &full[..full.len() / 2]).unwrap();
    std::fs::write(root.join("bad/notes.mp4"), "shopping list\n".repeat(50)).unwrap();
    expected
}

/// Face cropping fast enough for tests (clip counts do not depend on it).
fn settings(dir: &Path) -> PathBuf {
    let p = dir.join("settings.yaml");
    let detector = crate::util::detector_path();
    std::fs::write(
        &p,
        format!("faces:\n  crop_face: true\n  detect_every: 4\n  max_side: 320\n  detector: {}\n", detector.display()),
    )
    .unwrap();
    p
}

fn featurize_args(inputs: &Path, settings: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> =
        ["featurize", arg(inputs), "--settings", arg(settings), "--out", arg(out)].map(String::from).to_vec();
    a.extend(["--model".into(), oracle("models/marlin_tiny.encoder.pt").display().to_string()]);
    a.extend(["--model-config".into(), oracle("marlin_tiny.yaml").display().to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn featurize(inputs: &Path, settings: &Path, out: &Path, extra: &[&str]) -> Output {
    let args = featurize_args(inputs, settings, out, extra);
    marlin(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
}

/// One row of the outputs: (video_id, clip_index, track_id) → features.
type Rows = BTreeMap<(String, usize, String), Vec<f32>>;

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records().map(|rec| headers.iter().cloned().zip(rec.unwrap().iter().map(String::from)).collect()).collect()
}

fn rows(dir: &Path) -> Rows {
    let (shape, data) = read_f32(&dir.join("features.npy"));
    let table = csv_rows(&dir.join("clips.csv"));
    assert_eq!(shape[0], table.len(), "clips.csv rows = features.npy rows");
    let d = shape[1];
    let mut out = Rows::new();
    for (k, r) in table.iter().enumerate() {
        assert_eq!(r["row"], k.to_string());
        let key = (r["video_id"].clone(), r["clip_index"].parse().unwrap(), r["track_id"].clone());
        assert!(out.insert(key, data[k * d..(k + 1) * d].to_vec()).is_none(), "duplicate row {r:?}");
    }
    out
}

/// Compares two runs' rows, naming the first difference.
fn assert_same(got: &Rows, want: &Rows, what: &str) {
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: rows missing {missing:?}, extra {extra:?}");
    for (k, v) in want {
        assert!(got[k] == *v, "{what}: row {k:?} differs by {}", max_abs_diff(&got[k], v));
    }
}

fn failures(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = csv_rows(&dir.join("failures.csv")).into_iter().map(|r| r["video_id"].clone()).collect();
    ids.sort();
    ids
}

fn clip_counts(rows: &Rows) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (id, _, _) in rows.keys() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    counts
}

#[test]
fn a_messy_folder_keeps_going_and_records_failures() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("videos");
    let expected = messy_folder(&inputs);
    let out = dir.path().join("out");
    let o = featurize(&inputs, &settings(dir.path()), &out, &["--quiet"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "some videos failed → exit 2: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(failures(&out), ["bad/notes", "bad/truncated"]);
    let failed = csv_rows(&out.join("failures.csv"));
    assert!(failed.iter().all(|f| f["error"].contains(&f["path"])), "errors name their file: {failed:?}");
    let written = rows(&out);
    assert_eq!(clip_counts(&written), expected, "official clip counts per video");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["counts"]["rows"], written.len());
    assert_eq!(manifest["model"]["sha256"].as_str().unwrap().len(), 64);
    // how busy each stage was: on stderr and in the manifest
    assert!(e.contains("stages: workers (") && e.contains("waiting for clips"), "{e}");
    let t = &manifest["timings"];
    for stage in ["decode_s", "faces_s", "encode_s"] {
        assert!(t[stage].as_f64().unwrap() > 0.0, "{stage}: {t}");
    }
    assert!(t["workers"].as_u64().unwrap() >= 1, "{t}");
    // the same folder again: refused without --resume; with it, nothing left to do
    let again = featurize(&inputs, &settings(dir.path()), &out, &["--quiet"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));
    let resumed = featurize(&inputs, &settings(dir.path()), &out, &["--quiet", "--resume"]);
    assert_eq!(resumed.status.code(), Some(2), "{}", stderr(&resumed));
    assert_same(&rows(&out), &written, "resumed after the end");
    assert_eq!(failures(&out), ["bad/notes", "bad/truncated"], "failures are not listed twice");
}

/// Runs featurize and sends it `signal` once `min_done` videos are journaled; returns its exit
/// code.
fn signal_midway(args: &[String], journal: &Path, min_done: usize, signal: &str) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_marlin"))
        .args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let done = std::fs::read_to_string(journal).map(|t| t.lines().count()).unwrap_or(0);
        if done >= min_done {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    child.wait().unwrap().code()
}

#[test]
fn killed_resumed_and_sharded_runs_give_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("videos");
    messy_folder(&inputs);
    let settings = settings(dir.path());
    let reference_dir = dir.path().join("whole");
    assert_eq!(featurize(&inputs, &settings, &reference_dir, &["--quiet"]).status.code(), Some(2));
    let reference = rows(&reference_dir);

    // SIGKILL mid-way (one decode job, small batches: slow enough to catch), then --resume
    let killed = dir.path().join("killed");
    let args = featurize_args(&inputs, &settings, &killed, &["--quiet", "--jobs", "1", "--batch", "1"]);
    assert_eq!(signal_midway(&args, &killed.join(".marlin/journal.jsonl"), 4, "-KILL"), None);
    assert!(!killed.join("features.npy").exists(), "killed before finishing: no final features yet");
    let o = featurize(&inputs, &settings, &killed, &["--quiet", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_same(&rows(&killed), &reference, "killed + resumed");
    assert_eq!(failures(&killed), failures(&reference_dir));

    // SIGTERM: a clean stop with consistent files (exit 130), then --resume
    let stopped = dir.path().join("stopped");
    let args = featurize_args(&inputs, &settings, &stopped, &["--quiet", "--jobs", "1", "--batch", "1"]);
    assert_eq!(signal_midway(&args, &stopped.join(".marlin/journal.jsonl"), 4, "-TERM"), Some(130));
    let partial = rows(&stopped);
    assert!(!partial.is_empty() && partial.len() < reference.len(), "{} of {} rows", partial.len(), reference.len());
    assert!(partial.iter().all(|(k, v)| reference.get(k) == Some(v)));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stopped.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    let o = featurize(&inputs, &settings, &stopped, &["--quiet", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_same(&rows(&stopped), &reference, "stopped + resumed");

    // three shards, then merge
    let sharded = dir.path().join("sharded");
    for i in 0..3 {
        let o = featurize(&inputs, &settings, &sharded, &["--quiet", "--shard", &format!("{i}/3")]);
        assert!(matches!(o.status.code(), Some(0 | 2)), "{}", stderr(&o));
        assert!(sharded.join(format!("shard-{i}-of-3/features.npy")).exists());
    }
    let m = marlin(&["merge", arg(&sharded)], &[]);
    assert!(m.status.success(), "{}", stderr(&m));
    assert_same(&rows(&sharded), &reference, "3 shards merged");
    assert_eq!(failures(&sharded), failures(&reference_dir));
}

#[test]
fn per_video_files_are_the_official_extract_video() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.csv");
    let names = ["cropped01", "cropped02", "cropped04", "cropped05"];
    let mut text = String::from("path,video_id,label,fold\n");
    for (k, n) in names.iter().enumerate() {
        text.push_str(&format!(
            "{},{n},{},{k}\n",
            media(&format!("marlin/{n}.mp4")).display(),
            if k % 2 == 0 { "real" } else { "fake" }
        ));
    }
    text.push_str(&format!("{},../escape,real,9\n", media("marlin/cropped01.mp4").display()));
    std::fs::write(&list, text).unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let out = dir.path().join("out");
    let o = featurize(&list, &empty, &out, &["--quiet", "--layout", "per-video"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let failed = csv_rows(&out.join("failures.csv"));
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["error"].contains("outside the output folder"), "{failed:?}");
    for n in names {
        let (shape, got) = read_f32(&out.join(format!("videos/{n}.npy")));
        let (want_shape, want) = read_f32(&oracle(&format!("videos/marlin_tiny/{n}.npy")));
        assert_eq!(shape, want_shape, "{n}");
        assert!(max_abs_diff(&got, &want) < 1e-5, "{n}: {}", max_abs_diff(&got, &want));
    }
    let table = csv_rows(&out.join("clips.csv"));
    for (k, n) in names.iter().enumerate() {
        let r = table.iter().find(|r| r["video_id"] == *n).unwrap();
        assert_eq!(
            (r["label"].as_str(), r["fold"].as_str()),
            (if k % 2 == 0 { "real" } else { "fake" }, k.to_string().as_str()),
            "manifest columns carried: {r:?}"
        );
    }
}

#[test]
fn settings_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "batch_size: 2\nsampling:\n  strid: 8\n").unwrap();
    let out = dir.path().join("out");
    let o = featurize(&media("marlin/cropped04.mp4"), &bad, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("strid") && e.contains("line 3") && e.contains("bad.yaml"), "{e}");
    let o = marlin(&["featurize", media("marlin/cropped04.mp4").to_str().unwrap(), "--out", arg(&out)], &[]);
    assert!(stderr(&o).contains("no model"), "{}", stderr(&o));
    // resuming with other settings is refused
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let video = media("marlin/cropped04.mp4");
    assert!(featurize(&video, &empty, &out, &["--quiet"]).status.success());
    let o = featurize(&video, &empty, &out, &["--quiet", "--resume", "--keep-seq"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("other settings"), "{}", stderr(&o));
    let o = marlin(&["merge", arg(&out)], &[]);
    assert!(stderr(&o).contains("no shard"), "{}", stderr(&o));
}

#[test]
fn schedulers_pick_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let out = dir.path().join("out");
    let args = featurize_args(&media("marlin/cropped04.mp4"), &empty, &out, &["--quiet"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let slurm =
        marlin(&args, &[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")]);
    assert!(slurm.status.success(), "{}", stderr(&slurm));
    assert!(out.join("shard-1-of-3/manifest.json").exists());
    let k8s = marlin(&args, &[("JOB_COMPLETION_INDEX", "0"), ("MARLIN_SHARD_COUNT", "2")]);
    assert!(k8s.status.success(), "{}", stderr(&k8s));
    assert!(out.join("shard-0-of-2/manifest.json").exists());
    let missing = marlin(&args, &[("JOB_COMPLETION_INDEX", "0")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("MARLIN_SHARD_COUNT"), "{}", stderr(&missing));
}

#[test]
fn onnx_cpu_backend_gives_the_cpu_rows() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let ort = crate::util::onnxruntime();
    let (cpu, onnx) = (dir.path().join("cpu"), dir.path().join("onnx"));
    let o = featurize(&media("marlin"), &settings, &cpu, &["--backend", "cpu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = featurize(&media("marlin"), &settings, &onnx, &["--backend", "onnx-cpu", "--onnxruntime", arg(&ort)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (want, got) = (rows(&cpu), rows(&onnx));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    assert!(want.len() >= 7, "{} rows", want.len());
    let worst = want.iter().map(|(k, v)| max_abs_diff(&got[k], v)).fold(0.0, f32::max);
    eprintln!("onnx-cpu vs cpu over {} rows: max-abs {worst:.2e}", want.len());
    assert!(worst <= 1e-4, "max-abs {worst}");
    // the manifests say what computed the rows
    let engines = |d: &Path| -> Vec<String> {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
        m["engines"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let (e_cpu, e_onnx) = (engines(&cpu), engines(&onnx));
    assert!(e_cpu[0].starts_with("encoder: cpu f32") && e_cpu[1].starts_with("detector: cpu"), "{e_cpu:?}");
    assert!(
        e_onnx[0].starts_with("encoder: onnx-cpu (ONNX Runtime)") && e_onnx[1].starts_with("detector: cpu"),
        "{e_onnx:?}"
    );
    // the backend is part of what a resumed run must keep
    let o = featurize(&media("marlin"), &settings, &onnx, &["--resume", "--backend", "cpu"]);
    assert!(!o.status.success() && stderr(&o).contains("backend"), "{}", stderr(&o));
    // no ONNX Runtime: one clear error, nothing written
    let none = dir.path().join("none");
    let o = featurize(
        &media("marlin"),
        &settings,
        &none,
        &["--backend", "onnx-cpu", "--onnxruntime", "/nonexistent/libonnxruntime.so"],
    );
    let e = stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("/nonexistent/libonnxruntime.so")
            && e.contains("marlin models fetch onnxruntime"),
        "{e}"
    );
    assert!(!none.join("features.npy").exists());
}

/// `--precision int8`: every row within cosine 0.999 of the f32 run's, the manifest names the
/// precision, and a resumed run must keep it.
#[test]
fn int8_precision_gives_rows_within_cosine_0_999_of_f32() {
    if !crate::util::int8_runs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let (f32_dir, int8_dir) = (dir.path().join("f32"), dir.path().join("int8"));
    let o = featurize(&media("marlin"), &settings, &f32_dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = featurize(&media("marlin"), &settings, &int8_dir, &["--precision", "int8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (want, got) = (rows(&f32_dir), rows(&int8_dir));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    assert!(want.len() >= 7, "{} rows", want.len());
    let worst = want.iter().map(|(k, v)| crate::util::cosine(&got[k], v)).fold(1.0, f64::min);
    let max_abs = want.iter().map(|(k, v)| max_abs_diff(&got[k], v)).fold(0.0, f32::max);
    eprintln!("int8 vs f32 over {} rows (tiny model): worst cosine {worst:.6}, max-abs {max_abs:.2e}", want.len());
    assert!(worst >= 0.999, "worst cosine {worst}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(int8_dir.join("manifest.json")).unwrap()).unwrap();
    assert!(m["engines"][0].as_str().unwrap().starts_with("encoder: cpu int8"), "{m}");
    let o = featurize(&media("marlin"), &settings, &int8_dir, &["--resume"]);
    assert!(!o.status.success() && stderr(&o).contains("precision"), "{}", stderr(&o));
}
