//! The detector's layers on NHWC feature maps: 3×3 convolutions (dense by im2col + GEMM, or
//! depthwise by direct loops), 1×1 convolutions as one GEMM, BatchNorm folded into the weights
//! at load, activations applied in place.

use rayon::prelude::*;

/// A feature map, `h × w × c`, channels innermost.
#[derive(Debug, Clone)]
pub struct Feature {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Feature {
    pub fn zeros(h: usize, w: usize, c: usize) -> Self {
        Self { h, w, c, data: vec![0.0; h * w * c] }
    }

    /// Channels `from..from + n` of every pixel, as a map of their own.
    pub fn channels(&self, from: usize, n: usize) -> Feature {
        let mut data = Vec::with_capacity(self.h * self.w * n);
        for px in self.data.chunks_exact(self.c) {
            data.extend_from_slice(&px[from..from + n]);
        }
        Feature { h: self.h, w: self.w, c: n, data }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    None,
    Leaky(f32),
}

impl Act {
    fn apply(self, x: &mut [f32]) {
        match self {
            Act::None => {}
            Act::Leaky(s) => x.iter_mut().for_each(|v| {
                if *v < 0.0 {
                    *v *= s
                }
            }),
        }
    }
}

/// A convolution with its BatchNorm folded in: `k × k` (1 or 3), padding `k / 2`.
#[derive(Debug)]
pub struct Conv {
    pub k: usize,
    pub stride: usize,
    pub cin: usize,
    pub cout: usize,
    pub depthwise: bool,
    /// Dense: `(k·k·cin) × cout` row-major, rows in (ky, kx, ci) order. Depthwise: `(k·k) × c`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Act,
    /// Output channels below this index take no activation (two convs fused into one).
    pub act_from: usize,
}

/// The output widths the direct loops are compiled for.
const DIRECT_WIDTHS: [usize; 6] = [4, 8, 16, 20, 32, 64];
/// Maps up to this many values are processed on the calling thread.
const SEQUENTIAL_MAX: usize = 1 << 16;

/// Convolutions with at most this many weights (and an output width in [`DIRECT_WIDTHS`]) run
/// as direct loops.
const DIRECT_MAX_WEIGHTS: usize = 4608;

/// Output size of a `k`-wide convolution with padding `k / 2` and `stride`.
fn out_len(n: usize, k: usize, stride: usize) -> usize {
    (n + 2 * (k / 2) - k) / stride + 1
}

impl Conv {
    /// From a torch weight `(cout, cin/groups, k, k)`, its bias (or zeros) and a BatchNorm
    /// (`gamma, beta, mean, var`, eps 1e-5) to fold in.
    pub fn new(
        w: &[f32],
        shape: &[usize],
        bias: Option<&[f32]>,
        bn: Option<[&[f32]; 4]>,
        stride: usize,
        act: Act,
    ) -> Result<Self, String> {
        let &[cout, cin_g, k, k2] = shape else { return Err(format!("conv weight of shape {shape:?}")) };
        if k != k2 || (k != 1 && k != 3) || w.len() != cout * cin_g * k * k {
            return Err(format!("unsupported conv weight of shape {shape:?}"));
        }
        let depthwise = cin_g == 1 && k == 3 && cout > 1;
        let mut scale = vec![1.0f64; cout];
        let mut shift: Vec<f64> = bias.map_or_else(|| vec![0.0; cout], |b| b.iter().map(|&x| x as f64).collect());
        if let Some([gamma, beta, mean, var]) = bn {
            for o in 0..cout {
                let s = gamma[o] as f64 / (var[o] as f64 + 1e-5).sqrt();
                scale[o] = s;
                shift[o] = (shift[o] - mean[o] as f64) * s + beta[o] as f64;
            }
        }
        let kk = k * k;
        let weight = if depthwise {
            let mut out = vec![0.0f32; kk * cout];
            for o in 0..cout {
                for t in 0..kk {
                    out[t * cout + o] = (w[o * kk + t] as f64 * scale[o]) as f32;
                }
            }
            out
        } else {
            let mut out = vec![0.0f32; kk * cin_g * cout];
            for o in 0..cout {
                for ci in 0..cin_g {
                    for t in 0..kk {
                        out[(t * cin_g + ci) * cout + o] = (w[(o * cin_g + ci) * kk + t] as f64 * scale[o]) as f32;
                    }
                }
            }
            out
        };
        let cin = if depthwise { cout } else { cin_g };
        Ok(Self {
            k,
            stride,
            cin,
            cout,
            depthwise,
            weight,
            bias: shift.iter().map(|&x| x as f32).collect(),
            act,
            act_from: 0,
        })
    }

