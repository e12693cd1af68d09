//! Runs an exported encoder graph through ONNX Runtime, loaded at run time (`libonnxruntime.so`
//! ≥ 1.31, found as [`load_runtime`] says), on its CPU provider or, built with the `cuda` /
//! `tensorrt` features, on an NVIDIA GPU.
//!
//! Inputs and outputs go through an IoBinding. On a GPU provider (feature `cuda`), the
//! `patches` input is made by the CUDA `patchify` kernel and bound where it lies, in device
//! memory (no host round trip of the 9.6 MB per clip of f32 patches); elsewhere it is made by
//! the kernel's CPU twin. Outputs are read into host memory.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use marlin_model::{Clip, EncoderWeights, FeatureExtractor, MarlinConfig, ModelError, patchify};
use ort::environment::Environment;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::Tensor;

use crate::OnnxError;
use crate::export::{ExportOptions, InputLayout, export_encoder, meta};

/// Where the graph runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// The CUDA provider on GPU `device`.
    Cuda { device: i32 },
    /// TensorRT (fp16 when asked) on GPU `device`, its engines cached in `cache`; the CUDA
    /// provider runs what TensorRT does not take.
    TensorRt { device: i32, fp16: bool, cache: PathBuf },
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Cpu => "onnx-cpu",
            Provider::Cuda { .. } => "cuda",
            Provider::TensorRt { .. } => "tensorrt",
        }
    }
}

/// The ONNX Runtime library in use.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    /// The file loaded (as given or found).
    pub library: PathBuf,
    /// ONNX Runtime's build string (version, commit).
    pub build: String,
}

/// What to do to get ONNX Runtime, for error messages.
const INSTALL_HINT: &str = "run `marlin models fetch onnxruntime` (ONNX Runtime's CPU library into the cache, where it is \
found), or install ONNX Runtime ≥ 1.31 and pass --onnxruntime PATH or set ORT_DYLIB_PATH (GPU providers need the onnxruntime-gpu build)";

/// Where [`load_runtime`] looks for ONNX Runtime when given no path, for help texts.
pub const RUNTIME_SEARCH: &str = "ORT_DYLIB_PATH, else the cache that `marlin models fetch onnxruntime` fills, else libonnxruntime.so on the library search path";

/// The library a program chose (its `--onnxruntime` flag), used where no path is given.
static CHOSEN_LIBRARY: OnceLock<PathBuf> = OnceLock::new();

/// Chooses the library [`load_runtime`] loads when given no path (the first choice stays).
pub fn choose_library(path: &Path) {
    let _ = CHOSEN_LIBRARY.set(path.to_path_buf());
}

/// Loads ONNX Runtime once per process: from `path`, else the [chosen](choose_library)
/// library, else `ORT_DYLIB_PATH`, else the one `marlin models fetch onnxruntime` put in the
/// cache, else `libonnxruntime.so` on the library search path. Later calls return the first
/// result.
pub fn load_runtime(path: Option<&Path>) -> Result<RuntimeInfo, OnnxError> {
    environment(path).map(|(info, _)| info)
}

/// The process's ONNX Runtime environment, made by the first call.
pub(crate) fn environment(path: Option<&Path>) -> Result<(RuntimeInfo, Environment), OnnxError> {
    static LOADED: OnceLock<Result<(RuntimeInfo, Environment), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let library = path
                .map(Path::to_path_buf)
                .or_else(|| CHOSEN_LIBRARY.get().cloned())
                .or_else(|| std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()).map(PathBuf::from))
                .or_else(|| marlin_hub::cached_onnxruntime().ok().filter(|p| p.is_file()))
                .unwrap_or_else(|| PathBuf::from("libonnxruntime.so"));
            let builder = ort::init_from(&library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}; {INSTALL_HINT}", library.display()))?;
            let env = builder
                .with_name("marlin")
                .build()
                .map_err(|e| format!("ONNX Runtime from {}: {e}", library.display()))?;
            Ok((RuntimeInfo { library, build: ort::info().to_string() }, env))
        })
        .clone()
        .map_err(OnnxError::Runtime)
}

/// The encoder graph in an ONNX Runtime session, run batch by batch.
pub struct OnnxEncoder {
    cfg: MarlinConfig,
    session: Mutex<Session>,
    input: InputLayout,
    keep_seq: bool,
    batch: Option<usize>,
    provider: Provider,
    threads: usize,
    /// The GPU that makes the `patches` input in device memory (GPU providers, `cuda` feature).
    #[cfg(feature = "cuda")]
    device_patchify: Option<marlin_kernels::cuda::Gpu>,
}

