//! The detector's layers on [`Map`]s: convolutions with their BatchNorm folded in at load
//! (dense 1×1 / 3×3, depthwise 3×3), a depthwise + pointwise pair fused row by row (the
//! depthwise row never leaves the cache), the first convolution straight from 8-bit pixels, and
//! the FPN's upsampled sum. Each runs its output rows over the thread pool, or on the calling
//! thread when the layer is small or the forward runs one frame per thread.

use std::ops::Range;

use rayon::prelude::*;

use super::kernels::{self, Act, BLOCK, DenseRow, DepthwiseRow};
use super::map::{LEFT, Map, clear_frame, with_scratch};
use super::simd::Isa;

/// Layers with fewer multiply-adds than this run on the calling thread (waking the pool costs
/// more).
const PARALLEL_MIN_WORK: usize = 1 << 21;
/// Row chunks per thread: enough to even out threads slowed by other work.
const CHUNKS_PER_THREAD: usize = 4;
/// Output rows of the first layer converted from pixels together (their input rows stay in L2).
const FIRST_LAYER_BAND: usize = 8;

/// A convolution with its BatchNorm folded in: `k × k` (1 or 3), padding `k / 2`.
#[derive(Debug)]
pub struct Conv {
    pub k: usize,
    pub stride: usize,
    pub cin: usize,
    pub cout: usize,
    pub depthwise: bool,
    /// Dense: `[block][tap][BLOCK]` with taps in (ky, ci, kx) order (see [`Conv::offsets`]).
    /// Depthwise: `[channel][ky·3 + kx]`.
    weight: Vec<f32>,
    /// Dense: padded to whole blocks.
    bias: Vec<f32>,
    pub act: Act,
}

/// Output size of a `k`-wide convolution with padding `k / 2` and `stride`.
pub fn out_len(n: usize, k: usize, stride: usize) -> usize {
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
        if k != k2 || (k != 1 && k != 3) || w.len() != cout * cin_g * k * k || !(1..=2).contains(&stride) {
            return Err(format!("unsupported conv weight of shape {shape:?} (stride {stride})"));
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
        let folded = |o: usize, i: usize| (w[o * cin_g * kk + i] as f64 * scale[o]) as f32;
        let (weight, bias) = if depthwise {
            let weight = (0..cout).flat_map(|o| (0..kk).map(move |t| (o, t))).map(|(o, t)| folded(o, t)).collect();
            (weight, shift.iter().map(|&x| x as f32).collect())
        } else {
            let blocks = cout.div_ceil(BLOCK);
            let taps = kk * cin_g;
            let mut weight = vec![0.0f32; blocks * taps * BLOCK];
            for o in 0..cout {
                for ky in 0..k {
                    for ci in 0..cin_g {
                        for kx in 0..k {
                            let t = (ky * cin_g + ci) * k + kx;
                            weight[((o / BLOCK) * taps + t) * BLOCK + o % BLOCK] = folded(o, (ci * k + ky) * k + kx);
                        }
                    }
                }
            }
            let mut bias: Vec<f32> = shift.iter().map(|&x| x as f32).collect();
            bias.resize(blocks * BLOCK, 0.0);
            (weight, bias)
        };
        let cin = if depthwise { cout } else { cin_g };
        Ok(Self { k, stride, cin, cout, depthwise, weight, bias, act })
    }

    /// Output size for an `h × w` input.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        (out_len(h, self.k, self.stride), out_len(w, self.k, self.stride))
    }

    /// Each tap's input position relative to the output pixel's, in an input of `row_stride`
    /// and `pitch`, in the packed weights' (ky, ci, kx) order.
    fn offsets(&self, row_stride: usize, pitch: usize) -> Vec<isize> {
        let (k, pad) = (self.k as isize, (self.k / 2) as isize);
        let mut out = Vec::with_capacity(self.k * self.k * self.cin);
        for ky in 0..k {
            for ci in 0..self.cin as isize {
                for kx in 0..k {
                    out.push((ky - pad) * row_stride as isize + ci * pitch as isize + kx - pad);
                }
            }
        }
        out
    }

    /// A dense convolution of `x` into channels `c0..c0 + cout` of `out`.
    pub fn run(&self, isa: Isa, x: &Map, out: &mut Map, c0: usize, parallel: bool) {
        assert!(!self.depthwise && x.c == self.cin && c0 + self.cout <= out.c);
        assert_eq!((out.h, out.w), self.out_size(x.h, x.w), "output map size");
        let offsets = self.offsets(x.row_stride(), x.pitch);
        let (pitch, w, rs) = (out.pitch, out.w, out.row_stride());
        let work = w * offsets.len() * self.cout;
        for_row_chunks(out, work, parallel, |rows, chunk| {
            for (y, row) in rows.zip(chunk.chunks_exact_mut(rs)) {
                // SAFETY: `out_size` and the map layout: the window of output row `y` is
                // centred on padded input row `stride · y + 1`, whose taps reach one padded row
                // up and down (rows 0..=h + 1 exist) and, along x, from `LEFT - 1` to at most
                // `stride` times the whole vectors of `w` plus one vector, inside the pitch (or
                // the map's slack after its last row). The output channels `c0..c0 + cout` of
                // this row are `row`'s.
                unsafe {
                    kernels::dense_row(
                        isa,
                        &DenseRow {
                            src: x.data.as_ptr().add((self.stride * y + 1) * x.row_stride() + LEFT),
                            offsets: &offsets,
                            weight: &self.weight,
                            bias: &self.bias,
                            cout: self.cout,
                            act: self.act,
                            stride: self.stride,
                            dst: row.as_mut_ptr().add(c0 * pitch + LEFT),
                            dst_pitch: pitch,
                            width: w,
                        },
                    )
                };
                clear_frame(row, pitch, w, c0..c0 + self.cout);
            }
        });
    }
}

