//! Turns `--model` / `--config` into a loaded model: a checkpoint path, or a released name
//! resolved through the cache.

use std::path::PathBuf;

use anyhow::Context;
use marlin_model::{Encoder, EncoderWeights, Marlin, MarlinConfig};

use crate::args::ModelArgs;

/// `random:<preset>` in `--model` (benchmarks only): that architecture with random weights.
pub fn load_or_random(args: &ModelArgs) -> anyhow::Result<Encoder> {
    match args.model.strip_prefix("random:") {
        Some(preset) => {
            let cfg = match &args.config {
                Some(p) => MarlinConfig::from_yaml_file(p)?,
                None => MarlinConfig::preset(preset)
                    .with_context(|| format!("no preset {preset:?}: vit_small, vit_base or vit_large"))?,
            };
            let weights = EncoderWeights::random(&cfg, 7);
            Ok(Encoder::new(cfg, weights, args.threads, args.precision.into())?)
        }
        None => Ok(load(args)?.encoder),
    }
}

pub fn load(args: &ModelArgs) -> anyhow::Result<Marlin> {
    let path = checkpoint_path(&args.model)?;
    let config = args.config.as_deref().map(MarlinConfig::from_yaml_file).transpose()?;
    Marlin::load(&path, config, args.threads, args.precision.into()).with_context(|| format!("cannot load model {}", args.model))
}

fn checkpoint_path(spec: &str) -> anyhow::Result<PathBuf> {
    Ok(marlin_hub::resolve_checkpoint(spec)?)
}

/// What a run records of its model: the name given, the file, its SHA-256, the architecture.
pub fn info(spec: &str, model: &Marlin) -> anyhow::Result<marlin_batch::ModelInfo> {
    Ok(marlin_batch::ModelInfo {
        spec: spec.to_string(),
        sha256: marlin_batch::sha256_file(&model.path)?,
        path: std::fs::canonicalize(&model.path).unwrap_or(model.path.clone()),
        architecture: model.encoder.config().name.clone(),
        dim: model.encoder.dim(),
    })
}
