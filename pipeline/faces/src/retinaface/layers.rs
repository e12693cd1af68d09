//! The detector's layers on [`Map`]s: convolutions with their BatchNorm folded in at load
//! (dense 1×1 / 3×3 — 3×3s of 32 outputs or more by Winograd —, depthwise 3×3), a depthwise +
//! pointwise pair fused row by row (the depthwise row never leaves the cache), and the FPN's
//! upsampled sum. Each runs its output rows over the thread pool, or on the calling thread when
//! the layer is small or the forward runs one frame per thread. [`super::chain`] streams them.

use std::ops::Range;

use rayon::prelude::*;

use super::kernels::{self, BLOCK, DenseRow, DepthwiseRow};
use super::map::{LEFT, Map, with_scratch};
use super::simd::Isa;
use super::winograd::Winograd;

/// Layers with fewer multiply-adds than this run on the calling thread (waking the pool costs
/// more).
const PARALLEL_MIN_WORK: usize = 1 << 21;
/// Row chunks per thread: enough to even out threads slowed by other work.
const CHUNKS_PER_THREAD: usize = 4;
/// 3×3 stride-1 convolutions with at least this many outputs run by Winograd's F(2×2, 3×3)
/// (below, the input transform costs more than the products it saves).
const WINOGRAD_MIN_COUT: usize = 32;

/// The activation after a convolution's bias.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    None,
    Relu,
    /// Leaky ReLU of this negative slope, in [0, 1].
    Leaky(f32),
}

impl Act {
    /// Every activation here is `max(x, slope · x)`: slope 1 for none, 0 for ReLU (the
    /// kernels' branch-free epilogues).
    fn slope(self) -> f32 {
        match self {
            Act::None => 1.0,
            Act::Relu => 0.0,
            Act::Leaky(s) => s,
        }
    }
}

/// A convolution's weights in torch's layout `(cout, cin/groups, k, k)` with its BatchNorm
/// folded in (in f64), its bias, and each output's activation slope: what [`Conv`]s are built
/// from, alone or stacked.
#[derive(Debug, Clone)]
pub struct Folded {
    cout: usize,
    cin_g: usize,
    k: usize,
    w: Vec<f64>,
    bias: Vec<f64>,
    slopes: Vec<f32>,
}

impl Folded {
    /// From a torch weight `(cout, cin/groups, k, k)`, its bias (or zeros), a BatchNorm
    /// (`gamma, beta, mean, var`, eps 1e-5) to fold in, and the activation.
    pub fn new(
        w: &[f32],
        shape: &[usize],
        bias: Option<&[f32]>,
        bn: Option<[&[f32]; 4]>,
        act: Act,
    ) -> Result<Self, String> {
        let &[cout, cin_g, k, k2] = shape else { return Err(format!("conv weight of shape {shape:?}")) };
        if k != k2 || (k != 1 && k != 3) || w.len() != cout * cin_g * k * k || cout == 0 {
            return Err(format!("unsupported conv weight of shape {shape:?}"));
        }
        let mut scale = vec![1.0f64; cout];
        let mut shift: Vec<f64> = bias.map_or_else(|| vec![0.0; cout], |b| b.iter().map(|&x| x as f64).collect());
        if shift.len() != cout {
            return Err(format!("bias of {} values for {cout} outputs", shift.len()));
        }
        if let Some([gamma, beta, mean, var]) = bn {
            if [gamma, beta, mean, var].iter().any(|p| p.len() != cout) {
                return Err(format!("BatchNorm of the wrong size for {cout} outputs"));
            }
            for o in 0..cout {
                let s = gamma[o] as f64 / (var[o] as f64 + 1e-5).sqrt();
                scale[o] = s;
                shift[o] = (shift[o] - mean[o] as f64) * s + beta[o] as f64;
            }
        }
        let per = cin_g * k * k;
        let w = w.iter().enumerate().map(|(i, &v)| v as f64 * scale[i / per]).collect();
        Ok(Self { cout, cin_g, k, w, bias: shift, slopes: vec![act.slope(); cout] })
    }

