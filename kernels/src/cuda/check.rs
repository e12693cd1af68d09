//! The kernel checks behind `marlin kernels check` and `marlin-gpu-check`: which driver and
//! NVRTC were opened, NVRTC compiles every source; on a GPU each kernel runs against its CPU twin
//! (the code the CPU pipeline runs) on random frames and on the frames given, its throughput
//! beside the device's memory bandwidth, and the patches the GPU providers bind
//! (`Gpu::patchify_to_device`) are read back through their raw device address. Every check has
//! a fixed name and ends `ok`, `FAILED` (its first mismatches) or `skipped` (why): without a GPU
//! each GPU check is still listed, as skipped.

use std::fmt;

use super::{Gpu, compiled, driver_error};
use crate::crop::{Square, crop_resize_square, warp_bilinear};
use crate::cuda::{SquareJob, TokenRows};
use crate::libraries;
use crate::mask::{MaskStrategy, gather_rows, generate, scatter_rows, visible_indices};
use crate::patchify::{TubeletShape, patchify_rgb8, patchify_rgb8_f16};
use crate::sources::SOURCES;
use crate::{KernelError, nvrtc::Nvrtc};

/// How a check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Passed; what it measured.
    Ok(String),
    /// The first problems (mismatches, errors).
    Failed(Vec<String>),
    /// Not run, and why.
    Skipped(String),
}

/// One check's name and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub status: Status,
}

impl Outcome {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Ok(detail.into()) }
    }

    pub fn failed(name: impl Into<String>, problems: Vec<String>) -> Self {
        Self { name: name.into(), status: Status::Failed(problems) }
    }

    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { name: name.into(), status: Status::Skipped(why.into()) }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Status::Ok(detail) => write!(f, "ok {}: {detail}", self.name),
            Status::Failed(problems) => write!(f, "FAILED {}: {}", self.name, problems.join("; ")),
            Status::Skipped(why) => write!(f, "skipped {}: {why}", self.name),
        }
    }
}

/// Frames to run the kernels on: `count × height × width × 3` RGB bytes.
pub struct Frames {
    /// What they are (a file name), for the checks' names.
    pub name: String,
    pub rgb: Vec<u8>,
    pub count: usize,
    pub width: usize,
    pub height: usize,
}

impl Frames {
    /// Frames from `rgb`; an error naming them when the bytes do not match the shape.
    pub fn new(name: String, rgb: Vec<u8>, count: usize, width: usize, height: usize) -> Result<Self, KernelError> {
        if count == 0 || width == 0 || height == 0 || rgb.len() != count * width * height * 3 {
            return Err(KernelError::Input(format!(
                "{name}: {} bytes are not {count} RGB frames of {width}×{height}",
                rgb.len()
            )));
        }
        Ok(Self { name, rgb, count, width, height })
    }

    fn random(count: usize, width: usize, height: usize, rng: &mut Lcg) -> Self {
        let rgb = (0..count * width * height * 3).map(|_| rng.byte()).collect();
        Self { name: format!("random {width}×{height}"), rgb, count, width, height }
    }

    fn frame(&self, i: usize) -> &[u8] {
        let size = self.width * self.height * 3;
        &self.rgb[i * size..][..size]
    }

    /// A clip of the MARLIN shape, (16, 224, 224, 3): frames `start`, `start + 1`, … (cycling),
    /// each one's centred square resized by the CPU twin.
    pub fn clip(&self, start: usize) -> Vec<u8> {
        let shape = TubeletShape::MARLIN;
        let side = self.width.min(self.height);
        let square = Square { x0: ((self.width - side) / 2) as i64, y0: ((self.height - side) / 2) as i64, side };
        (0..shape.frames)
            .flat_map(|t| {
                crop_resize_square(self.frame((start + t) % self.count), self.width, self.height, square, shape.side)
            })
            .collect()
    }
}

/// A check run on the GPU: its status, or the error that stopped it.
type GpuCheck<'a> = Box<dyn Fn(&Gpu) -> Result<Status, KernelError> + 'a>;

