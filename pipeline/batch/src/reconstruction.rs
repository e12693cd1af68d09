//! What `marlin reconstruct` shows of one clip: the original frames, the masked input (masked
//! tubelets greyed), and the reconstruction (the clip with the decoder's predictions pasted
//! over the masked tubelets, as MARLIN's `unpatch_to_img`), with the error on masked tokens;
//! and the pictures made of them: labelled side-by-side frames for a video, a labelled grid
//! for a PNG.

use marlin_faces::draw::Canvas;
use marlin_kernels::mask::{masked_indices, scatter_rows};
use marlin_kernels::patchify::{TubeletShape, patchify_rgb8, unpatchify_frames};

/// Grey of masked tubelets in the masked view.
const MASKED_GREY: u8 = 128;
/// Label colour, background of the label strips, and the gap between panels.
const INK: [u8; 3] = [255, 255, 255];
const PAPER: u8 = 24;
const GAP: usize = 4;
/// Label font scale (a glyph is 3·SCALE × 5·SCALE pixels) and the strip that holds a line.
const SCALE: usize = 3;
const STRIP: usize = 7 * SCALE;
const LABELS: [&str; 3] = ["ORIGINAL", "MASKED", "RECONSTRUCTION"];

/// One clip's reconstruction.
#[derive(Debug, Clone)]
pub struct ClipReconstruction {
    pub shape: TubeletShape,
    /// (T, H, W, 3) u8: the clip.
    pub original: Vec<u8>,
    /// (T, H, W, 3) u8: the clip with masked tubelets grey.
    pub masked: Vec<u8>,
    /// (T, H, W, 3) f32, [0, 1] scale (unclamped): the clip with the predictions pasted in.
    pub reconstructed: Vec<f32>,
    /// Mean squared error of the predictions on the masked tokens ([0, 1] pixel scale).
    pub mse: f64,
    /// Visible tokens.
    pub visible: usize,
}

impl ClipReconstruction {
    /// Assembles the views from the clip, its mask (`true` = visible) and the predicted pixels
    /// of the masked tokens ((masked × patch_dim), token order).
    pub fn new(clip: Vec<u8>, mask: &[bool], predicted: &[f32], shape: TubeletShape) -> Self {
        let pd = shape.patch_dim();
        let mut patches = vec![0f32; shape.tokens() * pd];
        patchify_rgb8(&clip, shape, &mut patches);
        let masked_idx = masked_indices(mask);
        let mut sq = 0f64;
        for (row, &t) in predicted.chunks_exact(pd).zip(&masked_idx) {
            let target = &patches[t as usize * pd..][..pd];
            sq += row.iter().zip(target).map(|(p, t)| (*p as f64 - *t as f64).powi(2)).sum::<f64>();
        }
        let mse = sq / (masked_idx.len() * pd).max(1) as f64;
        scatter_rows(predicted, pd, &masked_idx, &mut patches);
        let mut reconstructed = vec![0f32; shape.clip_len()];
        unpatchify_frames(&patches, shape, &mut reconstructed);
        let mut masked = clip.clone();
        let (s, p, side) = (shape.side / shape.patch, shape.patch, shape.side);
        for &t in &masked_idx {
            let t = t as usize;
            let (step, y, x) = (t / (s * s), (t / s) % s, t % s);
            for f in step * shape.tubelet..(step + 1) * shape.tubelet {
                for row in y * p..(y + 1) * p {
                    let at = ((f * side + row) * side + x * p) * 3;
                    masked[at..at + p * 3].fill(MASKED_GREY);
                }
            }
        }
        ClipReconstruction { shape, original: clip, masked, reconstructed, mse, visible: mask.len() - masked_idx.len() }
    }

