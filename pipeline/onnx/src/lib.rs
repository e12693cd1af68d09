//! MARLIN's encoder as an ONNX graph written from the loaded weights ([`export_encoder`]), and
//! that graph run through ONNX Runtime ([`OnnxEncoder`]): on its CPU provider everywhere, and
//! through CUDA or TensorRT (the `cuda` / `tensorrt` features) on NVIDIA GPUs. ONNX Runtime is
//! loaded at run time, so building this crate needs neither it nor CUDA.
//!
//! ```no_run
//! use marlin_model::{Clip, FeatureExtractor, Marlin};
//! use marlin_onnx::{OnnxEncoder, Provider};
//! let (cfg, weights) = Marlin::read("marlin_vit_small_ytf.encoder.pt".as_ref(), None)?;
//! let encoder = OnnxEncoder::new(cfg, &weights.encoder, Provider::Cpu, 0)?;
//! let features = encoder.extract_features(&[Clip::Rgb8(vec![0; 16 * 224 * 224 * 3])], false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod detector;
mod engine;
mod export;
#[cfg(feature = "featurize")]
mod featurize;
mod graph;
pub mod proto;
mod retinaface;
mod runtime;

use std::path::PathBuf;

pub use detector::OnnxRetinaFace;
pub use engine::{EngineOptions, OpenedModel, compiled, open_detector, open_engine, open_face_detector, open_model};
pub use export::{ExportOptions, InputLayout, OPSETS, export_encoder, meta};
#[cfg(feature = "featurize")]
pub use featurize::{encoder_options, open_featurize_detector, open_featurize_model};
pub use retinaface::export_retinaface;
pub use runtime::{
    OnnxEncoder, Provider, RUNTIME_SEARCH, RuntimeInfo, TENSORRT_MAX_BATCH, TENSORRT_OPT_BATCH, choose_library,
    load_runtime,
};

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("opset {0} is not written: choose {start}–{end}", start = OPSETS.start(), end = OPSETS.end())]
    Opset(i64),
    #[error("cannot export: {0}")]
    Export(String),
    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    #[error("bad input: {0}")]
    Input(String),
    /// ONNX Runtime could not be loaded, or answered unexpectedly.
    #[error("{0}")]
    Runtime(String),
    /// An ONNX Runtime call failed (`context` says which, with what to do where known).
    #[error("ONNX Runtime ({context}): {source}")]
    Ort {
        context: String,
        #[source]
        source: ort::Error,
    },
    /// A combination this build or backend does not run.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Model(#[from] marlin_model::ModelError),
    #[error(transparent)]
    Hub(#[from] marlin_hub::HubError),
    #[error(transparent)]
    Faces(#[from] marlin_faces::FaceError),
    #[error(transparent)]
    Setting(#[from] marlin_settings::OutOfRange),
    /// The featurize run's record of its model could not be made.
    #[cfg(feature = "featurize")]
    #[error(transparent)]
    Batch(#[from] marlin_batch::BatchError),
    #[error("cannot load the face detector {}: {source}", path.display())]
    Detector {
        path: PathBuf,
        #[source]
        source: Box<OnnxError>,
    },
}
