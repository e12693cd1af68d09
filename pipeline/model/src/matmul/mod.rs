//! Matrix products of the encoder: `C (epi)= A · B + bias`, with B packed once into 64-column
//! panels (weights at load; attention keys/values once per block) and A row-major.
//!
//! On CPUs with AVX-512 the hand-written tiles of [`avx512`] run (f32, bf16 with AVX512-BF16,
//! int8 with AVX512-VNNI); int8 also runs on AVX-VNNI alone ([`avxvnni`]); elsewhere the `gemm`
//! crate computes the f32 product and the epilogue runs after it. Tasks of (row chunk × block
//! of panels sized for L2) are spread over the current rayon pool. The int8 operands are
//! described in [`quant`].

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avxvnni;
mod quant;

use rayon::prelude::*;

pub use quant::{MAX_K as INT8_MAX_K, QuantMatrix, QuantRows};

use crate::ModelError;

/// Output columns per packed panel.
pub const NR: usize = 64;
/// Where a product runs: its tiles spread over the rayon pool, or all on the calling thread
/// (for callers that already spread their work over operands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    Pool,
    Caller,
}

/// Rows per parallel task (a multiple of the tile height).
#[cfg(target_arch = "x86_64")]
const TASK_ROWS: usize = 192;
/// Bytes of packed B one task keeps hot in L2.
#[cfg(target_arch = "x86_64")]
const B_BLOCK_BYTES: usize = 256 * 1024;

/// What happens to `A·B + bias` when it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// `C = A·B + bias`
    Store,
    /// `C = C + (A·B + bias)` (residual add)
    Accumulate,
    /// `C = gelu(A·B + bias)`
    Gelu,
}

marlin_settings::named! {
    /// Arithmetic of the encoder's products.
    pub enum Precision: "precision", default F32 {
        /// f32 throughout: reproduces the official features.
        F32 = "f32",
        /// bf16 weights and activations, f32 accumulation (AVX512-BF16 CPUs; elsewhere f32 is
        /// used).
        Bf16 = "bf16",
        /// int8 weights (per output channel) and activations (per token), i32 accumulation
        /// (AVX512-VNNI or AVX-VNNI `vpdpbusd`); features within cosine 0.999 of f32.
        Int8 = "int8",
    }
}

impl Precision {
    /// The precision this CPU can run: bf16 needs AVX512-BF16, else f32 is used; int8 needs
    /// VNNI and has no stand-in (see [`Precision::check`]), so it is returned as is.
    pub fn supported(self) -> Precision {
        match self {
            Precision::Bf16 if isa() == Isa::Avx512Bf16 => Precision::Bf16,
            Precision::Bf16 => Precision::F32,
            p => p,
        }
    }

