//! The int8 operands of the products (`Precision::Int8`).
//!
//! - Weights, the right operand B: symmetric s8 per output column, quantised once when packed:
//!   column j ≈ scale_j · q_j with q in −127..=127. The column offsets scale_j · Σₖ q_kj are
//!   kept for the zero-point correction below.
//! - Activations, the left operand A: asymmetric u8 per row, quantised at run time: row r ≈
//!   scale_r · (q_r − zero_r), the row's range [min(x, 0), max(x, 0)] spread over 0..=255 (so 0
//!   is exact and zero_r lies in 0..=255). Asymmetric rows use all 256 levels on one-sided data
//!   (GELU outputs, softmax probabilities), where a symmetric s8 row would use half of them.
//! - `vpdpbusd` multiplies u8 by s8, four adjacent k at a time, into i32 lanes (no overflow for
//!   k ≤ [`MAX_K`]); the tile's epilogue turns the sum into
//!   `scale_r · (scale_j · Σₖ q_rk·q_kj − zero_r · offset_j)` (one multiply, one fused
//!   multiply-add and one multiply per 16 outputs), then bias, GELU or residual as in f32.
//!
//! Panel layout: `[panel][k/4][64][4]` s8 (k padded with zeros to a multiple of 4), so one k
//! step of a tile loads four 64-byte vectors; A rows hold k rounded up to 4 bytes.

use rayon::prelude::*;

use super::NR;
use crate::vmath::{LANES, fold_lanes, max_lane, min_lane, round_clamped};

/// The deepest product whose i32 sums cannot overflow: 255 · 127 · k < 2³¹.
pub const MAX_K: usize = 65_536;

/// Row-quantised activations, borrowed: row r's u8 values start at `values[r · lda]` (the `lda`
/// given to the product) and hold k rounded up to a multiple of 4; `scales[r]`, `zeros[r]` map
/// them back to `scales[r] · (q − zeros[r])`.
#[derive(Debug, Clone, Copy)]
pub struct QuantRows<'a> {
    pub values: &'a [u8],
    pub scales: &'a [f32],
    pub zeros: &'a [i32],
}

/// Row-quantised activations, owned: a reusable left operand for int8 products.
#[derive(Debug, Default, Clone)]
pub struct QuantMatrix {
    values: Vec<u8>,
    scales: Vec<f32>,
    zeros: Vec<i32>,
    /// Bytes per row: k rounded up to a multiple of 4.
    ld: usize,
}

impl QuantMatrix {
    /// Quantises `rows` rows of `k` values in parallel on the current rayon pool. `row(r, tmp)`
    /// gives row r: `Some` slice of `k` values, or `None` after writing them into `tmp` (a
    /// per-thread buffer of `k` values, for rows computed on the fly). Each row's scale is
    /// multiplied by `scale_factor` (a factor applied to the product's result for free).
    pub fn quantize_by<'a, F>(&mut self, rows: usize, k: usize, scale_factor: f32, row: F)
    where
        F: Fn(usize, &mut [f32]) -> Option<&'a [f32]> + Sync,
    {
        self.ld = k.next_multiple_of(4);
        self.values.resize(rows * self.ld, 0);
        self.scales.resize(rows, 0.0);
        self.zeros.resize(rows, 0);
        self.values
            .par_chunks_mut(self.ld)
            .zip(self.scales.par_iter_mut().zip(self.zeros.par_iter_mut()))
            .enumerate()
            .with_min_len(64)
            .for_each_init(
                || vec![0f32; k],
                |tmp, (r, (out, (s, z)))| {
                    let x = row(r, tmp).unwrap_or(tmp);
                    let (scale, zero) = quantize_row(&x[..k], out);
                    (*s, *z) = (scale * scale_factor, zero);
                },
            );
    }

    /// Quantises the (`rows` × `k`) matrix `x`, rows `ldx` apart.
    pub fn quantize(&mut self, x: &[f32], rows: usize, k: usize, ldx: usize) {
        self.quantize_by(rows, k, 1.0, |r, _| Some(&x[r * ldx..][..k]));
    }

