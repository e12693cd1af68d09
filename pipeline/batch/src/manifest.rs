//! `manifest.json`: what made the outputs (config, model and its SHA-256, versions, decoders)
//! and what they hold (counts, timings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::BatchError;
use crate::config::FeaturizeConfig;
use crate::journal::Record;
use crate::shard::Shard;

/// The model a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// What the user named (`--model`): a path or a released name.
    pub spec: String,
    pub path: PathBuf,
    pub sha256: String,
    /// The architecture (`vit_small` …).
    pub architecture: String,
    pub dim: usize,
}

/// The manifest's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub marlin_rs: String,
    /// All the run's videos are finished (done or failed).
    pub complete: bool,
    pub shard: Option<ShardInfo>,
    pub model: ModelInfo,
    pub config: FeaturizeConfig,
    pub gstreamer: String,
    /// What computed the rows (`encoder: cpu f32, 2 threads`, `detector: onnx-cpu (ONNX
    /// Runtime)`); a merge lists every shard's.
    #[serde(default)]
    pub engines: Vec<String>,
    pub row_shape: Vec<usize>,
    pub counts: Counts,
    /// Decoder element → videos it decoded.
    pub decoders: BTreeMap<String, u64>,
    /// Colour path → videos.
    pub colour_paths: BTreeMap<String, u64>,
    /// The last process's timings (earlier resumed runs are not included).
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: usize,
    pub count: usize,
}

impl From<Shard> for ShardInfo {
    fn from(s: Shard) -> Self {
        Self { index: s.index, count: s.count }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Videos of this run (this shard's share), rejected inputs included.
    pub videos: u64,
    pub done: u64,
    pub failed: u64,
    /// Videos not finished (after an interruption).
    pub pending: u64,
    pub rows: u64,
    pub frames_decoded: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    pub wall_s: f64,
    /// The encoder's busy time, and its time waiting for clips with none queued.
    pub encode_s: f64,
    pub clips_per_s: f64,
    pub encoder_wait_s: f64,
    /// Decoding workers, and their summed time decoding, detecting and cropping faces, and
    /// waiting for room in the encoder's queue.
    pub workers: u64,
    pub decode_s: f64,
    pub faces_s: f64,
    pub workers_wait_s: f64,
}

impl Manifest {
    /// Tallies the decoders and colour paths of the finished videos.
    pub fn tally(&mut self, records: &[Record]) {
        for r in records {
            if let Record::Done { decoder, colour, .. } = r {
                *self.decoders.entry(decoder.clone().unwrap_or_else(|| "none".into())).or_default() += 1;
                *self.colour_paths.entry(colour.clone().unwrap_or_else(|| "none".into())).or_default() += 1;
            }
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), BatchError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| BatchError::Internal(e.to_string()))?;
        Ok(marlin_npy::write_atomic(path, text.as_bytes())?)
    }

    pub fn read(path: &Path) -> Result<Self, BatchError> {
        let text =
            marlin_npy::read_input_to_string(path).map_err(|source| BatchError::Io { path: path.into(), source })?;
        serde_json::from_str(&text).map_err(|e| BatchError::Output(format!("{}: {e}", path.display())))
    }
}

impl ModelInfo {
    /// The record of the model `spec` named, read from `checkpoint` with architecture `cfg`:
    /// hashes the file.
    pub fn of_checkpoint(spec: &str, checkpoint: &Path, cfg: &marlin_model::MarlinConfig) -> Result<Self, BatchError> {
        let sha256 = marlin_checkpoint::sha256_file(checkpoint)
            .map_err(|source| BatchError::Io { path: checkpoint.into(), source })?;
        Ok(Self {
            spec: spec.to_string(),
            sha256,
            path: std::fs::canonicalize(checkpoint).unwrap_or(checkpoint.to_path_buf()),
            architecture: cfg.name.clone(),
            dim: cfg.encoder.embed_dim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_record_hashes_the_checkpoint() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let cfg = marlin_model::MarlinConfig::preset("vit_small").unwrap();
        let info = ModelInfo::of_checkpoint("abc", &p, &cfg).unwrap();
        assert_eq!(info.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!((info.architecture.as_str(), info.dim), ("marlin_vit_small_ytf", 384));
    }
}
