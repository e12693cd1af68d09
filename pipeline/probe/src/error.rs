//! The probe crate's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Data(String),
    /// A file written through a temporary name (the error names the file).
    #[error(transparent)]
    Write(#[from] marlin_npy::NpyError),
    /// Features of another model than the probe's.
    #[error("{}: this probe was trained on features of {detail}", path.display())]
    WrongModel { path: PathBuf, detail: String },
}
