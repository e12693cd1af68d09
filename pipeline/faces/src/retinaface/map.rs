//! The detector's feature maps: in each image row, the channels one after the other, each a
//! contiguous row of pixels ("NHCW"), so kernels run whole vectors along x. Every channel-row
//! has a zero just before its first pixel and just after its last (the padding a 3×3 window
//! reads), every map a zero row above and below, and room around for whole vectors, so
//! kernels read without bounds checks. [`Workspace`] keeps the buffers between frames.
//!
//! Kernels store pixels only (the last vector of a row masked), so the zeros stay; the values
//! further out are whatever the buffer held: they only ever reach lanes that are not stored.

use std::ops::Range;

/// Values before pixel 0 of every channel-row (a whole vector: stores stay aligned); the last
/// of them is the left padding.
pub const LEFT: usize = 16;
/// Values after the bottom row: a stride-2 read of the last vector may run one value past it.
const SLACK: usize = 32;

/// An `h × w` map of `c` channels. Padded row `r` (image row `r - 1`; rows 0 and `h + 1` are
/// zero) holds `c` channel-rows of `pitch` values, pixel `x` at `LEFT + x`, zeros at `LEFT − 1`
/// and `LEFT + w`; `data` may run past the map (a buffer kept from a larger one).
#[derive(Debug)]
pub struct Map {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub pitch: usize,
    pub data: Vec<f32>,
}

impl Map {
    /// Channel-row length for `w` pixels: the margin before them, whole 16-lane vectors, and
    /// one more vector so the loads of the last one (shifted by a 3×3 tap) stay inside.
    pub fn pitch_for(w: usize) -> usize {
        LEFT + w.next_multiple_of(16) + 16
    }

    /// A zero map (tests; the network takes its maps from a [`Workspace`]).
    #[cfg(test)]
    pub fn zeros(h: usize, w: usize, c: usize) -> Self {
        Self::in_buffer(Vec::new(), h, w, c)
    }

    /// The map laid over `buf` (grown as needed, never shrunk, its old values kept: no
    /// zeroing of values the layer writes anyway): the zero rows above and below are written
    /// here, the padding of each row by its writer ([`zero_padding`], while the row is in
    /// cache).
    fn in_buffer(mut buf: Vec<f32>, h: usize, w: usize, c: usize) -> Self {
        let pitch = Self::pitch_for(w);
        let rs = c * pitch;
        let len = (h + 2) * rs + SLACK;
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        buf[..rs].fill(0.0);
        buf[(h + 1) * rs..len].fill(0.0);
        Self { h, w, c, pitch, data: buf }
    }

    /// Values from one padded row to the next.
    pub fn row_stride(&self) -> usize {
        self.c * self.pitch
    }

    /// Pixel 0 of channel 0 in padded row `p` (image row `p − 1`), for the kernels.
    pub fn row_ptr(&self, p: usize) -> *const f32 {
        assert!(p < self.h + 2);
        self.data[p * self.row_stride() + LEFT..].as_ptr()
    }

    /// The image rows (padded rows `1..=h`), for writers.
    pub fn rows_mut(&mut self) -> &mut [f32] {
        let rs = self.row_stride();
        &mut self.data[rs..(self.h + 1) * rs]
    }

    /// Pixel `x` of channel `ch` in image row `y`.
    #[cfg(test)]
    pub fn at(&self, y: usize, ch: usize, x: usize) -> f32 {
        self.data[((y + 1) * self.c + ch) * self.pitch + LEFT + x]
    }
}

/// Writes the padding (the zeros at `LEFT − 1` and `LEFT + w`) of channel-rows `rows` of
/// `values`, channel-rows of `pitch` for `w` pixels.
pub fn zero_padding(values: &mut [f32], pitch: usize, w: usize, rows: Range<usize>) {
    for r in rows {
        values[r * pitch + LEFT - 1] = 0.0;
        values[r * pitch + LEFT + w] = 0.0;
    }
}

thread_local! {
    /// Each thread's buffer for rows it computes on the way (a depthwise row, a band of
    /// input rows).
    static SCRATCH: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Calls `f` with this thread's scratch buffer of `len` values, holding whatever it held
/// before (grown once, then reused: no allocation, no page faults per layer).
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    // Taken out while in use: a nested call (none today) would get a buffer of its own.
    let mut buf = SCRATCH.take();
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    SCRATCH.set(buf);
    r
}

/// Buffers for the maps of one forward, kept from frame to frame: after the first frame of a
/// size, no allocation and no page faults.
#[derive(Default)]
pub struct Workspace {
    free: Vec<Vec<f32>>,
}

impl Workspace {
    /// An `h × w × c` map over the smallest free buffer that holds it (else the largest, grown).
    pub fn map(&mut self, h: usize, w: usize, c: usize) -> Map {
        let need = (h + 2) * c * Map::pitch_for(w) + SLACK;
        let fits = (0..self.free.len()).filter(|&i| self.free[i].len() >= need).min_by_key(|&i| self.free[i].len());
        let largest = (0..self.free.len()).max_by_key(|&i| self.free[i].len());
        let buf = fits.or(largest).map(|i| self.free.swap_remove(i)).unwrap_or_default();
        Map::in_buffer(buf, h, w, c)
    }

    /// Gives a map's buffer back.
    pub fn recycle(&mut self, m: Map) {
        self.free.push(m.data);
    }
}
