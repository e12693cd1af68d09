//! Loading errors: each names the file and the problem, none panics.

use std::collections::BTreeMap;
use std::path::Path;

use marlin_checkpoint::{Checkpoint, DType, Tensor};
use marlin_model::{Marlin, MarlinConfig, ModelError, Precision};
use safetensors::tensor::{Dtype, TensorView};

use crate::util::oracle;

fn tiny_tensors() -> BTreeMap<String, Tensor> {
    Checkpoint::load(oracle("models/marlin_tiny.encoder.pt")).unwrap().tensors
}

fn tiny_config() -> MarlinConfig {
    MarlinConfig::from_yaml_file(&oracle("marlin_tiny.yaml")).unwrap()
}

/// Writes tensors as safetensors in f32 or bf16.
fn write_safetensors(path: &Path, tensors: &BTreeMap<String, Tensor>, dtype: Dtype) {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b = match dtype {
                Dtype::F32 => t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Dtype::BF16 => t.data.iter().flat_map(|v| half::bf16::from_f32(*v).to_le_bytes()).collect(),
                other => panic!("{other:?}"),
            };
            (k.clone(), b, t.shape.clone())
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        bytes.iter().map(|(k, b, s)| (k.clone(), TensorView::new(dtype, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn load_err(path: &Path, config: Option<MarlinConfig>) -> String {
    match Marlin::load(path, config, 1, Precision::F32) {
        Ok(_) => panic!("{} loaded, expected an error", path.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} does not mention {p:?}");
    }
}

#[test]
fn missing_keys_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("missing.safetensors");
    let mut t = tiny_tensors();
    t.remove("encoder.norm.weight");
    t.remove("encoder.blocks.1.attn.q_bias");
    write_safetensors(&p, &t, Dtype::F32);
    let e = load_err(&p, Some(tiny_config()));
    assert_mentions(
        &e,
        &["missing.safetensors", "missing keys", "encoder.norm.weight", "encoder.blocks.1.attn.q_bias"],
    );
}

#[test]
fn unexpected_keys_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("extra.safetensors");
    let mut t = tiny_tensors();
    let extra = t["encoder.norm.bias"].clone();
    t.insert("encoder.head.bias".into(), extra.clone());
    t.insert("classifier.bias".into(), extra);
    write_safetensors(&p, &t, Dtype::F32);
    let e = load_err(&p, Some(tiny_config()));
    assert_mentions(&e, &["extra.safetensors", "unexpected keys", "encoder.head.bias", "classifier.bias"]);
}

/// A Lightning training checkpoint holds the GAN discriminator beside the model: the official
/// `Marlin.from_file` drops `discriminator.*` from a `.ckpt`, and so do we.
#[test]
fn a_training_checkpoints_discriminator_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("training.safetensors");
    let mut t = tiny_tensors();
    let extra = t["encoder.norm.bias"].clone();
    t.insert("discriminator.layers.0.bias".into(), extra);
    write_safetensors(&p, &t, Dtype::F32);
    let model = Marlin::load(&p, Some(tiny_config()), 1, Precision::F32).unwrap();
    assert_eq!(model.encoder.dim(), 64);
}

#[test]
fn shape_mismatch_names_key_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shape.safetensors");
    let mut t = tiny_tensors();
    t.insert(
        "encoder.blocks.0.attn.proj.weight".into(),
        Tensor { shape: vec![64, 32], stored_as: DType::F32, data: vec![0.0; 64 * 32] },
    );
    write_safetensors(&p, &t, Dtype::F32);
    let e = load_err(&p, Some(tiny_config()));
    assert_mentions(
        &e,
        &["shape.safetensors", "encoder.blocks.0.attn.proj.weight", "expected [64, 64]", "found [64, 32]"],
    );
}

#[test]
fn truncated_files_in_every_format_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["marlin_tiny.encoder.pt", "marlin_tiny.encoder.legacy.pt", "marlin_tiny.hf.safetensors"] {
        let bytes = std::fs::read(oracle(&format!("models/{name}"))).unwrap();
        let p = dir.path().join(format!("cut.{name}"));
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_err(&p, Some(tiny_config()));
        assert_mentions(&e, &[&format!("cut.{name}"), "truncated or corrupt"]);
    }
}

