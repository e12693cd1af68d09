//! The GPU paths beyond the kernels. ONNX Runtime's CUDA and TensorRT providers run when
//! onnxruntime-gpu is found (its provider library beside `libonnxruntime.so`) and the kit was
//! built with `--features providers`: the encoder on random vit_small weights, fed by the
//! `patchify` kernel's device buffer, against the CPU encoder on clips of the kit's frames.
//! NVDEC decodes through GStreamer's nvcodec plugin, which this kit leaves out: it reports what
//! the machine has and the main binary's command.

use std::path::{Path, PathBuf};

use libloading::Library;
use marlin_kernels::cuda::{Frames, Outcome};
use marlin_kernels::libraries::load_error;

/// The providers: name, provider library, largest |GPU − CPU| feature difference accepted (the
/// CUDA provider may use TF32 products; TensorRT runs in fp16).
const PROVIDERS: [(&str, &str, f32); 2] =
    [("onnxruntime cuda provider", "cuda", 1e-2), ("onnxruntime tensorrt provider", "tensorrt", 5e-2)];

/// One outcome per provider (each passed to `print` as it ends).
pub fn onnxruntime(
    gpu: bool,
    given: Option<&Path>,
    site_packages: &[PathBuf],
    frames: &[Frames],
    print: &mut dyn FnMut(&Outcome),
) -> Vec<Outcome> {
    let given = given.map(Path::to_path_buf).or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from));
    let runtime = find_runtime(given, site_packages);
    #[cfg(feature = "providers")]
    let mut cpu_features: Option<Result<run::Features, String>> = None;
    let mut out = Vec::new();
    for (name, provider, tolerance) in PROVIDERS {
        let outcome = match &runtime {
            Err(why) => Outcome::skipped(name, why.clone()),
            Ok(lib) => match missing_for(lib, provider, site_packages) {
                Some(why) => Outcome::skipped(name, why),
                None if !gpu => Outcome::skipped(name, "no GPU (see `gpu`)"),
                #[cfg(feature = "providers")]
                None => match cpu_features.get_or_insert_with(|| run::Features::cpu(frames)) {
                    Ok(want) => run::compare(name, provider, lib, want, tolerance),
                    Err(e) => Outcome::failed(name, vec![format!("the CPU encoder: {e}")]),
                },
                #[cfg(not(feature = "providers"))]
                None => {
                    let _ = (frames, tolerance);
                    Outcome::skipped(
                        name,
                        format!("{} is there, but this kit was built without `--features providers`", lib.display()),
                    )
                }
            },
        };
        print(&outcome);
        out.push(outcome);
    }
    out
}

/// onnxruntime-gpu's library: `given` (the flag, else `ORT_DYLIB_PATH`), or a Python's
/// `onnxruntime/capi/`.
fn find_runtime(given: Option<PathBuf>, site_packages: &[PathBuf]) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() { Ok(path) } else { Err(format!("{}: no such file", path.display())) };
    }
    for sp in site_packages {
        let capi = sp.join("onnxruntime/capi");
        let mut libs: Vec<PathBuf> = std::fs::read_dir(&capi)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
            .collect();
        libs.sort();
        if let Some(lib) = libs.pop() {
            return Ok(lib);
        }
    }
    Err(format!(
        "onnxruntime-gpu not found: no --onnxruntime, no ORT_DYLIB_PATH, no onnxruntime/capi/libonnxruntime.so.* \
         in {} Python package folders (pip install onnxruntime-gpu)",
        site_packages.len()
    ))
}

/// What `provider` lacks beside `lib`: its provider library; TensorRT's own library.
fn missing_for(lib: &Path, provider: &str, site_packages: &[PathBuf]) -> Option<String> {
    let dir = lib.parent().unwrap_or(Path::new("."));
    let provider_lib = dir.join(format!("libonnxruntime_providers_{provider}.so"));
    if !provider_lib.is_file() {
        return Some(format!("no {} (the CPU build of ONNX Runtime; onnxruntime-gpu has it)", provider_lib.display()));
    }
    if provider == "tensorrt" {
        // pip's tensorrt-cu12-libs puts it in tensorrt_libs/; opened by path, the provider
        // finds it loaded under its soname
        let by_path = site_packages.iter().map(|sp| sp.join("tensorrt_libs/libnvinfer.so.10")).find(|p| p.is_file());
        let name = by_path.unwrap_or_else(|| PathBuf::from("libnvinfer.so.10"));
        // SAFETY: NVIDIA's TensorRT library, which the provider would load anyway; kept loaded.
        match unsafe { Library::new(&name) } {
            Ok(l) => std::mem::forget(l),
            Err(e) => {
                return Some(format!("TensorRT 10 not found ({}; pip install tensorrt-cu12-libs)", load_error(&e)));
            }
        }
    }
    None
}

/// Running a provider (feature `providers`).
#[cfg(feature = "providers")]
mod run {
    use std::path::Path;
    use std::time::Instant;

    use marlin_kernels::cuda::{Frames, Outcome};
    use marlin_model::{Backend, Clip, EncoderWeights, MarlinConfig};
    use marlin_onnx::{EngineOptions, open_engine};

    /// The CPU encoder's features of two clips cut from the frames (random vit_small weights).
    pub struct Features {
        cfg: MarlinConfig,
        weights: EncoderWeights,
        clips: Vec<Clip>,
        values: Vec<Vec<f32>>,
    }

