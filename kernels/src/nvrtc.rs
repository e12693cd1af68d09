//! NVRTC, CUDA's run-time compiler, opened from an explicit file: the ten C functions the
//! kernels need, whose signatures are the same in CUDA 11.1, 12 and 13. Opening it by path (not
//! by one of cudarc's names, which for the CUDA 12 API never include `libnvrtc.so.13`) is what
//! lets a CUDA 12 build compile with the NVRTC of a CUDA 13 machine (pip's `nvidia/cu13/lib`).
//!
//! NVRTC opens its builtins library (`libnvrtc-builtins.so.MAJOR.MINOR`) itself by name, which
//! fails when its folder is not on the library search path (pip's CUDA 13 wheel has no RUNPATH);
//! the builtins of its version beside the library are loaded before it compiles, so that lookup
//! finds them by soname.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

use libloading::Library;

use crate::libraries::load_error;

type Program = *mut c_void;
type Status = c_int;

/// NVRTC loaded from one file.
pub struct Nvrtc {
    /// The file opened (as found; see [`crate::libraries`] for the file the loader mapped).
    pub file: PathBuf,
    /// `nvrtcVersion`: (major, minor).
    pub version: (u32, u32),
    /// The builtins library loaded beside it, if one was there.
    pub builtins: Option<PathBuf>,
    api: Api,
    // kept open for the process: the function pointers above point into them
    _builtins: Option<Library>,
    _library: Library,
}

#[derive(Clone, Copy)]
struct Api {
    create: unsafe extern "C" fn(
        *mut Program,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> Status,
    compile: unsafe extern "C" fn(Program, c_int, *const *const c_char) -> Status,
    log_size: unsafe extern "C" fn(Program, *mut usize) -> Status,
    log: unsafe extern "C" fn(Program, *mut c_char) -> Status,
    ptx_size: unsafe extern "C" fn(Program, *mut usize) -> Status,
    ptx: unsafe extern "C" fn(Program, *mut c_char) -> Status,
    destroy: unsafe extern "C" fn(*mut Program) -> Status,
    error_string: unsafe extern "C" fn(Status) -> *const c_char,
    cubin_size: Option<unsafe extern "C" fn(Program, *mut usize) -> Status>,
    cubin: Option<unsafe extern "C" fn(Program, *mut c_char) -> Status>,
}

/// What NVRTC writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// PTX for a virtual architecture, compiled to machine code by the driver when loaded (the
    /// driver must know the PTX version: not older than the NVRTC).
    Ptx,
    /// Machine code for one real architecture, loaded as it is.
    Cubin,
}

/// Why a source did not compile: NVRTC's status and its log.
#[derive(Debug)]
pub struct CompileFailure {
    pub status: String,
    pub log: String,
}

