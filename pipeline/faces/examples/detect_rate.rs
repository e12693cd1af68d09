//! The native RetinaFace's time per frame, in-process (no decoding, no CLI): the measurement to
//! iterate on (and to profile with `perf record` / `valgrind --tool=callgrind`).
//!
//! `cargo run --release -p marlin-faces --example detect_rate -- DETECTOR.pkl [FRAMES.npy]
//! [--threads N] [--repeat N] [--batch N]`
//!
//! `--batch N`: N copies of the frame per call of `detect_batch` (one frame per thread), the
//! times per frame.
//!
//! FRAMES.npy: (K,H,W,3) or (H,W,3) uint8 RGB (`marlin decode --frames 1 VIDEO -o FRAMES.npy`);
//! the first frame is used. Without it, a 1280×720 pseudo-random frame. Prints the best and
//! median wall time per frame and the CPU time per frame of all threads together (on Linux).

use std::path::PathBuf;
use std::time::Instant;

use marlin_faces::{FrameRef, PixelOrder, RetinaFace};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut detector, mut frames, mut threads, mut repeat, mut batch) = (None, None, 2usize, 20usize, 1usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().ok_or("--threads N")?.parse()?,
            "--repeat" => repeat = args.next().ok_or("--repeat N")?.parse()?,
            "--batch" => batch = args.next().ok_or("--batch N")?.parse::<usize>()?.max(1),
            _ if detector.is_none() => detector = Some(PathBuf::from(a)),
            _ => frames = Some(PathBuf::from(a)),
        }
    }
    let detector =
        detector.ok_or("usage: detect_rate DETECTOR.pkl [FRAMES.npy] [--threads N] [--repeat N] [--batch N]")?;
    let (pixels, width, height) = match frames {
        Some(path) => {
            let a = marlin_npy::read(&path)?;
            let marlin_npy::Data::U8(data) = a.data else {
                return Err(format!("{}: not uint8", path.display()).into());
            };
            let (h, w) = match a.shape[..] {
                [_, h, w, 3] | [h, w, 3] => (h, w),
                _ => return Err(format!("{}: shape {:?}, expected (K,H,W,3)", path.display(), a.shape).into()),
            };
            (data[..h * w * 3].to_vec(), w, h)
        }
        None => {
            let mut s = 1u32;
            let px = (0..1280 * 720 * 3)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 24) as u8
                })
                .collect();
            (px, 1280, 720)
        }
    };
    let det = RetinaFace::load(&detector, threads)?;
    let frame = FrameRef::new(&pixels, width, height);
    let faces = det.detect(frame, PixelOrder::Rgb)?.len();
    let mut ms = Vec::with_capacity(repeat);
    let cpu0 = cpu_ns();
    let frames = vec![frame; batch];
    for _ in 0..repeat {
        let t = Instant::now();
        if batch == 1 {
            std::hint::black_box(det.detect(frame, PixelOrder::Rgb)?);
        } else {
            std::hint::black_box(det.detect_batch(&frames, PixelOrder::Rgb)?);
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3 / batch as f64);
    }
    let cpu_ms = cpu_ns().zip(cpu0).map(|(b, a)| (b - a) as f64 / 1e6 / (repeat * batch) as f64);
    ms.sort_by(f64::total_cmp);
    println!(
        "size={width}x{height} faces={faces} threads={} batch={batch} best_ms={:.2} median_ms={:.2} cpu_ms_per_frame={} \
         repeat={repeat}",
        det.threads(),
        ms[0],
        ms[ms.len() / 2],
        cpu_ms.map_or("n/a".into(), |c| format!("{c:.2}")),
    );
    Ok(())
}

/// CPU time of all the process's threads so far, in ns (Linux's per-thread schedstat): less
/// disturbed than wall time by other processes sharing the cores.
fn cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}
