//! The `marlinfacedetect` subclass: settings, the detector loaded in `start()`, detection in
//! `transform_ip`.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use marlin_faces::crop::{detect_compat, faces_in};
use marlin_faces::{CropOptions, FaceDetector, FrameRef, Tracker};
use marlin_model::Backend;

use crate::frames::{FORMATS, RgbConverter};
use crate::meta::{Face, add_face};
use crate::{lock, settings};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("marlinfacedetect", gst::DebugColorFlags::empty(), Some("MARLIN face detector"))
});

const DEFAULT_THRESHOLD: f64 = 0.7;
const DEFAULT_MIN_FACE_SIZE: f64 = 0.0;
const DEFAULT_DETECT_EVERY: u32 = 1;
const DEFAULT_MAX_SIDE: u32 = 0;
const DEFAULT_COMPAT: bool = false;
const DEFAULT_THREADS: u32 = 0;

#[derive(Debug, Clone)]
struct Settings {
    model: Option<String>,
    threshold: f64,
    min_face_size: f64,
    detect_every: u32,
    max_side: u32,
    compat: bool,
    threads: u32,
    backend: Backend,
    onnxruntime: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: None,
            threshold: DEFAULT_THRESHOLD,
            min_face_size: DEFAULT_MIN_FACE_SIZE,
            detect_every: DEFAULT_DETECT_EVERY,
            max_side: DEFAULT_MAX_SIDE,
            compat: DEFAULT_COMPAT,
            threads: DEFAULT_THREADS,
            backend: Backend::default(),
            onnxruntime: None,
        }
    }
}

struct State {
    detector: Box<dyn FaceDetector>,
    converter: Option<RgbConverter>,
    rgb: Vec<u8>,
    tracker: Tracker,
    /// Frames seen since the stream (re)started.
    frame: u64,
    /// The faces of the last detected frame, carried to frames in between.
    last: Vec<Face>,
}

