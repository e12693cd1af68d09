//! Turns `--detector` into a loaded RetinaFace: the given file, or the one in the cache.

use anyhow::{Context, bail};
use marlin_faces::RetinaFace;

use crate::args::DetectorArgs;

pub fn load(args: &DetectorArgs) -> anyhow::Result<RetinaFace> {
    let path = match &args.detector {
        Some(p) => p.clone(),
        None => {
            let p = marlin_hub::cached_detector_path()?;
            if !p.exists() {
                bail!("no face detector: pass --detector face_detection_retina.pkl (FaceX-Zoo's RetinaFace) or run `marlin models fetch retinaface` (looked for {})", p.display());
            }
            p
        }
    };
    if !path.exists() {
        bail!("{}: no such detector file", path.display());
    }
    RetinaFace::load(&path, args.detector_threads).with_context(|| format!("cannot load the face detector {}", path.display()))
}