    pub fn forward(&self, x: &Feature) -> Feature {
        debug_assert_eq!(x.c, self.cin);
        let (oh, ow) = (out_len(x.h, self.k, self.stride), out_len(x.w, self.k, self.stride));
        let mut y = Feature::zeros(oh, ow, self.cout);
        if self.depthwise && self.stride == 1 {
            self.depthwise_rows_into(x, &mut y);
        } else if self.depthwise {
            self.depthwise_into(x, &mut y);
        } else if !self.packed_path() {
            self.direct_into(x, &mut y);
        } else if self.k == 1 && self.stride == 1 {
            self.gemm_into(&x.data, self.cin, &mut y);
        } else {
            // Taken out of the thread's slot for the product: while this thread waits inside
            // it, rayon may run another detection's layer here, which then finds the slot
            // empty and allocates its own buffer.
            let mut cols = COLS.take();
            im2col_into(x, self.k, self.stride, oh, ow, &mut cols);
            self.gemm_into(&cols[..oh * ow * self.k * self.k * self.cin], self.k * self.k * self.cin, &mut y);
            COLS.set(cols);
        }
        if self.packed_path() {
            // The products leave the activation to a pass of its own; small maps on this
            // thread (waking the pool costs more than the work).
            if y.data.len() <= SEQUENTIAL_MAX {
                y.data.chunks_mut(self.cout).for_each(|px| self.activate(px));
            } else {
                y.data
                    .par_chunks_mut(self.cout * 1024)
                    .for_each(|c| c.chunks_mut(self.cout).for_each(|px| self.activate(px)));
            }
        }
        y
    }

    /// Whether `forward` runs this conv as a product (im2col + GEMM) rather than a direct kernel
    /// (which applies the activation itself, row by row).
    fn packed_path(&self) -> bool {
        let direct = self.k * self.k * self.cin * self.cout <= DIRECT_MAX_WEIGHTS && DIRECT_WIDTHS.contains(&self.cout);
        !(self.depthwise || direct)
    }

    /// The activation on one pixel's outputs (channels from `act_from` on).
    #[inline]
    fn activate(&self, px: &mut [f32]) {
        self.act.apply(&mut px[self.act_from..]);
    }

    /// The activation on a row of whole pixels.
    fn activate_row(&self, row: &mut [f32]) {
        if self.act_from == 0 {
            self.act.apply(row);
        } else {
            row.chunks_mut(self.cout).for_each(|px| self.activate(px));
        }
    }

    /// Two convolutions of the same input as one: `a`'s outputs (which take no activation) then
    /// `b`'s (which take `b`'s). Saves reading (and im2col-ing) the input twice.
    pub fn concat(a: &Conv, b: &Conv) -> Result<Conv, String> {
        if (a.k, a.stride, a.cin, a.depthwise, b.depthwise) != (b.k, b.stride, b.cin, false, false)
            || a.act != Act::None
            || a.act_from != 0
            || b.act_from != 0
        {
            return Err("convolutions that cannot be fused".into());
        }
        let cout = a.cout + b.cout;
        let rows = a.k * a.k * a.cin;
        let mut weight = Vec::with_capacity(rows * cout);
        for r in 0..rows {
            weight.extend_from_slice(&a.weight[r * a.cout..(r + 1) * a.cout]);
            weight.extend_from_slice(&b.weight[r * b.cout..(r + 1) * b.cout]);
        }
        let bias = [a.bias.as_slice(), b.bias.as_slice()].concat();
        Ok(Conv {
            k: a.k,
            stride: a.stride,
            cin: a.cin,
            cout,
            depthwise: false,
            weight,
            bias,
            act: b.act,
            act_from: a.cout,
        })
    }

    /// `y = a · W + bias` for `a` of `(oh·ow) × kdim`.
    fn gemm_into(&self, a: &[f32], kdim: usize, y: &mut Feature) {
        let (m, n) = (y.h * y.w, self.cout);
        for row in y.data.chunks_mut(n) {
            row.copy_from_slice(&self.bias);
        }
        let threads = rayon::current_num_threads();
        // SAFETY: dst is m×n row-major (row stride n), lhs m×kdim row-major, rhs kdim×n
        // row-major, all with the lengths these strides imply.
        unsafe {
            gemm::gemm(
                m,
                n,
                kdim,
                y.data.as_mut_ptr(),
                1,
                n as isize,
                true,
                a.as_ptr(),
                1,
                kdim as isize,
                self.weight.as_ptr(),
                1,
                n as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None },
            )
        }
    }