#[test]
fn a_file_that_is_no_checkpoint_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "these are not the weights you are looking for\n").unwrap();
    assert_mentions(&load_err(&p, None), &["notes.txt", "not a checkpoint"]);
    let empty = dir.path().join("empty.pt");
    std::fs::write(&empty, b"").unwrap();
    assert_mentions(&load_err(&empty, None), &["empty.pt", "not a checkpoint", "empty"]);
    let missing = dir.path().join("absent.pt");
    assert_mentions(&load_err(&missing, None), &["absent.pt", "cannot read"]);
}

#[test]
fn a_safetensors_file_of_other_tensors_is_not_marlin() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("resnet.safetensors");
    let mut t = BTreeMap::new();
    t.insert("fc.weight".to_string(), Tensor { shape: vec![2, 2], stored_as: DType::F32, data: vec![1.0; 4] });
    write_safetensors(&p, &t, Dtype::F32);
    assert_mentions(&load_err(&p, None), &["resnet.safetensors", "not a MARLIN checkpoint", "fc.weight"]);
}

#[test]
fn a_config_that_contradicts_the_weights_is_reported() {
    let small = MarlinConfig::preset("vit_small").unwrap();
    let e = load_err(&oracle("models/marlin_tiny.encoder.pt"), Some(small));
    assert_mentions(&e, &["marlin_tiny.encoder.pt", "contradicts", "width 384", "width 64"]);
}

#[test]
fn unknown_architecture_asks_for_a_config() {
    let e = load_err(&oracle("models/marlin_tiny.encoder.pt"), None);
    assert_mentions(&e, &["marlin_tiny.encoder.pt", "width 64 and depth 2", "--model-config"]);
}

#[test]
fn wrong_head_count_in_config_is_a_config_error() {
    let text = std::fs::read_to_string(oracle("marlin_tiny.yaml")).unwrap().replace("num_heads: 4", "num_heads: 3");
    let e = MarlinConfig::from_yaml_str(&text, "heads.yaml").unwrap_err();
    assert!(matches!(e, ModelError::Config { .. }));
    assert_mentions(&e.to_string(), &["heads.yaml", "num_heads 3"]);
}

#[test]
fn bf16_weights_load_upcast() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.bf16.safetensors");
    let t = tiny_tensors();
    write_safetensors(&p, &t, Dtype::BF16);
    let ck = Checkpoint::load(&p).unwrap();
    let w = &ck.tensors["encoder.blocks.0.attn.qkv.weight"];
    assert_eq!(w.stored_as, DType::BF16);
    let orig = &t["encoder.blocks.0.attn.qkv.weight"].data;
    for (a, b) in w.data.iter().zip(orig) {
        assert_eq!(*a, half::bf16::from_f32(*b).to_f32());
    }
    Marlin::load(&p, Some(tiny_config()), 1, Precision::F32).unwrap();
}

#[test]
fn damaged_files_never_panic() {
    // every format, cut at many lengths and with bytes overwritten: an error or (for a damage
    // that leaves the data consistent) a load, never a panic
    let dir = tempfile::tempdir().unwrap();
    for name in ["marlin_tiny.encoder.pt", "marlin_tiny.encoder.legacy.pt", "marlin_tiny.hf.safetensors"] {
        let bytes = std::fs::read(oracle(&format!("models/{name}"))).unwrap();
        let p = dir.path().join(name);
        for i in 1..40 {
            let cut = bytes.len() * i / 40;
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(Checkpoint::load(&p).is_err(), "{name} cut at {cut} loaded");
            let mut damaged = bytes.clone();
            for j in 0..8 {
                let at = (cut + j * 977) % damaged.len();
                damaged[at] = damaged[at].wrapping_mul(31).wrapping_add(7);
            }
            std::fs::write(&p, &damaged).unwrap();
            let _ = Checkpoint::load(&p).map(|ck| Marlin::load(&ck.path, Some(tiny_config()), 1, Precision::F32));
        }
    }
}
