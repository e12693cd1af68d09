//! What the elements attach to buffers, in one place so writers and readers agree.
//!
//! - Faces: a `GstVideoRegionOfInterestMeta` of type `face` per face, its rectangle the box
//!   clipped to the frame, with a `marlin-face` params structure: `x1 y1 x2 y2` (the exact box,
//!   doubles), `score`, `landmarks` (10 doubles: x, y of eyes, nose, mouth corners),
//!   `track-id` (uint64), `detected` (false when carried over from an earlier frame) and
//!   `per-track` (true on `marlinfacecrop faces=all` crops: the encoder cuts each track's crops
//!   into clips of their own).
//! - Clips: a `MarlinClipMeta` custom meta on each feature buffer: `clip-index`,
//!   `first-frame`, `last-frame` (uint64) and `track-id` (int64, −1 for none).
//! - Scores: a `MarlinScoreMeta` custom meta added by `marlinprobe`: `probability` (double)
//!   and `label` (string).
//! - Feature caps carry `dim`, `tokens` and `model-sha256` (the checkpoint's SHA-256, so a
//!   probe can refuse features of another model).

use gst::glib;
use gst_video::VideoRegionOfInterestMeta;
use marlin_faces::Detection;

pub const FACE_ROI: &str = "face";
pub const FACE_PARAMS: &str = "marlin-face";
pub const CLIP_META: &str = "MarlinClipMeta";
pub const SCORE_META: &str = "MarlinScoreMeta";
/// The caps field naming the checkpoint the features come from.
pub const MODEL_SHA256: &str = "model-sha256";
/// The media type of `marlinencoder`'s buffers (`dim`, `tokens` fields).
pub const CAPS_NAME: &str = "application/x-marlin-features";

pub(crate) fn register() {
    for name in [CLIP_META, SCORE_META] {
        if !gst::meta::CustomMeta::is_registered(name) {
            gst::meta::CustomMeta::register(name, &[]);
        }
    }
}

/// One face as carried on a buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub detection: Detection,
    pub track: u64,
    pub detected: bool,
    pub per_track: bool,
}

/// Attaches `face` to `buffer` (a `width`×`height` frame).
pub fn add_face(buffer: &mut gst::BufferRef, face: &Face, width: u32, height: u32) {
    let d = &face.detection;
    let clip = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x1, y1) = (clip(d.x1, width), clip(d.y1, height));
    let (x2, y2) = (clip(d.x2.ceil(), width), clip(d.y2.ceil(), height));
    let mut meta =
        VideoRegionOfInterestMeta::add(buffer, FACE_ROI, (x1, y1, x2.saturating_sub(x1), y2.saturating_sub(y1)));
    meta.set_id(face.track as i32);
    let landmarks = gst::Array::new(d.landmarks.iter().flat_map(|p| [f64::from(p[0]), f64::from(p[1])]));
    meta.add_param(
        gst::Structure::builder(FACE_PARAMS)
            .field("x1", f64::from(d.x1))
            .field("y1", f64::from(d.y1))
            .field("x2", f64::from(d.x2))
            .field("y2", f64::from(d.y2))
            .field("score", f64::from(d.score))
            .field("landmarks", landmarks)
            .field("track-id", face.track)
            .field("detected", face.detected)
            .field("per-track", face.per_track)
            .build(),
    );
}

/// The faces attached to `buffer`, in the order they were attached.
pub fn faces(buffer: &gst::BufferRef) -> Vec<Face> {
    buffer
        .iter_meta::<VideoRegionOfInterestMeta>()
        .filter(|m| m.roi_type() == FACE_ROI)
        .filter_map(|m| {
            let s = m.param(FACE_PARAMS)?;
            let f = |k: &str| s.get::<f64>(k).ok().map(|v| v as f32);
            let lm: Vec<f32> = s
                .get::<gst::Array>("landmarks")
                .ok()?
                .iter()
                .filter_map(|v| v.get::<f64>().ok())
                .map(|v| v as f32)
                .collect();
            if lm.len() != 10 {
                return None;
            }
            let detection = Detection {
                x1: f("x1")?,
                y1: f("y1")?,
                x2: f("x2")?,
                y2: f("y2")?,
                score: f("score")?,
                landmarks: std::array::from_fn(|k| [lm[2 * k], lm[2 * k + 1]]),
            };
            Some(Face {
                detection,
                track: s.get("track-id").ok()?,
                detected: s.get("detected").unwrap_or(true),
                per_track: s.get("per-track").unwrap_or(false),
            })
        })
        .collect()
}

/// A feature buffer's clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipInfo {
    pub index: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub track: Option<u64>,
}

impl ClipInfo {
    pub fn structure(&self, name: &str) -> gst::Structure {
        gst::Structure::builder(name)
            .field("clip-index", self.index)
            .field("first-frame", self.first_frame)
            .field("last-frame", self.last_frame)
            .field("track-id", self.track.map_or(-1i64, |t| t as i64))
            .build()
    }

    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        let mut meta = gst::meta::CustomMeta::add(buffer, CLIP_META)?;
        let s = meta.mut_structure();
        s.set("clip-index", self.index);
        s.set("first-frame", self.first_frame);
        s.set("last-frame", self.last_frame);
        s.set("track-id", self.track.map_or(-1i64, |t| t as i64));
        Ok(())
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Option<Self> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, CLIP_META).ok()?;
        let s = meta.structure();
        let track: i64 = s.get("track-id").ok()?;
        Some(Self {
            index: s.get("clip-index").ok()?,
            first_frame: s.get("first-frame").ok()?,
            last_frame: s.get("last-frame").ok()?,
            track: u64::try_from(track).ok(),
        })
    }
}

/// A probe's verdict on a feature buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub probability: f64,
    pub label: String,
}

impl Score {
    pub fn attach(&self, buffer: &mut gst::BufferRef) -> Result<(), glib::BoolError> {
        let mut meta = gst::meta::CustomMeta::add(buffer, SCORE_META)?;
        let s = meta.mut_structure();
        s.set("probability", self.probability);
        s.set("label", &self.label);
        Ok(())
    }

    pub fn from_buffer(buffer: &gst::BufferRef) -> Option<Self> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, SCORE_META).ok()?;
        let s = meta.structure();
        Some(Self { probability: s.get("probability").ok()?, label: s.get("label").ok()? })
    }
}
