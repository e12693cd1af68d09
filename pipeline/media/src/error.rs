//! The media crate's errors: each names the file and what went wrong with it.

use std::path::PathBuf;

/// Why a video could not be read. `Display` is one line starting with the file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer could not start: {0}")]
    Init(String),
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: not a video GStreamer can read ({reason})", path.display())]
    NotAVideo { path: PathBuf, reason: String },
    #[error("{}: truncated or incomplete: {reason}", path.display())]
    Incomplete { path: PathBuf, reason: String },
    #[error("{}: no video stream (audio or data only)", path.display())]
    NoVideoStream { path: PathBuf },
    #[error("{}: no decoder installed for {codec}", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("{}: NVDEC decoding was asked for but no NVDEC decoder takes {codec} (nvcodec plugin missing, no NVIDIA driver, or codec not supported)", path.display())]
    NoNvdec { path: PathBuf, codec: String },
    #[error("{}: decoding failed after {frames} frame(s): {reason}", path.display())]
    Decode { path: PathBuf, frames: u64, reason: String },
    #[error("{}: truncated: the video stops after {frames} frames at {end:.2} s, the container says {declared:.2} s", path.display())]
    Truncated { path: PathBuf, frames: u64, end: f64, declared: f64 },
    #[error("{}: stalled after {frames} frame(s): no frame, error or end of stream for {seconds:.0} s (a damaged file, or a read that hangs)", path.display())]
    Stalled { path: PathBuf, frames: u64, seconds: f64 },
    #[error("{}: no decodable video frames", path.display())]
    NoFrames { path: PathBuf },
    #[error("{}: the decoder outputs {format}, which the exact colour path does not cover; use colour mode `auto` or `videoconvert`", path.display())]
    ExactColourUnsupported { path: PathBuf, format: String },
    #[error("{}: colour conversion failed: {reason}", path.display())]
    Convert { path: PathBuf, reason: String },
    #[error(transparent)]
    Setting(#[from] marlin_settings::OutOfRange),
    #[error("{}: cannot write: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}
