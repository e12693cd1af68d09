//! GFLOP/s of the encoder's product kernels on its shapes (best of several runs; int8: GOP/s,
//! quantising A excluded): `cargo run --release -p marlin-model --example gemm_rate -- [f32|bf16|int8]`.

use std::time::Instant;

use marlin_model::matmul::{Epilogue, Lhs, PackedB, Precision, QuantMatrix, Spread, convert_to_bf16, matmul};

fn main() {
    let precision = match std::env::args().nth(1).as_deref() {
        Some("bf16") => Precision::Bf16,
        Some("int8") => Precision::Int8,
        _ => Precision::F32,
    };
    if let Err(e) = precision.check() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let pool = rayon::ThreadPoolBuilder::new().build().expect("thread pool");
    // (name, m, n, k): vit_small's qkv, fc1, fc2, and one attention head's q·kᵀ and p·v
    let shapes = [
        ("qkv", 1568, 1152, 384),
        ("fc1", 1568, 1536, 384),
        ("fc2", 1568, 384, 1536),
        ("qk", 128, 1568, 64),
        ("pv", 128, 64, 1568),
    ];
    for (name, m, n, k) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i % 89) as f32 - 44.0) / 89.0).collect();
        let b = PackedB::from_linear(&w, None, n, k, precision.supported());
        let mut a16 = vec![0u16; a.len()];
        convert_to_bf16(&a, &mut a16);
        let mut a8 = QuantMatrix::default();
        a8.quantize(&a, m, k, k);
        let (lhs, lda) = match (b.wants_bf16(), b.wants_u8()) {
            (true, _) => (Lhs::Bf16(&a16), k),
            (_, true) => {
                let (rows, lda) = a8.rows_from(0);
                (Lhs::U8(rows), lda)
            }
            _ => (Lhs::F32(&a), k),
        };
        let mut c = vec![0f32; m * n];
        let parallel = m > 128;
        let reps = (2e10 / (2.0 * (m * n * k) as f64)).ceil() as usize;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            pool.install(|| {
                for _ in 0..reps {
                    matmul(
                        lhs,
                        m,
                        lda,
                        &b,
                        &mut c,
                        n,
                        Epilogue::Store,
                        if parallel { Spread::Pool } else { Spread::Caller },
                    );
                }
            });
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        let threads = if parallel { pool.current_num_threads() } else { 1 };
        let unit = if precision == Precision::Int8 { "GOP/s" } else { "GFLOP/s" };
        println!("{name:>4} {m}x{n}x{k} threads={threads}: {:.1} {unit}", 2.0 * (m * n * k) as f64 / best / 1e9);
    }
}
