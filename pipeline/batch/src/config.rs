//! The featurisation settings: a YAML file (`configs/default.yaml` documents every key) read
//! with serde_norway, unknown keys refused with their line; command-line flags override it.
//! Every choice is the library's own type (its names come from `marlin-settings`) and every
//! default the library's `Default`.

use std::path::{Path, PathBuf};

use marlin_faces::{CropMode, CropOptions, Faces};
use marlin_media::sampling::{SamplingOptions, TailPolicy};
use marlin_media::{ColourMode, DecodeOptions, DecoderChoice, Orientation};
use marlin_model::{Backend, Precision};
use marlin_settings::Bounds;
use serde::{Deserialize, Serialize};

use crate::BatchError;

/// Everything `marlin featurize` can be told, with MARLIN's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturizeConfig {
    /// Checkpoint path or released model name.
    pub model: Option<String>,
    /// MARLIN's YAML model config; default: the released architecture matching the weights.
    pub model_config: Option<PathBuf>,
    pub precision: Precision,
    /// Where the encoder computes.
    pub backend: Backend,
    /// libonnxruntime.so for the ONNX backends (default: `marlin_onnx::load_runtime`'s search).
    pub onnxruntime: Option<PathBuf>,
    /// GPU index for cuda / tensorrt.
    pub device: i32,
    /// TensorRT's engine cache folder (default: `tensorrt/` in marlin's cache folder).
    pub tensorrt_cache: Option<PathBuf>,
    /// Clips per encoder forward (clips of different videos are batched together).
    pub batch_size: usize,
    /// Encoder threads (0: every core).
    pub encoder_threads: usize,
    /// Videos decoded (and face-cropped) at once (0: about one per two cores, at least 2).
    pub jobs: usize,
    /// Face detector threads (0: every core).
    pub detector_threads: usize,
    /// File extensions taken from input folders (case-insensitive).
    pub extensions: Vec<String>,
    pub sampling: SamplingConfig,
    pub decode: DecodeConfig,
    pub faces: FacesConfig,
    pub output: OutputConfig,
}

/// MARLIN's clip sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    pub sample_rate: usize,
    pub stride: usize,
    pub tail: TailPolicy,
    pub max_clips: Option<usize>,
    /// Resample every video to this frame rate before cutting clips.
    pub fps: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    pub decoder: DecoderChoice,
    pub colour: ColourMode,
    /// Seconds without a frame, an error or the end before a video is given up as stalled.
    pub stall_timeout_s: f64,
    /// How the frames of a video with a display rotation come out; default: as the official
    /// code reads them with compat crops (`faces.mode: compat`), as displayed otherwise.
    pub orientation: Option<Orientation>,
}

/// Face detection and cropping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FacesConfig {
    /// Detect and crop faces (for videos that are not 224×224 face crops already).
    pub crop_face: bool,
    pub mode: CropMode,
    /// Which faces become rows: the largest, the best-scored, or all (one row per face track).
    pub pick: Faces,
    /// Weight of the newest box in the temporal smoothing, 0 < w ≤ 1 (1: off).
    pub smooth: f32,
    pub detect_every: usize,
    pub max_side: Option<usize>,
    pub min_face: f32,
    /// FaceX-Zoo's `face_detection_retina.pkl`; default: the cache.
    pub detector: Option<PathBuf>,
    /// Where the detector computes.
    pub backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    pub layout: Layout,
    /// Every token's feature per clip, rows of (1568, D).
    pub keep_seq: bool,
}

marlin_settings::named! {
    /// What a featurize run writes.
    pub enum Layout: "output layout", default Combined {
        /// `features.npy` + `clips.csv` only.
        Combined = "combined",
        /// Also `videos/<id>.npy`, as the official `extract_video` returns it.
        PerVideo = "per-video",
    }
}

impl Default for FeaturizeConfig {
    fn default() -> Self {
        Self {
            model: None,
            model_config: None,
            precision: Precision::default(),
            backend: Backend::default(),
            onnxruntime: None,
            device: 0,
            tensorrt_cache: None,
            batch_size: 4,
            encoder_threads: 0,
            jobs: 0,
            detector_threads: 0,
            extensions: ["mp4", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "flv", "wmv", "ts", "3gp"]
                .map(String::from)
                .to_vec(),
            sampling: SamplingConfig::default(),
            decode: DecodeConfig::default(),
            faces: FacesConfig::default(),
            output: OutputConfig::default(),
        }
    }
}

