//! The kit on a machine without a GPU, as CI runs it: it links no media library, finds NVRTC
//! where it is given or where pip puts it (CUDA 12 and 13 layouts) and compiles every kernel,
//! lists every GPU check as skipped with the reason, and exits 0 only with `--allow-skips`.
//! NVRTC comes from PyPI through `tools/nvrtc.sh` (as in CI); the tests fail when it cannot.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KIT: &str = env!("CARGO_BIN_EXE_marlin-gpu-check");

/// NVRTC 12 from PyPI (`tools/nvrtc.sh`, cached under target/).
fn nvrtc_dir() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/nvrtc.sh");
    let o = Command::new(&script).output().expect("tools/nvrtc.sh runs");
    assert!(o.status.success(), "tools/nvrtc.sh: {}", String::from_utf8_lossy(&o.stderr));
    let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    assert!(dir.join("libnvrtc.so.12").is_file(), "no libnvrtc.so.12 in {}", dir.display());
    dir
}

/// A folder with one small frame set, `frames.npy` (3 frames of 96×64).
fn inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rgb: Vec<u8> = (0..3 * 64 * 96 * 3).map(|i| (i * 7 % 251) as u8).collect();
    marlin_npy::write_atomic(&dir.path().join("frames.npy"), &marlin_npy::encode_u8(&[3, 64, 96, 3], &rgb)).unwrap();
    dir
}

