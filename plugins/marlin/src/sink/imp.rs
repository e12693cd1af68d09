//! The `marlinsink` subclass: rows appended to a `marlin_npy::RowFile` under a temporary name,
//! CSV rows kept in memory, both finalised at EOS.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use marlin_npy::RowFile;

use crate::lock;
use crate::meta::{CAPS_NAME, ClipInfo};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("marlinsink", gst::DebugColorFlags::empty(), Some("MARLIN feature sink")));

#[derive(Debug, Clone, Default)]
struct Settings {
    location: Option<String>,
    csv_location: Option<String>,
    video_id: Option<String>,
    label: Option<String>,
}

struct Open {
    rows: RowFile,
    tmp: PathBuf,
    target: PathBuf,
}

#[derive(Default)]
struct State {
    settings: Settings,
    /// (dim, tokens) from the caps.
    shape: Option<(usize, usize)>,
    file: Option<Open>,
    csv: String,
    finished: bool,
}

#[derive(Default)]
pub struct Sink {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for Sink {
    const NAME: &'static str = "GstMarlinSink";
    type Type = super::Sink;
    type ParentType = gst_base::BaseSink;
}

impl ObjectImpl for Sink {
    fn constructed(&self) {
        self.parent_constructed();
        // a file: written as fast as features come, not at their timestamps
        self.obj().set_sync(false);
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("Output features (.npy)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("csv-location")
                    .nick("CSV location")
                    .blurb("Output rows (.csv), one per feature row (optional)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("video-id")
                    .nick("Video id")
                    .blurb("Written in every CSV row")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("label")
                    .nick("Label")
                    .blurb("Written in every CSV row")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        let v: Option<String> = value.get().unwrap_or_default();
        match pspec.name() {
            "location" => s.location = v,
            "csv-location" => s.csv_location = v,
            "video-id" => s.video_id = v,
            "label" => s.label = v,
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "location" => s.location.to_value(),
            "csv-location" => s.csv_location.to_value(),
            "video-id" => s.video_id.to_value(),
            "label" => s.label.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for Sink {}

impl ElementImpl for Sink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MARLIN feature sink",
                "Sink/File",
                "Writes MARLIN features to .npy and their clips to .csv, atomically at EOS. \
                 Example: gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! marlinfacecrop ! marlinencoder model=vit_small_ytf ! marlinsink location=out.npy csv-location=out.csv",
                "marlin-rs",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder(CAPS_NAME)
                .field("dim", gst::IntRange::new(1, i32::MAX))
                .field("tokens", gst::IntRange::new(1, i32::MAX))
                .build();
            vec![
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("sink template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

/// `.name.<pid>.part` beside `target`.
fn temporary(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.part", std::process::id()))
}

impl BaseSinkImpl for Sink {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        if settings.location.is_none() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("no location: set the `location` property to the output .npy")
            ));
        }
        *lock(&self.state) = Some(State {
            settings,
            csv: String::from("row,video_id,label,clip_index,track_id,first_frame,last_frame,start_s,end_s\n"),
            ..Default::default()
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // without EOS the outputs are incomplete: nothing goes under the final names
        if let Some(State { file: Some(open), finished: false, .. }) = lock(&self.state).take() {
            drop(open.rows);
            let _ = std::fs::remove_file(&open.tmp);
        }
        Ok(())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let s = caps.structure(0).ok_or_else(|| gst::loggable_error!(CAT, "empty caps"))?;
        let dim = s.get::<i32>("dim").map_err(|e| gst::loggable_error!(CAT, "caps without dim: {e}"))? as usize;
        let tokens =
            s.get::<i32>("tokens").map_err(|e| gst::loggable_error!(CAT, "caps without tokens: {e}"))? as usize;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "not started"))?;
        if state.shape.is_some_and(|old| old != (dim, tokens)) {
            return Err(gst::loggable_error!(CAT, "the feature shape changed mid-stream"));
        }
        state.shape = Some((dim, tokens));
        Ok(())
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else { return Err(gst::FlowError::Flushing) };
        let Some((dim, tokens)) = state.shape else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("features before caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        if state.file.is_none()
            && let Err(e) = state.open(if tokens == 1 { vec![dim] } else { vec![tokens, dim] })
        {
            gst::element_imp_error!(self, gst::ResourceError::OpenWrite, ("{}", e));
            return Err(gst::FlowError::Error);
        }
        let Some(open) = state.file.as_mut() else { return Err(gst::FlowError::Error) };
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let row = open.rows.rows();
        if let Err(e) = open.rows.append_le_bytes(&map) {
            gst::element_imp_error!(self, gst::ResourceError::Write, ("{}", e));
            return Err(gst::FlowError::Error);
        }
        let info = ClipInfo::from_buffer(buffer);
        let secs =
            |t: Option<gst::ClockTime>| t.map_or_else(String::new, |t| format!("{:.3}", t.nseconds() as f64 / 1e9));
        let end = buffer.pts().zip(buffer.duration()).map(|(p, d)| p + d);
        let field = |v: &Option<String>| {
            let v = v.clone().unwrap_or_default();
            if v.contains([',', '"', '\n']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
        };
        state.csv.push_str(&format!(
            "{row},{},{},{},{},{},{},{},{}\n",
            field(&state.settings.video_id),
            field(&state.settings.label),
            info.map_or_else(|| buffer.offset().to_string(), |i| i.index.to_string()),
            info.and_then(|i| i.track).map_or_else(String::new, |t| t.to_string()),
            info.map_or_else(String::new, |i| i.first_frame.to_string()),
            info.map_or_else(String::new, |i| i.last_frame.to_string()),
            secs(buffer.pts()),
            secs(end),
        ));
        Ok(gst::FlowSuccess::Ok)
    }

    fn event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view()
            && let Err(e) = self.finish()
        {
            gst::element_imp_error!(self, gst::ResourceError::Write, ("{}", e));
            return false;
        }
        self.parent_event(event)
    }
}

impl State {
    fn target(&self) -> PathBuf {
        PathBuf::from(self.settings.location.clone().unwrap_or_default())
    }

    /// Starts the features file (rows of `row_shape`) under its temporary name.
    fn open(&mut self, row_shape: Vec<usize>) -> Result<(), String> {
        let target = self.target();
        let tmp = temporary(&target);
        let rows = RowFile::create(&tmp, &row_shape).map_err(|e| e.to_string())?;
        self.file = Some(Open { rows, tmp, target });
        Ok(())
    }
}

impl Sink {
    /// Renames the features into place and writes the CSV.
    fn finish(&self) -> Result<(), String> {
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else { return Ok(()) };
        if state.file.is_none() {
            // a stream without frames still gets its (empty) outputs, so that a batch job
            // reading them finds zero rows rather than a missing file
            let row_shape = match state.shape {
                Some((dim, 1)) => vec![dim],
                Some((dim, tokens)) => vec![tokens, dim],
                None => vec![0],
            };
            let message = format!("end of stream without any features: {} holds 0 rows", state.target().display());
            gst::warning!(CAT, imp = self, "{message}");
            gst::element_imp_warning!(self, gst::StreamError::Failed, ("{message}"));
            state.open(row_shape)?;
        }
        let Some(open) = state.file.take() else { return Ok(()) };
        let Open { rows, tmp, target } = open;
        let result = (|| {
            rows.finish().map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))?;
            match &state.settings.csv_location {
                Some(csv) => marlin_npy::write_atomic(Path::new(csv), state.csv.as_bytes()).map_err(|e| e.to_string()),
                None => Ok(()),
            }
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        state.finished = true;
        result
    }
}
