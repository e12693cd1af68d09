//! The decode and face stage: one video at a time from file to encoder-ready clips, sent down
//! the bounded channel to the encoder, then the video's end (or its failure).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use marlin_faces::FaceDetector;
use marlin_media::VideoClips;
use marlin_media::sampling::SamplingOptions;
use marlin_model::Clip as ModelClip;

use crate::BatchError;
use crate::clip_faces::{ClipFaces, ClipItem};
use crate::config::{Faces, FeaturizeConfig};
use crate::inputs::VideoInput;
use crate::journal::RowMeta;
use crate::stats::Stats;

/// What the decode stage hands the encoder.
pub(crate) enum ToEncoder {
    Clip { video: usize, row: RowMeta, clip: ModelClip },
    Done { video: usize, report: VideoReport },
    Failed { video: usize, error: String },
}

/// How a finished video decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct VideoReport {
    pub frames: u64,
    pub decoder: Option<String>,
    pub colour: Option<String>,
}

/// What every worker shares.
pub(crate) struct Stage<'a> {
    pub config: &'a FeaturizeConfig,
    pub sampling: SamplingOptions,
    pub img_size: usize,
    pub detector: Option<&'a dyn FaceDetector>,
    pub cancel: &'a AtomicBool,
    pub stats: &'a Stats,
}

/// Why a video stopped before its end without failing.
enum Stopped {
    Cancelled,
    ChannelClosed,
}

impl Stage<'_> {
    /// Runs one video through decoding and cropping. Returns `false` once the encoder is gone
    /// (the run is ending).
    pub fn run(&self, index: usize, video: &VideoInput, tx: &Sender<ToEncoder>) -> bool {
        let outcome = catch_unwind(AssertUnwindSafe(|| self.clips(index, video, tx)));
        let msg = match outcome {
            Ok(Ok(Ok(report))) => ToEncoder::Done { video: index, report },
            Ok(Ok(Err(Stopped::Cancelled))) => return true,
            Ok(Ok(Err(Stopped::ChannelClosed))) => return false,
            Ok(Err(e)) => ToEncoder::Failed { video: index, error: e.to_string() },
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!("{}: internal error: {what}", video.path.display());
                ToEncoder::Failed { video: index, error: format!("{}: internal error: {what}", video.path.display()) }
            }
        };
        tx.send(msg).is_ok()
    }

    fn clips(
        &self,
        index: usize,
        video: &VideoInput,
        tx: &Sender<ToEncoder>,
    ) -> Result<Result<VideoReport, Stopped>, BatchError> {
        let path = &video.path;
        let mut clips = VideoClips::open(path, self.config.decode_options(), self.sampling, self.config.sampling.fps)?;
        let all_faces = self.config.faces.pick == Faces::All;
        let mut faces = self.detector.map(|d| ClipFaces::new(d, self.config.crop_options(), all_faces));
        let mut rows = 0usize;
        while let Some(clip) = clips.next_clip()? {
            if self.cancel.load(Ordering::Relaxed) {
                return Ok(Err(Stopped::Cancelled));
            }
            let (first, last) =
                (clip.frame_indices.first().copied().unwrap_or(0), clip.frame_indices.last().copied().unwrap_or(0));
            let items = match &mut faces {
                Some(f) => f.crop(clip, &mut None)?,
                None => vec![ClipItem { clip: clip.index, track: None, frames: clip.frames, faces: None }],
            };
            let rate = clips.frame_rate();
            for item in items {
                let data = item.encoder_input(self.img_size, path)?;
                let row = RowMeta {
                    clip: item.clip,
                    track: item.track,
                    first_frame: first,
                    last_frame: last,
                    start_s: rate.map(|r| first as f64 / r),
                    end_s: rate.map(|r| (last + 1) as f64 / r),
                    face_frames: item.faces.map(|f| f.detected),
                    face_box: item.faces.and_then(|f| f.mean_box),
                    face_score: item.faces.and_then(|f| f.mean_score),
                };
                rows += 1;
                if tx.send(ToEncoder::Clip { video: index, row, clip: ModelClip::Rgb8(data) }).is_err() {
                    return Ok(Err(Stopped::ChannelClosed));
                }
            }
        }
        Stats::add(&self.stats.frames, clips.frames_decoded());
        if let Some(f) = &faces {
            if rows == 0 {
                return Err(BatchError::Input(format!("{}: no face found in any sampled frame", path.display())));
            }
            if f.counts.0 == 0 {
                tracing::warn!(
                    "{}: no face found at all: the features are of the fallback crop (the frame's top-left corner, as the official code does)",
                    path.display()
                );
            }
        }
        if rows == 0 {
            return Err(BatchError::Input(format!("{}: no clips", path.display())));
        }
        Ok(Ok(VideoReport {
            frames: clips.frames_decoded(),
            decoder: clips.decoder(),
            colour: clips.colour_path().map(|c| c.to_string()),
        }))
    }
}