    /// The reconstruction as u8 frames (rounded, clamped).
    pub fn reconstructed_u8(&self) -> Vec<u8> {
        self.reconstructed.iter().map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8).collect()
    }

    /// Frame `t` of the three views side by side under their labels: (pixels, width, height).
    pub fn side_by_side(&self, t: usize) -> (Vec<u8>, usize, usize) {
        let side = self.shape.side;
        let (w, h) = (3 * side + 2 * GAP, STRIP + side);
        let mut px = vec![PAPER; w * h * 3];
        let recon = self.reconstructed_u8();
        for (k, view) in [&self.original, &self.masked, &recon].into_iter().enumerate() {
            blit(&mut px, w, &view[t * side * side * 3..][..side * side * 3], side, k * (side + GAP), STRIP);
            Canvas { pixels: &mut px, width: w, height: h }.text(
                LABELS[k],
                (k * (side + GAP) + SCALE) as i64,
                SCALE as i64,
                SCALE as i64,
                INK,
            );
        }
        (px, w, h)
    }

    /// Every frame of the clip in a grid: a row per view (original, masked, reconstruction),
    /// labelled on the left, frame numbers on top: (pixels, width, height).
    pub fn grid(&self) -> (Vec<u8>, usize, usize) {
        let (side, frames) = (self.shape.side, self.shape.frames);
        let label_w = (LABELS.iter().map(|l| l.len()).max().unwrap_or(0) * 4 + 1) * SCALE;
        let (w, h) = (label_w + frames * (side + GAP), STRIP + 3 * (side + GAP));
        let mut px = vec![PAPER; w * h * 3];
        let recon = self.reconstructed_u8();
        for (k, view) in [&self.original, &self.masked, &recon].into_iter().enumerate() {
            let y = STRIP + k * (side + GAP);
            for f in 0..frames {
                blit(&mut px, w, &view[f * side * side * 3..][..side * side * 3], side, label_w + f * (side + GAP), y);
            }
            Canvas { pixels: &mut px, width: w, height: h }.text(
                LABELS[k],
                SCALE as i64,
                (y + side / 2) as i64,
                SCALE as i64,
                INK,
            );
        }
        for f in 0..frames {
            Canvas { pixels: &mut px, width: w, height: h }.text(
                &f.to_string(),
                (label_w + f * (side + GAP) + side / 2) as i64,
                SCALE as i64,
                SCALE as i64,
                INK,
            );
        }
        (px, w, h)
    }
}

/// Copies a `side²` RGB image into `dst` (of width `w`) at (x, y).
fn blit(dst: &mut [u8], w: usize, src: &[u8], side: usize, x: usize, y: usize) {
    for row in 0..side {
        let at = ((y + row) * w + x) * 3;
        dst[at..at + side * 3].copy_from_slice(&src[row * side * 3..][..side * 3]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: TubeletShape = TubeletShape { frames: 4, side: 32, patch: 16, tubelet: 2 };

    #[test]
    fn a_perfect_prediction_restores_the_clip_and_masked_tubelets_are_grey() {
        let clip: Vec<u8> = (0..S.clip_len()).map(|i| (i * 31 % 251) as u8).collect();
        // tokens: 2 steps × 4 positions; mask token 5 = (step 1, y 0, x 1)
        let mask: Vec<bool> = (0..8).map(|t| t != 5).collect();
        let mut patches = vec![0f32; S.tokens() * S.patch_dim()];
        patchify_rgb8(&clip, S, &mut patches);
        let truth = patches[5 * S.patch_dim()..6 * S.patch_dim()].to_vec();
        let r = ClipReconstruction::new(clip.clone(), &mask, &truth, S);
        assert_eq!(r.mse, 0.0);
        assert_eq!(r.reconstructed_u8(), clip);
        // frame 2 (step 1), row 3, column 20 (x 1) is grey; column 3 (x 0) is untouched
        let at = |f: usize, y: usize, x: usize| ((f * 32 + y) * 32 + x) * 3;
        assert_eq!(r.masked[at(2, 3, 20)], MASKED_GREY);
        assert_eq!(r.masked[at(2, 3, 3)], clip[at(2, 3, 3)]);
        assert_eq!(r.masked[at(1, 3, 20)], clip[at(1, 3, 20)], "step 0 is visible");
        let off = ClipReconstruction::new(clip, &mask, &vec![0.0; S.patch_dim()], S);
        assert!(off.mse > 0.01);
        let (px, w, h) = off.grid();
        assert_eq!((w, h), ((14 * 4 + 1) * SCALE + 4 * (32 + GAP), STRIP + 3 * (32 + GAP)));
        assert_eq!(px.len(), w * h * 3);
        let (_, w, h) = off.side_by_side(0);
        assert_eq!((w, h), (3 * 32 + 2 * GAP, STRIP + 32));
    }
}
