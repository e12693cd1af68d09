//! `marlin-gpu-check`: every GPU path of marlin-rs, checked on the first NVIDIA machine it meets.
//! It needs no GStreamer, FFmpeg or TurboJPEG (the frames come as `.npy` files made by
//! `tools/gpu_check.sh build`), finds the driver and NVRTC of CUDA 12 or 13 itself (given
//! folders, a Python's pip packages, the toolkit), and prints one line per check: `ok`,
//! `FAILED` (the first mismatches) or `skipped` (why). Exit status: 0 when every check passed
//! (skips allowed with `--allow-skips`), 1 when one failed, 3 when one was skipped without
//! `--allow-skips`, 2 when the run itself could not start.

mod inputs;
mod providers;
mod sanitizer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use marlin_kernels::cuda::{Outcome, Status};
use marlin_kernels::libraries::{self, LibrarySearch};

#[derive(Debug, Clone, Parser)]
#[command(
    version,
    about = "Checks marlin-rs's GPU paths (kernels, device handoff, ONNX Runtime providers, NVDEC) against their CPU twins"
)]
pub struct Args {
    /// Folder of (N,H,W,3) uint8 RGB frames as .npy (default: `inputs/` beside this binary).
    #[arg(long, value_name = "DIR")]
    pub inputs: Option<PathBuf>,
    /// A Python whose pip packages to search for NVRTC (nvidia/cu13/lib, nvidia/cuda_nvrtc/lib)
    /// and onnxruntime-gpu; repeatable.
    #[arg(long, value_name = "PYTHON")]
    pub python: Vec<PathBuf>,
    /// A folder to search first for libcuda.so.1 and libnvrtc.so.13/.12; repeatable.
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Vec<PathBuf>,
    /// libonnxruntime.so of onnxruntime-gpu (default: ORT_DYLIB_PATH, then the Pythons' packages).
    #[arg(long, value_name = "PATH")]
    pub onnxruntime: Option<PathBuf>,
    /// Timed launches per kernel after the warm-up (0: one launch, not timed).
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Also run the kernel checks under compute-sanitizer (memcheck, initcheck) when it is found.
    #[arg(long)]
    pub sanitizer: bool,
    /// Exit 0 when checks were skipped (a machine without a GPU); without it a skip exits 3.
    #[arg(long)]
    pub allow_skips: bool,
    /// Only the kernel checks (what the sanitizer runs).
    #[arg(long)]
    pub kernels_only: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let inputs = match &args.inputs {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?.parent().map(|d| d.join("inputs")).unwrap_or_default(),
    };
    let frames = inputs::read(&inputs)?;
    let mut search = LibrarySearch::from_env();
    search.dirs.clone_from(&args.lib_dir);
    for python in &args.python {
        if let Err(e) = search.add_python(python) {
            println!("note: {e}");
        }
    }
    libraries::load(&search);
    println!("marlin-gpu-check {}: {}", env!("CARGO_PKG_VERSION"), inputs::describe(&frames, &inputs));
    let print = &mut |o: &Outcome| println!("{o}");
    let mut outcomes = marlin_kernels::cuda::check(&frames, args.repeat, print);
    if !args.kernels_only {
        let gpu = outcomes.iter().find(|o| o.name == "gpu").is_some_and(|o| matches!(o.status, Status::Ok(_)));
        let ort = args.onnxruntime.as_deref();
        outcomes.extend(providers::onnxruntime(gpu, ort, &search.site_packages, &frames, print));
        outcomes.push(providers::nvdec());
        print(outcomes.last().expect("pushed"));
        if args.sanitizer {
            outcomes.extend(sanitizer::run(gpu, args, &inputs, &search, print));
        }
    }
    let count = |f: fn(&Status) -> bool| outcomes.iter().filter(|o| f(&o.status)).count();
    let failed = count(|s| matches!(s, Status::Failed(_)));
    let skipped = count(|s| matches!(s, Status::Skipped(_)));
    println!("summary: {} ok, {failed} FAILED, {skipped} skipped", outcomes.len() - failed - skipped);
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else if skipped > 0 && !args.allow_skips {
        println!("{skipped} checks were skipped: exit 3 (--allow-skips accepts that, on a machine without a GPU)");
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
