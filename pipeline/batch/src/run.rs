//! A featurisation run: decode workers → one batching encoder → the writer, joined by bounded
//! channels, over the videos of this shard that no earlier run of the folder finished.
//!
//! Output folder: `features.npy.part` grows as videos finish (a video's rows land together, then
//! its journal line); `clips.csv`, `failures.csv`, `features.npy` and `manifest.json` are
//! written when the run ends, also when it is interrupted, each through a rename.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};
use marlin_faces::FaceDetector;
use marlin_model::{Clip as ModelClip, FeatureExtractor};
use marlin_npy::RowFile;

use crate::BatchError;
use crate::config::{FeaturizeConfig, Layout};
use crate::encoder_inputs::VideoReport;
use crate::inputs::{Inputs, VideoInput, escaped};
use crate::journal::{Journal, Record, RowMeta, RunIdentity, VideoMeta};
use crate::manifest::{Counts, Manifest, ModelInfo, Timings};
use crate::shard::Shard;
use crate::stats::Stats;
use crate::tables::{Failure, write_clips, write_failures};
use crate::worker::{Stage, ToEncoder};

/// What a run needs besides its inputs.
pub struct Featurizer<'a> {
    pub config: &'a FeaturizeConfig,
    pub encoder: &'a dyn FeatureExtractor,
    /// Present when `faces.crop_face` is on.
    pub detector: Option<&'a dyn FaceDetector>,
    pub model: &'a ModelInfo,
    /// Set to stop: workers finish their current clip, finished videos are kept.
    pub cancel: &'a AtomicBool,
    pub stats: &'a Stats,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The folder written (the shard's own under `--out` when sharded).
    pub out: PathBuf,
    /// Counts over the whole folder (earlier runs included).
    pub counts: Counts,
    /// Stopped by `cancel` before every video was finished.
    pub interrupted: bool,
    /// Seconds this run took.
    pub wall_s: f64,
}

/// What the encoder hands the writer.
enum ToWriter {
    Row { video: usize, row: RowMeta, features: Vec<f32> },
    Done { video: usize, report: VideoReport },
    Failed { video: usize, error: String },
    Fatal(BatchError),
}

