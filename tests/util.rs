//! Helpers shared by the test modules: the oracle folder, array comparison, the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared` beside the checkout (or `MARLIN_SHARED_DIR`). Panics when it is missing: the
/// oracle tests must never pass by skipping.
pub fn shared() -> PathBuf {
    let dir = std::env::var_os("MARLIN_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    assert!(
        dir.join("oracle/README.md").is_file(),
        "the oracle folder is missing: expected {} (set MARLIN_SHARED_DIR); these tests cannot run without it",
        dir.display()
    );
    dir
}

pub fn oracle(rel: &str) -> PathBuf {
    let p = shared().join("oracle").join(rel);
    assert!(p.exists(), "oracle file missing: {}", p.display());
    p
}

pub fn read_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = marlin_npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    let v = a.to_f32();
    (a.shape, v)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs the `marlin` binary.
pub fn marlin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marlin"));
    cmd.args(args).env_remove("MARLIN_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run marlin")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
