//! Choosing the engine that computes the features: the CPU encoder of `marlin-model`, or the
//! exported graph in ONNX Runtime on one of its providers. The one place the CLI and the
//! GStreamer encoder turn a backend name into a [`FeatureExtractor`].

use std::path::PathBuf;

use std::path::Path;

use marlin_faces::{FaceDetector, RetinaFace};
use marlin_model::{Encoder, EncoderWeights, FeatureExtractor, MarlinConfig, Precision};

use crate::{OnnxEncoder, OnnxError, OnnxRetinaFace, Provider, load_runtime};

/// Where the encoder computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The native CPU encoder (f32 or bf16).
    #[default]
    Cpu,
    /// The exported graph on ONNX Runtime's CPU provider.
    OnnxCpu,
    /// ONNX Runtime's CUDA provider (feature `cuda`).
    Cuda,
    /// TensorRT fp16 through ONNX Runtime (feature `tensorrt`).
    TensorRt,
}

impl Backend {
    pub const ALL: [Backend; 4] = [Backend::Cpu, Backend::OnnxCpu, Backend::Cuda, Backend::TensorRt];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::OnnxCpu => "onnx-cpu",
            Backend::Cuda => "cuda",
            Backend::TensorRt => "tensorrt",
        }
    }

    /// Whether this build can run it (GPU providers need their cargo feature).
    pub fn compiled(self) -> bool {
        match self {
            Backend::Cpu | Backend::OnnxCpu => true,
            Backend::Cuda => cfg!(feature = "cuda"),
            Backend::TensorRt => cfg!(feature = "tensorrt"),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("`{s}` is not one of {}", Self::ALL.map(Backend::name).join(", ")))
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

/// Starts `backend` on the encoder `weights` of `cfg`.
pub fn open_engine(
    backend: Backend,
    cfg: MarlinConfig,
    weights: EncoderWeights,
    options: &EngineOptions,
) -> Result<Box<dyn FeatureExtractor>, OnnxError> {
    if backend != Backend::Cpu && options.precision != Precision::F32 {
        return Err(OnnxError::Runtime(format!(
            "precision {} is the cpu backend's; {} computes in f32 (tensorrt in fp16)",
            options.precision.name(),
            backend.name()
        )));
    }
    let Some(provider) = provider(backend, options)? else {
        let encoder = Encoder::new(cfg, weights, options.threads, options.precision)
            .map_err(|e| OnnxError::Runtime(e.to_string()))?;
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
    let Some(provider) = provider(backend, options)? else {
        let detector = RetinaFace::load(path, options.threads).map_err(|e| OnnxError::Runtime(e.to_string()))?;
        return Ok(Box::new(detector));
    };
    Ok(Box::new(OnnxRetinaFace::load(path, provider, options.threads)?))
}

/// The ONNX Runtime provider of `backend` with the runtime loaded; `None` for the native CPU
/// engines.
fn provider(backend: Backend, options: &EngineOptions) -> Result<Option<Provider>, OnnxError> {
    if !backend.compiled() {
        return Err(OnnxError::Runtime(format!(
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
