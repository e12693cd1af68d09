//! The module's functions: `featurize` (the batch runner, as `marlin featurize`),
//! `read_features` (a featurize folder back), `detect` (faces of an image or a video, as
//! `marlin detect`) and `fetch` (as `marlin models fetch`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use marlin_batch::config::DecodeConfig;
use marlin_batch::{BatchError, FeaturizeConfig, Featurizer, Inputs, Shard, Stats, detect_faces};
use marlin_faces::FaceDetector;
use marlin_hub::{Progress, Release};
use marlin_model::Backend;
use numpy::PyArrayDyn;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::engine::{array, choice};
use crate::errors::{OrRaise, raise};
use crate::interrupt::StopOnCancel;

/// The settings file (or the defaults) with the `overrides` (a JSON object of settings keys,
/// sections as nested objects) laid over it, checked.
fn settings(file: Option<&Path>, overrides: &str) -> Result<FeaturizeConfig, BatchError> {
    let base = match file {
        Some(p) => FeaturizeConfig::from_yaml_file(p)?,
        None => FeaturizeConfig::default(),
    };
    let config_error = |e: serde_json::Error| BatchError::Config(e.to_string());
    let mut value = serde_json::to_value(&base).map_err(config_error)?;
    let overrides: serde_json::Value = serde_json::from_str(overrides).map_err(config_error)?;
    lay_over(&mut value, overrides);
    let config: FeaturizeConfig = serde_json::from_value(value).map_err(config_error)?;
    config.validate()?;
    Ok(config)
}

/// `over`'s keys replace `base`'s, section by section.
fn lay_over(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(b) if b.is_object() && v.is_object() => lay_over(b, v),
                    _ => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Featurises `inputs` into `out` (see `marlin_rs.featurize`); returns the folder's files and
/// counts.
#[pyfunction]
#[pyo3(signature = (inputs, out, settings_file, overrides, resume, shard, quiet))]
#[allow(clippy::too_many_arguments)] // the Python function's arguments
pub fn featurize<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    out: PathBuf,
    settings_file: Option<PathBuf>,
    overrides: &str,
    resume: bool,
    shard: Option<&str>,
    quiet: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let config = settings(settings_file.as_deref(), overrides).or_raise()?;
    let shard = match shard {
        Some(s) => Some(s.parse::<Shard>().map_err(|e| raise("MarlinValueError", e.to_string()))?),
        None => Shard::from_env(|k| std::env::var(k).ok()).map_err(|e| raise("MarlinValueError", e))?,
    };
    let found = Inputs::collect_for_run(&inputs, &config.extensions).or_raise()?;
    let Some(spec) = config.model.clone() else {
        return Err(raise(
            "MarlinValueError",
            "no model: pass model=CKPT|NAME (or `model:` in the settings file)".into(),
        ));
    };
    let (engine, info) = py.detach(|| marlin_onnx::open_featurize_model(&config, &spec)).or_raise()?;
    let detector = py.detach(|| marlin_onnx::open_featurize_detector(&config)).or_raise()?;
    let stats = Stats::default();
    let mut progress = ProgressLine::new(quiet);
    let summary = crate::interrupt::run(
        py,
        |cancel| {
            let detector = detector.as_deref().map(|detector| StopOnCancel { detector, cancel });
            let featurizer = Featurizer {
                config: &config,
                encoder: engine.extractor.as_ref(),
                detector: detector.as_ref().map(|d| d as &dyn FaceDetector),
                model: &info,
                cancel,
                stats: &stats,
            };
            featurizer.run(found, &out, resume, shard)
        },
        || progress.show(&stats),
    )?
    .or_raise()?;
    progress.finish();
    let d = PyDict::new(py);
    let c = summary.counts;
    d.set_item("out", &summary.out)?;
    for file in ["features.npy", "clips.csv", "failures.csv", "manifest.json"] {
        d.set_item(file.split('.').next().unwrap_or(file), summary.out.join(file))?;
    }
    d.set_item("videos", c.videos)?;
    d.set_item("done", c.done)?;
    d.set_item("failed", c.failed)?;
    d.set_item("pending", c.pending)?;
    d.set_item("rows", c.rows)?;
    Ok(d)
}

/// Progress on stderr while featurize runs: a line rewritten every second on a terminal, a
/// line every 30 s otherwise; nothing when quiet.
struct ProgressLine {
    quiet: bool,
    tty: bool,
    started: Instant,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new(quiet: bool) -> Self {
        Self { quiet, tty: std::io::stderr().is_terminal(), started: Instant::now(), last: None }
    }

    fn show(&mut self, stats: &Stats) {
        let every = if self.tty { Duration::from_secs(1) } else { Duration::from_secs(30) };
        if self.quiet || self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let s = stats.snapshot();
        let line = format!(
            "{}/{} videos, {}",
            s.videos_finished(),
            s.videos_total,
            s.progress(self.started.elapsed().as_secs_f64())
        );
        match self.tty {
            true => eprint!("\r{line}\x1b[K"),
            false => eprintln!("progress: {line}"),
        }
    }

