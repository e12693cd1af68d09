//! `marlin bench`: encoder throughput on synthetic clips (model load excluded), decode
//! throughput on a video, detector latency on a frame.

use std::path::Path;
use std::time::Instant;

use anyhow::ensure;
use marlin_model::Clip;

use marlin_faces::crop::detect_scaled;
use marlin_faces::{Detection, FrameRef};
use marlin_media::VideoReader;

use crate::args::{BenchCommand, DetectorArgs, EngineArgs, ModelArgs, VideoArgs};

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Encode { model, engine, clips, batch } => encode(&model, &engine, clips, batch),
        BenchCommand::Decode { video, video_args, repeat } => decode(&video, &video_args, repeat),
        BenchCommand::Detect { input, detector, repeat, max_side } => detect(&input, &detector, repeat, max_side),
    }
}

/// Every frame decoded and converted to RGB, `repeat` passes; prints the best pass.
fn decode(video: &Path, args: &VideoArgs, repeat: usize) -> anyhow::Result<()> {
    ensure!(repeat > 0, "--repeat must be positive");
    let mut best = f64::INFINITY;
    let mut frames = 0;
    let mut report = String::new();
    for _ in 0..repeat {
        let t0 = Instant::now();
        let mut reader = VideoReader::open(video, args.options()?)?;
        frames = 0;
        while let Some(f) = reader.next_frame(true)? {
            std::hint::black_box(&f.image);
            frames += 1;
        }
        best = best.min(t0.elapsed().as_secs_f64());
        report = format!(
            "decoder={} colour=\"{}\"",
            reader.decoder().unwrap_or_else(|| "none (raw video)".into()),
            reader.colour_path().map_or_else(|| "?".into(), |c| c.to_string())
        );
    }
    let rss = peak_rss_mb().map_or_else(|| "?".into(), |m| format!("{m:.0}"));
    println!("video={} frames={frames} {report} best_seconds={best:.3} peak_rss_mb={rss}", video.display());
    println!("frames/s={:.1}", frames as f64 / best);
    Ok(())
}

/// Detector latency on one frame: median and best of `repeat` runs after one warm-up; with
/// `max_side`, the same on the downscaled frame and the IoU of the two top boxes.
fn detect(input: &Path, args: &DetectorArgs, repeat: usize, max_side: Option<usize>) -> anyhow::Result<()> {
    ensure!(repeat > 0, "--repeat must be positive");
    let det = args.open()?;
    // An image, or a video's first frame (read_image decodes whatever GStreamer opens).
    let img = marlin_media::read_image(input)?;
    let frame = FrameRef { rgb: &img.data, width: img.width as usize, height: img.height as usize };
    let time = |side: Option<usize>| -> anyhow::Result<(Vec<Detection>, f64, f64)> {
        let dets = detect_scaled(det.as_ref(), &frame, side)?;
        let mut ms: Vec<f64> = (0..repeat)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(detect_scaled(det.as_ref(), &frame, side).ok());
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        Ok((dets, ms[0], ms[ms.len() / 2]))
    };
    let (full, best, median) = time(None)?;
    println!(
        "input={} size={}x{} faces={} detector=\"{}\" best_ms={best:.1} repeat={repeat}",
        input.display(),
        img.width,
        img.height,
        full.len(),
        det.describe()
    );
    if let Some(side) = max_side {
        let (small, best, median) = time(Some(side))?;
        let iou = match (full.first(), small.first()) {
            (Some(a), Some(b)) => format!("{:.3}", marlin_faces::tracker::iou(a, b)),
            _ => "none".into(),
        };
        println!("max_side={side} faces={} best_ms={best:.1} median_ms={median:.1} top_box_iou={iou}", small.len());
    }
    println!("ms/frame={median:.1}");
    Ok(())
}

/// This process's peak resident memory (Linux: VmHWM), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn encode(model: &ModelArgs, engine: &EngineArgs, clips: usize, batch: usize) -> anyhow::Result<()> {
    ensure!(clips > 0 && batch > 0, "--clips and --batch must be positive");
    let enc = model.open(engine)?.extractor;
    let cfg = enc.config();
    let len = cfg.n_frames * cfg.img_size * cfg.img_size * 3;
    // deterministic pseudo-random frames (an LCG): content does not change the work done
    let mut state = 0x2545_f491_u32;
    let frames: Vec<u8> = (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let batch_clips = vec![Clip::Rgb8(frames); batch];
    enc.extract_features(&batch_clips, false)?; // warm-up
    let t0 = Instant::now();
    let mut done = 0;
    while done < clips {
        let n = batch.min(clips - done);
        enc.extract_features(&batch_clips[..n], false)?;
        done += n;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "model={} dim={} engine=\"{}\" batch={batch} clips={clips} seconds={secs:.3} s/clip={:.3}",
        cfg.name,
        enc.dim(),
        enc.describe(),
        secs / clips as f64
    );
    println!("clips/s={:.3} gflops={:.1}", clips as f64 / secs, cfg.encoder_flops() * clips as f64 / secs / 1e9);
    Ok(())
}