/// A depthwise 3×3 then a pointwise 1×1 (MobileNet's `conv_dw`), row by row: each output row's
/// depthwise row lives in a small buffer the pointwise product reads right away.
pub struct Separable {
    pub depthwise: Conv,
    pub pointwise: Conv,
}

impl Separable {
    pub fn new(depthwise: Conv, pointwise: Conv) -> Result<Self, String> {
        if !depthwise.depthwise || pointwise.depthwise || pointwise.k != 1 || pointwise.cin != depthwise.cout {
            return Err("not a depthwise 3×3 then a 1×1 of its channels".into());
        }
        Ok(Self { depthwise, pointwise })
    }

    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.depthwise.out_size(h, w)
    }

    pub fn cout(&self) -> usize {
        self.pointwise.cout
    }

    pub fn run(&self, isa: Isa, x: &Map, out: &mut Map, parallel: bool) {
        let (dw, pw) = (&self.depthwise, &self.pointwise);
        assert!(x.c == dw.cin && out.c == pw.cout);
        assert_eq!((out.h, out.w), dw.out_size(x.h, x.w), "output map size");
        let (pitch, w, rs) = (out.pitch, out.w, out.row_stride());
        let mid_pitch = Map::pitch_for(w);
        let offsets = pw.offsets(0, mid_pitch);
        let work = w * dw.cin * (9 + pw.cout);
        for_row_chunks(out, work, parallel, |rows, chunk| {
            with_scratch(dw.cin * mid_pitch, |mid| {
                // The depthwise row, framed by zeros as a map row (the kernel writes only pixels).
                clear_frame(mid, mid_pitch, w, 0..dw.cin);
                for (y, row) in rows.zip(chunk.chunks_exact_mut(rs)) {
                    // SAFETY: as in `Conv::run` for the depthwise window on `x`; the pointwise
                    // taps read whole vectors of `mid`'s channel-rows, inside its pitch.
                    unsafe {
                        kernels::depthwise_row(
                            isa,
                            &DepthwiseRow {
                                src: x.data.as_ptr().add((dw.stride * y + 1) * x.row_stride() + LEFT),
                                row_stride: x.row_stride(),
                                pitch: x.pitch,
                                weight: &dw.weight,
                                bias: &dw.bias,
                                act: dw.act,
                                stride: dw.stride,
                                channels: dw.cin,
                                dst: mid.as_mut_ptr().add(LEFT),
                                dst_pitch: mid_pitch,
                                width: w,
                            },
                        );
                        kernels::dense_row(
                            isa,
                            &DenseRow {
                                src: mid.as_ptr().add(LEFT),
                                offsets: &offsets,
                                weight: &pw.weight,
                                bias: &pw.bias,
                                cout: pw.cout,
                                act: pw.act,
                                stride: 1,
                                dst: row.as_mut_ptr().add(LEFT),
                                dst_pitch: pitch,
                                width: w,
                            },
                        );
                    }
                    clear_frame(row, pitch, w, 0..pw.cout);
                }
            })
        });
    }
}