    /// `a`'s outputs then `b`'s: two convolutions of the same input as one (it reads, and
    /// transforms, the input once).
    pub fn stack(a: Folded, b: Folded) -> Result<Self, String> {
        if (a.cin_g, a.k) != (b.cin_g, b.k) {
            return Err("stacked convolutions must share their input and kernel size".into());
        }
        let cat = |x: Vec<f64>, y: Vec<f64>| [x, y].concat();
        Ok(Self {
            cout: a.cout + b.cout,
            cin_g: a.cin_g,
            k: a.k,
            w: cat(a.w, b.w),
            bias: cat(a.bias, b.bias),
            slopes: [a.slopes, b.slopes].concat(),
        })
    }
}

/// A convolution with its BatchNorm folded in: `k × k` (1 or 3), padding `k / 2`.
#[derive(Debug)]
pub struct Conv {
    pub k: usize,
    pub stride: usize,
    pub cin: usize,
    pub cout: usize,
    /// Each output's activation slope ([`Act`]), padded to whole blocks.
    slopes: Vec<f32>,
    form: Form,
}

/// How a convolution computes, and its weights in that form.
#[derive(Debug)]
enum Form {
    /// Direct sums: weights `[block][ky][tap][BLOCK]` with taps in (ci, kx) order (see
    /// [`Conv::offsets`]), the bias padded to whole blocks.
    Dense { weight: Vec<f32>, bias: Vec<f32> },
    /// Each channel from its own: weights `[channel][ky·3 + kx]`.
    Depthwise { weight: Vec<f32>, bias: Vec<f32> },
    /// Dense 3×3 at stride 1.
    Winograd(Winograd),
}

/// Output size of a `k`-wide convolution with padding `k / 2` and `stride`.
pub fn out_len(n: usize, k: usize, stride: usize) -> usize {
    (n + 2 * (k / 2) - k) / stride + 1
}

/// Where a layer reads or writes a map's rows: pixel 0 of channel `c0` of each padded row.
/// Layers that read and write different channels of one map at once go through it (and never
/// make references to the rows).
#[derive(Clone, Copy)]
struct Rows {
    base: *mut f32,
    rs: usize,
    pitch: usize,
    /// Padded rows.
    rows: usize,
}

// SAFETY: the layers that share a `Rows` between threads write disjoint rows (or channels)
// and read only values no thread writes during the layer.
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

impl Rows {
    /// Channels from `c0` of `m`, for reading only.
    fn of(m: &Map, c0: usize) -> Self {
        assert!(c0 <= m.c);
        Self {
            base: m.data[c0 * m.pitch + LEFT..].as_ptr().cast_mut(),
            rs: m.row_stride(),
            pitch: m.pitch,
            rows: m.h + 2,
        }
    }

    /// Channels from `c0` of `m`.
    fn of_mut(m: &mut Map, c0: usize) -> Self {
        let (rs, pitch, rows) = (m.row_stride(), m.pitch, m.h + 2);
        assert!(c0 <= m.c);
        Self { base: m.data[c0 * pitch + LEFT..].as_mut_ptr(), rs, pitch, rows }
    }

    /// The same rows from channel `c` on (of the view).
    fn channel(self, c: usize) -> Self {
        // SAFETY: channel-row c of padded row 0, inside the map for the callers' channels.
        Self { base: unsafe { self.base.add(c * self.pitch) }, ..self }
    }

    /// Padded row `p`.
    fn at(&self, p: usize) -> *mut f32 {
        assert!(p < self.rows);
        // SAFETY: inside the map (row p of its rows).
        unsafe { self.base.add(p * self.rs) }
    }

