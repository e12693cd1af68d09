//! The encoder against the official features: every tiny checkpoint layout on both clips,
//! pooled and per token, and the released vit_small architecture from f16 safetensors.

use marlin_model::{Clip, Marlin, MarlinConfig, Precision};

use crate::util::{arg, cosine, max_abs_diff, oracle, read_f32};

fn clip(name: &str) -> Clip {
    let a = marlin_npy::read(oracle(&format!("clips/{name}.u8.npy"))).unwrap();
    assert_eq!(a.shape, vec![16, 224, 224, 3]);
    match a.data {
        marlin_npy::Data::U8(v) => Clip::Rgb8(v),
        _ => panic!("oracle clip is not uint8"),
    }
}

/// Checks pooled and per-token features of `model` on both clips against `features/<dir>`.
fn check(model: &Marlin, dir: &str, tol: f32) {
    for name in ["face", "noise"] {
        let enc = &model.encoder;
        let hidden = enc.forward(&[clip(name)]).unwrap();
        let pooled = enc.pooled(&hidden).remove(0);
        let seq = enc.sequence(hidden).remove(0);
        let (shape, want) = read_f32(&oracle(&format!("features/{dir}/{name}.mean.npy")));
        assert_eq!(shape, vec![enc.dim()]);
        let d = max_abs_diff(&pooled, &want);
        assert!(d <= tol, "{} {name} pooled: max-abs {d} > {tol}", model.path.display());
        let (shape, want) = read_f32(&oracle(&format!("features/{dir}/{name}.seq.npy")));
        assert_eq!(shape, vec![1568, enc.dim()]);
        let d = max_abs_diff(&seq, &want);
        assert!(d <= tol, "{} {name} per-token: max-abs {d} > {tol}", model.path.display());
    }
}

fn tiny_config() -> MarlinConfig {
    MarlinConfig::from_yaml_file(&oracle("marlin_tiny.yaml")).unwrap()
}

#[test]
fn tiny_every_layout_matches_the_oracle() {
    for layout in ["encoder.pt", "encoder.legacy.pt", "full.pt", "hf.safetensors"] {
        let model =
            Marlin::load(&oracle(&format!("models/marlin_tiny.{layout}")), Some(tiny_config()), 2, Precision::F32)
                .unwrap();
        assert_eq!(model.has_decoder(), layout == "full.pt", "{layout}");
        check(&model, "marlin_tiny", 2e-5);
    }
}

/// `Marlin.forward(x, mask)` of the full checkpoint: the masked tokens' predicted pixels.
#[test]
fn full_checkpoint_reconstructs_as_the_official_forward() {
    let model = Marlin::load(&oracle("models/marlin_tiny.full.pt"), Some(tiny_config()), 2, Precision::F32).unwrap();
    let (_, clip) = crate::util::read_u8(&oracle("clips/face.u8.npy"));
    let (_, mask) = crate::util::read_u8(&oracle("reconstruction/mask.npy"));
    let mask: Vec<bool> = mask.iter().map(|&v| v != 0).collect();
    let got = model.reconstruct(&Clip::Rgb8(clip), &mask).unwrap();
    let (shape, want) = read_f32(&oracle("reconstruction/recon.npy"));
    assert_eq!(shape, [1412, 1536]);
    let diff = max_abs_diff(&got, &want);
    assert!(diff < 2e-5, "max-abs {diff}");
    // an encoder-only checkpoint says what it lacks
    let encoder_only =
        Marlin::load(&oracle("models/marlin_tiny.encoder.pt"), Some(tiny_config()), 1, Precision::F32).unwrap();
    let e = encoder_only.reconstruct(&Clip::Rgb8(vec![0; 16 * 224 * 224 * 3]), &mask).unwrap_err().to_string();
    assert!(e.contains("this checkpoint has no decoder: use the .full.pt"), "{e}");
}

#[test]
fn vit_small_f16_safetensors_matches_the_oracle() {
    // no --model-config: the vit_small preset is chosen from the weights' shapes
    let model =
        Marlin::load(&oracle("models/marlin_vit_small_random.encoder.f16.safetensors"), None, 0, Precision::F32)
            .unwrap();
    assert_eq!(model.encoder.config().name, "marlin_vit_small_ytf");
    check(&model, "marlin_vit_small_random", 1e-4);
}

#[test]
fn vit_small_bf16_stays_within_cosine_0_9995_of_the_oracle() {
    let model =
        Marlin::load(&oracle("models/marlin_vit_small_random.encoder.f16.safetensors"), None, 0, Precision::Bf16)
            .unwrap();
    eprintln!("bf16 request runs in {:?} on this CPU", model.encoder.precision());
    for name in ["face", "noise"] {
        let got = model.encoder.extract_features(&[clip(name)], false).unwrap().remove(0);
        let (_, want) = read_f32(&oracle(&format!("features/marlin_vit_small_random/{name}.mean.npy")));
        let cos = cosine(&got, &want);
        eprintln!("bf16 {name}: cosine {cos:.7}, max-abs {:.2e}", max_abs_diff(&got, &want));
        assert!(cos >= 0.9995, "{name}: cosine {cos}");
    }
}