/// The first convolution (3×3, 3 channels in) straight from 8-bit pixels (`width · height ·
/// 3`, B, G, R order if `bgr`): bands of output rows convert their input rows into a small map
/// of their own, so the network's input never exists as a whole.
#[allow(clippy::too_many_arguments)]
pub fn first_layer(
    conv: &Conv,
    isa: Isa,
    pixels: &[u8],
    width: usize,
    height: usize,
    bgr: bool,
    out: &mut Map,
    parallel: bool,
) {
    assert!(!conv.depthwise && conv.cin == 3 && conv.k == 3 && out.c == conv.cout);
    assert_eq!(pixels.len(), width * height * 3);
    assert_eq!((out.h, out.w), conv.out_size(height, width), "output map size");
    let (s, pitch, w, rs) = (conv.stride, out.pitch, out.w, out.row_stride());
    let in_pitch = Map::pitch_for(width);
    let in_rs = 3 * in_pitch;
    let offsets = conv.offsets(in_rs, in_pitch);
    let work = w * offsets.len() * conv.cout;
    // Padded input rows s·y0 ..= s·(y0 + band − 1) + 2 of each band, plus a vector of slack.
    let band_len = (s * FIRST_LAYER_BAND + 2) * in_rs + 32;
    for_row_chunks(out, work, parallel, |rows, chunk| {
        with_scratch(band_len, |band| {
            let y_end = rows.end;
            for (b, out_rows) in chunk.chunks_mut(FIRST_LAYER_BAND * rs).enumerate() {
                let y0 = rows.start + b * FIRST_LAYER_BAND;
                let n = out_rows.len() / rs;
                debug_assert!(y0 + n <= y_end);
                for (j, dst) in band.chunks_exact_mut(in_rs).take(s * (n - 1) + 3).enumerate() {
                    // Padded row r = image row r − 1.
                    match (s * y0 + j).checked_sub(1).filter(|&iy| iy < height) {
                        Some(iy) => {
                            clear_frame(dst, in_pitch, width, 0..3);
                            kernels::input_row(
                                isa,
                                &pixels[iy * width * 3..(iy + 1) * width * 3],
                                bgr,
                                dst,
                                in_pitch,
                                LEFT,
                            )
                        }
                        None => dst.fill(0.0),
                    }
                }
                for (i, row) in out_rows.chunks_exact_mut(rs).enumerate() {
                    // SAFETY: as in `Conv::run`, on the band: output row `y0 + i`'s window is
                    // centred on band row `s · i + 1`, and the band holds rows up to `s · (n − 1) +
                    // 2` and slack after them.
                    unsafe {
                        kernels::dense_row(
                            isa,
                            &DenseRow {
                                src: band.as_ptr().add((s * i + 1) * in_rs + LEFT),
                                offsets: &offsets,
                                weight: &conv.weight,
                                bias: &conv.bias,
                                cout: conv.cout,
                                act: conv.act,
                                stride: s,
                                dst: row.as_mut_ptr().add(LEFT),
                                dst_pitch: pitch,
                                width: w,
                            },
                        )
                    };
                    clear_frame(row, pitch, w, 0..conv.cout);
                }
            }
        })
    });
}

