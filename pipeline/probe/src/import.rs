//! PyTorch linear heads as probes: MARLIN's downstream classifiers save a single `Linear`
//! (`fc.weight`/`fc.bias`, in a `.pt` state dict or a Lightning `.ckpt`).

use std::path::Path;

use crate::ProbeError;

/// A single Linear layer's weight and bias from a PyTorch file, as one logit: `fc.weight` /
/// `fc.bias` first, else the only 2-D weight of `dim` columns. Two outputs (a 2-class softmax)
/// become their difference (class 1 − class 0).
pub fn linear_head(path: &Path, dim: usize) -> Result<(Vec<f64>, f64), ProbeError> {
    let bad = |reason: String| ProbeError::File { path: path.to_path_buf(), reason };
    let ck = marlin_checkpoint::Checkpoint::load(path)
        .map_err(|source| ProbeError::Checkpoint { path: path.to_path_buf(), source })?;
    let candidates: Vec<&String> = ck
        .tensors
        .iter()
        .filter(|(k, t)| k.ends_with(".weight") && t.shape.len() == 2 && t.shape[1] == dim)
        .map(|(k, _)| k)
        .collect();
    let key = match candidates.iter().find(|k| k.ends_with("fc.weight")) {
        Some(k) => (*k).clone(),
        None if candidates.len() == 1 => candidates[0].clone(),
        None if candidates.is_empty() => {
            return Err(bad(format!(
                "no Linear layer taking {dim} features (keys: {})",
                ck.tensors.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        None => {
            return Err(bad(format!(
                "several Linear layers take {dim} features ({}); keep only the head",
                candidates.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    };
    let w = &ck.tensors[&key];
    let bias_key = format!("{}.bias", key.trim_end_matches(".weight"));
    let b = ck.tensors.get(&bias_key).map(|t| t.data.clone()).unwrap_or_else(|| vec![0.0; w.shape[0]]);
    let row = |r: usize| w.data[r * dim..(r + 1) * dim].iter().map(|&v| v as f64);
    match w.shape[0] {
        1 => Ok((row(0).collect(), b[0] as f64)),
        2 => Ok((row(1).zip(row(0)).map(|(a, z)| a - z).collect(), (b[1] - b[0]) as f64)),
        n => Err(bad(format!("`{key}` has {n} outputs; a screening head has 1 (a logit) or 2 (real, fake)"))),
    }
}