    /// Writes the padding of channels `0..channels` of padded row `p` (`w` pixels).
    ///
    /// # Safety
    /// No other thread touches those channels of that row.
    unsafe fn zero_padding(&self, p: usize, channels: usize, w: usize) {
        let row = self.at(p);
        for ch in 0..channels {
            // SAFETY: the values just before and after the channel-row's pixels, inside it.
            unsafe {
                *row.add(ch * self.pitch).sub(1) = 0.0;
                *row.add(ch * self.pitch + w) = 0.0;
            }
        }
    }
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
        Self::from_folded(Folded::new(w, shape, bias, bn, act)?, stride)
    }

    /// The convolution of `f` at `stride` (1 or 2), its weights laid out for how it computes:
    /// depthwise for one input channel per output, Winograd for 3×3 stride 1 with enough
    /// outputs, direct sums otherwise.
    pub fn from_folded(f: Folded, stride: usize) -> Result<Self, String> {
        let Folded { cout, cin_g, k, w, bias, mut slopes } = f;
        if !(1..=2).contains(&stride) {
            return Err(format!("stride {stride}"));
        }
        let depthwise = cin_g == 1 && k == 3 && cout > 1;
        let kk = k * k;
        let folded = |o: usize, i: usize| w[o * cin_g * kk + i];
        let bias: Vec<f32> = bias.iter().map(|&x| x as f32).collect();
        let blocks = cout.div_ceil(BLOCK);
        let form = if depthwise {
            Form::Depthwise { weight: w.iter().map(|&v| v as f32).collect(), bias }
        } else if k == 3 && stride == 1 && cout >= WINOGRAD_MIN_COUT {
            let slopes = slopes.clone();
            Form::Winograd(Winograd::new(|o, ci, ky, kx| folded(o, (ci * 3 + ky) * 3 + kx), cin_g, cout, bias, slopes))
        } else {
            let taps = kk * cin_g;
            let mut weight = vec![0.0f32; blocks * taps * BLOCK];
            for o in 0..cout {
                for ky in 0..k {
                    for ci in 0..cin_g {
                        for kx in 0..k {
                            let t = (ky * cin_g + ci) * k + kx;
                            weight[((o / BLOCK) * taps + t) * BLOCK + o % BLOCK] =
                                folded(o, (ci * k + ky) * k + kx) as f32;
                        }
                    }
                }
            }
            let mut bias = bias;
            bias.resize(blocks * BLOCK, 0.0);
            Form::Dense { weight, bias }
        };
        slopes.resize(blocks * BLOCK, 1.0);
        let cin = if depthwise { cout } else { cin_g };
        Ok(Self { k, stride, cin, cout, slopes, form })
    }

    pub fn is_depthwise(&self) -> bool {
        matches!(self.form, Form::Depthwise { .. })
    }

    /// Output size for an `h × w` input.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        (out_len(h, self.k, self.stride), out_len(w, self.k, self.stride))
    }

    /// Each tap's input position within a row relative to the output pixel's, for an input
    /// of `pitch`, in the packed weights' (ci, kx) order; input channel `ci` is channel-row
    /// `channel(ci)` of the input.
    fn offsets_over(&self, pitch: usize, channel: impl Fn(usize) -> usize) -> Vec<isize> {
        let pad = (self.k / 2) as isize;
        (0..self.cin)
            .flat_map(|ci| (0..self.k as isize).map(move |kx| (ci, kx)))
            .map(|(ci, kx)| (channel(ci) * pitch) as isize + kx - pad)
            .collect()
    }

    /// [`Conv::offsets_over`] the input's first `cin` channels.
    pub(super) fn offsets(&self, pitch: usize) -> Vec<isize> {
        self.offsets_over(pitch, |ci| ci)
    }

    /// The input rows output row `y`'s window covers, from `row(p)` (padded row `p`'s pixel 0).
    fn window(&self, y: usize, row: impl Fn(usize) -> *const f32) -> [*const f32; 3] {
        // Image row i is padded row i + 1; the window starts at image row stride·y − k/2.
        let top = self.stride * y + 1 - self.k / 2;
        std::array::from_fn(|ky| row(top + ky.min(self.k - 1)))
    }

    /// One output row from its input rows (`rows`, as [`DenseRow`]'s) of `pitch`.
    ///
    /// # Safety
    /// The input rows are rows of the map layout whose pixel 0 is `rows[ky]`, channel-rows
    /// `offsets` (from [`Conv::offsets_over`]`(pitch, …)`) apart, followed by a vector of
    /// readable values; `dst` holds `cout` channel-rows of `dst_pitch` with `width` writable
    /// pixels from `dst`.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn row(
        &self,
        isa: Isa,
        rows: [*const f32; 3],
        offsets: &[isize],
        dst: *mut f32,
        dst_pitch: usize,
        width: usize,
    ) {
        let Form::Dense { weight, bias } = &self.form else { unreachable!("a direct row of a {:?} conv", self.form) };
        let a = DenseRow {
            rows,
            k: self.k,
            offsets,
            weight,
            bias,
            slopes: &self.slopes,
            cout: self.cout,
            stride: self.stride,
            dst,
            dst_pitch,
            width,
        };
        // SAFETY: the window reads, along x, from `k/2` values before pixel 0 to `stride`
        // times the whole vectors of `width` plus one vector (`out_size`), inside the input's
        // pitch and the vector after it (this function's contract).
        unsafe { kernels::dense_row(isa, &a) }
    }

    /// A dense convolution of `x` into channels `c0..c0 + cout` of `out`.
    pub fn run(&self, isa: Isa, x: &Map, out: &mut Map, c0: usize, parallel: bool) {
        assert!(!self.is_depthwise() && x.c >= self.cin && c0 + self.cout <= out.c);
        assert_eq!((out.h, out.w), self.out_size(x.h, x.w), "output map size");
        let (h, w) = (out.h, out.w);
        // SAFETY: `x` and `out` are different maps; `x` is only read.
        unsafe { self.run_rows(isa, Rows::of(x, 0), (x.h, x.w), Rows::of_mut(out, c0), (h, w), parallel) }
    }

    /// A dense convolution of channels `from..from + cin` of `m` into its channels `to..to +
    /// cout` (which must not overlap them): SSH's branches reading each other in one map.
    pub fn run_in_place(&self, isa: Isa, m: &mut Map, from: usize, to: usize, parallel: bool) {
        assert!(!self.is_depthwise() && self.stride == 1 && from + self.cin <= m.c && to + self.cout <= m.c);
        assert!(from + self.cin <= to || to + self.cout <= from, "overlapping channels");
        let size = (m.h, m.w);
        let rows = Rows::of_mut(m, 0);
        let (input, output) = (rows.channel(from), rows.channel(to));
        // SAFETY: the layer reads only channels from..from + cin and writes only channels
        // to..to + cout, disjoint; both views come from `m`, borrowed for the whole layer.
        unsafe { self.run_rows(isa, input, size, output, size, parallel) }
    }

    /// The output rows of `output` (of `size`) from `input` (`in_size`).
    ///
    /// # Safety
    /// `input`'s channels are only read, `output`'s only written, by this layer: they do not
    /// overlap; both follow the map layout.
    unsafe fn run_rows(
        &self,
        isa: Isa,
        input: Rows,
        in_size: (usize, usize),
        output: Rows,
        (h, w): (usize, usize),
        parallel: bool,
    ) {
        let chunks = chunk_count(w * self.k * self.k * self.cin * self.cout, h, parallel);
        let in_rows = |p: usize| input.at(p).cast_const();
        if let Form::Winograd(wg) = &self.form {
            // Pairs of output rows, from padded input rows 2j..=2j + 3 (past the bottom zero
            // row for an odd height: a zero row of the scratch).
            let zero_len = self.cin * input.pitch + 2 * LEFT;
            for_row_ranges(h, chunks, 2, |rows| {
                with_scratch(wg.scratch_len(w) + zero_len, |scratch| {
                    let (scratch, zero) = scratch.split_at_mut(wg.scratch_len(w));
                    zero.fill(0.0);
                    let zero = zero[LEFT..].as_ptr();
                    for y in rows.step_by(2) {
                        let window = std::array::from_fn(|r| if y + r < in_size.0 + 2 { in_rows(y + r) } else { zero });
                        let dst = [output.at(y + 1), if y + 1 < h { output.at(y + 2) } else { std::ptr::null_mut() }];
                        // SAFETY: the map layout (rows followed by further rows, the slack,
                        // or the zero row and its margin); the two output rows are this
                        // chunk's, in channels no one reads during the layer.
                        unsafe {
                            wg.row_pair(isa, window, input.pitch, dst, output.pitch, w, scratch);
                            for p in (y + 1)..(y + 3).min(h + 1) {
                                output.zero_padding(p, self.cout, w);
                            }
                        }
                    }
                })
            });
            return;
        }
        let offsets = self.offsets(input.pitch);
        for_row_ranges(h, chunks, 1, |rows| {
            for y in rows {
                // SAFETY: the window of an output row of `out_size` stays within padded rows
                // 0..=h + 1 of the input, rows followed by further rows or the slack; the
                // output row is this chunk's, in channels no one reads during the layer.
                unsafe {
                    self.row(isa, self.window(y, in_rows), &offsets, output.at(y + 1), output.pitch, w);
                    output.zero_padding(y + 1, self.cout, w);
                }
            }
        });
    }

    /// Output row `y` of a 1×1 over the channels `channels` of `x` into `dst` (`cout`
    /// channel-rows of [`Map::pitch_for`]`(x.w)`): the heads, whose outputs become priors
    /// right away.
    pub fn row_over(&self, isa: Isa, x: &Map, offsets: &[isize], y: usize, dst: &mut [f32]) {
        assert!(self.k == 1 && self.stride == 1 && y < x.h && offsets.len() == self.cin);
        let pitch = Map::pitch_for(x.w);
        assert!(dst.len() >= self.cout * pitch);
        // SAFETY: `offsets` come from `heads_offsets` over channels of `x` (checked there);
        // `dst` holds the output channel-rows.
        unsafe { self.row(isa, [x.row_ptr(y + 1); 3], offsets, dst[LEFT..].as_mut_ptr(), pitch, x.w) }
    }

    /// The taps of a 1×1 over channels `channels` of `x`, for [`Conv::row_over`].
    pub fn heads_offsets(&self, x: &Map, channels: &[usize]) -> Vec<isize> {
        assert!(self.k == 1 && channels.len() == self.cin && channels.iter().all(|&c| c < x.c));
        self.offsets_over(x.pitch, |ci| channels[ci])
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
        if !depthwise.is_depthwise() || pointwise.is_depthwise() || pointwise.k != 1 || pointwise.cin != depthwise.cout
        {
            return Err("not a depthwise 3×3 then a 1×1 of its channels".into());
        }
        Ok(Self { depthwise, pointwise })
    }

    pub fn cout(&self) -> usize {
        self.pointwise.cout
    }

    /// Values of the depthwise row buffer for an output `width`.
    pub(super) fn mid_len(&self, width: usize) -> usize {
        self.depthwise.cin * Map::pitch_for(width)
    }

    /// The pointwise taps over the depthwise row of an output `width`.
    pub(super) fn offsets(&self, width: usize) -> Vec<isize> {
        self.pointwise.offsets(Map::pitch_for(width))
    }

    /// One output row from its three input rows (as [`DepthwiseRow`]'s), through `mid`
    /// ([`Separable::mid_len`] values); the row's `offsets` are [`Separable::offsets`]`(width)`.
    ///
    /// # Safety
    /// As [`Conv::row`]'s, for the depthwise window.
    pub(super) unsafe fn row(&self, isa: Isa, mid: &mut [f32], r: &OutputRow<'_>) {
        let OutputRow { rows, pitch, offsets, dst, dst_pitch, width } = *r;
        let (dw, pw) = (&self.depthwise, &self.pointwise);
        let Form::Depthwise { weight, bias } = &dw.form else { unreachable!("checked by Separable::new") };
        let mid_pitch = Map::pitch_for(width);
        // The depthwise row: the pointwise 1×1 reads no padding (past the pixels, only lanes
        // that are not stored).
        let a = DepthwiseRow {
            rows,
            pitch,
            weight,
            bias,
            slopes: &dw.slopes,
            stride: dw.stride,
            channels: dw.cin,
            // SAFETY: pixel 0 of `mid`'s first channel-row.
            dst: unsafe { mid.as_mut_ptr().add(LEFT) },
            dst_pitch: mid_pitch,
            width,
        };
        // SAFETY: per this function's contract; `mid` holds `cin` channel-rows of `mid_pitch`.
        unsafe {
            kernels::depthwise_row(isa, &a);
            pw.row(isa, [mid.as_ptr().add(LEFT); 3], offsets, dst, dst_pitch, width);
        }
    }
}

