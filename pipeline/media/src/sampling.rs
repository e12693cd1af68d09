//! MARLIN's clip rule, applied while frames stream in, and an optional frame-rate resampler.
//!
//! With `F` frames per clip (16), sample rate `sr` (2) and stride `st` (16), for a video of
//! `N` decoded frames (the official code takes `N` from the container; we count frames):
//! - `N ≤ F`: one clip of every frame, the last repeated up to `F`;
//! - `F < N ≤ F·sr`: one clip of the first `F` consecutive frames;
//! - `N > F·sr`: clip `k` starts at `s = k·st·sr` for every `s < N − F·sr` and holds frames
//!   `s, s+sr, …, s+(F−1)·sr`; the tail after the last window is dropped.
//!
//! Window `s` exists exactly when frame `s + F·sr` exists, so it is emitted as soon as that
//! frame is decoded. Frames no pending window needs are never kept ([`ClipSampler::wants`] says
//! which to convert at all), so memory is bounded by one clip window.
//!
//! Options beyond the official rule: [`TailPolicy::Pad`] adds one last window over the dropped
//! tail (missing frames repeat the last sampled one), `max_clips` stops early.

use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;
use std::time::Duration;

use marlin_settings::{Bounds, OutOfRange};

marlin_settings::named! {
    /// What happens to frames after the last full window.
    pub enum TailPolicy: "tail", default Drop {
        /// Dropped, as the official code does.
        Drop = "drop",
        /// One more clip starting where the next window would (when that is inside the video),
        /// its missing frames repeating the last sampled frame.
        Pad = "pad",
    }
}

/// The clip rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingOptions {
    /// Frames per clip (the model's `n_frames`, 16).
    pub clip_frames: usize,
    /// Take every `sample_rate`-th frame inside a window.
    pub sample_rate: usize,
    /// Window starts are `stride · sample_rate` frames apart.
    pub stride: usize,
    pub tail: TailPolicy,
    /// Stop after this many clips.
    pub max_clips: Option<usize>,
}

impl SamplingOptions {
    /// Frames per clip: the model's (16 for every released one).
    pub const CLIP_FRAMES: Bounds<usize> = Bounds::closed(1, 1024);
    pub const SAMPLE_RATE: Bounds<usize> = Bounds::closed(1, 1000);
    pub const STRIDE: Bounds<usize> = Bounds::closed(1, 1000);
    /// The frame rate a video may be resampled to before sampling.
    pub const FPS: Bounds<f64> = Bounds::above(0.0, 1000.0);

    /// Refuses values outside their bounds, naming the setting.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        Self::CLIP_FRAMES.check("clip_frames", self.clip_frames)?;
        Self::SAMPLE_RATE.check("sample_rate", self.sample_rate)?;
        Self::STRIDE.check("stride", self.stride)?;
        Ok(())
    }
}

impl Default for SamplingOptions {
    /// The official `extract_video` defaults.
    fn default() -> Self {
        Self { clip_frames: 16, sample_rate: 2, stride: 16, tail: TailPolicy::Drop, max_clips: None }
    }
}

/// One clip: its number, the source frame indices it holds (repeats included) and the frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip<T> {
    pub index: usize,
    pub frame_indices: Vec<u64>,
    pub frames: Vec<T>,
}

/// Streams frames into clips by the rule above.
#[derive(Debug)]
pub struct ClipSampler<T> {
    f: u64,
    sr: u64,
    step: u64,
    tail: TailPolicy,
    max_clips: usize,
    kept: BTreeMap<u64, T>,
    /// Frames pushed so far (`N` once the stream ends).
    seen: u64,
    emitted: usize,
    /// Start of the next sliding window.
    next_start: u64,
    /// `N > F·sr` is known: the sliding-window rule applies.
    sliding: bool,
}