impl OnnxEncoder {
    /// Exports `weights` (patches input, dynamic batch, `tokens` output included) and starts a
    /// session on `provider` with `threads` CPU threads (0: ONNX Runtime's default, every core).
    pub fn new(
        cfg: MarlinConfig,
        weights: &EncoderWeights,
        provider: Provider,
        threads: usize,
    ) -> Result<Self, OnnxError> {
        let options =
            ExportOptions { input: InputLayout::Patches, keep_seq: true, batch: None, ..ExportOptions::default() };
        let model = export_encoder(&cfg, weights, options)?;
        Self::start(cfg, &model, options.input, true, None, provider, threads)
    }

    /// Runs a graph written by [`export_encoder`] (`marlin export-onnx`) for the architecture
    /// `cfg`; the file's metadata must match it.
    pub fn from_file(path: &Path, cfg: MarlinConfig, provider: Provider, threads: usize) -> Result<Self, OnnxError> {
        let bytes = std::fs::read(path).map_err(|e| OnnxError::File { path: path.into(), detail: e.to_string() })?;
        let model = <crate::proto::ModelProto as prost::Message>::decode(bytes.as_slice())
            .map_err(|e| OnnxError::File { path: path.into(), detail: format!("not an ONNX model: {e}") })?;
        let get = |key: &str| model.metadata_props.iter().find(|p| p.key == key).map(|p| p.value.as_str());
        let bad = |detail: String| OnnxError::File { path: path.into(), detail };
        for (key, want) in [
            (meta::DIM, cfg.encoder.embed_dim.to_string()),
            (meta::TOKENS, cfg.num_tokens().to_string()),
            (meta::PATCH_DIM, cfg.patch_dim().to_string()),
        ] {
            match get(key) {
                Some(v) if v == want => {}
                Some(v) => return Err(bad(format!("{key} is {v}, the model config needs {want}"))),
                None => return Err(bad(format!("no `{key}` metadata: not exported by marlin export-onnx"))),
            }
        }
        let input = match get(meta::INPUT) {
            Some("frames") => InputLayout::Frames,
            Some("patches") => InputLayout::Patches,
            other => return Err(bad(format!("unknown input layout {other:?}"))),
        };
        let keep_seq = get(meta::KEEP_SEQ) == Some("true");
        let batch = model
            .graph
            .as_ref()
            .and_then(|g| g.input.first())
            .and_then(|i| i.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?.dim.first()?.dim_value)
            .map(|b| b as usize);
        Self::start(cfg, &bytes, input, keep_seq, batch, provider, threads)
    }

