//! Layers streamed row by row ([`Chain`]): MobileNet's stages, from the 8-bit pixels or from a
//! map, keeping only the three rows of each inner layer's output the next one's window covers.

use super::kernels;
use super::layers::{Conv, OutputRow, Separable, for_row_chunks};
use super::map::{LEFT, Map, with_scratch, zero_padding};
use super::simd::Isa;

/// One layer of a [`Chain`].
pub enum Layer {
    Dense(Conv),
    Separable(Separable),
}

impl Layer {
    fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.window().out_size(h, w)
    }

    fn cout(&self) -> usize {
        match self {
            Layer::Dense(c) => c.cout,
            Layer::Separable(s) => s.cout(),
        }
    }

    fn cin(&self) -> usize {
        self.window().cin
    }

    /// The convolution whose window reads the layer's input.
    fn window(&self) -> &Conv {
        match self {
            Layer::Dense(c) => c,
            Layer::Separable(s) => &s.depthwise,
        }
    }

    /// The layer's taps for an input of `in_pitch` and an output `width` wide.
    fn offsets(&self, in_pitch: usize, width: usize) -> Vec<isize> {
        match self {
            Layer::Dense(c) => c.offsets(in_pitch),
            Layer::Separable(s) => s.offsets(width),
        }
    }

    /// The depthwise row buffer an output `width` wide needs.
    fn mid_len(&self, width: usize) -> usize {
        match self {
            Layer::Dense(_) => 0,
            Layer::Separable(s) => s.mid_len(width),
        }
    }

    /// One output row (see [`Conv::row`] and [`Separable::row`]).
    ///
    /// # Safety
    /// As [`Conv::row`]'s; the row's `offsets` are [`Layer::offsets`]`(pitch, width)`.
    unsafe fn row(&self, isa: Isa, mid: &mut [f32], r: &OutputRow<'_>) {
        // SAFETY: per this function's contract.
        unsafe {
            match self {
                Layer::Dense(c) => c.row(isa, r.rows, r.offsets, r.dst, r.dst_pitch, r.width),
                Layer::Separable(s) => s.row(isa, mid, r),
            }
        }
    }
}

/// What a [`Chain`] reads: an 8-bit image (`width · height · 3`, B, G, R order if `bgr`),
/// turned into the network's input row by row, or a map.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Pixels { pixels: &'a [u8], width: usize, height: usize, bgr: bool },
    Map(&'a Map),
}

impl Source<'_> {
    /// Height, width and channels.
    pub fn size(&self) -> (usize, usize, usize) {
        match *self {
            Source::Pixels { width, height, .. } => (height, width, 3),
            Source::Map(m) => (m.h, m.w, m.c),
        }
    }
}

/// Layers streamed row by row (MobileNet's stages: the full-resolution ones from the pixels,
/// the next ones from the first FPN level): each layer keeps only the three rows of its output
/// the next one's window covers (a few hundred KB in all, in L2), computing a row when the next
/// layer asks for it; only the last layer's output is a whole map. The output rows are cut into
/// bands, one thread each, every band starting its layers a few rows above its own.
pub struct Chain {
    layers: Vec<Layer>,
    /// Bands per thread: more even out threads slowed by other work, fewer recompute fewer rows
    /// above the bands.
    bands_per_thread: usize,
}

impl Chain {
    pub fn new(layers: Vec<Layer>, bands_per_thread: usize) -> Result<Self, String> {
        if layers.is_empty() || layers.windows(2).any(|l| l[0].cout() != l[1].cin()) {
            return Err("a chain of layers, each reading the previous one's outputs".into());
        }
        Ok(Self { layers, bands_per_thread: bands_per_thread.max(1) })
    }

