//! `marlin kernels check`: compiles every kernel; on a GPU, runs each against its CPU twin on
//! random inputs (and a real frame when given) and measures its throughput.

use super::{Gpu, compiled, driver_present};
use crate::KernelError;
use crate::crop::{Square, crop_resize_square, warp_bilinear};
use crate::cuda::{SquareJob, TokenRows};
use crate::mask::{MaskStrategy, gather_rows, generate, scatter_rows, visible_indices};
use crate::patchify::{TubeletShape, patchify_rgb8, patchify_rgb8_f16};

/// What the check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Kernels compiled.
    pub compiled: usize,
    /// The GPU the parity checks ran on; `None`: compiled only.
    pub gpu: Option<String>,
    /// Parity checks run, and those that failed.
    pub checks: usize,
    pub failures: usize,
}

/// A real frame to crop from (packed RGB).
pub struct RealFrame<'a> {
    pub rgb: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// Runs the check, printing one line per result through `say`.
pub fn check(real: Option<RealFrame<'_>>, say: &mut dyn FnMut(String)) -> Result<CheckReport, KernelError> {
    let mut report = CheckReport::default();
    for c in compiled()? {
        say(format!("compiled {}: {} bytes PTX ({})", c.source.name, c.ptx.len(), c.source.functions.join(", ")));
        report.compiled += c.source.functions.len();
    }
    if !driver_present() {
        say("no CUDA driver here: parity and throughput need a GPU".into());
        return Ok(report);
    }
    let gpu = match Gpu::new(0) {
        Ok(g) => g,
        Err(e) => {
            say(format!("no usable GPU ({e}): parity and throughput need one"));
            return Ok(report);
        }
    };
    say(format!("GPU: {}", gpu.name()));
    report.gpu = Some(gpu.name());
    let mut rng = Lcg(0x5eed);
    let mut record = |name: &str, mismatches: Vec<String>, rate: String, say: &mut dyn FnMut(String)| {
        report.checks += 1;
        if mismatches.is_empty() {
            say(format!("ok {name}: equals its CPU twin; {rate}"));
        } else {
            report.failures += 1;
            say(format!("MISMATCH {name}: {}", mismatches.join("; ")));
        }
    };

    // crop_resize: squares inside, across and outside the frame; copy, halving, up and down
    let (w, h) = (1280, 720);
    let frames: Vec<u8> = (0..2 * w * h * 3).map(|_| rng.byte()).collect();
    let mut jobs: Vec<SquareJob> = [
        (0, 100, 80, 300),
        (1, -50, -40, 224),
        (0, 1100, 600, 448),
        (1, 640, 360, 2),
        (0, -300, 500, 900),
        (1, 5000, 10, 64),
    ]
    .map(|(frame, x0, y0, side)| SquareJob { frame, square: Square { x0, y0, side } })
    .to_vec();
    for k in 0..58 {
        let side = 16 + (rng.next() % 700) as usize;
        jobs.push(SquareJob {
            frame: k % 2,
            square: Square { x0: (rng.next() % 1500) as i64 - 200, y0: (rng.next() % 900) as i64 - 200, side },
        });
    }
    let (got, s) = gpu.crop_resize_square(&frames, w, h, &jobs, 224, 20)?;
    let want: Vec<u8> = jobs
        .iter()
        .flat_map(|j| crop_resize_square(&frames[j.frame * w * h * 3..][..w * h * 3], w, h, j.square, 224))
        .collect();
    record(
        "crop_resize_square (random frames)",
        mismatches(&got, &want, |v| v.to_string()),
        format!("{:.0} faces/s ({:.1} GB/s written)", jobs.len() as f64 / s, got.len() as f64 / s / 1e9),
        say,
    );
    if let Some(r) = &real {
        let side = r.width.min(r.height) / 2;
        let jobs = [
            SquareJob { frame: 0, square: Square { x0: (r.width / 4) as i64, y0: (r.height / 4) as i64, side } },
            SquareJob { frame: 0, square: Square { x0: -10, y0: -10, side: side + 20 } },
        ];
        let (got, _) = gpu.crop_resize_square(r.rgb, r.width, r.height, &jobs, 224, 1)?;
        let want: Vec<u8> =
            jobs.iter().flat_map(|j| crop_resize_square(r.rgb, r.width, r.height, j.square, 224)).collect();
        record("crop_resize_square (real frame)", mismatches(&got, &want, |v| v.to_string()), "-".into(), say);
    }

    // similarity warps: rotations and scales of random frames
    let frames: Vec<u8> = (0..2 * w * h * 3).map(|_| rng.byte()).collect();
    let faces: Vec<(usize, [f64; 6])> = (0..32)
        .map(|k| {
            let (angle, scale) = ((rng.next() % 90) as f64 / 100.0 - 0.45, 0.5 + (rng.next() % 300) as f64 / 100.0);
            let (c, s) = (scale * angle.cos(), scale * angle.sin());
            (k % 2, [c, -s, (rng.next() % 1300) as f64 - 50.0, s, c, (rng.next() % 700) as f64 - 50.0])
        })
        .collect();
    let (got, s) = gpu.warp_similarity(&frames, w, h, &faces, 224, 20)?;
    let want: Vec<u8> =
        faces.iter().flat_map(|(f, m)| warp_bilinear(&frames[f * w * h * 3..][..w * h * 3], w, h, *m, 224)).collect();
    record(
        "warp_similarity",
        mismatches(&got, &want, |v| v.to_string()),
        format!("{:.0} faces/s", faces.len() as f64 / s),
        say,
    );

    // patchify, f32 and f16, 8 clips
    let shape = TubeletShape::MARLIN;
    let clips: Vec<u8> = (0..8 * shape.clip_len()).map(|_| rng.byte()).collect();
    let per = shape.tokens() * shape.patch_dim();
    let mut want = vec![0f32; 8 * per];
    for (c, o) in clips.chunks_exact(shape.clip_len()).zip(want.chunks_exact_mut(per)) {
        patchify_rgb8(c, shape, o);
    }
    let (got, s) = gpu.patchify(&clips, shape, false, 20)?;
    let want_bits: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
    record(
        "patchify_f32",
        mismatches(&got, &want_bits, hex),
        format!("{:.0} clips/s ({:.1} GB/s written)", 8.0 / s, (8 * per * 4) as f64 / s / 1e9),
        say,
    );
    let mut want16 = vec![half::f16::ZERO; 8 * per];
    for (c, o) in clips.chunks_exact(shape.clip_len()).zip(want16.chunks_exact_mut(per)) {
        patchify_rgb8_f16(c, shape, o);
    }
    let (got, s) = gpu.patchify(&clips, shape, true, 20)?;
    let want_bits: Vec<u32> = want16.iter().map(|v| v.to_bits() as u32).collect();
    record("patchify_f16", mismatches(&got, &want_bits, hex), format!("{:.0} clips/s", 8.0 / s), say);

    // gather / scatter of visible tokens, 8 clips of ViT-B tokens
    let (tokens, dim, n) = (shape.tokens(), 768, 8);
    let src: Vec<f32> = (0..n * tokens * dim).map(|_| rng.next() as f32 / u32::MAX as f32).collect();
    let mut indices = Vec::new();
    for k in 0..n {
        indices.extend(visible_indices(&generate(MaskStrategy::Tube, shape, 0.9, k as u64, None)?));
    }
    let count = indices.len() / n;
    let mut want = vec![0f32; n * count * dim];
    for b in 0..n {
        gather_rows(
            &src[b * tokens * dim..][..tokens * dim],
            dim,
            &indices[b * count..][..count],
            &mut want[b * count * dim..][..count * dim],
        );
    }
    let (got, s) = gpu.move_rows(&src, &[], TokenRows { clips: n, tokens, dim }, &indices, 50)?;
    record(
        "gather_rows",
        mismatches(&bits(&got), &bits(&want), hex),
        format!("{:.1} GB/s", (want.len() * 8) as f64 / s / 1e9),
        say,
    );
    let base = vec![0.5f32; n * tokens * dim];
    let mut want_s = base.clone();
    for b in 0..n {
        scatter_rows(
            &want[b * count * dim..][..count * dim],
            dim,
            &indices[b * count..][..count],
            &mut want_s[b * tokens * dim..][..tokens * dim],
        );
    }
    let (got, s) = gpu.move_rows(&want, &base, TokenRows { clips: n, tokens, dim }, &indices, 50)?;
    record(
        "scatter_rows",
        mismatches(&bits(&got), &bits(&want_s), hex),
        format!("{:.1} GB/s", (want.len() * 8) as f64 / s / 1e9),
        say,
    );
    Ok(report)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The first mismatches and their count (values shown by `show`); empty when equal.
fn mismatches<T: Copy + PartialEq>(got: &[T], want: &[T], show: impl Fn(T) -> String) -> Vec<String> {
    if got.len() != want.len() {
        return vec![format!("{} values, expected {}", got.len(), want.len())];
    }
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    let mut out: Vec<String> =
        bad.iter().take(5).map(|&i| format!("value {i}: {} vs {}", show(got[i]), show(want[i]))).collect();
    if !bad.is_empty() {
        out.push(format!("{} of {} differ", bad.len(), got.len()));
    }
    out
}

fn hex(v: u32) -> String {
    format!("{v:#x}")
}

/// A tiny deterministic generator for test inputs.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}