    /// The rows from `first` on, with the row stride to pass to the product.
    pub fn rows_from(&self, first: usize) -> (QuantRows<'_>, usize) {
        let rows = QuantRows {
            values: &self.values[first * self.ld..],
            scales: &self.scales[first..],
            zeros: &self.zeros[first..],
        };
        (rows, self.ld)
    }
}

/// 0 for a finite value, NaN for NaN and ±inf: summed over a row, a branch-free check that
/// min/max reductions (which skip NaN) cannot give.
#[inline(always)]
#[allow(clippy::eq_op)]
fn non_finite(v: f32) -> f32 {
    v - v
}

/// Quantises one row into `out` (`x.len()` rounded up to 4 bytes; the padding is set to 0) and
/// returns its (scale, zero point).
#[inline(always)]
fn quantize_row_generic(x: &[f32], out: &mut [u8]) -> (f32, i32) {
    // `nan` sums `non_finite`: NaN when the row holds NaN or ±inf (which min/max would skip)
    let (mut lo, mut hi, mut nan) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            lo[i] = min_lane(c[i], lo[i]);
            hi[i] = max_lane(c[i], hi[i]);
            nan[i] += non_finite(c[i]);
        }
    }
    let rest = chunks.remainder();
    let lo = rest.iter().fold(fold_lanes(lo, min_lane), |a, &b| min_lane(b, a));
    let hi = rest.iter().fold(fold_lanes(hi, max_lane), |a, &b| max_lane(b, a));
    let finite = rest.iter().fold(fold_lanes(nan, |a, b| a + b), |a, &b| a + non_finite(b)) == 0.0;
    let scale = (hi - lo) / 255.0;
    if !finite || !scale.is_finite() {
        // a NaN scale makes the whole output row NaN, as f32 arithmetic would
        out.fill(0);
        return (f32::NAN, 0);
    }
    if scale == 0.0 {
        // an all-zero row
        out.fill(0);
        return (0.0, 0);
    }
    let inv = 1.0 / scale;
    // lo ≤ 0 ≤ hi, so the zero point −lo/scale lies in 0..=255
    let zero = round_clamped(-lo * inv, 0.0, 255.0) as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = round_clamped(v.mul_add(inv, zero), 0.0, 255.0) as u8;
    }
    out[x.len()..].fill(0);
    (scale, zero as i32)
}

crate::vmath::dispatch!(fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) => quantize_row_generic);

/// An (n × k) matrix, element (j, kk) at `w[j·rs + kk·cs]`, packed as int8 panels into `data`
/// (`[panel][k/4][64][4]`), with per-column scales and offsets (zero past column n, padded to
/// whole panels). A column holding NaN or ±inf gets a NaN scale, so its outputs are NaN as in f32.
pub(super) fn pack(
    w: &[f32],
    n: usize,
    k: usize,
    (rs, cs): (usize, usize),
    data: &mut Vec<i8>,
    scales: &mut Vec<f32>,
    offsets: &mut Vec<f32>,
) {
    assert!(k <= MAX_K, "int8 products are limited to k ≤ {MAX_K} (i32 sums), not {k}");
    let panels = n.div_ceil(NR);
    data.resize(panels * k.div_ceil(4) * 4 * NR, 0);
    scales.resize(panels * NR, 0.0);
    offsets.resize(panels * NR, 0.0);
    pack_panels(w, n, k, (rs, cs), data, scales, offsets);
}

/// The largest |x|, or NaN when `x` holds NaN or ±inf.
#[inline(always)]
fn abs_max(x: &[f32]) -> f32 {
    let (mut m, mut bad) = ([0f32; LANES], [0f32; LANES]);
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            m[i] = max_lane(c[i].abs(), m[i]);
            bad[i] += non_finite(c[i]);
        }
    }
    let rest = chunks.remainder();
    let finite = rest.iter().fold(fold_lanes(bad, |a, b| a + b), |a, &b| a + non_finite(b)) == 0.0;
    let m = rest.iter().fold(fold_lanes(m, max_lane), |a, &b| max_lane(b.abs(), a));
    if finite { m } else { f32::NAN }
}

