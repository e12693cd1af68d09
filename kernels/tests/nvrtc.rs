//! NVRTC opened by path compiles every kernel, to PTX and to machine code, without a GPU: the
//! PyPI NVRTC 12.8 of `tools/nvrtc.sh` (as in CI; the test fails when it cannot be fetched), and
//! any other the environment's search finds (a virtual environment with pip's CUDA 13 NVRTC:
//! `VIRTUAL_ENV=… cargo test -p marlin-kernels --test nvrtc`).

use std::path::{Path, PathBuf};
use std::process::Command;

use marlin_kernels::libraries::{LibrarySearch, nvrtc_candidates};
use marlin_kernels::nvrtc::{Code, Nvrtc};
use marlin_kernels::sources::SOURCES;

fn pypi_nvrtc() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/nvrtc.sh");
    let o = Command::new(&script).output().expect("tools/nvrtc.sh runs");
    assert!(o.status.success(), "tools/nvrtc.sh: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("libnvrtc.so.12")
}

fn options(arch: &str) -> Vec<String> {
    vec![format!("--gpu-architecture={arch}"), "--fmad=false".into()]
}

#[test]
fn every_nvrtc_found_compiles_every_kernel_to_ptx_and_cubins() {
    let pypi = pypi_nvrtc();
    let mut files = vec![pypi.clone()];
    let search = LibrarySearch { system: false, ..LibrarySearch::from_env() };
    files.extend(nvrtc_candidates(&search).into_iter().map(|c| c.file).filter(|f| *f != pypi));
    for file in files {
        let nvrtc = Nvrtc::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let what = format!("NVRTC {:?} ({})", nvrtc.version, file.display());
        assert!(nvrtc.builtins.is_some(), "{what}: its builtins are beside it");
        for s in SOURCES {
            let ptx = nvrtc.compile(s.source, s.name, &options("compute_80"), Code::Ptx).unwrap();
            let ptx = String::from_utf8(ptx).unwrap();
            assert!(ptx.contains(".target sm_80") && !ptx.ends_with('\0'), "{what}: {}", s.name);
            for f in s.functions {
                assert!(ptx.contains(&format!(".entry {f}(")), "{what}: no {f} in the PTX");
            }
            for arch in ["sm_80", "sm_90"] {
                let cubin = nvrtc.compile(s.source, s.name, &options(arch), Code::Cubin).unwrap();
                assert!(cubin.starts_with(b"\x7fELF"), "{what}: {} for {arch} is no ELF cubin", s.name);
            }
        }
        eprintln!("{what}: every kernel compiled");
    }
}

#[test]
fn a_source_that_does_not_compile_comes_back_with_the_log() {
    let nvrtc = Nvrtc::open(&pypi_nvrtc()).unwrap();
    let broken = "extern \"C\" __global__ void k(float* out) { out[0] = undefined_name; }";
    let failure = nvrtc.compile(broken, "broken.cu", &options("compute_80"), Code::Ptx).unwrap_err();
    assert_eq!(failure.status, "NVRTC_ERROR_COMPILATION");
    assert!(failure.log.contains("broken.cu") && failure.log.contains("undefined_name"), "{}", failure.log);
    let failure = nvrtc.compile("", "empty.cu", &["--no-such-option".into()], Code::Ptx).unwrap_err();
    assert_eq!(failure.status, "NVRTC_ERROR_INVALID_OPTION");
}
