//! `marlin reconstruct`: the official `Marlin.forward(x, mask)` through the command, its
//! pictures, and its errors.

use crate::util::{arg, marlin, max_abs_diff, media, oracle, read_f32, stderr};

fn tiny(args: &[&str]) -> std::process::Output {
    let model = oracle("models/marlin_tiny.full.pt");
    let config = oracle("marlin_tiny.yaml");
    let mut all = vec!["reconstruct", "--model", arg(&model), "--model-config", arg(&config)];
    all.extend_from_slice(args);
    marlin(&all, &[])
}

#[test]
fn the_official_mask_gives_the_official_reconstruction() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recon.npy");
    let o = tiny(&[
        oracle("clips/face.u8.npy").to_str().unwrap(),
        "--mask-file",
        oracle("reconstruction/mask.npy").to_str().unwrap(),
        "-o",
        arg(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.contains("masked-token MSE") && printed.contains("156 of 1568 tokens visible"), "{printed}");
    let (shape, got) = read_f32(&out);
    let (want_shape, want) = read_f32(&oracle("reconstruction/recon_video.npy"));
    assert_eq!(shape, want_shape);
    let diff = max_abs_diff(&got, &want);
    assert!(diff < 2e-5, "max-abs {diff}");
}

#[test]
fn a_video_gives_a_grid_and_a_side_by_side_video() {
    let dir = tempfile::tempdir().unwrap();
    let video = media("marlin/cropped01.mp4");
    for (name, mask) in [("grid.png", "tube"), ("views.mp4", "frame")] {
        let out = dir.path().join(name);
        let o = tiny(&[arg(&video), "--mask", mask, "--max-clips", "2", "--seed", "3", "-o", arg(&out)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).matches("masked-token MSE").count(), 2);
        let bytes = std::fs::read(&out).unwrap();
        if name.ends_with(".png") {
            assert_eq!(&bytes[1..4], b"PNG");
            // IHDR: width, height (2 clips of 3 rows of 224 + strips)
            let (w, h) = (
                u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
                u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
            );
            assert!(w > 16 * 224 && h > 2 * 3 * 224, "{w}x{h}");
        } else {
            assert_eq!(&bytes[4..8], b"ftyp");
        }
    }
}

#[test]
fn errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.npy");
    let clip = oracle("clips/face.u8.npy");
    let encoder_only = oracle("models/marlin_tiny.encoder.pt");
    let config = oracle("marlin_tiny.yaml");
    let o = marlin(
        &["reconstruct", arg(&clip), "--model", arg(&encoder_only), "--model-config", arg(&config), "-o", arg(&out)],
        &[],
    );
    assert!(stderr(&o).contains("this checkpoint has no decoder: use the .full.pt"), "{}", stderr(&o));
    let o = tiny(&[arg(&clip), "--mask", "fasking", "-o", arg(&out)]);
    assert!(stderr(&o).contains("--parsing"), "{}", stderr(&o));
    let o = tiny(&[arg(&clip), "--mask", "fasking", "--parsing", arg(&clip), "-o", arg(&out)]);
    assert!(stderr(&o).contains("expected a uint8 array of shape"), "{}", stderr(&o));
    let o = tiny(&[arg(&clip), "-o", dir.path().join("r.txt").to_str().unwrap()]);
    assert!(stderr(&o).contains(".npy, .png or .mp4"), "{}", stderr(&o));
    assert!(!out.exists());
}
