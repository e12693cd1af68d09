//! `cv2.resize(img, (dw, dh))` for 8-bit 3-channel images, bit for bit: OpenCV's default
//! `INTER_LINEAR` in its fixed-point form.
//!
//! OpenCV (4.x `imgproc/src/resize.cpp`) computes, per destination column, `fx =
//! (dx+0.5)·sw/dw − 0.5` in f32, `sx = floor(fx)`, weights `(1−fx, fx)` (clamped to the edge)
//! scaled to shorts by 2048 and rounded; the horizontal pass sums `S[sx]·a0 + S[sx+1]·a1` in
//! 32 bits. The vertical pass is vectorised: `((S0>>4)·b0 >> 16) + ((S1>>4)·b1 >> 16)`, then
//! `(v + 2) >> 2` saturated to u8 — which differs from the scalar `(S0·b0 + S1·b1 + 2^21) >> 22`
//! by a grey level now and then, so both are kept: the vector formula covers whole 16-byte groups
//! of a row, the scalar one the remainder, as OpenCV's loop does. An exact 2× reduction takes
//! OpenCV's `INTER_AREA` fast path (2×2 mean rounded), and an equal size is a copy.

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;
/// Bytes of a row the vector loop covers per step (128-bit registers).
const VECTOR_BYTES: usize = 16;

/// How a resize is computed; the CUDA kernel follows the same plan (its tables come from here).
#[derive(Debug, Clone, PartialEq)]
pub enum ResizePlan {
    /// Equal sizes: a copy.
    Copy,
    /// An exact 2× reduction: OpenCV's INTER_AREA fast path.
    Halve,
    /// Fixed-point bilinear with these taps.
    Linear { columns: Vec<ColumnTap>, rows: Vec<RowTap> },
}

/// A destination column: source column `x` blended with `min(x+1, w−1)` by weights `(a0, a1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct ColumnTap {
    pub x: i32,
    pub a0: i32,
    pub a1: i32,
}

/// A destination row: source rows `y0`, `y1` blended by weights `(b0, b1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RowTap {
    pub y0: i32,
    pub y1: i32,
    pub b0: i32,
    pub b1: i32,
}

impl ResizePlan {
    /// The plan `cv2.resize` follows from `sw × sh` to `dw × dh`.
    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize) -> Self {
        if (sw, sh) == (dw, dh) {
            ResizePlan::Copy
        } else if sw == 2 * dw && sh == 2 * dh {
            ResizePlan::Halve
        } else {
            ResizePlan::Linear { columns: column_taps(sw, dw), rows: row_taps(sh, dh) }
        }
    }
}

/// Bytes of a destination row (of `width` pixels) the vector formula covers; the rest take the
/// scalar one.
pub fn vector_end(width: usize) -> usize {
    width * 3 / VECTOR_BYTES * VECTOR_BYTES
}

/// Column sampling: source index and the two fixed-point weights. Columns outside the image
/// take the edge column with weights (2048, 0).
fn column_taps(src_len: usize, dst_len: usize) -> Vec<ColumnTap> {
    raw_taps(src_len, dst_len)
        .into_iter()
        .map(|(s, f)| {
            let (s, f) = if s < 0 {
                (0, 0.0)
            } else if s >= src_len as isize - 1 {
                (src_len as isize - 1, 0.0)
            } else {
                (s, f)
            };
            ColumnTap { x: s as i32, a0: weight(1.0 - f), a1: weight(f) }
        })
        .collect()
}

/// Row sampling: OpenCV does not clamp the weights of rows, only the row indices, so the first
/// and last destination rows blend an edge row with itself (two truncated products).
fn row_taps(src_len: usize, dst_len: usize) -> Vec<RowTap> {
    let clamp = |s: isize| s.clamp(0, src_len as isize - 1) as i32;
    raw_taps(src_len, dst_len)
        .into_iter()
        .map(|(s, f)| RowTap { y0: clamp(s), y1: clamp(s + 1), b0: weight(1.0 - f), b1: weight(f) })
        .collect()
}

/// One destination byte of the vertical pass: the vector formula up to [`vector_end`], the
/// scalar one after it.
#[inline]
pub(crate) fn vertical(s0: i32, s1: i32, b0: i32, b1: i32, vector: bool) -> u8 {
    if vector {
        let hi = |s: i32, b: i32| ((s >> 4).clamp(i16::MIN as i32, i16::MAX as i32) * b) >> 16;
        ((hi(s0, b0) + hi(s1, b1) + 2) >> 2).clamp(0, 255) as u8
    } else {
        ((s0 * b0 + s1 * b1 + (1 << 21)) >> 22).clamp(0, 255) as u8
    }
}

/// `fx = (d+0.5)·src/dst − 0.5` in f32, split into `floor` and fraction.
fn raw_taps(src_len: usize, dst_len: usize) -> Vec<(isize, f32)> {
    let scale = 1.0 / (dst_len as f64 / src_len as f64);
    (0..dst_len)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let s = f.floor();
            (s as isize, f - s)
        })
        .collect()
}

