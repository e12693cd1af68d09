//! LayerNorm over the rows of f32 row-major matrices.

use crate::weights::LayerNormWeights;

/// LayerNorm epsilon of every MARLIN norm (PyTorch's default).
pub const LN_EPS: f64 = 1e-5;

/// Row-wise LayerNorm of `x[rows×dim]` into `out`.
pub fn layer_norm(x: &[f32], dim: usize, ln: &LayerNormWeights, out: &mut [f32]) {
    use rayon::prelude::*;
    out.par_chunks_mut(dim).zip(x.par_chunks(dim)).for_each(|(o, r)| layer_norm_row(r, ln, o));
}

/// Σ f(v) over a row in f64, in lanes the compiler vectorises.
#[inline(always)]
fn sum_f64(r: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    const LANES: usize = 8;
    let mut s = [0f64; LANES];
    let mut chunks = r.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            s[i] += f(c[i]);
        }
    }
    s.iter().sum::<f64>() + chunks.remainder().iter().map(|&v| f(v)).sum::<f64>()
}

/// LayerNorm of one row (statistics accumulated in f64).
#[inline(always)]
fn layer_norm_row_generic(r: &[f32], ln: &LayerNormWeights, o: &mut [f32]) {
    let n = r.len() as f64;
    let mean = sum_f64(r, |v| v as f64) / n;
    let var = sum_f64(r, |v| (v as f64 - mean).powi(2)) / n;
    let inv = (1.0 / (var + LN_EPS).sqrt()) as f32;
    let mean = mean as f32;
    for (((o, &v), &g), &b) in o.iter_mut().zip(r).zip(&ln.weight).zip(&ln.bias) {
        *o = (v - mean) * inv * g + b;
    }
}

crate::vmath::dispatch!(pub fn layer_norm_row(r: &[f32], ln: &LayerNormWeights, o: &mut [f32]) -> () => layer_norm_row_generic);
