//! The CUDA kernels at run time: NVRTC compiles each source to PTX once per process (cached),
//! the driver API (cudarc) loads and launches them. Both libraries are found and opened by
//! [`crate::libraries`] (cudarc panics on a missing library, so nothing reaches it before the
//! driver is open): without them every call returns [`KernelError::MissingLibrary`] saying where
//! it looked.

mod check;
mod ops;

use std::sync::{Arc, OnceLock};

use cudarc::driver::sys::CUdevice_attribute;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use cudarc::nvrtc::Ptx;

use crate::KernelError;
use crate::libraries::{self, NotFound};
use crate::sources::{KernelSource, SOURCES};

pub use check::{Frames, Outcome, Status, check};
pub use ops::{DevicePatches, SquareJob, Timed, TokenRows};

/// The virtual architecture the PTX targets: sm_80 and newer (A100, H100, H200, L4, RTX 30/40).
pub const ARCH: &str = "compute_80";

/// A source compiled to PTX.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub source: KernelSource,
    pub ptx: String,
}

/// Every source compiled with NVRTC (once per process).
pub fn compiled() -> Result<&'static [Compiled], KernelError> {
    static CACHE: OnceLock<Result<Vec<Compiled>, KernelError>> = OnceLock::new();
    let nvrtc = libraries::loaded().nvrtc.as_ref().map_err(|e| missing(e, NVRTC_HINT))?;
    let options = [
        format!("--gpu-architecture={ARCH}"),
        // no contraction into fused multiply-adds: products and sums round as the CPU twins'
        "--fmad=false".to_string(),
    ];
    let compiled = CACHE.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| {
                nvrtc
                    .compile(s.source, &format!("{}.cu", s.name), &options)
                    .map(|ptx| Compiled { source: *s, ptx })
                    .map_err(|f| KernelError::Compile { kernel: s.name, log: format!("{}: {}", f.status, f.log) })
            })
            .collect()
    });
    match compiled {
        Ok(v) => Ok(v),
        Err(KernelError::Compile { kernel, log }) => Err(KernelError::Compile { kernel, log: log.clone() }),
        Err(other) => Err(KernelError::Driver(other.to_string())),
    }
}

const NVRTC_HINT: &str = "install NVRTC: a CUDA 12 or 13 toolkit, or pip's nvidia-cuda-nvrtc-cu12 (tools/nvrtc.sh) / \
    nvidia-cuda-nvrtc (CUDA 13) in the active virtual environment";
const DRIVER_HINT: &str = "an NVIDIA driver is needed";

fn missing(e: &NotFound, hint: &str) -> KernelError {
    KernelError::MissingLibrary { library: e.library, hint: format!("{hint}; {}", e.tried.join("; ")) }
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
        let driver = libraries::loaded().driver.as_ref().map_err(|e| missing(e, DRIVER_HINT))?;
        // cudarc opens the driver by name: it must find the one opened above (by its soname),
        // not another (a toolkit's stub on LD_LIBRARY_PATH) — one function's address says
        // SAFETY: only tries to open the library by cudarc's candidate names.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(KernelError::Driver(format!(
                "cudarc does not find the driver opened from {} by name",
                driver.file.display()
            )));
        }
        // SAFETY: present (checked above); looks a symbol up without calling it.
        let theirs =
            unsafe { cudarc::driver::sys::culib().get::<unsafe extern "C" fn()>(b"cuInit") }.map(|f| *f as usize);
        if theirs.ok() != driver.address_of("cuInit") {
            return Err(KernelError::Driver(format!(
                "cudarc opened another libcuda than {} ({:?}): remove a CUDA stubs folder from LD_LIBRARY_PATH",
                driver.file.display(),
                libraries::mapped_files("libcuda.so")
            )));
        }
        let compiled = compiled()?;
        let ctx = CudaContext::new(ordinal).map_err(driver_error)?;
        let stream = ctx.default_stream();
        let mut functions = Vec::new();
        for c in compiled {
            let module = ctx.load_module(Ptx::from_src(c.ptx.clone())).map_err(driver_error)?;
            for f in c.source.functions {
                functions.push((*f, module.load_function(f).map_err(driver_error)?));
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

    /// Name, compute capability, memory and peak memory bandwidth, for reports.
    pub fn describe(&self) -> String {
        let attr = |a| self.ctx.attribute(a).unwrap_or(0);
        let (major, minor) = (
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
        );
        let memory =
            self.ctx.total_mem().map_or("? GiB".into(), |b| format!("{:.0} GiB", b as f64 / (1u64 << 30) as f64));
        let peak = self.peak_bandwidth().map_or("unknown peak bandwidth".into(), |g| format!("{g:.0} GB/s peak"));
        format!("{} (sm_{major}{minor}, {memory}, {peak})", self.name())
    }

    /// The memory's peak bandwidth in GB/s (double data rate × bus width), when the driver says.
    pub fn peak_bandwidth(&self) -> Option<f64> {
        let clock_khz = self.ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE).ok()?;
        let bus_bits = self.ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH).ok()?;
        (clock_khz > 0 && bus_bits > 0).then(|| 2.0 * clock_khz as f64 * 1e3 * (bus_bits as f64 / 8.0) / 1e9)
    }

    fn function(&self, name: &str) -> Result<&CudaFunction, KernelError> {
        self.functions
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .ok_or_else(|| KernelError::Driver(format!("kernel {name} not loaded")))
    }
}

fn driver_error(e: cudarc::driver::DriverError) -> KernelError {
    KernelError::Driver(e.to_string())
}
