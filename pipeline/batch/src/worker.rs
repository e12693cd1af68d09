//! The decode and face stage: one video at a time from file to encoder-ready clips, sent down
//! the bounded channel to the encoder, then the video's end (or its failure).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::Sender;
use marlin_faces::FaceDetector;
use marlin_model::{Clip as ModelClip, MarlinConfig};

use crate::BatchError;
use crate::config::VideoSettings;
use crate::encoder_inputs::{EncoderInputs, VideoReport};
use crate::inputs::VideoInput;
use crate::journal::RowMeta;
use crate::stats::Stats;

/// What the decode stage hands the encoder.
pub(crate) enum ToEncoder {
    Clip { video: usize, row: RowMeta, clip: ModelClip },
    Done { video: usize, report: VideoReport },
    Failed { video: usize, error: String },
}

/// What every worker shares.
pub(crate) struct Stage<'a> {
    pub video: VideoSettings,
    pub model: &'a MarlinConfig,
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
        let mut inputs = EncoderInputs::open(&video.path, &self.video, self.model, self.detector)?;
        let result = self.send_inputs(index, &mut inputs, tx);
        let (decode, faces) = inputs.stage_times();
        Stats::add_time(&self.stats.decode_ns, decode);
        Stats::add_time(&self.stats.faces_ns, faces);
        Stats::add(&self.stats.frames, inputs.frames_decoded());
        match result? {
            Ok(()) => inputs.finish().map(Ok),
            Err(stopped) => Ok(Err(stopped)),
        }
    }

    /// Hands every clip of `inputs` to the encoder, counting the time its queue was full.
    fn send_inputs(
        &self,
        index: usize,
        inputs: &mut EncoderInputs<'_>,
        tx: &Sender<ToEncoder>,
    ) -> Result<Result<(), Stopped>, BatchError> {
        while let Some(input) = inputs.next_input()? {
            if self.cancel.load(Ordering::Relaxed) {
                return Ok(Err(Stopped::Cancelled));
            }
            let clip = ModelClip::Rgb8(input.frames);
            let waiting = Instant::now();
            if tx.send(ToEncoder::Clip { video: index, row: input.row, clip }).is_err() {
                return Ok(Err(Stopped::ChannelClosed));
            }
            Stats::add_time(&self.stats.workers_wait_ns, waiting.elapsed());
        }
        Ok(Ok(()))
    }
}