#[derive(Default)]
pub struct FaceDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceDetect {
    const NAME: &'static str = "GstMarlinFaceDetect";
    type Type = super::FaceDetect;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for FaceDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("FaceX-Zoo's face_detection_retina.pkl (default: the cache, where `marlin models fetch retinaface` puts it)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Threshold")
                    .blurb("Keep faces scoring at least this (the detector itself keeps scores above 0.7)")
                    .minimum(DEFAULT_THRESHOLD)
                    .maximum(1.0)
                    .default_value(DEFAULT_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-face-size")
                    .nick("Minimum face size")
                    .blurb("Ignore faces narrower than this many pixels (not in compat mode)")
                    .minimum(f64::from(CropOptions::MIN_FACE.low))
                    .maximum(f64::from(CropOptions::MIN_FACE.high))
                    .default_value(DEFAULT_MIN_FACE_SIZE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("detect-every")
                    .nick("Detect every")
                    .blurb("Run the detector on every n-th frame; frames in between carry the last faces (marked detected=false)")
                    .minimum(CropOptions::DETECT_EVERY.low as u32)
                    .maximum(CropOptions::DETECT_EVERY.high as u32)
                    .default_value(DEFAULT_DETECT_EVERY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-side")
                    .nick("Maximum side")
                    .blurb("Detect on frames downscaled to this longer side, boxes scaled back (0: full size; not in compat mode)")
                    .maximum(CropOptions::MAX_SIDE.high as u32)
                    .default_value(DEFAULT_MAX_SIDE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("compat")
                    .nick("Compat")
                    .blurb("Detect as the official code does (the RGB frame handed over as if BGR), for bit-exact official crops")
                    .default_value(DEFAULT_COMPAT)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Detector threads (0: every core)")
                    .maximum(marlin_model::THREADS.high as u32)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                settings::property("backend", "Backend", "Where the detector computes", Backend::default()),
                glib::ParamSpecString::builder("onnxruntime")
                    .nick("ONNX Runtime")
                    .blurb(&format!("libonnxruntime.so for the ONNX backends (default: {})", marlin_onnx::RUNTIME_SEARCH))
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model = value.get().unwrap_or_default(),
            "threshold" => s.threshold = value.get().unwrap_or(DEFAULT_THRESHOLD),
            "min-face-size" => s.min_face_size = value.get().unwrap_or(DEFAULT_MIN_FACE_SIZE),
            "detect-every" => s.detect_every = value.get().unwrap_or(DEFAULT_DETECT_EVERY),
            "max-side" => s.max_side = value.get().unwrap_or(DEFAULT_MAX_SIDE),
            "compat" => s.compat = value.get().unwrap_or(DEFAULT_COMPAT),
            "threads" => s.threads = value.get().unwrap_or(DEFAULT_THREADS),
            "backend" => s.backend = settings::get(value, Backend::default()),
            "onnxruntime" => s.onnxruntime = value.get().unwrap_or_default(),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model.to_value(),
            "threshold" => s.threshold.to_value(),
            "min-face-size" => s.min_face_size.to_value(),
            "detect-every" => s.detect_every.to_value(),
            "max-side" => s.max_side.to_value(),
            "compat" => s.compat.to_value(),
            "threads" => s.threads.to_value(),
            "backend" => settings::value(s.backend),
            "onnxruntime" => s.onnxruntime.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for FaceDetect {}

impl ElementImpl for FaceDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MARLIN face detector",
                "Filter/Analyzer/Video",
                "Finds faces (FaceX-Zoo's RetinaFace, as the official MARLIN code) and attaches them as `face` region-of-interest metas with score, 5 landmarks and track id. \
                 Example: gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! fakesink",
                "marlin-rs",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().map(|f| gst_video::VideoFormat::from_string(f)))
                .build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("src template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("sink template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FaceDetect {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let options = marlin_onnx::EngineOptions {
            threads: settings.threads as usize,
            onnxruntime: settings.onnxruntime.as_ref().map(Into::into),
            ..Default::default()
        };
        let model = settings.model.as_deref().map(std::path::Path::new);
        let detector = marlin_onnx::open_face_detector(model, settings.backend, &options)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
        *lock(&self.state) = Some(State {
            detector,
            converter: None,
            rgb: Vec::new(),
            tracker: Tracker::default(),
            frame: 0,
            last: Vec::new(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info =
            gst_video::VideoInfo::from_caps(incaps).map_err(|e| gst::loggable_error!(CAT, "bad caps {incaps}: {e}"))?;
        let converter = RgbConverter::new(info).map_err(|e| gst::loggable_error!(CAT, "{e}"))?;
        if let Some(state) = lock(&self.state).as_mut() {
            state.converter = Some(converter);
        }
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_) = event.view()
            && let Some(state) = lock(&self.state).as_mut()
        {
            state.frame = 0;
            state.last.clear();
            state.tracker = Tracker::default();
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        // the settings that may change while playing are read per frame
        let settings = lock(&self.settings).clone();
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("not started"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let State { detector, converter, rgb, tracker, frame, last } = state;
        let Some(converter) = converter.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("a buffer before caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let (w, h) = (converter.info().width(), converter.info().height());
        let index = *frame;
        *frame += 1;
        if index.is_multiple_of(u64::from(settings.detect_every.max(1))) {
            if let Err(e) = converter.convert(buf, rgb) {
                gst::element_imp_error!(self, gst::StreamError::Decode, ("cannot convert a frame to RGB: {}", e));
                return Err(gst::FlowError::Error);
            }
            let f = FrameRef { rgb, width: w as usize, height: h as usize };
            let found = if settings.compat {
                detect_compat(detector.as_ref(), &f)
            } else {
                let options = CropOptions {
                    max_side: (settings.max_side > 0).then_some(settings.max_side as usize),
                    min_face: settings.min_face_size as f32,
                    ..Default::default()
                };
                faces_in(detector.as_ref(), &f, &options)
            };
            let mut dets = match found {
                Ok(d) => d,
                Err(e) => {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ("face detection failed: {}", e));
                    return Err(gst::FlowError::Error);
                }
            };
            dets.retain(|d| f64::from(d.score) >= settings.threshold);
            let ids = tracker.update(index, &dets);
            *last = dets
                .into_iter()
                .zip(ids)
                .map(|(detection, track)| Face { detection, track, detected: true, per_track: false })
                .collect();
            gst::trace!(CAT, imp = self, "frame {index}: {} faces", last.len());
        } else {
            last.iter_mut().for_each(|f| f.detected = false);
        }
        for face in last.iter() {
            add_face(buf, face, w, h);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