    fn start(
        cfg: MarlinConfig,
        model: &[u8],
        input: InputLayout,
        keep_seq: bool,
        batch: Option<usize>,
        provider: Provider,
        threads: usize,
    ) -> Result<Self, OnnxError> {
        let (_, env) = environment(None)?;
        let shape = |b: usize| match input {
            InputLayout::Patches => format!("patches:{b}x{}x{}", cfg.num_tokens(), cfg.patch_dim()),
            InputLayout::Frames => format!("frames:{b}x3x{}x{}x{}", cfg.n_frames, cfg.img_size, cfg.img_size),
        };
        // a graph of fixed batch gets a profile of that batch only
        let profile = match batch {
            Some(b) => ShapeProfile { min: shape(b), opt: shape(b), max: shape(b) },
            None => ShapeProfile { min: shape(1), opt: shape(TENSORRT_OPT_BATCH), max: shape(TENSORRT_MAX_BATCH) },
        };
        let session = start_session(&env, model, &provider, threads, &profile)?;
        Ok(OnnxEncoder {
            #[cfg(feature = "cuda")]
            device_patchify: device_patchify(&provider, input),
            cfg,
            session: Mutex::new(session),
            input,
            keep_seq,
            batch,
            provider,
            threads,
        })
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Runs one batch; `features` (clips × D) and, when asked and present, `tokens`.
    fn run(&self, clips: &[Clip], keep_seq: bool) -> Result<Vec<Vec<f32>>, OnnxError> {
        if let Some(b) = self.batch.filter(|&b| b != clips.len()) {
            return Err(OnnxError::Input(format!("the graph takes batches of {b} clips, not {}", clips.len())));
        }
        if keep_seq && !self.keep_seq {
            return Err(OnnxError::Input("the graph has no `tokens` output: export it with --keep-seq".into()));
        }
        for c in clips {
            c.check(&self.cfg).map_err(|e| OnnxError::Input(e.to_string()))?;
        }
        let cfg = &self.cfg;
        let (n, d, b) = (cfg.num_tokens(), cfg.encoder.embed_dim, clips.len());
        let output = if keep_seq { "tokens" } else { "features" };
        #[cfg(feature = "cuda")]
        if let Some(gpu) = &self.device_patchify
            && let Some(frames) = rgb8_batch(clips)
        {
            let patches = gpu
                .patchify_to_device(&frames, marlin_model::tubelet_shape(cfg))
                .map_err(|e| OnnxError::Runtime(format!("patchify on the GPU: {e}")))?;
            let info = MemoryInfo::new(
                AllocationDevice::CUDA,
                gpu.ordinal() as i32,
                AllocatorType::Device,
                MemoryType::Default,
            )
            .map_err(ort_error)?;
            let shape = ort::value::Shape::new([b as i64, n as i64, cfg.patch_dim() as i64]);
            // SAFETY: the buffer is in device memory of this GPU (the provider's device), holds
            // b·n·patch_dim f32 written and synchronised by the kernel, and `patches` outlives
            // the run below.
            let value = unsafe {
                ort::value::TensorRefMut::<f32>::from_raw(
                    info,
                    patches.device_address(gpu) as *mut std::ffi::c_void,
                    shape,
                )
            }
            .map_err(ort_error)?;
            return self.run_bound(&value, output, b, if keep_seq { n * d } else { d });
        }
        let value = match self.input {
            InputLayout::Patches => {
                let pd = cfg.patch_dim();
                let mut patches = vec![0f32; b * n * pd];
                for (out, clip) in patches.chunks_exact_mut(n * pd).zip(clips) {
                    patchify(clip, cfg, out);
                }
                Tensor::from_array(([b, n, pd], patches))
            }
            InputLayout::Frames => {
                let (t, s) = (cfg.n_frames, cfg.img_size);
                let mut frames = Vec::with_capacity(b * 3 * t * s * s);
                for clip in clips {
                    match clip {
                        Clip::Float(v) => frames.extend_from_slice(v),
                        Clip::Rgb8(v) => frames.extend(marlin_model::rgb8_to_channels_first(v, t, s, s)),
                    }
                }
                Tensor::from_array(([b, 3, t, s, s], frames))
            }
        }
        .map_err(ort_error)?;
        self.run_bound(&value, output, b, if keep_seq { n * d } else { d })
    }

    /// Runs the session on `input` bound as the graph's input; `output` read back to the host,
    /// `per_clip` values for each of `b` clips.
    fn run_bound<T: ort::value::ValueTypeMarker + ?Sized>(
        &self,
        input: &ort::value::Value<T>,
        output: &str,
        b: usize,
        per_clip: usize,
    ) -> Result<Vec<Vec<f32>>, OnnxError> {
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let mut binding = session.create_binding().map_err(ort_error)?;
        binding.bind_input(self.input.name(), input).map_err(ort_error)?;
        let cpu = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::CPUOutput)
            .map_err(ort_error)?;
        binding.bind_output_to_device(output, &cpu).map_err(ort_error)?;
        let outputs = session.run_binding(&binding).map_err(ort_error)?;
        let (_, values) = outputs[output].try_extract_tensor::<f32>().map_err(ort_error)?;
        if values.len() != b * per_clip {
            return Err(OnnxError::Runtime(format!(
                "`{output}` holds {} values, expected {}",
                values.len(),
                b * per_clip
            )));
        }
        Ok(values.chunks_exact(per_clip).map(<[f32]>::to_vec).collect())
    }
}

/// The GPU to patchify on for a GPU provider fed `patches`; `None` (with a warning when it was
/// wanted) where the kernels cannot run, and the CPU twin makes them instead.
#[cfg(feature = "cuda")]
fn device_patchify(provider: &Provider, input: InputLayout) -> Option<marlin_kernels::cuda::Gpu> {
    let device = match provider {
        Provider::Cpu => return None,
        Provider::Cuda { device } | Provider::TensorRt { device, .. } => *device,
    };
    if input != InputLayout::Patches {
        return None;
    }
    match marlin_kernels::cuda::Gpu::new(device.max(0) as usize) {
        Ok(gpu) => Some(gpu),
        Err(e) => {
            tracing::warn!("patches are made on the CPU and copied to the GPU: {e}");
            None
        }
    }
}

/// The clips' frames back to back when every clip is (T,H,W,3) u8.
#[cfg(feature = "cuda")]
fn rgb8_batch(clips: &[Clip]) -> Option<Vec<u8>> {
    let mut frames = Vec::new();
    for c in clips {
        match c {
            Clip::Rgb8(v) => frames.extend_from_slice(v),
            Clip::Float(_) => return None,
        }
    }
    Some(frames)
}

