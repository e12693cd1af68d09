//! MARLIN's pre-processing ops, each once per device: CUDA C kernels (in `kernels/cuda/`,
//! compiled at run time with NVRTC and launched through `cudarc`, behind the `cuda` feature) and
//! their Rust CPU twins, which the CPU pipeline itself uses:
//!
//! - `crop_resize` ([`crop`], [`resize`]): official square face crops with OpenCV-exact
//!   `INTER_LINEAR`, and similarity warps for aligned crops;
//! - `patchify` ([`patchify`]): clips → tubelet patch matrices (f32 or f16);
//! - `mask` ([`mask`]): MAE token masks (random, tube, frame, fasking) and the gather/scatter of
//!   tokens by mask.
//!
//! [`libraries`] finds the CUDA driver and NVRTC (CUDA 12 or 13) by file and opens them;
//! [`nvrtc`] calls NVRTC. Neither needs the `cuda` feature (`marlin doctor` reports them).

pub mod crop;
#[cfg(feature = "cuda")]
pub mod cuda;
mod error;
pub mod libraries;
pub mod mask;
pub mod nvrtc;
pub mod patchify;
pub mod resize;
pub mod sources;

pub use error::KernelError;