/// One output row of a streamed layer: from its three input rows of `pitch` (the window's
/// top, middle and bottom) through the layer's tap `offsets`, into `dst`, channel-rows
/// `dst_pitch` apart, `width` pixels.
#[derive(Clone, Copy)]
pub(super) struct OutputRow<'a> {
    pub rows: [*const f32; 3],
    pub pitch: usize,
    pub offsets: &'a [isize],
    pub dst: *mut f32,
    pub dst_pitch: usize,
    pub width: usize,
}

/// `a += nearest-upsampled(b)` to `a`'s size, as `F.interpolate(mode="nearest")`: source index
/// `floor(dst · in/out)` in f32.
pub fn add_upsampled(a: &mut Map, b: &Map, parallel: bool) {
    assert_eq!(a.c, b.c);
    let (sy, sx) = (b.h as f32 / a.h as f32, b.w as f32 / a.w as f32);
    let xs: Vec<usize> = (0..a.w).map(|x| ((x as f32 * sx).floor() as usize).min(b.w - 1)).collect();
    let (c, pitch, w, rs) = (a.c, a.pitch, a.w, a.row_stride());
    // Bound by memory, not arithmetic: worth the pool at a sixteenth of a convolution's work.
    let chunks = chunk_count(16 * w * c, a.h, parallel);
    // Nearest 2× (even sizes): each source value twice, a loop the compiler vectorises.
    let twice = xs.iter().enumerate().all(|(x, &s)| s == x / 2) && a.w.is_multiple_of(2);
    for_row_chunks(a, chunks, 1, |rows, chunk| {
        for (y, row) in rows.zip(chunk.chunks_exact_mut(rs)) {
            let by = ((y as f32 * sy).floor() as usize).min(b.h - 1);
            for ch in 0..c {
                let dst = &mut row[ch * pitch + LEFT..][..w];
                let src = &b.data[((by + 1) * c + ch) * b.pitch + LEFT..][..b.w];
                if twice {
                    for (d, &s) in dst.chunks_exact_mut(2).zip(src) {
                        d[0] += s;
                        d[1] += s;
                    }
                } else {
                    for (d, &sxi) in dst.iter_mut().zip(&xs) {
                        *d += src[sxi];
                    }
                }
            }
        }
    });
}

