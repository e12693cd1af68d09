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
    /// Nanoseconds the encoder waited for clips with none queued.
    pub encoder_wait_ns: AtomicU64,
    /// Nanoseconds the workers spent decoding and cutting clips (all workers summed).
    pub decode_ns: AtomicU64,
    /// Nanoseconds the workers spent detecting and cropping faces (all workers summed).
    pub faces_ns: AtomicU64,
    /// Nanoseconds the workers waited for room in the encoder's queue (all workers summed).
    pub workers_wait_ns: AtomicU64,
    /// Decoding workers started.
    pub workers: AtomicU64,
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
    pub encoder_wait_s: f64,
    pub decode_s: f64,
    pub faces_s: f64,
    pub workers_wait_s: f64,
    pub workers: u64,
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
            encoder_wait_s: get(&self.encoder_wait_ns) as f64 * 1e-9,
            decode_s: get(&self.decode_ns) as f64 * 1e-9,
            faces_s: get(&self.faces_ns) as f64 * 1e-9,
            workers_wait_s: get(&self.workers_wait_ns) as f64 * 1e-9,
            workers: get(&self.workers),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_time(counter: &AtomicU64, t: std::time::Duration) {
        Self::add(counter, u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
    }
}

impl Snapshot {
    /// Videos finished (either way) by this run.
    pub fn videos_finished(&self) -> u64 {
        self.videos_done + self.videos_failed
    }

    /// Progress after `elapsed_s` seconds of the run: `3 failed, 120 clips, 6.50 clips/s`.
    pub fn progress(&self, elapsed_s: f64) -> String {
        let rate = self.clips as f64 / elapsed_s.max(1e-9);
        format!("{} failed, {} clips, {rate:.2} clips/s", self.videos_failed, self.clips)
    }

    /// How busy each stage was over `wall_s` seconds: one line, e.g. `workers (2): decode
    /// 10.1 s, faces 40.2 s, waiting for the encoder 3.0 s; encoder: busy 50.3 s (84% of 60.0
    /// s), waiting for clips 8.1 s`.
    pub fn stage_line(&self, wall_s: f64) -> String {
        let pct = |v: f64| 100.0 * v / wall_s.max(1e-9);
        format!(
            "workers ({}): decode {:.1} s, faces {:.1} s, waiting for the encoder {:.1} s; encoder: busy {:.1} s ({:.0}% of {:.1} s), waiting for clips {:.1} s",
            self.workers,
            self.decode_s,
            self.faces_s,
            self.workers_wait_s,
            self.encode_s,
            pct(self.encode_s),
            wall_s,
            self.encoder_wait_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_failures_clips_and_the_clip_rate() {
        let s = Snapshot { videos_failed: 3, clips: 130, ..Snapshot::default() };
        assert_eq!(s.progress(20.0), "3 failed, 130 clips, 6.50 clips/s");
        assert_eq!(Snapshot::default().progress(0.0), "0 failed, 0 clips, 0.00 clips/s");
    }
}
