//! Errors of checkpoint reading; each names the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{}: not a checkpoint ({detail}); expected a torch .pt/.pth (zip or legacy) or a .safetensors file",
        path.display()
    )]
    NotACheckpoint { path: PathBuf, detail: String },
    #[error("{}: truncated or corrupt checkpoint: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: unsupported checkpoint content: {detail}", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("{}: no tensors found: {detail}", path.display())]
    NoTensors { path: PathBuf, detail: String },
}
