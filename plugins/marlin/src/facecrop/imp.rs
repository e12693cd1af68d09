//! The `marlinfacecrop` subclass: any supported frame size in, 224×224 RGB out, the crop rules
//! of `marlin_faces::DetectedCropper`: one crop per frame, or with `faces=all` one per face
//! track present in the frame (a cropper per track), pushed one after the other through
//! `generate_output`.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use marlin_faces::FACE_SIZE;
use marlin_faces::{CropMode, CropOptions, DetectedCropper, Faces, FrameRef};

use crate::frames::{FORMATS, RgbConverter};
use crate::meta::{Face, add_face, faces};
use crate::{lock, settings};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("marlinfacecrop", gst::DebugColorFlags::empty(), Some("MARLIN face crops"))
});

#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: CropMode,
    faces: Faces,
    smoothing: f64,
}

impl Default for Settings {
    fn default() -> Self {
        let d = CropOptions::default();
        Self { mode: d.mode, faces: d.pick, smoothing: f64::from(d.smooth) }
    }
}

impl Settings {
    fn options(&self) -> CropOptions {
        CropOptions { mode: self.mode, smooth: self.smoothing as f32, pick: self.faces, ..Default::default() }
    }
}

/// A track's cropper and the last frame it was seen on.
struct TrackCrop {
    cropper: DetectedCropper,
    seen: u64,
}

/// Tracks unseen for this many frames are forgotten (`faces=all`).
const TRACK_MEMORY: u64 = 60;

struct State {
    converter: RgbConverter,
    out_info: gst_video::VideoInfo,
    /// The followed face's cropper (`largest`, `score`).
    cropper: DetectedCropper,
    /// One cropper per track (`all`).
    tracks: HashMap<u64, TrackCrop>,
    frame: u64,
    rgb: Vec<u8>,
    /// Crops of the last input not pushed yet.
    pending: VecDeque<gst::Buffer>,
}

#[derive(Default)]
pub struct FaceCrop {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for FaceCrop {
    const NAME: &'static str = "GstMarlinFaceCrop";
    type Type = super::FaceCrop;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for FaceCrop {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let d = Settings::default();
            vec![
                settings::property("mode", "Mode", "How faces are cropped", d.mode),
                settings::property("faces", "Faces", "Which faces are cropped", d.faces),
                glib::ParamSpecDouble::builder("smoothing")
                    .nick("Smoothing")
                    .blurb(
                        "Weight of the newest box in the temporal smoothing, 0 < w <= 1 (1: off; compat never smooths)",
                    )
                    .minimum(0.01)
                    .maximum(1.0)
                    .default_value(d.smoothing)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "mode" => s.mode = settings::get(value, CropMode::default()),
            "faces" => s.faces = settings::get(value, Faces::default()),
            "smoothing" => s.smoothing = value.get().unwrap_or(Settings::default().smoothing),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "mode" => settings::value(s.mode),
            "faces" => settings::value(s.faces),
            "smoothing" => s.smoothing.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for FaceCrop {}

fn out_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::Rgb)
        .width(FACE_SIZE as i32)
        .height(FACE_SIZE as i32)
        .build()
}

fn in_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().map(|f| gst_video::VideoFormat::from_string(f)))
        .build()
}

impl ElementImpl for FaceCrop {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MARLIN face crop",
                "Filter/Effect/Video",
                "Crops each frame to its face (from marlinfacedetect's metas) as 224x224 RGB, as `marlin extract --crop-face` does. \
                 Example: gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! marlinfacecrop ! videoconvert ! autovideosink",
                "marlin-rs",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &out_caps())
                    .expect("src template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &in_caps())
                    .expect("sink template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

/// `caps` with their frame rate (and pixel aspect ratio) kept and everything else replaced by
/// `base`'s fields.
fn keep_rate(caps: &gst::Caps, base: gst::Caps) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    for s in caps.iter() {
        let mut b = base.clone();
        if let Some(rate) = s.value("framerate").ok().cloned() {
            b.make_mut().set_value("framerate", rate);
        }
        out.merge(b);
    }
    out
}

impl BaseTransformImpl for FaceCrop {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = None;
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let other = match direction {
            gst::PadDirection::Sink => keep_rate(caps, out_caps()),
            _ => keep_rate(caps, in_caps()),
        };
        Some(match filter {
            Some(f) => f.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }

    fn unit_size(&self, caps: &gst::Caps) -> Option<usize> {
        gst_video::VideoInfo::from_caps(caps).ok().map(|i| i.size())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info =
            gst_video::VideoInfo::from_caps(incaps).map_err(|e| gst::loggable_error!(CAT, "bad caps {incaps}: {e}"))?;
        let out_info = gst_video::VideoInfo::from_caps(outcaps)
            .map_err(|e| gst::loggable_error!(CAT, "bad caps {outcaps}: {e}"))?;
        let converter = RgbConverter::new(info).map_err(|e| gst::loggable_error!(CAT, "{e}"))?;
        let settings = *lock(&self.settings);
        let mut state = lock(&self.state);
        // a caps change mid-stream keeps the smoothing and track state
        let (cropper, tracks, frame) = match state.take() {
            Some(s) => (s.cropper, s.tracks, s.frame),
            None => (DetectedCropper::new(settings.options()), HashMap::new(), 0),
        };
        *state = Some(State { converter, out_info, cropper, tracks, frame, rgb: Vec::new(), pending: VecDeque::new() });
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_) = event.view()
            && let Some(state) = lock(&self.state).as_mut()
        {
            state.cropper = DetectedCropper::new(lock(&self.settings).options());
            state.tracks.clear();
            state.frame = 0;
            state.pending.clear();
        }
        self.parent_sink_event(event)
    }

    fn generate_output(&self) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("a buffer before caps"));
            return Err(gst::FlowError::NotNegotiated);
        };
        if state.pending.is_empty() {
            let Some(inbuf) = self.take_queued_buffer() else { return Ok(GenerateOutputSuccess::NoOutput) };
            let faces = *lock(&self.settings);
            state.pending = self.crops(state, &inbuf, faces.faces == Faces::All)?.into();
        }
        Ok(state.pending.pop_front().map_or(GenerateOutputSuccess::NoOutput, GenerateOutputSuccess::Buffer))
    }
}

