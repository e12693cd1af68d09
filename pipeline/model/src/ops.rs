//! The encoder's numeric building blocks on f32 row-major matrices: GEMM against PyTorch-layout
//! weights (through the `gemm` crate), LayerNorm, exact-erf GELU and row softmax.

use crate::weights::{LayerNormWeights, LinearWeights};

/// LayerNorm epsilon of every MARLIN norm (PyTorch's default).
pub const LN_EPS: f64 = 1e-5;

/// `dst[m×n] (+)= a[m×k] · b`, all with explicit (row, column) strides. `accumulate` adds to
/// what `dst` holds instead of overwriting it.
///
/// # Safety
/// Every index `r·rs + c·cs` the shapes imply must lie inside the matching slice; `dst` must
/// not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    (dst_rs, dst_cs): (isize, isize),
    a: *const f32,
    (a_rs, a_cs): (isize, isize),
    b: *const f32,
    (b_rs, b_cs): (isize, isize),
    accumulate: bool,
    parallel: bool,
) {
    let par = if parallel { gemm::Parallelism::Rayon(rayon::current_num_threads()) } else { gemm::Parallelism::None };
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        gemm::gemm(
            m, n, k, dst, dst_cs, dst_rs, accumulate, a, a_cs, a_rs, b, b_cs, b_rs, 1.0, 1.0, false, false, false,
            par,
        )
    }
}

/// `out[rows×out] = x[rows×in] · Wᵀ + bias` (PyTorch `F.linear`), parallel over the pool.
pub fn linear(x: &[f32], rows: usize, w: &LinearWeights, out: &mut [f32]) {
    let (n, k) = (w.out_dim, w.in_dim);
    assert!(x.len() >= rows * k && out.len() >= rows * n && w.weight.len() == n * k);
    match &w.bias {
        Some(b) => out.chunks_exact_mut(n).take(rows).for_each(|r| r.copy_from_slice(b)),
        None => out[..rows * n].fill(0.0),
    }
    // SAFETY: x is rows×k, W is n×k (read transposed), out is rows×n; sizes asserted above.
    unsafe {
        gemm_strided(
            rows,
            n,
            k,
            out.as_mut_ptr(),
            (n as isize, 1),
            x.as_ptr(),
            (k as isize, 1),
            w.weight.as_ptr(),
            (1, k as isize),
            true,
            true,
        )
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_a_naive_product() {
        let (rows, n, k) = (5, 3, 7);
        let x: Vec<f32> = (0..rows * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let w = LinearWeights {
            weight: (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect(),
            bias: Some(vec![0.5, -1.0, 2.0]),
            out_dim: n,
            in_dim: k,
        };
        let mut out = vec![0.0; rows * n];
        linear(&x, rows, &w, &mut out);
        for r in 0..rows {
            for j in 0..n {
                let want: f32 =
                    (0..k).map(|i| x[r * k + i] * w.weight[j * k + i]).sum::<f32>() + w.bias.as_ref().unwrap()[j];
                assert!((out[r * n + j] - want).abs() < 1e-5, "{r},{j}: {} vs {want}", out[r * n + j]);
            }
        }
    }
}