/// `x · inv` rounded into −127..=127.
#[inline(always)]
fn to_s8(x: f32, inv: f32) -> i8 {
    round_clamped(x * inv, -127.0, 127.0) as i8
}

#[inline(always)]
fn pack_panels_generic(
    w: &[f32],
    n: usize,
    k: usize,
    (rs, cs): (usize, usize),
    data: &mut [i8],
    scales: &mut [f32],
    offsets: &mut [f32],
) {
    let k4 = k.div_ceil(4);
    for (p, panel) in data.chunks_exact_mut(k4 * 4 * NR).enumerate() {
        let cols = NR.min(n - p * NR);
        let at = |l: usize, kk: usize| w[(p * NR + l) * rs + kk * cs];
        // each column's largest |w| (NaN for a non-finite column)
        let mut amax = [0f32; NR];
        if rs == 1 {
            let mut bad = [0f32; NR];
            for kk in 0..k {
                let row = &w[p * NR + kk * cs..][..cols];
                for l in 0..cols {
                    amax[l] = max_lane(row[l].abs(), amax[l]);
                    bad[l] += non_finite(row[l]);
                }
            }
            amax.iter_mut().zip(bad).for_each(|(a, b)| *a += b);
        } else if cs == 1 {
            for (l, a) in amax.iter_mut().enumerate().take(cols) {
                *a = abs_max(&w[(p * NR + l) * rs..][..k]);
            }
        } else {
            for (l, a) in amax.iter_mut().enumerate().take(cols) {
                *a = abs_max(&(0..k).map(|kk| at(l, kk)).collect::<Vec<_>>());
            }
        }
        if cs == 1 && cols < NR {
            panel.fill(0);
        }
        let mut inv = [0f32; NR];
        for l in 0..NR {
            scales[p * NR + l] = amax[l] / 127.0;
            inv[l] = if amax[l] > 0.0 { 127.0 / amax[l] } else { 0.0 };
        }
        // quantise: each 4-byte group holds four consecutive k of one column
        let mut sum = [0i32; NR];
        if cs == 1 {
            // columns contiguous (weights, attention keys): one column at a time
            for l in 0..cols {
                let col = &w[(p * NR + l) * rs..][..k];
                for (kq, four) in col.chunks(4).enumerate() {
                    let mut q = [0i8; 4];
                    for (q, &v) in q.iter_mut().zip(four) {
                        *q = to_s8(v, inv[l]);
                        sum[l] += *q as i32;
                    }
                    panel[kq * 4 * NR + 4 * l..][..4].copy_from_slice(&q);
                }
            }
        } else {
            // k rows (attention values when rs = 1): four rows at a time, interleaved
            let mut quad = [[0i8; NR]; 4];
            for (kq, dst) in panel.chunks_exact_mut(4 * NR).enumerate() {
                for (e, q) in quad.iter_mut().enumerate() {
                    let kk = 4 * kq + e;
                    if kk >= k {
                        q.fill(0);
                    } else if rs == 1 {
                        let row = &w[p * NR + kk * cs..][..cols];
                        for l in 0..cols {
                            q[l] = to_s8(row[l], inv[l]);
                        }
                    } else {
                        for l in 0..cols {
                            q[l] = to_s8(at(l, kk), inv[l]);
                        }
                    }
                    for l in 0..NR {
                        sum[l] += q[l] as i32;
                    }
                }
                for (l, d) in dst.chunks_exact_mut(4).enumerate() {
                    d.copy_from_slice(&[quad[0][l], quad[1][l], quad[2][l], quad[3][l]]);
                }
            }
        }
        for l in 0..NR {
            offsets[p * NR + l] = scales[p * NR + l] * sum[l] as f32;
        }
    }
}

