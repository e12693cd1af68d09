//! What a user's `model`, `model_config` and `detector` settings name, resolved and read: a
//! checkpoint file or a released model name (found in the cache); a MARLIN YAML model config,
//! a preset or a released name; the face detector file given, else the cached one. The CLI,
//! the GStreamer elements and the Python module all resolve them here
//! (`marlin_onnx::open_model` starts an engine on top).

use std::path::{Path, PathBuf};

use marlin_model::{Marlin, MarlinConfig, MarlinWeights, Precision};

use crate::{HubError, Release, cached_detector_path, resolve_checkpoint};

/// A checkpoint as read from disk: its file, architecture and weights (unpacked, not started).
pub struct ModelFile {
    pub path: PathBuf,
    pub config: MarlinConfig,
    pub weights: MarlinWeights,
}

/// The model config `name` gives: a MARLIN YAML file (as `config/pretrain/*.yaml` of the
/// official repo), else a preset (`vit_small`) or a released model's name
/// (`marlin_vit_small_ytf`, `vit_small_ytf`).
pub fn resolve_config(name: &Path) -> Result<MarlinConfig, HubError> {
    if name.exists() {
        return MarlinConfig::from_yaml_file(name).map_err(|source| HubError::Config { source });
    }
    let text = name.to_string_lossy();
    let preset = Release::parse(&text).map(Release::preset).unwrap_or(&text);
    MarlinConfig::preset(preset).ok_or_else(|| HubError::UnknownConfig(text.into_owned()))
}

/// Reads the model `spec` names (a checkpoint path or a released name), with the model
/// `config` when given (else the released architecture matching the weights).
pub fn read_model(spec: &str, config: Option<MarlinConfig>) -> Result<ModelFile, HubError> {
    let path = resolve_checkpoint(spec)?;
    let (config, weights) =
        Marlin::read(&path, config).map_err(|source| HubError::Model { spec: spec.into(), source })?;
    Ok(ModelFile { path, config, weights })
}

/// The CPU model of `spec` with its decoder when the checkpoint has one (reconstruction).
pub fn load_model(
    spec: &str,
    config: Option<MarlinConfig>,
    threads: usize,
    precision: Precision,
) -> Result<Marlin, HubError> {
    let path = resolve_checkpoint(spec)?;
    Marlin::load(&path, config, threads, precision).map_err(|source| HubError::Model { spec: spec.into(), source })
}

/// The face detector file: `given`, else FaceX-Zoo's `face_detection_retina.pkl` in the cache.
pub fn detector_path(given: Option<&Path>) -> Result<PathBuf, HubError> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let cached = cached_detector_path()?;
            if !cached.exists() {
                return Err(HubError::NoDetector { looked: cached });
            }
            cached
        }
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Err(HubError::NoSuchDetector { path, why: "a directory, not a detector file" }),
        Ok(_) => Ok(path),
        Err(_) => Err(HubError::NoSuchDetector { path, why: "no such detector file" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_detector_names_the_file_and_what_to_do() {
        let dir = std::env::temp_dir();
        let e = detector_path(Some(&dir.join("marlin-no-such-detector.pkl"))).unwrap_err().to_string();
        assert!(e.contains("marlin-no-such-detector.pkl") && e.contains("no such"), "{e}");
        let e = detector_path(Some(&dir)).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
    }

    #[test]
    fn an_unknown_model_is_neither_file_nor_release() {
        let e = read_model("surely/not/a/model.pt", None).err().unwrap().to_string();
        assert!(e.contains("surely/not/a/model.pt") && e.contains("vit_small_ytf"), "{e}");
    }

    #[test]
    fn configs_are_named_by_preset_release_or_file() {
        for name in ["vit_base", "vit_base_ytf", "marlin_vit_base_ytf"] {
            assert_eq!(resolve_config(Path::new(name)).unwrap().encoder.embed_dim, 768, "{name}");
        }
        let e = resolve_config(Path::new("vit_huge")).unwrap_err().to_string();
        assert!(e.contains("vit_huge") && e.contains("vit_small"), "{e}");
    }
}
