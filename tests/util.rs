//! Helpers shared by the test modules: the oracle folder, array comparison, the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use marlin_test_support::{detector_path, oracle, shared};

pub fn read_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = marlin_npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    let v = a.to_f32();
    (a.shape, v)
}

/// Whether this CPU computes `--precision int8`; where it cannot, the refusal must name the
/// missing instructions (the one acceptable reason not to exercise int8).
pub fn int8_runs() -> bool {
    match marlin_model::Precision::Int8.check() {
        Ok(()) => true,
        Err(e) => {
            assert!(e.to_string().contains("precision int8 needs a CPU with AVX512-VNNI or AVX-VNNI"), "{e}");
            eprintln!("{e}: the int8 encoder is not exercised on this CPU");
            false
        }
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs the `marlin` binary.
pub fn marlin(args: &[&str], env: &[(&str, &str)]) -> Output {
    marlin_command(args, env).output().expect("cannot run marlin")
}

/// The path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// `marlin extract VIDEO --model <tiny> --model-config <tiny's YAML> FLAGS -o OUT`: the oracle's
/// tiny model (dim 64) on `video`.
pub fn extract_tiny(video: &Path, flags: &[&str], out: &Path) -> Output {
    let (model, config) = (oracle("models/marlin_tiny.encoder.pt"), oracle("marlin_tiny.yaml"));
    let head = ["extract", arg(video), "--model", arg(&model), "--model-config", arg(&config)];
    marlin(&[&head[..], flags, &["-o", arg(out)]].concat(), &[])
}

/// Runs the `marlin` binary in the folder `cwd`.
pub fn marlin_in(cwd: &Path, args: &[&str]) -> Output {
    marlin_command(args, &[]).current_dir(cwd).output().expect("cannot run marlin")
}

fn marlin_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marlin"));
    // a test run inside a scheduler's job must not pick up its shard
    cmd.args(args).env_remove("MARLIN_LOG").env_remove("SLURM_ARRAY_TASK_ID").env_remove("JOB_COMPLETION_INDEX");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A test video in `../shared/media`.
pub fn media(rel: &str) -> PathBuf {
    let p = shared().join("media").join(rel);
    assert!(p.exists(), "test media missing: {}", p.display());
    p
}

/// One array of an `.npz`.
pub fn npz_array(path: &Path, key: &str) -> marlin_npy::Array {
    use std::io::Read;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut entry = zip.by_name(&format!("{key}.npy")).unwrap_or_else(|e| panic!("{}: {key}: {e}", path.display()));
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    marlin_npy::parse(&bytes).unwrap_or_else(|(_, e)| panic!("{e}"))
}

/// The `frames` array of an oracle `.npz`: (shape, bytes).
pub fn npz_frames(path: &Path) -> (Vec<usize>, Vec<u8>) {
    let a = npz_array(path, "frames");
    match a.data {
        marlin_npy::Data::U8(v) => (a.shape, v),
        _ => panic!("{}: frames are not uint8", path.display()),
    }
}

/// Reads a uint8 .npy written by `marlin decode`.
pub fn read_u8(path: &Path) -> (Vec<usize>, Vec<u8>) {
    let a = marlin_npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    match a.data {
        marlin_npy::Data::U8(v) => (a.shape, v),
        _ => panic!("{}: not uint8", path.display()),
    }
}

/// Encodes a test video with `gst-launch-1.0` (gstreamer1.0-tools; .ci/run installs it).
pub fn gst_make(pipeline: &str, out: &Path) {
    let line = format!("{pipeline} ! filesink location={}", out.display());
    let o = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(line.split_whitespace())
        .output()
        .expect("gst-launch-1.0 is needed to make test videos (apt-get install gstreamer1.0-tools)");
    assert!(o.status.success() && out.exists(), "gst-launch-1.0 {line}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Every frame of `video` as FFmpeg's command line converts it to RGB24 (an independent
/// reference for the exact colour path; .ci/run installs ffmpeg).
pub fn ffmpeg_rgb(video: &Path) -> Vec<u8> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg is needed as a reference (apt-get install ffmpeg)");
    assert!(o.status.success(), "ffmpeg {}: {}", video.display(), String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// ONNX Runtime's library for the `ort` tests (`marlin_test_support::onnxruntime`), loaded into
/// this process.
pub fn onnxruntime() -> PathBuf {
    let path = marlin_test_support::onnxruntime();
    marlin_onnx::load_runtime(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
    path
}
