//! `marlin kernels check`: NVRTC compilation of every CUDA kernel, and on a GPU their parity
//! with the CPU twins and their throughput.

use anyhow::{Result, bail};

use crate::args::KernelsCommand;

#[cfg(feature = "cuda")]
pub fn run(command: KernelsCommand) -> Result<()> {
    use marlin_kernels::cuda::{Frames, Status};
    let KernelsCommand::Check { image } = command;
    let mut frames = Vec::new();
    if let Some(path) = image {
        let i = marlin_media::read_image(&path)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        frames.push(Frames::new(name, i.data, 1, i.width as usize, i.height as usize)?);
    }
    let outcomes = marlin_kernels::cuda::check(&frames, 20, &mut |o| println!("{o}"));
    let count = |f: fn(&Status) -> bool| outcomes.iter().filter(|o| f(&o.status)).count();
    let (failed, skipped) = (count(|s| matches!(s, Status::Failed(_))), count(|s| matches!(s, Status::Skipped(_))));
    if failed > 0 {
        bail!("{failed} of {} kernel checks failed", outcomes.len());
    }
    println!("{} checks passed, {skipped} skipped", outcomes.len() - skipped);
    Ok(())
}

#[cfg(not(feature = "cuda"))]
pub fn run(command: KernelsCommand) -> Result<()> {
    let KernelsCommand::Check { .. } = command;
    bail!(
        "this marlin was built without CUDA kernels: rebuild with `cargo build --release -p marlin-cli --features cuda`"
    )
}
