//! The detector's row kernels, written once over [`Simd`] and compiled for each instruction set
//! ([`Isa`]): one output row of a dense convolution (any taps: 1×1 or 3×3, stride 1 or 2) as
//! register tiles of output channels × vectors of pixels, one of a depthwise 3×3, Winograd
//! F(2×2, 3×3)'s input and output transforms for a pair of rows, and the network's input row
//! from 8-bit pixels. Bias and activation run in the epilogues.
//!
//! Maps are laid out as [`super::map::Map`] says: channel-rows of pixels with the zero padding
//! a window reads just outside them, so a tap is one offset from the output pixel's position
//! and reads need no bounds checks.
//!
//! Kernels take no closures: the intrinsics are only inlined into code compiled for their
//! instruction set, and a closure is compiled without it (each call then goes out of line).

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use super::simd::{Isa, Kind, Portable, Simd};

/// Output channels per packed weight block: dense weights are `[block][tap][BLOCK]`.
pub const BLOCK: usize = 8;

/// One output row of a dense `k × k` convolution: `out[co][x] = act_co(bias[co] + Σ_ky Σ_t
/// w[ky][t][co] · in(rows[ky] + offsets[t] + stride · x))`, where `in(p)` is the value at `p`,
/// `x` runs over the row's pixels, the taps `t` over (input channel, kx), and `act_co(v) =
/// max(v, slopes[co] · v)` (slope 1: none, 0: ReLU, else leaky ReLU).
pub struct DenseRow<'a> {
    /// Output pixel 0's input position for a tap of offset 0, in each of the `k` input rows
    /// the window covers (top first; a 1×1 reads `rows[0]` only).
    pub rows: [*const f32; 3],
    pub k: usize,
    /// Each tap's input position within a row, relative to the output pixel's: `ci · pitch +
    /// kx − k / 2`, in (ci, kx) order.
    pub offsets: &'a [isize],
    /// `[block][ky][tap][BLOCK]`, output channels past `cout` zero.
    pub weight: &'a [f32],
    /// Padded to whole blocks, as the slopes.
    pub bias: &'a [f32],
    pub slopes: &'a [f32],
    pub cout: usize,
    /// 1 or 2.
    pub stride: usize,
    /// Pixel 0 of the first output channel; channel `co` starts `co · dst_pitch` after it.
    pub dst: *mut f32,
    pub dst_pitch: usize,
    /// Output pixels.
    pub width: usize,
}

/// One output row of a depthwise 3×3 (padding 1): channel `ch`'s output from its own input.
pub struct DepthwiseRow<'a> {
    /// Pixel 0 of channel 0 in each of the three input rows the window covers, top first.
    pub rows: [*const f32; 3],
    /// From one input channel-row to the next.
    pub pitch: usize,
    /// `[channel][ky·3 + kx]`.
    pub weight: &'a [f32],
    /// Per channel, as [`DenseRow`]'s.
    pub bias: &'a [f32],
    pub slopes: &'a [f32],
    /// 1 or 2.
    pub stride: usize,
    pub channels: usize,
    /// Pixel 0 of channel 0; channel `ch` starts `ch · dst_pitch` after it.
    pub dst: *mut f32,
    pub dst_pitch: usize,
    /// Output pixels.
    pub width: usize,
}

/// Winograd F(2×2, 3×3)'s input transform for one pair of output rows: for each input
/// channel and each tile (2×2 outputs from a 4×4 input patch, tile `t` at output columns `2t`,
/// `2t + 1`), `V = Bᵀ d B`, its 16 values `ξ = 4r + c` written to `v[(ξ · channels + ci) ·
/// tiles_pitch + t]`.
pub struct WinogradIn {
    /// Pixel 0 of channel 0 in each of the four input rows the pair's windows cover.
    pub rows: [*const f32; 4],
    pub pitch: usize,
    pub channels: usize,
    /// Tiles: half the output width, rounded up.
    pub tiles: usize,
    pub v: *mut f32,
    pub tiles_pitch: usize,
    /// From one `ξ` to the next: at least `channels · tiles_pitch`.
    pub plane: usize,
}

