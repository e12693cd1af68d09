//! The `marlin` binary end to end: encode against the oracle, and bad input reported with the
//! file's name and a non-zero exit, writing nothing.

use std::path::Path;

use crate::util::{arg, marlin, max_abs_diff, oracle, read_f32, stderr};

/// `marlin encode` of `clip` with a tiny oracle checkpoint layout, plus `extra` flags.
fn encode_tiny(layout: &str, clip: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let model = oracle(&format!("models/marlin_tiny.{layout}"));
    let config = oracle("marlin_tiny.yaml");
    let mut args =
        vec!["encode", "--model", arg(&model), "--model-config", arg(&config), "--clip", arg(clip), "-o", arg(out)];
    args.extend_from_slice(extra);
    marlin(&args, &[])
}

#[test]
fn encode_reproduces_the_oracle_features() {
    let dir = tempfile::tempdir().unwrap();
    let clip = oracle("clips/face.u8.npy");
    for (flags, want, shape) in
        [(&[][..], "face.mean.npy", vec![64]), (&["--keep-seq"][..], "face.seq.npy", vec![1568, 64])]
    {
        let out = dir.path().join(format!("out{}.npy", flags.len()));
        let o = encode_tiny("encoder.pt", &clip, &out, flags);
        assert!(o.status.success(), "{}", stderr(&o));
        let (s, got) = read_f32(&out);
        assert_eq!(s, shape);
        let (_, want) = read_f32(&oracle(&format!("features/marlin_tiny/{want}")));
        assert!(max_abs_diff(&got, &want) <= 2e-5);
    }
}

#[test]
fn the_portable_path_without_avx512_also_matches_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.npy");
    let model = oracle("models/marlin_vit_small_random.encoder.f16.safetensors");
    let clip = oracle("clips/noise.u8.npy");
    let o = marlin(
        &["encode", "--model", arg(&model), "--clip", arg(&clip), "--keep-seq", "-o", arg(&out)],
        &[("MARLIN_NO_AVX512", "1")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, got) = read_f32(&out);
    let (_, want) = read_f32(&oracle("features/marlin_vit_small_random/noise.seq.npy"));
    let d = max_abs_diff(&got, &want);
    assert!(d <= 1e-4, "portable path: max-abs {d}");
}

#[test]
fn encode_accepts_a_float_channels_first_clip() {
    let dir = tempfile::tempdir().unwrap();
    let a = marlin_npy::read(oracle("clips/noise.u8.npy")).unwrap();
    let marlin_npy::Data::U8(rgb) = a.data else { panic!("uint8 expected") };
    let chw = marlin_model::rgb8_to_channels_first(&rgb, 16, 224, 224);
    let clip = dir.path().join("noise.f32.npy");
    marlin_npy::write_f32(&clip, &[1, 3, 16, 224, 224], &chw).unwrap();
    let out = dir.path().join("f.npy");
    let o = encode_tiny("hf.safetensors", &clip, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, got) = read_f32(&out);
    let (_, want) = read_f32(&oracle("features/marlin_tiny/noise.mean.npy"));
    assert!(max_abs_diff(&got, &want) <= 2e-5);
}

#[test]
fn a_clip_of_the_wrong_shape_is_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("small_clip.npy");
    std::fs::write(&clip, marlin_npy::encode_u8(&[8, 112, 112, 3], &vec![0u8; 8 * 112 * 112 * 3])).unwrap();
    let out = dir.path().join("never.npy");
    let o = encode_tiny("encoder.pt", &clip, &out, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("small_clip.npy") && e.contains("[8, 112, 112, 3]") && e.contains("(16,224,224,3)"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_released_name_that_is_not_downloaded_says_how_to_fetch_it() {
    let cache = tempfile::tempdir().unwrap();
    let o = marlin(
        &["encode", "--model", "vit_base_ytf", "--clip", "x.npy", "-o", "y.npy"],
        &[("MARLIN_CACHE_DIR", cache.path().to_str().unwrap())],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("marlin models fetch vit_base_ytf"), "{}", stderr(&o));
    let o = marlin(&["encode", "--model", "no/such/file.pt", "--clip", "x.npy", "-o", "y.npy"], &[]);
    assert!(stderr(&o).contains("no/such/file.pt: no such checkpoint file"), "{}", stderr(&o));
}

#[test]
fn config_keeps_working_under_its_old_name_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.npy");
    let (model, config, clip) =
        (oracle("models/marlin_tiny.encoder.pt"), oracle("marlin_tiny.yaml"), oracle("clips/face.u8.npy"));
    let o = marlin(
        &["encode", "--model", arg(&model), "--config", arg(&config)]
            .into_iter()
            .chain(["--clip", arg(&clip), "-o", arg(&out)])
            .collect::<Vec<_>>(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: --config here is the model YAML: it is now --model-config"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_model_config_given_as_featurize_settings_names_the_flag_meant() {
    let dir = tempfile::tempdir().unwrap();
    let model = oracle("models/marlin_tiny.encoder.pt");
    let o = marlin(
        &[
            "featurize",
            crate::util::media("marlin/cropped05.mp4").to_str().unwrap(),
            "--model",
            arg(&model),
            "--settings",
            oracle("marlin_tiny.yaml").to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("marlin_tiny.yaml") && e.contains("MARLIN model config") && e.contains("--model-config"), "{e}");
}

/// A mistyped flag is a fatal error (exit 1), never the "some videos failed" of featurize's
/// exit 2 that batch recipes act on; `--help` still exits 0.
#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let o = marlin(&["featurize", "videos", "--out", "x", "--no-such-flag"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--no-such-flag"), "{}", stderr(&o));
    let o = marlin(&["featurize", "--help"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
