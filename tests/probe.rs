//! `marlin probe train|import|score` on featurize outputs: a probe trained, saved and used,
//! a PyTorch-style linear head imported, features of another checkpoint refused.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::browser::Browser;
use crate::report::check_report;
use crate::util::{arg, marlin, media, oracle, stderr};

/// Featurises the four face-crop videos (two labelled real, two fake) with `model`.
fn featurize(dir: &Path, model: &str) -> std::path::PathBuf {
    let list = dir.join(format!("{model}.csv"));
    let mut text = String::from("path,video_id,label\n");
    for (k, n) in ["cropped01", "cropped02", "cropped04", "cropped05"].iter().enumerate() {
        text.push_str(&format!(
            "{},{n},{}\n",
            media(&format!("marlin/{n}.mp4")).display(),
            if k % 2 == 0 { "real" } else { "fake" }
        ));
    }
    std::fs::write(&list, text).unwrap();
    let out = dir.join(format!("feats-{model}"));
    let m = oracle(&format!("models/{model}"));
    let cfg = oracle("marlin_tiny.yaml");
    let o = marlin(
        &["featurize", arg(&list), "--model", arg(&m), "--model-config", arg(&cfg), "--out", arg(&out), "--quiet"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// `marlin probe score --probe PROBE --features FEATURES FLAGS`.
fn score(probe: &Path, features: &Path, flags: &[&str]) -> std::process::Output {
    marlin(&[&["probe", "score", "--probe", arg(probe), "--features", arg(features)][..], flags].concat(), &[])
}

fn csv_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(String::from).collect()
}

#[test]
fn train_score_import_and_refuse_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let feats = featurize(dir.path(), "marlin_tiny.encoder.pt");
    let probe = dir.path().join("probe.json");
    let o = marlin(&["probe", "train", "--features", arg(&feats), "--val-fraction", "0", "-o", arg(&probe)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&probe).unwrap()).unwrap();
    assert_eq!(p["model"]["dim"], 64);
    assert_eq!(p["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!((p["positive"].as_str(), p["negative"].as_str()), (Some("fake"), Some("real")));

    let scored = dir.path().join("scored");
    let o = score(&probe, &feats, &["--video-score", "top2", "--out", arg(&scored)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let videos = csv_lines(&scored.join("scores.csv"));
    assert_eq!(videos[0], "video_id,clips,score,label,truth,path");
    assert_eq!(videos.len(), 5);
    // four videos, separable by a 64-D probe trained on them: each gets its own label back
    for line in &videos[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[3], f[4], "{line}");
    }
    let clips = csv_lines(&scored.join("clip_scores.csv"));
    let scored_by_trained = dir.path().join("trained_scores.csv");
    let o = score(&probe, &feats, &["--out", arg(&dir.path().join("mean"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::copy(dir.path().join("mean/scores.csv"), &scored_by_trained).unwrap();
    assert_eq!(
        clips.len() - 1,
        videos[1..].iter().map(|l| l.split(',').nth(1).unwrap().parse::<usize>().unwrap()).sum::<usize>()
    );

    // a head saved as a single Linear (fc.weight (1, 64), fc.bias) of the same model
    let head = dir.path().join("head.safetensors");
    let w: Vec<u8> = (0..64).flat_map(|i| (if i == 0 { 1.0f32 } else { 0.0 }).to_le_bytes()).collect();
    let b: Vec<u8> = 0.5f32.to_le_bytes().to_vec();
    let views = vec![
        ("fc.weight".to_string(), TensorView::new(Dtype::F32, vec![1, 64], &w).unwrap()),
        ("fc.bias".to_string(), TensorView::new(Dtype::F32, vec![1], &b).unwrap()),
    ];
    safetensors::serialize_to_file(views, None, &head).unwrap();
    let imported = dir.path().join("imported.json");
    let m = oracle("models/marlin_tiny.encoder.pt");
    let cfg = oracle("marlin_tiny.yaml");
    let o = marlin(
        &["probe", "import", arg(&head), "--model", arg(&m), "--model-config", arg(&cfg), "-o", arg(&imported)],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = score(&imported, &feats, &["--out", arg(&scored)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // σ(x₀ + 0.5) of the video mean of feature 0, for the first video
    let feats_npy = crate::util::read_f32(&feats.join("features.npy"));
    let rows: Vec<usize> = csv_lines(&feats.join("clips.csv"))[1..]
        .iter()
        .enumerate()
        .filter(|(_, l)| l.split(',').nth(1) == Some("cropped01"))
        .map(|(r, _)| r)
        .collect();
    let x0: f64 = rows.iter().map(|r| feats_npy.1[r * 64] as f64).sum::<f64>() / rows.len() as f64;
    let want = 1.0 / (1.0 + (-(x0 + 0.5)).exp());
    let row = csv_lines(&scored.join("scores.csv")).into_iter().find(|l| l.starts_with("cropped01,")).unwrap();
    let got: f64 = row.split(',').nth(2).unwrap().parse().unwrap();
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");

    // screen = featurize + score, in one command; refused up front for another checkpoint
    let list = dir.path().join("marlin_tiny.encoder.pt.csv");
    let screened = dir.path().join("screened");
    let screen = |model: &str, out: &Path| {
        let m = oracle(&format!("models/{model}"));
        marlin(
            &[
                "screen",
                arg(&list),
                "--probe",
                arg(&probe),
                "--model",
                arg(&m),
                "--model-config",
                arg(&cfg),
                "--out",
                arg(out),
                "--quiet",
            ],
            &[],
        )
    };
    let o = screen("marlin_tiny.encoder.pt", &screened);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(csv_lines(&screened.join("scores.csv")), csv_lines(&scored_by_trained));
    // the report of the screening, in a browser: every chart and face renders, the table is
    // scores.csv, a card per flagged video with a bar per clip; a lost picture is said so
    let flagged =
        csv_lines(&screened.join("scores.csv")).iter().filter(|l| l.split(',').nth(3) == Some("fake")).count();
    assert!(flagged > 0);
    let mut browser = Browser::launch(1280, 900);
    assert_eq!(check_report(&mut browser, &screened), flagged);
    std::fs::remove_file(screened.join("report/faces/0-0.jpg")).unwrap();
    browser.open(&screened.join("report/index.html"));
    browser.wait_for("!document.getElementById('missing-images').hidden", "the page says a picture is missing");
    let refused = dir.path().join("refused");
    let o = screen("marlin_tiny.encoder.legacy.pt", &refused);
    assert!(stderr(&o).contains("this probe was trained on features of"), "{}", stderr(&o));
    assert!(!refused.exists(), "nothing featurised for a probe that cannot score it");

    // the same weights in another file: another checkpoint, refused
    let other = featurize(dir.path(), "marlin_tiny.encoder.legacy.pt");
    let o = score(&probe, &other, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("this probe was trained on features of"), "{}", stderr(&o));
}
