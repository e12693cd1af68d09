//! The probe crate's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Data(String),
    /// A file read or written through marlin-npy (the error names the file).
    #[error(transparent)]
    Npy(#[from] marlin_npy::NpyError),
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: marlin_checkpoint::CheckpointError,
    },
    /// Features of another model than the probe's.
    #[error("{}: this probe was trained on features of {detail}", path.display())]
    WrongModel { path: PathBuf, detail: String },
}
