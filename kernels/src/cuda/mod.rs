//! The CUDA kernels at run time: NVRTC compiles each source to PTX once per process (cached)
//! and, for a GPU, to its machine code (a cubin: no PTX JIT, so an NVRTC newer than the driver
//! within its major version still loads); the driver API (cudarc) loads and launches them. Both libraries are found and opened by
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
use crate::nvrtc::{Code, Nvrtc};
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

/// Every source compiled with NVRTC to PTX for [`ARCH`] (once per process): what a machine
/// without a GPU can check, and what a GPU runs when NVRTC cannot write its machine code.
pub fn compiled() -> Result<&'static [Compiled], KernelError> {
    static CACHE: OnceLock<Result<Vec<Compiled>, KernelError>> = OnceLock::new();
    let nvrtc = nvrtc()?;
    let compiled = CACHE.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| {
                let ptx = compile(nvrtc, s, ARCH, Code::Ptx)?;
                Ok(Compiled { source: *s, ptx: String::from_utf8_lossy(&ptx).into_owned() })
            })
            .collect()
    });
    match compiled {
        Ok(v) => Ok(v),
        Err(KernelError::Compile { kernel, log }) => Err(KernelError::Compile { kernel, log: log.clone() }),
        Err(other) => Err(KernelError::Driver(other.to_string())),
    }
}

fn nvrtc() -> Result<&'static Nvrtc, KernelError> {
    libraries::loaded().nvrtc.as_ref().map_err(|e| missing(e, NVRTC_HINT))
}

fn compile(nvrtc: &Nvrtc, source: &KernelSource, arch: &str, code: Code) -> Result<Vec<u8>, KernelError> {
    let options = [
        format!("--gpu-architecture={arch}"),
        // no contraction into fused multiply-adds: products and sums round as the CPU twins'
        "--fmad=false".to_string(),
    ];
    nvrtc
        .compile(source.source, &format!("{}.cu", source.name), &options, code)
        .map_err(|f| KernelError::Compile { kernel: source.name, log: format!("{}: {}", f.status, f.log) })
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
    /// What the kernels were loaded as (`sm_90 cubins`, or the PTX and why).
    code: String,
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
        // machine code for this GPU, which any driver of NVRTC's major version loads; the PTX
        // (compiled by the driver) where NVRTC does not know the GPU
        let capability = |a| ctx.attribute(a).map_err(driver_error);
        let arch = format!(
            "sm_{}{}",
            capability(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            capability(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?
        );
        let nvrtc = nvrtc()?;
        let mut functions = Vec::new();
        let mut code = format!("{arch} cubins");
        for c in compiled {
            let module = match compile(nvrtc, &c.source, &arch, Code::Cubin) {
                Ok(cubin) => ctx.load_module(Ptx::from_binary(cubin)),
                Err(e) => {
                    code = format!("{ARCH} PTX (no {arch} cubin: {e})");
                    ctx.load_module(Ptx::from_src(c.ptx.clone()))
                }
            }
            .map_err(|e| KernelError::Driver(format!("loading {} ({code}): {e}", c.source.name)))?;
            for f in c.source.functions {
                functions.push((*f, module.load_function(f).map_err(driver_error)?));
            }
        }
        Ok(Self { ctx, stream, functions, code })
    }

    /// The device's ordinal (the index ONNX Runtime's providers take).
    pub fn ordinal(&self) -> usize {
        self.ctx.ordinal()
    }

    /// The device's name.
    pub fn name(&self) -> String {
        self.ctx.name().unwrap_or_else(|_| "unknown GPU".into())
    }

    /// Name, memory, peak memory bandwidth and the kernels' code, for reports.
    pub fn describe(&self) -> String {
        let memory =
            self.ctx.total_mem().map_or("? GiB".into(), |b| format!("{:.0} GiB", b as f64 / (1u64 << 30) as f64));
        let peak = self.peak_bandwidth().map_or("unknown peak bandwidth".into(), |g| format!("{g:.0} GB/s peak"));
        format!("{} ({memory}, {peak}); kernels loaded as {}", self.name(), self.code)
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
