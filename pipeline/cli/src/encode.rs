//! `marlin encode`: one clip .npy in, its features .npy out.

use std::path::Path;

use anyhow::bail;
use marlin_model::{Clip, MarlinConfig};
use marlin_npy::Data;

use crate::args::EncodeArgs;
use crate::model_source;

pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let enc = model_source::engine(&args.model, &args.engine)?.extractor;
    let clip = read_clip(&args.clip, enc.config())?;
    let t0 = std::time::Instant::now();
    let out = enc.extract_features(&[clip], args.keep_seq)?.remove(0);
    if out.iter().any(|v| !v.is_finite()) {
        bail!("{}: the encoder gave non-finite features (NaN or infinity); nothing written", args.clip.display());
    }
    tracing::info!("encoded in {:.3}s ({})", t0.elapsed().as_secs_f64(), enc.describe());
    let shape = if args.keep_seq { vec![enc.config().num_tokens(), enc.dim()] } else { vec![enc.dim()] };
    marlin_npy::write_f32(&args.output, &shape, &out)?;
    Ok(())
}

/// Reads a clip .npy in either accepted layout, checking its shape against the model.
pub fn read_clip(path: &Path, cfg: &MarlinConfig) -> anyhow::Result<Clip> {
    let a = marlin_npy::read(path)?;
    let (t, s) = (cfg.n_frames, cfg.img_size);
    let clip = match (a.shape.as_slice(), a.data) {
        ([tt, h, w, 3], Data::U8(v)) if (*tt, *h, *w) == (t, s, s) => Clip::Rgb8(v),
        ([3, tt, h, w] | [1, 3, tt, h, w], Data::F32(v)) if (*tt, *h, *w) == (t, s, s) => {
            if let Some(bad) = v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                bail!("{}: float clip values must lie in [0, 1]; found {bad}", path.display());
            }
            Clip::Float(v)
        }
        (shape, data) => {
            let ty = match data {
                Data::U8(_) => "uint8",
                Data::F32(_) => "float",
            };
            bail!(
                "{}: a {ty} array of shape {shape:?} is not a clip; expected ({t},{s},{s},3) uint8 RGB or float32 (3,{t},{s},{s}) / (1,3,{t},{s},{s}) in [0,1]",
                path.display()
            )
        }
    };
    Ok(clip)
}
