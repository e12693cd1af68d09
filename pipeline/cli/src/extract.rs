//! `marlin extract`: the official `extract_video(crop_face=False)`: a video's clips (MARLIN's
//! sampling rule) through the encoder, one feature row per clip, optionally reduced.
//!
//! Decoding runs on its own thread, a batch ahead of the encoder.

use std::sync::mpsc::sync_channel;

use anyhow::{Context, bail};
use marlin_batch::clip_faces::{ClipFaces, ClipItem};
use marlin_faces::{CropMode, CropOptions, Pick};
use marlin_media::VideoClips;
use marlin_media::sampling::{SamplingOptions, TailPolicy};
use marlin_model::Clip as ModelClip;

use crate::args::{CropModeArg, ExtractArgs, FacesArg, ReductionArg, TailArg};
use crate::{detector_source, model_source};

pub fn run(args: ExtractArgs) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be positive");
    }
    let enc = model_source::engine(&args.model, &args.engine)?.extractor;
    let cfg = enc.config().clone();
    let sampling = SamplingOptions {
        clip_frames: cfg.n_frames,
        sample_rate: args.sample_rate,
        stride: args.stride,
        tail: match args.tail {
            TailArg::Drop => TailPolicy::Drop,
            TailArg::Pad => TailPolicy::Pad,
        },
        max_clips: args.max_clips,
    };
    if !(args.smooth > 0.0 && args.smooth <= 1.0) {
        bail!("--smooth must be in (0, 1], got {}", args.smooth);
    }
    let mode = match (args.compat, args.crop_mode) {
        (true, _) => CropMode::Compat,
        (false, Some(CropModeArg::Aligned)) => CropMode::Aligned,
        (false, _) => CropMode::Marlin,
    };
    if args.detect_every == 0 {
        bail!("--detect-every must be at least 1");
    }
    let options = CropOptions {
        mode,
        smooth: args.smooth,
        detect_every: args.detect_every,
        max_side: args.max_side,
        min_face: args.min_face,
        pick: match args.faces {
            FacesArg::Score => Pick::BestScore,
            FacesArg::Largest | FacesArg::All => Pick::Largest,
        },
    };
    let all_faces = args.faces == FacesArg::All;
    if all_faces && args.reduction != ReductionArg::None {
        bail!(
            "--faces all gives one row per (clip, face track); reduce per track from the rows file instead of --reduction"
        );
    }
    let cropper = match args.crop_face {
        true => Some((detector_source::load(&args.detector)?, options)),
        false => None,
    };
    let (tx, rx) = sync_channel::<anyhow::Result<Vec<ClipItem>>>(args.batch);
    let mut decode = args.video_args.options();
    if args.compat && args.video_args.orientation.is_none() {
        // the official crops come with the official frames
        decode.orientation = marlin_media::Orientation::Official;
    }
    let (video, fps) = (args.video.clone(), args.fps);
    let log_faces = args.faces_csv.is_some();
    let producer = std::thread::spawn(move || -> ProducerReport {
        let mut faces_log =
            if log_faces { Some(String::from("clip,frame,x1,y1,x2,y2,score,cx,cy,half\n")) } else { None };
        let mut clips = match VideoClips::open(&video, decode, sampling, fps) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return ProducerReport::default();
            }
        };
        let mut faces = cropper.as_ref().map(|(d, options)| ClipFaces::new(d.as_ref(), *options, all_faces));
        loop {
            let item = match clips.next_clip() {
                Ok(Some(c)) => match &mut faces {
                    Some(faces) => faces.crop(c, &mut faces_log).map_err(Into::into),
                    None => Ok(vec![ClipItem { clip: c.index, track: None, frames: c.frames, faces: None }]),
                },
                Ok(None) => break,
                Err(e) => Err(e.into()),
            };
            let failed = item.is_err();
            if tx.send(item).is_err() || failed {
                break;
            }
        }
        ProducerReport {
            decoder: clips.decoder(),
            colour: clips.colour_path().map(|c| c.to_string()),
            frames: clips.frames_decoded(),
            faces_log: faces_log.unwrap_or_default(),
            face_counts: faces.as_ref().map(|f| f.counts),
        }
    });

    let s = cfg.img_size;
    let row = if args.keep_seq { cfg.num_tokens() * enc.dim() } else { enc.dim() };
    let mut features: Vec<f32> = Vec::new();
    let mut n_clips = 0;
    let mut batch: Vec<ModelClip> = Vec::with_capacity(args.batch);
    let encode = |batch: &mut Vec<ModelClip>, features: &mut Vec<f32>| -> anyhow::Result<()> {
        for f in enc.extract_features(batch, args.keep_seq)? {
            features.extend_from_slice(&f);
        }
        batch.clear();
        Ok(())
    };
    let mut rows_csv = String::from("row,clip,track\n");
    for items in rx.iter() {
        for item in items? {
            let data = item.encoder_input(s, &args.video)?;
            let track = item.track.map_or_else(String::new, |t| t.to_string());
            rows_csv.push_str(&format!("{n_clips},{},{track}\n", item.clip));
            batch.push(ModelClip::Rgb8(data));
            n_clips += 1;
            if batch.len() == args.batch {
                encode(&mut batch, &mut features)?;
            }
        }
    }
    if !batch.is_empty() {
        encode(&mut batch, &mut features)?;
    }
    let ProducerReport { decoder, colour, frames, faces_log, face_counts } =
        producer.join().map_err(|_| anyhow::anyhow!("the decoding thread panicked"))?;
    if n_clips == 0 {
        bail!("{}: no clips{}", args.video.display(), if all_faces { " with a face track" } else { "" });
    }
    if let Some(at) = features.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: the encoder gave non-finite features (NaN or infinity) for clip {}; nothing written",
            args.video.display(),
            at / row.max(1)
        );
    }
    let row_shape: Vec<usize> = if args.keep_seq { vec![cfg.num_tokens(), enc.dim()] } else { vec![enc.dim()] };
    let (shape, out) = match args.reduction {
        ReductionArg::None => ([vec![n_clips], row_shape].concat(), features),
        ReductionArg::Mean => (row_shape, reduce(&features, row, |acc, x| acc + x, |acc| acc / n_clips as f32)),
        ReductionArg::Max => (row_shape, reduce(&features, row, f32::max, |acc| acc)),
    };
    marlin_npy::write_f32(&args.output, &shape, &out)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if all_faces {
        let path = args.output.with_extension("rows.csv");
        marlin_npy::write_atomic(&path, rows_csv.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.faces_csv {
        marlin_npy::write_atomic(path, faces_log.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "{}: {frames} frames, {n_clips} {}, decoder {}, colour {}",
        args.video.display(),
        if all_faces { "rows (clip × face track)" } else { "clips" },
        decoder.unwrap_or_else(|| "none (raw video)".into()),
        colour.unwrap_or_else(|| "?".into())
    );
    if let Some((with, all)) = face_counts {
        eprintln!("{}: a face in {with} of {all} detected frames", args.video.display());
        if with == 0 {
            eprintln!(
                "warning: {}: no face found at all: the features are of the fallback crop (the frame's top-left corner, as the official code does)",
                args.video.display()
            );
        }
    }
    Ok(())
}

/// What the decoding thread reports once done.
#[derive(Default)]
struct ProducerReport {
    decoder: Option<String>,
    colour: Option<String>,
    frames: u64,
    /// `--faces-csv` rows.
    faces_log: String,
    /// Frames with a face, frames detected on.
    face_counts: Option<(u64, u64)>,
}

/// Folds the rows of `features` (each `row` long) element-wise, then finishes each value.
fn reduce(features: &[f32], row: usize, fold: impl Fn(f32, f32) -> f32, finish: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut rows = features.chunks_exact(row);
    let mut acc = rows.next().map(<[f32]>::to_vec).unwrap_or_default();
    for r in rows {
        for (a, &x) in acc.iter_mut().zip(r) {
            *a = fold(*a, x);
        }
    }
    acc.into_iter().map(finish).collect()
}
