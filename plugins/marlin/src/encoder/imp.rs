//! The `marlinencoder` subclass. The streaming thread maps frames, cuts clips
//! (`marlin_media::sampling::ClipSampler`) and hands batches to the worker over a one-slot
//! channel; the worker encodes and pushes buffers and serialized events downstream in order.
//! Flushing drops queued batches and restarts clip cutting.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use marlin_media::sampling::{ClipSampler, SamplingOptions, TailPolicy};
use marlin_model::{Clip as ModelClip, FeatureExtractor, MarlinConfig};

use super::{Backend, Precision, Tail};
use crate::lock;
use crate::meta::{CAPS_NAME, ClipInfo, MODEL_SHA256};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("marlinencoder", gst::DebugColorFlags::empty(), Some("MARLIN encoder")));

const DEFAULT_THREADS: u32 = 0;
const DEFAULT_BATCH_SIZE: u32 = 1;
const DEFAULT_KEEP_SEQ: bool = false;
const DEFAULT_SAMPLE_RATE: u32 = 2;
const DEFAULT_STRIDE: u32 = 16;

#[derive(Debug, Clone)]
struct Settings {
    model: Option<String>,
    config: Option<String>,
    backend: Backend,
    onnxruntime: Option<String>,
    threads: u32,
    batch_size: u32,
    precision: Precision,
    keep_seq: bool,
    sample_rate: u32,
    stride: u32,
    tail: Tail,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: None,
            config: None,
            backend: Backend::default(),
            onnxruntime: None,
            threads: DEFAULT_THREADS,
            batch_size: DEFAULT_BATCH_SIZE,
            precision: Precision::default(),
            keep_seq: DEFAULT_KEEP_SEQ,
            sample_rate: DEFAULT_SAMPLE_RATE,
            stride: DEFAULT_STRIDE,
            tail: Tail::default(),
        }
    }
}

/// One clip ready for the encoder.
struct ClipJob {
    frames: Vec<u8>,
    info: ClipInfo,
    pts: Option<gst::ClockTime>,
    duration: Option<gst::ClockTime>,
}

enum Job {
    Encode(Vec<ClipJob>),
    Event(gst::Event),
    /// Ends a flush: batches queued after it are encoded again.
    FlushStop(gst::Event),
    Stop,
}

/// The clips being cut from one sequence of crops: the whole stream, or one face track's
/// crops (`marlinfacecrop faces=all`).
struct TrackClips {
    sampler: ClipSampler<Arc<Vec<u8>>>,
    /// Timestamps of frames a pending clip may still need: index → (pts, duration).
    times: BTreeMap<u64, (Option<gst::ClockTime>, Option<gst::ClockTime>)>,
    frame: u64,
}

/// The streaming side's state.
struct Stream {
    info: Option<gst_video::VideoInfo>,
    sampling: SamplingOptions,
    /// By track id (`None`: crops not split by track).
    tracks: HashMap<Option<u64>, TrackClips>,
    batch: Vec<ClipJob>,
    batch_size: usize,
}

impl Stream {
    fn restart(&mut self) {
        self.tracks.clear();
        self.batch.clear();
    }

    fn track(&mut self, key: Option<u64>) -> Result<&mut TrackClips, String> {
        if !self.tracks.contains_key(&key) {
            let sampler = ClipSampler::new(self.sampling)?;
            self.tracks.insert(key, TrackClips { sampler, times: BTreeMap::new(), frame: 0 });
        }
        self.tracks.get_mut(&key).ok_or_else(|| "track state lost".to_string())
    }

    /// Turns finished clips of track `key` into jobs (in the batch).
    fn take(&mut self, key: Option<u64>, clips: Vec<marlin_media::sampling::Clip<Arc<Vec<u8>>>>) {
        let Some(t) = self.tracks.get_mut(&key) else { return };
        for clip in clips {
            let (first, last) =
                (clip.frame_indices.first().copied().unwrap_or(0), clip.frame_indices.last().copied().unwrap_or(0));
            let (pts, _) = t.times.get(&first).copied().unwrap_or((None, None));
            let end = t.times.get(&last).and_then(|(p, d)| Some((*p)? + d.unwrap_or(gst::ClockTime::ZERO)));
            let duration = pts.zip(end).map(|(s, e)| e.saturating_sub(s));
            let mut frames = Vec::with_capacity(clip.frames.iter().map(|f| f.len()).sum());
            for f in &clip.frames {
                frames.extend_from_slice(f);
            }
            t.times.retain(|&i, _| i > first);
            self.batch.push(ClipJob {
                frames,
                info: ClipInfo { index: clip.index as u64, first_frame: first, last_frame: last, track: key },
                pts,
                duration,
            });
        }
    }

