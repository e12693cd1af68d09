//! `marlin extract`: the official `extract_video`: a video's clips (MARLIN's sampling rule)
//! through the encoder, one feature row per clip, optionally reduced
//! (`marlin_batch::extract_video`); this command writes what it returns.

use std::sync::atomic::AtomicBool;

use anyhow::Context;
use marlin_batch::{ExtractSettings, extract_video};

use crate::args::ExtractArgs;

pub fn run(args: ExtractArgs) -> anyhow::Result<()> {
    let settings = args.settings();
    settings.validate()?;
    let engine = args.model.open(&args.engine)?;
    let detector = match args.faces.crop_face {
        true => Some(args.detector.open()?),
        false => None,
    };
    let out = extract_video(
        &args.video,
        engine.extractor.as_ref(),
        detector.as_deref(),
        &ExtractSettings { log_faces: args.faces_csv.is_some(), ..settings },
        &AtomicBool::new(false),
    )?;
    marlin_npy::write_f32(&args.output, &out.shape, &out.data)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let all_faces = out.rows.iter().any(|r| r.track.is_some());
    if all_faces {
        let path = args.output.with_extension("rows.csv");
        let mut csv = String::from("row,clip,track\n");
        for (k, r) in out.rows.iter().enumerate() {
            csv.push_str(&format!("{k},{},{}\n", r.clip, r.track.map_or_else(String::new, |t| t.to_string())));
        }
        marlin_npy::write_atomic(&path, csv.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let (Some(path), Some(log)) = (&args.faces_csv, &out.face_log) {
        marlin_npy::write_atomic(path, log.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let r = &out.report;
    eprintln!(
        "{}: {} frames, {} {}, decoder {}, colour {}",
        args.video.display(),
        r.frames,
        out.rows.len(),
        if all_faces { "rows (clip × face track)" } else { "clips" },
        r.decoder.as_deref().unwrap_or("none (raw video)"),
        r.colour.as_deref().unwrap_or("?")
    );
    if let Some((with, all)) = r.face_counts {
        eprintln!("{}: a face in {with} of {all} detected frames", args.video.display());
    }
    Ok(())
}
