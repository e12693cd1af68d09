//! Streaming decode of any video GStreamer can open: `filesrc ! decodebin ! appsink`, one
//! frame at a time, converted to RGB only when the caller wants the frame.
//!
//! Memory stays bounded whatever the video's length: the appsink queue holds a few frames and
//! nothing else is kept here. Errors from GStreamer's bus are turned into [`MediaError`]s that
//! name the file and the cause.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use marlin_npy::files::InputKind;

use crate::colour::{ColourMode, ColourPath, ExactConverter, ExactLayout, copy_packed_rgb};
use crate::container::missing_index;
use crate::decoder_choice::{DecoderChoice, Verdict, verdict};
use crate::orientation::{Orientation, Rotation};
use crate::{MediaError, RgbImage};

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), MediaError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string())).clone().map_err(MediaError::Init)
}

/// The GStreamer library version in use (`GStreamer 1.22.0`).
pub fn gstreamer_version() -> String {
    gst::version_string().to_string()
}

/// How to decode.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    pub decoder: DecoderChoice,
    pub colour: ColourMode,
    /// Frames turned as the container's display rotation says, or as stored.
    pub orientation: Orientation,
    /// How long one [`VideoReader::next_frame`] waits with no frame, no error and no end of
    /// stream before giving the video up as stalled. decodebin can lose a damaged file's
    /// demuxer error (it drops errors of an element it is still bringing up) and then waits
    /// forever; so can a read from a hung network mount.
    pub stall_timeout: Duration,
}

/// [`DecodeOptions::stall_timeout`] by default: far above any single frame's decode time.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

impl DecodeOptions {
    /// Seconds [`DecodeOptions::stall_timeout`] may be set to (up to a day).
    pub const STALL_TIMEOUT_S: marlin_settings::Bounds<f64> = marlin_settings::Bounds::above(0.0, 86_400.0);