fn weight(f: f32) -> i32 {
    (f * COEF_SCALE).round_ties_even() as i32
}

/// The horizontal passes of the two source rows a destination row blends, by row indices.
type CachedRows = ((usize, usize), Vec<i32>, Vec<i32>);

/// Resizes a packed RGB (or BGR) image of `sw × sh` to `dw × dh` as `cv2.resize` does.
pub fn resize_linear(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    assert_eq!(src.len(), sw * sh * 3, "resize_linear: source of the wrong size");
    let (xt, yt) = match ResizePlan::new(sw, sh, dw, dh) {
        ResizePlan::Copy => return src.to_vec(),
        ResizePlan::Halve => return halve(src, sw, dw, dh),
        ResizePlan::Linear { columns, rows } => (columns, rows),
    };
    let row_len = dw * 3;
    // Horizontal pass of every source row a destination row needs, cached by source row.
    let hrow = |sy: usize| -> Vec<i32> {
        let s = &src[sy * sw * 3..(sy + 1) * sw * 3];
        let mut out = Vec::with_capacity(row_len);
        for &ColumnTap { x, a0, a1 } in &xt {
            let sx = x as usize;
            let next = (sx + 1).min(sw - 1);
            for c in 0..3 {
                out.push(s[sx * 3 + c] as i32 * a0 + s[next * 3 + c] as i32 * a1);
            }
        }
        out
    };
    let vector_end = vector_end(dw);
    let mut dst = vec![0u8; dw * dh * 3];
    let mut cache: Option<CachedRows> = None;
    for (dy, &RowTap { y0, y1, b0, b1 }) in yt.iter().enumerate() {
        let (y0, y1) = (y0 as usize, y1 as usize);
        let (r0, r1) = match &cache {
            Some((rows, r0, r1)) if *rows == (y0, y1) => (r0, r1),
            _ => {
                let c = cache.insert(((y0, y1), hrow(y0), hrow(y1)));
                (&c.1, &c.2)
            }
        };
        let out = &mut dst[dy * row_len..(dy + 1) * row_len];
        for (x, o) in out.iter_mut().enumerate() {
            *o = vertical(r0[x], r1[x], b0, b1, x < vector_end);
        }
    }
    dst
}

/// OpenCV's INTER_AREA fast path for an exact 2× reduction: the rounded mean of each 2×2 block.
fn halve(src: &[u8], sw: usize, dw: usize, dh: usize) -> Vec<u8> {
    let mut dst = Vec::with_capacity(dw * dh * 3);
    for y in 0..dh {
        let (r0, r1) = (&src[2 * y * sw * 3..], &src[(2 * y + 1) * sw * 3..]);
        for x in 0..dw {
            for c in 0..3 {
                let (a, b) = (6 * x + c, 6 * x + 3 + c);
                let sum = r0[a] as u32 + r0[b] as u32 + r1[a] as u32 + r1[b] as u32;
                dst.push(((sum + 2) >> 2) as u8);
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5×3 image whose bytes are `i·17 mod 256`, and what `cv2.resize` (opencv-python 4.12)
    /// returns for it (values printed by OpenCV itself): a short row takes the scalar formula,
    /// the first/last rows blend an edge row with itself.
    #[test]
    fn small_images_match_opencv() {
        let src: Vec<u8> = (0..45u32).map(|i| (i * 17 % 256) as u8).collect();
        let up = [
            0, 17, 34, 29, 46, 63, 65, 82, 99, 102, 119, 136, 138, 155, 172, 175, 192, 209, 204, 221, 238, 159, 16, 33,
            97, 45, 62, 65, 82, 99, 101, 118, 135, 138, 155, 172, 174, 191, 208, 203, 220, 237, 255, 16, 33, 137, 45,
            62, 64, 81, 98, 101, 118, 135, 137, 154, 171, 173, 190, 207, 203, 220, 237, 254, 15, 32, 137, 44, 61, 63,
            80, 97, 100, 117, 134, 136, 153, 170, 173, 190, 207, 202, 219, 236,
        ];
        assert_eq!(resize_linear(&src, 5, 3, 7, 4), up);
        assert_eq!(resize_linear(&src, 5, 3, 2, 1), [101, 54, 71, 165, 182, 199]);
        assert_eq!(resize_linear(&src, 5, 3, 5, 3), src);
    }

    #[test]
    fn exact_halving_is_a_rounded_block_mean() {
        let src = [10u8, 20, 30, 11, 21, 31, 12, 22, 32, 13, 23, 33];
        // 2×2 → 1×1: (10+11+12+13+2)/4 = 12, (20+21+22+23+2)/4 = 22, …
        assert_eq!(resize_linear(&src, 2, 2, 1, 1), [12, 22, 32]);
    }
}
