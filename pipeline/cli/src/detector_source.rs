//! Turns `--detector` (and `--detector-backend`) into a started face detector: the given file,
//! or the one in the cache.

use std::path::PathBuf;

use anyhow::{Context, bail};
use marlin_faces::FaceDetector;
use marlin_onnx::{Backend, EngineOptions};

use crate::args::DetectorArgs;

pub fn load(args: &DetectorArgs) -> anyhow::Result<Box<dyn FaceDetector>> {
    open(
        args.detector.clone(),
        args.detector_backend.into(),
        &EngineOptions { threads: args.detector_threads, ..Default::default() },
    )
}

/// The detector file `detector` (default: the cache) on `backend`.
pub fn open(
    detector: Option<PathBuf>,
    backend: Backend,
    options: &EngineOptions,
) -> anyhow::Result<Box<dyn FaceDetector>> {
    let path = match detector {
        Some(p) => p,
        None => {
            let p = marlin_hub::cached_detector_path()?;
            if !p.exists() {
                bail!(
                    "no face detector: pass --detector face_detection_retina.pkl (FaceX-Zoo's RetinaFace) or run `marlin models fetch retinaface` (looked for {})",
                    p.display()
                );
            }
            p
        }
    };
    if !path.exists() {
        bail!("{}: no such detector file", path.display());
    }
    let detector = marlin_onnx::open_detector(backend, &path, options)
        .with_context(|| format!("cannot load the face detector {}", path.display()))?;
    tracing::info!("face detector: {}", detector.describe());
    Ok(detector)
}
