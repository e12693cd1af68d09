//! AVX-512 micro-kernels: one (rows ≤ MR) × 64 output tile over the whole k, in f32 (FMA),
//! bf16 (AVX512-BF16 `vdpbf16ps`: pairs of bf16 products summed into f32 lanes) or int8
//! (AVX512-VNNI `vpdpbusd`: quadruples of u8 × s8 products summed into i32 lanes, see
//! [`super::quant`]).
//!
//! Tile layout: the left operand A is read in place, row-major, through one pointer per row,
//! broadcasting one element (f32), one adjacent pair (bf16) or four adjacent bytes (int8) per
//! row and k step; the right operand is a packed panel of 64 output columns, `[k][64]` f32,
//! `[k/2][64][2]` bf16 or `[k/4][64][4]` s8, so each k step loads four full vectors. 4·MR = 24
//! accumulators + 4 panel vectors + 1 broadcast fit the 32 vector registers.

use std::arch::x86_64::*;

use super::{Epilogue, I8Panel, NR, U8Rows};

/// Rows per tile.
pub const MR: usize = 6;
/// Vectors per tile row.
const NV: usize = NR / 16;
/// How many k steps ahead the packed panel is prefetched.
const PREFETCH: usize = 8;

/// Applies the epilogue to one finished tile and stores its first `rows` rows, `cols` columns;
/// `tile(r)` gives row r's values (computed row by row, so an int8 tile's dequantised rows
/// never leave the registers).
///
/// # Safety
/// `c` must address `rows` rows of `ldc` stride with `cols` writable values each; `bias`, when
/// not null, 64 readable values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn store(
    tile: impl Fn(usize) -> [__m512; NV],
    rows: usize,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    cols: usize,
    epi: Epilogue,
) {
    // SAFETY: per the function's contract; masked loads/stores touch only the `cols` columns.
    unsafe {
        let masks: [__mmask16; NV] = std::array::from_fn(|v| lane_mask(cols.saturating_sub(16 * v)));
        let has_bias = !bias.is_null();
        let b: [__m512; NV] = std::array::from_fn(|v| {
            if has_bias { _mm512_maskz_loadu_ps(masks[v], bias.add(16 * v)) } else { _mm512_setzero_ps() }
        });
        for r in 0..rows.min(MR) {
            let row = tile(r);
            let cr = c.add(r * ldc);
            for v in 0..NV {
                if masks[v] == 0 {
                    continue;
                }
                // (no add at all without a bias: attention's products have none)
                let mut x = if has_bias { _mm512_add_ps(row[v], b[v]) } else { row[v] };
                if let Epilogue::Accumulate = epi {
                    x = _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], cr.add(16 * v)), x);
                }
                _mm512_mask_storeu_ps(cr.add(16 * v), masks[v], x);
            }
            if let Epilogue::Gelu = epi {
                crate::vmath::gelu_inline(std::slice::from_raw_parts_mut(cr, cols));
            }
        }
    }
}

#[inline(always)]
fn lane_mask(cols: usize) -> __mmask16 {
    if cols >= 16 { 0xffff } else { ((1u32 << cols) - 1) as __mmask16 }
}

/// Row pointers of a tile; rows past `rows` repeat the last one (computed, never stored).
#[inline(always)]
unsafe fn row_ptrs<T>(a: *const T, lda: usize, rows: usize) -> [*const T; MR] {
    // SAFETY: every pointer addresses one of the `rows` valid rows.
    std::array::from_fn(|r| unsafe { a.add(r.min(rows - 1) * lda) })
}

/// f32 tile: `C[rows×cols] (epi)= A[rows×k] · panel + bias`.
///
/// # Safety
/// Needs AVX-512F. `a` addresses `rows` (1..=MR) rows of `k` values, `lda` apart; `panel`
/// `k·64` values; `c`/`bias` as in [`store`].
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn tile_f32(
    k: usize,
    a: *const f32,
    lda: usize,
    rows: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    cols: usize,
    epi: Epilogue,
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    // SAFETY: indices stay below k in each row and k·64 in the panel, per the contract.
    unsafe {
        let ap = row_ptrs(a, lda, rows);
        for kk in 0..k {
            // the panel streams from L2: ask for it PREFETCH k steps ahead
            for v in 0..NV {
                _mm_prefetch::<_MM_HINT_T0>(panel.wrapping_add((kk + PREFETCH) * NR + 16 * v) as *const i8);
            }
            let b: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(panel.add(kk * NR + 16 * v)));
            for (r, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*ap[r].add(kk));
                for v in 0..NV {
                    row[v] = _mm512_fmadd_ps(av, b[v], row[v]);
                }
            }
        }
        store(|r| acc[r], rows, c, ldc, bias, cols, epi);
    }
}