/// Winograd F(2×2, 3×3)'s output transform: from `m[ξ · plane + co · tiles_pitch + t]` (the
/// products of the transformed weights and inputs), `Y = Aᵀ M A` plus the bias, activated
/// as [`DenseRow`]'s, into the pair's two output rows (`dst[1]` null: the image's last, odd
/// row).
pub struct WinogradOut<'a> {
    pub m: *const f32,
    pub tiles_pitch: usize,
    /// From one `ξ` to the next: at least `cout · tiles_pitch`.
    pub plane: usize,
    pub bias: &'a [f32],
    pub slopes: &'a [f32],
    pub cout: usize,
    pub dst: [*mut f32; 2],
    pub dst_pitch: usize,
    pub width: usize,
}

/// Runs [`WinogradIn`].
///
/// # Safety
/// For each channel, the four rows are readable from one value before pixel 0 to `2 · tiles
/// rounded up to 16 lanes + 16` values after it; `v` has `16 · plane` writable values,
/// `tiles_pitch` a multiple of 16 at least `tiles`.
pub unsafe fn winograd_in(isa: Isa, a: &WinogradIn) {
    debug_assert!(a.tiles_pitch.is_multiple_of(16) && a.tiles_pitch >= a.tiles);
    debug_assert!(a.plane >= a.channels * a.tiles_pitch);
    // SAFETY: per this function's contract.
    unsafe {
        match isa.kind() {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => x86::winograd_in_avx512(a),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => x86::winograd_in_avx2(a),
            _ => winograd_input::<Portable>(a),
        }
    }
}

/// Runs [`WinogradOut`].
///
/// # Safety
/// `m` has `16 · plane` readable values; `bias` and `slopes` hold `cout`; each output
/// channel-row at `dst[i] + co · dst_pitch` has `width` writable values.
pub unsafe fn winograd_out(isa: Isa, a: &WinogradOut) {
    debug_assert!(a.bias.len() >= a.cout && a.slopes.len() >= a.cout);
    debug_assert!(a.tiles_pitch.is_multiple_of(16) && 2 * a.tiles_pitch >= a.width);
    debug_assert!(a.plane >= a.cout * a.tiles_pitch);
    // SAFETY: per this function's contract.
    unsafe {
        match isa.kind() {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => x86::winograd_out_avx512(a),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => x86::winograd_out_avx2(a),
            _ => winograd_output::<Portable>(a),
        }
    }
}

/// Runs [`DenseRow`].
///
/// # Safety
/// Every `rows[ky] + offsets[t] + stride · x` (`ky < k`) is readable for `x` up to `stride ·
/// (width rounded up to 16 lanes) + 16` (whole vectors are loaded, their spare lanes never
/// stored); `weight` and `bias` cover `cout` rounded up to [`BLOCK`]; channel `co < cout`'s
/// `width` values at `dst` are writable.
pub unsafe fn dense_row(isa: Isa, a: &DenseRow) {
    debug_assert!((1..=3).contains(&a.k));
    debug_assert!(a.weight.len() >= a.cout.next_multiple_of(BLOCK) * a.k * a.offsets.len());
    debug_assert!(a.bias.len() >= a.cout.next_multiple_of(BLOCK) && a.slopes.len() >= a.bias.len());
    // SAFETY: per this function's contract.
    unsafe {
        match isa.kind() {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => x86::dense_avx512(a),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => x86::dense_avx2(a),
            _ => match a.stride {
                2 => dense::<Portable, 4, 1, true>(a),
                _ => dense::<Portable, 4, 1, false>(a),
            },
        }
    }
}

/// Runs [`DepthwiseRow`].
///
/// # Safety
/// For each channel, the three input rows are readable from one value before pixel 0 to
/// `stride · (width rounded up to 16 lanes) + 16` values after it; `weight` holds 9 values,
/// `bias` and `slopes` one per channel; each channel's `width` values at `dst` are writable.
pub unsafe fn depthwise_row(isa: Isa, a: &DepthwiseRow) {
    debug_assert!(a.weight.len() >= 9 * a.channels && a.bias.len() >= a.channels && a.slopes.len() >= a.channels);
    // SAFETY: per this function's contract.
    unsafe {
        match isa.kind() {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => x86::depthwise_avx512(a),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => x86::depthwise_avx2(a),
            _ => match a.stride {
                2 => depthwise::<Portable, true>(a),
                _ => depthwise::<Portable, false>(a),
            },
        }
    }
}

