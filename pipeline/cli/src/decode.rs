//! `marlin decode`: a video's first frames as (K,H,W,3) uint8 RGB, as the clip pipeline sees
//! them.

use anyhow::bail;
use marlin_media::VideoReader;

use crate::args::DecodeArgs;

pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    if args.frames == 0 {
        bail!("--frames must be positive");
    }
    let mut reader = VideoReader::open(&args.video, args.video_args.options()?)?;
    let mut data = Vec::new();
    let mut size = None;
    let mut count = 0;
    while count < args.frames {
        let Some(frame) = reader.next_frame(true)? else { break };
        let Some(img) = frame.image else { continue };
        match size {
            None => size = Some((img.width, img.height)),
            Some(s) if s != (img.width, img.height) => bail!(
                "{}: frame {} is {}x{}, earlier frames {}x{}: a size change mid-stream cannot go into one array",
                args.video.display(),
                frame.index,
                img.width,
                img.height,
                s.0,
                s.1
            ),
            Some(_) => {}
        }
        data.extend_from_slice(&img.data);
        count += 1;
    }
    let (w, h) = size.unwrap_or_default();
    let bytes = marlin_npy::encode_u8(&[count, h as usize, w as usize, 3], &data);
    marlin_npy::write_atomic(&args.output, &bytes)?;
    eprintln!(
        "{}: {count} frames {w}x{h}, decoder {}, colour {}",
        args.video.display(),
        reader.decoder().unwrap_or_else(|| "none (raw video)".into()),
        reader.colour_path().map_or_else(|| "?".into(), |c| c.to_string())
    );
    Ok(())
}
