//! The released MARLIN checkpoints (`marlin_vit_{small,base,large}_ytf.{encoder,full}.pt`):
//! their names and addresses, the local cache, and a download that resumes a partial file,
//! verifies that the result loads as the model it claims to be, and only then renames it into
//! place.
//!
//! Also ONNX Runtime's CPU library, from its PyPI wheel (`onnxruntime.rs`).
//!
//! Environment: `MARLIN_CACHE_DIR` overrides the cache folder (default: the user cache dir's
//! `marlin/`); `MARLIN_RELEASE_URL` overrides the release address (a mirror, or a test server).

mod download;
mod model;
mod onnxruntime;

use std::path::{Path, PathBuf};

pub use download::{Progress, download_verified};
pub use model::{ModelFile, detector_path, load_model, read_model, resolve_config};
pub use onnxruntime::{ONNXRUNTIME_VERSION, cached_onnxruntime, fetch_onnxruntime};

/// Where the official release lives.
pub const DEFAULT_RELEASE_URL: &str = "https://github.com/ControlNet/MARLIN/releases/download/model_v1";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("unknown model `{0}`; released models: vit_small_ytf, vit_base_ytf, vit_large_ytf")]
    UnknownModel(String),
    #[error("no cache folder: set MARLIN_CACHE_DIR")]
    NoCacheDir,
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{url}: the download does not load as {model}: {detail}")]
    Verify { url: String, model: String, detail: String },
    #[error("model `{0}` is not downloaded yet: run `marlin models fetch {0}`")]
    NotFetched(String),
    #[error("{0}: no such checkpoint file (nor a released model name: vit_small_ytf, vit_base_ytf, vit_large_ytf)")]
    NoSuchCheckpoint(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Write(#[from] marlin_npy::NpyError),
    #[error("{source}")]
    Config {
        #[source]
        source: marlin_model::ModelError,
    },
    #[error(
        "`{0}` is neither a model config file nor a known architecture: vit_small, vit_base, vit_large (or marlin_vit_small_ytf …)"
    )]
    UnknownConfig(String),
    #[error("cannot load model {spec}: {source}")]
    Model {
        spec: String,
        #[source]
        source: marlin_model::ModelError,
    },
    #[error(
        "no face detector: give FaceX-Zoo's RetinaFace face_detection_retina.pkl (--detector, or the `detector` setting) or run `marlin models fetch retinaface` (looked for {})",
        looked.display()
    )]
    NoDetector { looked: PathBuf },
    #[error("{}: {why} (the face detector is FaceX-Zoo's face_detection_retina.pkl)", path.display())]
    NoSuchDetector { path: PathBuf, why: &'static str },
}

/// What a user's `model` names: a checkpoint file, or a released model found in the cache.
pub fn resolve_checkpoint(spec: &str) -> Result<PathBuf, HubError> {
    let p = Path::new(spec);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    match Release::parse(spec) {
        Ok(r) => r.find_cached()?.ok_or_else(|| HubError::NotFetched(r.name().to_string())),
        Err(_) => Err(HubError::NoSuchCheckpoint(spec.to_string())),
    }
}

/// One of the released MARLIN models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    VitSmallYtf,
    VitBaseYtf,
    VitLargeYtf,
}

impl Release {
    pub const ALL: [Release; 3] = [Release::VitSmallYtf, Release::VitBaseYtf, Release::VitLargeYtf];

    /// Accepts `vit_small_ytf` and the official `marlin_vit_small_ytf`.
    pub fn parse(name: &str) -> Result<Self, HubError> {
        let short = name.strip_prefix("marlin_").unwrap_or(name);
        Self::ALL.into_iter().find(|r| r.name() == short).ok_or_else(|| HubError::UnknownModel(name.to_string()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Release::VitSmallYtf => "vit_small_ytf",
            Release::VitBaseYtf => "vit_base_ytf",
            Release::VitLargeYtf => "vit_large_ytf",
        }
    }

    /// The architecture preset in `configs/models/`.
    pub fn preset(self) -> &'static str {
        match self {
            Release::VitSmallYtf => "vit_small",
            Release::VitBaseYtf => "vit_base",
            Release::VitLargeYtf => "vit_large",
        }
    }

    /// `marlin_vit_small_ytf.encoder.pt`, or `.full.pt` with the decoder.
    pub fn file_name(self, full: bool) -> String {
        format!("marlin_{}.{}.pt", self.name(), if full { "full" } else { "encoder" })
    }