/// Clips (and rows) the patch and token checks run on.
const CLIPS: usize = 8;

/// Runs every check on GPU 0, passing each outcome to `report` as it ends; `repeat` timed
/// launches per kernel after a warm-up (0: one launch, not timed — for compute-sanitizer).
pub fn check(frames: &[Frames], repeat: usize, report: &mut dyn FnMut(&Outcome)) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut emit = |o: Outcome| {
        report(&o);
        outcomes.push(o);
    };
    let libraries = libraries::loaded();
    emit(match &libraries.driver {
        Ok(d) => {
            Outcome::ok("cuda driver", format!("CUDA {}.{} driver, {}", d.version.0, d.version.1, d.file.display()))
        }
        Err(e) => Outcome::skipped("cuda driver", e.to_string()),
    });
    emit(match &libraries.nvrtc {
        Ok(n) => Outcome::ok("nvrtc", describe_nvrtc(n, &libraries.nvrtc_candidates)),
        Err(e) => Outcome::skipped("nvrtc", e.to_string()),
    });
    let gpu = match compiled() {
        Ok(all) => {
            for c in all {
                emit(Outcome::ok(
                    format!("compile {}", c.source.name),
                    format!("{} bytes of PTX ({})", c.ptx.len(), c.source.functions.join(", ")),
                ));
            }
            open_gpu(&mut emit)
        }
        Err(KernelError::Compile { kernel, log }) => {
            emit(Outcome::failed(format!("compile {kernel}"), log.lines().take(12).map(str::to_string).collect()));
            emit(Outcome::skipped("gpu", "the kernels did not compile"));
            Err("the kernels did not compile".to_string())
        }
        Err(KernelError::MissingLibrary { .. }) => {
            for s in SOURCES {
                emit(Outcome::skipped(format!("compile {}", s.name), "no NVRTC (see `nvrtc`)"));
            }
            emit(Outcome::skipped("gpu", "no NVRTC to compile the kernels"));
            Err("no NVRTC to compile the kernels".to_string())
        }
        Err(e) => {
            emit(Outcome::failed("compile", vec![e.to_string()]));
            Err("the kernels did not compile".to_string())
        }
    };

    let mut rng = Lcg(0x5eed);
    let random = Frames::random(2, 1280, 720, &mut rng);
    let sets: Vec<&Frames> = std::iter::once(&random).chain(frames).collect();
    // cut (on the CPU) only when a GPU check runs
    let (clips, sets) = (&std::cell::OnceCell::new(), &sets);
    let clips = move || clips.get_or_init(|| Clips::cut(sets));
    let peak = gpu.as_ref().ok().and_then(Gpu::peak_bandwidth);
    let mut checks: Vec<(String, GpuCheck<'_>)> = Vec::new();
    for (k, set) in sets.iter().enumerate() {
        let seed = 1 + k as u64;
        checks.push((
            format!("crop_resize_square on {}", set.name),
            Box::new(move |g| crop_check(g, set, seed, repeat, peak)),
        ));
        checks.push((
            format!("warp_similarity on {}", set.name),
            Box::new(move |g| warp_check(g, set, seed, repeat, peak)),
        ));
    }
    let names: Vec<&str> = sets.iter().map(|f| f.name.as_str()).collect();
    let on = format!("{CLIPS} clips cut from {}", names.join(", "));
    for half in [false, true] {
        let name = format!("patchify_{} on {on}", if half { "f16" } else { "f32" });
        checks.push((name, Box::new(move |g| patchify_check(g, clips(), half, repeat, peak))));
    }
    for scatter in [false, true] {
        let name = format!("{} of their patch rows", if scatter { "scatter_rows" } else { "gather_rows" });
        checks.push((name, Box::new(move |g| rows_check(g, clips(), scatter, repeat, peak))));
    }
    checks.push(("patchify_to_device → device address → host".into(), Box::new(move |g| handoff_check(g, clips()))));
    for (name, run) in checks {
        emit(match &gpu {
            Ok(g) => Outcome { status: run(g).unwrap_or_else(|e| Status::Failed(vec![e.to_string()])), name },
            Err(why) => Outcome::skipped(name, why.clone()),
        });
    }
    outcomes
}

