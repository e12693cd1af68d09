//! 3×3 stride-1 convolutions by Winograd's F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", 2016): each 2×2 block of outputs from a 4×4 input patch
//! with 16 multiplications per input channel instead of 36. Per pair of output rows: the input
//! patches transformed (`V = Bᵀ d B`), 16 products of the transformed weights (`U = G g Gᵀ`,
//! made at load) with them — 1×1 convolutions over the tiles, run by the dense kernel — and the
//! output transform (`Y = Aᵀ M A`) with the bias and activation.
//!
//! The transforms add and subtract only (the weight transform's halves are exact), so the
//! outputs differ from the direct sums by a few roundings.

use super::kernels::{self, BLOCK, DenseRow, WinogradIn, WinogradOut};
use super::simd::Isa;

/// `G` of F(2, 3).
const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// A 3×3 stride-1 convolution's weights in Winograd form.
#[derive(Debug)]
pub struct Winograd {
    cin: usize,
    cout: usize,
    /// `U` for each of the 16 positions `ξ`: `[ξ][block][ci][BLOCK]` (the dense kernel's
    /// packing for a 1×1 convolution), output channels past `cout` zero.
    u: Vec<f32>,
    /// The products' bias (none: the output transform adds the layer's), and their slopes
    /// (no activation).
    zeros: Vec<f32>,
    ones: Vec<f32>,
    bias: Vec<f32>,
    /// Each output's activation slope.
    slopes: Vec<f32>,
}

impl Winograd {
    /// From the weights `w(o, ci, ky, kx)` (BatchNorm folded), the bias and each output's
    /// activation slope.
    pub fn new(
        w: impl Fn(usize, usize, usize, usize) -> f64,
        cin: usize,
        cout: usize,
        bias: Vec<f32>,
        slopes: Vec<f32>,
    ) -> Self {
        let blocks = cout.div_ceil(BLOCK);
        let per_xi = blocks * cin * BLOCK;
        let mut u = vec![0.0f32; 16 * per_xi];
        for o in 0..cout {
            for ci in 0..cin {
                // U = G g Gᵀ
                let gg: [[f64; 3]; 4] =
                    std::array::from_fn(|r| std::array::from_fn(|j| (0..3).map(|i| G[r][i] * w(o, ci, i, j)).sum()));
                for r in 0..4 {
                    for c in 0..4 {
                        let v: f64 = (0..3).map(|j| gg[r][j] * G[c][j]).sum();
                        u[(4 * r + c) * per_xi + ((o / BLOCK) * cin + ci) * BLOCK + o % BLOCK] = v as f32;
                    }
                }
            }
        }
        Self { cin, cout, u, zeros: vec![0.0; blocks * BLOCK], ones: vec![1.0; blocks * BLOCK], bias, slopes }
    }

    /// Tiles of a row of `width` outputs, rounded up to whole 16-lane vectors.
    fn tiles_pitch(width: usize) -> usize {
        width.div_ceil(2).next_multiple_of(16)
    }

    /// The transformed inputs' (`rows` = cin) or products' (`rows` = cout) values for one
    /// `ξ`, plus one cache line: 16 planes a multiple of 4 KiB apart would compete for the
    /// same L1 sets.
    fn plane(rows: usize, width: usize) -> usize {
        rows * Self::tiles_pitch(width) + 16
    }

    /// Scratch values [`Winograd::row_pair`] needs for outputs `width` wide.
    pub fn scratch_len(&self, width: usize) -> usize {
        16 * (Self::plane(self.cin, width) + Self::plane(self.cout, width))
    }

    /// Output rows `2j` and `2j + 1` (`dst[1]` null when the image ends after `2j`) from the
    /// four input rows their windows cover (pixel 0 of channel 0 of each, `pitch`).
    ///
    /// # Safety
    /// The input rows are framed rows of `cin` channel-rows of `pitch` (the map layout),
    /// followed by a vector of readable values; each `dst` row has `cout` channel-rows of
    /// `dst_pitch` with `width` writable pixels; `scratch` holds [`Winograd::scratch_len`]
    /// values.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn row_pair(
        &self,
        isa: Isa,
        rows: [*const f32; 4],
        pitch: usize,
        dst: [*mut f32; 2],
        dst_pitch: usize,
        width: usize,
        scratch: &mut [f32],
    ) {
        let tp = Self::tiles_pitch(width);
        let tiles = width.div_ceil(2);
        let (v_plane, m_plane) = (Self::plane(self.cin, width), Self::plane(self.cout, width));
        assert!(scratch.len() >= self.scratch_len(width));
        let (v, m) = scratch.split_at_mut(16 * v_plane);
        let offsets: Vec<isize> = (0..self.cin).map(|ci| (ci * tp) as isize).collect();
        let per_xi = self.zeros.len() * self.cin;
        // SAFETY: per this function's contract; `v` and `m` hold the 16 planes of `cin` and
        // `cout` rows of `tp` values the transforms and products address.
        unsafe {
            kernels::winograd_in(
                isa,
                &WinogradIn {
                    rows,
                    pitch,
                    channels: self.cin,
                    tiles,
                    v: v.as_mut_ptr(),
                    tiles_pitch: tp,
                    plane: v_plane,
                },
            );
            for xi in 0..16 {
                let row = v.as_ptr().add(xi * v_plane);
                kernels::dense_row(
                    isa,
                    &DenseRow {
                        rows: [row; 3],
                        k: 1,
                        offsets: &offsets,
                        weight: &self.u[xi * per_xi..(xi + 1) * per_xi],
                        bias: &self.zeros,
                        slopes: &self.ones,
                        cout: self.cout,
                        stride: 1,
                        dst: m.as_mut_ptr().add(xi * m_plane),
                        dst_pitch: tp,
                        width: tiles,
                    },
                );
            }
            kernels::winograd_out(
                isa,
                &WinogradOut {
                    m: m.as_ptr(),
                    tiles_pitch: tp,
                    plane: m_plane,
                    bias: &self.bias,
                    slopes: &self.slopes,
                    cout: self.cout,
                    dst,
                    dst_pitch,
                    width,
                },
            );
        }
    }
}
