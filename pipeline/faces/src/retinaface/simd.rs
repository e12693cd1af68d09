//! The vector lanes the detector's kernels are written over, once: [`Simd`] implemented for
//! AVX-512 (16 lanes), AVX2 + FMA (8 lanes) and plain arrays (8 lanes, any CPU), and the
//! instruction set chosen at run time ([`Isa`]).

/// Which implementation of [`Simd`] the kernels run on: only [`Isa::detect`] (and, in tests,
/// [`Isa::available`]) make one, so every `Isa` runs on this CPU and the layers that take one
/// are safe to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(Kind);

/// The instruction sets, for the kernels' dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    /// The widest the CPU has.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa(Kind::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Isa(Kind::Avx2);
            }
        }
        Isa(Kind::Portable)
    }

    pub fn kind(self) -> Kind {
        self.0
    }

    /// Every instruction set this CPU can run (the tests check each against the reference).
    #[cfg(test)]
    pub fn available() -> Vec<Self> {
        let best = Self::detect().0;
        [Kind::Avx512, Kind::Avx2, Kind::Portable]
            .into_iter()
            .filter(|&k| match best {
                Kind::Avx512 => true,
                Kind::Avx2 => k != Kind::Avx512,
                Kind::Portable => k == Kind::Portable,
            })
            .map(Isa)
            .collect()
    }
}

/// A vector of `LANES` f32 lanes and the operations the kernels use. Every function is
/// `unsafe`: the caller runs on a CPU with the implementation's instructions, and pointers
/// address `LANES` readable (or writable) values.
pub trait Simd {
    const LANES: usize;
    type V: Copy;

    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// Stores the first `n` lanes (`n ≤ LANES`); the others are not touched.
    unsafe fn store_first(p: *mut f32, v: Self::V, n: usize);
    /// `a · b + c`: fused (one rounding) on AVX-512 and AVX2, two roundings in `Portable`.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// The even lanes of `a` then `b` (lanes 0, 2, 4… of their concatenation): one stride-2
    /// vector out of two consecutive loads.
    unsafe fn even(a: Self::V, b: Self::V) -> Self::V;
    /// The odd lanes of `a` then `b` (lanes 1, 3, 5…).
    unsafe fn odd(a: Self::V, b: Self::V) -> Self::V;
    /// `a` and `b` lane by lane (a0 b0 a1 b1…), as two vectors: the first half and the second.
    unsafe fn interleave(a: Self::V, b: Self::V) -> (Self::V, Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Every intrinsic here needs the instruction set its type names: the `Simd` contract
    //! (callers run on such a CPU) is what makes each `unsafe` block sound.

    use std::arch::x86_64::*;

    use super::Simd;

    /// 16 lanes in a zmm register.
    pub struct Avx512;

    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: per the trait's contract.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store_first(p: *mut f32, v: __m512, n: usize) {
            // SAFETY: per the trait's contract; the mask keeps the store to `n` lanes (a
            // masked store of all lanes costs what a plain one does: no branch).
            unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn even(a: __m512, b: __m512) -> __m512 {
            let idx = unsafe { _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) };
            unsafe { _mm512_permutex2var_ps(a, idx, b) }
        }
        #[inline(always)]
        unsafe fn odd(a: __m512, b: __m512) -> __m512 {
            let idx = unsafe { _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31) };
            unsafe { _mm512_permutex2var_ps(a, idx, b) }
        }
        #[inline(always)]
        unsafe fn interleave(a: __m512, b: __m512) -> (__m512, __m512) {
            let lo = unsafe { _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23) };
            let hi = unsafe { _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31) };
            unsafe { (_mm512_permutex2var_ps(a, lo, b), _mm512_permutex2var_ps(a, hi, b)) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }
    }

    /// 8 lanes in a ymm register.
    pub struct Avx2;

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: per the trait's contract.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store_first(p: *mut f32, v: __m256, n: usize) {
            if n >= 8 {
                // SAFETY: per the trait's contract.
                return unsafe { _mm256_storeu_ps(p, v) };
            }
            // Lane i stored when i < n (its mask lane all ones).
            let lanes = unsafe { _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) };
            let mask = unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes) };
            // SAFETY: per the trait's contract; the mask keeps the store to `n` lanes.
            unsafe { _mm256_maskstore_ps(p, mask, v) }
        }
        #[inline(always)]
        unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn even(a: __m256, b: __m256) -> __m256 {
            // [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs in order (0, 2, 1, 3).
            let s = unsafe { _mm256_shuffle_ps::<0b10_00_10_00>(a, b) };
            unsafe { _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(s))) }
        }
        #[inline(always)]
        unsafe fn odd(a: __m256, b: __m256) -> __m256 {
            let s = unsafe { _mm256_shuffle_ps::<0b11_01_11_01>(a, b) };
            unsafe { _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(s))) }
        }
        #[inline(always)]
        unsafe fn interleave(a: __m256, b: __m256) -> (__m256, __m256) {
            // [a0 b0 a1 b1 | a4 b4 a5 b5] and [a2 b2 a3 b3 | a6 b6 a7 b7], then their halves.
            let (lo, hi) = unsafe { (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b)) };
            unsafe { (_mm256_permute2f128_ps::<0x20>(lo, hi), _mm256_permute2f128_ps::<0x31>(lo, hi)) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }
    }
}

/// 8 lanes as a plain array: any CPU (the compiler vectorises what it can).
pub struct Portable;

impl Simd for Portable {
    const LANES: usize = 8;
    type V = [f32; 8];

    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 8] {
        // SAFETY: per the trait's contract.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: [f32; 8], n: usize) {
        // SAFETY: per the trait's contract (`n` writable values).
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), p, n) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        // Two roundings: `mul_add` is a library call on CPUs without FMA.
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn max(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i].max(b[i]))
    }
    #[inline(always)]
    unsafe fn even(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| if i < 4 { a[2 * i] } else { b[2 * i - 8] })
    }
    #[inline(always)]
    unsafe fn odd(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| if i < 4 { a[2 * i + 1] } else { b[2 * i - 7] })
    }
    #[inline(always)]
    unsafe fn interleave(a: [f32; 8], b: [f32; 8]) -> ([f32; 8], [f32; 8]) {
        let pick = |j: usize| if j.is_multiple_of(2) { a[j / 2] } else { b[j / 2] };
        (std::array::from_fn(pick), std::array::from_fn(|i| pick(i + 8)))
    }
    #[inline(always)]
    unsafe fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn sub(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] - b[i])
    }
}