impl Nvrtc {
    /// Opens `file` (a path, or a bare name for the library search path), then the builtins of
    /// its version found beside it.
    pub fn open(file: &Path) -> Result<Self, String> {
        // SAFETY: loading runs the library's initialisers; this is NVIDIA's NVRTC, found under
        // its own name.
        let library = unsafe { Library::new(file) }.map_err(|e| load_error(&e))?;
        // SAFETY: each symbol is looked up with its C signature (nvrtc.h, unchanged since CUDA 11).
        let api = unsafe {
            Api {
                create: symbol(&library, "nvrtcCreateProgram")?,
                compile: symbol(&library, "nvrtcCompileProgram")?,
                log_size: symbol(&library, "nvrtcGetProgramLogSize")?,
                log: symbol(&library, "nvrtcGetProgramLog")?,
                ptx_size: symbol(&library, "nvrtcGetPTXSize")?,
                ptx: symbol(&library, "nvrtcGetPTX")?,
                destroy: symbol(&library, "nvrtcDestroyProgram")?,
                error_string: symbol(&library, "nvrtcGetErrorString")?,
                cubin_size: symbol(&library, "nvrtcGetCUBINSize").ok(),
                cubin: symbol(&library, "nvrtcGetCUBIN").ok(),
            }
        };
        let version_fn: unsafe extern "C" fn(*mut c_int, *mut c_int) -> Status =
            // SAFETY: nvrtcVersion(int*, int*).
            unsafe { symbol(&library, "nvrtcVersion")? };
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers.
        let status = unsafe { version_fn(&mut major, &mut minor) };
        if status != 0 {
            return Err(format!("nvrtcVersion failed with status {status}"));
        }
        let version = (major as u32, minor as u32);
        // NVRTC opens its builtins only when compiling: loaded now, that lookup finds them
        let builtins_file = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(format!("libnvrtc-builtins.so.{major}.{minor}")));
        let builtins_file = builtins_file.filter(|b| b.is_file());
        let builtins = match &builtins_file {
            // SAFETY: NVRTC's builtins library, which NVRTC itself would load.
            Some(b) => Some(unsafe { Library::new(b) }.map_err(|e| load_error(&e))?),
            None => None,
        };
        Ok(Self {
            file: file.to_path_buf(),
            version,
            builtins: builtins_file,
            api,
            _builtins: builtins,
            _library: library,
        })
    }

    /// Compiles `source` (named `name` in messages) with `options` to `code`: PTX (text, for
    /// a virtual architecture `compute_XY`) or a cubin (machine code, for `sm_XY`).
    pub fn compile(&self, source: &str, name: &str, options: &[String], code: Code) -> Result<Vec<u8>, CompileFailure> {
        let (size, get) = match code {
            Code::Ptx => (self.api.ptx_size, self.api.ptx),
            Code::Cubin => match (self.api.cubin_size, self.api.cubin) {
                (Some(size), Some(get)) => (size, get),
                _ => return Err(self.failure(-1, "this NVRTC (before CUDA 11.1) writes no cubins".into())),
            },
        };
        let cstr = |s: &str| CString::new(s).map_err(|_| self.failure(-1, format!("{name}: a NUL byte in {s:?}")));
        let (source, name_c) = (cstr(source)?, cstr(name)?);
        let options: Vec<CString> = options.iter().map(|o| cstr(o)).collect::<Result<_, _>>()?;
        let pointers: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();
        let mut program: Program = std::ptr::null_mut();
        // SAFETY: valid C strings; no headers.
        let status = unsafe {
            (self.api.create)(&mut program, source.as_ptr(), name_c.as_ptr(), 0, std::ptr::null(), std::ptr::null())
        };
        if status != 0 {
            return Err(self.failure(status, String::new()));
        }
        // SAFETY: `program` was created above; the options outlive the call.
        let status = unsafe { (self.api.compile)(program, pointers.len() as c_int, pointers.as_ptr()) };
        let result = if status != 0 {
            let log = written(program, self.api.log_size, self.api.log);
            Err(self
                .failure(status, String::from_utf8_lossy(log.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()))
        } else {
            let mut out = written(program, size, get);
            if code == Code::Ptx {
                // PTX is a C string: the NUL ends it
                out.truncate(out.iter().position(|&b| b == 0).unwrap_or(out.len()));
            }
            Ok(out)
        };
        // SAFETY: destroys the program created above, once.
        unsafe { (self.api.destroy)(&mut program) };
        result
    }

    fn failure(&self, status: Status, log: String) -> CompileFailure {
        let status = if status < 0 {
            "bad input".to_string()
        } else {
            // SAFETY: nvrtcGetErrorString returns a static string (or null) for any status.
            let s = unsafe { (self.api.error_string)(status) };
            if s.is_null() {
                format!("status {status}")
            } else {
                // SAFETY: non-null, NUL-terminated, static.
                unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
            }
        };
        CompileFailure { status, log }
    }
}

/// What NVRTC writes for a program (its log, its code): `size` says how many bytes, `get` writes
/// them; empty when either fails.
fn written(
    program: Program,
    size: unsafe extern "C" fn(Program, *mut usize) -> Status,
    get: unsafe extern "C" fn(Program, *mut c_char) -> Status,
) -> Vec<u8> {
    let mut len = 0usize;
    // SAFETY: a live program and a valid out-pointer.
    if unsafe { size(program, &mut len) } != 0 || len == 0 {
        return Vec::new();
    }
    let mut buffer = vec![0u8; len];
    // SAFETY: the buffer holds the `len` bytes NVRTC said it writes.
    if unsafe { get(program, buffer.as_mut_ptr().cast()) } != 0 {
        return Vec::new();
    }
    buffer
}

/// # Safety
/// `T` must be the symbol's C function type.
unsafe fn symbol<T: Copy>(library: &Library, name: &str) -> Result<T, String> {
    // SAFETY: the caller gives the symbol's type.
    unsafe { library.get::<T>(name.as_bytes()) }.map(|s| *s).map_err(|e| format!("not NVRTC (no {name}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_nvrtc_is_refused_with_its_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let fake = tmp.path().join("libnvrtc.so.13");
        std::fs::write(&fake, b"not an ELF file").unwrap();
        let err = Nvrtc::open(&fake).err().expect("a text file must not load");
        assert!(err.contains("libnvrtc.so.13"), "{err}");
    }
}
