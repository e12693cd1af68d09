//! Vectorised element-wise math for the encoder's hot loops: exp (softmax) and erf (GELU).
//!
//! The kernels are plain branch-free Rust over fixed-width lane arrays, which LLVM vectorises;
//! each public function dispatches at run time to a copy compiled for AVX-512 or AVX2 (+FMA)
//! when the CPU has it. Fused multiply-adds are written out (`mul_add`, exactly rounded on
//! every path), so every copy gives the same bits.
//!
//! - `exp`: Cephes' `expf` range reduction (n = round(x·log2 e), r = x − n·ln 2 in two parts)
//!   and its degree-6 polynomial; relative error ≈ 1 ulp. For softmax probabilities that become
//!   u8 255ths (int8 attention), a cheaper `2^(x·log2 e)` with a degree-3 polynomial on the
//!   fraction (relative error below 9e-5, 0.02 of a 255th).
//! - `erf`: Abramowitz & Stegun 7.1.26 (`1 − t·P(t)·exp(−x²)`, t = 1/(1 + 0.3275911·|x|)),
//!   max abs error 1.5e-7 — the formula PyTorch's vectorised CPU `erf` uses.

/// Lanes of the element-wise kernels: one 512-bit vector of f32.
pub(crate) const LANES: usize = 16;

/// 1.5·2^23: adding it to |x| < 2^22 rounds x to the nearest integer (ties to even) and leaves
/// that integer in the low mantissa bits.
const ROUND: f32 = 12_582_912.0;

/// Runs `$generic` through a copy compiled for the best instruction set available.
macro_rules! dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $generic:ident) => {
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) -> $ret { $generic($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) -> $ret { $generic($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU supports the features this copy was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}
pub(crate) use dispatch;

const LOG2E: f32 = std::f32::consts::LOG2_E;

#[inline(always)]
fn exp_lane(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let t = x.mul_add(LOG2E, ROUND);
    let n = t - ROUND;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = (p * r).mul_add(r, r) + 1.0;
    let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    y * f32::from_bits(((k + 127) << 23) as u32)
}

/// 255 · 2^y for y ≤ 0: within a relative 9e-5 down to y = −115, under 3e-33 below (2^f on
/// [−½, ½] by its degree-3 fit on Chebyshev nodes, weighted relatively, times 255): a softmax
/// probability in 255ths, accurate to 0.02 of one.
#[inline(always)]
fn exp2_255_lane(y: f32) -> f32 {
    const C: [f32; 4] = [14.047_614, 61.864_033, 176.785_43, 254.981_89];
    let y = y.max(-126.0);
    let t = y + ROUND;
    let n = t - ROUND;
    let f = y - n;
    let p = C[0].mul_add(f, C[1]).mul_add(f, C[2]).mul_add(f, C[3]);
    let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    p * f32::from_bits(((k + 127) << 23) as u32)
}

/// `a[i] ← f(a[i], a[i + w])` for w = 8, 4, 2, 1: a lane array folded into one value by
/// halving, which stays in vector registers (a left fold is 16 dependent scalar steps).
#[inline(always)]
pub(crate) fn fold_lanes(mut a: [f32; LANES], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            a[i] = f(a[i], a[i + w]);
        }
        w /= 2;
    }
    a[0]
}