pub(crate) fn ort_error(source: ort::Error) -> OnnxError {
    OnnxError::Ort { context: "running the graph".into(), source }
}

/// TensorRT's optimisation profile: `input:d0xd1x…` at the smallest, typical and largest shapes.
#[cfg_attr(not(feature = "tensorrt"), allow(dead_code))]
pub(crate) struct ShapeProfile {
    pub min: String,
    pub opt: String,
    pub max: String,
}

/// A session of `model` on `provider`.
pub(crate) fn start_session(
    env: &Environment,
    model: &[u8],
    provider: &Provider,
    threads: usize,
    profile: &ShapeProfile,
) -> Result<Session, OnnxError> {
    session_builder(env, provider, threads, profile)?
        .commit_from_memory(model)
        .map_err(|source| OnnxError::Ort { context: format!("starting the {} session", provider.name()), source })
}

/// A session builder for `provider`: the GPU providers fail loudly (no silent CPU fallback).
fn session_builder(
    env: &Environment,
    provider: &Provider,
    threads: usize,
    profile: &ShapeProfile,
) -> Result<ort::session::builder::SessionBuilder, OnnxError> {
    let hint = match provider {
        Provider::Cpu => "",
        _ => {
            "; the GPU providers need ONNX Runtime's GPU build (libonnxruntime.so of the onnxruntime-gpu wheel, with CUDA 12, and TensorRT 10 for tensorrt)"
        }
    };
    let fail = |source: ort::Error| OnnxError::Ort { context: format!("{}{hint}", provider.name()), source };
    let mut builder = Session::builder(env).map_err(fail)?;
    if threads > 0 {
        builder = builder.with_intra_threads(threads).map_err(|e| fail(e.into()))?;
    }
    match provider {
        Provider::Cpu => Ok(builder),
        #[cfg(feature = "cuda")]
        Provider::Cuda { device } => builder
            .with_execution_providers([ort::ep::CUDA::default().with_device_id(*device).build().error_on_failure()])
            .map_err(|e| fail(e.into())),
        #[cfg(feature = "tensorrt")]
        Provider::TensorRt { device, fp16, cache } => {
            std::fs::create_dir_all(cache).map_err(|e| OnnxError::File {
                path: cache.clone(),
                detail: format!("cannot create the engine cache: {e}"),
            })?;
            let trt = ort::ep::TensorRT::default()
                .with_device_id(*device)
                .with_fp16(*fp16)
                .with_engine_cache(true)
                .with_engine_cache_path(cache.display())
                .with_timing_cache(true)
                .with_timing_cache_path(cache.display())
                .with_profile_min_shapes(&profile.min)
                .with_profile_opt_shapes(&profile.opt)
                .with_profile_max_shapes(&profile.max)
                .build()
                .error_on_failure();
            let cuda = ort::ep::CUDA::default().with_device_id(*device).build().error_on_failure();
            builder.with_execution_providers([trt, cuda]).map_err(|e| fail(e.into()))
        }
        #[allow(unreachable_patterns)]
        other => {
            let _ = profile;
            Err(OnnxError::Unsupported(format!(
                "backend {} needs marlin built with --features {}",
                other.name(),
                other.name()
            )))
        }
    }
}

/// The TensorRT optimisation profile: batches from 1 to this many clips…
pub const TENSORRT_MAX_BATCH: usize = 64;
/// …tuned for this many.
pub const TENSORRT_OPT_BATCH: usize = 32;

impl FeatureExtractor for OnnxEncoder {
    fn config(&self) -> &MarlinConfig {
        &self.cfg
    }

    fn extract_features(&self, clips: &[Clip], keep_seq: bool) -> Result<Vec<Vec<f32>>, ModelError> {
        // TensorRT's engine takes at most its profile's largest batch: bigger ones run in parts
        let most = match (&self.provider, self.batch) {
            (Provider::TensorRt { .. }, None) => TENSORRT_MAX_BATCH,
            _ => clips.len().max(1),
        };
        let mut out = Vec::with_capacity(clips.len());
        for part in clips.chunks(most) {
            out.extend(self.run(part, keep_seq).map_err(|e| ModelError::Engine(Box::new(e)))?);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        let threads =
            if self.threads == 0 { "default threads".to_string() } else { format!("{} threads", self.threads) };
        format!("{} (ONNX Runtime), {threads}", self.provider.name())
    }
}