/// The network's input from one row of 8-bit pixels (3 per pixel, `bgr`: in B, G, R order,
/// else R, G, B): FaceX-Zoo's preprocessing, B − 104, G − 117, R − 123, as three channel-rows of
/// `pitch` values (`dst`), pixel `x` at `offset + x`.
pub fn input_row(isa: Isa, px: &[u8], bgr: bool, dst: &mut [f32], pitch: usize, offset: usize) {
    let w = px.len() / 3;
    let (b, rest) = dst.split_at_mut(pitch);
    let (g, r) = rest.split_at_mut(pitch);
    let planes = [&mut b[offset..offset + w], &mut g[offset..offset + w], &mut r[offset..offset + w]];
    match isa.kind() {
        // SAFETY: the CPU has the instructions `isa` names (an `Isa` is only made for them).
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 | Kind::Avx2 => unsafe { x86::input_avx2(px, bgr, planes) },
        _ => input(px, bgr, planes),
    }
}

#[inline(always)]
fn input(px: &[u8], bgr: bool, [b, g, r]: [&mut [f32]; 3]) {
    if bgr { input_in_order::<0, 2>(px, b, g, r) } else { input_in_order::<2, 0>(px, b, g, r) }
}

#[inline(always)]
fn input_in_order<const B: usize, const R: usize>(px: &[u8], b: &mut [f32], g: &mut [f32], r: &mut [f32]) {
    for (((p, b), g), r) in px.chunks_exact(3).zip(b).zip(g).zip(r) {
        *b = p[B] as f32 - 104.0;
        *g = p[1] as f32 - 117.0;
        *r = p[R] as f32 - 123.0;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    /// 8 output channels × 3 vectors: 24 accumulators of the 32 zmm registers.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dense_avx512(a: &DenseRow) {
        // SAFETY: per `dense_row`'s contract.
        unsafe {
            match a.stride {
                2 => dense::<Avx512, 8, 3, true>(a),
                _ => dense::<Avx512, 8, 3, false>(a),
            }
        }
    }

    /// 4 output channels × 3 vectors: 12 accumulators of the 16 ymm registers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dense_avx2(a: &DenseRow) {
        // SAFETY: per `dense_row`'s contract.
        unsafe {
            match a.stride {
                2 => dense::<Avx2, 4, 3, true>(a),
                _ => dense::<Avx2, 4, 3, false>(a),
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn depthwise_avx512(a: &DepthwiseRow) {
        // SAFETY: per `depthwise_row`'s contract.
        unsafe {
            match a.stride {
                2 => depthwise::<Avx512, true>(a),
                _ => depthwise::<Avx512, false>(a),
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn depthwise_avx2(a: &DepthwiseRow) {
        // SAFETY: per `depthwise_row`'s contract.
        unsafe {
            match a.stride {
                2 => depthwise::<Avx2, true>(a),
                _ => depthwise::<Avx2, false>(a),
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn winograd_in_avx512(a: &WinogradIn) {
        // SAFETY: per `winograd_in`'s contract.
        unsafe { winograd_input::<Avx512>(a) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn winograd_in_avx2(a: &WinogradIn) {
        // SAFETY: per `winograd_in`'s contract.
        unsafe { winograd_input::<Avx2>(a) }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn winograd_out_avx512(a: &WinogradOut) {
        // SAFETY: per `winograd_out`'s contract.
        unsafe { winograd_output::<Avx512>(a) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn winograd_out_avx2(a: &WinogradOut) {
        // SAFETY: per `winograd_out`'s contract.
        unsafe { winograd_output::<Avx2>(a) }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn input_avx2(px: &[u8], bgr: bool, planes: [&mut [f32]; 3]) {
        input(px, bgr, planes)
    }
}

/// [`DenseRow`] in tiles of `M` output channels × `NV` vectors (`M` divides [`BLOCK`]; `NV` ≤
/// 3): for each group of vectors, every block of output channels (the group's input stays in
/// cache while the weights stream by in order).
#[inline(always)]
unsafe fn dense<S: Simd, const M: usize, const NV: usize, const S2: bool>(a: &DenseRow) {
    let nvec = a.width.div_ceil(S::LANES);
    let mut v = 0;
    while v < nvec {
        let n = (nvec - v).min(NV);
        for co0 in (0..a.cout).step_by(M) {
            // SAFETY: per `dense_row`'s contract.
            unsafe {
                match n {
                    3 => tile::<S, M, 3, S2>(a, co0, v),
                    2 => tile::<S, M, 2, S2>(a, co0, v),
                    _ => tile::<S, M, 1, S2>(a, co0, v),
                }
            }
        }
        v += n;
    }
}

/// Output channels `co0..co0 + M` (those below `cout` stored) × vectors `v0..v0 + NV`.
#[inline(always)]
unsafe fn tile<S: Simd, const M: usize, const NV: usize, const S2: bool>(a: &DenseRow, co0: usize, v0: usize) {
    let l = S::LANES;
    let x0 = v0 * l;
    let taps = a.k * a.offsets.len();
    // SAFETY: per `dense_row`'s contract: taps read inside the input, weights and bias inside
    // their packed blocks, stores only the first `width` pixels of channels below `cout`.
    // Index loops over the constant M and NV unroll completely, so the accumulators stay in
    // registers (iterator chains with an early exit kept them in memory).
    #[allow(clippy::needless_range_loop)]
    unsafe {
        let mut acc: [[S::V; NV]; M] = [[S::splat(0.0); NV]; M];
        for m in 0..M {
            let b = S::splat(*a.bias.get_unchecked(co0 + m));
            for v in 0..NV {
                acc[m][v] = b;
            }
        }
        // This block's weights, [ky][ci][kx][BLOCK], this tile's outputs from co0 % BLOCK.
        let mut wt = a.weight.as_ptr().add((co0 / BLOCK) * BLOCK * taps + co0 % BLOCK);
        for &row in &a.rows[..a.k] {
            let base = row.add(if S2 { 2 * x0 } else { x0 });
            for &off in a.offsets {
                let p = base.offset(off);
                let mut x = [S::splat(0.0); NV];
                for v in 0..NV {
                    x[v] = if S2 {
                        S::even(S::load(p.add(2 * v * l)), S::load(p.add(2 * v * l + l)))
                    } else {
                        S::load(p.add(v * l))
                    };
                }
                for m in 0..M {
                    let wm = S::splat(*wt.add(m));
                    for v in 0..NV {
                        acc[m][v] = S::fmadd(wm, x[v], acc[m][v]);
                    }
                }
                wt = wt.add(BLOCK);
            }
        }
        let mut lanes = [0usize; NV];
        for v in 0..NV {
            lanes[v] = (a.width - x0 - v * l).min(l);
        }
        for m in 0..M {
            if co0 + m < a.cout {
                let d = a.dst.add((co0 + m) * a.dst_pitch + x0);
                let slope = S::splat(*a.slopes.get_unchecked(co0 + m));
                for v in 0..NV {
                    let y = acc[m][v];
                    S::store_first(d.add(v * l), S::max(y, S::mul(y, slope)), lanes[v]);
                }
            }
        }
    }
}

/// [`DepthwiseRow`], one channel at a time, its 9 weights held in registers.
#[inline(always)]
unsafe fn depthwise<S: Simd, const S2: bool>(a: &DepthwiseRow) {
    let l = S::LANES;
    // SAFETY: per `depthwise_row`'s contract.
    unsafe {
        for ch in 0..a.channels {
            let mut w = [S::splat(0.0); 9];
            for (t, w) in w.iter_mut().enumerate() {
                *w = S::splat(*a.weight.get_unchecked(ch * 9 + t));
            }
            let bias = S::splat(*a.bias.get_unchecked(ch));
            let slope = S::splat(*a.slopes.get_unchecked(ch));
            let rows = [a.rows[0].add(ch * a.pitch), a.rows[1].add(ch * a.pitch), a.rows[2].add(ch * a.pitch)];
            let d = a.dst.add(ch * a.dst_pitch);
            for x0 in (0..a.width).step_by(l) {
                let mut acc = bias;
                for (ky, row) in rows.iter().enumerate() {
                    for kx in 0..3 {
                        let x = if S2 {
                            let p = row.add(2 * x0 + kx).sub(1);
                            S::even(S::load(p), S::load(p.add(l)))
                        } else {
                            S::load(row.add(x0 + kx).sub(1))
                        };
                        acc = S::fmadd(w[ky * 3 + kx], x, acc);
                    }
                }
                S::store_first(d.add(x0), S::max(acc, S::mul(acc, slope)), (a.width - x0).min(l));
            }
        }
    }
}

/// [`WinogradIn`]: per channel and vector of tiles, the 4×4 patches as 16 vectors (two loads
/// per row give the patch columns at even and odd pixels), then `Bᵀ d B` with
/// `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops over constant bounds: registers, no closures
unsafe fn winograd_input<S: Simd>(a: &WinogradIn) {
    let (l, plane) = (S::LANES, a.plane);
    // SAFETY: per `winograd_in`'s contract.
    unsafe {
        for ci in 0..a.channels {
            for t0 in (0..a.tiles).step_by(l) {
                // d[r][c]: column c of the patches = pixel 2t + c − 1 of row r.
                let mut d = [[S::splat(0.0); 4]; 4];
                for (r, d) in d.iter_mut().enumerate() {
                    let p = a.rows[r].add(ci * a.pitch + 2 * t0);
                    let (x0, x1) = (S::load(p.sub(1)), S::load(p.add(l - 1)));
                    let (x2, x3) = (S::load(p.add(1)), S::load(p.add(l + 1)));
                    *d = [S::even(x0, x1), S::odd(x0, x1), S::even(x2, x3), S::odd(x2, x3)];
                }
                // t[c][r] = (Bᵀ d)[r][c]
                let mut t = [[S::splat(0.0); 4]; 4];
                for (c, t) in t.iter_mut().enumerate() {
                    *t = [
                        S::sub(d[0][c], d[2][c]),
                        S::add(d[1][c], d[2][c]),
                        S::sub(d[2][c], d[1][c]),
                        S::sub(d[1][c], d[3][c]),
                    ];
                }
                let out = a.v.add(ci * a.tiles_pitch + t0);
                for r in 0..4 {
                    let v = [
                        S::sub(t[0][r], t[2][r]),
                        S::add(t[1][r], t[2][r]),
                        S::sub(t[2][r], t[1][r]),
                        S::sub(t[1][r], t[3][r]),
                    ];
                    for (c, &x) in v.iter().enumerate() {
                        S::store_first(out.add((4 * r + c) * plane), x, l);
                    }
                }
            }
        }
    }
}

/// [`WinogradOut`]: per output channel and vector of tiles, `Aᵀ M A` with
/// `Aᵀ = [1 1 1 0; 0 1 −1 −1]`, the bias and activation, and each row's two columns
/// interleaved back into pixels.
#[inline(always)]
unsafe fn winograd_output<S: Simd>(a: &WinogradOut) {
    let (l, plane) = (S::LANES, a.plane);
    let tiles = a.width.div_ceil(2);
    // SAFETY: per `winograd_out`'s contract; stores stop at `width` pixels.
    unsafe {
        for co in 0..a.cout {
            let bias = S::splat(*a.bias.get_unchecked(co));
            let slope = S::splat(*a.slopes.get_unchecked(co));
            for t0 in (0..tiles).step_by(l) {
                let src = a.m.add(co * a.tiles_pitch + t0);
                let mut m = [S::splat(0.0); 16];
                for (xi, m) in m.iter_mut().enumerate() {
                    *m = S::load(src.add(xi * plane));
                }
                // s[i][c] = (Aᵀ M)[i][c]
                let mut s = [[S::splat(0.0); 4]; 2];
                for c in 0..4 {
                    s[0][c] = S::add(S::add(m[c], m[4 + c]), m[8 + c]);
                    s[1][c] = S::sub(S::sub(m[4 + c], m[8 + c]), m[12 + c]);
                }
                for (i, row) in s.iter().enumerate() {
                    let dst = a.dst[i];
                    if dst.is_null() {
                        continue;
                    }
                    let y0 = S::add(S::add(S::add(row[0], row[1]), row[2]), bias);
                    let y1 = S::add(S::sub(S::sub(row[1], row[2]), row[3]), bias);
                    let y0 = S::max(y0, S::mul(y0, slope));
                    let y1 = S::max(y1, S::mul(y1, slope));
                    let (lo, hi) = S::interleave(y0, y1);
                    let d = dst.add(co * a.dst_pitch + 2 * t0);
                    let left = a.width - 2 * t0;
                    S::store_first(d, lo, left.min(l));
                    if left > l {
                        S::store_first(d.add(l), hi, (left - l).min(l));
                    }
                }
            }
        }
    }
}