/// The kit with no environment to find CUDA through but what the test gives.
fn kit(args: &[&str]) -> Output {
    Command::new(KIT)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("VIRTUAL_ENV")
        .env_remove("CONDA_PREFIX")
        .env_remove("CUDA_PATH")
        .env_remove("CUDA_HOME")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("the kit runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The GPU checks every run lists (`frames.npy` being the inputs).
const GPU_CHECKS: [&str; 14] = [
    "gpu",
    "crop_resize_square on random 1280×720",
    "warp_similarity on random 1280×720",
    "crop_resize_square on frames.npy",
    "warp_similarity on frames.npy",
    "patchify_f32 on 8 clips cut from random 1280×720, frames.npy",
    "patchify_f16 on 8 clips cut from random 1280×720, frames.npy",
    "gather_rows of their patch rows",
    "scatter_rows of their patch rows",
    "patchify_to_device → device address → host",
    "onnxruntime cuda provider",
    "onnxruntime tensorrt provider",
    "compute-sanitizer memcheck",
    "compute-sanitizer initcheck",
];

#[test]
fn the_kit_links_no_gstreamer_ffmpeg_or_turbojpeg() {
    let o = Command::new("ldd").arg(KIT).output().expect("ldd is installed");
    let libraries = stdout(&o);
    assert!(o.status.success() && libraries.contains("libc.so"), "{libraries}");
    for unwanted in ["gst", "glib", "swscale", "avutil", "avcodec", "turbojpeg", "onnxruntime", "cuda", "nvrtc"] {
        assert!(!libraries.contains(unwanted), "the kit links {unwanted}: {libraries}");
    }
}

#[test]
fn without_a_gpu_every_gpu_check_is_skipped_with_its_reason_and_exit_0_needs_allow_skips() {
    let (nvrtc, inputs) = (nvrtc_dir(), inputs());
    let args = ["--inputs", inputs.path().to_str().unwrap(), "--lib-dir", nvrtc.to_str().unwrap(), "--sanitizer"];
    let o = kit(&[&args[..], &["--allow-skips"]].concat());
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let line = |name: &str| out.lines().find(|l| l.split_once(": ").is_some_and(|(head, _)| head.ends_with(name)));
    let nvrtc_line = line(" nvrtc").unwrap_or_else(|| panic!("no nvrtc line: {out}"));
    assert!(
        nvrtc_line.starts_with(&format!("ok nvrtc: NVRTC 12.8 from {}/libnvrtc.so.12 (given folder)", nvrtc.display())),
        "{nvrtc_line}"
    );
    for kernel in ["crop_resize", "patchify", "mask"] {
        let compiled = line(&format!(" compile {kernel}")).unwrap_or_else(|| panic!("no compile line: {out}"));
        assert!(compiled.starts_with("ok ") && compiled.contains("bytes of PTX"), "{compiled}");
    }
    assert!(!out.contains("FAILED "), "{out}");
    let gpu = line(" gpu").unwrap_or_else(|| panic!("no gpu line: {out}"));
    assert!(gpu.starts_with("skipped gpu: no CUDA"), "this test is for machines without a GPU: {gpu}");
    for name in GPU_CHECKS {
        let l = line(&format!(" {name}")).unwrap_or_else(|| panic!("no `{name}` line: {out}"));
        let (_, why) = l.split_once(": ").unwrap();
        assert!(l.starts_with("skipped ") && why.len() > 5, "{l}");
    }
    assert!(line(" nvdec").is_some_and(|l| l.starts_with("skipped nvdec: not in this kit")), "{out}");
    assert!(
        out.contains("summary: 4 ok, 0 FAILED, 16 skipped") || out.contains("summary: 5 ok, 0 FAILED, 15 skipped"),
        "{out}"
    );

    // the same run without --allow-skips: exit 3, saying why
    let o = kit(&args);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stdout(&o).contains("checks were skipped: exit 3 (--allow-skips"), "{}", stdout(&o));
}

/// A Python whose `sys.path` is `site` (a stand-in interpreter: the kit only asks it for that).
fn fake_python(dir: &Path, site: &Path) -> PathBuf {
    let python = dir.join("python3");
    std::fs::write(&python, format!("#!/bin/sh\necho {}\n", site.display())).unwrap();
    std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    python
}

/// `from` linked (or copied) to `to`: another file of the same content, not a symbolic link.
fn place(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn nvrtc_is_found_in_a_pythons_pip_packages_cuda_13_layout_first() {
    let (nvrtc, inputs) = (nvrtc_dir(), inputs());
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let site = tmp.path().join("lib/python3.12/site-packages");
    // CUDA 12's wheel layout
    let cu12 = site.join("nvidia/cuda_nvrtc/lib");
    place(&nvrtc.join("libnvrtc.so.12"), &cu12.join("libnvrtc.so.12"));
    place(&nvrtc.join("libnvrtc-builtins.so.12.8"), &cu12.join("libnvrtc-builtins.so.12.8"));
    let python = fake_python(tmp.path(), &site);
    let run = |status: i32| {
        let o =
            kit(&["--inputs", inputs.path().to_str().unwrap(), "--python", python.to_str().unwrap(), "--allow-skips"]);
        assert_eq!(o.status.code(), Some(status), "{}", stdout(&o));
        stdout(&o)
    };
    let nvrtc_line = |out: String| out.lines().find(|l| l.starts_with("ok nvrtc: ")).map(str::to_string).unwrap_or(out);
    let found = nvrtc_line(run(0));
    assert!(
        found.starts_with(&format!(
            "ok nvrtc: NVRTC 12.8 from {}/libnvrtc.so.12 (pip package); builtins {}/libnvrtc-builtins.so.12.8 loaded first",
            cu12.display(),
            cu12.display()
        )),
        "{found}"
    );
    // CUDA 13's layout, every library in nvidia/cu13/lib (a CUDA 12 NVRTC stands in: the name
    // decides the order, the library itself its version): newest first without a driver, opened
    // by path (cudarc's CUDA 12 names never include libnvrtc.so.13). Without its builtins beside
    // it, compiling fails, and says so.
    let cu13 = site.join("nvidia/cu13/lib");
    place(&nvrtc.join("libnvrtc.so.12"), &cu13.join("libnvrtc.so.13"));
    let out = run(1);
    assert!(
        out.contains("FAILED compile crop_resize: NVRTC_ERROR_BUILTIN_OPERATION_FAILURE: nvrtc: error: failed to open libnvrtc-builtins.so.12.8"),
        "{out}"
    );
    assert!(out.contains("skipped gpu: the kernels did not compile"), "{out}");
    place(&nvrtc.join("libnvrtc-builtins.so.12.8"), &cu13.join("libnvrtc-builtins.so.12.8"));
    let found = nvrtc_line(run(0));
    assert!(
        found.starts_with(&format!("ok nvrtc: NVRTC 12.8 from {}/libnvrtc.so.13 (pip package)", cu13.display()))
            && found.ends_with(&format!("also found: {}/libnvrtc.so.12", cu12.display())),
        "{found}"
    );
}

#[test]
fn without_nvrtc_the_kernel_checks_are_skipped_saying_where_it_looked() {
    let inputs = inputs();
    let o = kit(&["--inputs", inputs.path().to_str().unwrap(), "--lib-dir", "/nonexistent/nvrtc", "--allow-skips"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let nvrtc = out.lines().find(|l| l.starts_with("skipped nvrtc: ")).unwrap_or_else(|| panic!("{out}"));
    assert!(
        nvrtc.contains("NVRTC (libnvrtc.so.13 or .12) not found; tried: libnvrtc.so.13 (library search path): "),
        "{nvrtc}"
    );
    assert!(out.contains("skipped compile crop_resize: no NVRTC"), "{out}");
    assert!(out.contains("skipped patchify_f32 on 8 clips cut from random 1280×720, frames.npy: no NVRTC"), "{out}");
}

#[test]
fn a_missing_inputs_folder_stops_the_run_naming_it() {
    let o = kit(&["--inputs", "/nonexistent/inputs"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/inputs: the inputs folder"), "{err}");
}
