//! Probe files: the standardisation, the linear layer and the decision threshold, with the
//! model whose features they take and how they were validated. JSON, written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::logistic::sigmoid;
use crate::metrics::Confusion;
use crate::{Level, ProbeError};

/// The model a probe belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeModel {
    pub architecture: String,
    pub sha256: String,
    pub dim: usize,
}

/// How the probe did on held-out videos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// `split` (a held-out fraction of the videos) or `k-fold` (out-of-fold scores).
    pub method: String,
    pub samples: usize,
    pub auc: Option<f64>,
    pub eer: f64,
    pub accuracy: f64,
    pub confusion: Confusion,
}

/// A trained (or imported) linear probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub format: String,
    pub model: ProbeModel,
    pub level: Level,
    pub label_column: String,
    /// The label scored as 1 (`fake`) and the other one (`real`).
    pub positive: String,
    pub negative: String,
    /// Standardisation: `(x − mean) / std` per feature.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
    /// A sample is `positive` when its probability is at least this.
    pub threshold: f64,
    /// How the threshold was chosen (`eer`, `fpr=0.01`, `0.5`).
    pub threshold_rule: String,
    /// The inverse L2 strength it was trained with (absent for imported heads).
    pub c: Option<f64>,
    pub validation: Option<ValidationReport>,
    /// Where it came from.
    pub source: String,
}

/// The `format` of probe files written by this version.
pub const FORMAT: &str = "marlin-probe/1";

impl Probe {
    /// The probability that `features` (raw, as featurize wrote them) are `positive`.
    pub fn probability(&self, features: &[f64]) -> f64 {
        let z: f64 = features
            .iter()
            .zip(&self.mean)
            .zip(&self.std)
            .zip(&self.weights)
            .map(|(((x, m), s), w)| (x - m) / s * w)
            .sum();
        sigmoid(z + self.bias)
    }

    /// The label for a probability.
    pub fn label(&self, probability: f64) -> &str {
        if probability >= self.threshold { &self.positive } else { &self.negative }
    }

    /// Refuses features of another model than the probe's: another width, or another
    /// checkpoint where its SHA-256 is known. The error names `path`.
    pub fn check_model(
        &self,
        path: &Path,
        architecture: &str,
        sha256: Option<&str>,
        dim: usize,
    ) -> Result<(), ProbeError> {
        if sha256.is_some_and(|s| s != self.model.sha256) || self.model.dim != dim {
            let short = |s: &str| s.chars().take(12).collect::<String>();
            return Err(ProbeError::WrongModel {
                path: path.to_path_buf(),
                detail: format!(
                    "{} (sha256 {}…, dim {}); these are from {architecture} (sha256 {}, dim {dim})",
                    self.model.architecture,
                    short(&self.model.sha256),
                    self.model.dim,
                    sha256.map_or("unknown".into(), |s| format!("{}…", short(s)))
                ),
            });
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<(), ProbeError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|source| ProbeError::Json { path: path.to_path_buf(), source })?;
        Ok(marlin_npy::write_atomic(path, text.as_bytes())?)
    }

    pub fn load(path: &Path) -> Result<Self, ProbeError> {
        let bad = |reason: String| ProbeError::File { path: path.to_path_buf(), reason };
        let text = marlin_npy::read_input_to_string(path)
            .map_err(|source| ProbeError::Io { path: path.to_path_buf(), source })?;
        let probe: Probe = serde_json::from_str(&text).map_err(|e| bad(format!("not a probe file: {e}")))?;
        if probe.format != FORMAT {
            return Err(bad(format!("probe format {:?}; this marlin reads {FORMAT:?}", probe.format)));
        }
        let d = probe.model.dim;
        if probe.mean.len() != d
            || probe.std.len() != d
            || probe.weights.len() != d
            || probe.std.iter().any(|s| s.is_nan() || *s <= 0.0)
        {
            return Err(bad(format!(
                "inconsistent probe: dim {d}, {} means, {} stds, {} weights",
                probe.mean.len(),
                probe.std.len(),
                probe.weights.len()
            )));
        }
        let numbers = [("mean", &probe.mean), ("std", &probe.std), ("weights", &probe.weights)];
        if let Some((key, _)) = numbers.iter().find(|(_, v)| v.iter().any(|x| !x.is_finite())) {
            return Err(bad(format!("`{key}` holds a value that is not a finite number")));
        }
        for (key, v) in [("bias", probe.bias), ("threshold", probe.threshold)] {
            if !v.is_finite() {
                return Err(bad(format!("`{key}` is {v}, not a finite number")));
            }
        }
        Ok(probe)
    }
}
