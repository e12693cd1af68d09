//! `Engine`: an opened model (and, once cropping is asked for, a face detector) behind the
//! Python `Marlin` class. Engines are opened again in a forked child: the parent's thread
//! pools do not exist there (a DataLoader worker forked after the parent used the module).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use marlin_batch::config::{DecodeConfig, FacesConfig, SamplingConfig};
use marlin_batch::{ExtractSettings, Reduction, VideoSettings, extract_video};
use marlin_faces::{CropMode, FaceDetector, Faces};
use marlin_media::Orientation;
use marlin_media::sampling::TailPolicy;
use marlin_model::{Backend, Clip, MarlinConfig, Precision};
use marlin_onnx::{EngineOptions, OpenedModel};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::OrRaise;
use crate::interrupt::StopOnCancel;

/// A library choice from its Python name (the CLI's parsing and error text).
pub fn choice<T: marlin_settings::Named>(name: &str) -> PyResult<T> {
    marlin_settings::parse::<T>(name).or_raise()
}

/// A float32 numpy array of `shape` holding `data`.
pub fn array<'py>(py: Python<'py>, shape: &[usize], data: Vec<f32>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    PyArray1::from_vec(py, data).reshape(shape.to_vec())
}

/// What the engine was opened from, to open it again after a fork.
struct Recipe {
    spec: String,
    config: Option<MarlinConfig>,
    backend: Backend,
    options: EngineOptions,
}

/// The face detector last used, and how it was asked for.
struct OpenDetector {
    path: Option<PathBuf>,
    backend: Backend,
    detector: Arc<dyn FaceDetector>,
}

/// The engines of one process.
struct Started {
    pid: u32,
    model: Arc<OpenedModel>,
    detector: Option<OpenDetector>,
}

/// A MARLIN encoder (`marlin_onnx::open_model`) and its face detector.
#[pyclass(module = "marlin_rs._native", frozen)]
pub struct Engine {
    recipe: Recipe,
    started: Mutex<Option<Started>>,
}

impl Engine {
    /// This process's model, opened again when the engine was made before a fork. The lock is
    /// never held while the GIL is released (a thread waiting for it may hold the GIL).
    fn model(&self, py: Python<'_>) -> PyResult<Arc<OpenedModel>> {
        if let Some(s) = self.lock().as_ref().filter(|s| s.pid == std::process::id()) {
            return Ok(Arc::clone(&s.model));
        }
        let r = &self.recipe;
        let model =
            py.detach(|| marlin_onnx::open_model(&r.spec, r.config.clone(), r.backend, &r.options)).or_raise()?;
        let model = Arc::new(model);
        let mut started = self.lock();
        match started.as_ref() {
            // another thread opened it meanwhile
            Some(s) if s.pid == std::process::id() => return Ok(Arc::clone(&s.model)),
            // The engines of the parent hold thread pools whose threads stayed behind: never
            // touched (nor dropped) here.
            _ => std::mem::forget(started.take()),
        }
        *started = Some(Started { pid: std::process::id(), model: Arc::clone(&model), detector: None });
        Ok(model)
    }

    /// This process's face detector for `path` (None: the cache's) on `backend`.
    fn detector(&self, py: Python<'_>, path: Option<&Path>, backend: Backend) -> PyResult<Arc<dyn FaceDetector>> {
        self.model(py)?;
        if let Some(d) = self.lock().as_ref().and_then(|s| s.detector.as_ref())
            && d.path.as_deref() == path
            && d.backend == backend
        {
            return Ok(Arc::clone(&d.detector));
        }
        let options = EngineOptions { threads: 0, ..self.recipe.options.clone() };
        let detector: Arc<dyn FaceDetector> =
            py.detach(|| marlin_onnx::open_face_detector(path, backend, &options)).or_raise()?.into();
        if let Some(started) = self.lock().as_mut() {
            let path = path.map(Path::to_path_buf);
            started.detector = Some(OpenDetector { path, backend, detector: Arc::clone(&detector) });
        }
        Ok(detector)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Started>> {
        self.started.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl Engine {
    /// Opens `spec` (a checkpoint file or a released name) with the model `config` (a MARLIN
    /// YAML file, a preset or a released name; None: the architecture the weights give).
    #[new]
    #[pyo3(signature = (spec, config=None, backend="cpu", precision="f32", threads=0))]
    fn new(
        py: Python<'_>,
        spec: String,
        config: Option<PathBuf>,
        backend: &str,
        precision: &str,
        threads: usize,
    ) -> PyResult<Self> {
        let config = config.as_deref().map(marlin_hub::resolve_config).transpose().or_raise()?;
        let options = EngineOptions { threads, precision: choice::<Precision>(precision)?, ..Default::default() };
        options.validate().or_raise()?;
        let engine = Engine {
            recipe: Recipe { spec, config, backend: choice::<Backend>(backend)?, options },
            started: Mutex::new(None),
        };
        engine.model(py)?;
        Ok(engine)
    }

    /// Feature width D.
    #[getter]
    fn dim(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.model(py)?.extractor.dim())
    }

    /// The architecture's name (`marlin_vit_small_ytf`, or the YAML's `model_name`).
    #[getter]
    fn config_name(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.model(py)?.extractor.config().name.clone())
    }

    /// The checkpoint file (None for `random:<preset>`).
    #[getter]
    fn checkpoint(&self, py: Python<'_>) -> PyResult<Option<PathBuf>> {
        Ok(self.model(py)?.checkpoint.clone())
    }

    /// Where and how the encoder computes (`cpu f32, 2 threads`).
    fn describe(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.model(py)?.extractor.describe())
    }