impl Default for SamplingConfig {
    /// The official `extract_video`'s ([`SamplingOptions::default`]).
    fn default() -> Self {
        let d = SamplingOptions::default();
        Self { sample_rate: d.sample_rate, stride: d.stride, tail: d.tail, max_clips: d.max_clips, fps: None }
    }
}

impl Default for DecodeConfig {
    fn default() -> Self {
        let d = DecodeOptions::default();
        Self { decoder: d.decoder, colour: d.colour, stall_timeout_s: d.stall_timeout.as_secs_f64(), orientation: None }
    }
}

impl Default for FacesConfig {
    fn default() -> Self {
        let d = CropOptions::default();
        Self {
            crop_face: false,
            mode: d.mode,
            pick: d.pick,
            smooth: d.smooth,
            detect_every: d.detect_every,
            max_side: d.max_side,
            min_face: d.min_face,
            detector: None,
            backend: Backend::default(),
        }
    }
}

impl FeaturizeConfig {
    /// Reads a YAML file; every key is optional, unknown keys are errors naming the line.
    pub fn from_yaml_file(path: &Path) -> Result<Self, BatchError> {
        let text = marlin_npy::read_input_to_string(path)
            .map_err(|e| BatchError::Config(format!("{}: {e}", path.display())))?;
        Self::from_yaml(&text).map_err(|e| BatchError::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(text).map_err(|e| match marlin_model::MarlinConfig::is_model_yaml(text) {
            true => format!(
                "this is a MARLIN model config (model_name, encoder…), not featurize settings: give it as the model config (--model-config, or the `model_config` key) ({e})"
            ),
            false => e.to_string(),
        })
    }

    /// Clips per encoder forward.
    pub const BATCH_SIZE: Bounds<usize> = Bounds::closed(1, 256);
    /// Videos decoded at once (0: about one per two cores).
    pub const JOBS: Bounds<usize> = Bounds::closed(0, 256);

    /// Refuses contradictory or out-of-range settings.
    pub fn validate(&self) -> Result<(), BatchError> {
        Self::BATCH_SIZE.check("batch_size", self.batch_size)?;
        Self::JOBS.check("jobs", self.jobs)?;
        marlin_model::THREADS.check("encoder_threads", self.encoder_threads)?;
        marlin_model::THREADS.check("detector_threads", self.detector_threads)?;
        if self.extensions.is_empty() {
            return Err(BatchError::Config("extensions must name at least one file extension".into()));
        }
        self.video().validate()
    }

    /// How each video becomes clips.
    pub fn video(&self) -> VideoSettings {
        VideoSettings { sampling: self.sampling.clone(), decode: self.decode.clone(), faces: self.faces.clone() }
    }

    /// The settings that decide the output rows (not how fast they are made): a resumed run
    /// must match the run it continues on these.
    pub fn output_settings(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            for perf in [
                "batch_size",
                "encoder_threads",
                "jobs",
                "detector_threads",
                "extensions",
                "model",
                "model_config",
                "onnxruntime",
                "device",
                "tensorrt_cache",
            ] {
                m.remove(perf);
            }
            if let Some(faces) = m.get_mut("faces").and_then(|f| f.as_object_mut()) {
                faces.remove("detector");
            }
            if let Some(decode) = m.get_mut("decode").and_then(|f| f.as_object_mut()) {
                decode.remove("stall_timeout_s");
            }
        }
        v
    }
}

/// How a video becomes encoder inputs: the settings `featurize`, `extract` and the Python
/// module share (the `sampling`, `decode` and `faces` sections of the settings file).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoSettings {
    pub sampling: SamplingConfig,
    pub decode: DecodeConfig,
    pub faces: FacesConfig,
}

impl VideoSettings {
    /// Refuses contradictory or out-of-range settings, naming the setting.
    pub fn validate(&self) -> Result<(), BatchError> {
        self.sampling.validate()?;
        self.decode.validate()?;
        self.faces.validate()
    }

    /// The decoding options; unless an orientation is given, the official crops come with the
    /// official frames (a rotated video turned or not as the official readers turn it).
    pub fn decode_options(&self) -> Result<DecodeOptions, BatchError> {
        let mut options = self.decode.options()?;
        if self.decode.orientation.is_none() && self.faces.mode == CropMode::Compat {
            options.orientation = Orientation::Official;
        }
        Ok(options)
    }
}

impl SamplingConfig {
    pub fn validate(&self) -> Result<(), BatchError> {
        self.options(SamplingOptions::default().clip_frames).validate()?;
        if let Some(fps) = self.fps {
            SamplingOptions::FPS.check("fps", fps)?;
        }
        Ok(())
    }