/// `a += nearest-upsampled(b)` to `a`'s size, as `F.interpolate(mode="nearest")`: source index
/// `floor(dst · in/out)` in f32.
pub fn add_upsampled(a: &mut Map, b: &Map, parallel: bool) {
    assert_eq!(a.c, b.c);
    let (sy, sx) = (b.h as f32 / a.h as f32, b.w as f32 / a.w as f32);
    let xs: Vec<usize> = (0..a.w).map(|x| ((x as f32 * sx).floor() as usize).min(b.w - 1)).collect();
    let (c, pitch, w, rs) = (a.c, a.pitch, a.w, a.row_stride());
    for_row_chunks(a, w * c, parallel, |rows, chunk| {
        for (y, row) in rows.zip(chunk.chunks_exact_mut(rs)) {
            let by = ((y as f32 * sy).floor() as usize).min(b.h - 1);
            for ch in 0..c {
                let dst = &mut row[ch * pitch + LEFT..][..w];
                let src = &b.data[((by + 1) * c + ch) * b.pitch + LEFT..][..b.w];
                for (d, &sxi) in dst.iter_mut().zip(&xs) {
                    *d += src[sxi];
                }
            }
        }
    });
}

/// Calls `f(rows, values)` over chunks of `out`'s image rows (`values`: theirs, row after row):
/// over the pool when `parallel` and the layer has `work_per_row · h` multiply-adds enough to
/// pay for it, else once on this thread.
fn for_row_chunks(
    out: &mut Map,
    work_per_row: usize,
    parallel: bool,
    f: impl Fn(Range<usize>, &mut [f32]) + Sync + Send,
) {
    let (h, rs) = (out.h, out.row_stride());
    let threads = rayon::current_num_threads();
    let rows = out.rows_mut();
    if !parallel || threads == 1 || work_per_row * h < PARALLEL_MIN_WORK {
        return f(0..h, rows);
    }
    let per_chunk = h.div_ceil(threads * CHUNKS_PER_THREAD);
    rows.par_chunks_mut(per_chunk * rs).enumerate().for_each(|(i, chunk)| {
        let y0 = i * per_chunk;
        f(y0..y0 + chunk.len() / rs, chunk)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retinaface::map::Workspace;

    /// A map from `h × w × c` values, channels innermost (the reference's layout).
    fn map_from_hwc(h: usize, w: usize, c: usize, hwc: &[f32]) -> Map {
        let mut m = Map::zeros(h, w, c);
        let pitch = m.pitch;
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    m.data[((y + 1) * c + ch) * pitch + LEFT + x] = hwc[(y * w + x) * c + ch];
                }
            }
        }
        m
    }

    /// Direct convolution over NHWC values and torch weights, in f64: the reference.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        (h, w, c): (usize, usize, usize),
        wt: &[f32],
        cout: usize,
        k: usize,
        s: usize,
        groups: usize,
        act: Act,
    ) -> Vec<f32> {
        let (oh, ow) = (out_len(h, k, s), out_len(w, k, s));
        let cin_g = c / groups;
        let pad = (k / 2) as isize;
        let mut y = vec![0f32; oh * ow * cout];
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let g = o / (cout / groups);
                    let mut acc = 0.0f64;
                    for ci in 0..cin_g {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = ((oy * s + ky) as isize - pad, (ox * s + kx) as isize - pad);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += x[(iy as usize * w + ix as usize) * c + g * cin_g + ci] as f64
                                        * wt[((o * cin_g + ci) * k + ky) * k + kx] as f64;
                                }
                            }
                        }
                    }
                    let v = acc as f32;
                    y[(oy * ow + ox) * cout + o] = match act {
                        Act::None => v,
                        Act::Relu => v.max(0.0),
                        Act::Leaky(sl) => v.max(v * sl),
                    };
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

    /// Largest difference between `got` (channels `c0..c0 + cout` of a map) and the NHWC `want`.
    fn max_err(got: &Map, c0: usize, cout: usize, want: &[f32]) -> f32 {
        let mut err = 0.0f32;
        for y in 0..got.h {
            for x in 0..got.w {
                for o in 0..cout {
                    err = err.max((got.at(y, c0 + o, x) - want[(y * got.w + x) * cout + o]).abs());
                }
            }
        }
        err
    }

    /// Every value outside the pixels is zero (the next layer's padding).
    fn frame_is_zero(m: &Map) -> bool {
        let rs = m.row_stride();
        (0..(m.h + 2) * rs).all(|i| {
            let (r, ch_off) = (i / rs, i % rs);
            let off = ch_off % m.pitch;
            let pixel = r >= 1 && r <= m.h && off >= LEFT && off < LEFT + m.w;
            pixel || m.data[i] == 0.0
        })
    }

    #[test]
    fn convolutions_match_the_direct_reference() {
        // Widths around the vector sizes (8, 16 lanes) and a 3-tile row; odd heights.
        for (h, w) in [(13, 10), (5, 33), (4, 50), (3, 1)] {
            let c = 6;
            let xs = pseudo(h * w * c, 1);
            for (k, s, cout, act) in [
                (3, 1, 5, Act::None),
                (3, 2, 5, Act::Relu),
                (1, 1, 5, Act::Leaky(0.1)),
                (3, 1, 80, Act::Leaky(0.1)),
                (3, 2, 80, Act::None),
                (1, 1, 70, Act::None),
                (1, 1, 8, Act::Relu),
                (3, 1, 16, Act::None),
            ] {
                let wt = pseudo(cout * c * k * k, 7);
                let bias = pseudo(cout, 9);
                let conv = Conv::new(&wt, &[cout, c, k, k], Some(&bias), None, s, act).unwrap();
                let mut want = reference(&xs, (h, w, c), &wt, cout, k, s, 1, Act::None);
                for (i, v) in want.iter_mut().enumerate() {
                    let v2 = *v + bias[i % cout];
                    *v = match act {
                        Act::None => v2,
                        Act::Relu => v2.max(0.0),
                        Act::Leaky(sl) => v2.max(v2 * sl),
                    };
                }
                let x = map_from_hwc(h, w, c, &xs);
                let (oh, ow) = conv.out_size(h, w);
                for isa in Isa::available() {
                    for c0 in [0, 3] {
                        let mut out = Map::zeros(oh, ow, c0 + cout);
                        conv.run(isa, &x, &mut out, c0, true);
                        let err = max_err(&out, c0, cout, &want);
                        assert!(err < 1e-5, "{h}x{w} k={k} s={s} cout={cout} {isa:?}: {err}");
                        assert!(frame_is_zero(&out));
                    }
                }
            }
        }
    }

    #[test]
    fn separable_pairs_match_the_reference() {
        for (h, w, c, s, cout) in [(9, 35, 8, 1, 16), (9, 35, 16, 2, 32), (6, 20, 24, 2, 8), (7, 17, 5, 1, 3)] {
            let xs = pseudo(h * w * c, 3);
            let (dwt, pwt) = (pseudo(c * 9, 4), pseudo(cout * c, 5));
            let dw = Conv::new(&dwt, &[c, 1, 3, 3], None, None, s, Act::Leaky(0.1)).unwrap();
            let pw = Conv::new(&pwt, &[cout, c, 1, 1], None, None, 1, Act::Leaky(0.1)).unwrap();
            let mid = reference(&xs, (h, w, c), &dwt, c, 3, s, c, Act::Leaky(0.1));
            let (oh, ow) = (out_len(h, 3, s), out_len(w, 3, s));
            let want = reference(&mid, (oh, ow, c), &pwt, cout, 1, 1, 1, Act::Leaky(0.1));
            let pair = Separable::new(dw, pw).unwrap();
            let x = map_from_hwc(h, w, c, &xs);
            for isa in Isa::available() {
                for parallel in [false, true] {
                    // A buffer that held other values: the frame must be rewritten.
                    let mut ws = Workspace::default();
                    let mut dirty = ws.map(oh + 3, ow + 5, cout);
                    dirty.data.fill(7.0);
                    ws.recycle(dirty);
                    let mut out = ws.map(oh, ow, cout);
                    pair.run(isa, &x, &mut out, parallel);
                    let err = max_err(&out, 0, cout, &want);
                    assert!(err < 1e-5, "{h}x{w}x{c} s={s} {isa:?}: {err}");
                    assert!(frame_is_zero(&out), "{isa:?}: frame");
                }
            }
        }
    }

    #[test]
    fn first_layer_from_pixels() {
        for (h, w) in [(11, 37), (8, 64), (5, 3)] {
            let px: Vec<u8> = pseudo(h * w * 3, 2).iter().map(|v| ((v + 0.5) * 255.0) as u8).collect();
            let wt = pseudo(8 * 27, 6);
            let conv = Conv::new(&wt, &[8, 3, 3, 3], None, None, 2, Act::Leaky(0.1)).unwrap();
            for bgr in [true, false] {
                let (b, r) = if bgr { (0, 2) } else { (2, 0) };
                let xs: Vec<f32> = px
                    .chunks_exact(3)
                    .flat_map(|p| [p[b] as f32 - 104.0, p[1] as f32 - 117.0, p[r] as f32 - 123.0])
                    .collect();
                let want = reference(&xs, (h, w, 3), &wt, 8, 3, 2, 1, Act::Leaky(0.1));
                let (oh, ow) = conv.out_size(h, w);
                for isa in Isa::available() {
                    let mut out = Map::zeros(oh, ow, 8);
                    first_layer(&conv, isa, &px, w, h, bgr, &mut out, true);
                    let err = max_err(&out, 0, 8, &want);
                    assert!(err < 1e-4, "{h}x{w} {isa:?}: {err}");
                }
            }
        }
    }

    #[test]
    fn batchnorm_folding() {
        let xs = pseudo(32, 3);
        let w = pseudo(2 * 2, 5);
        let (g, b, m, v) = ([2.0f32, 0.5], [0.1f32, -0.2], [0.3f32, 0.0], [4.0f32, 0.25]);
        let conv = Conv::new(&w, &[2, 2, 1, 1], None, Some([&g, &b, &m, &v]), 1, Act::None).unwrap();
        let mut y = Map::zeros(4, 4, 2);
        conv.run(Isa::detect(), &map_from_hwc(4, 4, 2, &xs), &mut y, 0, false);
        let plain = reference(&xs, (4, 4, 2), &w, 2, 1, 1, 1, Act::None);
        for (i, &p) in plain.iter().enumerate() {
            let (px, o) = (i / 2, i % 2);
            let want = (p - m[o]) / (v[o] + 1e-5).sqrt() * g[o] + b[o];
            assert!((y.at(px / 4, o, px % 4) - want).abs() < 1e-5);
        }
    }

    #[test]
    fn upsampled_sum() {
        let (a_hw, b_hw) = ((7, 9), (4, 5));
        let bx = pseudo(4 * 5 * 3, 8);
        let b = map_from_hwc(b_hw.0, b_hw.1, 3, &bx);
        let mut a = Map::zeros(a_hw.0, a_hw.1, 3);
        add_upsampled(&mut a, &b, false);
        for y in 0..7 {
            for x in 0..9 {
                let (sy, sx) = ((y as f32 * (4.0 / 7.0)).floor() as usize, (x as f32 * (5.0 / 9.0)).floor() as usize);
                for ch in 0..3 {
                    assert_eq!(a.at(y, ch, x), b.at(sy, ch, sx));
                }
            }
        }
    }
}