    /// The release address of the file.
    pub fn url(self, full: bool) -> String {
        let base = std::env::var("MARLIN_RELEASE_URL").unwrap_or_else(|_| DEFAULT_RELEASE_URL.to_string());
        format!("{}/{}", base.trim_end_matches('/'), self.file_name(full))
    }

    /// Where the file lives in the cache (whether or not it is there yet).
    pub fn cached_path(self, full: bool) -> Result<PathBuf, HubError> {
        Ok(cache_dir()?.join(self.file_name(full)))
    }

    /// The cached checkpoint to use for inference: the encoder file, else the full one.
    pub fn find_cached(self) -> Result<Option<PathBuf>, HubError> {
        for full in [false, true] {
            let p = self.cached_path(full)?;
            if p.is_file() {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Downloads the checkpoint into the cache (resuming a partial file), verifies it loads
    /// with this release's architecture, and returns its path. An already cached file is
    /// returned as is.
    pub fn fetch(self, full: bool, progress: &mut dyn Progress) -> Result<PathBuf, HubError> {
        let dest = self.cached_path(full)?;
        if dest.is_file() {
            return Ok(dest);
        }
        let dir = cache_dir()?;
        std::fs::create_dir_all(&dir).map_err(|source| HubError::Io { path: dir.clone(), source })?;
        let url = self.url(full);
        let preset = self.preset();
        download_verified(&url, &dest, progress, &|file: &Path| verify_loads(file, preset, full))?;
        Ok(dest)
    }
}

/// The face detector's file name in the cache (as FaceX-Zoo names it).
pub const DETECTOR_FILE: &str = "face_detection_retina.pkl";

/// FaceX-Zoo's RetinaFace in the fork marlin-pytorch installs (ControlNet/FaceX-Zoo).
pub const DETECTOR_URL: &str = "https://github.com/ControlNet/FaceX-Zoo/raw/main/models/face_detection/face_detection_1.0/face_detection_retina.pkl";

/// Where the face detector is downloaded from: `MARLIN_DETECTOR_URL`, else [`DETECTOR_URL`].
pub fn detector_url() -> String {
    std::env::var("MARLIN_DETECTOR_URL").unwrap_or_else(|_| DETECTOR_URL.to_string())
}

/// Downloads the face detector into the cache (`marlin models fetch retinaface`, Python's
/// `marlin_rs.fetch("retinaface")`), resuming a partial file; it must load as the detector
/// before it is renamed into place. Returns its path.
pub fn fetch_detector(progress: &mut dyn Progress) -> Result<PathBuf, HubError> {
    let verify = |p: &Path| marlin_faces::RetinaFace::load(p, 1).map(drop).map_err(|e| e.to_string());
    let url = detector_url();
    let dest = cached_detector_path()?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|source| HubError::Io { path: dir.to_path_buf(), source })?;
    }
    download_verified(&url, &dest, progress, &verify)?;
    Ok(dest)
}

/// Where FaceX-Zoo's RetinaFace lives in the cache (`marlin models fetch retinaface`), whether or
/// not it is there yet.
pub fn cached_detector_path() -> Result<PathBuf, HubError> {
    Ok(cache_dir()?.join(DETECTOR_FILE))
}

/// The cache folder: `MARLIN_CACHE_DIR`, else `<user cache dir>/marlin`.
pub fn cache_dir() -> Result<PathBuf, HubError> {
    match std::env::var_os("MARLIN_CACHE_DIR") {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d)),
        _ => dirs::cache_dir().map(|d| d.join("marlin")).ok_or(HubError::NoCacheDir),
    }
}

/// Checks that `file` loads as the `preset` architecture (and has a decoder when `full`).
pub fn verify_loads(file: &Path, preset: &str, full: bool) -> Result<(), String> {
    let cfg = marlin_model::MarlinConfig::preset(preset).ok_or_else(|| format!("no preset {preset}"))?;
    let model =
        marlin_model::Marlin::load(file, Some(cfg), 1, marlin_model::Precision::F32).map_err(|e| e.to_string())?;
    if full && !model.has_decoder() {
        return Err("a .full.pt without decoder tensors".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        let r = Release::parse("marlin_vit_base_ytf").unwrap();
        assert_eq!(r, Release::VitBaseYtf);
        assert_eq!(r.file_name(true), "marlin_vit_base_ytf.full.pt");
        assert!(Release::parse("vit_huge").unwrap_err().to_string().contains("vit_small_ytf"));
    }
}