impl Featurizer<'_> {
    /// Featurises this shard's videos of `inputs` into `out` (or `out/shard-I-of-N`).
    pub fn run(
        &self,
        inputs: Inputs,
        out: &Path,
        resume: bool,
        shard: Option<Shard>,
    ) -> Result<RunSummary, BatchError> {
        let started = Instant::now();
        self.config.validate()?;
        if self.config.faces.crop_face != self.detector.is_some() {
            return Err(BatchError::Config(
                "faces.crop_face needs a detector, and a detector needs faces.crop_face".into(),
            ));
        }
        let dir = shard.map_or_else(|| out.to_path_buf(), |s| out.join(s.dir_name()));
        for d in [out, dir.as_path()] {
            if std::fs::metadata(d).is_ok_and(|m| !m.is_dir()) {
                return Err(BatchError::Output(format!(
                    "{}: exists and is not a folder (the output folder, --out, must be a folder or not exist yet)",
                    d.display()
                )));
            }
        }
        std::fs::create_dir_all(&dir).map_err(|source| BatchError::Io { path: dir.clone(), source })?;
        let cfg = self.encoder.config();
        let row_shape = if self.config.output.keep_seq {
            vec![cfg.num_tokens(), self.encoder.dim()]
        } else {
            vec![self.encoder.dim()]
        };
        let identity = RunIdentity {
            settings: self.config.output_settings(),
            model_sha256: self.model.sha256.clone(),
            row_shape: row_shape.clone(),
        };
        let (mut journal, mut records, mut features) = open_outputs(&dir, &identity, resume)?;

        let finished: HashSet<&str> = records.iter().map(|r| r.video().id.as_str()).collect();
        let mine = |id: &str| shard.is_none_or(|s| s.takes(id));
        let work: Vec<VideoInput> =
            inputs.videos.into_iter().filter(|v| mine(&v.id) && !finished.contains(v.id.as_str())).collect();
        let rejected: Vec<Failure> = inputs
            .rejected
            .into_iter()
            .filter(|r| if r.id.is_empty() { shard.is_none_or(|s| s.index == 0) } else { mine(&r.id) })
            .map(|r| Failure { video_id: r.id, path: escaped(r.path.as_os_str()), error: r.error })
            .collect();
        let earlier = records.len() as u64;
        self.stats.videos_total.store(work.len() as u64, Ordering::Relaxed);
        self.stats.videos_earlier.store(earlier, Ordering::Relaxed);
        if self.config.output.keep_seq {
            let mb = row_shape.iter().product::<usize>() as f64 * 4.0 / 1e6;
            tracing::warn!(
                "keep_seq: each row is {mb:.1} MB; at 25 fps with this sampling a minute of video gives about {:.0} MB",
                mb * 25.0 * 60.0 / (self.config.sampling.stride * self.config.sampling.sample_rate) as f64
            );
        }
        drop(finished);

        if !work.is_empty() {
            let mut writer = Writer {
                dir: &dir,
                layout: self.config.output.layout,
                row_shape: &row_shape,
                journal: &mut journal,
                features: &mut features,
                records: &mut records,
                stats: self.stats,
            };
            self.pipeline(&work, &mut writer)?;
        }
        let interrupted = records.len() < earlier as usize + work.len();
        let rows = features.rows();

        // the tables first, then the features under their final name, the manifest last
        write_clips(&dir.join("clips.csv"), &records)?;
        let mut failures: Vec<Failure> = records
            .iter()
            .filter_map(|r| match r {
                Record::Failed { video, error } => Some(Failure {
                    video_id: video.id.clone(),
                    path: escaped(video.path.as_os_str()),
                    error: error.clone(),
                }),
                Record::Done { .. } => None,
            })
            .collect();
        failures.extend(rejected.iter().cloned());
        write_failures(&dir.join("failures.csv"), &failures)?;
        features.finish()?;
        let final_path = dir.join(FEATURES);
        std::fs::rename(dir.join(FEATURES_PART), &final_path)
            .map_err(|source| BatchError::Io { path: final_path.clone(), source })?;

        let done = records.iter().filter(|r| matches!(r, Record::Done { .. })).count() as u64;
        let pending = (earlier as usize + work.len()).saturating_sub(records.len()) as u64;
        let counts = Counts {
            videos: earlier + work.len() as u64 + rejected.len() as u64,
            done,
            failed: failures.len() as u64,
            pending,
            rows,
            frames_decoded: records.iter().map(|r| if let Record::Done { frames, .. } = r { *frames } else { 0 }).sum(),
        };
        let snap = self.stats.snapshot();
        let wall_s = started.elapsed().as_secs_f64();
        let mut manifest = Manifest {
            marlin_rs: env!("CARGO_PKG_VERSION").into(),
            complete: counts.pending == 0,
            shard: shard.map(Into::into),
            model: self.model.clone(),
            config: self.config.clone(),
            gstreamer: marlin_media::gstreamer_version(),
            engines: std::iter::once(format!("encoder: {}", self.encoder.describe()))
                .chain(self.detector.map(|d| format!("detector: {}", d.describe())))
                .collect(),
            row_shape,
            counts,
            decoders: Default::default(),
            colour_paths: Default::default(),
            timings: Timings {
                wall_s,
                encode_s: snap.encode_s,
                clips_per_s: snap.clips as f64 / wall_s.max(1e-9),
                encoder_wait_s: snap.encoder_wait_s,
                workers: snap.workers,
                decode_s: snap.decode_s,
                faces_s: snap.faces_s,
                workers_wait_s: snap.workers_wait_s,
            },
        };
        manifest.tally(&records);
        manifest.write(&dir.join("manifest.json"))?;
        Ok(RunSummary { out: dir, counts, interrupted, wall_s })
    }

    /// Runs the three stages until every video of `work` is written or the run is cancelled.
    fn pipeline(&self, work: &[VideoInput], writer: &mut Writer<'_>) -> Result<(), BatchError> {
        let cfg = self.encoder.config();
        let stage = Stage {
            video: self.config.video(),
            model: cfg,
            detector: self.detector,
            cancel: self.cancel,
            stats: self.stats,
        };
        let jobs = match self.config.jobs {
            0 => (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(2),
            n => n,
        }
        .min(work.len());
        Stats::add(&self.stats.workers, jobs as u64);
        let batch = self.config.batch_size;
        // a batch waiting per stage, and a clip in hand per worker
        let (to_encoder, from_workers) = bounded::<ToEncoder>(batch + jobs);
        let (to_writer, from_encoder) = bounded::<ToWriter>(2 * batch);
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for w in 0..jobs {
                let (tx, stage, next) = (to_encoder.clone(), &stage, &next);
                std::thread::Builder::new()
                    .name(format!("marlin-decode-{w}"))
                    .spawn_scoped(s, move || {
                        while !stage.cancel.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= work.len() || !stage.run(i, &work[i], &tx) {
                                break;
                            }
                        }
                    })
                    .map_err(|e| BatchError::Internal(format!("cannot start a decode thread: {e}")))?;
            }
            drop(to_encoder);
            std::thread::Builder::new()
                .name("marlin-encode".into())
                .spawn_scoped(s, || self.encode(from_workers, to_writer))
                .map_err(|e| BatchError::Internal(format!("cannot start the encoder thread: {e}")))?;
            let result = writer.take(from_encoder, work);
            if result.is_err() {
                // stop the workers; the channels closing stops the encoder
                self.cancel.store(true, Ordering::Relaxed);
            }
            result
        })
    }

    /// The encoder stage: batches clips as they come (never waiting while clips are queued: a
    /// short batch runs when the queue is momentarily empty); a video's end is passed on only
    /// after its clips.
    fn encode(&self, rx: Receiver<ToEncoder>, tx: Sender<ToWriter>) {
        let keep_seq = self.config.output.keep_seq;
        let mut batch: Vec<(usize, RowMeta, ModelClip)> = Vec::new();
        let mut held: Vec<ToWriter> = Vec::new();
        let flush = |batch: &mut Vec<(usize, RowMeta, ModelClip)>, held: &mut Vec<ToWriter>| -> bool {
            if self.cancel.load(Ordering::Relaxed) {
                // a video's end must not reach the writer without its rows
                batch.clear();
                held.clear();
                return true;
            }
            let mut out = Vec::new();
            if !batch.is_empty() {
                let clips: Vec<ModelClip> =
                    batch.iter_mut().map(|(_, _, c)| std::mem::replace(c, ModelClip::Rgb8(Vec::new()))).collect();
                let t = Instant::now();
                match self.encoder.extract_features(&clips, keep_seq) {
                    Ok(features) => {
                        Stats::add_time(&self.stats.encode_ns, t.elapsed());
                        Stats::add(&self.stats.clips, clips.len() as u64);
                        out.extend(batch.drain(..).zip(features).map(|((video, row, _), features)| ToWriter::Row {
                            video,
                            row,
                            features,
                        }));
                    }
                    Err(e) => out.push(ToWriter::Fatal(e.into())),
                }
            }
            batch.clear();
            out.append(held);
            out.into_iter().all(|m| tx.send(m).is_ok())
        };
        loop {
            let msg = if batch.is_empty() {
                let waiting = Instant::now();
                let msg = rx.recv().ok();
                Stats::add_time(&self.stats.encoder_wait_ns, waiting.elapsed());
                msg
            } else {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => {
                        if !flush(&mut batch, &mut held) {
                            return;
                        }
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            let Some(msg) = msg else { break };
            match msg {
                ToEncoder::Clip { video, row, clip } => {
                    batch.push((video, row, clip));
                    if batch.len() >= self.config.batch_size && !flush(&mut batch, &mut held) {
                        return;
                    }
                }
                ToEncoder::Done { video, report } => held.push(ToWriter::Done { video, report }),
                ToEncoder::Failed { video, error } => held.push(ToWriter::Failed { video, error }),
            }
            if batch.is_empty() && !held.is_empty() && !flush(&mut batch, &mut held) {
                return;
            }
        }
        flush(&mut batch, &mut held);
    }
}

const FEATURES: &str = "features.npy";
const FEATURES_PART: &str = "features.npy.part";

/// Opens (or starts) the run in `dir`: the journal, its records, and the features file cut back
/// to the rows the records account for.
fn open_outputs(
    dir: &Path,
    identity: &RunIdentity,
    resume: bool,
) -> Result<(Journal, Vec<Record>, RowFile), BatchError> {
    let part = dir.join(FEATURES_PART);
    if !Journal::exists(dir) {
        if resume {
            tracing::info!("{}: no run to resume there; starting one", dir.display());
        }
        let journal = Journal::create(dir, identity)?;
        return Ok((journal, Vec::new(), RowFile::create(&part, &identity.row_shape)?));
    }
    if !resume {
        return Err(BatchError::Output(format!(
            "{} holds a run already: pass --resume to continue it, or choose another --out",
            dir.display()
        )));
    }
    let (mut journal, earlier, mut records) = Journal::open(dir)?;
    if earlier.model_sha256 != identity.model_sha256 {
        return Err(BatchError::Output(format!(
            "{}: the run there used another model (sha256 {}); this one is {}",
            dir.display(),
            earlier.model_sha256,
            identity.model_sha256
        )));
    }
    if earlier.row_shape != identity.row_shape || earlier.settings != identity.settings {
        return Err(BatchError::Output(format!(
            "{}: the run there used other settings:\n  there: {}\n  now:   {}",
            dir.display(),
            serde_json::json!({"settings": earlier.settings, "row_shape": earlier.row_shape}),
            serde_json::json!({"settings": identity.settings, "row_shape": identity.row_shape})
        )));
    }
    // a finished (or interrupted) run renamed its features into place: take them back
    let final_path = dir.join(FEATURES);
    if !part.exists() && final_path.exists() {
        std::fs::rename(&final_path, &part).map_err(|source| BatchError::Io { path: final_path.clone(), source })?;
    }
    let have = if part.exists() { RowFile::whole_rows(&part, &identity.row_shape)? } else { 0 };
    let mut kept = 0usize;
    let mut rows = 0u64;
    for r in &records {
        if rows + r.rows() as u64 > have {
            break;
        }
        rows += r.rows() as u64;
        kept += 1;
    }
    if kept < records.len() {
        tracing::warn!(
            "{}: features of {} finished videos were lost (the file was cut short); they will be done again",
            dir.display(),
            records.len() - kept
        );
        records.truncate(kept);
        journal.keep_first(&records)?;
    }
    let features = if part.exists() {
        RowFile::reopen(&part, &identity.row_shape, rows)?
    } else {
        RowFile::create(&part, &identity.row_shape)?
    };
    Ok((journal, records, features))
}

/// The clip index of the first row of `data` holding a NaN or an infinity.
fn non_finite_clip(rows: &[RowMeta], data: &[f32]) -> Option<usize> {
    let row_len = data.len() / rows.len().max(1);
    let bad = data.iter().position(|v| !v.is_finite())?;
    Some(rows.get(bad / row_len.max(1)).map_or(0, |r| r.clip))
}

/// The writer stage: a video's rows are held until its end arrives, then written together and
/// journaled.
struct Writer<'a> {
    dir: &'a Path,
    layout: Layout,
    row_shape: &'a [usize],
    journal: &'a mut Journal,
    features: &'a mut RowFile,
    records: &'a mut Vec<Record>,
    stats: &'a Stats,
}