    /// The options with a stall timeout of `seconds`, checked against its bounds.
    pub fn with_stall_timeout(self, seconds: f64) -> Result<Self, marlin_settings::OutOfRange> {
        let seconds = Self::STALL_TIMEOUT_S.check("stall_timeout_s", seconds)?;
        Ok(Self { stall_timeout: Duration::from_secs_f64(seconds), ..self })
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            decoder: DecoderChoice::default(),
            colour: ColourMode::default(),
            orientation: Orientation::default(),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// One decoded frame: its index in decode order, its timestamp, and its pixels if asked for.
#[derive(Debug)]
pub struct Frame {
    pub index: u64,
    pub pts: Option<Duration>,
    pub image: Option<RgbImage>,
}

/// What the GStreamer callbacks found out, read by the reader.
#[derive(Default)]
struct Shared {
    decoder: Option<String>,
    error: Option<MediaError>,
    unknown_codec: Option<String>,
    video_linked: bool,
    via_videoconvert: bool,
    /// The demuxers decodebin plugged, watched for giving up before exposing a stream.
    demuxers: Vec<glib::WeakRef<gst::Element>>,
}

/// A video being decoded. Dropping it stops the pipeline.
pub struct VideoReader {
    path: PathBuf,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    shared: Arc<Mutex<Shared>>,
    next_index: u64,
    exact: ExactConverter,
    colour_path: Option<ColourPath>,
    finished: bool,
    last_pts: Option<Duration>,
    frame_interval: Option<Duration>,
    stall_timeout: Duration,
    stalled: bool,
    /// Reading a pipe (whose open or read may block for good).
    pipe: bool,
    /// Since when a demuxer has been seen stopped with no stream exposed.
    demuxer_dead_since: Option<Instant>,
    orientation: Orientation,
    /// The display rotation the stream's tags carry (seen with each converted frame).
    rotation: Rotation,
    /// A mirrored orientation was reported (once).
    warned_mirror: bool,
}

/// How long a demuxer must stay stopped with no stream before the file counts as unreadable:
/// its own error, when decodebin passes it on, is on the bus well before this.
const DEAD_DEMUXER_GRACE: Duration = Duration::from_millis(300);

/// How long one wait on the appsink lasts before the bus is checked.
const POLL: gst::ClockTime = gst::ClockTime::from_mseconds(50);

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl VideoReader {
    /// Starts decoding `path`. Errors found before the first frame (no such file, not a video)
    /// surface here or from the first [`next_frame`](Self::next_frame).
    pub fn open(path: &Path, options: DecodeOptions) -> Result<Self, MediaError> {
        init()?;
        // a device may never end: regular files and pipes only (a pipe's open can block, so its
        // pipeline starts on a thread of its own, under the stall timeout)
        let pipe = match marlin_npy::files::input_kind(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(MediaError::NotFound { path: path.into() });
            }
            Err(e) => return Err(MediaError::Unreadable { path: path.into(), reason: e.to_string() }),
            Ok(InputKind::File) if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) => {
                return Err(MediaError::NotAVideo { path: path.into(), reason: "empty file".into() });
            }
            Ok(kind) => kind == InputKind::Pipe,
        };
        let build_err = |e: glib::BoolError| MediaError::Init(format!("cannot build the decoding pipeline: {e}"));
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("filesrc").build().map_err(build_err)?;
        // a file:// URI carries any file name, UTF-8 or not (the `location` property is text)
        let uri = std::path::absolute(path)
            .ok()
            .and_then(|p| glib::filename_to_uri(p, None).ok())
            .ok_or_else(|| MediaError::Unreadable { path: path.into(), reason: "cannot name it as a URI".into() })?;
        src.dynamic_cast_ref::<gst::URIHandler>()
            .ok_or_else(|| MediaError::Init("filesrc takes no URI".into()))?
            .set_uri(&uri)
            .map_err(|e| MediaError::Unreadable { path: path.into(), reason: e.to_string() })?;
        let video_caps = gst::Caps::from_str("video/x-raw(ANY)").map_err(build_err)?;
        let decodebin = gst::ElementFactory::make("decodebin")
            .property("caps", &video_caps)
            .property("expose-all-streams", false)
            .build()
            .map_err(build_err)?;
        let sink_caps = match options.colour {
            ColourMode::Videoconvert => gst::Caps::builder("video/x-raw").field("format", "RGB").build(),
            _ => gst::Caps::builder("video/x-raw").build(),
        };
        let sink = gst_app::AppSink::builder()
            .caps(&sink_caps)
            .sync(false)
            .max_buffers(4)
            .drop(false)
            .enable_last_sample(false)
            .build();
        pipeline.add_many([&src, &decodebin, sink.upcast_ref()]).map_err(build_err)?;
        src.link(&decodebin).map_err(build_err)?;

        let shared = Arc::new(Mutex::new(Shared::default()));
        let select_type = glib::Type::from_name("GstAutoplugSelectResult")
            .filter(|t| autoplug_select_value(*t, false).is_some())
            .ok_or_else(|| MediaError::Init("decodebin's GstAutoplugSelectResult type is missing".into()))?;
        let (choice, sh) = (options.decoder, shared.clone());
        let file: PathBuf = path.into();
        decodebin.connect("autoplug-select", false, move |args| {
            let caps = args[2].get::<gst::Caps>().ok()?;
            let factory = args[3].get::<gst::ElementFactory>().ok()?;
            let v = verdict(choice, &caps, &factory);
            if v == Verdict::NoNvdec {
                let mut s = lock(&sh);
                if s.error.is_none() {
                    s.error = Some(MediaError::NoNvdec { path: file.clone(), codec: caps_name(&caps) });
                }
            }
            autoplug_select_value(select_type, v != Verdict::Try)
        });
        let sh = shared.clone();
        decodebin.connect("unknown-type", false, move |args| {
            if let Ok(caps) = args[2].get::<gst::Caps>() {
                let name = caps_name(&caps);
                let mut s = lock(&sh);
                if !name.starts_with("audio/") && s.unknown_codec.is_none() {
                    s.unknown_codec = Some(name);
                }
            }
            None
        });
        let sh = shared.clone();
        pipeline.connect_deep_element_added(move |_, _, element| {
            if let Some(f) = element.factory()
                && crate::decoder_choice::is_video_decoder(&f)
            {
                // libav's frame threading: measured ~15% faster than its default on a 2-core
                // machine for files (the added latency of a frame per thread does not matter).
                if f.name().starts_with("avdec_") {
                    set_flags_by_nick(element, "thread-type", "frame");
                }
                lock(&sh).decoder = Some(f.name().to_string());
            }
            if element.factory().is_some_and(|f| f.klass().contains("Demux")) {
                lock(&sh).demuxers.push(element.downgrade());
            }
        });
        let (sh, pipeline_weak, sink_weak) = (shared.clone(), pipeline.downgrade(), sink.downgrade());
        let (mode, file) = (options.colour, PathBuf::from(path));
        decodebin.connect_pad_added(move |_, pad| {
            let (Some(pipeline), Some(sink)) = (pipeline_weak.upgrade(), sink_weak.upgrade()) else { return };
            if let Err(e) = link_video_pad(pad, &pipeline, &sink, mode, &sh, &file) {
                let mut s = lock(&sh);
                if s.error.is_none() {
                    s.error = Some(e);
                }
            }
        });

        let bus = pipeline.bus().ok_or_else(|| MediaError::Init("pipeline without a bus".into()))?;
        let reader = Self {
            path: path.into(),
            pipeline,
            sink,
            bus,
            shared,
            next_index: 0,
            exact: ExactConverter::default(),
            colour_path: None,
            finished: false,
            last_pts: None,
            frame_interval: None,
            stall_timeout: options.stall_timeout,
            stalled: false,
            pipe,
            demuxer_dead_since: None,
            orientation: options.orientation,
            rotation: Rotation::default(),
            warned_mirror: false,
        };
        if pipe {
            // filesrc opens a FIFO blocking until someone writes to it: not on the caller's
            // thread; a failure reaches the bus, and `next_frame` gives up after the stall timeout
            reader.pipeline.call_async(|p| {
                let _ = p.set_state(gst::State::Playing);
            });
        } else if reader.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(reader.explain(reader.pending_error().unwrap_or_else(|| MediaError::NotAVideo {
                path: path.into(),
                reason: "the pipeline did not start".into(),
            })));
        }
        Ok(reader)
    }

    /// The next frame in decode order, its pixels converted when `convert` is true;
    /// `Ok(None)` at the end of the stream.
    pub fn next_frame(&mut self, convert: bool) -> Result<Option<Frame>, MediaError> {
        let waiting = Instant::now();
        loop {
            if self.finished {
                return Ok(None);
            }
            // a pipe's pipeline starts on its own thread: until the appsink has started it
            // neither waits for samples nor tells the end of the stream
            let starting = self.pipe && self.sink.current_state() < gst::State::Paused;
            if starting {
                std::thread::sleep(Duration::from_nanos(POLL.nseconds()));
            }
            if let Some(sample) = self.sink.try_pull_sample(POLL) {
                if starts_before_segment(&sample) {
                    continue;
                }
                return self.frame_from(&sample, convert).map(Some);
            }
            if let Some(e) = self.pending_error() {
                self.finished = true;
                return Err(self.explain(e));
            }
            if !starting && self.sink.is_eos() {
                self.finished = true;
                if self.next_index > 0 {
                    self.check_complete()?;
                } else {
                    let s = lock(&self.shared);
                    return Err(if s.video_linked {
                        MediaError::NoFrames { path: self.path.clone() }
                    } else {
                        MediaError::NoVideoStream { path: self.path.clone() }
                    });
                }
            } else if let Some(e) = self.dead_demuxer() {
                self.finished = true;
                return Err(self.explain(e));
            } else if waiting.elapsed() >= self.stall_timeout {
                self.finished = true;
                self.stalled = true;
                return Err(MediaError::Stalled {
                    path: self.path.clone(),
                    frames: self.next_index,
                    seconds: self.stall_timeout.as_secs_f64(),
                });
            }
        }
    }

    /// The video decoder's factory name (`avdec_h264`, `nvh264dec`…), once known.
    pub fn decoder(&self) -> Option<String> {
        lock(&self.shared).decoder.clone()
    }

    /// The colour conversion that ran, once a frame was converted.
    pub fn colour_path(&self) -> Option<&ColourPath> {
        self.colour_path.as_ref()
    }

    /// The stream's nominal frame rate (numerator, denominator) from the decoder's caps; (0, 1)
    /// when unknown or before the first frame.
    pub fn frame_rate(&self) -> (i32, i32) {
        self.sink
            .static_pad("sink")
            .and_then(|p| p.current_caps())
            .and_then(|c| c.structure(0).and_then(|s| s.get::<gst::Fraction>("framerate").ok()))
            .map_or((0, 1), |f| (f.numer(), f.denom()))
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.next_index
    }

    /// The display rotation the stream carries, as seen with the last converted frame (applied
    /// to the frames with [`Orientation::Display`] only).
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    fn frame_from(&mut self, sample: &gst::Sample, convert: bool) -> Result<Frame, MediaError> {
        let index = self.next_index;
        self.next_index += 1;
        let buffer = sample.buffer().ok_or_else(|| self.decode_error("a sample without a buffer"))?;
        let pts = buffer.pts().map(|t| Duration::from_nanos(t.nseconds()));
        if let Some(p) = pts {
            if let Some(prev) = self.last_pts.filter(|prev| p > *prev) {
                self.frame_interval = Some(p - prev);
            }
            self.last_pts = self.last_pts.max(Some(p));
        }
        if !convert {
            return Ok(Frame { index, pts, image: None });
        }
        let caps = sample.caps().ok_or_else(|| self.decode_error("a sample without caps"))?;
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| self.decode_error(&format!("unusable caps {caps}: {e}")))?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
            .map_err(|e| self.decode_error(&format!("cannot map a frame: {e}")))?;
        let mut data = Vec::new();
        let via_videoconvert = lock(&self.shared).via_videoconvert;
        let path = if via_videoconvert {
            copy_packed_rgb(&frame, &mut data)
                .map_err(|reason| MediaError::Convert { path: self.path.clone(), reason })?;
            ColourPath::Videoconvert
        } else {
            let layout = ExactLayout::for_format(info.format(), info.colorimetry().range()).ok_or_else(|| {
                MediaError::ExactColourUnsupported {
                    path: self.path.clone(),
                    format: info.format().to_str().to_string(),
                }
            })?;
            self.exact
                .convert(&frame, layout, &mut data)
                .map_err(|reason| MediaError::Convert { path: self.path.clone(), reason })?;
            ColourPath::Exact { format: info.format().to_str().to_string() }
        };
        if self.colour_path.as_ref() != Some(&path) {
            tracing::info!("{}: colour conversion {path}", self.path.display());
            self.colour_path = Some(path);
        }
        let image = RgbImage::new(info.width(), info.height(), data)
            .ok_or_else(|| self.decode_error("converted frame of the wrong size"))?;
        self.rotation = self.tagged_rotation();
        let image = match self.orientation {
            Orientation::Display => self.rotation.apply(image),
            Orientation::Stored | Orientation::Official => image,
        };
        Ok(Frame { index, pts, image: Some(image) })
    }

    /// The rotation of the `image-orientation` tag that reached the appsink, if any.
    fn tagged_rotation(&mut self) -> Rotation {
        let Some(pad) = self.sink.static_pad("sink") else { return Rotation::default() };
        let mut i = 0;
        while let Some(event) = pad.sticky_event::<gst::event::Tag>(i) {
            if let Some(tag) = event.tag().get::<gst::tags::ImageOrientation>() {
                match Rotation::from_tag(tag.get()) {
                    Some(r) => return r,
                    None if !self.warned_mirror => {
                        self.warned_mirror = true;
                        tracing::warn!("{}: mirrored orientation {:?} is not applied", self.path.display(), tag.get());
                    }
                    None => {}
                }
            }
            i += 1;
        }
        Rotation::default()
    }

    /// A file whose demuxer stopped without exposing any stream (qtdemux on an MP4 whose index
    /// is missing): decodebin drops the demuxer's error when it comes while decodebin is still
    /// bringing the demuxer up, and then nothing more happens. Seen here as the demuxer's
    /// streaming task paused with no source pad, for [`DEAD_DEMUXER_GRACE`].
    fn dead_demuxer(&mut self) -> Option<MediaError> {
        if self.next_index > 0 {
            return None;
        }
        let dead = {
            let s = lock(&self.shared);
            !s.video_linked
                && s.demuxers.iter().filter_map(|d| d.upgrade()).any(|d| {
                    d.src_pads().is_empty() && d.sink_pads().iter().any(|p| p.task_state() == gst::TaskState::Paused)
                })
        };
        if !dead {
            self.demuxer_dead_since = None;
            return None;
        }
        let since = *self.demuxer_dead_since.get_or_insert_with(Instant::now);
        (since.elapsed() >= DEAD_DEMUXER_GRACE).then(|| MediaError::NotAVideo {
            path: self.path.clone(),
            reason: "its demuxer stopped without finding a playable stream".into(),
        })
    }

    /// A file GStreamer found no video in, told apart when it is an MP4/MOV cut short.
    fn explain(&self, e: MediaError) -> MediaError {
        match e {
            MediaError::NotAVideo { path, reason } if self.next_index == 0 => match missing_index(&path) {
                Some(why) => {
                    tracing::debug!("{}: GStreamer: {reason}", path.display());
                    MediaError::Incomplete { path, reason: why }
                }
                None => MediaError::NotAVideo { path, reason },
            },
            e => e,
        }
    }

    fn decode_error(&self, reason: &str) -> MediaError {
        MediaError::Decode { path: self.path.clone(), frames: self.next_index, reason: reason.into() }
    }

    /// The first error on the bus (or found by a callback), as a [`MediaError`].
    fn pending_error(&self) -> Option<MediaError> {
        while let Some(msg) = self.bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Warning]) {
            match msg.view() {
                gst::MessageView::Error(err) => return Some(self.map_error(err)),
                gst::MessageView::Warning(w) => tracing::warn!("{}: {}", self.path.display(), w.error()),
                _ => {}
            }
        }
        lock(&self.shared).error.take()
    }

    fn map_error(&self, err: &gst::message::Error) -> MediaError {
        let path = self.path.clone();
        let mut s = lock(&self.shared);
        if let Some(e) = s.error.take() {
            return e;
        }
        let e = err.error();
        let reason = e.message().to_string();
        let first_frame = self.next_index == 0;
        let missing_decoder = e.matches(gst::CoreError::MissingPlugin) || e.matches(gst::StreamError::CodecNotFound);
        if e.matches(gst::ResourceError::NotFound) {
            MediaError::NotFound { path }
        } else if e.matches(gst::ResourceError::OpenRead) || e.matches(gst::ResourceError::Read) {
            MediaError::Unreadable { path, reason }
        } else if e.matches(gst::StreamError::TypeNotFound) || e.matches(gst::StreamError::WrongType) {
            MediaError::NotAVideo { path, reason }
        } else if let Some(codec) = s.unknown_codec.take().filter(|_| missing_decoder) {
            MediaError::UnsupportedCodec { path, codec }
        } else if missing_decoder && !s.video_linked {
            // decodebin stops at raw video: a file whose only streams are audio ends here.
            MediaError::NoVideoStream { path }
        } else if first_frame && e.matches(gst::StreamError::Decode) {
            MediaError::NoFrames { path }
        } else if first_frame && (e.matches(gst::StreamError::Demux) || e.matches(gst::StreamError::Format)) {
            MediaError::NotAVideo { path, reason }
        } else {
            let detail = err.debug().map(|d| d.to_string()).unwrap_or_default();
            tracing::debug!("{}: {reason}: {detail}", self.path.display());
            MediaError::Decode { path, frames: self.next_index, reason }
        }
    }

    /// At the end of the stream: an error if the video stream stopped well before the
    /// container's duration (a file cut short: demuxers end such streams quietly).
    fn check_complete(&self) -> Result<(), MediaError> {
        let (Some(last), Some(duration)) = (self.last_pts, self.pipeline.query_duration::<gst::ClockTime>()) else {
            return Ok(());
        };
        let frame = self.frame_interval.unwrap_or_default();
        let end = last + frame;
        let declared = Duration::from_nanos(duration.nseconds());
        let shortfall = declared.saturating_sub(end);
        if shortfall > TRUNCATION_SLACK && shortfall.as_secs_f64() > 0.1 * declared.as_secs_f64() {
            return Err(MediaError::Truncated {
                path: self.path.clone(),
                frames: self.next_index,
                end: end.as_secs_f64(),
                declared: declared.as_secs_f64(),
            });
        }
        Ok(())
    }
}

