//! Where the tests of every crate find their inputs: `../shared` beside the checkout (the
//! oracle, the media, the detector weights) and ONNX Runtime's library. Each panics when its
//! input is missing: these tests must never pass by skipping.

use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared` beside the checkout (or `MARLIN_SHARED_DIR`).
pub fn shared() -> PathBuf {
    let dir = std::env::var_os("MARLIN_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"));
    assert!(
        dir.join("oracle/README.md").is_file(),
        "the oracle folder is missing: expected {} (set MARLIN_SHARED_DIR); these tests cannot run without it",
        dir.display()
    );
    dir
}

/// A file of the oracle (`../shared/oracle/REL`).
pub fn oracle(rel: &str) -> PathBuf {
    let p = shared().join("oracle").join(rel);
    assert!(p.exists(), "oracle file missing: {}", p.display());
    p
}

/// FaceX-Zoo's RetinaFace weights in `../shared` (the detector MARLIN uses).
pub fn detector_path() -> PathBuf {
    let p = shared().join("models/facexzoo_retinaface/face_detection_retina.pkl");
    assert!(p.exists(), "detector weights missing: {}", p.display());
    p
}

/// ONNX Runtime's library: `ORT_DYLIB_PATH`, else what `tools/onnxruntime.sh` (run by
/// `tools/setup.sh`) put under target/.
pub fn onnxruntime() -> PathBuf {
    let path = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        let v = marlin_hub::ONNXRUNTIME_VERSION;
        root().join(format!("target/onnxruntime/{v}/onnxruntime/capi/libonnxruntime.so.{v}"))
    });
    assert!(
        path.is_file(),
        "ONNX Runtime is missing: expected {} (run tools/onnxruntime.sh, or set ORT_DYLIB_PATH)",
        path.display()
    );
    path
}
