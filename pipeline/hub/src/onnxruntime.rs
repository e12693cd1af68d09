//! ONNX Runtime's CPU library for the `onnx-cpu` backends, taken from its PyPI wheel (pinned,
//! SHA-256 checked) into the cache, so that a machine without Python or a system package gets
//! it with `marlin models fetch onnxruntime`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{HubError, Progress, cache_dir, download_verified};

/// The ONNX Runtime release fetched (the `ort` crate's api-31 needs ≥ 1.31).
pub const ONNXRUNTIME_VERSION: &str = "1.32.0";
const WHEEL: &str = "onnxruntime-1.32.0-cp312-cp312-manylinux_2_28_x86_64.whl";
const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/a3/81/55845186c20cba59f614991f4065dea148e48eeb9749893768c85ce64327/onnxruntime-1.32.0-cp312-cp312-manylinux_2_28_x86_64.whl";
const WHEEL_SHA256: &str = "99e1074c4b2197accd5073052a465361be17b89c093b8ffb6e6bd8f986c52df8";
/// The wheel's members that make the library (the runtime and its provider bridge).
const MEMBERS: [&str; 2] = ["libonnxruntime.so.1.32.0", "libonnxruntime_providers_shared.so"];

/// Where the library lives in the cache, whether or not it is there yet.
pub fn cached_onnxruntime() -> Result<PathBuf, HubError> {
    Ok(cache_dir()?.join("onnxruntime").join(ONNXRUNTIME_VERSION).join(MEMBERS[0]))
}

/// Downloads the wheel (`MARLIN_ONNXRUNTIME_URL` overrides its address), checks its SHA-256,
/// and unpacks the library into the cache; returns the library's path. Linux x86-64 only.
pub fn fetch_onnxruntime(progress: &mut dyn Progress) -> Result<PathBuf, HubError> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err(HubError::Unsupported(
            "no pinned ONNX Runtime build for this platform: install ONNX Runtime ≥ 1.31 and pass --onnxruntime PATH (or set ORT_DYLIB_PATH)".into(),
        ));
    }
    let lib = cached_onnxruntime()?;
    let dir = lib.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|source| HubError::Io { path: dir.clone(), source })?;
    let url = std::env::var("MARLIN_ONNXRUNTIME_URL").unwrap_or_else(|_| WHEEL_URL.to_string());
    let wheel = dir.join(WHEEL);
    download_verified(&url, &wheel, progress, &|file: &Path| {
        let got = marlin_checkpoint::sha256_file(file).map_err(|e| e.to_string())?;
        if got == WHEEL_SHA256 { Ok(()) } else { Err(format!("SHA-256 {got}, expected {WHEEL_SHA256}")) }
    })?;
    let unpacked = unpack(&wheel, &dir);
    let _ = std::fs::remove_file(&wheel);
    unpacked?;
    Ok(lib)
}

/// Writes each of [`MEMBERS`] from the wheel into `dir`, each through a temporary file and a
/// rename.
fn unpack(wheel: &Path, dir: &Path) -> Result<(), HubError> {
    let bad = |detail: String| HubError::Verify { url: wheel.display().to_string(), model: WHEEL.into(), detail };
    let file = std::fs::File::open(wheel).map_err(|source| HubError::Io { path: wheel.into(), source })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a wheel: {e}")))?;
    for member in MEMBERS {
        let mut entry =
            zip.by_name(&format!("onnxruntime/capi/{member}")).map_err(|e| bad(format!("no {member}: {e}")))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| bad(format!("{member}: {e}")))?;
        marlin_npy::write_atomic(&dir.join(member), &bytes)?;
    }
    Ok(())
}
