//! `marlin detect`: faces (box, score, 5 landmarks, track id) in an image or in every frame of
//! a video, written as CSV.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use marlin_faces::draw::Canvas;
use marlin_faces::{Detection, PixelOrder, Tracker};
use marlin_media::{FrameWriter, RgbImage, VideoReader};

use crate::args::DetectArgs;

const HEADER: &str = "frame,track,x1,y1,x2,y2,score,lm1x,lm1y,lm2x,lm2y,lm3x,lm3y,lm4x,lm4y,lm5x,lm5y\n";

/// Whether `path` names a still image (by extension).
fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "bmp" | "tif" | "tiff" | "webp")
}

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let detector = args.detector.open()?;
    let mut csv = String::from(HEADER);
    let mut tracker = Tracker::default();
    let (mut frames, mut faces) = (0u64, 0usize);
    let mut writer: Option<FrameWriter> = None;
    let mut each = |index: u64, img: &RgbImage, fps: (i32, i32)| -> anyhow::Result<()> {
        let dets: Vec<Detection> = detector
            .detect(&img.data, img.width as usize, img.height as usize, PixelOrder::Rgb)?
            .into_iter()
            .filter(|d| d.x2 - d.x1 >= args.min_size)
            .collect();
        let tracks = tracker.update(index, &dets);
        if let Some(path) = &args.draw {
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(FrameWriter::create(path, img.width, img.height, fps)?),
            };
            let mut drawn = img.clone();
            let mut canvas = Canvas { pixels: &mut drawn.data, width: img.width as usize, height: img.height as usize };
            for (d, &t) in dets.iter().zip(&tracks) {
                canvas.face(d, t);
            }
            w.push(&drawn)?;
        }
        for (d, track) in dets.iter().zip(tracks) {
            write!(csv, "{index},{track},{},{},{},{},{}", d.x1, d.y1, d.x2, d.y2, d.score)?;
            for [x, y] in d.landmarks {
                write!(csv, ",{x},{y}")?;
            }
            csv.push('\n');
        }
        frames += 1;
        faces += dets.len();
        Ok(())
    };
    if is_image(&args.input) {
        each(0, &marlin_media::read_image(&args.input)?, (1, 1))?;
    } else {
        let mut reader = VideoReader::open(&args.input, args.video_args.options()?)?;
        let mut fps = None;
        while let Some(frame) = reader.next_frame(true)? {
            if let Some(img) = &frame.image {
                // Known once the first frame has negotiated the caps; the same for the stream.
                let fps = *fps.get_or_insert_with(|| reader.frame_rate());
                each(frame.index, img, fps)?;
            }
        }
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    marlin_npy::write_atomic(&args.output, csv.as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("{}: {faces} faces in {frames} frame(s)", args.input.display());
    Ok(())
}