    /// Whether this CPU can compute in this precision: int8 without `vpdpbusd` (AVX512-VNNI or
    /// AVX-VNNI) is an error naming the missing feature.
    pub fn check(self) -> Result<(), ModelError> {
        match self {
            Precision::Int8 => int8_kernel().map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// The int8 tile this CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Int8Kernel {
    /// 512-bit `vpdpbusd` (AVX512-VNNI).
    Avx512Vnni,
    /// 256-bit `vpdpbusd` (AVX-VNNI).
    AvxVnni,
}

/// The int8 tile for this CPU (`MARLIN_NO_AVX512` rules out the 512-bit one).
fn int8_kernel() -> Result<Int8Kernel, ModelError> {
    #[cfg(target_arch = "x86_64")]
    let (vnni512, vnni256) = (
        isa() != Isa::Generic
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni"),
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("avxvnni"),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (vnni512, vnni256) = (false, false);
    int8_kernel_for(vnni512, vnni256)
}

/// The int8 tile given which `vpdpbusd` forms the CPU has.
fn int8_kernel_for(avx512_vnni: bool, avx_vnni: bool) -> Result<Int8Kernel, ModelError> {
    match (avx512_vnni, avx_vnni) {
        (true, _) => Ok(Int8Kernel::Avx512Vnni),
        (false, true) => Ok(Int8Kernel::AvxVnni),
        (false, false) => Err(ModelError::Unsupported(
            "precision int8 needs a CPU with AVX512-VNNI or AVX-VNNI (the `vpdpbusd` instruction), \
             and this one has neither: use precision f32"
                .into(),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Generic,
    Avx512,
    Avx512Bf16,
}

/// The instruction set the products use. `MARLIN_NO_AVX512` (any value) forces the portable
/// path, to test it, or to compare, on an AVX-512 machine.
fn isa() -> Isa {
    if std::env::var_os("MARLIN_NO_AVX512").is_some() {
        return Isa::Generic;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return if std::arch::is_x86_feature_detected!("avx512bf16") { Isa::Avx512Bf16 } else { Isa::Avx512 };
        }
    }
    Isa::Generic
}

#[derive(Debug, Clone)]
enum Layout {
    /// `[panel][k][64]` (AVX-512 f32 tiles)
    F32Panels(Vec<f32>),
    /// `[panel][k/2][64][2]` (AVX512-BF16 tiles)
    Bf16Panels(Vec<u16>),
    /// Row-major n × k (the `gemm` crate fallback)
    RowMajor(Vec<f32>),
    /// `[panel][k/4][64][4]` s8 with per-column scales and offsets ([`quant`]), for `kernel`.
    I8Panels { kernel: Int8Kernel, values: Vec<i8>, scales: Vec<f32>, offsets: Vec<f32> },
}

/// The right operand B (k × n), stored as its transpose's rows: column j of B is row j of the
/// (n × k) matrix given to [`PackedB::pack`] — PyTorch's Linear weight layout.
#[derive(Debug, Clone)]
pub struct PackedB {
    n: usize,
    k: usize,
    layout: Layout,
    /// The bias added to every output row, padded with zeros to whole panels.
    bias: Option<Vec<f32>>,
}

impl PackedB {
    /// An empty operand to [`PackedB::pack`] into later.
    ///
    /// # Panics
    /// For int8 on a CPU without VNNI: callers check [`Precision::check`] first.
    pub fn empty(precision: Precision) -> Self {
        let layout = match (isa(), precision) {
            (_, Precision::Int8) => Layout::I8Panels {
                kernel: int8_kernel().unwrap_or_else(|e| panic!("{e}")),
                values: Vec::new(),
                scales: Vec::new(),
                offsets: Vec::new(),
            },
            (Isa::Avx512Bf16, Precision::Bf16) => Layout::Bf16Panels(Vec::new()),
            (Isa::Avx512 | Isa::Avx512Bf16, _) => Layout::F32Panels(Vec::new()),
            _ => Layout::RowMajor(Vec::new()),
        };
        PackedB { n: 0, k: 0, layout, bias: None }
    }

    /// Packs `w`, an (n × k) matrix with strides (`rs`, `cs`), reusing this allocation. Runs
    /// on the calling thread (callers parallelise over operands), which also keeps the
    /// allocation in that thread's heap, where the memory it replaces was freed.
    pub fn pack(&mut self, w: &[f32], n: usize, k: usize, rs: usize, cs: usize) {
        self.n = n;
        self.k = k;
        let panels = n.div_ceil(NR);
        let at = |j: usize, kk: usize| if j < n { w[j * rs + kk * cs] } else { 0.0 };
        match &mut self.layout {
            Layout::F32Panels(buf) => {
                buf.resize(panels * k * NR, 0.0);
                buf.chunks_mut(k * NR).enumerate().for_each(|(p, panel)| {
                    let cols = NR.min(n - p * NR);
                    if rs == 1 {
                        // the panel's columns are contiguous in each k row: copy rows
                        for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                            let src = &w[p * NR + kk * cs..][..cols];
                            dst[..cols].copy_from_slice(src);
                            dst[cols..].fill(0.0);
                        }
                    } else if cs == 1 {
                        // each column is a contiguous run of k values: transpose by columns
                        panel.fill(0.0);
                        for l in 0..cols {
                            let src = &w[(p * NR + l) * rs..][..k];
                            for (kk, &v) in src.iter().enumerate() {
                                panel[kk * NR + l] = v;
                            }
                        }
                    } else {
                        for kk in 0..k {
                            for l in 0..NR {
                                panel[kk * NR + l] = at(p * NR + l, kk);
                            }
                        }
                    }
                });
            }
            Layout::Bf16Panels(buf) => {
                let kp = k.div_ceil(2);
                buf.resize(panels * kp * 2 * NR, 0);
                buf.chunks_mut(kp * 2 * NR).enumerate().for_each(|(p, panel)| {
                    for pair in 0..kp {
                        for l in 0..NR {
                            for e in 0..2 {
                                let kk = 2 * pair + e;
                                let v = if kk < k { at(p * NR + l, kk) } else { 0.0 };
                                panel[(pair * NR + l) * 2 + e] = to_bf16(v);
                            }
                        }
                    }
                });
            }
            Layout::RowMajor(buf) => {
                buf.resize(n * k, 0.0);
                buf.chunks_mut(k).enumerate().for_each(|(j, row)| {
                    row.iter_mut().enumerate().for_each(|(kk, v)| *v = at(j, kk));
                });
            }
            Layout::I8Panels { values, scales, offsets, .. } => quant::pack(w, n, k, (rs, cs), values, scales, offsets),
        }
    }

    /// Packs a PyTorch Linear layer: weight (out × in, row-major) and bias.
    pub fn from_linear(w: &[f32], bias: Option<&[f32]>, out_dim: usize, in_dim: usize, precision: Precision) -> Self {
        let mut p = Self::empty(precision);
        p.pack(w, out_dim, in_dim, in_dim, 1);
        p.bias = bias.map(|b| {
            let mut v = b.to_vec();
            v.resize(out_dim.div_ceil(NR) * NR, 0.0);
            v
        });
        p
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Depth (columns of the left operand).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Whether products with this operand take a bf16 left operand.
    pub fn wants_bf16(&self) -> bool {
        matches!(self.layout, Layout::Bf16Panels(_))
    }

    /// Whether products with this operand take a quantised ([`Lhs::U8`]) left operand.
    pub fn wants_u8(&self) -> bool {
        matches!(self.layout, Layout::I8Panels { .. })
    }
}

/// The left operand A, row-major.
#[derive(Debug, Clone, Copy)]
pub enum Lhs<'a> {
    F32(&'a [f32]),
    /// bf16 bit patterns (for a bf16-packed B).
    Bf16(&'a [u16]),
    /// Rows quantised to u8 (for an int8-packed B).
    U8(QuantRows<'a>),
}

/// A tile's quantised rows, as raw pointers (see [`QuantRows`]).
#[derive(Clone, Copy)]
struct U8Rows {
    values: *const u8,
    lda: usize,
    scales: *const f32,
    zeros: *const i32,
}

/// One int8 panel and its 64 column scales and offsets.
#[derive(Clone, Copy)]
struct I8Panel {
    values: *const i8,
    scales: *const f32,
    offsets: *const f32,
}

/// f32 → bf16 with round-to-nearest-even (finite inputs), as `_mm512_cvtneps_pbh` does.
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// Converts a slice to bf16 (vectorised by the compiler).
pub fn convert_to_bf16(src: &[f32], dst: &mut [u16]) {
    dst.par_chunks_mut(1 << 14).zip(src.par_chunks(1 << 14)).for_each(|(d, s)| {
        d.iter_mut().zip(s).for_each(|(d, s)| *d = to_bf16(*s));
    });
}

/// `C[m×n] (epi)= A[m×k] · B + bias` (the bias packed with B, if any), A rows `lda` apart, C
/// rows `ldc` apart. [`Spread::Pool`] spreads tiles over the rayon pool; without it the caller's
/// thread computes everything.
#[allow(clippy::too_many_arguments)]
pub fn matmul(a: Lhs, m: usize, lda: usize, b: &PackedB, c: &mut [f32], ldc: usize, epi: Epilogue, spread: Spread) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(c.len() >= (m - 1) * ldc + b.n, "output too small");
    // SAFETY: the output bounds were just checked and `c` is borrowed exclusively.
    unsafe { matmul_raw(a, m, lda, b, c.as_mut_ptr(), ldc, epi, spread) }
}

/// [`matmul`] into a raw output, for callers whose tasks write disjoint parts of one matrix.
///
/// # Safety
/// `c` must address `m` rows of `ldc` stride with `n` writable values each, and nothing else
/// may access those values during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul_raw(
    a: Lhs,
    m: usize,
    lda: usize,
    b: &PackedB,
    c: *mut f32,
    ldc: usize,
    epi: Epilogue,
    spread: Spread,
) {
    let parallel = spread == Spread::Pool;
    let (n, k) = (b.n, b.k);
    if m == 0 || n == 0 {
        return;
    }
    let bias = b.bias.as_deref();
    match (&b.layout, a) {
        // SAFETY: forwarded contract.
        (Layout::RowMajor(w), Lhs::F32(a)) => unsafe { fallback(a, m, lda, w, n, k, c, ldc, bias, epi, parallel) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forwarded contract.
        (Layout::F32Panels(_) | Layout::Bf16Panels(_) | Layout::I8Panels { .. }, _) => unsafe {
            tiled(a, m, lda, b, c, ldc, bias, epi, parallel)
        },
        _ => panic!("left operand type does not match the packed operand"),
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn tiled(
    a: Lhs,
    m: usize,
    lda: usize,
    b: &PackedB,
    c: *mut f32,
    ldc: usize,
    bias: Option<&[f32]>,
    epi: Epilogue,
    parallel: bool,
) {
    use avx512::MR;
    let (n, k) = (b.n, b.k);
    match a {
        Lhs::F32(a) => assert!(a.len() >= (m - 1) * lda + k, "left operand too small"),
        Lhs::Bf16(a) => assert!(a.len() >= (m - 1) * lda + k && k % 2 == 0, "bf16 left operand too small or k odd"),
        Lhs::U8(a) => assert!(
            a.values.len() >= (m - 1) * lda + k.next_multiple_of(4) && a.scales.len() >= m && a.zeros.len() >= m,
            "quantised left operand too small"
        ),
    }
    let panels = n.div_ceil(NR);
    let out = SendPtr(c);
    // Loop order (GotoBLAS-like): a task owns a block of panels (sized to stay in L2) and a
    // chunk of rows; each MR-row tile of A (in L1) meets every panel of the block in turn.
    let value_bytes = match b.layout {
        Layout::I8Panels { .. } => 1,
        _ => 4,
    };
    let block_panels = (B_BLOCK_BYTES / (k.max(1) * NR * value_bytes)).clamp(1, panels);
    let n_blocks = panels.div_ceil(block_panels);
    let row_chunks = m.div_ceil(TASK_ROWS);
    let task = |t: usize| {
        let (nb, rc) = (t / row_chunks, t % row_chunks);
        let (p0, p1) = (nb * block_panels, panels.min((nb + 1) * block_panels));
        let r_end = m.min((rc + 1) * TASK_ROWS);
        let mut r = rc * TASK_ROWS;
        while r < r_end {
            let rows = MR.min(r_end - r);
            for p in p0..p1 {
                let cols = NR.min(n - p * NR);
                let bias_p = bias.map_or(std::ptr::null(), |v| v[p * NR..].as_ptr());
                // SAFETY: the asserts above bound every row and column a tile touches; tasks
                // write disjoint (rows, panels) blocks of C; the ISA was detected when B was packed.
                unsafe {
                    let cp = out.get().add(r * ldc + p * NR);
                    match (&b.layout, a) {
                        (Layout::F32Panels(w), Lhs::F32(a)) => avx512::tile_f32(
                            k,
                            a[r * lda..].as_ptr(),
                            lda,
                            rows,
                            w[p * k * NR..].as_ptr(),
                            cp,
                            ldc,
                            bias_p,
                            cols,
                            epi,
                        ),
                        (Layout::Bf16Panels(w), Lhs::Bf16(a)) => avx512::tile_bf16(
                            k,
                            a[r * lda..].as_ptr(),
                            lda,
                            rows,
                            w[p * k * NR..].as_ptr(),
                            cp,
                            ldc,
                            bias_p,
                            cols,
                            epi,
                        ),
                        (Layout::I8Panels { kernel, values, scales, offsets }, Lhs::U8(a)) => {
                            let rows_at = U8Rows {
                                values: a.values[r * lda..].as_ptr(),
                                lda,
                                scales: a.scales[r..].as_ptr(),
                                zeros: a.zeros[r..].as_ptr(),
                            };
                            let panel = I8Panel {
                                values: values[p * k.div_ceil(4) * 4 * NR..].as_ptr(),
                                scales: scales[p * NR..].as_ptr(),
                                offsets: offsets[p * NR..].as_ptr(),
                            };
                            match kernel {
                                Int8Kernel::Avx512Vnni => {
                                    avx512::tile_i8(k, rows_at, rows, panel, cp, ldc, bias_p, cols, epi)
                                }
                                Int8Kernel::AvxVnni => {
                                    avxvnni::tile_i8(k, rows_at, rows, panel, cp, ldc, bias_p, cols, epi)
                                }
                            }
                        }
                        _ => panic!("left operand type does not match the packed operand"),
                    }
                }
            }
            r += rows;
        }
    };
    let tasks = n_blocks * row_chunks;
    if parallel {
        (0..tasks).into_par_iter().for_each(task);
    } else {
        (0..tasks).for_each(task);
    }
}

/// Without AVX-512: the `gemm` crate accumulates the product straight into C, which holds the
/// bias first (added to C's old values for `Accumulate`); GELU runs over the rows afterwards.
#[allow(clippy::too_many_arguments)]
unsafe fn fallback(
    a: &[f32],
    m: usize,
    lda: usize,
    w: &[f32],
    n: usize,
    k: usize,
    c: *mut f32,
    ldc: usize,
    bias: Option<&[f32]>,
    epi: Epilogue,
    parallel: bool,
) {
    assert!(a.len() >= (m - 1) * lda + k && w.len() >= n * k);
    // SAFETY: row r of the output, per the caller's contract.
    let row = |r: usize| unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), n) };
    for r in 0..m {
        let row = row(r);
        match (epi, bias) {
            (Epilogue::Accumulate, Some(b)) => row.iter_mut().zip(b).for_each(|(o, b)| *o += b),
            (Epilogue::Accumulate, None) => {}
            (_, Some(b)) => row.copy_from_slice(&b[..n]),
            (_, None) => row.fill(0.0),
        }
    }
    let par = if parallel { gemm::Parallelism::Rayon(rayon::current_num_threads()) } else { gemm::Parallelism::None };
    // SAFETY: a is m×k (row stride lda), w is n×k row-major read as k×n, c is m×n (row stride
    // ldc); bounds asserted above and by the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            ldc as isize,
            true,
            a.as_ptr(),
            1,
            lda as isize,
            w.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
    if epi == Epilogue::Gelu {
        (0..m).for_each(|r| crate::vmath::gelu_in_place(row(r)));
    }
}

/// A raw output pointer shared by parallel tasks that write disjoint parts of one matrix.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);

impl SendPtr {
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: only used for disjoint writes (see `tiled` and the encoder's attention).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], m: usize, k: usize, w: &[f32], n: usize, bias: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] =
                    (0..k).map(|kk| a[i * k + kk] as f64 * w[j * k + kk] as f64).sum::<f64>() as f32 + bias[j];
            }
        }
        out
    }

    fn data(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| ((i as f32 + seed) * 0.618).sin()).collect()
    }

    /// The operand as the AVX-512 tiles (where the CPU has them) and the portable path take it.
    fn both_layouts(w: &[f32], bias: &[f32], n: usize, k: usize) -> Vec<PackedB> {
        let mut portable = PackedB::from_linear(w, Some(bias), n, k, Precision::F32);
        portable.layout = Layout::RowMajor(w.to_vec());
        vec![PackedB::from_linear(w, Some(bias), n, k, Precision::F32), portable]
    }

    #[test]
    fn every_epilogue_and_ragged_edges_match_a_naive_product() {
        // m, n, k not multiples of the tile sizes
        let (m, n, k) = (53, 45, 70);
        let a = data(m * k, 1.0);
        let w = data(n * k, 2.0);
        let bias = data(n, 3.0);
        let want = naive(&a, m, k, &w, n, &bias);
        for b in both_layouts(&w, &bias, n, k) {
            let mut c = vec![0f32; m * n];
            matmul(Lhs::F32(&a), m, k, &b, &mut c, n, Epilogue::Store, Spread::Pool);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
            let base = data(m * n, 4.0);
            let mut c = base.clone();
            matmul(Lhs::F32(&a), m, k, &b, &mut c, n, Epilogue::Accumulate, Spread::Caller);
            for ((x, y), z) in c.iter().zip(&want).zip(&base) {
                assert!((x - (y + z)).abs() < 1e-4);
            }
            let mut c = vec![0f32; m * n];
            matmul(Lhs::F32(&a), m, k, &b, &mut c, n, Epilogue::Gelu, Spread::Pool);
            for (x, y) in c.iter().zip(&want) {
                let g = 0.5 * y * (1.0 + libm::erff(y / std::f32::consts::SQRT_2));
                assert!((x - g).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn strided_operands_and_output() {
        // B given transposed (as attention's values are), C written into a wider matrix
        let (m, n, k) = (13, 16, 40);
        let a = data(m * k, 5.0);
        let bt = data(k * n, 6.0); // k × n row-major: B[j][kk] = bt[kk * n + j]
        let mut b = PackedB::empty(Precision::F32);
        b.pack(&bt, n, k, 1, n);
        let w: Vec<f32> = (0..n * k).map(|i| bt[(i % k) * n + i / k]).collect();
        let want = naive(&a, m, k, &w, n, &vec![0.0; n]);
        let ldc = 50;
        let mut c = vec![7f32; m * ldc];
        matmul(Lhs::F32(&a), m, k, &b, &mut c, ldc, Epilogue::Store, Spread::Caller);
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * ldc + j] - want[i * n + j]).abs() < 1e-4);
            }
            assert_eq!(c[i * ldc + n], 7.0, "wrote outside the output columns");
        }
    }

    #[test]
    fn bf16_products_match_bf16_rounded_inputs() {
        if Precision::Bf16.supported() != Precision::Bf16 {
            eprintln!("no AVX512-BF16 on this CPU: the bf16 tiles are not exercised");
            return;
        }
        let (m, n, k) = (29, 70, 66);
        let a = data(m * k, 7.0);
        let w = data(n * k, 8.0);
        let round = |v: &[f32]| v.iter().map(|&x| f32::from_bits((to_bf16(x) as u32) << 16)).collect::<Vec<_>>();
        let want = naive(&round(&a), m, k, &round(&w), n, &vec![0.0; n]);
        let b = PackedB::from_linear(&w, None, n, k, Precision::Bf16);
        assert!(b.wants_bf16());
        let mut a16 = vec![0u16; a.len()];
        convert_to_bf16(&a, &mut a16);
        let mut c = vec![0f32; m * n];
        matmul(Lhs::Bf16(&a16), m, k, &b, &mut c, n, Epilogue::Store, Spread::Pool);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    /// The int8 operand on every tile this CPU has (AVX512-VNNI and AVX-VNNI).
    #[cfg(target_arch = "x86_64")]
    fn int8_kernels(w: &[f32], bias: Option<&[f32]>, n: usize, k: usize) -> Vec<PackedB> {
        let mut out = Vec::new();
        for (kernel, present) in [
            (Int8Kernel::Avx512Vnni, matches!(int8_kernel(), Ok(Int8Kernel::Avx512Vnni))),
            (Int8Kernel::AvxVnni, std::arch::is_x86_feature_detected!("avxvnni")),
        ] {
            if !present {
                eprintln!("no {kernel:?} on this CPU: its int8 tile is not exercised");
                continue;
            }
            let mut b = PackedB::from_linear(w, bias, n, k, Precision::Int8);
            if let Layout::I8Panels { kernel: k, .. } = &mut b.layout {
                *k = kernel;
            }
            out.push(b);
        }
        out
    }

    /// The packed int8 operand back as f32 (n × k), from its layout.
    fn dequantised(b: &PackedB) -> Vec<f32> {
        let Layout::I8Panels { values, scales, .. } = &b.layout else { panic!("not int8") };
        let k4 = b.k.div_ceil(4);
        let mut w = vec![0f32; b.n * b.k];
        for j in 0..b.n {
            let (p, l) = (j / NR, j % NR);
            for kk in 0..b.k {
                w[j * b.k + kk] = scales[j] * values[p * k4 * 4 * NR + (kk / 4) * 4 * NR + l * 4 + kk % 4] as f32;
            }
        }
        w
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn int8_tiles_compute_the_product_of_the_quantised_operands() {
        if Precision::Int8.check().is_err() {
            eprintln!("no VNNI on this CPU: the int8 tiles are not exercised");
            return;
        }
        // k not a multiple of 4, m and n not multiples of the tile; rows padded as QuantMatrix pads them
        let (m, n, k) = (53, 70, 70);
        let a = data(m * k, 11.0);
        let w = data(n * k, 12.0);
        let bias = data(n, 13.0);
        let mut q = QuantMatrix::default();
        q.quantize(&a, m, k, k);
        let (rows, lda) = q.rows_from(0);
        let a_back: Vec<f32> = (0..m * k)
            .map(|i| rows.scales[i / k] * (rows.values[(i / k) * lda + i % k] as i32 - rows.zeros[i / k]) as f32)
            .collect();
        for b in int8_kernels(&w, Some(&bias), n, k) {
            let want = naive(&a_back, m, k, &dequantised(&b), n, &bias);
            let mut c = vec![0f32; m * n];
            matmul(Lhs::U8(rows), m, lda, &b, &mut c, n, Epilogue::Store, Spread::Pool);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
            let base = data(m * n, 14.0);
            let mut c = base.clone();
            matmul(Lhs::U8(rows), m, lda, &b, &mut c, n, Epilogue::Accumulate, Spread::Caller);
            for ((x, y), z) in c.iter().zip(&want).zip(&base) {
                assert!((x - (y + z)).abs() < 1e-4);
            }
            let mut c = vec![0f32; m * n];
            matmul(Lhs::U8(rows), m, lda, &b, &mut c, n, Epilogue::Gelu, Spread::Pool);
            for (x, y) in c.iter().zip(&want) {
                let g = 0.5 * y * (1.0 + libm::erff(y / std::f32::consts::SQRT_2));
                assert!((x - g).abs() < 1e-4);
            }
            // and the quantised product stays close to the f32 one
            let exact = naive(&a, m, k, &w, n, &bias);
            let mut c = vec![0f32; m * n];
            matmul(Lhs::U8(rows), m, lda, &b, &mut c, n, Epilogue::Store, Spread::Pool);
            let rms =
                |v: &mut dyn Iterator<Item = f32>| (v.map(|x| (x * x) as f64).sum::<f64>() / (m * n) as f64).sqrt();
            let rel = rms(&mut c.iter().zip(&exact).map(|(x, y)| x - y)) / rms(&mut exact.iter().copied());
            assert!(rel < 0.01, "int8 against f32: relative rms error {rel}");
        }
    }

    #[test]
    fn int8_strided_operand_without_bias_into_a_wider_output() {
        if Precision::Int8.check().is_err() {
            return;
        }
        // as attention's values: B given transposed (k × n row-major), no bias, C inside a wider matrix
        let (m, n, k) = (13, 16, 40);
        let a = data(m * k, 15.0);
        let bt = data(k * n, 16.0);
        let mut b = PackedB::empty(Precision::Int8);
        b.pack(&bt, n, k, 1, n);
        let mut q = QuantMatrix::default();
        q.quantize(&a, m, k, k);
        let (rows, lda) = q.rows_from(0);
        let ldc = 50;
        let mut c = vec![7f32; m * ldc];
        matmul(Lhs::U8(rows), m, lda, &b, &mut c, ldc, Epilogue::Store, Spread::Caller);
        let w: Vec<f32> = (0..n * k).map(|i| bt[(i % k) * n + i / k]).collect();
        let want = naive(&a, m, k, &w, n, &vec![0.0; n]);
        for i in 0..m {
            for j in 0..n {
                assert!((c[i * ldc + j] - want[i * n + j]).abs() < 0.05);
            }
            assert_eq!(c[i * ldc + n], 7.0, "wrote outside the output columns");
        }
    }

    #[test]
    fn int8_without_vnni_is_an_error_naming_the_feature() {
        assert_eq!(int8_kernel_for(true, true).unwrap(), Int8Kernel::Avx512Vnni);
        assert_eq!(int8_kernel_for(false, true).unwrap(), Int8Kernel::AvxVnni);
        let e = int8_kernel_for(false, false).unwrap_err().to_string();
        assert!(e.contains("precision int8 needs a CPU with AVX512-VNNI or AVX-VNNI"), "{e}");
    }

    #[test]
    fn bf16_rounding_is_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0)
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(to_bf16(-2.5), half::bf16::from_f32(-2.5).to_bits());
    }
}