    impl Features {
        pub fn cpu(frames: &[Frames]) -> Result<Self, String> {
            let cfg = MarlinConfig::preset("vit_small").ok_or("no vit_small preset")?;
            let weights = EncoderWeights::random(&cfg, 7);
            let clips: Vec<Clip> =
                frames.iter().cycle().take(2).enumerate().map(|(k, f)| Clip::Rgb8(f.clip(k))).collect();
            let cpu = open_engine(Backend::Cpu, cfg.clone(), weights.clone(), &EngineOptions::default())
                .map_err(|e| e.to_string())?;
            let values = cpu.extract_features(&clips, false).map_err(|e| e.to_string())?;
            Ok(Self { cfg, weights, clips, values })
        }
    }

    /// `provider` (`cuda`, `tensorrt`) of the ONNX Runtime at `lib` against the CPU encoder.
    pub fn compare(name: &str, provider: &str, lib: &Path, want: &Features, tolerance: f32) -> Outcome {
        let backend = if provider == "tensorrt" { Backend::TensorRt } else { Backend::Cuda };
        let options = EngineOptions {
            onnxruntime: Some(lib.to_path_buf()),
            tensorrt_cache: Some(std::env::temp_dir().join("marlin-gpu-check-tensorrt")),
            ..EngineOptions::default()
        };
        let start = Instant::now();
        let got = open_engine(backend, want.cfg.clone(), want.weights.clone(), &options)
            .map_err(|e| e.to_string())
            .and_then(|engine| {
                let features = engine.extract_features(&want.clips, false).map_err(|e| e.to_string())?;
                Ok((features, engine.describe()))
            });
        let (got, describe) = match got {
            Ok(g) => g,
            Err(e) => return Outcome::failed(name, vec![e]),
        };
        let seconds = start.elapsed().as_secs_f64();
        if got.concat().len() != want.values.concat().len() {
            return Outcome::failed(
                name,
                vec![format!("{} features, expected {}", got.concat().len(), want.values.concat().len())],
            );
        }
        if let Some(bad) = got.iter().flatten().find(|v| !v.is_finite()) {
            return Outcome::failed(name, vec![format!("a feature is {bad} ({describe})")]);
        }
        let diff =
            got.iter().flatten().zip(want.values.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        if diff <= tolerance {
            Outcome::ok(
                name,
                format!(
                    "features of {} clips within {diff:.2e} of the CPU encoder's (accepted: {tolerance:.0e}); {describe}; \
                     {seconds:.1} s with start-up",
                    want.clips.len()
                ),
            )
        } else {
            Outcome::failed(
                name,
                vec![format!("largest |GPU − CPU| feature difference {diff:.3e} > {tolerance:.0e} ({describe})")],
            )
        }
    }
}

/// GStreamer's plugin folders, where its nvcodec plugin (NVDEC) would be.
const GST_PLUGIN_DIRS: [&str; 3] =
    ["/usr/lib/x86_64-linux-gnu/gstreamer-1.0", "/usr/lib/aarch64-linux-gnu/gstreamer-1.0", "/usr/lib64/gstreamer-1.0"];

/// NVDEC: skipped, with what the machine has for it.
pub fn nvdec() -> Outcome {
    // SAFETY: the driver's NVDEC library, opened to see that it is there, then closed.
    let cuvid = match unsafe { Library::new("libnvcuvid.so.1") } {
        Ok(_) => "libnvcuvid.so.1 (the driver's NVDEC) loads".to_string(),
        Err(_) => "no libnvcuvid.so.1 (the driver's NVDEC)".to_string(),
    };
    let plugin = GST_PLUGIN_DIRS.iter().map(|d| Path::new(d).join("libgstnvcodec.so")).find(|p| p.is_file());
    let plugin = plugin.map_or("no GStreamer nvcodec plugin".to_string(), |p| format!("{} is there", p.display()));
    Outcome::skipped(
        "nvdec",
        format!(
            "not in this kit (NVDEC decodes through GStreamer, which it leaves out); this machine: {cuvid}, {plugin}; \
             with the main binary: `marlin doctor`, then `marlin decode --decoder nvdec VIDEO -o frames.npy`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnxruntime_gpu_is_looked_for_in_python_packages_and_needs_its_provider_library() {
        let tmp = tempfile::tempdir().unwrap();
        let capi = tmp.path().join("onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        let sites = [tmp.path().to_path_buf()];
        assert!(find_runtime(None, &sites).unwrap_err().contains("onnxruntime-gpu not found"));
        std::fs::write(capi.join("libonnxruntime.so.1.23.0"), b"").unwrap();
        let lib = find_runtime(None, &sites).unwrap();
        assert_eq!(lib, capi.join("libonnxruntime.so.1.23.0"));
        assert!(missing_for(&lib, "cuda", &sites).unwrap().contains("libonnxruntime_providers_cuda.so"));
        std::fs::write(capi.join("libonnxruntime_providers_cuda.so"), b"").unwrap();
        assert_eq!(missing_for(&lib, "cuda", &sites), None);
        let given = tmp.path().join("nowhere.so");
        assert!(find_runtime(Some(given), &sites).unwrap_err().contains("nowhere.so: no such file"));
    }

    #[test]
    fn nvdec_says_what_the_machine_has_and_how_to_check_it() {
        let o = nvdec().to_string();
        assert!(o.starts_with("skipped nvdec: not in this kit"), "{o}");
        assert!(o.contains("libnvcuvid.so.1") && o.contains("--decoder nvdec"), "{o}");
    }
}