/// Which NVRTC is used, from where, and the others found.
fn describe_nvrtc(n: &Nvrtc, candidates: &[libraries::Candidate]) -> String {
    let file = if n.file.is_absolute() {
        n.file.display().to_string()
    } else {
        let mapped = libraries::mapped_files("libnvrtc.so").iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        mapped.join(", ")
    };
    let via = candidates.iter().find(|c| c.file == n.file).map_or("", |c| c.via);
    let others: Vec<String> = candidates
        .iter()
        .filter(|c| c.file != n.file && c.file.is_absolute())
        .map(|c| c.file.display().to_string())
        .collect();
    format!(
        "NVRTC {}.{} from {file} ({via}); builtins {}{}",
        n.version.0,
        n.version.1,
        n.builtins.as_ref().map_or("found by NVRTC itself".to_string(), |b| format!("{} loaded first", b.display())),
        if others.is_empty() { String::new() } else { format!("; also found: {}", others.join(", ")) }
    )
}

/// GPU 0 with the kernels loaded, or why the GPU checks are skipped; reported as `gpu`.
fn open_gpu(emit: &mut dyn FnMut(Outcome)) -> Result<Gpu, String> {
    match Gpu::new(0) {
        Ok(g) => {
            emit(Outcome::ok("gpu", g.describe()));
            Ok(g)
        }
        Err(KernelError::MissingLibrary { .. }) => {
            emit(Outcome::skipped("gpu", "no CUDA driver (see `cuda driver`)"));
            Err("no CUDA driver".into())
        }
        // a driver without a device (a container started without GPUs) is no GPU, not a failure
        Err(e) if e.to_string().contains("CUDA_ERROR_NO_DEVICE") => {
            emit(Outcome::skipped("gpu", e.to_string()));
            Err("no CUDA device".into())
        }
        Err(e) => {
            emit(Outcome::failed("gpu", vec![e.to_string()]));
            Err("the GPU did not open".into())
        }
    }
}

/// Crop squares over `f`: copies, halvings, up- and down-scales, across every edge and wholly
/// outside, then random ones.
fn square_jobs(f: &Frames, rng: &mut Lcg) -> Vec<SquareJob> {
    let (w, h) = (f.width as i64, f.height as i64);
    let short = w.min(h);
    let last = f.count - 1;
    let mut jobs: Vec<SquareJob> = [
        (0, w / 4, h / 4, 224),
        (last, -50, -40, 224),
        (0, w - 300, h - 200, 448),
        (last, w / 2, h / 2, 2),
        (0, -short / 3, h / 3, short + 100),
        (last, w + 100, 10, 64),
        (0, 0, 0, short),
    ]
    .into_iter()
    .map(|(frame, x0, y0, side)| SquareJob { frame, square: Square { x0, y0, side: side as usize } })
    .collect();
    for k in 0..57 {
        let side = 16 + (rng.next() as i64 % (short + short / 4)) as usize;
        let (x0, y0) = (rng.next() as i64 % (w + 400) - 200, rng.next() as i64 % (h + 400) - 200);
        jobs.push(SquareJob { frame: k % f.count, square: Square { x0, y0, side } });
    }
    jobs
}

fn crop_check(gpu: &Gpu, f: &Frames, seed: u64, repeat: usize, peak: Option<f64>) -> Result<Status, KernelError> {
    let jobs = square_jobs(f, &mut Lcg(seed));
    let (got, s) = gpu.crop_resize_square(&f.rgb, f.width, f.height, &jobs, 224, repeat)?;
    let want: Vec<u8> =
        jobs.iter().flat_map(|j| crop_resize_square(f.frame(j.frame), f.width, f.height, j.square, 224)).collect();
    let face = 224 * 224 * 3;
    Ok(verdict(
        mismatches(&got, &want, |i| {
            let (j, r) = (&jobs[i / face], i % face);
            format!("face {} ({:?}) pixel ({}, {}) channel {}", i / face, j, r / 3 / 224, r / 3 % 224, r % 3)
        }),
        || format!("{} faces/s, {}", rate_of(jobs.len(), s), bandwidth(got.len(), s, "written", peak)),
    ))
}