    /// Small convolutions (few channels: the first layer, the 1×1s of stage 1, SSH's 16-channel
    /// convs, the heads) as direct loops: per output pixel, the weights' rows scaled by each
    /// input value and summed into `cout` accumulators held in registers (the channel counts the
    /// network has are compiled as constants). GEMM libraries waste most of their tiles here.
    /// The direct loops, for the output widths they are compiled for ([`DIRECT_WIDTHS`]).
    fn direct_into(&self, x: &Feature, y: &mut Feature) {
        match self.cout {
            4 => self.direct_n::<4>(x, y),
            8 => self.direct_n::<8>(x, y),
            16 => self.direct_n::<16>(x, y),
            20 => self.direct_n::<20>(x, y),
            32 => self.direct_n::<32>(x, y),
            _ => self.direct_n::<64>(x, y),
        }
    }

    fn direct_n<const N: usize>(&self, x: &Feature, y: &mut Feature) {
        let ow = y.w;
        let fast = simd::available();
        y.data.par_chunks_mut(ow * N).enumerate().for_each(|(oy, row)| {
            if fast {
                // SAFETY: the CPU has AVX2 and FMA (checked at run time).
                unsafe { simd::direct_row_avx2::<N>(self, x, oy, row) }
            } else {
                direct_row::<N>(self, x, oy, row)
            }
            self.activate_row(row);
        });
    }

    /// Depthwise 3×3 at stride 1, a row at a time: for each tap, the whole (shifted) input row
    /// times the tap's weights tiled along the row — long, branch-free vector loops.
    fn depthwise_rows_into(&self, x: &Feature, y: &mut Feature) {
        let c = x.c;
        let row_len = x.w * c;
        // tiled[t][i] = weight of tap t for channel i % c (built by copies: a division per
        // element cost more than the convolution itself on wide rows).
        let tiled: Vec<Vec<f32>> = (0..9)
            .map(|t| {
                let taps = &self.weight[t * c..(t + 1) * c];
                let mut row = Vec::with_capacity(row_len);
                (0..x.w).for_each(|_| row.extend_from_slice(taps));
                row
            })
            .collect();
        let fast = simd::available();
        y.data.par_chunks_mut(row_len).enumerate().for_each(|(oy, out)| {
            if fast {
                // SAFETY: the CPU has AVX2 and FMA (checked at run time).
                unsafe { simd::depthwise_row_avx2(&self.bias, &tiled, x, oy, out) }
            } else {
                depthwise_row(&self.bias, &tiled, x, oy, out)
            }
            self.activate_row(out);
        });
    }