/// The smaller of two values as `vminps` computes it (`b` when `a` is NaN).
#[inline(always)]
pub(crate) fn min_lane(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// The larger of two values as `vmaxps` computes it (`b` when `a` is NaN).
#[inline(always)]
pub(crate) fn max_lane(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// `x` clamped to [`lo`, `hi`] (within ±2²²) and rounded to the nearest integer, ties to even.
/// Branch-free integer code that vectorises, where `round_ties_even` is a libm call on baseline
/// x86-64.
#[inline(always)]
pub(crate) fn round_clamped(x: f32, lo: f32, hi: f32) -> i32 {
    ((x.clamp(lo, hi) + ROUND).to_bits() as i32).wrapping_sub(0x4B40_0000)
}

#[inline(always)]
fn erf_lane(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_7;
    const A4: f32 = -1.453_152;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (P * a + 1.0);
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let y = 1.0 - poly * exp_lane(-a * a);
    f32::from_bits(y.to_bits() | (x.to_bits() & 0x8000_0000))
}

#[inline(always)]
fn gelu_lane(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_lane(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU over a slice, inlined into the caller (for kernels already compiled for a wide ISA).
#[inline(always)]
pub(crate) fn gelu_inline(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = gelu_lane(*v));
}

/// The largest value of a row (`vmaxps`: a NaN may be skipped, but then it makes its own
/// exponential and the row's sum NaN).
#[inline(always)]
fn row_max(r: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = r.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            m[i] = max_lane(c[i], m[i]);
        }
    }
    chunks.remainder().iter().fold(fold_lanes(m, max_lane), |a, &b| max_lane(b, a))
}

/// Softmax without its last division: `r ← exp(r − max r)`, returning `1 / Σ r` for the caller
/// to apply later (attention scales the 64-wide output rows instead of the 1568-wide scores).
#[inline(always)]
fn softmax_exp_generic(r: &mut [f32]) -> f32 {
    let max = row_max(r);
    let mut s = [0f32; LANES];
    let mut chunks = r.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            c[i] = exp_lane(c[i] - max);
            s[i] += c[i];
        }
    }
    let mut sum: f32 = s.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp_lane(*v - max);
        sum += *v;
    }
    1.0 / sum
}

/// [`softmax_exp_generic`] quantised for an int8 product, in the same pass: `out ←
/// round(255 · exp(r − max r))` (u8, `r.len()` rounded up to 4 with zero padding; exp to a
/// relative 9e-5), returning `1 / Σ exp` of the unrounded values.
#[inline(always)]
fn softmax_exp_u8_generic(r: &[f32], out: &mut [u8]) -> f32 {
    // y = (v − max)·log2 e as one fused multiply-add
    let shift = -(row_max(r) * LOG2E);
    // 255·e lies in [0, 255.03]: adding ROUND leaves round(255·e) in the low byte, no clamp needed
    let prob = |v: f32| exp2_255_lane(v.mul_add(LOG2E, shift));
    let byte = |p: f32| (p + ROUND).to_bits() as u8;
    let mut s = [0f32; LANES];
    let mut chunks = r.chunks_exact(LANES);
    let mut outs = out.chunks_exact_mut(LANES);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        for i in 0..LANES {
            let p = prob(c[i]);
            s[i] += p;
            o[i] = byte(p);
        }
    }
    let tail = chunks.remainder();
    let done = r.len() - tail.len();
    let mut sum = fold_lanes(s, |a, b| a + b);
    for (&v, o) in tail.iter().zip(&mut out[done..]) {
        let p = prob(v);
        sum += p;
        *o = byte(p);
    }
    out[r.len()..].fill(0);
    255.0 / sum
}

