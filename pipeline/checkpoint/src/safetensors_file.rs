//! safetensors files (the Hugging Face mirrors' `model.safetensors` and plain exports), in any
//! float type, upcast to f32.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::tensor::to_f32;
use crate::{CheckpointError, DType, Tensor};

/// The tensors of a safetensors file held in `bytes`; `path` names it in errors.
pub(crate) fn load(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::Corrupt { path: path.to_path_buf(), detail: format!("safetensors: {e}") })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::I64 => DType::I64,
            Dtype::I32 => DType::I32,
            Dtype::I16 => DType::I16,
            Dtype::I8 => DType::I8,
            Dtype::U8 => DType::U8,
            Dtype::BOOL => DType::Bool,
            other => {
                return Err(CheckpointError::Unsupported {
                    path: path.to_path_buf(),
                    detail: format!("tensor {name} has element type {other:?}"),
                });
            }
        };
        let t = Tensor { shape: view.shape().to_vec(), stored_as: dtype, data: to_f32(dtype, view.data()) };
        out.insert(name, t);
    }
    if out.is_empty() {
        return Err(CheckpointError::NoTensors {
            path: path.to_path_buf(),
            detail: "the safetensors file is empty".into(),
        });
    }
    Ok(out)
}
