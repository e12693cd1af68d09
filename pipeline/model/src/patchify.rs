//! Clips and their tubelet patches: the layout the Conv3d patch embedding consumes.
//!
//! Token `n = t·(S·S) + y·S + x` (S = img/patch) holds the (3, kt, p, p) voxels of tubelet
//! (t, y, x), flattened in (c, kt, ky, kx) order — exactly the Conv3d weight's layout, so the
//! embedding is one GEMM against the weight viewed as (D, 3·kt·p·p).

use crate::{MarlinConfig, ModelError};

/// One clip of frames, in either of the layouts users have.
#[derive(Debug, Clone, PartialEq)]
pub enum Clip {
    /// (T, H, W, 3) uint8 RGB frames, as decoders produce them; the model sees `v / 255`.
    Rgb8(Vec<u8>),
    /// (3, T, H, W) float32 in [0, 1]: the official model input without its batch axis.
    Float(Vec<f32>),
}

impl Clip {
    /// Checks the clip holds one model input for `cfg` (T = clip_frames, H = W = img_size).
    pub fn check(&self, cfg: &MarlinConfig) -> Result<(), ModelError> {
        let want = 3 * cfg.n_frames * cfg.img_size * cfg.img_size;
        let (have, layout) = match self {
            Clip::Rgb8(v) => (v.len(), "(T,H,W,3) uint8"),
            Clip::Float(v) => (v.len(), "(3,T,H,W) float32"),
        };
        if have != want {
            return Err(ModelError::BadInput(format!(
                "a {layout} clip of {have} values; the model takes {} frames of {}x{} ({want} values)",
                cfg.n_frames, cfg.img_size, cfg.img_size
            )));
        }
        Ok(())
    }
}

/// (T, H, W, 3) uint8 frames → the official model input (3, T, H, W), `v / 255` in f32.
pub fn rgb8_to_channels_first(frames: &[u8], t: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0f32; frames.len()];
    for (i, px) in frames.chunks_exact(3).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            out[c * t * h * w + i] = v as f32 / 255.0;
        }
    }
    out
}

/// Writes the (tokens × patch_dim) patch matrix of `clip` into `out`.
pub fn patchify(clip: &Clip, cfg: &MarlinConfig, out: &mut [f32]) {
    let (t_all, side, p, kt) = (cfg.n_frames, cfg.img_size, cfg.patch_size, cfg.tubelet_size);
    let s = side / p;
    let pd = cfg.patch_dim();
    assert_eq!(out.len(), cfg.num_tokens() * pd);
    for (n, row) in out.chunks_exact_mut(pd).enumerate() {
        let (t, y, x) = (n / (s * s), (n / s) % s, n % s);
        let mut i = 0;
        for c in 0..3 {
            for dt in 0..kt {
                let f = t * kt + dt;
                for dy in 0..p {
                    let yy = y * p + dy;
                    for dx in 0..p {
                        let xx = x * p + dx;
                        row[i] = match clip {
                            Clip::Rgb8(v) => v[((f * side + yy) * side + xx) * 3 + c] as f32 / 255.0,
                            Clip::Float(v) => v[((c * t_all + f) * side + yy) * side + xx],
                        };
                        i += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_give_the_same_patches() {
        let cfg = MarlinConfig::preset("vit_small").unwrap();
        let (t, side) = (cfg.n_frames, cfg.img_size);
        let rgb: Vec<u8> = (0..t * side * side * 3).map(|i| (i * 7 % 251) as u8).collect();
        let chw = rgb8_to_channels_first(&rgb, t, side, side);
        // frame 5, row 7, column 9, channel 2
        assert_eq!(chw[((2 * t + 5) * side + 7) * side + 9], rgb[((5 * side + 7) * side + 9) * 3 + 2] as f32 / 255.0);
        let mut a = vec![0f32; cfg.num_tokens() * cfg.patch_dim()];
        let mut b = a.clone();
        patchify(&Clip::Rgb8(rgb.clone()), &cfg, &mut a);
        patchify(&Clip::Float(chw), &cfg, &mut b);
        assert_eq!(a, b);
        // token 196 + 14 + 1 = (t 1, y 1, x 1); its element (c 2, kt 1, ky 3, kx 5)
        let n = 196 + 14 + 1;
        let e = 2 * 512 + 256 + 3 * 16 + 5;
        let (f, y, x) = (3, 16 + 3, 16 + 5);
        assert_eq!(a[n * 1536 + e], rgb[((f * side + y) * side + x) * 3 + 2] as f32 / 255.0);
    }
}