    /// Every track's remaining clips, at the end of the stream.
    fn finish(&mut self) {
        let mut keys: Vec<Option<u64>> = self.tracks.keys().copied().collect();
        keys.sort();
        for key in keys {
            if let Some(t) = self.tracks.get_mut(&key) {
                let clips = t.sampler.finish();
                self.take(key, clips);
            }
        }
    }
}

/// The worker thread and its channel.
struct Worker {
    jobs: SyncSender<Job>,
    handle: JoinHandle<()>,
}

pub struct Encoder {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    stream: Mutex<Option<Stream>>,
    worker: Mutex<Option<Worker>>,
    /// The model's output caps, once loaded.
    caps: Mutex<Option<gst::Caps>>,
    /// The last downstream flow result, as the worker saw it.
    flow: Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>,
    flushing: Arc<AtomicBool>,
}

#[glib::object_subclass]
impl ObjectSubclass for Encoder {
    const NAME: &'static str = "GstMarlinEncoder";
    type Type = super::Encoder;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").expect("sink template"))
            .chain_function(|pad, parent, buffer| {
                Encoder::catch_panic_pad_function(parent, || Err(gst::FlowError::Error), |e| e.chain(pad, buffer))
            })
            .event_function(|pad, parent, event| {
                Encoder::catch_panic_pad_function(parent, || false, |e| e.sink_event(pad, event))
            })
            .build();
        let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").expect("src template"))
            .query_function(|pad, parent, query| {
                Encoder::catch_panic_pad_function(parent, || false, |e| e.src_query(pad, query))
            })
            .build();
        Self {
            sinkpad,
            srcpad,
            settings: Mutex::default(),
            stream: Mutex::default(),
            worker: Mutex::default(),
            caps: Mutex::default(),
            flow: Arc::new(Mutex::new(Ok(gst::FlowSuccess::Ok))),
            flushing: Arc::default(),
        }
    }
}

impl ObjectImpl for Encoder {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("sink pad");
        obj.add_pad(&self.srcpad).expect("src pad");
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model").nick("Model").blurb("Checkpoint (.pt, .safetensors) or released name (vit_small_ytf, vit_base_ytf, vit_large_ytf)").mutable_ready().build(),
                glib::ParamSpecString::builder("config").nick("Config").blurb("MARLIN's YAML model config (default: the released architecture matching the weights)").mutable_ready().build(),
                glib::ParamSpecEnum::builder_with_default("backend", Backend::default()).nick("Backend").blurb("Where the encoder computes").mutable_ready().build(),
                glib::ParamSpecString::builder("onnxruntime").nick("ONNX Runtime").blurb("libonnxruntime.so for the ONNX backends (default: ORT_DYLIB_PATH, then the one `marlin models fetch onnxruntime` put in the cache, then the library search path)").mutable_ready().build(),
                glib::ParamSpecUInt::builder("threads").nick("Threads").blurb("Encoder threads (0: every core)").default_value(DEFAULT_THREADS).mutable_ready().build(),
                glib::ParamSpecUInt::builder("batch-size").nick("Batch size").blurb("Clips per forward").minimum(1).maximum(64).default_value(DEFAULT_BATCH_SIZE).mutable_ready().build(),
                glib::ParamSpecEnum::builder_with_default("precision", Precision::default()).nick("Precision").blurb("Arithmetic").mutable_ready().build(),
                glib::ParamSpecBoolean::builder("keep-seq").nick("Keep sequence").blurb("Every token's feature (1568 x D) instead of the pooled D").default_value(DEFAULT_KEEP_SEQ).mutable_ready().build(),
                glib::ParamSpecUInt::builder("sample-rate").nick("Sample rate").blurb("Take every n-th frame inside a clip window").minimum(1).default_value(DEFAULT_SAMPLE_RATE).mutable_ready().build(),
                glib::ParamSpecUInt::builder("stride").nick("Stride").blurb("Clip windows start every stride x sample-rate frames").minimum(1).default_value(DEFAULT_STRIDE).mutable_ready().build(),
                glib::ParamSpecEnum::builder_with_default("tail", Tail::default()).nick("Tail").blurb("Frames after the last full window").mutable_ready().build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model = value.get().unwrap_or_default(),
            "config" => s.config = value.get().unwrap_or_default(),
            "backend" => s.backend = value.get().unwrap_or_default(),
            "onnxruntime" => s.onnxruntime = value.get().unwrap_or_default(),
            "threads" => s.threads = value.get().unwrap_or(DEFAULT_THREADS),
            "batch-size" => s.batch_size = value.get().unwrap_or(DEFAULT_BATCH_SIZE),
            "precision" => s.precision = value.get().unwrap_or_default(),
            "keep-seq" => s.keep_seq = value.get().unwrap_or(DEFAULT_KEEP_SEQ),
            "sample-rate" => s.sample_rate = value.get().unwrap_or(DEFAULT_SAMPLE_RATE),
            "stride" => s.stride = value.get().unwrap_or(DEFAULT_STRIDE),
            "tail" => s.tail = value.get().unwrap_or_default(),
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model.to_value(),
            "config" => s.config.to_value(),
            "backend" => s.backend.to_value(),
            "onnxruntime" => s.onnxruntime.to_value(),
            "threads" => s.threads.to_value(),
            "batch-size" => s.batch_size.to_value(),
            "precision" => s.precision.to_value(),
            "keep-seq" => s.keep_seq.to_value(),
            "sample-rate" => s.sample_rate.to_value(),
            "stride" => s.stride.to_value(),
            "tail" => s.tail.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for Encoder {}

fn sink_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new().format(gst_video::VideoFormat::Rgb).width(224).height(224).build()
}