impl Writer<'_> {
    fn take(&mut self, rx: Receiver<ToWriter>, work: &[VideoInput]) -> Result<(), BatchError> {
        let mut pending: HashMap<usize, (Vec<RowMeta>, Vec<f32>)> = HashMap::new();
        for msg in rx {
            match msg {
                ToWriter::Row { video, row, features } => {
                    let (rows, data) = pending.entry(video).or_default();
                    rows.push(row);
                    data.extend_from_slice(&features);
                }
                ToWriter::Done { video, report } => {
                    let (rows, data) = pending.remove(&video).unwrap_or_default();
                    match non_finite_clip(&rows, &data) {
                        Some(clip) => self.fail(
                            &work[video],
                            format!(
                                "{}: the encoder gave non-finite features (NaN or infinity) for clip {clip}; no row is written for this video",
                                work[video].path.display()
                            ),
                        )?,
                        None => {
                            self.commit(&work[video], rows, &data, report)?;
                            Stats::add(&self.stats.videos_done, 1);
                        }
                    }
                }
                ToWriter::Failed { video, error } => {
                    pending.remove(&video);
                    self.fail(&work[video], error)?;
                }
                ToWriter::Fatal(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn fail(&mut self, video: &VideoInput, error: String) -> Result<(), BatchError> {
        tracing::warn!("{error}");
        let record = Record::Failed { video: VideoMeta::from(video), error };
        self.journal.append(&record)?;
        self.records.push(record);
        Stats::add(&self.stats.videos_failed, 1);
        Ok(())
    }

    fn commit(
        &mut self,
        video: &VideoInput,
        rows: Vec<RowMeta>,
        data: &[f32],
        report: VideoReport,
    ) -> Result<(), BatchError> {
        self.features.append(data)?;
        if self.layout == Layout::PerVideo {
            let path = self.dir.join("videos").join(format!("{}.npy", video.id));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| BatchError::Io { path: parent.into(), source })?;
            }
            let shape: Vec<usize> = std::iter::once(rows.len()).chain(self.row_shape.iter().copied()).collect();
            marlin_npy::write_f32(&path, &shape, data)?;
        }
        let record = Record::Done {
            video: VideoMeta::from(video),
            rows,
            frames: report.frames,
            decoder: report.decoder,
            colour: report.colour,
        };
        self.journal.append(&record)?;
        self.records.push(record);
        Ok(())
    }
}