/// int8 (`--precision int8`): pooled features and every clip's token sequence within cosine
/// 0.999 of the official f32 features; max-abs reported.
#[test]
fn vit_small_int8_stays_within_cosine_0_999_of_the_oracle() {
    if !crate::util::int8_runs() {
        return;
    }
    let path = oracle("models/marlin_vit_small_random.encoder.f16.safetensors");
    let model = Marlin::load(&path, None, 0, Precision::Int8).unwrap();
    assert_eq!(model.encoder.precision(), Precision::Int8);
    // the clips' official features differ by far more than int8 moves them
    let official = |name: &str| read_f32(&oracle(&format!("features/marlin_vit_small_random/{name}.mean.npy"))).1;
    let distance = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt();
    let between = distance(&official("face"), &official("noise"));
    for name in ["face", "noise"] {
        let hidden = model.encoder.forward(&[clip(name)]).unwrap();
        let pooled = model.encoder.pooled(&hidden).remove(0);
        let seq = model.encoder.sequence(hidden).remove(0);
        let (_, want) = read_f32(&oracle(&format!("features/marlin_vit_small_random/{name}.mean.npy")));
        let (_, want_seq) = read_f32(&oracle(&format!("features/marlin_vit_small_random/{name}.seq.npy")));
        let (cos, cos_seq) = (cosine(&pooled, &want), cosine(&seq, &want_seq));
        let worst_token =
            seq.chunks_exact(384).zip(want_seq.chunks_exact(384)).map(|(a, b)| cosine(a, b)).fold(1.0, f64::min);
        eprintln!(
            "int8 {name}: pooled cosine {cos:.6}, max-abs {:.2e}; tokens cosine {cos_seq:.6} (worst token {worst_token:.6}), max-abs {:.2e}",
            max_abs_diff(&pooled, &want),
            max_abs_diff(&seq, &want_seq)
        );
        assert!(cos >= 0.999, "{name}: pooled cosine {cos}");
        let error = distance(&pooled, &want) / between;
        eprintln!("int8 {name}: error {error:.4} of the distance between the two clips' official features");
        assert!(error < 0.1, "{name}: int8 moved the feature {error} of the distance between clips");
        assert!(cos_seq >= 0.999, "{name}: token sequence cosine {cos_seq}");
    }
}

#[test]
fn a_batch_of_clips_gives_each_clip_its_own_features() {
    let model = Marlin::load(&oracle("models/marlin_tiny.encoder.pt"), Some(tiny_config()), 2, Precision::F32).unwrap();
    let batch = model.encoder.extract_features(&[clip("noise"), clip("face"), clip("noise")], false).unwrap();
    for (got, name) in batch.iter().zip(["noise", "face", "noise"]) {
        let (_, want) = read_f32(&oracle(&format!("features/marlin_tiny/{name}.mean.npy")));
        assert!(max_abs_diff(got, &want) <= 2e-5, "{name} in a batch");
    }
}

/// Threads sharing one encoder (Python threads, say) each get their own clips' features: the
/// encoder's buffers are taken before its thread pool is entered, so concurrent forwards wait
/// for each other instead of deadlocking the pool.
#[test]
fn threads_sharing_an_encoder_get_their_own_features() {
    let model = Marlin::load(&oracle("models/marlin_tiny.encoder.pt"), Some(tiny_config()), 2, Precision::F32).unwrap();
    std::thread::scope(|s| {
        for name in ["face", "noise"].repeat(4) {
            let encoder = &model.encoder;
            s.spawn(move || {
                let (_, want) = read_f32(&oracle(&format!("features/marlin_tiny/{name}.mean.npy")));
                for _ in 0..6 {
                    for got in encoder.extract_features(&[clip(name), clip(name)], false).unwrap() {
                        assert!(max_abs_diff(&got, &want) <= 2e-5, "{name}");
                    }
                }
            });
        }
    });
}

/// The AVX-VNNI int8 tile (CPUs without AVX-512; `MARLIN_NO_AVX512` forces it here) gives the
/// AVX512-VNNI tile's features bit for bit: same integer sums, same epilogue arithmetic.
#[test]
fn int8_on_avx_vnni_alone_gives_the_avx512_features() {
    let dir = tempfile::tempdir().unwrap();
    let model = oracle("models/marlin_vit_small_random.encoder.f16.safetensors");
    let clip = oracle("clips/noise.u8.npy");
    let encode = |out: &std::path::Path, env: &[(&str, &str)]| {
        let args = ["encode", "--model", arg(&model), "--clip", arg(&clip)];
        crate::util::marlin(&[&args[..], &["--precision", "int8", "--keep-seq", "-o", arg(out)]].concat(), env)
    };
    let mut features = Vec::new();
    for (name, env) in [("avx512", &[][..]), ("avxvnni", &[("MARLIN_NO_AVX512", "1")][..])] {
        let out = dir.path().join(format!("{name}.npy"));
        let o = encode(&out, env);
        if !o.status.success() {
            // a CPU without one of the two: the refusal names what is missing
            let e = crate::util::stderr(&o);
            assert!(e.contains("precision int8 needs a CPU with AVX512-VNNI or AVX-VNNI"), "{name}: {e}");
            eprintln!("{name}: {e}");
            return;
        }
        features.push(std::fs::read(&out).unwrap());
    }
    assert!(features[0] == features[1], "the two int8 tiles disagree");
}