fn warp_check(gpu: &Gpu, f: &Frames, seed: u64, repeat: usize, peak: Option<f64>) -> Result<Status, KernelError> {
    let mut rng = Lcg(seed);
    let faces: Vec<(usize, [f64; 6])> = (0..32)
        .map(|k| {
            let (angle, scale) = ((rng.next() % 90) as f64 / 100.0 - 0.45, 0.5 + (rng.next() % 300) as f64 / 100.0);
            let (c, s) = (scale * angle.cos(), scale * angle.sin());
            let (tx, ty) = (
                (rng.next() as usize % (f.width + 100)) as f64 - 50.0,
                (rng.next() as usize % (f.height + 100)) as f64 - 50.0,
            );
            (k % f.count, [c, -s, tx, s, c, ty])
        })
        .collect();
    let (got, s) = gpu.warp_similarity(&f.rgb, f.width, f.height, &faces, 224, repeat)?;
    let want: Vec<u8> =
        faces.iter().flat_map(|(k, m)| warp_bilinear(f.frame(*k), f.width, f.height, *m, 224)).collect();
    let face = 224 * 224 * 3;
    Ok(verdict(
        mismatches(&got, &want, |i| {
            let r = i % face;
            format!(
                "face {} (map {:?}) pixel ({}, {}) channel {}",
                i / face,
                faces[i / face].1,
                r / 3 / 224,
                r / 3 % 224,
                r % 3
            )
        }),
        || format!("{} faces/s, {}", rate_of(faces.len(), s), bandwidth(got.len(), s, "written", peak)),
    ))
}

/// [`CLIPS`] clips cut from frame sets ([`Frames::clip`]), the sets taken in turn, and their
/// patches as the CPU makes them.
struct Clips {
    rgb: Vec<u8>,
    patches: Vec<f32>,
}

impl Clips {
    fn cut(sets: &[&Frames]) -> Self {
        let shape = TubeletShape::MARLIN;
        let rgb: Vec<u8> = (0..CLIPS).flat_map(|k| sets[k % sets.len()].clip(k)).collect();
        let per = shape.tokens() * shape.patch_dim();
        let mut patches = vec![0f32; CLIPS * per];
        for (c, o) in rgb.chunks_exact(shape.clip_len()).zip(patches.chunks_exact_mut(per)) {
            patchify_rgb8(c, shape, o);
        }
        Self { rgb, patches }
    }
}

fn patchify_check(
    gpu: &Gpu,
    clips: &Clips,
    half: bool,
    repeat: usize,
    peak: Option<f64>,
) -> Result<Status, KernelError> {
    let shape = TubeletShape::MARLIN;
    let (got, s) = gpu.patchify(&clips.rgb, shape, half, repeat)?;
    let want: Vec<u32> = if half {
        let mut want16 = vec![half::f16::ZERO; clips.patches.len()];
        let per = shape.tokens() * shape.patch_dim();
        for (c, o) in clips.rgb.chunks_exact(shape.clip_len()).zip(want16.chunks_exact_mut(per)) {
            patchify_rgb8_f16(c, shape, o);
        }
        want16.iter().map(|v| v.to_bits() as u32).collect()
    } else {
        bits(&clips.patches)
    };
    let written = got.len() * if half { 2 } else { 4 };
    Ok(verdict(mismatches_hex(&got, &want, |i| patch_place(shape, i)), || {
        format!("{} clips/s, {}", rate_of(CLIPS, s), bandwidth(clips.rgb.len() + written, s, "read + written", peak))
    }))
}

fn patch_place(shape: TubeletShape, i: usize) -> String {
    let (dim, tokens) = (shape.patch_dim(), shape.tokens());
    format!("clip {} token {} element {}", i / (dim * tokens), i / dim % tokens, i % dim)
}

