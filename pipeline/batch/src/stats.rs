//! Live counters of a run, updated by its threads and read by whoever shows progress.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a run has done so far (this process only, except `videos_earlier`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Videos this run has to do (after sharding and skipping finished ones).
    pub videos_total: AtomicU64,
    /// Videos finished by earlier runs of the same output folder.
    pub videos_earlier: AtomicU64,
    pub videos_done: AtomicU64,
    pub videos_failed: AtomicU64,
    /// Clips through the encoder.
    pub clips: AtomicU64,
    /// Frames decoded.
    pub frames: AtomicU64,
    /// Nanoseconds the encoder spent computing.
    pub encode_ns: AtomicU64,
}

/// A consistent-enough reading of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    pub videos_total: u64,
    pub videos_earlier: u64,
    pub videos_done: u64,
    pub videos_failed: u64,
    pub clips: u64,
    pub frames: u64,
    pub encode_s: f64,
}

impl Stats {
    pub fn snapshot(&self) -> Snapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            videos_total: get(&self.videos_total),
            videos_earlier: get(&self.videos_earlier),
            videos_done: get(&self.videos_done),
            videos_failed: get(&self.videos_failed),
            clips: get(&self.clips),
            frames: get(&self.frames),
            encode_s: get(&self.encode_ns) as f64 * 1e-9,
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Snapshot {
    /// Videos finished (either way) by this run.
    pub fn videos_finished(&self) -> u64 {
        self.videos_done + self.videos_failed
    }
}