impl ElementImpl for Encoder {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "MARLIN encoder",
                "Filter/Analyzer/Video",
                "Cuts 224x224 RGB face crops into clips (MARLIN's sampling) and encodes each into MARLIN features, one buffer per clip. \
                 Example: gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! marlinfacecrop ! marlinencoder model=vit_small_ytf ! marlinsink location=out.npy csv-location=out.csv",
                "marlin-rs",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let src = gst::Caps::builder(CAPS_NAME)
                .field("dim", gst::IntRange::new(1, i32::MAX))
                .field("tokens", gst::IntRange::new(1, i32::MAX))
                .build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &src)
                    .expect("src template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &sink_caps())
                    .expect("sink template"),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.start().map_err(|e| {
                self.post_error_message(e);
                gst::StateChangeError
            })?;
        }
        if transition == gst::StateChange::PausedToReady {
            // queued batches are dropped, so a streaming thread waiting on the worker returns
            self.flushing.store(true, Ordering::SeqCst);
        }
        let result = self.parent_change_state(transition);
        if transition == gst::StateChange::PausedToReady {
            self.stop();
        }
        result
    }
}

impl Encoder {
    /// Loads the model and starts the worker.
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = lock(&self.settings).clone();
        let spec = s.model.clone().ok_or_else(|| {
            gst::error_msg!(
                gst::ResourceError::NotFound,
                ("no model: set the `model` property to a checkpoint or a released name")
            )
        })?;
        let path = marlin_hub::resolve_checkpoint(&spec)
            .map_err(|e| gst::error_msg!(gst::ResourceError::NotFound, ("{}", e)))?;
        let config = s
            .config
            .as_deref()
            .map(|c| MarlinConfig::from_yaml_file(std::path::Path::new(c)))
            .transpose()
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("{}", e)))?;
        let precision = match s.precision {
            Precision::F32 => marlin_model::Precision::F32,
            Precision::Bf16 => marlin_model::Precision::Bf16,
            Precision::Int8 => marlin_model::Precision::Int8,
        };
        let (cfg, weights) = marlin_model::Marlin::read(&path, config)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenRead, ("cannot load model {}: {}", spec, e)))?;
        let options = marlin_onnx::EngineOptions {
            threads: s.threads as usize,
            precision,
            onnxruntime: s.onnxruntime.as_ref().map(Into::into),
            ..Default::default()
        };
        let backend: marlin_onnx::Backend = s.backend.into();
        let encoder = marlin_onnx::open_engine(backend, cfg.clone(), weights.encoder, &options).map_err(|e| {
            gst::error_msg!(gst::LibraryError::Init, ("cannot start the {} backend: {}", backend.name(), e))
        })?;
        gst::info!(
            CAT,
            imp = self,
            "loaded {} ({}, dim {}) on {}",
            path.display(),
            cfg.name,
            encoder.dim(),
            encoder.describe()
        );
        let tokens = if s.keep_seq { cfg.num_tokens() } else { 1 };
        let sha = marlin_batch::sha256_file(&path).map_err(|e| gst::error_msg!(gst::ResourceError::Read, ("{}", e)))?;
        *lock(&self.caps) = Some(
            gst::Caps::builder(CAPS_NAME)
                .field("dim", encoder.dim() as i32)
                .field("tokens", tokens as i32)
                .field(MODEL_SHA256, sha)
                .build(),
        );
        let sampling = SamplingOptions {
            clip_frames: cfg.n_frames,
            sample_rate: s.sample_rate as usize,
            stride: s.stride as usize,
            tail: match s.tail {
                Tail::Drop => TailPolicy::Drop,
                Tail::Pad => TailPolicy::Pad,
            },
            max_clips: None,
        };
        ClipSampler::<Arc<Vec<u8>>>::new(sampling)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        *lock(&self.stream) = Some(Stream {
            info: None,
            sampling,
            tracks: HashMap::new(),
            batch: Vec::new(),
            batch_size: s.batch_size.max(1) as usize,
        });
        self.flushing.store(false, Ordering::SeqCst);
        *lock(&self.flow) = Ok(gst::FlowSuccess::Ok);
        let (jobs, rx) = sync_channel::<Job>(1);
        let (srcpad, element, flow, flushing, keep_seq) = (
            self.srcpad.clone(),
            self.obj().downgrade(),
            Arc::clone(&self.flow),
            Arc::clone(&self.flushing),
            s.keep_seq,
        );
        let handle = std::thread::Builder::new()
            .name("marlin-encoder".into())
            .spawn(move || work(rx, encoder.as_ref(), keep_seq, &srcpad, &element, &flow, &flushing))
            .map_err(|e| gst::error_msg!(gst::CoreError::Failed, ("cannot start the encoder thread: {}", e)))?;
        *lock(&self.worker) = Some(Worker { jobs, handle });
        Ok(())
    }

    fn stop(&self) {
        if let Some(Worker { jobs, handle }) = lock(&self.worker).take() {
            let _ = jobs.send(Job::Stop);
            drop(jobs);
            let _ = handle.join();
        }
        *lock(&self.stream) = None;
    }

    fn send(&self, job: Job) -> bool {
        let jobs = lock(&self.worker).as_ref().map(|w| w.jobs.clone());
        jobs.is_some_and(|j| j.send(job).is_ok())
    }

    fn chain(&self, _pad: &gst::Pad, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let flow = *lock(&self.flow);
        flow?;
        let batch = {
            let mut guard = lock(&self.stream);
            let Some(stream) = guard.as_mut() else { return Err(gst::FlowError::Flushing) };
            let Some(info) = stream.info.clone() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ("a buffer before caps"));
                return Err(gst::FlowError::NotNegotiated);
            };
            let key = crate::meta::faces(&buffer).first().filter(|f| f.per_track).map(|f| f.track);
            let track = stream.track(key).map_err(|e| {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", e));
                gst::FlowError::Error
            })?;
            let index = track.frame;
            track.frame += 1;
            let frame = if track.sampler.wants(index) {
                track.times.insert(index, (buffer.pts(), buffer.duration()));
                let f = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).map_err(|_| {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("cannot map a frame"));
                    gst::FlowError::Error
                })?;
                let mut rgb = Vec::new();
                marlin_media::colour::copy_packed_rgb(&f, &mut rgb).map_err(|e| {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("{}", e));
                    gst::FlowError::Error
                })?;
                Some(Arc::new(rgb))
            } else {
                None
            };
            let clips = track.sampler.push(index, frame);
            stream.take(key, clips);
            if stream.batch.len() >= stream.batch_size { Some(std::mem::take(&mut stream.batch)) } else { None }
        };
        if let Some(batch) = batch
            && !self.send(Job::Encode(batch))
        {
            return Err(gst::FlowError::Flushing);
        }
        *lock(&self.flow)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        gst::log!(CAT, obj = pad, "event {:?}", event.type_());
        match event.view() {
            gst::EventView::FlushStart(_) => {
                self.flushing.store(true, Ordering::SeqCst);
                *lock(&self.flow) = Err(gst::FlowError::Flushing);
                self.srcpad.push_event(event)
            }
            gst::EventView::FlushStop(_) => {
                if let Some(stream) = lock(&self.stream).as_mut() {
                    stream.restart();
                }
                *lock(&self.flow) = Ok(gst::FlowSuccess::Ok);
                self.send(Job::FlushStop(event))
            }
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                let info = match gst_video::VideoInfo::from_caps(&caps) {
                    Ok(i) if i.format() == gst_video::VideoFormat::Rgb && i.width() == 224 && i.height() == 224 => i,
                    _ => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ("marlinencoder takes 224x224 RGB face crops, got {}", caps)
                        );
                        return false;
                    }
                };
                if let Some(stream) = lock(&self.stream).as_mut() {
                    stream.info = Some(info);
                }
                let Some(out) = lock(&self.caps).clone() else { return false };
                self.send(Job::Event(gst::event::Caps::new(&out)))
            }
            gst::EventView::Eos(_) => {
                let batch = lock(&self.stream).as_mut().map(|stream| {
                    stream.finish();
                    std::mem::take(&mut stream.batch)
                });
                if let Some(batch) = batch.filter(|b| !b.is_empty()) {
                    self.send(Job::Encode(batch));
                }
                self.send(Job::Event(event))
            }
            gst::EventView::StreamStart(_) => {
                if let Some(stream) = lock(&self.stream).as_mut() {
                    stream.restart();
                }
                self.send(Job::Event(event))
            }
            _ if event.is_serialized() => self.send(Job::Event(event)),
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Caps(q) = query.view_mut() {
            let caps = lock(&self.caps).clone().unwrap_or_else(|| pad.pad_template_caps());
            let caps = match q.filter() {
                Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
                None => caps,
            };
            q.set_result(&caps);
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

/// The worker: encodes batches and pushes buffers and events downstream in order.
fn work(
    rx: Receiver<Job>,
    encoder: &dyn FeatureExtractor,
    keep_seq: bool,
    srcpad: &gst::Pad,
    element: &glib::WeakRef<super::Encoder>,
    flow: &Mutex<Result<gst::FlowSuccess, gst::FlowError>>,
    flushing: &AtomicBool,
) {
    for job in rx {
        match job {
            Job::Stop => break,
            Job::Event(e) => {
                srcpad.push_event(e);
            }
            Job::FlushStop(e) => {
                flushing.store(false, Ordering::SeqCst);
                srcpad.push_event(e);
            }
            Job::Encode(batch) => {
                if flushing.load(Ordering::SeqCst) || lock(flow).is_err() {
                    continue;
                }
                let clips: Vec<ModelClip> = batch.iter().map(|j| ModelClip::Rgb8(j.frames.clone())).collect();
                let features = match encoder.extract_features(&clips, keep_seq) {
                    Ok(f) => f,
                    Err(e) => {
                        if let Some(el) = element.upgrade() {
                            gst::element_error!(el, gst::StreamError::Failed, ("encoding failed: {}", e));
                        }
                        *lock(flow) = Err(gst::FlowError::Error);
                        continue;
                    }
                };
                for (job, f) in batch.iter().zip(features) {
                    let mut bytes = Vec::with_capacity(f.len() * 4);
                    for v in &f {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    let mut buffer = gst::Buffer::from_mut_slice(bytes);
                    {
                        let b = buffer.get_mut().expect("a new buffer is writable");
                        b.set_pts(job.pts);
                        b.set_duration(job.duration);
                        b.set_offset(job.info.index);
                        b.set_offset_end(job.info.index + 1);
                        if let Err(e) = job.info.attach(b) {
                            gst::warning!(CAT, "cannot attach the clip meta: {e}");
                        }
                    }
                    if let Some(el) = element.upgrade() {
                        let mut s = job.info.structure("marlin-clip");
                        s.set("pts", job.pts);
                        let _ = el.post_message(gst::message::Element::builder(s).src(&el).build());
                    }
                    let result = srcpad.push(buffer);
                    if let Err(e) = result {
                        gst::debug!(CAT, "downstream returned {e:?}");
                    }
                    // while flushing, downstream refuses everything: not an error to report
                    // (only this thread clears `flushing`, at the flush's end)
                    if !flushing.load(Ordering::SeqCst) {
                        *lock(flow) = result;
                    }
                }
            }
        }
    }
}