/// gather (visible rows of each clip's patch matrix, tube masks at 0.9) or scatter them back
/// into a filled matrix.
fn rows_check(
    gpu: &Gpu,
    clips: &Clips,
    scatter: bool,
    repeat: usize,
    peak: Option<f64>,
) -> Result<Status, KernelError> {
    let shape = TubeletShape::MARLIN;
    let (tokens, dim) = (shape.tokens(), shape.patch_dim());
    let mut indices = Vec::new();
    for k in 0..CLIPS {
        indices.extend(visible_indices(&generate(MaskStrategy::Tube, shape, 0.9, k as u64, None)?));
    }
    let count = indices.len() / CLIPS;
    let mut gathered = vec![0f32; CLIPS * count * dim];
    for b in 0..CLIPS {
        gather_rows(
            &clips.patches[b * tokens * dim..][..tokens * dim],
            dim,
            &indices[b * count..][..count],
            &mut gathered[b * count * dim..][..count * dim],
        );
    }
    let layout = TokenRows { clips: CLIPS, tokens, dim };
    let (got, want, s) = if scatter {
        let base = vec![0.5f32; CLIPS * tokens * dim];
        let mut want = base.clone();
        for b in 0..CLIPS {
            scatter_rows(
                &gathered[b * count * dim..][..count * dim],
                dim,
                &indices[b * count..][..count],
                &mut want[b * tokens * dim..][..tokens * dim],
            );
        }
        let (got, s) = gpu.move_rows(&gathered, &base, layout, &indices, repeat)?;
        (got, want, s)
    } else {
        let (got, s) = gpu.move_rows(&clips.patches, &[], layout, &indices, repeat)?;
        (got, gathered.clone(), s)
    };
    Ok(verdict(mismatches_hex(&bits(&got), &bits(&want), |i| format!("row {} column {}", i / dim, i % dim)), || {
        bandwidth(gathered.len() * 8, s, "read + written", peak)
    }))
}

/// The encoder input the GPU providers bind: `patchify_to_device`'s buffer, copied back from
/// its raw device address (as ONNX Runtime is handed it), equals the CPU's patches.
fn handoff_check(gpu: &Gpu, clips: &Clips) -> Result<Status, KernelError> {
    let patches = gpu.patchify_to_device(&clips.rgb, TubeletShape::MARLIN)?;
    let address = patches.device_address(gpu);
    let mut host = vec![0f32; clips.patches.len()];
    gpu.ctx.bind_to_thread().map_err(driver_error)?;
    // SAFETY: `address` holds these values (written and synchronised: `DevicePatches`'
    // contract) while `patches` lives, which it does until the end of this function.
    unsafe { cudarc::driver::result::memcpy_dtoh_sync(&mut host, address) }.map_err(driver_error)?;
    Ok(verdict(mismatches_hex(&bits(&host), &bits(&clips.patches), |i| patch_place(TubeletShape::MARLIN, i)), || {
        format!("{} f32 read back from device address {address:#x}", host.len())
    }))
}

fn verdict(mismatches: Vec<String>, measured: impl FnOnce() -> String) -> Status {
    if mismatches.is_empty() {
        Status::Ok(format!("equals its CPU twin; {}", measured()))
    } else {
        Status::Failed(mismatches)
    }
}

fn rate_of(items: usize, seconds: f64) -> String {
    if seconds > 0.0 { format!("{:.0}", items as f64 / seconds) } else { "?".into() }
}

