//! Where NVIDIA's run-time libraries are: the driver (`libcuda.so.1`) and NVRTC of CUDA 12 or 13
//! (`libnvrtc.so.12` / `.13`). Each is looked for as a file in known folders — folders given
//! explicitly, pip's `nvidia/cu13/lib` and `nvidia/cuda_nvrtc/lib` under a Python's
//! site-packages, the CUDA toolkit (`CUDA_PATH`, `CUDA_HOME`, `nvcc`'s, `/usr/local/cuda`) — and
//! by name on the library search path, then opened by that path, so a run says which file it
//! uses. NVRTC is taken not newer than the driver (the driver must load the PTX it writes),
//! newest first. Both are opened once per process ([`load`]); cudarc then finds the driver
//! already loaded under its soname, and NVRTC is called through [`crate::nvrtc`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libloading::Library;

use crate::nvrtc::Nvrtc;

/// Where to look.
#[derive(Debug, Clone, Default)]
pub struct LibrarySearch {
    /// Folders searched first, for either library.
    pub dirs: Vec<PathBuf>,
    /// Python site-packages (or other `sys.path`) folders holding pip's `nvidia/*` packages.
    pub site_packages: Vec<PathBuf>,
    /// CUDA toolkit roots (`…/lib64`, `…/lib`, `…/targets/<arch>/lib` are searched).
    pub toolkits: Vec<PathBuf>,
    /// Also open the libraries by name from the library search path (ld.so.cache,
    /// `LD_LIBRARY_PATH`) and the usual driver folders.
    pub system: bool,
}

/// pip's folders for NVRTC under site-packages: CUDA 13's wheels put every library into
/// `nvidia/cu13/lib`, CUDA 12's into one folder per package.
const PIP_NVRTC_DIRS: [&str; 2] = ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"];
/// NVRTC's names, newest first.
const NVRTC_NAMES: [&str; 2] = ["libnvrtc.so.13", "libnvrtc.so.12"];
/// Where drivers install `libcuda.so.1` (distributions, NVIDIA's container runtime, WSL).
const DRIVER_DIRS: [&str; 6] = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/local/nvidia/lib64",
    "/usr/lib/wsl/lib",
    "/run/opengl-driver/lib",
];

impl LibrarySearch {
    /// What the environment names: the site-packages of `VIRTUAL_ENV` and `CONDA_PREFIX`, the
    /// toolkits of `CUDA_PATH`, `CUDA_HOME`, the `nvcc` on `PATH` and `/usr/local/cuda`, and the
    /// library search path.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut search = Self { system: true, ..Self::default() };
        for prefix in ["VIRTUAL_ENV", "CONDA_PREFIX"].into_iter().filter_map(var) {
            search.site_packages.extend(prefix_site_packages(&prefix));
        }
        search.toolkits.extend(["CUDA_PATH", "CUDA_HOME"].into_iter().filter_map(var));
        if let Some(nvcc) = on_path("nvcc") {
            search.toolkits.extend(nvcc.parent().and_then(Path::parent).map(Path::to_path_buf));
        }
        search.toolkits.push(PathBuf::from("/usr/local/cuda"));
        search
    }

    /// Adds the folders on `python`'s `sys.path` (asking it), where pip puts `nvidia/*`.
    pub fn add_python(&mut self, python: &Path) -> Result<(), String> {
        let script = "import os, sys\nfor p in sys.path:\n    if os.path.isdir(p): print(os.path.abspath(p))";
        let out = std::process::Command::new(python)
            .args(["-c", script])
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{}: {}: {}",
                python.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()) {
            let dir = PathBuf::from(line);
            if !self.site_packages.contains(&dir) {
                self.site_packages.push(dir);
            }
        }
        Ok(())
    }

    /// The folders to look in for NVRTC, in order, each with how it was found.
    fn nvrtc_dirs(&self) -> Vec<(PathBuf, &'static str)> {
        let mut dirs: Vec<(PathBuf, &'static str)> = self.dirs.iter().map(|d| (d.clone(), "given folder")).collect();
        for sp in &self.site_packages {
            dirs.extend(PIP_NVRTC_DIRS.iter().map(|d| (sp.join(d), "pip package")));
        }
        for root in &self.toolkits {
            for lib in ["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"] {
                dirs.push((root.join(lib), "CUDA toolkit"));
            }
        }
        dirs
    }
}

/// A place a library may be: a file found in a folder, or a bare name for the loader's search.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub file: PathBuf,
    /// The CUDA major version its name (or the file it links to) says; `None`: unknown.
    pub major: Option<u32>,
    /// How it was found (`given folder`, `pip package`, `CUDA toolkit`, `library search path`,
    /// `driver folder`).
    pub via: &'static str,
}

