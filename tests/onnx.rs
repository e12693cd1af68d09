//! The exported ONNX graph run by ONNX Runtime's CPU provider against the official features,
//! and the `onnx-cpu` backend against the native CPU encoder.

use marlin_model::{Clip, FeatureExtractor, Marlin, MarlinConfig};
use marlin_onnx::{ExportOptions, InputLayout, OnnxEncoder, Provider, export_encoder};

use crate::util::{arg, max_abs_diff, onnxruntime, oracle, read_f32, read_u8};

fn clip(name: &str) -> Clip {
    Clip::Rgb8(read_u8(&oracle(&format!("clips/{name}.u8.npy"))).1)
}

fn tiny_config() -> MarlinConfig {
    MarlinConfig::from_yaml_file(&oracle("marlin_tiny.yaml")).unwrap()
}

/// Exports `model` with `options` to a file and runs it back through ONNX Runtime.
fn exported(model: &str, cfg: Option<MarlinConfig>, options: ExportOptions) -> (tempfile::TempDir, OnnxEncoder) {
    onnxruntime();
    let (cfg, weights) = Marlin::read(&oracle(model), cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, export_encoder(&cfg, &weights.encoder, options).unwrap()).unwrap();
    let encoder = OnnxEncoder::from_file(&path, cfg, Provider::Cpu, 2).unwrap();
    (dir, encoder)
}

fn check(encoder: &OnnxEncoder, dir: &str, names: &[&str], keep_seq: bool, tol: f32) {
    let clips: Vec<Clip> = names.iter().map(|n| clip(n)).collect();
    let pooled = encoder.extract_features(&clips, false).unwrap();
    for (got, name) in pooled.iter().zip(names) {
        let (_, want) = read_f32(&oracle(&format!("features/{dir}/{name}.mean.npy")));
        let d = max_abs_diff(got, &want);
        eprintln!("{dir} {name} pooled: max-abs {d:.2e}");
        assert!(d <= tol, "{dir} {name} pooled: max-abs {d} > {tol}");
    }
    if keep_seq {
        for (got, name) in encoder.extract_features(&clips, true).unwrap().iter().zip(names) {
            let (_, want) = read_f32(&oracle(&format!("features/{dir}/{name}.seq.npy")));
            let d = max_abs_diff(got, &want);
            eprintln!("{dir} {name} tokens: max-abs {d:.2e}");
            assert!(d <= tol, "{dir} {name} tokens: max-abs {d} > {tol}");
        }
    }
}

#[test]
fn vit_small_onnx_matches_the_oracle() {
    let options = ExportOptions { input: InputLayout::Frames, keep_seq: false, batch: Some(1), opset: 17 };
    let (_dir, encoder) = exported("models/marlin_vit_small_random.encoder.f16.safetensors", None, options);
    check(&encoder, "marlin_vit_small_random", &["face"], false, 1e-4);
    check(&encoder, "marlin_vit_small_random", &["noise"], false, 1e-4);
}

#[test]
fn tiny_onnx_with_tokens_patches_and_a_dynamic_batch_matches_the_oracle() {
    for opset in [17, 18, 20, 21] {
        let options = ExportOptions { input: InputLayout::Patches, keep_seq: true, batch: None, opset };
        let (_dir, encoder) = exported("models/marlin_tiny.encoder.pt", Some(tiny_config()), options);
        check(&encoder, "marlin_tiny", &["noise", "face", "noise"], true, 1e-4);
    }
    let options = ExportOptions { input: InputLayout::Frames, keep_seq: true, batch: Some(2), opset: 17 };
    let (_dir, encoder) = exported("models/marlin_tiny.hf.safetensors", Some(tiny_config()), options);
    check(&encoder, "marlin_tiny", &["face", "noise"], true, 1e-4);
    // a fixed batch says so when given another
    let e = encoder.extract_features(&[clip("face")], false).unwrap_err().to_string();
    assert!(e.contains("batches of 2 clips, not 1"), "{e}");
}