    fn depthwise_into(&self, x: &Feature, y: &mut Feature) {
        let (c, s) = (x.c, self.stride);
        let (w, bias) = (&self.weight, &self.bias);
        let ow = y.w;
        y.data.par_chunks_mut(ow * c).enumerate().for_each(|(oy, row)| {
            for ox in 0..ow {
                let out = &mut row[ox * c..(ox + 1) * c];
                out.copy_from_slice(bias);
                for ky in 0..3 {
                    let iy = (oy * s + ky) as isize - 1;
                    if iy < 0 || iy >= x.h as isize {
                        continue;
                    }
                    for kx in 0..3 {
                        let ix = (ox * s + kx) as isize - 1;
                        if ix < 0 || ix >= x.w as isize {
                            continue;
                        }
                        let src = &x.data[(iy as usize * x.w + ix as usize) * c..][..c];
                        let wt = &w[(ky * 3 + kx) * c..][..c];
                        for ((o, &v), &k) in out.iter_mut().zip(src).zip(wt) {
                            *o += v * k;
                        }
                    }
                }
            }
            self.activate_row(row);
        });
    }
}

/// One output row of [`Conv::direct_n`].
#[inline(always)]
fn direct_row<const N: usize>(conv: &Conv, x: &Feature, oy: usize, row: &mut [f32]) {
    let (k, s, cin) = (conv.k, conv.stride, conv.cin);
    let pad = (k / 2) as isize;
    let w = &conv.weight;
    let bias: [f32; N] = conv.bias[..N].try_into().unwrap_or([0.0; N]);
    for (ox, out) in row.chunks_exact_mut(N).enumerate() {
        let mut acc = bias;
        for ky in 0..k {
            let iy = (oy * s + ky) as isize - pad;
            if iy < 0 || iy >= x.h as isize {
                continue;
            }
            for kx in 0..k {
                let ix = (ox * s + kx) as isize - pad;
                if ix < 0 || ix >= x.w as isize {
                    continue;
                }
                let src = &x.data[(iy as usize * x.w + ix as usize) * cin..][..cin];
                let taps = &w[(ky * k + kx) * cin * N..][..cin * N];
                for (&v, wrow) in src.iter().zip(taps.chunks_exact(N)) {
                    for o in 0..N {
                        acc[o] += v * wrow[o];
                    }
                }
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// One output row of [`Conv::depthwise_rows_into`].
#[inline(always)]
fn depthwise_row(bias: &[f32], tiled: &[Vec<f32>], x: &Feature, oy: usize, out: &mut [f32]) {
    let c = x.c;
    let row_len = x.w * c;
    for (o, b) in out.iter_mut().zip(bias.iter().cycle()) {
        *o = *b;
    }
    for ky in 0..3 {
        let iy = oy as isize + ky as isize - 1;
        if iy < 0 || iy >= x.h as isize {
            continue;
        }
        let src = &x.data[iy as usize * row_len..(iy as usize + 1) * row_len];
        // kx = 0 reads the pixel to the left: outputs 1.., inputs ..w-1.
        let t = &tiled[ky * 3];
        for ((o, &v), &wt) in out[c..].iter_mut().zip(&src[..row_len - c]).zip(&t[c..]) {
            *o += v * wt;
        }
        let t = &tiled[ky * 3 + 1];
        for ((o, &v), &wt) in out.iter_mut().zip(src).zip(t) {
            *o += v * wt;
        }
        let t = &tiled[ky * 3 + 2];
        for ((o, &v), &wt) in out[..row_len - c].iter_mut().zip(&src[c..]).zip(t) {
            *o += v * wt;
        }
    }
}

/// The row kernels compiled for AVX2 + FMA, chosen at run time.
mod simd {
    use super::{Conv, Feature, depthwise_row, direct_row};

    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    pub unsafe fn direct_row_avx2<const N: usize>(conv: &Conv, x: &Feature, oy: usize, row: &mut [f32]) {
        direct_row::<N>(conv, x, oy, row)
    }

    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    pub unsafe fn depthwise_row_avx2(bias: &[f32], tiled: &[Vec<f32>], x: &Feature, oy: usize, out: &mut [f32]) {
        depthwise_row(bias, tiled, x, oy, out)
    }
}

/// `(oh·ow) × (k·k·c)` patches into `cols` (reused between calls: every element is written,
/// zero outside the image for padding `k / 2`).
fn im2col_into(x: &Feature, k: usize, s: usize, oh: usize, ow: usize, cols: &mut Vec<f32>) {
    let c = x.c;
    let pad = (k / 2) as isize;
    let kdim = k * k * c;
    cols.resize(oh * ow * kdim, 0.0);
    cols[..oh * ow * kdim].par_chunks_mut(ow * kdim).enumerate().for_each(|(oy, row)| {
        for ox in 0..ow {
            let dst = &mut row[ox * kdim..(ox + 1) * kdim];
            for ky in 0..k {
                let iy = (oy * s + ky) as isize - pad;
                for kx in 0..k {
                    let ix = (ox * s + kx) as isize - pad;
                    let tap = &mut dst[(ky * k + kx) * c..][..c];
                    if iy < 0 || iy >= x.h as isize || ix < 0 || ix >= x.w as isize {
                        tap.fill(0.0);
                    } else {
                        tap.copy_from_slice(&x.data[(iy as usize * x.w + ix as usize) * c..][..c]);
                    }
                }
            }
        }
    });
}

thread_local! {
    /// The im2col matrix, kept between convolutions and frames (tens of MB at 720p: allocating it
    /// afresh costs page faults every time).
    static COLS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `a += nearest-upsampled(b)` to `a`'s size, as `F.interpolate(mode="nearest")`: source index
/// `floor(dst · in/out)` in f32.
pub fn add_upsampled(a: &mut Feature, b: &Feature) {
    let (sy, sx) = (b.h as f32 / a.h as f32, b.w as f32 / a.w as f32);
    let c = a.c;
    for y in 0..a.h {
        let by = ((y as f32 * sy).floor() as usize).min(b.h - 1);
        for x in 0..a.w {
            let bx = ((x as f32 * sx).floor() as usize).min(b.w - 1);
            let src = &b.data[(by * b.w + bx) * c..][..c];
            for (o, &v) in a.data[(y * a.w + x) * c..][..c].iter_mut().zip(src) {
                *o += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution over NCHW torch weights, the reference for the fast paths.
    fn reference(x: &Feature, w: &[f32], cout: usize, cin_g: usize, k: usize, s: usize, groups: usize) -> Feature {
        let (oh, ow) = (out_len(x.h, k, s), out_len(x.w, k, s));
        let mut y = Feature::zeros(oh, ow, cout);
        let pad = (k / 2) as isize;
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let g = o / (cout / groups);
                    let mut acc = 0.0f64;
                    for ci in 0..cin_g {
                        let cin = g * cin_g + ci;
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = ((oy * s + ky) as isize - pad, (ox * s + kx) as isize - pad);
                                if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                    acc += x.data[(iy as usize * x.w + ix as usize) * x.c + cin] as f64
                                        * w[((o * cin_g + ci) * k + ky) * k + kx] as f64;
                                }
                            }
                        }
                    }
                    y.data[(oy * ow + ox) * cout + o] = acc as f32;
                }
            }
        }
        y
    }

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn convolutions_match_the_direct_reference() {
        let x = Feature { h: 13, w: 10, c: 6, data: pseudo(13 * 10 * 6, 1) };
        for (k, s, depthwise, cout) in [
            (3, 1, false, 5),
            (3, 2, false, 5),
            (1, 1, false, 5),
            (3, 1, false, 80),
            (3, 2, false, 80),
            (1, 1, false, 700),
            (1, 1, false, 7),
            (3, 2, false, 8),
            (1, 1, false, 64),
            (3, 1, false, 7),
            (3, 1, true, 6),
            (3, 2, true, 6),
        ] {
            let (cin_g, groups) = if depthwise { (1, 6) } else { (6, 1) };
            let w = pseudo(cout * cin_g * k * k, 7);
            let conv = Conv::new(&w, &[cout, cin_g, k, k], None, None, s, Act::None).unwrap();
            let got = conv.forward(&x);
            let want = reference(&x, &w, cout, cin_g, k, s, groups);
            assert_eq!((got.h, got.w, got.c), (want.h, want.w, want.c));
            let err = got.data.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-5, "k={k} s={s} dw={depthwise}: {err}");
        }
    }

    #[test]
    fn fused_convolutions_equal_the_separate_ones() {
        let x = Feature { h: 9, w: 7, c: 6, data: pseudo(9 * 7 * 6, 11) };
        let a = Conv::new(&pseudo(5 * 6 * 9, 2), &[5, 6, 3, 3], None, None, 1, Act::None).unwrap();
        let b =
            Conv::new(&pseudo(3 * 6 * 9, 3), &[3, 6, 3, 3], Some(&[0.1, -0.2, 0.3]), None, 1, Act::Leaky(0.1)).unwrap();
        let f = Conv::concat(&a, &b).unwrap().forward(&x);
        let (ya, yb) = (a.forward(&x), b.forward(&x));
        let (fa, fb) = (f.channels(0, 5), f.channels(5, 3));
        let err = |p: &Feature, q: &Feature| p.data.iter().zip(&q.data).map(|(u, v)| (u - v).abs()).fold(0.0, f32::max);
        assert!(err(&fa, &ya) < 1e-5 && err(&fb, &yb) < 1e-5);
        assert!(Conv::concat(&b, &a).is_err(), "the first part must take no activation");
    }

    #[test]
    fn batchnorm_folding() {
        let x = Feature { h: 4, w: 4, c: 2, data: pseudo(32, 3) };
        let w = pseudo(2 * 2, 5);
        let (g, b, m, v) = ([2.0f32, 0.5], [0.1f32, -0.2], [0.3f32, 0.0], [4.0f32, 0.25]);
        let conv = Conv::new(&w, &[2, 2, 1, 1], None, Some([&g, &b, &m, &v]), 1, Act::None).unwrap();
        let y = conv.forward(&x);
        let plain = reference(&x, &w, 2, 2, 1, 1, 1);
        for (i, (&got, &p)) in y.data.iter().zip(&plain.data).enumerate() {
            let o = i % 2;
            let want = (p - m[o]) / (v[o] + 1e-5).sqrt() * g[o] + b[o];
            assert!((got - want).abs() < 1e-5);
        }
    }
}