    /// Output size for an `h × w` input.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.layers.iter().fold((h, w), |(h, w), l| l.out_size(h, w))
    }

    pub fn cout(&self) -> usize {
        self.layers.last().map_or(0, Layer::cout)
    }

    /// The chain from `src` into `out`.
    pub fn run(&self, isa: Isa, src: Source<'_>, out: &mut Map, parallel: bool) {
        let (h0, w0, c0) = src.size();
        if let Source::Pixels { pixels, .. } = src {
            assert_eq!(pixels.len(), w0 * h0 * 3);
        }
        assert!(c0 == self.layers[0].cin() && out.c == self.cout());
        assert_eq!((out.h, out.w), self.out_size(h0, w0), "output map size");
        // Stream 0 is the source (rows converted from the pixels, or the map itself); stream
        // i ≥ 1 the output rows of layer i − 1, the last layer's going to `out`.
        let mut geo = vec![(h0, w0, c0)];
        for l in &self.layers[..self.layers.len() - 1] {
            let &(h, w, _) = geo.last().unwrap_or(&(0, 0, 0));
            let (h, w) = l.out_size(h, w);
            geo.push((h, w, l.cout()));
        }
        let mut rings_len = 0;
        let rings: Vec<Ring> = geo
            .iter()
            .enumerate()
            .map(|(i, &(h, w, c))| {
                let ring = Ring::new(h, w, c, rings_len);
                // Rows of a map source are read in place.
                if i > 0 || matches!(src, Source::Pixels { .. }) {
                    rings_len += ring.len();
                }
                ring
            })
            .collect();
        let zero_len = rings.iter().map(|r| r.rs).max().unwrap_or(0) + SLACK;
        let widths: Vec<usize> = geo[1..].iter().map(|g| g.1).chain([out.w]).collect();
        let mid_len = self.layers.iter().zip(&widths).map(|(l, &w)| l.mid_len(w)).max().unwrap_or(0);
        let offsets: Vec<Vec<isize>> =
            self.layers.iter().zip(&rings).zip(&widths).map(|((l, r), &w)| l.offsets(r.pitch, w)).collect();
        let (pitch, w, rs) = (out.pitch, out.w, out.row_stride());
        let bands = if parallel { rayon::current_num_threads() * self.bands_per_thread } else { 1 };
        for_row_chunks(out, bands, 1, |ys, chunk| {
            with_scratch(rings_len + zero_len + mid_len, |buf| {
                let (rows, rest) = buf.split_at_mut(rings_len);
                let (zero, mid) = rest.split_at_mut(zero_len);
                zero.fill(0.0);
                let in_place = usize::from(matches!(src, Source::Map(_)));
                for r in &rings[in_place..] {
                    zero_padding(&mut rows[r.off..r.off + 3 * r.rs], r.pitch, r.w, 0..3 * r.c);
                }
                let mut s = Streams {
                    chain: self,
                    isa,
                    src,
                    rings: rings.clone(),
                    offsets: &offsets,
                    buf: rows,
                    zero: zero.as_ptr(),
                    mid,
                };
                let last = self.layers.len() - 1;
                for (y, row) in ys.zip(chunk.chunks_exact_mut(rs)) {
                    let input = s.window(last, y);
                    // SAFETY: `Streams::window` gives rows of the map layout followed by
                    // slack; the row of `out` takes the last layer's `cout` channels.
                    unsafe {
                        let r = OutputRow {
                            rows: input,
                            pitch: s.rings[last].pitch,
                            offsets: &offsets[last],
                            dst: row.as_mut_ptr().add(LEFT),
                            dst_pitch: pitch,
                            width: w,
                        };
                        self.layers[last].row(isa, s.mid, &r)
                    };
                    zero_padding(row, pitch, w, 0..self.cout());
                }
            })
        });
    }
}

/// Values after a row buffer: a stride-2 window's last vector may read one vector past it.
const SLACK: usize = 32;

/// The three most recent rows of one of a chain's streams, in its band's buffer: image row `r`
/// in slot `r % 3`.
#[derive(Clone)]
struct Ring {
    h: usize,
    w: usize,
    c: usize,
    pitch: usize,
    /// Values of one row (all channels).
    rs: usize,
    /// Where its slots start in the band's buffer.
    off: usize,
    /// The next image row to compute (none computed yet: `None`).
    next: Option<usize>,
}

impl Ring {
    fn new(h: usize, w: usize, c: usize, off: usize) -> Self {
        let pitch = Map::pitch_for(w);
        Self { h, w, c, pitch, rs: c * pitch, off, next: None }
    }

    fn len(&self) -> usize {
        3 * self.rs + SLACK
    }
}

/// One band's pass through a chain: stream 0 is the source (image rows converted from the
/// pixels into ring 0, or a map read in place), stream `i ≥ 1` the output rows of layer
/// `i − 1` in ring `i`.
struct Streams<'a> {
    chain: &'a Chain,
    isa: Isa,
    src: Source<'a>,
    rings: Vec<Ring>,
    /// Each layer's taps.
    offsets: &'a [Vec<isize>],
    buf: &'a mut [f32],
    /// A zero row (all channels of the widest stream) and slack: the padding rows.
    zero: *const f32,
    /// The depthwise row of the block being computed.
    mid: &'a mut [f32],
}

