//! The CUDA kernels at run time: NVRTC compiles each source to PTX once per process (cached),
//! the driver API loads and launches them. Both libraries are loaded dynamically and checked
//! for first (cudarc panics on a missing library): without them every call returns
//! [`KernelError::MissingLibrary`].

mod check;
mod ops;

use std::sync::{Arc, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};

use crate::KernelError;
use crate::sources::{KernelSource, SOURCES};

pub use check::{CheckReport, RealFrame, check};
pub use ops::{DevicePatches, SquareJob, Timed, TokenRows};

/// The virtual architecture the PTX targets: sm_80 and newer (A100, H100, L4, RTX 30/40).
pub const ARCH: &str = "compute_80";

/// A source compiled to PTX.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub source: KernelSource,
    pub ptx: String,
}

/// Whether the NVRTC library can be loaded.
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to open the library by its candidate names.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether the CUDA driver library can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to open the library by its candidate names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Every source compiled with NVRTC (once per process).
pub fn compiled() -> Result<&'static [Compiled], KernelError> {
    static CACHE: OnceLock<Result<Vec<Compiled>, String>> = OnceLock::new();
    if !nvrtc_present() {
        return Err(KernelError::MissingLibrary {
            library: "NVRTC (libnvrtc.so.12)",
            hint: "install the CUDA toolkit's NVRTC, or `pip download nvidia-cuda-nvrtc-cu12` and put its nvidia/cuda_nvrtc/lib on LD_LIBRARY_PATH".into(),
        });
    }
    let compiled = CACHE.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| compile(s).map(|ptx| Compiled { source: *s, ptx: ptx.to_src() }).map_err(|e| e.to_string()))
            .collect()
    });
    match compiled {
        Ok(v) => Ok(v),
        Err(log) => Err(KernelError::Compile { kernel: "kernels", log: log.clone() }),
    }
}

fn compile(source: &KernelSource) -> Result<Ptx, KernelError> {
    let options = CompileOptions {
        arch: Some(ARCH),
        // no contraction into fused multiply-adds: products and sums round as the CPU twins'
        fmad: Some(false),
        name: Some(format!("{}.cu", source.name)),
        ..Default::default()
    };
    cudarc::nvrtc::compile_ptx_with_opts(source.source, options).map_err(|e| KernelError::Compile {
        kernel: source.name,
        log: match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        },
    })
}

/// A GPU with the kernels loaded.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: Vec<(&'static str, CudaFunction)>,
}

impl Gpu {
    /// Opens GPU `ordinal` and loads every kernel.
    pub fn new(ordinal: usize) -> Result<Self, KernelError> {
        if !driver_present() {
            return Err(KernelError::MissingLibrary {
                library: "the CUDA driver (libcuda.so)",
                hint: "no NVIDIA driver installed on this machine".into(),
            });
        }
        let compiled = compiled()?;
        let ctx = CudaContext::new(ordinal).map_err(driver)?;
        let stream = ctx.default_stream();
        let mut functions = Vec::new();
        for c in compiled {
            let module = ctx.load_module(Ptx::from_src(c.ptx.clone())).map_err(driver)?;
            for f in c.source.functions {
                functions.push((*f, module.load_function(f).map_err(driver)?));
            }
        }
        Ok(Self { ctx, stream, functions })
    }

    /// The device's ordinal (the index ONNX Runtime's providers take).
    pub fn ordinal(&self) -> usize {
        self.ctx.ordinal()
    }

    /// The device's name.
    pub fn name(&self) -> String {
        self.ctx.name().unwrap_or_else(|_| "unknown GPU".into())
    }

    fn function(&self, name: &str) -> Result<&CudaFunction, KernelError> {
        self.functions
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .ok_or_else(|| KernelError::Driver(format!("kernel {name} not loaded")))
    }
}

fn driver(e: cudarc::driver::DriverError) -> KernelError {
    KernelError::Driver(e.to_string())
}
