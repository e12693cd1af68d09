//! Clips straight from a video file: [`VideoReader`] frames through the optional frame-rate
//! resampler into the [`ClipSampler`], converting only the frames a clip will hold.

use std::path::Path;
use std::sync::Arc;

use crate::sampling::{Clip, ClipQueue, ClipSampler, FpsResampler, SamplingOptions};
use crate::{DecodeOptions, MediaError, Orientation, RgbImage, Rotation, VideoReader};

/// Clips of one video, produced while it decodes.
pub struct VideoClips {
    reader: Option<VideoReader>,
    sampler: ClipSampler<Arc<RgbImage>>,
    resampler: Option<FpsResampler>,
    ready: ClipQueue<Arc<RgbImage>>,
    /// Output frame indices so far (after resampling).
    frames_out: u64,
    decoder: Option<String>,
    colour: Option<crate::ColourPath>,
    decoded: u64,
    /// The stream's nominal rate, kept once the reader is closed.
    rate: (i32, i32),
    /// [`Orientation::Official`]: clips of long videos turned by the display rotation.
    official_orientation: bool,
    rotation: Rotation,
}

impl VideoClips {
    /// Opens `path`; `fps` resamples to that frame rate before sampling.
    pub fn open(
        path: &Path,
        decode: DecodeOptions,
        sampling: SamplingOptions,
        fps: Option<f64>,
    ) -> Result<Self, MediaError> {
        let sampler = ClipSampler::new(sampling)?;
        let resampler = fps.map(FpsResampler::new).transpose()?;
        let reader = VideoReader::open(path, decode)?;
        Ok(Self {
            reader: Some(reader),
            sampler,
            resampler,
            ready: ClipQueue::new(),
            frames_out: 0,
            decoder: None,
            colour: None,
            decoded: 0,
            rate: (0, 1),
            official_orientation: decode.orientation == Orientation::Official,
            rotation: Rotation::default(),
        })
    }

    /// The next clip, `Ok(None)` once the video is exhausted (or `max_clips` reached).
    pub fn next_clip(&mut self) -> Result<Option<Clip<Arc<RgbImage>>>, MediaError> {
        loop {
            if let Some(mut clip) = self.ready.pop_front() {
                // the official code reads long videos with OpenCV, which turns them
                if self.official_orientation && self.sampler.sliding() && !self.rotation.is_none() {
                    for f in &mut clip.frames {
                        *f = Arc::new(self.rotation.apply(RgbImage::clone(f)));
                    }
                }
                return Ok(Some(clip));
            }
            let Some(reader) = self.reader.as_mut() else { return Ok(None) };
            if self.sampler.done() {
                self.close();
                continue;
            }
            let want_next = self.sampler.wants(self.frames_out);
            // Without resampling each frame is one output frame; with it, the frame's output
            // slots are only known from its timestamp, so convert and decide afterwards.
            let frame = reader.next_frame(want_next || self.resampler.is_some())?;
            let Some(frame) = frame else {
                self.ready.extend(self.sampler.finish());
                self.close();
                continue;
            };
            if frame.image.is_some() {
                self.rotation = reader.rotation();
            }
            let slots = match &mut self.resampler {
                Some(r) => r.map(frame.pts),
                None => self.frames_out..=self.frames_out,
            };
            let image = frame.image.map(Arc::new);
            for o in slots {
                let keep = self.sampler.wants(o).then(|| image.clone()).flatten();
                self.ready.extend(self.sampler.push(o, keep));
                self.frames_out = o + 1;
            }
        }
    }

    fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            self.decoder = r.decoder();
            self.colour = r.colour_path().cloned();
            self.decoded = r.frames_decoded();
            self.rate = r.frame_rate();
        }
    }

    /// Frames per second of the clips' frame indices: the `fps` resampled to, else the stream's
    /// nominal rate once a frame has decoded; `None` when unknown (variable-rate streams).
    pub fn frame_rate(&self) -> Option<f64> {
        if let Some(r) = &self.resampler {
            return Some(r.fps());
        }
        let (n, d) = self.reader.as_ref().map_or(self.rate, |r| r.frame_rate());
        (n > 0 && d > 0).then(|| f64::from(n) / f64::from(d))
    }

    /// The video decoder used (factory name), once known.
    pub fn decoder(&self) -> Option<String> {
        self.reader.as_ref().map_or_else(|| self.decoder.clone(), |r| r.decoder())
    }

    /// The colour conversion that ran, once a frame was converted.
    pub fn colour_path(&self) -> Option<crate::ColourPath> {
        self.reader.as_ref().map_or_else(|| self.colour.clone(), |r| r.colour_path().cloned())
    }

    /// Frames decoded so far (all of them once `next_clip` returned `None`, unless
    /// `max_clips` stopped decoding early).
    pub fn frames_decoded(&self) -> u64 {
        self.reader.as_ref().map_or(self.decoded, |r| r.frames_decoded())
    }
}