/// Every NVRTC the search finds, files first (in the search's order), then bare names.
pub fn nvrtc_candidates(search: &LibrarySearch) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for (dir, via) in search.nvrtc_dirs() {
        for name in NVRTC_NAMES.iter().copied().chain(["libnvrtc.so"]) {
            let file = std::path::absolute(dir.join(name)).unwrap_or_else(|_| dir.join(name));
            if !file.is_file() || is_stub(&file) {
                continue;
            }
            let real = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real.clone());
            out.push(Candidate { major: major_of(&file).or_else(|| major_of(&real)), file, via });
        }
    }
    if search.system {
        for name in NVRTC_NAMES {
            out.push(Candidate {
                file: PathBuf::from(name),
                major: major_of(Path::new(name)),
                via: "library search path",
            });
        }
    }
    out
}

/// Every driver library the search finds: given folders, the loader's own search, the usual
/// driver folders. Never the toolkit's `stubs/` (it links, but fails every call).
pub fn driver_candidates(search: &LibrarySearch) -> Vec<Candidate> {
    let name = "libcuda.so.1";
    let file_in = |dir: &Path, via| {
        let file = std::path::absolute(dir.join(name)).unwrap_or_else(|_| dir.join(name));
        (file.is_file() && !is_stub(&file)).then_some(Candidate { file, major: None, via })
    };
    let mut out: Vec<Candidate> = search.dirs.iter().filter_map(|d| file_in(d, "given folder")).collect();
    if search.system {
        out.push(Candidate { file: PathBuf::from(name), major: None, via: "library search path" });
        out.extend(DRIVER_DIRS.iter().filter_map(|d| file_in(Path::new(d), "driver folder")));
    }
    out
}

/// The order to try NVRTC in: those not newer than the driver first (its PTX must load there),
/// then the rest; newest first within each; unknown versions last.
pub fn nvrtc_order(candidates: &[Candidate], driver_major: Option<u32>) -> Vec<&Candidate> {
    let mut order: Vec<&Candidate> = candidates.iter().collect();
    let fits = |c: &Candidate| match (c.major, driver_major) {
        (Some(m), Some(d)) => m <= d,
        _ => true,
    };
    // stable: the search's order decides between equals
    order.sort_by_key(|c| (!fits(c), std::cmp::Reverse(c.major.unwrap_or(0))));
    order
}

/// The CUDA major version in a library's name: `libnvrtc.so.13`, `libnvrtc.so.12.8.93` → 13, 12.
fn major_of(file: &Path) -> Option<u32> {
    let name = file.file_name()?.to_str()?;
    let (_, version) = name.split_once(".so.")?;
    version.split('.').next()?.parse().ok()
}

fn is_stub(file: &Path) -> bool {
    file.components().any(|c| c.as_os_str() == "stubs")
}

/// `PREFIX/lib/python3.*/site-packages` (a virtual environment's or conda's).
fn prefix_site_packages(prefix: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(prefix.join("lib"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

/// What the loader said when a library did not open (libloading's own message is only
/// "dlopen failed").
pub fn load_error(e: &libloading::Error) -> String {
    std::error::Error::source(e).map_or_else(|| e.to_string(), |s| s.to_string())
}

/// `program` in a `PATH` folder.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// The files mapped into this process whose name starts with `prefix` (from /proc/self/maps):
/// which file a library opened by name really is.
pub fn mapped_files(prefix: &str) -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut out: Vec<PathBuf> = Vec::new();
    for path in maps.lines().filter_map(|l| l.find('/').map(|at| PathBuf::from(l[at..].trim_end()))) {
        let matches = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix));
        if matches && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The CUDA driver library, open.
pub struct Driver {
    /// The file mapped (where a bare name led).
    pub file: PathBuf,
    /// `cuDriverGetVersion`: the newest CUDA the driver supports (major, minor).
    pub version: (u32, u32),
    library: Library,
}

impl Driver {
    /// Where the driver's function `name` is (to tell whether another loader found this file).
    pub fn address_of(&self, name: &str) -> Option<usize> {
        // SAFETY: looks the symbol up without calling it.
        unsafe { self.library.get::<unsafe extern "C" fn()>(name.as_bytes()) }.ok().map(|f| *f as usize)
    }
}

/// A library that could not be opened, and every place tried.
#[derive(Debug, Clone)]
pub struct NotFound {
    pub library: &'static str,
    pub tried: Vec<String>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tried.is_empty() {
            write!(f, "{} not found (nowhere to look)", self.library)
        } else {
            write!(f, "{} not found; tried: {}", self.library, self.tried.join("; "))
        }
    }
}

/// What [`load`] opened.
pub struct Libraries {
    pub driver: Result<Driver, NotFound>,
    pub nvrtc: Result<Nvrtc, NotFound>,
    /// Every NVRTC found, whether opened or not.
    pub nvrtc_candidates: Vec<Candidate>,
}

static LIBRARIES: OnceLock<Libraries> = OnceLock::new();

/// Opens the driver and NVRTC as `search` finds them, once per process: the first call (or
/// [`loaded`]'s environment search) decides, later searches are ignored.
pub fn load(search: &LibrarySearch) -> &'static Libraries {
    LIBRARIES.get_or_init(|| open(search))
}