impl FaceCrop {
    /// The crops of one frame: the followed face's, or one per track present with `all`.
    fn crops(&self, state: &mut State, inbuf: &gst::Buffer, all: bool) -> Result<Vec<gst::Buffer>, gst::FlowError> {
        let State { converter, out_info, cropper, tracks, frame, rgb, .. } = state;
        if let Err(e) = converter.convert(inbuf, rgb) {
            gst::element_imp_error!(self, gst::StreamError::Decode, ("cannot convert a frame to RGB: {}", e));
            return Err(gst::FlowError::Error);
        }
        let (w, h) = (converter.info().width() as usize, converter.info().height() as usize);
        let f = FrameRef { rgb, width: w, height: h };
        let found = faces(inbuf);
        if *frame == 0 && found.is_empty() && !self.detector_upstream() {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("marlinfacecrop needs marlinfacedetect upstream: the first frame carries no faces and no marlinfacedetect comes before this element")
            );
            return Err(gst::FlowError::NotNegotiated);
        }
        let index = *frame;
        *frame += 1;
        let mut out = Vec::new();
        if all {
            let options = lock(&self.settings).options();
            for face in &found {
                let t = tracks
                    .entry(face.track)
                    .or_insert_with(|| TrackCrop { cropper: DetectedCropper::new(options), seen: index });
                t.seen = index;
                let crop = t.cropper.crop(f, std::slice::from_ref(&face.detection));
                out.push(self.output(
                    inbuf,
                    out_info,
                    &crop.pixels,
                    Some(&Face { per_track: true, ..face.clone() }),
                )?);
            }
            tracks.retain(|_, t| index - t.seen <= TRACK_MEMORY);
        } else {
            let dets: Vec<_> = found.iter().map(|f| f.detection.clone()).collect();
            let crop = cropper.crop(f, &dets);
            let followed = crop.detection.as_ref().and_then(|d| found.iter().find(|f| f.detection == *d));
            out.push(self.output(inbuf, out_info, &crop.pixels, followed)?);
        }
        Ok(out)
    }

    /// Whether a `marlinfacedetect` feeds this element, following the links upstream (through
    /// queues, tees and into bins by their ghost pads).
    fn detector_upstream(&self) -> bool {
        let mut sinks: Vec<gst::Pad> = self.obj().sink_pads();
        for _ in 0..256 {
            let Some(sink) = sinks.pop() else { return false };
            let Some(mut src) = sink.peer() else { continue };
            while let Some(target) = src.downcast_ref::<gst::GhostPad>().and_then(|g| g.target()) {
                src = target;
            }
            let Some(element) = src.parent_element() else { continue };
            if element.factory().is_some_and(|f| f.name() == "marlinfacedetect") {
                return true;
            }
            sinks.extend(element.sink_pads());
        }
        false
    }

    /// A crop as an output buffer with the input's timestamps and the face it follows.
    fn output(
        &self,
        inbuf: &gst::Buffer,
        out_info: &gst_video::VideoInfo,
        pixels: &[u8],
        face: Option<&Face>,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let mut outbuf = gst::Buffer::with_size(out_info.size()).map_err(|_| gst::FlowError::Error)?;
        {
            let b = outbuf.get_mut().ok_or(gst::FlowError::Error)?;
            b.set_pts(inbuf.pts());
            b.set_dts(inbuf.dts());
            b.set_duration(inbuf.duration());
            b.set_offset(inbuf.offset());
            b.set_flags(inbuf.flags() & (gst::BufferFlags::DISCONT | gst::BufferFlags::DELTA_UNIT));
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(&mut *b, out_info)
                .map_err(|_| gst::FlowError::Error)?;
            let stride = frame.plane_stride()[0] as usize;
            let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
            let row = FACE_SIZE * 3;
            for (y, src) in pixels.chunks_exact(row).enumerate() {
                data[y * stride..y * stride + row].copy_from_slice(src);
            }
        }
        if let Some(face) = face {
            let size = FACE_SIZE as f32;
            let inside = marlin_faces::Detection { x1: 0.0, y1: 0.0, x2: size, y2: size, ..face.detection.clone() };
            let b = outbuf.get_mut().ok_or(gst::FlowError::Error)?;
            add_face(b, &Face { detection: inside, ..face.clone() }, FACE_SIZE as u32, FACE_SIZE as u32);
        }
        Ok(outbuf)
    }
}
