//! The int8 operands of the products (`Precision::Int8`).
//!
//! - Weights, the right operand B: symmetric s8 per output column, quantised once when packed:
//!   column j ≈ scale_j · q_j with q in −127..=127. The column sums Σₖ q_kj are kept for the
//!   zero-point correction below.
//! - Activations, the left operand A: asymmetric u8 per row, quantised at run time: row r ≈
//!   scale_r · (q_r − zero_r), the row's range [min(x, 0), max(x, 0)] spread over 0..=255 (so 0
//!   is exact and zero_r lies in 0..=255). Asymmetric rows use all 256 levels on one-sided data
//!   (GELU outputs, softmax probabilities), where a symmetric s8 row would use half of them.
//! - `vpdpbusd` multiplies u8 by s8, four adjacent k at a time, into i32 lanes (no overflow for
//!   k ≤ [`MAX_K`]); the tile's epilogue turns the sum into
//!   `scale_r · scale_j · (Σₖ q_rk·q_kj − zero_r · Σₖ q_kj)`, then bias, GELU or residual as in f32.
//!
//! Panel layout: `[panel][k/4][64][4]` s8 (k padded with zeros to a multiple of 4), so one k
//! step of a tile loads four 64-byte vectors; A rows hold k rounded up to 4 bytes.

use rayon::prelude::*;

use super::NR;

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
    /// Quantises `rows` rows of `k` values, row r being `row(r)`, in parallel on the current
    /// rayon pool; each row's scale is multiplied by `scale_factor` (a factor applied to the
    /// product's result for free).
    pub fn quantize_by<'a>(
        &mut self,
        rows: usize,
        k: usize,
        row: impl Fn(usize) -> &'a [f32] + Sync,
        scale_factor: f32,
    ) {
        self.ld = k.next_multiple_of(4);
        self.values.resize(rows * self.ld, 0);
        self.scales.resize(rows, 0.0);
        self.zeros.resize(rows, 0);
        self.values
            .par_chunks_mut(self.ld)
            .zip(self.scales.par_iter_mut().zip(self.zeros.par_iter_mut()))
            .enumerate()
            .with_min_len(64)
            .for_each(|(r, (out, (s, z)))| {
                let (scale, zero) = quantize_row(&row(r)[..k], out);
                (*s, *z) = (scale * scale_factor, zero);
            });
    }

    /// Quantises the (`rows` × `k`) matrix `x`, rows `ldx` apart.
    pub fn quantize(&mut self, x: &[f32], rows: usize, k: usize, ldx: usize) {
        self.quantize_by(rows, k, |r| &x[r * ldx..][..k], 1.0);
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

/// Quantises one row into `out` (`x.len()` rounded up to 4 bytes; the padding is set to 0) and
/// returns its (scale, zero point).
#[inline(always)]
fn quantize_row_generic(x: &[f32], out: &mut [u8]) -> (f32, i32) {
    const LANES: usize = 16;
    // `nan` collects v − v: 0 for finite values, NaN for NaN and ±inf (which min/max would hide)
    let (mut lo, mut hi, mut nan) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i]);
            nan[i] += c[i] - c[i];
        }
    }
    let rest = chunks.remainder();
    let lo = rest.iter().chain(&lo).fold(0f32, |a, &b| a.min(b));
    let hi = rest.iter().chain(&hi).fold(0f32, |a, &b| a.max(b));
    let finite = rest.iter().map(|v| v - v).chain(nan).sum::<f32>() == 0.0;
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
    let zero = (-lo * inv).round_ties_even();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.mul_add(inv, zero).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    out[x.len()..].fill(0);
    (scale, zero as i32)
}

crate::vmath::dispatch!(fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, i32) => quantize_row_generic);

/// An (n × k) matrix, element (j, kk) at `w[j·rs + kk·cs]`, packed as int8 panels into `data`
/// (`[panel][k/4][64][4]`), with per-column scales and sums (zero past column n, padded to whole
/// panels).
pub(super) fn pack(
    w: &[f32],
    n: usize,
    k: usize,
    (rs, cs): (usize, usize),
    data: &mut Vec<i8>,
    scales: &mut Vec<f32>,
    sums: &mut Vec<i32>,
) {
    assert!(k <= MAX_K, "int8 products are limited to k ≤ {MAX_K} (i32 sums), not {k}");
    let (panels, k4) = (n.div_ceil(NR), k.div_ceil(4));
    data.resize(panels * k4 * 4 * NR, 0);
    scales.resize(panels * NR, 0.0);
    sums.resize(panels * NR, 0);
    for (p, panel) in data.chunks_mut(k4 * 4 * NR).enumerate() {
        let cols = NR.min(n - p * NR);
        let mut inv = [0f32; NR];
        for l in 0..NR {
            let j = p * NR + l;
            let amax = if l < cols { (0..k).map(|kk| w[j * rs + kk * cs].abs()).fold(0f32, f32::max) } else { 0.0 };
            scales[j] = amax / 127.0;
            inv[l] = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        }
        panel.fill(0);
        let mut sum = [0i32; NR];
        for kk in 0..k {
            let row = &mut panel[(kk / 4) * 4 * NR..][..4 * NR];
            for l in 0..cols {
                let q = (w[(p * NR + l) * rs + kk * cs] * inv[l]).round_ties_even().clamp(-127.0, 127.0) as i8;
                row[l * 4 + kk % 4] = q;
                sum[l] += q as i32;
            }
        }
        sums[p * NR..][..NR].copy_from_slice(&sum);
    }
}

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
        let (mut data, mut scales, mut sums) = (Vec::new(), Vec::new(), Vec::new());
        pack(&w, n, k, (k, 1), &mut data, &mut scales, &mut sums);
        let k4 = k.div_ceil(4);
        assert_eq!(data.len(), 2 * k4 * 4 * NR);
        for j in 0..n {
            let (p, l) = (j / NR, j % NR);
            let q = |kk: usize| data[p * k4 * 4 * NR + (kk / 4) * 4 * NR + l * 4 + kk % 4];
            assert_eq!(sums[j], (0..k).map(|kk| q(kk) as i32).sum::<i32>());
            assert_eq!((0..k).map(|kk| q(kk).unsigned_abs()).max(), Some(127), "column {j} uses the full range");
            for kk in 0..k {
                assert!((scales[j] * q(kk) as f32 - w[j * k + kk]).abs() <= 0.5 * scales[j] * 1.0001);
            }
            assert!((k..k4 * 4).all(|kk| q(kk) == 0), "k padding");
        }
        assert!(scales[n..].iter().all(|&s| s == 0.0) && sums[n..].iter().all(|&s| s == 0));
    }
}
