//! `patchify`'s CPU twin: a clip → its tubelet patch matrix, the layout the Conv3d patch
//! embedding consumes as one GEMM.
//!
//! With `S = side / patch`, token `n = t·S² + y·S + x` holds the `(3, kt, p, p)` voxels of
//! tubelet `(t, y, x)` flattened in `(c, kt, ky, kx)` order (the Conv3d weight's layout): element
//! `i = ((c·kt + dt)·p + dy)·p + dx` of token `n` is channel `c` of frame `t·kt + dt` at row
//! `y·p + dy`, column `x·p + dx`. u8 frames are scaled by 1/255 (the model sees `v / 255`).

use half::f16;

/// The clip and tubelet geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TubeletShape {
    /// Frames per clip (T).
    pub frames: usize,
    /// Frame side (H = W).
    pub side: usize,
    /// Patch side (p).
    pub patch: usize,
    /// Frames per tubelet (kt).
    pub tubelet: usize,
}

impl TubeletShape {
    /// MARLIN's: 16 frames of 224², 16² patches, 2-frame tubelets (1568 tokens of 1536).
    pub const MARLIN: TubeletShape = TubeletShape { frames: 16, side: 224, patch: 16, tubelet: 2 };

    pub fn tokens(&self) -> usize {
        (self.frames / self.tubelet) * (self.side / self.patch).pow(2)
    }

    pub fn patch_dim(&self) -> usize {
        3 * self.tubelet * self.patch * self.patch
    }

    /// Values in one clip.
    pub fn clip_len(&self) -> usize {
        3 * self.frames * self.side * self.side
    }

    /// Where element `i` of token `n` comes from: (frame, row, column, channel).
    #[inline]
    pub fn source(&self, n: usize, i: usize) -> (usize, usize, usize, usize) {
        let (s, p, kt) = (self.side / self.patch, self.patch, self.tubelet);
        let (t, y, x) = (n / (s * s), (n / s) % s, n % s);
        let (c, dt, dy, dx) = (i / (kt * p * p), (i / (p * p)) % kt, (i / p) % p, i % p);
        (t * kt + dt, y * p + dy, x * p + dx, c)
    }
}

/// (T, H, W, 3) u8 frames → (tokens × patch_dim) f32 in `out`.
pub fn patchify_rgb8(frames: &[u8], shape: TubeletShape, out: &mut [f32]) {
    fill(shape, out, |f, y, x, c| frames[((f * shape.side + y) * shape.side + x) * 3 + c] as f32 / 255.0);
}

/// (3, T, H, W) f32 in [0, 1] (the official model input) → (tokens × patch_dim) f32 in `out`.
pub fn patchify_chw(clip: &[f32], shape: TubeletShape, out: &mut [f32]) {
    let (t, side) = (shape.frames, shape.side);
    fill(shape, out, |f, y, x, c| clip[((c * t + f) * side + y) * side + x]);
}

/// (T, H, W, 3) u8 frames → (tokens × patch_dim) f16 (`v / 255` in f32, rounded to nearest
/// even), the half-precision engine input.
pub fn patchify_rgb8_f16(frames: &[u8], shape: TubeletShape, out: &mut [f16]) {
    fill(shape, out, |f, y, x, c| {
        f16::from_f32(frames[((f * shape.side + y) * shape.side + x) * 3 + c] as f32 / 255.0)
    });
}

fn fill<T>(shape: TubeletShape, out: &mut [T], value: impl Fn(usize, usize, usize, usize) -> T) {
    let pd = shape.patch_dim();
    assert_eq!(out.len(), shape.tokens() * pd, "patchify: output of the wrong size");
    let (s, p, kt) = (shape.side / shape.patch, shape.patch, shape.tubelet);
    // the order of `source`, without its divisions: (c, kt, ky) rows of p pixels
    for (n, row) in out.chunks_exact_mut(pd).enumerate() {
        let (t, y, x) = (n / (s * s), (n / s) % s, n % s);
        let mut i = 0;
        for c in 0..3 {
            for dt in 0..kt {
                for dy in 0..p {
                    for dx in 0..p {
                        row[i] = value(t * kt + dt, y * p + dy, x * p + dx, c);
                        i += 1;
                    }
                }
            }
        }
    }
}

/// The inverse: a (tokens × patch_dim) matrix → (T, H, W, 3) f32 frames (MARLIN's decoder
/// `unpatch_to_img`, channels last).
pub fn unpatchify_frames(patches: &[f32], shape: TubeletShape, out: &mut [f32]) {
    let pd = shape.patch_dim();
    assert_eq!(patches.len(), shape.tokens() * pd, "unpatchify: input of the wrong size");
    assert_eq!(out.len(), shape.clip_len(), "unpatchify: output of the wrong size");
    let side = shape.side;
    for (n, row) in patches.chunks_exact(pd).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let (f, y, x, c) = shape.source(n, i);
            out[((f * side + y) * side + x) * 3 + c] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_give_the_same_patches_and_unpatchify_inverts() {
        let s = TubeletShape::MARLIN;
        let (t, side) = (s.frames, s.side);
        let rgb: Vec<u8> = (0..s.clip_len()).map(|i| (i * 7 % 251) as u8).collect();
        let mut chw = vec![0f32; s.clip_len()];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                chw[c * t * side * side + i] = v as f32 / 255.0;
            }
        }
        let mut a = vec![0f32; s.tokens() * s.patch_dim()];
        let mut b = a.clone();
        patchify_rgb8(&rgb, s, &mut a);
        patchify_chw(&chw, s, &mut b);
        assert_eq!(a, b);
        // token 196 + 14 + 1 = (t 1, y 1, x 1); its element (c 2, kt 1, ky 3, kx 5)
        let (n, e) = (196 + 14 + 1, 2 * 512 + 256 + 3 * 16 + 5);
        let (f, y, x) = (3, 16 + 3, 16 + 5);
        assert_eq!(a[n * 1536 + e], rgb[((f * side + y) * side + x) * 3 + 2] as f32 / 255.0);
        let mut back = vec![0f32; s.clip_len()];
        unpatchify_frames(&a, s, &mut back);
        assert!(back.iter().zip(&rgb).all(|(b, v)| *b == *v as f32 / 255.0));
        let mut h = vec![f16::ZERO; a.len()];
        patchify_rgb8_f16(&rgb, s, &mut h);
        assert!(h.iter().zip(&a).all(|(h, a)| *h == f16::from_f32(*a)));
        // the loops follow `source`, the kernel's index map
        for (n, i) in [(0, 0), (211, 1365), (1567, 1535), (700, 333)] {
            let (f, y, x, c) = s.source(n, i);
            assert_eq!(a[n * 1536 + i], rgb[((f * side + y) * side + x) * 3 + c] as f32 / 255.0, "({n}, {i})");
        }
    }
}