impl Streams<'_> {
    /// The rows of stream `l` (layer `l`'s input) that layer `l`'s window for its output row
    /// `y` covers (pixel 0 of each), computing those not there yet: rows outside the map read
    /// the zero row.
    fn window(&mut self, l: usize, y: usize) -> [*const f32; 3] {
        let conv = self.chain.layers[l].window();
        let (k, top) = (conv.k, (conv.stride * y) as isize - (conv.k / 2) as isize);
        std::array::from_fn(|ky| {
            let r = top + ky.min(k - 1) as isize;
            if r < 0 || r as usize >= self.rings[l].h {
                // SAFETY: pixel 0 of the zero row.
                return unsafe { self.zero.add(LEFT) };
            }
            let r = r as usize;
            if let (0, Source::Map(m)) = (l, self.src) {
                return m.row_ptr(r + 1);
            }
            self.ensure(l, r);
            let ring = &self.rings[l];
            // SAFETY: slot r % 3 of ring l, inside the band's buffer.
            unsafe { self.buf.as_ptr().add(ring.off + (r % 3) * ring.rs + LEFT) }
        })
    }

    /// Computes ring `i`'s rows up to `r`. Rows are asked for in increasing order, each window
    /// within three rows, so a new row overwrites one no window needs any more.
    fn ensure(&mut self, i: usize, r: usize) {
        let next = *self.rings[i].next.get_or_insert(r);
        debug_assert!(r + 3 > next, "ring {i}: row {r} asked for after row {next}");
        for row in next..=r {
            self.compute(i, row);
            self.rings[i].next = Some(row + 1);
        }
    }

    fn compute(&mut self, i: usize, r: usize) {
        let ring = self.rings[i].clone();
        let slot_off = ring.off + (r % 3) * ring.rs;
        if i == 0 {
            let Source::Pixels { pixels, bgr, .. } = self.src else { unreachable!("a map source is read in place") };
            let slot = &mut self.buf[slot_off..slot_off + ring.rs];
            let px = &pixels[r * ring.w * 3..(r + 1) * ring.w * 3];
            kernels::input_row(self.isa, px, bgr, slot, ring.pitch, LEFT);
            return;
        }
        let in_pitch = self.rings[i - 1].pitch;
        let input = self.window(i - 1, r);
        let dst = self.buf[slot_off..slot_off + ring.rs].as_mut_ptr();
        // SAFETY: `window` gives rows of the map layout (ring i − 1, the source map or the zero
        // row), each followed by a vector of readable values; `dst` is slot r % 3 of ring i,
        // which no input row is.
        unsafe {
            let r = OutputRow {
                rows: input,
                pitch: in_pitch,
                offsets: &self.offsets[i - 1],
                dst: dst.add(LEFT),
                dst_pitch: ring.pitch,
                width: ring.w,
            };
            self.chain.layers[i - 1].row(self.isa, self.mid, &r)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retinaface::layers::{Act, out_len};
    use crate::retinaface::map::Workspace;
    use crate::retinaface::reference::{map_from_hwc, max_err, padding_is_zero, pseudo, reference};

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
            let pair = Chain::new(vec![Layer::Separable(Separable::new(dw, pw).unwrap())], 1).unwrap();
            let x = map_from_hwc(h, w, c, &xs);
            for isa in Isa::available() {
                for parallel in [false, true] {
                    // A buffer that held other values: the padding must be rewritten.
                    let mut ws = Workspace::default();
                    let mut dirty = ws.map(oh + 3, ow + 5, cout);
                    dirty.data.fill(7.0);
                    ws.recycle(dirty);
                    let mut out = ws.map(oh, ow, cout);
                    pair.run(isa, Source::Map(&x), &mut out, parallel);
                    let err = max_err(&out, 0, cout, &want);
                    assert!(err < 1e-5, "{h}x{w}x{c} s={s} {isa:?}: {err}");
                    assert!(padding_is_zero(&out), "{isa:?}: padding");
                }
            }
        }
    }

    /// `conv_dw` blocks of (inputs, outputs, stride), pseudo-random weights from `seed`, the
    /// pointwise convs activated by `act`: the layers, and their reference on NHWC values.
    struct Blocks {
        spec: Vec<(usize, usize, usize)>,
        weights: Vec<(Vec<f32>, Vec<f32>)>,
        act: Act,
    }

    impl Blocks {
        fn new(spec: &[(usize, usize, usize)], seed: u32, act: Act) -> Self {
            let weights = spec
                .iter()
                .enumerate()
                .map(|(i, &(c, o, _))| (pseudo(c * 9, seed + i as u32), pseudo(o * c, seed + 100 + i as u32)))
                .collect();
            Self { spec: spec.to_vec(), weights, act }
        }

        fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
            self.spec.iter().zip(&self.weights).map(|(&(c, o, s), (dw, pw))| {
                Layer::Separable(
                    Separable::new(
                        Conv::new(dw, &[c, 1, 3, 3], None, None, s, Act::Leaky(0.1)).unwrap(),
                        Conv::new(pw, &[o, c, 1, 1], None, None, 1, self.act).unwrap(),
                    )
                    .unwrap(),
                )
            })
        }

        /// The blocks' outputs for an `h × w` input `x`, and their size.
        fn reference(&self, mut x: Vec<f32>, (mut h, mut w): (usize, usize)) -> (Vec<f32>, usize, usize) {
            for (&(c, o, s), (dw, pw)) in self.spec.iter().zip(&self.weights) {
                let mid = reference(&x, (h, w, c), dw, c, 3, s, c, Act::Leaky(0.1));
                (h, w) = (out_len(h, 3, s), out_len(w, 3, s));
                x = reference(&mid, (h, w, c), pw, o, 1, 1, 1, self.act);
            }
            (x, h, w)
        }
    }

    /// `chain` from `src` on every instruction set, alone and in bands over three threads,
    /// against `want`.
    fn check(chain: &Chain, src: Source<'_>, want: &[f32], label: &str) {
        let (h, w, _) = src.size();
        let (oh, ow) = chain.out_size(h, w);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for isa in Isa::available() {
            for parallel in [false, true] {
                let mut out = Map::zeros(oh, ow, chain.cout());
                pool.install(|| chain.run(isa, src, &mut out, parallel));
                let err = max_err(&out, 0, chain.cout(), want);
                assert!(err < 1e-4, "{label} {isa:?} parallel {parallel}: {err}");
                assert!(padding_is_zero(&out));
            }
        }
    }

    #[test]
    fn the_stem_streams_what_the_layers_compute() {
        let first_w = pseudo(8 * 27, 6);
        let blocks = Blocks::new(&[(8, 16, 1), (16, 8, 2), (8, 8, 1)], 10, Act::Relu);
        let first = Conv::new(&first_w, &[8, 3, 3, 3], None, None, 2, Act::Leaky(0.1)).unwrap();
        let stem = Chain::new([Layer::Dense(first)].into_iter().chain(blocks.layers()).collect(), 2).unwrap();
        for (h, w) in [(41, 37), (16, 64), (5, 3)] {
            let px: Vec<u8> = pseudo(h * w * 3, 2).iter().map(|v| ((v + 0.5) * 255.0) as u8).collect();
            for bgr in [true, false] {
                let (b, r) = if bgr { (0, 2) } else { (2, 0) };
                let xs: Vec<f32> = px
                    .chunks_exact(3)
                    .flat_map(|p| [p[b] as f32 - 104.0, p[1] as f32 - 117.0, p[r] as f32 - 123.0])
                    .collect();
                let first_out = reference(&xs, (h, w, 3), &first_w, 8, 3, 2, 1, Act::Leaky(0.1));
                let (want, fh, fw) = blocks.reference(first_out, (out_len(h, 3, 2), out_len(w, 3, 2)));
                assert_eq!(stem.out_size(h, w), (fh, fw));
                check(&stem, Source::Pixels { pixels: &px, width: w, height: h, bgr }, &want, &format!("{h}x{w}"));
            }
        }
    }

    #[test]
    fn chains_from_a_map() {
        // Stage 2's shape in small: a stride-2 block then stride-1 blocks, from a map read in
        // place.
        let (h, w, c) = (23, 21, 8);
        let xs = pseudo(h * w * c, 40);
        let blocks = Blocks::new(&[(8, 16, 2), (16, 16, 1), (16, 12, 1)], 41, Act::Leaky(0.1));
        let chain = Chain::new(blocks.layers().collect(), 2).unwrap();
        let (want, ..) = blocks.reference(xs.clone(), (h, w));
        check(&chain, Source::Map(&map_from_hwc(h, w, c, &xs)), &want, "stage");
    }
}
