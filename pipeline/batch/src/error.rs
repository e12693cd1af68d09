//! Errors of a featurisation run. Per-video problems never surface here: they are recorded in
//! `failures.csv` and the run goes on; these are the run's own (settings, inputs, outputs).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("config: {0}")]
    Config(String),
    #[error("input: {0}")]
    Input(String),
    /// The inputs of a run hold no video (nor any rejected entry).
    #[error("no videos found in {inputs} (extensions: {extensions})")]
    NoVideos { inputs: String, extensions: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Output(String),
    #[error(transparent)]
    Npy(#[from] marlin_npy::NpyError),
    #[error(transparent)]
    Media(#[from] marlin_media::MediaError),
    #[error(transparent)]
    Faces(#[from] marlin_faces::FaceError),
    #[error(transparent)]
    Model(#[from] marlin_model::ModelError),
    #[error(transparent)]
    Setting(#[from] marlin_settings::OutOfRange),
    #[error("interrupted")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}
