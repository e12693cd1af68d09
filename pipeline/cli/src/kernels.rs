//! `marlin kernels check`: NVRTC compilation of every CUDA kernel, and on a GPU their parity
//! with the CPU twins and their throughput.

use anyhow::{Result, bail};

use crate::args::KernelsCommand;

#[cfg(feature = "cuda")]
pub fn run(command: KernelsCommand) -> Result<()> {
    use anyhow::Context;
    let KernelsCommand::Check { image } = command;
    let image = image.map(|p| marlin_media::read_image(&p)).transpose()?;
    let real = image.as_ref().map(|i| marlin_kernels::cuda::RealFrame {
        rgb: &i.data,
        width: i.width as usize,
        height: i.height as usize,
    });
    let report = marlin_kernels::cuda::check(real, &mut |line| println!("{line}")).context("kernels check")?;
    if report.failures > 0 {
        bail!("{} of {} kernel checks failed against their CPU twins", report.failures, report.checks);
    }
    match report.gpu {
        Some(gpu) => println!("{} kernels compiled; {} parity checks passed on {gpu}", report.compiled, report.checks),
        None => println!("{} kernels compiled (no GPU: parity not checked)", report.compiled),
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
pub fn run(command: KernelsCommand) -> Result<()> {
    let KernelsCommand::Check { .. } = command;
    bail!(
        "this marlin was built without CUDA kernels: rebuild with `cargo build --release -p marlin-cli --features cuda`"
    )
}
