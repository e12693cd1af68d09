//! `marlin`: parse the command line, run the command, print the error chain, set the exit code.

mod args;
mod bench;
mod decode;
mod detect;
mod doctor;
mod encode;
mod export_onnx;
mod extract;
mod featurize;
mod kernels;
mod log_line;
mod models;
mod probe;
mod reconstruct;

use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps freed memory for reuse: the detector's per-layer feature maps (megabytes each)
// otherwise go back to the kernel and page-fault in again at every layer of every frame.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // a usage error is a fatal error like any other (exit 1): clap's own 2 would read as "some
    // videos failed" to the batch recipes
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MARLIN_LOG").unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(log_line::LogLine)
        .init();
    if let Some(path) = &cli.onnxruntime {
        marlin_onnx::choose_library(path);
    }
    let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        args::Command::Featurize(a) => featurize::run(a),
        args::Command::Merge { dir } => done(featurize::merge(&dir)),
        args::Command::Encode(a) => done(encode::run(a)),
        args::Command::Decode(a) => done(decode::run(a)),
        args::Command::Extract(a) => done(extract::run(a)),
        args::Command::Detect(a) => done(detect::run(a)),
        args::Command::Bench { command } => done(bench::run(command)),
        args::Command::Models { command } => done(models::run(command)),
        args::Command::Kernels { command } => done(kernels::run(command)),
        args::Command::ExportOnnx(a) => done(export_onnx::run(a)),
        args::Command::Doctor => done(doctor::run()),
        args::Command::Reconstruct(a) => done(reconstruct::run(a)),
        args::Command::Probe { command } => done(probe::run(command)),
        args::Command::Screen(a) => probe::screen(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", marlin_settings::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