/// The libraries opened so far, or those the environment's search finds.
pub fn loaded() -> &'static Libraries {
    LIBRARIES.get_or_init(|| open(&LibrarySearch::from_env()))
}

fn open(search: &LibrarySearch) -> Libraries {
    let driver = open_driver(&driver_candidates(search));
    let candidates = nvrtc_candidates(search);
    let driver_major = driver.as_ref().ok().map(|d| d.version.0);
    let mut tried = Vec::new();
    let mut nvrtc = None;
    for c in nvrtc_order(&candidates, driver_major) {
        match Nvrtc::open(&c.file) {
            Ok(n) => {
                nvrtc = Some(n);
                break;
            }
            Err(e) => tried.push(format!("{} ({}): {e}", c.file.display(), c.via)),
        }
    }
    if nvrtc.is_none() {
        let mut folders: Vec<String> = Vec::new();
        for (dir, _) in search.nvrtc_dirs().iter().filter(|(d, _)| d.is_dir()) {
            let dir = dir.display().to_string();
            if !folders.contains(&dir) {
                folders.push(dir);
            }
        }
        tried.push(if folders.is_empty() {
            "none of the folders to search exists".to_string()
        } else {
            format!("folders searched: {}", folders.join(", "))
        });
    }
    Libraries {
        driver,
        nvrtc: nvrtc.ok_or(NotFound { library: "NVRTC (libnvrtc.so.13 or .12)", tried }),
        nvrtc_candidates: candidates,
    }
}

fn open_driver(candidates: &[Candidate]) -> Result<Driver, NotFound> {
    let mut tried = Vec::new();
    for c in candidates {
        match driver_version(&c.file) {
            Ok((library, version)) => {
                let file = if c.file.is_absolute() {
                    std::fs::canonicalize(&c.file).unwrap_or_else(|_| c.file.clone())
                } else {
                    mapped_files("libcuda.so").into_iter().next().unwrap_or_else(|| c.file.clone())
                };
                return Ok(Driver { file, version, library });
            }
            Err(e) => tried.push(format!("{} ({}): {e}", c.file.display(), c.via)),
        }
    }
    Err(NotFound { library: "the CUDA driver (libcuda.so.1)", tried })
}

