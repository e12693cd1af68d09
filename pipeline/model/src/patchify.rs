//! Clips and their tubelet patches: the layout the Conv3d patch embedding consumes.
//!
//! The patch matrix comes from `marlin_kernels::patchify` (the CPU twin of the CUDA kernel):
//! token `n = t·(S·S) + y·S + x` (S = img/patch) holds the (3, kt, p, p) voxels of tubelet
//! (t, y, x), flattened in (c, kt, ky, kx) order — exactly the Conv3d weight's layout, so the
//! embedding is one GEMM against the weight viewed as (D, 3·kt·p·p).

use marlin_kernels::patchify::{TubeletShape, patchify_chw, patchify_rgb8};

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

    /// The clips of an official model input: float32 `(B, 3, T, H, W)` (or one clip's
    /// `(3, T, H, W)`), its shape checked against `cfg`.
    pub fn batch_from_channels_first(
        cfg: &MarlinConfig,
        shape: &[usize],
        data: &[f32],
    ) -> Result<Vec<Clip>, ModelError> {
        let (t, s) = (cfg.n_frames, cfg.img_size);
        let batch = match shape {
            [b, 3, tt, h, w] if (*tt, *h, *w) == (t, s, s) => *b,
            [3, tt, h, w] if (*tt, *h, *w) == (t, s, s) => 1,
            _ => {
                return Err(ModelError::BadInput(format!(
                    "an array of shape {shape:?} is not a batch of clips: the model takes float32 (B, 3, {t}, {s}, {s}) in [0, 1]"
                )));
            }
        };
        let len = 3 * t * s * s;
        if data.len() != batch * len {
            return Err(ModelError::BadInput(format!("{} values for an array of shape {shape:?}", data.len())));
        }
        Ok(data.chunks_exact(len).map(|c| Clip::Float(c.to_vec())).collect())
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

/// The clip geometry of `cfg` in the `patchify` kernel's terms.
pub fn tubelet_shape(cfg: &MarlinConfig) -> TubeletShape {
    TubeletShape { frames: cfg.n_frames, side: cfg.img_size, patch: cfg.patch_size, tubelet: cfg.tubelet_size }
}

/// Writes the (tokens × patch_dim) patch matrix of `clip` into `out` (the `patchify` kernel's
/// CPU twin).
pub fn patchify(clip: &Clip, cfg: &MarlinConfig, out: &mut [f32]) {
    match clip {
        Clip::Rgb8(v) => patchify_rgb8(v, tubelet_shape(cfg), out),
        Clip::Float(v) => patchify_chw(v, tubelet_shape(cfg), out),
    }
}
