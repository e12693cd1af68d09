//! Opening the engines: a model spec (checkpoint path, released name, or `random:<preset>`) on a
//! backend becomes a [`FeatureExtractor`], a detector file on a backend a [`FaceDetector`] —
//! the CPU engines of `marlin-model` / `marlin-faces`, or the exported graphs in ONNX Runtime on
//! one of its providers. The one place the CLI, the GStreamer elements and the Python module
//! turn their settings into engines.

use std::path::{Path, PathBuf};

use marlin_faces::{FaceDetector, RetinaFace};
use marlin_model::{Backend, Encoder, EncoderWeights, FeatureExtractor, MarlinConfig, Precision};

use crate::{OnnxEncoder, OnnxError, OnnxRetinaFace, Provider, load_runtime};

/// Whether this build can run `backend` (the GPU providers need their cargo feature).
pub fn compiled(backend: Backend) -> bool {
    match backend {
        Backend::Cpu | Backend::OnnxCpu => true,
        Backend::Cuda => cfg!(feature = "cuda"),
        Backend::TensorRt => cfg!(feature = "tensorrt"),
    }
}

/// How to start an engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// CPU threads (0: every core).
    pub threads: usize,
    /// The CPU encoder's arithmetic; the ONNX backends compute in f32 (TensorRT in fp16).
    pub precision: Precision,
    /// libonnxruntime.so to load (default: see [`load_runtime`]).
    pub onnxruntime: Option<PathBuf>,
    /// GPU index for `cuda` / `tensorrt`.
    pub device: i32,
    /// TensorRT's engine cache (default: `tensorrt/` in marlin's cache folder).
    pub tensorrt_cache: Option<PathBuf>,
}

/// A started feature engine and the checkpoint it was made from.
pub struct OpenedModel {
    pub extractor: Box<dyn FeatureExtractor>,
    /// The checkpoint file; `None` for `random:<preset>`.
    pub checkpoint: Option<PathBuf>,
}

impl OpenedModel {
    /// The SHA-256 of the checkpoint file (lowercase hex); `None` for random weights.
    pub fn sha256(&self) -> Result<Option<String>, OnnxError> {
        let Some(path) = &self.checkpoint else { return Ok(None) };
        marlin_checkpoint::sha256_file(path)
            .map(Some)
            .map_err(|e| OnnxError::File { path: path.clone(), detail: format!("cannot read: {e}") })
    }
}

/// Opens the model `spec` names on `backend`: a checkpoint file or a released name (with the
/// model `config` when given, else the released architecture matching the weights; see
/// `marlin_hub::resolve_config`), or `random:<preset>` (an architecture with seeded random
/// weights, for benchmarks).
pub fn open_model(
    spec: &str,
    config: Option<MarlinConfig>,
    backend: Backend,
    options: &EngineOptions,
) -> Result<OpenedModel, OnnxError> {
    let (cfg, weights, checkpoint) = match spec.strip_prefix("random:") {
        Some(preset) => {
            let cfg = match config {
                Some(c) => c,
                None => marlin_hub::resolve_config(Path::new(preset))?,
            };
            let weights = EncoderWeights::random(&cfg, 7);
            (cfg, weights, None)
        }
        None => {
            let file = marlin_hub::read_model(spec, config)?;
            (file.config, file.weights.encoder, Some(file.path))
        }
    };
    let extractor = open_engine(backend, cfg, weights, options)?;
    tracing::info!("encoder: {}", extractor.describe());
    Ok(OpenedModel { extractor, checkpoint })
}

/// Opens the face detector at `path` (default: the cached `face_detection_retina.pkl`) on
/// `backend`.
pub fn open_face_detector(
    path: Option<&Path>,
    backend: Backend,
    options: &EngineOptions,
) -> Result<Box<dyn FaceDetector>, OnnxError> {
    let path = marlin_hub::detector_path(path)?;
    let detector = open_detector(backend, &path, options)
        .map_err(|source| OnnxError::Detector { path: path.clone(), source: Box::new(source) })?;
    tracing::info!("face detector: {}", detector.describe());
    Ok(detector)
}

impl EngineOptions {
    /// Refuses values outside their bounds, naming the setting.
    pub fn validate(&self) -> Result<(), marlin_settings::OutOfRange> {
        marlin_model::THREADS.check("threads", self.threads)?;
        marlin_settings::Bounds::closed(0, 1023).check("device", self.device)?;
        Ok(())
    }
}

/// Starts `backend` on the encoder `weights` of `cfg`.
pub fn open_engine(
    backend: Backend,
    cfg: MarlinConfig,
    weights: EncoderWeights,
    options: &EngineOptions,
) -> Result<Box<dyn FeatureExtractor>, OnnxError> {
    options.validate()?;
    if backend != Backend::Cpu && options.precision != Precision::F32 {
        return Err(OnnxError::Unsupported(format!(
            "precision {} is the cpu backend's; {} computes in f32 (tensorrt in fp16)",
            options.precision.name(),
            backend.name()
        )));
    }
    let Some(provider) = provider(backend, options)? else {
        let encoder = Encoder::new(cfg, weights, options.threads, options.precision)?;
        return Ok(Box::new(encoder));
    };
    Ok(Box::new(OnnxEncoder::new(cfg, &weights, provider, options.threads)?))
}

/// Starts the face detector `face_detection_retina.pkl` at `path` on `backend` (the
/// precision option does not apply: the detector computes in f32, TensorRT in fp16).
pub fn open_detector(
    backend: Backend,
    path: &Path,
    options: &EngineOptions,
) -> Result<Box<dyn FaceDetector>, OnnxError> {
    options.validate()?;
    let Some(provider) = provider(backend, options)? else {
        let detector = RetinaFace::load(path, options.threads)?;
        return Ok(Box::new(detector));
    };
    Ok(Box::new(OnnxRetinaFace::load(path, provider, options.threads)?))
}

/// The ONNX Runtime provider of `backend` with the runtime loaded; `None` for the native CPU
/// engines.
fn provider(backend: Backend, options: &EngineOptions) -> Result<Option<Provider>, OnnxError> {
    if !compiled(backend) {
        return Err(OnnxError::Unsupported(format!(
            "backend {0} needs marlin built with `--features {0}`",
            backend.name()
        )));
    }
    let provider = match backend {
        Backend::Cpu => return Ok(None),
        Backend::OnnxCpu => Provider::Cpu,
        Backend::Cuda => Provider::Cuda { device: options.device },
        Backend::TensorRt => Provider::TensorRt {
            device: options.device,
            fp16: true,
            cache: options.tensorrt_cache.clone().unwrap_or_else(default_tensorrt_cache),
        },
    };
    load_runtime(options.onnxruntime.as_deref())?;
    Ok(Some(provider))
}

/// `tensorrt/` in marlin's cache folder (`MARLIN_CACHE_DIR`, else the user cache's `marlin/`).
fn default_tensorrt_cache() -> PathBuf {
    marlin_hub::cache_dir().map_or_else(|_| std::env::temp_dir().join("marlin-tensorrt"), |d| d.join("tensorrt"))
}