/// How much shorter than the container's duration a video stream may end (audio often runs
/// on a little) before the file counts as cut short.
const TRUNCATION_SLACK: Duration = Duration::from_secs(1);

impl Drop for VideoReader {
    fn drop(&mut self) {
        if self.stalled || self.pipe {
            // a source blocked in a read (a pipe, a hung mount) cannot be interrupted, and
            // stopping the pipeline waits for it: stop it on a thread of its own instead
            let pipeline = self.pipeline.clone();
            let spawned = std::thread::Builder::new().name("marlin-stalled-stop".into()).spawn(move || {
                let _ = pipeline.set_state(gst::State::Null);
            });
            if spawned.is_ok() {
                return;
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Whether the decoder clipped this frame's start to the segment's (an edit list starting
/// mid-frame, as phone videos often have): GStreamer keeps such a frame with its timestamp moved
/// to the segment start and its duration shortened; FFmpeg, and so the official frames, drop
/// every frame whose timestamp precedes the edit's start.
fn starts_before_segment(sample: &gst::Sample) -> bool {
    let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else { return false };
    let Some(segment) = sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned()) else {
        return false;
    };
    let (Some(pts), Some(duration), Some(start)) = (buffer.pts(), buffer.duration(), segment.start()) else {
        return false;
    };
    let Some(fps) = caps
        .structure(0)
        .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
        .filter(|f| f.numer() > 0 && f.denom() > 0)
    else {
        return false;
    };
    let nominal =
        gst::ClockTime::SECOND.mul_div_floor(fps.denom() as u64, fps.numer() as u64).unwrap_or(gst::ClockTime::ZERO);
    pts == start && start > gst::ClockTime::ZERO && duration + gst::ClockTime::from_useconds(100) < nominal
}

/// Sets a flags property by a value's nick, if the element has it and knows the nick.
fn set_flags_by_nick(element: &gst::Element, property: &str, nick: &str) {
    let Some(pspec) = element.find_property(property) else { return };
    let value = glib::FlagsClass::with_type(pspec.value_type()).and_then(|c| c.builder().set_by_nick(nick).build());
    if let Some(v) = value {
        element.set_property_from_value(property, &v);
    }
}

/// decodebin's `GstAutoplugSelectResult` value `try` (0) or `skip` (2).
fn autoplug_select_value(ty: glib::Type, skip: bool) -> Option<glib::Value> {
    glib::EnumClass::with_type(ty)?.to_value(if skip { 2 } else { 0 })
}

fn caps_name(caps: &gst::CapsRef) -> String {
    caps.structure(0).map(|s| s.name().to_string()).unwrap_or_else(|| caps.to_string())
}

/// Links decodebin's first raw-video pad to the appsink, through videoconvert where the
/// colour mode asks for it or the exact path does not cover the decoder's format.
fn link_video_pad(
    pad: &gst::Pad,
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    mode: ColourMode,
    shared: &Mutex<Shared>,
    path: &Path,
) -> Result<(), MediaError> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    if !caps_name(&caps).starts_with("video/x-raw") || lock(shared).video_linked {
        return Ok(());
    }
    let format = caps
        .is_fixed()
        .then(|| gst_video::VideoInfo::from_caps(&caps).ok())
        .flatten()
        .map(|i| (i.format(), i.colorimetry().range()));
    let covered = format.is_none_or(|(f, r)| ExactLayout::for_format(f, r).is_some());
    let use_videoconvert = match mode {
        ColourMode::Videoconvert => true,
        ColourMode::Auto => !covered,
        ColourMode::Exact if covered => false,
        ColourMode::Exact => {
            let format = format.map(|(f, _)| f.to_str().to_string()).unwrap_or_default();
            return Err(MediaError::ExactColourUnsupported { path: path.into(), format });
        }
    };
    let link_err = |what: &str| MediaError::Init(format!("cannot link the decoder to {what}"));
    let target = if use_videoconvert {
        let convert =
            gst::ElementFactory::make("videoconvert").build().map_err(|_| link_err("videoconvert (missing?)"))?;
        if mode != ColourMode::Videoconvert {
            sink.set_caps(Some(&gst::Caps::builder("video/x-raw").field("format", "RGB").build()));
        }
        pipeline.add(&convert).map_err(|_| link_err("videoconvert"))?;
        convert.link(sink).map_err(|_| link_err("the appsink"))?;
        convert.sync_state_with_parent().map_err(|_| link_err("videoconvert"))?;
        convert.static_pad("sink").ok_or_else(|| link_err("videoconvert"))?
    } else {
        sink.static_pad("sink").ok_or_else(|| link_err("the appsink"))?
    };
    pad.link(&target).map_err(|e| link_err(&format!("the appsink ({e:?})")))?;
    let mut s = lock(shared);
    s.video_linked = true;
    s.via_videoconvert = use_videoconvert;
    Ok(())
}
