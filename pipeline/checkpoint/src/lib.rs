//! Checkpoint reading for marlin-rs: PyTorch's zip format (`torch.save` since 1.6), its legacy
//! non-zip format, and safetensors, all without executing pickle code.
//!
//! [`Checkpoint::load`] sniffs the format from the file's first bytes and returns every tensor
//! by name, upcast to f32. [`load_pickled_object`] gives the whole pickled object tree for files
//! that hold more than a state dict (a pickled module).

mod digest;
mod error;
pub mod pickle;
mod safetensors_file;
mod tensor;
mod torch_file;

use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

pub use digest::sha256_file;
pub use error::CheckpointError;
pub use tensor::Tensor;

/// Element types a checkpoint may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    /// Whether the type holds floating-point numbers (what weights are stored as).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }
}

/// How a checkpoint file was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `torch.save` zip archive (`archive/data.pkl` + `archive/data/<key>`).
    TorchZip,
    /// `torch.save(..., _use_new_zipfile_serialization=False)`.
    TorchLegacy,
    Safetensors,
}

/// Every tensor of a checkpoint, by its full key.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub format: Format,
    pub tensors: BTreeMap<String, Tensor>,
}

impl Checkpoint {
    /// Reads `path`, whatever its format, into named f32 tensors. A zip archive's storages are
    /// read one at a time as its tensors need them.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
        let mut file = marlin_npy::open_input(path).map_err(io)?;
        let mut head = Vec::with_capacity(16);
        (&mut file).take(16).read_to_end(&mut head).map_err(io)?;
        let format = sniff(&head, path)?;
        tracing::debug!(path = %path.display(), ?format, "loading checkpoint");
        let tensors = match format {
            Format::TorchZip => torch_file::state_dict(&torch_file::load_zip(BufReader::new(file), path)?, path)?,
            Format::TorchLegacy | Format::Safetensors => {
                let mut bytes = head;
                file.read_to_end(&mut bytes).map_err(io)?;
                return Self::from_bytes(&bytes, path);
            }
        };
        Ok(Checkpoint { path: path.to_path_buf(), format, tensors })
    }

    /// Reads a checkpoint held in memory, whatever its format; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let format = sniff(bytes, path)?;
        let tensors = match format {
            Format::TorchZip => torch_file::state_dict(&torch_file::load_zip(Cursor::new(bytes), path)?, path)?,
            Format::TorchLegacy => torch_file::state_dict(&torch_file::load_legacy(bytes, path)?, path)?,
            Format::Safetensors => safetensors_file::load(bytes, path)?,
        };
        Ok(Checkpoint { path: path.to_path_buf(), format, tensors })
    }
}

/// The whole object a torch file pickles (tensors resolved, everything else inert), for files
/// that store more than a state dict.
pub fn load_pickled_object(path: impl AsRef<Path>) -> Result<pickle::Value, CheckpointError> {
    let path = path.as_ref();
    let bytes =
        marlin_npy::read_input(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
    pickled_object_from_bytes(&bytes, path)
}

/// [`load_pickled_object`] of a file held in memory; `path` names it in errors.
pub fn pickled_object_from_bytes(bytes: &[u8], path: &Path) -> Result<pickle::Value, CheckpointError> {
    match sniff(bytes, path)? {
        Format::TorchZip => torch_file::load_zip(Cursor::new(bytes), path),
        Format::TorchLegacy => torch_file::load_legacy(bytes, path),
        Format::Safetensors => Err(CheckpointError::Unsupported {
            path: path.to_path_buf(),
            detail: "a safetensors file holds tensors only, not a pickled object".into(),
        }),
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// `pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)`: torch's legacy magic number.
pub(crate) const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";

/// The format a file's first bytes announce.
fn sniff(head: &[u8], path: &Path) -> Result<Format, CheckpointError> {
    if head.starts_with(ZIP_MAGIC) {
        return Ok(Format::TorchZip);
    }
    if head.starts_with(LEGACY_MAGIC) {
        return Ok(Format::TorchLegacy);
    }
    if head.len() >= 9 && head[8] == b'{' {
        return Ok(Format::Safetensors);
    }
    let what = if head.is_empty() { "the file is empty" } else { "unrecognised content" };
    Err(CheckpointError::NotACheckpoint { path: path.to_path_buf(), detail: what.into() })
}
