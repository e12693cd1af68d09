//! Register-only throughput of the AVX-512 product instructions on this CPU, one thread:
//! `vfmadd231ps zmm` (f32), `vdpbf16ps zmm` (bf16 pairs into f32) and `vpdpbusd zmm` (u8 × s8
//! quadruples into i32, AVX512-VNNI; `vpdpbusd ymm` of AVX-VNNI where only that exists).
//! `cargo run --release -p marlin-model --example fma_rate`

#[cfg(target_arch = "x86_64")]
mod bench {
    use std::arch::x86_64::*;
    use std::time::Instant;

    const CHAINS: usize = 24;

    #[target_feature(enable = "avx512f")]
    fn fma(n: usize) -> f32 {
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        let (a, b) = (_mm512_set1_ps(0.999_9), _mm512_set1_ps(1e-7));
        for _ in 0..n {
            #[allow(clippy::needless_range_loop)] // indexed: keeps every chain in a register
            for i in 0..CHAINS {
                acc[i] = _mm512_fmadd_ps(acc[i], a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    fn dpbf16(n: usize) -> f32 {
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        // SAFETY (in the closure): same-size bit reinterpretation of an integer vector as bf16.
        let bf16x32 =
            |bits: i32| -> __m512bh { unsafe { std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(bits)) } };
        let (a, b) = (bf16x32(0x3f80_3f80), bf16x32(0x3380_3380));
        for _ in 0..n {
            #[allow(clippy::needless_range_loop)]
            for i in 0..CHAINS {
                acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    fn dpbusd(n: usize) -> i32 {
        let mut acc = [_mm512_setzero_si512(); CHAINS];
        let (a, b) = (_mm512_set1_epi8(1), _mm512_set1_epi8(1));
        for _ in 0..n {
            #[allow(clippy::needless_range_loop)]
            for i in 0..CHAINS {
                acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
            }
        }
        let mut s = _mm512_setzero_si512();
        for x in acc {
            s = _mm512_add_epi32(s, x);
        }
        _mm512_reduce_add_epi32(s)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    fn dpbusd_ymm(n: usize) -> i32 {
        let mut acc = [_mm256_setzero_si256(); CHAINS / 2];
        let (a, b) = (_mm256_set1_epi8(1), _mm256_set1_epi8(1));
        for _ in 0..n {
            #[allow(clippy::needless_range_loop)]
            for i in 0..CHAINS / 2 {
                acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
            }
        }
        let mut s = _mm256_setzero_si256();
        for x in acc {
            s = _mm256_add_epi32(s, x);
        }
        let mut lanes = [0i32; 8];
        // SAFETY: 8 i32 lanes into an 8-element array.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, s) };
        lanes.iter().fold(0i32, |a, &b| a.wrapping_add(b))
    }

    pub fn run() {
        let n = 50_000_000;
        let instr = (n * CHAINS) as f64;
        if std::arch::is_x86_feature_detected!("avx512f") {
            let t = Instant::now();
            // SAFETY: AVX-512F detected.
            let x = unsafe { fma(n) };
            let s = t.elapsed().as_secs_f64();
            println!(
                "vfmadd231ps zmm: {:.2} G/s, {:.0} GFLOP/s per core (checksum {x:.1})",
                instr / s / 1e9,
                instr * 32.0 / s / 1e9
            );
        }
        if std::arch::is_x86_feature_detected!("avx512bf16") {
            let t = Instant::now();
            // SAFETY: AVX512-BF16 detected.
            let x = unsafe { dpbf16(n) };
            let s = t.elapsed().as_secs_f64();
            println!(
                "vdpbf16ps zmm:   {:.2} G/s, {:.0} GFLOP/s per core (checksum {x:.1})",
                instr / s / 1e9,
                instr * 64.0 / s / 1e9
            );
        }
        if std::arch::is_x86_feature_detected!("avx512vnni") {
            let t = Instant::now();
            // SAFETY: AVX512-VNNI detected.
            let x = unsafe { dpbusd(n) };
            let s = t.elapsed().as_secs_f64();
            println!(
                "vpdpbusd zmm:    {:.2} G/s, {:.0} GOP/s per core (checksum {x})",
                instr / s / 1e9,
                instr * 128.0 / s / 1e9
            );
        }
        if std::arch::is_x86_feature_detected!("avxvnni") {
            let t = Instant::now();
            // SAFETY: AVX-VNNI detected.
            let x = unsafe { dpbusd_ymm(n) };
            let s = t.elapsed().as_secs_f64();
            let instr = instr / 2.0;
            println!(
                "vpdpbusd ymm:    {:.2} G/s, {:.0} GOP/s per core (checksum {x})",
                instr / s / 1e9,
                instr * 64.0 / s / 1e9
            );
        }
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    bench::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("x86-64 only");
}
