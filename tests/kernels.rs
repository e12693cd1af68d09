//! The kernels' CPU twins against independent references: `patchify` times the patch
//! embedding's weight equals a direct Conv3d of the oracle clip with the oracle checkpoint.
//! (`crop_resize` is checked against the official crops in `faces`, the masks' rules in the
//! kernels crate.) Without the `cuda` feature, `marlin kernels check` says how to get it.

use marlin_kernels::patchify::{TubeletShape, patchify_rgb8};

use crate::util::{marlin, oracle, read_u8, stderr};

#[test]
fn patchify_then_gemm_is_the_official_conv3d_patch_embedding() {
    let (shape, clip) = read_u8(&oracle("clips/face.u8.npy"));
    assert_eq!(shape, [16, 224, 224, 3]);
    let ckpt = marlin_checkpoint::Checkpoint::load(oracle("models/marlin_tiny.encoder.pt")).unwrap();
    let w = &ckpt.tensors["encoder.patch_embedding.projection.weight"];
    let b = &ckpt.tensors["encoder.patch_embedding.projection.bias"];
    assert_eq!(w.shape, [64, 3, 2, 16, 16]);
    let s = TubeletShape::MARLIN;
    let (pd, d) = (s.patch_dim(), 64);
    let mut patches = vec![0f32; s.tokens() * pd];
    patchify_rgb8(&clip, s, &mut patches);
    let mut worst = 0f64;
    // every 5th token (all positions and time steps are visited), every output channel
    for n in (0..s.tokens()).step_by(5) {
        let (t, y, x) = (n / 196, (n / 14) % 14, n % 14);
        for o in 0..d {
            // Conv3d, stride = kernel = (2, 16, 16), straight from its definition
            let mut conv = b.data[o] as f64;
            for c in 0..3 {
                for kt in 0..2 {
                    for ky in 0..16 {
                        for kx in 0..16 {
                            // the model input is `v / 255` in float32, as torch computes it
                            let v = (clip[(((t * 2 + kt) * 224 + y * 16 + ky) * 224 + x * 16 + kx) * 3 + c] as f32
                                / 255.0) as f64;
                            conv += w.data[(((o * 3 + c) * 2 + kt) * 16 + ky) * 16 + kx] as f64 * v;
                        }
                    }
                }
            }
            let gemm: f64 =
                b.data[o] as f64 + (0..pd).map(|i| patches[n * pd + i] as f64 * w.data[o * pd + i] as f64).sum::<f64>();
            worst = worst.max((gemm - conv).abs());
        }
    }
    assert!(worst < 1e-9, "patch matrix · W differs from the convolution by {worst}");
}

#[test]
fn kernels_check_without_the_cuda_feature_says_how_to_build_it() {
    let o = marlin(&["kernels", "check"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));
}
