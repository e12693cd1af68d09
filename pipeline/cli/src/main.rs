//! `marlin`: parse the command line, run the command, print the error chain, set the exit code.

mod args;
mod bench;
mod decode;
mod detect;
mod detector_source;
mod doctor;
mod encode;
mod export_onnx;
mod extract;
mod featurize;
mod kernels;
mod model_source;
mod models;
mod probe;
mod reconstruct;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

// mimalloc keeps freed memory for reuse: the detector's per-layer feature maps (megabytes each)
// otherwise go back to the kernel and page-fault in again at every layer of every frame.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MARLIN_LOG").unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        // colour codes only for a terminal: a log file or a pipe gets plain text
        .with_ansi(std::io::stderr().is_terminal())
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
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message already
/// holds (library errors often print their source themselves).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}