impl<T: Clone> ClipSampler<T> {
    /// A sampler; options outside their bounds are errors.
    pub fn new(o: SamplingOptions) -> Result<Self, OutOfRange> {
        o.validate()?;
        Ok(Self {
            f: o.clip_frames as u64,
            sr: o.sample_rate as u64,
            step: (o.stride * o.sample_rate) as u64,
            tail: o.tail,
            max_clips: o.max_clips.unwrap_or(usize::MAX),
            kept: BTreeMap::new(),
            seen: 0,
            emitted: 0,
            next_start: 0,
            sliding: false,
        })
    }

    fn span(&self) -> u64 {
        self.f * self.sr
    }

    /// Whether every clip asked for has been emitted (decoding can stop).
    pub fn done(&self) -> bool {
        self.emitted >= self.max_clips
    }

    /// Whether the video is known to be longer than two clip lengths (`N > F·sr`: the sliding
    /// windows apply).
    pub fn sliding(&self) -> bool {
        self.sliding
    }

    /// Whether frame `index` (the next to push, or later) will be part of a clip, so its pixels
    /// are needed.
    pub fn wants(&self, index: u64) -> bool {
        if self.done() {
            return false;
        }
        if !self.sliding && index < self.f {
            return true;
        }
        if !index.is_multiple_of(self.sr) {
            return false;
        }
        let lo = self.next_start.max(index.saturating_sub((self.f - 1) * self.sr));
        lo.next_multiple_of(self.step) <= index
    }

    /// Takes frame `index` (frames come in order from 0; `frame` is `Some` when
    /// [`wants`](Self::wants) said so) and returns the clips it completes.
    pub fn push(&mut self, index: u64, frame: Option<T>) -> Vec<Clip<T>> {
        debug_assert_eq!(index, self.seen, "frames must be pushed in order");
        self.seen = index + 1;
        if let Some(frame) = frame {
            self.kept.insert(index, frame);
        }
        if index == self.span() {
            self.sliding = true;
        }
        let mut out = Vec::new();
        while self.sliding && !self.done() && self.next_start + self.span() <= index {
            let s = self.next_start;
            let indices: Vec<u64> = (0..self.f).map(|i| s + i * self.sr).collect();
            out.push(self.make_clip(indices));
            self.next_start += self.step;
            let keep = self.kept.split_off(&self.next_start);
            self.kept = keep;
        }
        out
    }

    /// Ends the stream: the clips only its length decides (short videos, padded tail).
    pub fn finish(&mut self) -> Vec<Clip<T>> {
        let n = self.seen;
        if n == 0 || self.done() {
            return Vec::new();
        }
        let indices: Vec<u64> = if !self.sliding {
            (0..self.f).map(|i| i.min(n - 1)).collect()
        } else if self.tail == TailPolicy::Pad {
            // The official windows always leave the last frame out (s < N − F·sr is strict),
            // so there is a tail whenever the next window would start inside the video.
            let s = self.next_start;
            if s >= n {
                return Vec::new();
            }
            let last_sampled = s + (n - 1 - s) / self.sr * self.sr;
            (0..self.f).map(|i| (s + i * self.sr).min(last_sampled)).collect()
        } else {
            return Vec::new();
        };
        self.kept.retain(|k, _| indices.contains(k));
        let clip = self.make_clip(indices);
        self.kept.clear();
        vec![clip]
    }

    fn make_clip(&mut self, frame_indices: Vec<u64>) -> Clip<T> {
        let frames = frame_indices
            .iter()
            .map(|i| self.kept.get(i).cloned().expect("wants() keeps every frame a clip takes"))
            .collect();
        let clip = Clip { index: self.emitted, frame_indices, frames };
        self.emitted += 1;
        clip
    }

    /// Frames held right now (for memory checks).
    pub fn frames_held(&self) -> usize {
        self.kept.len()
    }
}

/// Resamples a stream to a fixed frame rate by timestamps: output frame `o` is the source
/// first source frame whose timestamp (from the first frame's) is nearest to `o / fps`; gaps repeat the
/// previous frame, surplus frames are dropped.
#[derive(Debug)]
pub struct FpsResampler {
    fps: f64,
    first: Option<Duration>,
    next_out: u64,
}

