//! The `marlinprobe` subclass: the probe loaded at start, the stream's width and model checked
//! against it at caps, each buffer scored in place.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use crate::lock;
use crate::meta::{CAPS_NAME, ClipInfo, MODEL_SHA256, Score};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("marlinprobe", gst::DebugColorFlags::empty(), Some("MARLIN probe scoring"))
});

/// `threshold` when the probe's own is used.
const PROBE_THRESHOLD: f64 = -1.0;

#[derive(Debug, Clone)]
struct Settings {
    probe: Option<String>,
    threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { probe: None, threshold: PROBE_THRESHOLD }
    }
}

struct State {
    probe: marlin_probe::Probe,
    /// Its file, for the errors.
    path: PathBuf,
    /// The stream's feature width, once the caps are checked.
    dim: Option<usize>,
}

#[derive(Default)]
pub struct Probe {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for Probe {
    const NAME: &'static str = "GstMarlinProbe";
    type Type = super::Probe;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for Probe {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("probe")
                    .nick("Probe")
                    .blurb("A probe file from `marlin probe train|import`")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Threshold")
                    .blurb("Label positive from this probability (-1: the probe's own threshold)")
                    .minimum(PROBE_THRESHOLD)
                    .maximum(1.0)
                    .default_value(PROBE_THRESHOLD)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "probe" => s.probe = value.get().unwrap_or_default(),
            "threshold" => s.threshold = value.get().unwrap_or(PROBE_THRESHOLD),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "probe" => s.probe.to_value(),
            "threshold" => s.threshold.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for Probe {}

impl ElementImpl for Probe {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MARLIN probe",
                "Filter/Analyzer",
                "Scores MARLIN features with a linear probe (e.g. a deepfake screen): a MarlinScoreMeta (probability, label) on each buffer and a `marlin-probe` element message per clip. \
                 Example: … ! marlinencoder model=vit_small_ytf ! marlinprobe probe=probe.json ! fakesink",
                "marlin-rs",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder(CAPS_NAME)
                .field("dim", gst::IntRange::new(1, i32::MAX))
                .field("tokens", 1i32)
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

impl BaseTransformImpl for Probe {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let path = lock(&self.settings).probe.clone().map(PathBuf::from).ok_or_else(|| {
            gst::error_msg!(gst::ResourceError::NotFound, ("no probe: set the `probe` property to a probe file"))
        })?;
        let probe =
            marlin_probe::Probe::load(&path).map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
        gst::info!(
            CAT,
            imp = self,
            "loaded {} ({} features of {})",
            path.display(),
            probe.model.dim,
            probe.model.architecture
        );
        *lock(&self.state) = Some(State { probe, path, dim: None });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let s = incaps.structure(0).ok_or_else(|| gst::loggable_error!(CAT, "empty caps"))?;
        let dim = s.get::<i32>("dim").map_err(|e| gst::loggable_error!(CAT, "caps without dim: {e}"))? as usize;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        let sha = s.get::<String>(MODEL_SHA256).ok();
        if let Err(e) = state.probe.check_model(&state.path, "the stream", sha.as_deref(), dim) {
            gst::element_imp_error!(self, gst::StreamError::WrongType, ("{}", e));
            return Err(gst::loggable_error!(CAT, "features of another model"));
        }
        state.dim = Some(dim);
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let threshold = lock(&self.settings).threshold;
        let guard = lock(&self.state);
        let Some(State { probe, dim: Some(dim), .. }) = guard.as_ref() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("features before caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        let features: Vec<f64> = {
            let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
            if map.len() != dim * 4 {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("a feature buffer of {} bytes; the caps say {dim} float32 values", map.len())
                );
                return Err(gst::FlowError::Error);
            }
            map.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect()
        };
        let probability = probe.probability(&features);
        let positive = probability >= if threshold >= 0.0 { threshold } else { probe.threshold };
        let label = if positive { probe.positive.clone() } else { probe.negative.clone() };
        drop(guard);
        let score = Score { probability, label };
        if let Err(e) = score.attach(buf) {
            gst::warning!(CAT, imp = self, "cannot attach the score: {e}");
        }
        let clip = ClipInfo::from_buffer(buf);
        let mut s = clip.map_or_else(|| gst::Structure::new_empty("marlin-probe"), |c| c.structure("marlin-probe"));
        s.set("probability", score.probability);
        s.set("label", &score.label);
        s.set("pts", buf.pts().map_or(u64::MAX, |t| t.nseconds()));
        let _ = self.obj().post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
        Ok(gst::FlowSuccess::Ok)
    }
}
