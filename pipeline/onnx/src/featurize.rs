//! A featurize run's engines from its settings (`marlin_batch::FeaturizeConfig`): the encoder
//! with its manifest record, and the face detector when faces are cropped. The one opener of
//! `marlin featurize` / `marlin screen` and Python's `marlin_rs.featurize` (feature
//! `featurize`, which the GStreamer-free GPU check kit leaves off).

use marlin_batch::{FeaturizeConfig, ModelInfo};
use marlin_faces::FaceDetector;

use crate::{EngineOptions, OnnxError, OpenedModel, open_face_detector, open_model};

/// The encoder's options from a featurize run's settings.
pub fn encoder_options(config: &FeaturizeConfig) -> EngineOptions {
    EngineOptions {
        threads: config.encoder_threads,
        precision: config.precision,
        onnxruntime: config.onnxruntime.clone(),
        device: config.device,
        tensorrt_cache: config.tensorrt_cache.clone(),
    }
}

/// Opens the model `spec` (the run's `model`, which the caller has checked is set, as its
/// message names its own flag) with the run's model YAML, backend and options, and describes
/// it for the manifest. Random weights are refused: a featurize run records its checkpoint.
pub fn open_featurize_model(config: &FeaturizeConfig, spec: &str) -> Result<(OpenedModel, ModelInfo), OnnxError> {
    let model_config = config.model_config.as_deref().map(marlin_hub::resolve_config).transpose()?;
    let engine = open_model(spec, model_config, config.backend, &encoder_options(config))?;
    let Some(checkpoint) = engine.checkpoint.as_deref() else {
        return Err(OnnxError::Unsupported("featurize needs a checkpoint, not random weights".into()));
    };
    let info = ModelInfo::of_checkpoint(spec, checkpoint, engine.extractor.config())?;
    Ok((engine, info))
}

/// Opens the run's face detector on its backend with `detector_threads`; `None` when faces
/// are not cropped.
pub fn open_featurize_detector(config: &FeaturizeConfig) -> Result<Option<Box<dyn FaceDetector>>, OnnxError> {
    if !config.faces.crop_face {
        return Ok(None);
    }
    let options = EngineOptions { threads: config.detector_threads, ..encoder_options(config) };
    open_face_detector(config.faces.detector.as_deref(), config.faces.backend, &options).map(Some)
}
