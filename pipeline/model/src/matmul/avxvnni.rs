//! The int8 tile on AVX-VNNI: the VEX-encoded 256-bit `vpdpbusd` of CPUs without AVX-512 (Intel's
//! client cores since Alder Lake, the E-core Xeons), computing what [`super::avx512::tile_i8`]
//! computes from the same packed panels and quantised rows.
//!
//! With 16 vector registers the (rows ≤ 6) × 64 tile runs as sub-tiles of 2 rows × 32 columns:
//! 8 accumulators, 4 panel vectors and 1 broadcast. The epilogue dequantises a row into a small
//! buffer and finishes it in plain Rust, which the compiler vectorises for AVX2.

use std::arch::x86_64::*;

use super::{Epilogue, I8Panel, NR, U8Rows};

/// Rows and columns of a sub-tile.
const SUB_ROWS: usize = 2;
const SUB_COLS: usize = 32;
/// Vectors per sub-tile row.
const SUB_NV: usize = SUB_COLS / 8;

/// int8 tile: as [`super::avx512::tile_i8`].
///
/// # Safety
/// Needs AVX2, FMA and AVX-VNNI; the operands as for [`super::avx512::tile_i8`].
#[target_feature(enable = "avx2,fma,avxvnni")]
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
    // SAFETY: reads stay inside the rows' padded k and the panel's k/4 · 256 bytes, writes inside
    // the `rows` × `cols` output, per the contract.
    unsafe {
        for r0 in (0..rows).step_by(SUB_ROWS) {
            let sub_rows = SUB_ROWS.min(rows - r0);
            let ap: [*const u8; SUB_ROWS] = std::array::from_fn(|r| a.values.add((r0 + r.min(sub_rows - 1)) * a.lda));
            for c0 in (0..cols).step_by(SUB_COLS) {
                let mut acc = [[_mm256_setzero_si256(); SUB_NV]; SUB_ROWS];
                for kq in 0..k.div_ceil(4) {
                    let w: [__m256i; SUB_NV] = std::array::from_fn(|v| {
                        _mm256_loadu_si256(b.values.add(kq * 4 * NR + 4 * c0 + 32 * v) as *const __m256i)
                    });
                    for (r, row) in acc.iter_mut().enumerate() {
                        let av = _mm256_set1_epi32((ap[r].add(4 * kq) as *const i32).read_unaligned());
                        for v in 0..SUB_NV {
                            row[v] = _mm256_dpbusd_avx_epi32(row[v], av, w[v]);
                        }
                    }
                }
                let n = SUB_COLS.min(cols - c0);
                for (r, row) in acc.iter().enumerate().take(sub_rows) {
                    let mut sums = [0i32; SUB_COLS];
                    for (v, x) in row.iter().enumerate() {
                        _mm256_storeu_si256(sums.as_mut_ptr().add(8 * v) as *mut __m256i, *x);
                    }
                    let (zero, scale) = (*a.zeros.add(r0 + r) as f32, *a.scales.add(r0 + r));
                    let mut vals = [0f32; SUB_COLS];
                    for j in 0..n {
                        let x = sums[j] as f32 * *b.scales.add(c0 + j);
                        vals[j] = zero.mul_add(-*b.offsets.add(c0 + j), x) * scale;
                    }
                    let out = std::slice::from_raw_parts_mut(c.add((r0 + r) * ldc + c0), n);
                    let bias = (!bias.is_null()).then(|| std::slice::from_raw_parts(bias.add(c0), n));
                    finish_row(&vals[..n], out, bias, epi);
                }
            }
        }
    }
}

/// `out (epi)= vals + bias`.
#[inline(always)]
fn finish_row(vals: &[f32], out: &mut [f32], bias: Option<&[f32]>, epi: Epilogue) {
    match bias {
        Some(b) => match epi {
            Epilogue::Accumulate => out.iter_mut().zip(vals).zip(b).for_each(|((o, v), b)| *o += v + b),
            _ => out.iter_mut().zip(vals).zip(b).for_each(|((o, v), b)| *o = v + b),
        },
        None => match epi {
            Epilogue::Accumulate => out.iter_mut().zip(vals).for_each(|(o, v)| *o += v),
            _ => out.copy_from_slice(vals),
        },
    }
    if epi == Epilogue::Gelu {
        crate::vmath::gelu_inline(out);
    }
}
