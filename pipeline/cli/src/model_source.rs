//! Turns `--model` / `--config` (and the backend flags) into a loaded model: a checkpoint path,
//! or a released name resolved through the cache.

use std::path::{Path, PathBuf};

use anyhow::Context;
use marlin_model::{EncoderWeights, FeatureExtractor, Marlin, MarlinConfig};
use marlin_onnx::{Backend, EngineOptions};

use crate::args::{EngineArgs, ModelArgs};

/// A feature engine and the checkpoint it was made from (`None` for `random:<preset>`).
pub struct Engine {
    pub extractor: Box<dyn FeatureExtractor>,
    pub checkpoint: Option<PathBuf>,
}

/// The engine of `engine.backend` on the model of `args`. `random:<preset>` in `--model`
/// (benchmarks only): that architecture with random weights.
pub fn engine(args: &ModelArgs, engine: &EngineArgs) -> anyhow::Result<Engine> {
    let options = EngineOptions {
        threads: args.threads,
        precision: args.precision.into(),
        onnxruntime: None,
        device: engine.device,
        tensorrt_cache: engine.tensorrt_cache.clone(),
    };
    open(args, engine.backend.into(), &options)
}

/// The engine of `backend` on the model of `args`, started with `options`.
pub fn open(args: &ModelArgs, backend: Backend, options: &EngineOptions) -> anyhow::Result<Engine> {
    let (cfg, weights, checkpoint) = match args.model.strip_prefix("random:") {
        Some(preset) => {
            let cfg = match &args.config {
                Some(p) => MarlinConfig::from_yaml_file(p)?,
                None => MarlinConfig::preset(preset)
                    .with_context(|| format!("no preset {preset:?}: vit_small, vit_base or vit_large"))?,
            };
            let weights = EncoderWeights::random(&cfg, 7);
            (cfg, weights, None)
        }
        None => {
            let (cfg, weights, path) = read(args)?;
            (cfg, weights.encoder, Some(path))
        }
    };
    let extractor = marlin_onnx::open_engine(backend, cfg, weights, options)
        .with_context(|| format!("cannot start the {} backend", backend.name()))?;
    tracing::info!("encoder: {}", extractor.describe());
    Ok(Engine { extractor, checkpoint })
}

/// The checkpoint's architecture and weights, unpacked, and its path.
pub fn read(args: &ModelArgs) -> anyhow::Result<(MarlinConfig, marlin_model::MarlinWeights, PathBuf)> {
    let (path, config) = checkpoint_and_config(args)?;
    let (cfg, weights) = Marlin::read(&path, config).with_context(|| format!("cannot load model {}", args.model))?;
    Ok((cfg, weights, path))
}

/// The CPU model with its decoder when the checkpoint has one (reconstruction, probes).
pub fn load(args: &ModelArgs) -> anyhow::Result<Marlin> {
    let (path, config) = checkpoint_and_config(args)?;
    Marlin::load(&path, config, args.threads, args.precision.into())
        .with_context(|| format!("cannot load model {}", args.model))
}

/// The checkpoint file `--model` names and the `--config` given, read.
fn checkpoint_and_config(args: &ModelArgs) -> anyhow::Result<(PathBuf, Option<MarlinConfig>)> {
    let path = marlin_hub::resolve_checkpoint(&args.model)?;
    let config = args.config.as_deref().map(MarlinConfig::from_yaml_file).transpose()?;
    Ok((path, config))
}

/// What a run records of its model: the name given, the file, its SHA-256, the architecture.
pub fn info(spec: &str, checkpoint: &Path, cfg: &MarlinConfig) -> anyhow::Result<marlin_batch::ModelInfo> {
    Ok(marlin_batch::ModelInfo {
        spec: spec.to_string(),
        sha256: marlin_batch::sha256_file(checkpoint)?,
        path: std::fs::canonicalize(checkpoint).unwrap_or(checkpoint.to_path_buf()),
        architecture: cfg.name.clone(),
        dim: cfg.encoder.embed_dim,
    })
}
