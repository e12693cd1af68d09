//! `crop_resize`'s CPU twin: a face crop from a packed RGB frame to a square RGB image, either
//!
//! - the official square: `[x0, x0+side)²` cut with zero padding outside the frame, then
//!   `cv2.resize` (OpenCV's fixed-point `INTER_LINEAR`, [`crate::resize`]) to `out_side`; or
//! - a similarity warp: each output pixel mapped back through the inverse transform and sampled
//!   bilinearly in f64 (zero outside the frame), rounded to nearest.
//!
//! The CUDA kernel `crop_resize_square` computes the same bytes per output pixel: the padded
//! square is never materialised, a source pixel outside the frame reads as 0.

use crate::resize::resize_linear;

/// A square `[x0, x0+side) × [y0, y0+side)` in frame pixels (may reach outside the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Square {
    pub x0: i64,
    pub y0: i64,
    pub side: usize,
}

/// The square's pixels (zero outside the frame), packed 3-channel.
pub fn cut_square(frame: &[u8], width: usize, height: usize, sq: Square) -> Vec<u8> {
    let side = sq.side;
    let mut out = vec![0u8; side * side * 3];
    let (x0, y0) = (sq.x0, sq.y0);
    let xs = x0.max(0)..(x0 + side as i64).min(width as i64);
    if xs.is_empty() {
        return out;
    }
    for y in y0.max(0)..(y0 + side as i64).min(height as i64) {
        let src = &frame[(y as usize * width + xs.start as usize) * 3..(y as usize * width + xs.end as usize) * 3];
        let dst = ((y - y0) as usize * side + (xs.start - x0) as usize) * 3;
        out[dst..dst + src.len()].copy_from_slice(src);
    }
    out
}

/// The square cut and resized to `out_side × out_side` as `cv2.resize` does.
pub fn crop_resize_square(frame: &[u8], width: usize, height: usize, sq: Square, out_side: usize) -> Vec<u8> {
    resize_linear(&cut_square(frame, width, height, sq), sq.side, sq.side, out_side, out_side)
}

/// `out_side²` RGB pixels sampled from `frame` through `inverse` (`[a, b, tx, c, d, ty]` taking
/// an output pixel `(u, v)` to the frame point `(a·u + b·v + tx, c·u + d·v + ty)`): bilinear
/// in f64, zero outside the frame, rounded to nearest.
pub fn warp_bilinear(frame: &[u8], width: usize, height: usize, inverse: [f64; 6], out_side: usize) -> Vec<u8> {
    let mut out = vec![0u8; out_side * out_side * 3];
    for v in 0..out_side {
        for u in 0..out_side {
            for c in 0..3 {
                out[(v * out_side + u) * 3 + c] = warp_at(frame, width, height, inverse, u, v, c);
            }
        }
    }
    out
}

/// One output byte of [`warp_bilinear`].
#[inline]
fn warp_at(frame: &[u8], width: usize, height: usize, m: [f64; 6], u: usize, v: usize, c: usize) -> u8 {
    let (u, v) = (u as f64, v as f64);
    let (x, y) = (m[0] * u + m[1] * v + m[2], m[3] * u + m[4] * v + m[5]);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let px = |x: i64, y: i64| -> f64 {
        if x < 0 || y < 0 || x >= width as i64 || y >= height as i64 {
            0.0
        } else {
            frame[(y as usize * width + x as usize) * 3 + c] as f64
        }
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bottom = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resize::{ColumnTap, ResizePlan, RowTap, vector_end, vertical};

    /// One output byte of [`crop_resize_square`] computed alone, the way the CUDA kernel does
    /// (no padded copy, no cached rows): the reference the kernel's index math is checked against.
    /// `at` is (output column, output row, channel).
    fn crop_resize_square_at(
        frame: (&[u8], usize, usize),
        sq: Square,
        plan: &ResizePlan,
        out_side: usize,
        at: (usize, usize, usize),
    ) -> u8 {
        let ((frame, width, height), (ox, oy, c)) = (frame, at);
        let px = |x: i64, y: i64| -> i32 {
            let (fx, fy) = (sq.x0 + x, sq.y0 + y);
            if fx < 0 || fy < 0 || fx >= width as i64 || fy >= height as i64 {
                0
            } else {
                frame[(fy as usize * width + fx as usize) * 3 + c] as i32
            }
        };
        match plan {
            ResizePlan::Copy => px(ox as i64, oy as i64) as u8,
            ResizePlan::Halve => {
                let (x, y) = (2 * ox as i64, 2 * oy as i64);
                ((px(x, y) + px(x + 1, y) + px(x, y + 1) + px(x + 1, y + 1) + 2) >> 2) as u8
            }
            ResizePlan::Linear { columns, rows } => {
                let ColumnTap { x, a0, a1 } = columns[ox];
                let RowTap { y0, y1, b0, b1 } = rows[oy];
                let next = (x + 1).min(sq.side as i32 - 1) as i64;
                let h = |y: i32| px(x as i64, y as i64) * a0 + px(next, y as i64) * a1;
                vertical(h(y0), h(y1), b0, b1, ox * 3 + c < vector_end(out_side))
            }
        }
    }

    fn frame(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
    }

    #[test]
    fn crops_pad_with_zeros_outside_the_frame() {
        let f: Vec<u8> = (0..4 * 3 * 3).map(|i| i as u8 + 1).collect();
        let out = cut_square(&f, 4, 3, Square { x0: -1, y0: -1, side: 2 });
        // only the bottom-right pixel of the 2×2 square is inside: frame pixel (0, 0)
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
        assert_eq!(cut_square(&f, 4, 3, Square { x0: 10, y0: 0, side: 2 }), vec![0; 12]);
    }

    /// The per-pixel form (the kernel's) equals the cut-then-resize form on every path:
    /// copy, exact halving, up- and down-scaling, squares reaching outside the frame.
    #[test]
    fn the_per_pixel_form_equals_cut_then_resize() {
        let (w, h) = (97, 61);
        let f = frame(w, h);
        for (sq, out) in [
            (Square { x0: 10, y0: 5, side: 24 }, 24),
            (Square { x0: -7, y0: -3, side: 48 }, 24),
            (Square { x0: 50, y0: 30, side: 40 }, 56),
            (Square { x0: -20, y0: 40, side: 73 }, 32),
            (Square { x0: 3, y0: 3, side: 2 }, 24),
        ] {
            let want = crop_resize_square(&f, w, h, sq, out);
            let plan = ResizePlan::new(sq.side, sq.side, out, out);
            for oy in 0..out {
                for ox in 0..out {
                    for c in 0..3 {
                        assert_eq!(
                            crop_resize_square_at((&f, w, h), sq, &plan, out, (ox, oy, c)),
                            want[(oy * out + ox) * 3 + c],
                            "{sq:?} → {out}: ({ox}, {oy}, {c})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_identity_warp_copies_and_a_shift_moves() {
        let (w, h) = (20, 20);
        let f = frame(w, h);
        assert_eq!(warp_bilinear(&f, w, h, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 20), f);
        let shifted = warp_bilinear(&f, w, h, [1.0, 0.0, 3.0, 0.0, 1.0, 2.0], 10);
        assert_eq!(&shifted[..3], &f[(2 * w + 3) * 3..(2 * w + 3) * 3 + 3]);
    }
}