crate::vmath::dispatch!(fn pack_panels(
    w: &[f32],
    n: usize,
    k: usize,
    strides: (usize, usize),
    data: &mut [i8],
    scales: &mut [f32],
    offsets: &mut [f32]
) -> () => pack_panels_generic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..37).map(|i| ((i as f32) * 0.7).sin() * 3.0 - 0.5).collect();
        let mut q = vec![9u8; 40];
        let (s, z) = quantize_row(&x, &mut q);
        assert!((0..=255).contains(&z));
        for (v, &b) in x.iter().zip(&q) {
            let back = s * (b as i32 - z) as f32;
            assert!((back - v).abs() <= 0.5 * s * 1.0001, "{v} → {b} → {back} (step {s})");
        }
        assert_eq!(&q[37..], &[0, 0, 0], "padding");
        // one-sided rows still represent 0 exactly and use the whole range
        let pos = [0.5f32, 1.0, 0.25];
        let (s, z) = quantize_row(&pos, &mut q[..4]);
        assert_eq!((z, q[1]), (0, 255));
        assert!((s - 1.0 / 255.0).abs() < 1e-9);
        let (s, z) = quantize_row(&[0.0; 5], &mut q[..8]);
        assert_eq!((s, z, q[..8].iter().map(|&b| b as u32).sum::<u32>()), (0.0, 0, 0));
        // NaN or inf anywhere poisons the row's scale instead of vanishing in the quantisation
        let mut bad = x.clone();
        bad[20] = f32::NAN;
        assert!(quantize_row(&bad, &mut q).0.is_nan());
        bad[20] = f32::INFINITY;
        assert!(quantize_row(&bad, &mut q).0.is_nan());
    }

    #[test]
    fn every_dispatch_path_gives_the_same_bytes() {
        let x: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.377).cos() * 5.0 + 1.0).collect();
        let (mut a, mut b) = (vec![0u8; 1004], vec![0u8; 1004]);
        assert_eq!(quantize_row(&x, &mut a), quantize_row_generic(&x, &mut b));
        assert_eq!(a, b);
    }

    #[test]
    fn packed_columns_round_trip_and_sum() {
        let (n, k) = (70, 10);
        let w: Vec<f32> = (0..n * k).map(|i| ((i as f32) * 0.31).sin() * (1 + i % 3) as f32).collect();
        let (mut data, mut scales, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
        pack(&w, n, k, (k, 1), &mut data, &mut scales, &mut offsets);
        let k4 = k.div_ceil(4);
        assert_eq!(data.len(), 2 * k4 * 4 * NR);
        for j in 0..n {
            let (p, l) = (j / NR, j % NR);
            let q = |kk: usize| data[p * k4 * 4 * NR + (kk / 4) * 4 * NR + l * 4 + kk % 4];
            assert_eq!(offsets[j], scales[j] * (0..k).map(|kk| q(kk) as i32).sum::<i32>() as f32);
            assert_eq!((0..k).map(|kk| q(kk).unsigned_abs()).max(), Some(127), "column {j} uses the full range");
            for kk in 0..k {
                assert!((scales[j] * q(kk) as f32 - w[j * k + kk]).abs() <= 0.5 * scales[j] * 1.0001);
            }
            assert!((k..k4 * 4).all(|kk| q(kk) == 0), "k padding");
        }
        assert!(scales[n..].iter().all(|&s| s == 0.0) && offsets[n..].iter().all(|&s| s == 0.0));
        // the same matrix given by k rows (as attention's values are) packs to the same bytes
        let wt: Vec<f32> = (0..k * n).map(|i| w[(i % n) * k + i / n]).collect();
        let (mut data_t, mut scales_t, mut offsets_t) = (Vec::new(), Vec::new(), Vec::new());
        pack(&wt, n, k, (1, n), &mut data_t, &mut scales_t, &mut offsets_t);
        assert_eq!((data_t, scales_t, offsets_t), (data, scales, offsets));
    }
}
