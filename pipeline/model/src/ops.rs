//! LayerNorm over the rows of f32 row-major matrices.

use crate::weights::LayerNormWeights;

/// LayerNorm epsilon of every MARLIN norm (PyTorch's default).
pub const LN_EPS: f64 = 1e-5;

/// Row-wise LayerNorm of `x[rows×dim]` into `out`.
pub fn layer_norm(x: &[f32], dim: usize, ln: &LayerNormWeights, out: &mut [f32]) {
    use rayon::prelude::*;
    out.par_chunks_mut(dim).zip(x.par_chunks(dim)).for_each(|(o, r)| layer_norm_row(r, ln, o));
}

/// LayerNorm of one row (statistics accumulated in f64).
pub fn layer_norm_row(r: &[f32], ln: &LayerNormWeights, o: &mut [f32]) {
    let n = r.len() as f64;
    let mean = r.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = r.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv = (1.0 / (var + LN_EPS).sqrt()) as f32;
    let mean = mean as f32;
    for (((o, &v), &g), &b) in o.iter_mut().zip(r).zip(&ln.weight).zip(&ln.bias) {
        *o = (v - mean) * inv * g + b;
    }
}
