//! `marlin reconstruct`: MAE reconstructions of a video's clips (or one clip) by a full
//! checkpoint, written as the raw arrays, a labelled PNG grid or a side-by-side MP4.

use std::path::Path;

use anyhow::{Context, Result, bail};
use marlin_batch::reconstruction::ClipReconstruction;
use marlin_batch::{EncoderInputs, VideoSettings};
use marlin_kernels::mask::{MaskStrategy, ParsingMaps, generate};
use marlin_media::{FrameWriter, RgbImage};
use marlin_model::{Clip, tubelet_shape};

use crate::args::ReconstructArgs;

/// Frame rate of the side-by-side video: a 16-frame clip lasts 2 s.
const VIDEO_FPS: (i32, i32) = (8, 1);

/// Where the views go.
enum Output {
    Arrays(Vec<f32>),
    Grid(Vec<u8>, usize, usize),
    Video(Option<FrameWriter>),
}

pub fn run(args: ReconstructArgs) -> Result<()> {
    let ext = args.output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut out = match ext.as_str() {
        "npy" => Output::Arrays(Vec::new()),
        "png" => Output::Grid(Vec::new(), 0, 0),
        "mp4" => Output::Video(None),
        _ => bail!("{}: the output must be a .npy, .png or .mp4 file", args.output.display()),
    };
    if !(0.0..1.0).contains(&args.ratio) {
        bail!("--ratio must be in [0, 1), got {}", args.ratio);
    }
    let model = args.model.load()?;
    if !model.has_decoder() {
        return Err(marlin_model::ModelError::NoDecoder { path: model.path.clone() }.into());
    }
    let cfg = model.encoder.config().clone();
    let shape = tubelet_shape(&cfg);
    let fixed_mask = args.mask_file.as_deref().map(|p| read_mask(p, shape.tokens())).transpose()?;
    let parsing = args.parsing.as_deref().map(|p| read_u8(p, &[0, shape.side, shape.side])).transpose()?;
    if args.mask == MaskStrategy::Fasking && parsing.is_none() && fixed_mask.is_none() {
        bail!("--mask fasking needs face-parsing maps: --parsing PARSING.npy (see --help)");
    }
    let strategy = args.mask;
    let mask_for = |k: usize| -> Result<Vec<bool>> {
        if let Some(m) = &fixed_mask {
            return Ok(m.clone());
        }
        let maps = match (&parsing, strategy) {
            (Some((shape_p, labels)), MaskStrategy::Fasking) => {
                let area = shape.side * shape.side;
                let frames = shape_p[0];
                let first = if frames == shape.frames { 0 } else { k * shape.frames };
                if first + shape.frames > frames {
                    bail!(
                        "the face-parsing maps cover {} frames: not clip {k}'s (give {} maps, or {} per clip)",
                        frames,
                        shape.frames,
                        shape.frames
                    );
                }
                Some(ParsingMaps { labels: &labels[first * area..(first + shape.frames) * area], frames: shape.frames })
            }
            _ => None,
        };
        Ok(generate(strategy, shape, args.ratio, args.seed.wrapping_add(k as u64), maps)?)
    };

    let mut clips = 0usize;
    let mut each = |data: Vec<u8>, label: String| -> Result<()> {
        let mask = mask_for(clips)?;
        let predicted = model.reconstruct(&Clip::Rgb8(data.clone()), &mask)?;
        let r = ClipReconstruction::new(data, &mask, &predicted, shape);
        println!(
            "clip {clips}{label}: masked-token MSE {:.6} ({} of {} tokens visible)",
            r.mse,
            r.visible,
            shape.tokens()
        );
        match &mut out {
            Output::Arrays(all) => all.extend_from_slice(&r.reconstructed),
            Output::Grid(all, w, h) => {
                let (px, gw, gh) = r.grid();
                all.extend_from_slice(&px);
                (*w, *h) = (gw, *h + gh);
            }
            Output::Video(writer) => {
                for t in 0..shape.frames {
                    let (px, w, h) = r.side_by_side(t);
                    if writer.is_none() {
                        *writer = Some(FrameWriter::create(&args.output, w as u32, h as u32, VIDEO_FPS)?);
                    }
                    let frame =
                        RgbImage::new(w as u32, h as u32, px).context("a side-by-side frame of the wrong size")?;
                    writer.as_mut().map(|wr| wr.push(&frame)).transpose()?;
                }
            }
        }
        clips += 1;
        Ok(())
    };

    let single = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if single {
        match crate::encode::read_clip(&args.input, &cfg)? {
            Clip::Rgb8(data) => each(data, String::new())?,
            Clip::Float(_) => bail!(
                "{}: reconstruct shows uint8 clips: give the ({},{},{},3) uint8 frames",
                args.input.display(),
                shape.frames,
                shape.side,
                shape.side
            ),
        }
    } else {
        let settings = VideoSettings {
            sampling: args.sampling.config(),
            decode: args.video_args.config(),
            faces: args.faces.config(),
        };
        let detector = if args.faces.crop_face { Some(args.detector.open()?) } else { None };
        let mut inputs = EncoderInputs::open(&args.input, &settings, &cfg, detector.as_deref())?;
        while let Some(input) = inputs.next_input()? {
            let what = format!(" (video clip {}, from frame {})", input.row.clip, input.row.first_frame);
            each(input.frames, what)?;
        }
        inputs.finish()?;
    }
    match out {
        Output::Arrays(all) => {
            let frame_shape = [shape.frames, shape.side, shape.side, 3];
            let dims: Vec<usize> =
                if single { frame_shape.to_vec() } else { std::iter::once(clips).chain(frame_shape).collect() };
            marlin_npy::write_f32(&args.output, &dims, &all)?;
        }
        Output::Grid(all, w, h) => {
            let image = RgbImage::new(w as u32, h as u32, all).context("a grid of the wrong size")?;
            let mut png = FrameWriter::create(&args.output, w as u32, h as u32, VIDEO_FPS)?;
            png.push(&image)?;
            png.finish()?;
        }
        Output::Video(writer) => {
            if let Some(w) = writer {
                w.finish()?;
            }
        }
    }
    println!("{clips} clip(s) reconstructed into {}", args.output.display());
    Ok(())
}

/// A (tokens,) bool/uint8 mask, true = visible.
fn read_mask(path: &Path, tokens: usize) -> Result<Vec<bool>> {
    let (_, v) = read_u8(path, &[tokens])?;
    Ok(v.into_iter().map(|b| b != 0).collect())
}

/// A uint8/bool .npy of `shape` (a 0 matches any length).
fn read_u8(path: &Path, shape: &[usize]) -> Result<(Vec<usize>, Vec<u8>)> {
    let a = marlin_npy::read(path)?;
    let fits = a.shape.len() == shape.len() && a.shape.iter().zip(shape).all(|(h, w)| *w == 0 || h == w);
    match a.data {
        marlin_npy::Data::U8(v) if fits => Ok((a.shape, v)),
        _ => bail!("{}: expected a uint8 array of shape {shape:?} (0 = any), got {:?}", path.display(), a.shape),
    }
}