fn driver_version(file: &Path) -> Result<(Library, (u32, u32)), String> {
    // SAFETY: loading runs the driver library's initialisers, as any CUDA program does.
    let library = unsafe { Library::new(file) }.map_err(|e| load_error(&e))?;
    // SAFETY: cuDriverGetVersion(int*) -> CUresult.
    let get: unsafe extern "C" fn(*mut i32) -> i32 =
        unsafe { library.get(b"cuDriverGetVersion") }.map(|s| *s).map_err(|e| format!("not the CUDA driver: {e}"))?;
    let mut version = 0;
    // SAFETY: a valid out-pointer; allowed before cuInit.
    let status = unsafe { get(&mut version) };
    if status != 0 {
        return Err(format!("cuDriverGetVersion failed with CUresult {status}"));
    }
    Ok((library, ((version / 1000) as u32, (version % 1000 / 10) as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn nvrtc_is_found_in_pip_layouts_toolkits_and_given_folders_in_that_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (given, site, toolkit) = (tmp.path().join("given"), tmp.path().join("site"), tmp.path().join("cuda"));
        touch(&given.join("libnvrtc.so.12"));
        touch(&site.join("nvidia/cu13/lib/libnvrtc.so.13"));
        touch(&site.join("nvidia/cuda_nvrtc/lib/libnvrtc.so.12"));
        touch(&toolkit.join("lib64/libnvrtc.so.12.8.93"));
        std::os::unix::fs::symlink("libnvrtc.so.12.8.93", toolkit.join("lib64/libnvrtc.so")).unwrap();
        touch(&toolkit.join("lib64/stubs/libnvrtc.so.12"));
        let search = LibrarySearch {
            dirs: vec![given.clone()],
            site_packages: vec![site.clone()],
            toolkits: vec![toolkit.clone()],
            system: false,
        };
        let found = nvrtc_candidates(&search);
        let files: Vec<(&Path, Option<u32>, &str)> = found.iter().map(|c| (c.file.as_path(), c.major, c.via)).collect();
        assert_eq!(
            files,
            [
                (given.join("libnvrtc.so.12").as_path(), Some(12), "given folder"),
                (site.join("nvidia/cu13/lib/libnvrtc.so.13").as_path(), Some(13), "pip package"),
                (site.join("nvidia/cuda_nvrtc/lib/libnvrtc.so.12").as_path(), Some(12), "pip package"),
                // the unversioned name: its version from the file it links to
                (toolkit.join("lib64/libnvrtc.so").as_path(), Some(12), "CUDA toolkit"),
            ]
        );
        let system = nvrtc_candidates(&LibrarySearch { system: true, ..LibrarySearch::default() });
        let names: Vec<&Path> = system.iter().map(|c| c.file.as_path()).collect();
        assert_eq!(names, [Path::new("libnvrtc.so.13"), Path::new("libnvrtc.so.12")]);
    }

    #[test]
    fn the_same_file_through_two_routes_is_one_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("cuda-13.0/lib64/libnvrtc.so.13"));
        std::os::unix::fs::symlink("cuda-13.0", tmp.path().join("cuda")).unwrap();
        let search = LibrarySearch {
            toolkits: vec![tmp.path().join("cuda"), tmp.path().join("cuda-13.0")],
            ..LibrarySearch::default()
        };
        assert_eq!(nvrtc_candidates(&search).len(), 1);
    }

    #[test]
    fn nvrtc_not_newer_than_the_driver_comes_first_then_the_newest() {
        let c = |file: &str, major| Candidate { file: PathBuf::from(file), major, via: "test" };
        let found = [c("a/libnvrtc.so.12", Some(12)), c("b/libnvrtc.so.13", Some(13)), c("c/libnvrtc.so", None)];
        let order = |driver| nvrtc_order(&found, driver).iter().map(|c| c.file.to_str().unwrap()).collect::<Vec<_>>();
        assert_eq!(order(Some(13)), ["b/libnvrtc.so.13", "a/libnvrtc.so.12", "c/libnvrtc.so"]);
        assert_eq!(order(Some(12)), ["a/libnvrtc.so.12", "c/libnvrtc.so", "b/libnvrtc.so.13"]);
        assert_eq!(order(None), ["b/libnvrtc.so.13", "a/libnvrtc.so.12", "c/libnvrtc.so"]);
    }

    #[test]
    fn the_driver_is_looked_for_in_given_folders_never_in_stubs() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("drv/libcuda.so.1"));
        touch(&tmp.path().join("cuda/lib64/stubs/libcuda.so.1"));
        let search = LibrarySearch {
            dirs: vec![tmp.path().join("cuda/lib64/stubs"), tmp.path().join("drv")],
            ..LibrarySearch::default()
        };
        let found = driver_candidates(&search);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].file, tmp.path().join("drv/libcuda.so.1"));
        // a file that is no driver is refused with the reason, and the search says where it looked
        let err = open_driver(&found).err().unwrap();
        assert!(err.to_string().contains("drv/libcuda.so.1 (given folder)"), "{err}");
    }

    #[test]
    fn a_virtual_environment_names_its_site_packages() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("lib/python3.12/site-packages")).unwrap();
        std::fs::create_dir_all(tmp.path().join("lib/pkgconfig")).unwrap();
        assert_eq!(prefix_site_packages(tmp.path()), [tmp.path().join("lib/python3.12/site-packages")]);
    }

    #[test]
    fn a_python_is_asked_for_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        // a stand-in interpreter that prints what `sys.path` would
        let python = tmp.path().join("python");
        std::fs::write(&python, format!("#!/bin/sh\necho {}\n", site.display())).unwrap();
        std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut search = LibrarySearch::default();
        search.add_python(&python).unwrap();
        search.add_python(&python).unwrap();
        assert_eq!(search.site_packages, [site]);
        let err = search.add_python(&tmp.path().join("no-python")).unwrap_err();
        assert!(err.contains("no-python"), "{err}");
    }

    #[test]
    fn this_process_maps_its_own_libc() {
        assert!(!mapped_files("libc.so").is_empty() || !mapped_files("libc-").is_empty());
    }
}