    /// The checkpoint's SHA-256 (lowercase hex), None for random weights.
    fn sha256(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let model = self.model(py)?;
        py.detach(|| model.sha256()).or_raise()
    }

    /// `x`: float32 C-contiguous (B, 3, T, H, W) in [0, 1] → (B, D), or (B, tokens, D).
    fn extract_features<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        keep_seq: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let model = self.model(py)?;
        let shape = x.shape().to_vec();
        let data = x.as_slice()?;
        let encoder = model.extractor.as_ref();
        let (batch, features) = py
            .detach(|| -> Result<_, marlin_model::ModelError> {
                let clips = Clip::batch_from_channels_first(encoder.config(), &shape, data)?;
                Ok((clips.len(), encoder.extract_features(&clips, keep_seq)?.concat()))
            })
            .or_raise()?;
        let row = if keep_seq { vec![encoder.config().num_tokens(), encoder.dim()] } else { vec![encoder.dim()] };
        array(py, &[vec![batch], row].concat(), features)
    }

    /// The official `extract_video` with the library's extras; see `marlin_rs.Marlin`.
    #[pyo3(signature = (video_path, crop_face, sample_rate, stride, reduction, keep_seq, crop_mode, faces, tail, batch, detector, detector_backend, max_clips, orientation))]
    #[allow(clippy::too_many_arguments)]
    fn extract_video<'py>(
        &self,
        py: Python<'py>,
        video_path: PathBuf,
        crop_face: bool,
        sample_rate: usize,
        stride: usize,
        reduction: &str,
        keep_seq: bool,
        crop_mode: &str,
        faces: &str,
        tail: Option<&str>,
        batch: Option<usize>,
        detector: Option<PathBuf>,
        detector_backend: Option<&str>,
        max_clips: Option<usize>,
        orientation: Option<&str>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let defaults = ExtractSettings::default();
        let detector_backend =
            detector_backend.map(choice::<Backend>).transpose()?.unwrap_or(FacesConfig::default().backend);
        let settings = ExtractSettings {
            video: VideoSettings {
                sampling: SamplingConfig {
                    sample_rate,
                    stride,
                    tail: tail.map(choice::<TailPolicy>).transpose()?.unwrap_or_default(),
                    max_clips,
                    ..SamplingConfig::default()
                },
                decode: DecodeConfig {
                    orientation: orientation.map(choice::<Orientation>).transpose()?,
                    ..DecodeConfig::default()
                },
                faces: FacesConfig {
                    crop_face,
                    mode: choice::<CropMode>(crop_mode)?,
                    pick: choice::<Faces>(faces)?,
                    detector: detector.clone(),
                    backend: detector_backend,
                    ..FacesConfig::default()
                },
            },
            batch: batch.unwrap_or(defaults.batch),
            keep_seq,
            reduction: choice::<Reduction>(reduction)?,
            log_faces: false,
        };
        let model = self.model(py)?;
        let detector = match crop_face {
            true => Some(self.detector(py, detector.as_deref(), detector_backend)?),
            false => None,
        };
        let out = crate::interrupt::run(
            py,
            |cancel| {
                let detector = detector.as_deref().map(|detector| StopOnCancel { detector, cancel });
                let detector = detector.as_ref().map(|d| d as &dyn FaceDetector);
                extract_video(&video_path, model.extractor.as_ref(), detector, &settings, cancel)
            },
            || {},
        )?
        .or_raise()?;
        array(py, &out.shape, out.data)
    }
}