#[test]
fn export_onnx_writes_a_graph_that_runs_and_refuses_bad_requests() {
    onnxruntime();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny.onnx");
    let (model, yaml) = (oracle("models/marlin_tiny.full.pt"), oracle("marlin_tiny.yaml"));
    let base = ["export-onnx", "--model", arg(&model), "--model-config", arg(&yaml)];
    let run = |extra: &[&str]| crate::util::marlin(&[&base[..], extra].concat(), &[]);
    let o = run(&["-o", arg(&out), "--input", "patches", "--keep-seq", "--dynamic-batch", "--opset", "20"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let encoder = OnnxEncoder::from_file(&out, tiny_config(), Provider::Cpu, 1).unwrap();
    check(&encoder, "marlin_tiny", &["face"], true, 1e-4);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary files left behind");

    // the graph of another architecture is refused by name
    let small = MarlinConfig::preset("vit_small").unwrap();
    let e = OnnxEncoder::from_file(&out, small, Provider::Cpu, 1).err().unwrap().to_string();
    assert!(e.contains("tiny.onnx") && e.contains("marlin.dim is 64, the model config needs 384"), "{e}");
    // not an ONNX file
    let e = OnnxEncoder::from_file(&yaml, tiny_config(), Provider::Cpu, 1).err().unwrap().to_string();
    assert!(e.contains("marlin_tiny.yaml"), "{e}");
    // an opset it does not write, and a graph without `tokens` asked for them
    let o = run(&["-o", dir.path().join("x.onnx").to_str().unwrap(), "--opset", "13"]);
    assert!(
        !o.status.success() && crate::util::stderr(&o).contains("opset 13 is not written: choose 17–21"),
        "{}",
        crate::util::stderr(&o)
    );
    assert!(!dir.path().join("x.onnx").exists());
    let pooled_only = dir.path().join("pooled.onnx");
    assert!(run(&["-o", arg(&pooled_only)]).status.success());
    let encoder = OnnxEncoder::from_file(&pooled_only, tiny_config(), Provider::Cpu, 1).unwrap();
    let e = encoder.extract_features(&[clip("face")], true).unwrap_err().to_string();
    assert!(e.contains("no `tokens` output: export it with --keep-seq"), "{e}");
}

/// The detector's ONNX export on ONNX Runtime against the official raw outputs and detections.
#[test]
fn retinaface_onnx_matches_the_official_detector() {
    use crate::faces::{OFFICIAL_DETECTOR_IMAGES, assert_matches_the_official_detector};
    onnxruntime();
    let pkl = crate::util::detector_path();
    let det = marlin_onnx::OnnxRetinaFace::load(&pkl, Provider::Cpu, 2).unwrap();
    for image in OFFICIAL_DETECTOR_IMAGES {
        let img = marlin_media::read_image(&crate::util::media(&format!("registry/{image}"))).unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        let frame = marlin_faces::FrameRef::new(&img.data, w, h);
        let raw = det.raw(frame, marlin_faces::PixelOrder::Rgb).unwrap();
        let dets = det.detect(frame, marlin_faces::PixelOrder::Rgb).unwrap();
        assert_matches_the_official_detector(image, &raw, &dets);
    }
}

/// `--detector-backend onnx-cpu` in compat mode: the official crops, so the same features as
/// the native detector, bit for bit.
#[test]
fn compat_crops_with_the_onnx_detector_give_the_same_features() {
    let ort = onnxruntime();
    let dir = tempfile::tempdir().unwrap();
    let video = crate::util::media("marlin/video01.mp4");
    let pkl = crate::util::detector_path();
    let run = |backend: &str| {
        let out = dir.path().join(format!("{backend}.npy"));
        let o = crate::util::marlin(
            &[
                "extract",
                arg(&video),
                "--crop-face",
                "--compat",
                "--detector",
                arg(&pkl),
                "--detector-backend",
                backend,
                "--model",
                oracle("models/marlin_tiny.encoder.pt").to_str().unwrap(),
                "--model-config",
                oracle("marlin_tiny.yaml").to_str().unwrap(),
                "--onnxruntime",
                arg(&ort),
                "-o",
                arg(&out),
            ],
            &[],
        );
        assert!(o.status.success(), "{backend}: {}", crate::util::stderr(&o));
        read_f32(&out)
    };
    let (cpu, onnx) = (run("cpu"), run("onnx-cpu"));
    assert_eq!(cpu.0, onnx.0);
    assert_eq!(cpu.1, onnx.1, "the crops differ");
}

#[test]
fn doctor_reports_what_it_finds() {
    let ort = onnxruntime();
    let o = crate::util::marlin(&["doctor", "--onnxruntime", arg(&ort)], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    for line in ["marlin ", "cpu ", "gstreamer ", "onnxruntime ", "cuda driver ", "nvrtc ", "tensorrt "] {
        assert!(out.lines().any(|l| l.starts_with(line)), "no `{line}` line: {out}");
    }
    assert!(out.contains(arg(&ort)) && out.contains("libav"), "{out}");
    let o = crate::util::marlin(&["doctor", "--onnxruntime", "/nonexistent/libonnxruntime.so"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        out.lines().any(|l| l.starts_with("onnxruntime")
            && l.contains("not found")
            && l.contains("/nonexistent/libonnxruntime.so")),
        "{out}"
    );
}

/// Backends this build or this machine cannot run say what is missing.
#[test]
fn unavailable_backends_say_what_is_missing() {
    let ort = onnxruntime();
    let clip = oracle("clips/face.u8.npy");
    let (model, yaml) = (oracle("models/marlin_tiny.encoder.pt"), oracle("marlin_tiny.yaml"));
    let encode = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let o = crate::util::marlin(
            &[
                &[
                    "encode",
                    "--model",
                    arg(&model),
                    "--model-config",
                    arg(&yaml),
                    "--clip",
                    arg(&clip),
                    "-o",
                    out.path().join("f.npy").to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
            &[],
        );
        assert!(!o.status.success());
        crate::util::stderr(&o)
    };
    let e = encode(&["--backend", "tensorrt", "--onnxruntime", arg(&ort)]);
    assert!(e.contains("backend tensorrt needs marlin built with `--features tensorrt`"), "{e}");
    let e = encode(&["--backend", "onnx-cpu", "--precision", "bf16", "--onnxruntime", arg(&ort)]);
    assert!(e.contains("precision bf16 is the cpu backend's"), "{e}");
    let e = encode(&["--backend", "onnx-cpu", "--precision", "int8", "--onnxruntime", arg(&ort)]);
    assert!(e.contains("precision int8 is the cpu backend's"), "{e}");
}
