//! MARLIN (Cai et al., CVPR 2023, "Masked Autoencoder for facial video Representation
//! LearnINg") in Rust: its configs, checkpoint mapping and the CPU encoder that reproduces the
//! official `marlin-pytorch` features.
//!
//! ```no_run
//! use marlin_model::{Clip, Marlin, Precision};
//! let model = Marlin::load("marlin_vit_small_ytf.encoder.pt".as_ref(), None, 0, Precision::F32)?;
//! let clip = Clip::Rgb8(vec![0u8; 16 * 224 * 224 * 3]);
//! let features = model.encoder.extract_features(&[clip], false)?; // one (384,) vector
//! # Ok::<(), marlin_model::ModelError>(())
//! ```

mod backend;
mod config;
mod decoder;
mod encoder;
mod extractor;
pub mod matmul;
mod ops;
mod patchify;
mod vmath;
mod weights;

use std::path::{Path, PathBuf};

use marlin_checkpoint::{Checkpoint, CheckpointError};

pub use backend::{Backend, THREADS};
pub use config::{MarlinConfig, PRESETS, StackConfig};
pub use decoder::Decoder;
pub use encoder::{Encoder, Hidden};
pub use extractor::FeatureExtractor;
pub use matmul::Precision;
pub use ops::LN_EPS;
pub use patchify::{Clip, patchify, rgb8_to_channels_first, tubelet_shape};
pub use weights::{BlockWeights, DecoderWeights, EncoderWeights, LayerNormWeights, LinearWeights, MarlinWeights};

/// Errors of model loading and inference; file problems name the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{origin}: invalid model config: {detail}")]
    Config { origin: String, detail: String },
    #[error("{}: not a MARLIN checkpoint: {detail}", path.display())]
    NotMarlin { path: PathBuf, detail: String },
    #[error("{}: missing keys: {}", path.display(), keys.join(", "))]
    MissingKeys { path: PathBuf, keys: Vec<String> },
    #[error("{}: unexpected keys: {}", path.display(), keys.join(", "))]
    UnexpectedKeys { path: PathBuf, keys: Vec<String> },
    #[error("{}: shape mismatch for `{key}`: expected {expected:?}, found {found:?}", path.display())]
    ShapeMismatch { path: PathBuf, key: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{}: `{key}` holds {dtype} values: weights must be floating point (f32, f16, bf16 or f64)", path.display())]
    NotFloat { path: PathBuf, key: String, dtype: String },
    #[error(
        "{}: `{key}` holds {count} non-finite value(s) (the first, at index {first}, is {value}): the weights are damaged",
        path.display()
    )]
    NonFinite { path: PathBuf, key: String, count: usize, first: usize, value: f32 },
    #[error("{}: the config {config} contradicts the weights: {detail}", path.display())]
    ConfigMismatch { path: PathBuf, config: String, detail: String },
    #[error(
        "{}: no released architecture has an encoder of width {dim} and depth {depth}; pass its YAML model config (--model-config)",
        path.display()
    )]
    UnknownArchitecture { path: PathBuf, dim: usize, depth: usize },
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("{0}")]
    Runtime(String),
    /// Another engine's failure (e.g. ONNX Runtime's), its cause kept.
    #[error(transparent)]
    Engine(Box<dyn std::error::Error + Send + Sync>),
    /// The CPU lacks what a requested mode needs (the message names the feature).
    #[error("{0}")]
    Unsupported(String),
    #[error("{}: this checkpoint has no decoder: use the .full.pt (e.g. `marlin models fetch vit_base_ytf --full`)", path.display())]
    NoDecoder { path: PathBuf },
}

/// A loaded MARLIN model: the CPU encoder, and the MAE decoder of a full checkpoint.
pub struct Marlin {
    pub path: PathBuf,
    pub encoder: Encoder,
    pub decoder: Option<Decoder>,
}

impl Marlin {
    /// Loads a checkpoint in any supported layout. Without `config` the architecture is the
    /// released preset matching the weights' width and depth; with one, it must agree with
    /// the weights. `threads` = 0 uses every core.
    pub fn load(
        path: &Path,
        config: Option<MarlinConfig>,
        threads: usize,
        precision: Precision,
    ) -> Result<Self, ModelError> {
        let (cfg, weights) = Self::read(path, config)?;
        let decoder = if weights.decoder.is_empty() {
            None
        } else {
            Some(DecoderWeights::from_tensors(weights.decoder, &cfg, path)?)
        };
        let encoder = Encoder::new(cfg, weights.encoder, threads, precision)?;
        let decoder = decoder.map(|w| Decoder::new(w, encoder.precision()));
        Ok(Marlin { path: path.to_path_buf(), encoder, decoder })
    }

    /// A checkpoint's architecture and weights as stored, unpacked (what the ONNX exporter
    /// reads). `config` as in [`load`](Self::load).
    pub fn read(path: &Path, config: Option<MarlinConfig>) -> Result<(MarlinConfig, MarlinWeights), ModelError> {
        let ck = Checkpoint::load(path)?;
        let cfg = resolve_config(&ck, config)?;
        tracing::info!(path = %path.display(), model = %cfg.name, dim = cfg.encoder.embed_dim, "loaded checkpoint");
        let weights = MarlinWeights::from_checkpoint(ck, &cfg)?;
        Ok((cfg, weights))
    }

    /// Whether the checkpoint carried the decoder (`*.full.pt`).
    pub fn has_decoder(&self) -> bool {
        self.decoder.is_some()
    }

    /// The official `Marlin.forward(x, mask)` for one clip: the predicted pixels of the masked
    /// tokens (`mask[i]` false), (masked × patch_dim) in token order.
    pub fn reconstruct(&self, clip: &Clip, mask: &[bool]) -> Result<Vec<f32>, ModelError> {
        let decoder = self.decoder.as_ref().ok_or_else(|| ModelError::NoDecoder { path: self.path.clone() })?;
        decoder.reconstruct(&self.encoder, clip, mask)
    }
}

/// The config for a checkpoint: the given one, checked against the weights, or the preset
/// the weights' shapes identify.
pub fn resolve_config(ck: &Checkpoint, config: Option<MarlinConfig>) -> Result<MarlinConfig, ModelError> {
    let prefix = weights::key_prefix(ck)?;
    let (dim, depth) = weights::encoder_shape(ck, &prefix);
    match config {
        Some(cfg) => {
            if (cfg.encoder.embed_dim, cfg.encoder.depth) != (dim, depth) {
                return Err(ModelError::ConfigMismatch {
                    path: ck.path.clone(),
                    config: cfg.name.clone(),
                    detail: format!(
                        "the config has an encoder of width {} and depth {}, the weights one of width {dim} and depth {depth}",
                        cfg.encoder.embed_dim, cfg.encoder.depth
                    ),
                });
            }
            Ok(cfg)
        }
        None => MarlinConfig::preset_matching(dim, depth).ok_or(ModelError::UnknownArchitecture {
            path: ck.path.clone(),
            dim,
            depth,
        }),
    }
}