/// GB/s of `bytes` per launch, beside the device's peak.
fn bandwidth(bytes: usize, seconds: f64, what: &str, peak: Option<f64>) -> String {
    if seconds <= 0.0 {
        return "not timed".into();
    }
    let gbs = bytes as f64 / seconds / 1e9;
    match peak {
        Some(p) => format!("{gbs:.1} GB/s {what} ({:.0}% of the memory's {p:.0} GB/s)", 100.0 * gbs / p),
        None => format!("{gbs:.1} GB/s {what}"),
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The first mismatches, where (`place`), and their count; empty when equal.
fn mismatches<T: Copy + PartialEq + fmt::Display>(
    got: &[T],
    want: &[T],
    place: impl Fn(usize) -> String,
) -> Vec<String> {
    differences(got, want, place, |v| v.to_string())
}

fn mismatches_hex(got: &[u32], want: &[u32], place: impl Fn(usize) -> String) -> Vec<String> {
    differences(got, want, place, |v| format!("{v:#x}"))
}

fn differences<T: Copy + PartialEq>(
    got: &[T],
    want: &[T],
    place: impl Fn(usize) -> String,
    show: impl Fn(T) -> String,
) -> Vec<String> {
    if got.len() != want.len() {
        return vec![format!("{} values, expected {}", got.len(), want.len())];
    }
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    let mut out: Vec<String> =
        bad.iter().take(5).map(|&i| format!("{}: GPU {} vs CPU {}", place(i), show(got[i]), show(want[i]))).collect();
    if !bad.is_empty() {
        out.push(format!("{} of {} values differ", bad.len(), got.len()));
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_ok_failed_skipped() {
        assert_eq!(Outcome::ok("a", "fine").to_string(), "ok a: fine");
        assert_eq!(Outcome::failed("b", vec!["x".into(), "y".into()]).to_string(), "FAILED b: x; y");
        assert_eq!(Outcome::skipped("c", "no GPU").to_string(), "skipped c: no GPU");
    }

    #[test]
    fn mismatches_name_the_first_places_and_count_the_rest() {
        let got = [1u8, 2, 9, 4, 9, 9, 9, 9, 9];
        let want = [1u8, 2, 3, 4, 5, 6, 7, 8, 0];
        let m = mismatches(&got, &want, |i| format!("at {i}"));
        assert_eq!(m.len(), 6);
        assert_eq!(m[0], "at 2: GPU 9 vs CPU 3");
        assert_eq!(m[5], "6 of 9 values differ");
        assert!(mismatches(&want, &want, |i| i.to_string()).is_empty());
        assert_eq!(mismatches(&got[..2], &want, |i| i.to_string()), ["2 values, expected 9"]);
    }

    #[test]
    fn frames_must_match_their_shape() {
        let err = Frames::new("v.npy".into(), vec![0; 10], 1, 2, 2).err().unwrap();
        assert!(err.to_string().contains("v.npy: 10 bytes are not 1 RGB frames of 2×2"), "{err}");
    }

    #[test]
    fn crop_jobs_cover_copy_halving_scaling_edges_and_outside() {
        let f = Frames::random(2, 470, 360, &mut Lcg(1));
        let jobs = square_jobs(&f, &mut Lcg(2));
        let sides: Vec<usize> = jobs.iter().map(|j| j.square.side).collect();
        assert!(sides.contains(&224) && sides.contains(&448), "copy and halving: {sides:?}");
        assert!(sides.iter().any(|&s| s < 224) && sides.iter().any(|&s| s > 224 && s != 448));
        assert!(jobs.iter().any(|j| j.square.x0 < 0) && jobs.iter().any(|j| j.square.x0 >= 470));
        assert!(jobs.iter().all(|j| j.frame < 2 && j.square.side > 0));
    }

    #[test]
    fn clips_are_cut_from_every_set_in_turn() {
        let mut rng = Lcg(3);
        let (a, b) = (Frames::random(1, 300, 200, &mut rng), Frames::random(3, 224, 224, &mut rng));
        let clips = Clips::cut(&[&a, &b]);
        let shape = TubeletShape::MARLIN;
        assert_eq!(clips.rgb.len(), CLIPS * shape.clip_len());
        assert_eq!(clips.patches.len(), CLIPS * shape.tokens() * shape.patch_dim());
        // the second clip's first frame is b's frame 1 (224² squares are copied as they are)
        assert_eq!(&clips.rgb[shape.clip_len()..][..224 * 224 * 3], b.frame(1));
    }
}