    /// The sampling rule for clips of `clip_frames` frames (the model's).
    pub fn options(&self, clip_frames: usize) -> SamplingOptions {
        SamplingOptions {
            clip_frames,
            sample_rate: self.sample_rate,
            stride: self.stride,
            tail: self.tail,
            max_clips: self.max_clips,
        }
    }
}

impl DecodeConfig {
    pub fn validate(&self) -> Result<(), BatchError> {
        self.options().map(|_| ())
    }

    /// The decoding options, the stall timeout checked against its bounds.
    pub fn options(&self) -> Result<DecodeOptions, BatchError> {
        let options = DecodeOptions {
            decoder: self.decoder,
            colour: self.colour,
            orientation: self.orientation.unwrap_or_default(),
            ..DecodeOptions::default()
        };
        Ok(options.with_stall_timeout(self.stall_timeout_s)?)
    }
}

impl FacesConfig {
    pub fn validate(&self) -> Result<(), BatchError> {
        let bad = |m: String| Err(BatchError::Config(m));
        self.crop_options().validate()?;
        if self.mode == CropMode::Compat
            && (self.detect_every != 1 || self.max_side.is_some() || self.min_face != 0.0 || self.pick == Faces::All)
        {
            return bad("faces.mode compat reproduces the official crops: it takes no detect_every, max_side, min_face or pick: all".into());
        }
        Ok(())
    }

    pub fn crop_options(&self) -> CropOptions {
        CropOptions {
            mode: self.mode,
            smooth: self.smooth,
            detect_every: self.detect_every,
            max_side: self.max_side,
            min_face: self.min_face,
            pick: self.pick,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(FeaturizeConfig::from_yaml("").unwrap(), FeaturizeConfig::default());
        assert_eq!(FeaturizeConfig::from_yaml("# nothing\n").unwrap(), FeaturizeConfig::default());
    }

    #[test]
    fn keys_override_the_defaults() {
        let c = FeaturizeConfig::from_yaml(
            "batch_size: 8\nfaces:\n  crop_face: true\n  mode: aligned\noutput:\n  layout: per-video\n",
        )
        .unwrap();
        assert_eq!(c.batch_size, 8);
        assert!(c.faces.crop_face);
        assert_eq!(c.faces.mode, CropMode::Aligned);
        assert_eq!(c.output.layout, Layout::PerVideo);
        assert_eq!(c.sampling, SamplingConfig::default());
    }

    #[test]
    fn a_typo_names_the_key_and_line() {
        let e = FeaturizeConfig::from_yaml("batch_size: 2\nsampling:\n  strid: 8\n").unwrap_err();
        assert!(e.contains("strid") && e.contains("line 3"), "{e}");
        let e = FeaturizeConfig::from_yaml("faces:\n  mode: wobbly\n").unwrap_err();
        assert!(e.contains("wobbly"), "{e}");
    }

    #[test]
    fn a_model_config_given_as_settings_says_which_flag_was_meant() {
        let text = include_str!("../../../configs/models/vit_small.yaml");
        let e = FeaturizeConfig::from_yaml(text).unwrap_err();
        assert!(e.contains("MARLIN model config") && e.contains("--model-config"), "{e}");
        let settings = include_str!("../../../configs/default.yaml");
        let e = marlin_model::MarlinConfig::from_yaml_str(settings, "default.yaml").unwrap_err().to_string();
        assert!(e.contains("not a MARLIN model config") && e.contains("--settings"), "{e}");
    }

    #[test]
    fn contradictions_are_refused() {
        let mut c = FeaturizeConfig::default();
        c.faces.mode = CropMode::Compat;
        c.faces.detect_every = 4;
        assert!(c.validate().is_err());
        let c = FeaturizeConfig { batch_size: 0, ..Default::default() };
        assert!(c.validate().is_err());
        assert!(FeaturizeConfig::default().validate().is_ok());
    }

    #[test]
    fn output_settings_ignore_speed_knobs() {
        let a = FeaturizeConfig::default();
        let mut b = a.clone();
        b.jobs = 7;
        b.batch_size = 1;
        b.decode.stall_timeout_s = 5.0;
        assert_eq!(a.output_settings(), b.output_settings());
        b.sampling.stride = 8;
        assert_ne!(a.output_settings(), b.output_settings());
    }

    #[test]
    fn the_documented_default_file_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/default.yaml");
        let c = FeaturizeConfig::from_yaml_file(&path).unwrap();
        assert_eq!(c, FeaturizeConfig::default());
    }
}