    fn finish(&self) {
        if self.tty && !self.quiet && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

/// `read_features`' answer: the features, clips.csv's columns and its rows.
type FeaturesAndRows<'py> = (Bound<'py, PyArrayDyn<f32>>, Vec<String>, Vec<Vec<String>>);

/// A featurize folder: `features.npy` as float32, and `clips.csv`'s columns and rows (text).
#[pyfunction]
pub fn read_features<'py>(py: Python<'py>, dir: PathBuf) -> PyResult<FeaturesAndRows<'py>> {
    let (features, table) = py
        .detach(|| -> Result<_, BatchError> {
            let features = marlin_npy::read(dir.join("features.npy"))?;
            let table = marlin_batch::tables::read_table(&dir.join("clips.csv"))?;
            Ok((features, table))
        })
        .or_raise()?;
    let shape = features.shape.clone();
    Ok((array(py, &shape, features.to_f32())?, table.columns, table.rows))
}

/// The faces of an image or of every frame of a video: per face its frame, track, box, score
/// and landmarks, as arrays.
#[pyfunction]
#[pyo3(signature = (input, detector, backend, threads, min_size))]
pub fn detect<'py>(
    py: Python<'py>,
    input: PathBuf,
    detector: Option<PathBuf>,
    backend: &str,
    threads: usize,
    min_size: f32,
) -> PyResult<Bound<'py, PyDict>> {
    let backend = choice::<Backend>(backend)?;
    let options = marlin_onnx::EngineOptions { threads, ..Default::default() };
    options.validate().or_raise()?;
    let engine = py.detach(|| marlin_onnx::open_face_detector(detector.as_deref(), backend, &options)).or_raise()?;
    let decode = DecodeConfig::default().options().or_raise()?;
    let (mut frames, mut tracks, mut boxes, mut scores, mut landmarks) = (vec![], vec![], vec![], vec![], vec![]);
    crate::interrupt::run(
        py,
        |cancel| {
            detect_faces(&input, engine.as_ref(), decode, min_size, cancel, |f| {
                for (d, &track) in f.faces.iter().zip(&f.tracks) {
                    frames.push(f.index);
                    tracks.push(track);
                    boxes.extend([d.x1, d.y1, d.x2, d.y2]);
                    scores.push(d.score);
                    landmarks.extend(d.landmarks.iter().flatten());
                }
                Ok(())
            })
        },
        || {},
    )?
    .or_raise()?;
    let n = scores.len();
    let d = PyDict::new(py);
    d.set_item("frame", numpy::PyArray1::from_vec(py, frames))?;
    d.set_item("track", numpy::PyArray1::from_vec(py, tracks))?;
    d.set_item("boxes", array(py, &[n, 4], boxes)?)?;
    d.set_item("scores", array(py, &[n], scores)?)?;
    d.set_item("landmarks", array(py, &[n, 5, 2], landmarks)?)?;
    Ok(d)
}

/// Downloads a released checkpoint, the face detector (`retinaface`) or ONNX Runtime
/// (`onnxruntime`) into the cache, as `marlin models fetch`; returns its path.
#[pyfunction]
#[pyo3(signature = (name, full, quiet))]
pub fn fetch(py: Python<'_>, name: &str, full: bool, quiet: bool) -> PyResult<PathBuf> {
    let release = match name {
        "retinaface" | "onnxruntime" => None,
        _ => Some(Release::parse(name).or_raise()?),
    };
    let mut bar = Bar { quiet, done: 0, total: None, last: None };
    let path = crate::interrupt::run(
        py,
        |_| match (name, release) {
            (_, Some(r)) => r.fetch(full, &mut bar),
            ("onnxruntime", None) => marlin_hub::fetch_onnxruntime(&mut bar),
            _ => marlin_hub::fetch_detector(&mut bar),
        },
        || {},
    )?
    .or_raise()?;
    Ok(path)
}

/// Download progress on stderr, a line at most every 2 s.
struct Bar {
    quiet: bool,
    done: u64,
    total: Option<u64>,
    last: Option<Instant>,
}

impl Progress for Bar {
    fn start(&mut self, done: u64, total: Option<u64>) {
        (self.done, self.total) = (done, total);
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.quiet || self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return;
        }
        self.last = Some(Instant::now());
        let mb = |b: u64| b as f64 / 1e6;
        match self.total {
            Some(t) => eprintln!("downloaded {:.1} of {:.1} MB", mb(self.done), mb(t)),
            None => eprintln!("downloaded {:.1} MB", mb(self.done)),
        }
    }

    fn finish(&mut self) {}
}
