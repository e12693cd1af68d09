//! `marlin doctor`: what this machine offers marlin, one line per component, each with what
//! was found or what to install.

use std::path::{Path, PathBuf};

use marlin_model::Backend;
use marlin_model::Precision;

pub fn run() -> anyhow::Result<()> {
    let line = |what: &str, status: String| println!("{what:<14} {status}");
    line("marlin", format!("{} (backends built in: {})", env!("CARGO_PKG_VERSION"), built_backends()));
    line("cpu", cpu());
    line("gstreamer", gstreamer());
    let ort = marlin_onnx::load_runtime(None);
    line(
        "onnxruntime",
        match &ort {
            Ok(info) => format!("{} ({})", info.library.display(), info.build.lines().next().unwrap_or_default()),
            Err(e) => format!("not found: {e}"),
        },
    );
    let providers = ort.as_ref().ok().and_then(|info| resolved_dir(&info.library));
    let provider = |name: &str| match &providers {
        Some(dir) if dir.join(format!("libonnxruntime_providers_{name}.so")).is_file() => {
            format!("found in {}", dir.display())
        }
        Some(dir) => format!("not in {} (the GPU build of ONNX Runtime, onnxruntime-gpu, has it)", dir.display()),
        None => "no ONNX Runtime".to_string(),
    };
    line("ort cuda ep", provider("cuda"));
    line("ort trt ep", provider("tensorrt"));
    let cuda = marlin_kernels::libraries::loaded();
    line(
        "cuda driver",
        match &cuda.driver {
            Ok(d) => format!("CUDA {}.{} driver, {}", d.version.0, d.version.1, d.file.display()),
            Err(e) => format!("{e} (install an NVIDIA driver)"),
        },
    );
    line(
        "nvrtc",
        match &cuda.nvrtc {
            Ok(n) => format!("NVRTC {}.{}, {}", n.version.0, n.version.1, n.file.display()),
            Err(e) => {
                format!("{e}: a CUDA 12/13 toolkit, pip's NVRTC in the active virtual environment, or tools/nvrtc.sh")
            }
        },
    );
    line(
        "tensorrt",
        library(
            &["libnvinfer.so.10", "libnvinfer.so"],
            "TensorRT 10 (pip install tensorrt-cu12-libs, or NVIDIA's packages)",
        ),
    );
    Ok(())
}

fn built_backends() -> String {
    Backend::ALL.iter().filter(|b| marlin_onnx::compiled(**b)).map(|b| b.name()).collect::<Vec<_>>().join(", ")
}

fn cpu() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut units = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            units.push("AVX2");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            units.push("AVX-512");
        }
    }
    if Precision::Bf16.supported() == Precision::Bf16 {
        units.push("AVX512-BF16 (--precision bf16)");
    }
    if Precision::Int8.check().is_ok() {
        units.push("VNNI (--precision int8)");
    }
    format!(
        "{threads} threads; {}",
        if units.is_empty() { "no wide vector units".to_string() } else { units.join(", ") }
    )
}

fn gstreamer() -> String {
    match marlin_media::installed_video_decoders() {
        Ok(decoders) => {
            let nvdec: Vec<&str> = decoders.iter().filter(|d| d.starts_with("nv")).map(String::as_str).collect();
            let libav = decoders.iter().filter(|d| d.starts_with("avdec_")).count();
            format!(
                "{}; {} video decoders ({libav} libav); NVDEC: {}",
                marlin_media::gstreamer_version(),
                decoders.len(),
                if nvdec.is_empty() {
                    "none (gstreamer1.0-plugins-bad's nvcodec needs an NVIDIA driver)".to_string()
                } else {
                    nvdec.join(", ")
                }
            )
        }
        Err(e) => format!("not usable: {e}"),
    }
}

/// Whether one of `names` loads; its path when it does.
fn library(names: &[&str], hint: &str) -> String {
    for name in names {
        // SAFETY: loading a system library runs its initialisers; these are the vendor's
        // libraries marlin would load for the GPU paths anyway.
        if unsafe { libloading::Library::new(*name) }.is_ok() {
            return format!("{name} loads");
        }
    }
    format!("not found: install {hint}")
}

/// The folder of a library given by path (a bare name has none to look in).
fn resolved_dir(library: &Path) -> Option<PathBuf> {
    library.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf)
}
