//! The faces crate's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Checkpoint(#[from] marlin_checkpoint::CheckpointError),
    #[error("{}: not the RetinaFace detector: {detail}", path.display())]
    NotRetinaFace { path: PathBuf, detail: String },
    #[error("image of {width}x{height} with {len} bytes: expected width·height·3")]
    BadImage { width: usize, height: usize, len: usize },
    /// Another engine's failure (e.g. ONNX Runtime's), its cause kept.
    #[error("face detector: {0}")]
    Detector(#[source] Box<dyn std::error::Error + Send + Sync>),
}