/// How many row chunks a layer of `work_per_row · h` multiply-adds runs in: one (on this
/// thread) unless `parallel` and the work pays for waking the pool.
pub fn chunk_count(work_per_row: usize, h: usize, parallel: bool) -> usize {
    let threads = rayon::current_num_threads();
    if !parallel || threads == 1 || work_per_row * h < PARALLEL_MIN_WORK { 1 } else { threads * CHUNKS_PER_THREAD }
}

/// Calls `f(rows)` over about `chunks` chunks of `h` rows (each but the last a multiple of
/// `multiple` rows), over the pool when more than one.
fn for_row_ranges(h: usize, chunks: usize, multiple: usize, f: impl Fn(Range<usize>) + Sync + Send) {
    if chunks <= 1 {
        return f(0..h);
    }
    let per_chunk = h.div_ceil(chunks).next_multiple_of(multiple);
    (0..h.div_ceil(per_chunk)).into_par_iter().for_each(|i| f(i * per_chunk..((i + 1) * per_chunk).min(h)));
}

/// Calls `f(rows, values)` over about `chunks` chunks of `out`'s image rows (`values`: theirs,
/// row after row; each chunk but the last a multiple of `multiple` rows), over the pool when
/// more than one.
pub fn for_row_chunks(
    out: &mut Map,
    chunks: usize,
    multiple: usize,
    f: impl Fn(Range<usize>, &mut [f32]) + Sync + Send,
) {
    let (h, rs) = (out.h, out.row_stride());
    let rows = out.rows_mut();
    if chunks <= 1 {
        return f(0..h, rows);
    }
    let per_chunk = h.div_ceil(chunks).next_multiple_of(multiple);
    rows.par_chunks_mut(per_chunk * rs).enumerate().for_each(|(i, chunk)| {
        let y0 = i * per_chunk;
        f(y0..y0 + chunk.len() / rs, chunk)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retinaface::reference::{map_from_hwc, max_err, padding_is_zero, pseudo, reference};

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
                        assert!(padding_is_zero(&out));
                    }
                }
            }
        }
    }

    #[test]
    fn stacked_and_in_place_convolutions() {
        // SSH's layout in small: `first` = a ‖ b from x into channels 0..48 of m, then convs
        // reading b's channels (40..48) into m's later channels, by direct sums (16 outputs)
        // and by Winograd (32); and a 1×1 over a list of m's channels (the heads).
        let (h, w, c) = (7, 19, 6);
        let xs = pseudo(h * w * c, 30);
        let x = map_from_hwc(h, w, c, &xs);
        let (wa, wb, wc, wd) =
            (pseudo(40 * c * 9, 31), pseudo(8 * c * 9, 32), pseudo(16 * 8 * 9, 33), pseudo(32 * 8 * 9, 34));
        let fold = |wt: &[f32], o: usize, i: usize, act| Folded::new(wt, &[o, i, 3, 3], None, None, act).unwrap();
        let first =
            Conv::from_folded(Folded::stack(fold(&wa, 40, c, Act::Relu), fold(&wb, 8, c, Act::Leaky(0.1))).unwrap(), 1)
                .unwrap();
        let (conv_c, conv_d) = (
            Conv::new(&wc, &[16, 8, 3, 3], None, None, 1, Act::Relu).unwrap(),
            Conv::new(&wd, &[32, 8, 3, 3], None, None, 1, Act::None).unwrap(),
        );
        let want_a = reference(&xs, (h, w, c), &wa, 40, 3, 1, 1, Act::Relu);
        let want_b = reference(&xs, (h, w, c), &wb, 8, 3, 1, 1, Act::Leaky(0.1));
        let want_c = reference(&want_b, (h, w, 8), &wc, 16, 3, 1, 1, Act::Relu);
        let want_d = reference(&want_b, (h, w, 8), &wd, 32, 3, 1, 1, Act::None);
        let channels: Vec<usize> = (0..4).chain(50..54).collect();
        let we = pseudo(5 * 8, 35);
        let conv_e = Conv::new(&we, &[5, 8, 1, 1], None, None, 1, Act::None).unwrap();
        for isa in Isa::available() {
            for parallel in [false, true] {
                let mut m = Map::zeros(h, w, 96);
                first.run(isa, &x, &mut m, 0, parallel);
                conv_c.run_in_place(isa, &mut m, 40, 48, parallel);
                conv_d.run_in_place(isa, &mut m, 40, 64, parallel);
                let got = |c0: usize, n: usize| {
                    let mut v = vec![0f32; h * w * n];
                    for (i, v) in v.iter_mut().enumerate() {
                        *v = m.at(i / n / w, c0 + i % n, i / n % w);
                    }
                    v
                };
                for (name, c0, want) in [("a", 0, &want_a), ("b", 40, &want_b), ("c", 48, &want_c), ("d", 64, &want_d)]
                {
                    let n = want.len() / (h * w);
                    let err = got(c0, n).iter().zip(want.iter()).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
                    assert!(err < 1e-4, "{name} {isa:?} parallel {parallel}: {err}");
                }
                assert!(padding_is_zero(&m));
                let offsets = conv_e.heads_offsets(&m, &channels);
                let picked: Vec<f32> = (0..h * w)
                    .flat_map(|p| channels.iter().map(move |&ch| (p, ch)))
                    .map(|(p, ch)| m.at(p / w, ch, p % w))
                    .collect();
                let want_e = reference(&picked, (h, w, 8), &we, 5, 1, 1, 1, Act::None);
                let mut row = vec![0f32; 5 * Map::pitch_for(w)];
                for y in 0..h {
                    conv_e.row_over(isa, &m, &offsets, y, &mut row);
                    for xx in 0..w {
                        for o in 0..5 {
                            let got = row[o * Map::pitch_for(w) + LEFT + xx];
                            assert!((got - want_e[(y * w + xx) * 5 + o]).abs() < 1e-4, "heads {isa:?}");
                        }
                    }
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
        // 7×9 from 4×5 (uneven) and 8×10 (exactly 2×); the sum starts from nonzero values.
        let bx = pseudo(4 * 5 * 3, 8);
        let b = map_from_hwc(4, 5, 3, &bx);
        for (h, w) in [(7, 9), (8, 10)] {
            let ax = pseudo(h * w * 3, 9);
            let mut a = map_from_hwc(h, w, 3, &ax);
            add_upsampled(&mut a, &b, false);
            for y in 0..h {
                for x in 0..w {
                    let sy = (y as f32 * (4.0 / h as f32)).floor() as usize;
                    let sx = (x as f32 * (5.0 / w as f32)).floor() as usize;
                    for ch in 0..3 {
                        assert_eq!(a.at(y, ch, x), ax[(y * w + x) * 3 + ch] + b.at(sy, ch, sx));
                    }
                }
            }
        }
    }
}
