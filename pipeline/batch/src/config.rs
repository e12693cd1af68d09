//! The featurisation settings: a YAML file (`configs/default.yaml` documents every key) read
//! with serde_norway, unknown keys refused with their line; command-line flags override it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use marlin_faces::{CropMode, CropOptions, Pick};
use marlin_media::sampling::{SamplingOptions, TailPolicy};
use marlin_media::{ColourMode, DecodeOptions, DecoderChoice, Orientation};
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
    /// Where the encoder computes: cpu, onnx-cpu, cuda, tensorrt.
    pub backend: Backend,
    /// libonnxruntime.so for the ONNX backends (default: ORT_DYLIB_PATH, then the library
    /// search path).
    pub onnxruntime: Option<PathBuf>,
    /// GPU index for cuda / tensorrt.
    pub device: i32,
    /// TensorRT's engine cache folder (default: ~/.cache/marlin/tensorrt).
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
    pub tail: Tail,
    pub max_clips: Option<usize>,
    /// Resample every video to this frame rate before cutting clips.
    pub fps: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    pub decoder: Decoder,
    pub colour: Colour,
    /// Seconds without a frame, an error or the end before a video is given up as stalled.
    pub stall_timeout_s: f64,
}

/// Face detection and cropping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FacesConfig {
    /// Detect and crop faces (for videos that are not 224×224 face crops already).
    pub crop_face: bool,
    pub mode: Crop,
    /// Which faces become rows: the largest, the best-scored, or all (one row per face track).
    pub pick: Faces,
    /// Weight of the newest box in the temporal smoothing, 0 < w ≤ 1 (1: off).
    pub smooth: f32,
    pub detect_every: usize,
    pub max_side: Option<usize>,
    pub min_face: f32,
    /// FaceX-Zoo's `face_detection_retina.pkl`; default: the cache.
    pub detector: Option<PathBuf>,
    /// Where the detector computes: cpu, onnx-cpu, cuda, tensorrt.
    pub backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    pub layout: Layout,
    /// Every token's feature per clip, rows of (1568, D).
    pub keep_seq: bool,
}

macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const NAMES: &[&str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(format!("`{s}` is not one of {}", Self::NAMES.join(", "))),
                }
            }
        }
    };
}

choice!(Precision { F32 = "f32", Bf16 = "bf16" });
choice!(Backend { Cpu = "cpu", OnnxCpu = "onnx-cpu", Cuda = "cuda", Tensorrt = "tensorrt" });
choice!(Tail { Drop = "drop", Pad = "pad" });
choice!(Decoder { Auto = "auto", Software = "software", Nvdec = "nvdec" });
choice!(Colour { Auto = "auto", Exact = "exact", Videoconvert = "videoconvert" });
choice!(Crop { Compat = "compat", Marlin = "marlin", Aligned = "aligned" });
choice!(Faces { Largest = "largest", Score = "score", All = "all" });
choice!(
    /// `combined`: `features.npy` + `clips.csv` only; `per-video`: also `videos/<id>.npy`, as
    /// the official `extract_video` returns it.
    Layout { Combined = "combined", PerVideo = "per-video" }
);

impl Default for FeaturizeConfig {
    fn default() -> Self {
        Self {
            model: None,
            model_config: None,
            precision: Precision::F32,
            backend: Backend::Cpu,
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
    fn default() -> Self {
        Self { sample_rate: 2, stride: 16, tail: Tail::Drop, max_clips: None, fps: None }
    }
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            decoder: Decoder::Auto,
            colour: Colour::Auto,
            stall_timeout_s: marlin_media::DEFAULT_STALL_TIMEOUT.as_secs_f64(),
        }
    }
}

impl Default for FacesConfig {
    fn default() -> Self {
        Self {
            crop_face: false,
            mode: Crop::Marlin,
            pick: Faces::Largest,
            smooth: 0.5,
            detect_every: 1,
            max_side: None,
            min_face: 0.0,
            detector: None,
            backend: Backend::Cpu,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self { layout: Layout::Combined, keep_seq: false }
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
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    /// Refuses contradictory or out-of-range settings.
    pub fn validate(&self) -> Result<(), BatchError> {
        let bad = |m: String| Err(BatchError::Config(m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if self.sampling.sample_rate == 0 || self.sampling.stride == 0 {
            return bad("sampling.sample_rate and sampling.stride must be at least 1".into());
        }
        if let Some(fps) = self.sampling.fps
            && !(fps.is_finite() && fps > 0.0)
        {
            return bad(format!("sampling.fps must be positive, got {fps}"));
        }
        let stall = self.decode.stall_timeout_s;
        if !(stall.is_finite() && stall > 0.0) {
            return bad(format!("decode.stall_timeout_s must be a number of seconds above 0, got {stall}"));
        }
        let f = &self.faces;
        if !(f.smooth > 0.0 && f.smooth <= 1.0) {
            return bad(format!("faces.smooth must be in (0, 1], got {}", f.smooth));
        }
        if f.detect_every == 0 {
            return bad("faces.detect_every must be at least 1".into());
        }
        if f.mode == Crop::Compat
            && (f.detect_every != 1 || f.max_side.is_some() || f.min_face != 0.0 || f.pick == Faces::All)
        {
            return bad("faces.mode compat reproduces the official crops: it takes no detect_every, max_side, min_face or pick: all".into());
        }
        if self.extensions.is_empty() {
            return bad("extensions must name at least one file extension".into());
        }
        Ok(())
    }

    pub fn sampling_options(&self, clip_frames: usize) -> SamplingOptions {
        let s = &self.sampling;
        SamplingOptions {
            clip_frames,
            sample_rate: s.sample_rate,
            stride: s.stride,
            tail: match s.tail {
                Tail::Drop => TailPolicy::Drop,
                Tail::Pad => TailPolicy::Pad,
            },
            max_clips: s.max_clips,
        }
    }

    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            decoder: match self.decode.decoder {
                Decoder::Auto => DecoderChoice::Auto,
                Decoder::Software => DecoderChoice::Software,
                Decoder::Nvdec => DecoderChoice::Nvdec,
            },
            colour: match self.decode.colour {
                Colour::Auto => ColourMode::Auto,
                Colour::Exact => ColourMode::Exact,
                Colour::Videoconvert => ColourMode::Videoconvert,
            },
            // the official crops come with the official frames (a rotated video turned or not
            // as the official readers turn it)
            orientation: match self.faces.mode {
                Crop::Compat => Orientation::Official,
                Crop::Marlin | Crop::Aligned => Orientation::Display,
            },
            stall_timeout: std::time::Duration::from_secs_f64(self.decode.stall_timeout_s),
        }
    }

    pub fn crop_options(&self) -> CropOptions {
        let f = &self.faces;
        CropOptions {
            mode: match f.mode {
                Crop::Compat => CropMode::Compat,
                Crop::Marlin => CropMode::Marlin,
                Crop::Aligned => CropMode::Aligned,
            },
            smooth: f.smooth,
            detect_every: f.detect_every,
            max_side: f.max_side,
            min_face: f.min_face,
            pick: match f.pick {
                Faces::Score => Pick::BestScore,
                Faces::Largest | Faces::All => Pick::Largest,
            },
        }
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
        assert_eq!(c.faces.mode, Crop::Aligned);
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
    fn contradictions_are_refused() {
        let mut c = FeaturizeConfig::default();
        c.faces.mode = Crop::Compat;
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