dispatch!(pub fn gelu_in_place(x: &mut [f32]) -> () => gelu_inline);
dispatch!(pub fn softmax_exp_in_place(r: &mut [f32]) -> f32 => softmax_exp_generic);
dispatch!(pub fn softmax_exp_u8(r: &[f32], out: &mut [u8]) -> f32 => softmax_exp_u8_generic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        // the kernel clamps to [-87, 88]: softmax inputs are ≤ 0 anyway
        let xs: Vec<f32> = (-8700..8800).map(|i| i as f32 * 0.01 + 0.003).collect();
        for x in &xs {
            let y = &exp_lane(*x);
            let want = (*x as f64).exp();
            let rel = ((*y as f64 - want) / want).abs();
            assert!(rel < 2.5e-7, "exp({x}) = {y}, want {want} (rel {rel:e})");
        }
    }

    #[test]
    fn gelu_is_within_2e7_of_the_exact_erf_form() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005 + 0.0007).collect();
        let mut y = xs.clone();
        gelu_in_place(&mut y);
        for (x, y) in xs.iter().zip(&y) {
            let want = 0.5 * *x as f64 * (1.0 + libm::erf(*x as f64 / std::f64::consts::SQRT_2));
            assert!((*y as f64 - want).abs() < 2e-7 * x.abs().max(1.0) as f64, "gelu({x}) = {y}, want {want}");
        }
    }

    #[test]
    fn every_dispatch_path_gives_the_same_bits() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin() * 6.0).collect();
        let mut a = xs.clone();
        let mut b = xs.clone();
        gelu_in_place(&mut a);
        gelu_inline(&mut b);
        assert_eq!(a, b);
        let mut a = xs.clone();
        let mut b = xs.clone();
        assert_eq!(softmax_exp_in_place(&mut a), softmax_exp_generic(&mut b));
        assert_eq!(a, b);
        let (mut qa, mut qb) = (vec![7u8; 1000], vec![7u8; 1000]);
        assert_eq!(softmax_exp_u8(&xs, &mut qa), softmax_exp_u8_generic(&xs, &mut qb));
        assert_eq!(qa, qb);
    }

    #[test]
    fn the_probability_exp_is_within_9e5() {
        // (below −115 the values are far under a 255th and go subnormal)
        for i in 0..=46_000 {
            let y = -(i as f32) * 0.0025; // [−115, 0]
            let want = 255.0 * (y as f64).exp2();
            let rel = (exp2_255_lane(y) as f64 - want).abs() / want;
            assert!(rel < 9e-5, "255·2^{y}: relative error {rel:e}");
        }
        assert!(exp2_255_lane(-1e4) < 3e-33);
    }

    #[test]
    fn lanes_fold_by_halving() {
        let a: [f32; LANES] = std::array::from_fn(|i| (i as f32 * 1.7).sin());
        assert_eq!(fold_lanes(a, max_lane), a.iter().copied().fold(f32::MIN, f32::max));
        assert_eq!(fold_lanes(a, min_lane), a.iter().copied().fold(f32::MAX, f32::min));
        assert!((fold_lanes(a, |x, y| x + y) - a.iter().sum::<f32>()).abs() < 1e-6);
    }

    #[test]
    fn round_clamped_is_round_ties_even() {
        for x in [-3.5f32, -2.5, -0.5, 0.49, 0.5, 1.5, 2.5, 254.5, 254.51, 300.0, -300.0, 1e9, 7.0] {
            assert_eq!(round_clamped(x, -255.0, 255.0), x.clamp(-255.0, 255.0).round_ties_even() as i32, "{x}");
        }
    }

    #[test]
    fn quantised_softmax_rounds_each_probability_to_255ths() {
        let logits: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
        let mut q = vec![9u8; 40];
        let inv = softmax_exp_u8(&logits, &mut q);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&v| ((v - max) as f64).exp()).sum();
        assert!((inv as f64 * sum - 1.0).abs() < 9e-5);
        for (&v, &b) in logits.iter().zip(&q) {
            let e = ((v - max) as f64).exp();
            assert!((b as f64 - 255.0 * e).abs() <= 0.5 + 255.0 * 9e-5, "{e} → {b}");
        }
        assert_eq!(q.iter().filter(|&&b| b == 255).count(), 1, "the maximum maps to 255");
        assert_eq!(&q[37..], &[0, 0, 0]);
    }

    #[test]
    fn softmax_of_an_odd_length_row() {
        let mut r: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let inv = softmax_exp_in_place(&mut r);
        r.iter_mut().for_each(|v| *v *= inv);
        let want_last = 1.0 / (0..37).map(|i| ((i as f64 - 36.0) * 0.5).exp()).sum::<f64>();
        assert!((r[36] as f64 - want_last).abs() < 1e-7);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
