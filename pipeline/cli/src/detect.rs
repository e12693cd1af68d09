//! `marlin detect`: faces (box, score, 5 landmarks, track id) in an image or in every frame of
//! a video, written as CSV.

use std::sync::atomic::AtomicBool;

use anyhow::Context;
use marlin_batch::detect_faces;
use marlin_faces::draw::Canvas;
use marlin_media::FrameWriter;

use crate::args::DetectArgs;

const HEADER: &str = "frame,track,x1,y1,x2,y2,score,lm1x,lm1y,lm2x,lm2y,lm3x,lm3y,lm4x,lm4y,lm5x,lm5y\n";

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let detector = args.detector.open()?;
    let mut csv = String::from(HEADER);
    let mut faces = 0usize;
    let mut writer: Option<FrameWriter> = None;
    let frames = detect_faces(
        &args.input,
        detector.as_ref(),
        args.video_args.options()?,
        args.min_size,
        &AtomicBool::new(false),
        |f| {
            if let Some(path) = &args.draw {
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(FrameWriter::create(path, f.image.width, f.image.height, f.rate)?),
                };
                let mut drawn = f.image.clone();
                let (width, height) = (f.image.width as usize, f.image.height as usize);
                let mut canvas = Canvas { pixels: &mut drawn.data, width, height };
                for (d, &t) in f.faces.iter().zip(&f.tracks) {
                    canvas.face(d, t);
                }
                w.push(&drawn)?;
            }
            for (d, track) in f.faces.iter().zip(&f.tracks) {
                csv.push_str(&format!("{},{track},{},{},{},{},{}", f.index, d.x1, d.y1, d.x2, d.y2, d.score));
                for [x, y] in d.landmarks {
                    csv.push_str(&format!(",{x},{y}"));
                }
                csv.push('\n');
            }
            faces += f.faces.len();
            Ok(())
        },
    )?;
    if let Some(w) = writer {
        w.finish()?;
    }
    marlin_npy::write_atomic(&args.output, csv.as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("{}: {faces} faces in {frames} frame(s)", args.input.display());
    Ok(())
}