/// bf16 tile: as [`tile_f32`] with bf16 operands (`k` even) and f32 accumulation.
///
/// # Safety
/// Needs AVX-512F and AVX512-BF16; `panel` holds `k·64` bf16 values as `[k/2][64][2]`.
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn tile_bf16(
    k: usize,
    a: *const u16,
    lda: usize,
    rows: usize,
    panel: *const u16,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    cols: usize,
    epi: Epilogue,
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    // SAFETY: as in tile_f32, with k even so every pair lies inside its row.
    unsafe {
        let ap = row_ptrs(a, lda, rows);
        for kp in 0..k / 2 {
            for v in 0..NV {
                _mm_prefetch::<_MM_HINT_T0>(panel.wrapping_add((kp + PREFETCH) * 2 * NR + 32 * v) as *const i8);
            }
            let b: [__m512bh; NV] = std::array::from_fn(|v| {
                std::mem::transmute(_mm512_loadu_si512(panel.add(kp * 2 * NR + 32 * v) as *const __m512i))
            });
            for (r, row) in acc.iter_mut().enumerate() {
                let pair = (ap[r].add(2 * kp) as *const i32).read_unaligned();
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                for v in 0..NV {
                    row[v] = _mm512_dpbf16_ps(row[v], av, b[v]);
                }
            }
        }
        store(|r| acc[r], rows, c, ldc, bias, cols, epi);
    }
}

/// int8 tile: `C[rows×cols] (epi)= dequantised(A · panel) + bias`, A quantised per row (u8),
/// the panel per column (s8); see [`super::quant`] for the arithmetic.
///
/// # Safety
/// Needs AVX-512F/BW and AVX512-VNNI. `a` addresses `rows` (1..=MR) rows of `k` rounded up to
/// 4 bytes, `a.lda` apart, and `rows` scales and zero points; `b` a panel of `k/4·256` bytes
/// and 64 column scales and offsets; `c`/`bias` as in [`store`].
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn tile_i8(
    k: usize,
    a: U8Rows,
    rows: usize,
    b: I8Panel,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    cols: usize,
    epi: Epilogue,
) {
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    // SAFETY: per the contract: every 4-byte read lies inside its row's padded k, every panel
    // read inside k/4 · 256 bytes.
    unsafe {
        let ap = row_ptrs(a.values, a.lda, rows);
        let panel = b.values;
        for kq in 0..k.div_ceil(4) {
            for v in 0..NV {
                _mm_prefetch::<_MM_HINT_T0>(panel.wrapping_add((kq + PREFETCH) * 4 * NR + 64 * v));
            }
            let w: [__m512i; NV] =
                std::array::from_fn(|v| _mm512_loadu_si512(panel.add(kq * 4 * NR + 64 * v) as *const __m512i));
            for (r, row) in acc.iter_mut().enumerate() {
                let quad = (ap[r].add(4 * kq) as *const i32).read_unaligned();
                let av = _mm512_set1_epi32(quad);
                for v in 0..NV {
                    row[v] = _mm512_dpbusd_epi32(row[v], av, w[v]);
                }
            }
        }
        // dequantise: scale_r · (scale_j · Σ − zero_r · offset_j)
        let col_scale: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(b.scales.add(16 * v)));
        let offset: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(b.offsets.add(16 * v)));
        let dequantised = |r: usize| {
            let zero = _mm512_set1_ps(*a.zeros.add(r) as f32);
            let scale = _mm512_set1_ps(*a.scales.add(r));
            std::array::from_fn(|v| {
                let x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][v]), col_scale[v]);
                _mm512_mul_ps(_mm512_fnmadd_ps(zero, offset[v], x), scale)
            })
        };
        store(dequantised, rows, c, ldc, bias, cols, epi);
    }
}
