//! The kernels crate's errors.

/// Why a kernel could not run.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The inputs do not fit the op.
    #[error("{0}")]
    Input(String),
    /// The CUDA libraries are not installed (or not found).
    #[error("{library} not found: {hint}")]
    MissingLibrary { library: &'static str, hint: String },
    /// NVRTC rejected a kernel source.
    #[error("compiling {kernel} with NVRTC failed: {log}")]
    Compile { kernel: &'static str, log: String },
    /// A CUDA driver call failed.
    #[error("CUDA: {0}")]
    Driver(String),
}
