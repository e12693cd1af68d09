//! `marlin encode`: one clip .npy in, its features .npy out.

use std::path::Path;

use anyhow::{Context, bail};
use marlin_model::{Clip, MarlinConfig};
use marlin_npy::Data;

use crate::args::EncodeArgs;

pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let enc = args.model.open(&args.engine)?.extractor;
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
    let what = || {
        format!(
            "{}: an array of shape {:?} is not a clip; expected ({t},{s},{s},3) uint8 RGB or float32 (3,{t},{s},{s}) / (1,3,{t},{s},{s}) in [0,1]",
            path.display(),
            a.shape
        )
    };
    match &a.data {
        Data::U8(v) if a.shape == [t, s, s, 3] => Ok(Clip::Rgb8(v.clone())),
        Data::F32(v) if a.shape.len() == 4 || a.shape.first() == Some(&1) => {
            if let Some(bad) = v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                bail!("{}: float clip values must lie in [0, 1]; found {bad}", path.display());
            }
            let mut clips = Clip::batch_from_channels_first(cfg, &a.shape, v).with_context(what)?;
            Ok(clips.remove(0))
        }
        _ => bail!(what()),
    }
}