impl FpsResampler {
    /// A resampler to `fps` frames per second (finite, positive).
    pub fn new(fps: f64) -> Result<Self, OutOfRange> {
        let fps = SamplingOptions::FPS.check("fps", fps)?;
        Ok(Self { fps, first: None, next_out: 0 })
    }

    /// The output frame rate.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// The output frame indices the source frame at `pts` fills (empty when it is dropped).
    /// Frames without a timestamp take the next output index.
    pub fn map(&mut self, pts: Option<Duration>) -> RangeInclusive<u64> {
        let o = match pts {
            Some(t) => {
                let first = *self.first.get_or_insert(t);
                // Nearest output slot, ties to the earlier one (2:1 rate ratios put every other
                // frame exactly half-way).
                (t.saturating_sub(first).as_secs_f64() * self.fps - 0.5).ceil().max(0.0) as u64
            }
            None => self.next_out,
        };
        let range = self.next_out..=o;
        if o >= self.next_out {
            self.next_out = o + 1;
        }
        range
    }
}

/// A small FIFO of clips ready to hand out.
pub type ClipQueue<T> = VecDeque<Clip<T>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sampler over `n` frames (each frame is its own index) and returns each clip's
    /// frame indices, checking that clip frames equal their indices.
    fn run(n: u64, o: SamplingOptions) -> (Vec<Vec<u64>>, usize) {
        let mut s = ClipSampler::new(o).unwrap();
        let mut clips = Vec::new();
        let mut max_held = 0;
        for i in 0..n {
            let w = s.wants(i);
            clips.extend(s.push(i, w.then_some(i)));
            max_held = max_held.max(s.frames_held());
        }
        clips.extend(s.finish());
        for (k, c) in clips.iter().enumerate() {
            assert_eq!(c.index, k);
            assert_eq!(c.frames, c.frame_indices);
        }
        (clips.into_iter().map(|c| c.frame_indices).collect(), max_held)
    }

    /// The official rule written out directly (extract_video's window starts).
    fn official(n: u64, f: u64, sr: u64, st: u64) -> Vec<Vec<u64>> {
        if n <= f {
            return vec![(0..f).map(|i| i.min(n - 1)).collect()];
        }
        if n <= f * sr {
            return vec![(0..f).collect()];
        }
        (0..n.saturating_sub(f * sr))
            .step_by((st * sr) as usize)
            .map(|s| (0..f).map(|i| s + i * sr).collect())
            .collect()
    }

    #[test]
    fn official_rule_for_every_length() {
        for (sr, st) in [(2, 16), (1, 16), (2, 8), (3, 4), (1, 1), (2, 20)] {
            for n in 1..200 {
                let o = SamplingOptions { sample_rate: sr, stride: st, ..Default::default() };
                let (clips, held) = run(n, o);
                assert_eq!(clips, official(n, 16, sr as u64, st as u64), "n={n} sr={sr} st={st}");
                assert!(held <= 16 + 16 * sr, "held {held} frames");
            }
        }
    }

    #[test]
    fn official_clip_counts_of_the_test_videos() {
        // ../shared/oracle/videos/videos.json: 143 → 4, 104 → 3, 15 → 1, 27 → 1, 300 → 9.
        for (n, clips) in [(143, 4), (104, 3), (15, 1), (27, 1), (300, 9), (195, 6), (240, 7)] {
            assert_eq!(run(n, SamplingOptions::default()).0.len(), clips, "n={n}");
        }
    }

    #[test]
    fn short_videos() {
        let (c, _) = run(3, SamplingOptions::default());
        assert_eq!(c, vec![vec![0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]]);
        let (c, _) = run(27, SamplingOptions::default());
        assert_eq!(c, vec![(0..16).collect::<Vec<_>>()]);
        assert!(run(0, SamplingOptions::default()).0.is_empty());
    }

    #[test]
    fn memory_is_one_window_for_long_videos() {
        let (clips, held) = run(100_000, SamplingOptions::default());
        assert_eq!(clips.len(), 3124);
        // At most frames 0..15 (needed while the video could still be ≤ 32 frames long) and
        // the even frames 16..30: 24, however long the video.
        assert!(held <= 24, "held {held}");
    }

    #[test]
    fn tail_padding() {
        let o = SamplingOptions { tail: TailPolicy::Pad, ..Default::default() };
        // 143 frames: official windows 0, 32, 64, 96 (last frame 126); the tail 127..142 gets
        // window 128: 128, 130, …, 142, then 142 repeated.
        let (c, _) = run(143, o);
        assert_eq!(c.len(), 5);
        let last = &c[4];
        assert_eq!(&last[..8], &[128, 130, 132, 134, 136, 138, 140, 142]);
        assert!(last[8..].iter().all(|&i| i == 142));
        // 128 frames: windows 0, 32, 64 (last frame 94) and the tail 96.. is padded.
        assert_eq!(run(128, o).0.len(), 4);
        // Short videos are unaffected.
        assert_eq!(run(27, o).0, run(27, SamplingOptions::default()).0);
        // Overlapping windows (stride 1): windows 0, 2, 4, 6 end at frame 36; the tail
        // window starts at 8 and reaches 38.
        let o = SamplingOptions { tail: TailPolicy::Pad, stride: 1, ..Default::default() };
        let (c, _) = run(40, o);
        assert_eq!(&c[..4], &official(40, 16, 2, 1)[..]);
        assert_eq!(c[4], (8..40).step_by(2).collect::<Vec<_>>());
        // Windows 80 frames apart: the next one would start past the end, so no tail clip.
        let o = SamplingOptions { tail: TailPolicy::Pad, stride: 40, ..Default::default() };
        assert_eq!(run(40, o).0, official(40, 16, 2, 40));
    }

    #[test]
    fn max_clips_stops_early() {
        let o = SamplingOptions { max_clips: Some(2), ..Default::default() };
        let mut s = ClipSampler::new(o).unwrap();
        let mut clips = Vec::new();
        let mut i = 0;
        while !s.done() {
            let w = s.wants(i);
            clips.extend(s.push(i, w.then_some(i)));
            i += 1;
        }
        assert_eq!(clips.len(), 2);
        assert_eq!(i, 65, "stops right after frame 64 completes clip 1");
        assert!(s.finish().is_empty());
        assert!(!s.wants(i));
    }

    #[test]
    fn bad_parameters() {
        assert!(ClipSampler::<u64>::new(SamplingOptions { stride: 0, ..Default::default() }).is_err());
        assert!(ClipSampler::<u64>::new(SamplingOptions { sample_rate: 0, ..Default::default() }).is_err());
        assert!(FpsResampler::new(0.0).is_err());
        assert!(FpsResampler::new(f64::NAN).is_err());
        assert!(FpsResampler::new(1e300).is_err());
        assert!(ClipSampler::<u64>::new(SamplingOptions { sample_rate: 1 << 40, ..Default::default() }).is_err());
    }

    #[test]
    fn fps_resampling() {
        let ms = |m| Some(Duration::from_millis(m));
        // 30 fps → 15 fps: every other frame dropped.
        let mut r = FpsResampler::new(15.0).unwrap();
        let outs: Vec<_> = (0..6).map(|i| r.map(ms(i * 1000 / 30)).collect::<Vec<_>>()).collect();
        assert_eq!(outs, vec![vec![0], vec![], vec![1], vec![], vec![2], vec![]]);
        // 10 fps → 30 fps: each frame fills three outputs.
        let mut r = FpsResampler::new(30.0).unwrap();
        let outs: Vec<_> = (0..3).map(|i| r.map(ms(100 + i * 100)).collect::<Vec<_>>()).collect();
        assert_eq!(outs, vec![vec![0], vec![1, 2, 3], vec![4, 5, 6]]);
        // No timestamps: one output per frame.
        let mut r = FpsResampler::new(30.0).unwrap();
        assert_eq!(r.map(None).collect::<Vec<_>>(), vec![0]);
        assert_eq!(r.map(None).collect::<Vec<_>>(), vec![1]);
    }
}
