//! Pose-normalised face crops: a similarity transform (rotation, uniform scale, translation)
//! taking the detector's 5 landmarks onto a canonical template, then bilinear sampling.
//!
//! The template is InsightFace's ArcFace 5-point template for 112×112 crops (eyes, nose tip,
//! mouth corners), scaled ×2 to MARLIN's 224×224. The transform is the least-squares similarity
//! (Umeyama's closed form in 2-D).

use marlin_kernels::crop::warp_bilinear;

use crate::FACE_SIZE;

/// ArcFace's template for 112×112, in the detector's landmark order (left eye, right eye,
/// nose, left mouth corner, right mouth corner).
const ARCFACE_112: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// The template scaled to `FACE_SIZE`.
pub fn template() -> [[f32; 2]; 5] {
    let s = FACE_SIZE as f32 / 112.0;
    ARCFACE_112.map(|[x, y]| [x * s, y * s])
}

/// `[a, b, tx, c, d, ty]` mapping a source point to `(a·x + b·y + tx, c·x + d·y + ty)`: the
/// least-squares similarity from `src` to `dst`. `None` when the source points coincide.
pub fn similarity(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<[f64; 6]> {
    let mean = |p: &[[f32; 2]; 5]| {
        let (sx, sy) = p.iter().fold((0.0f64, 0.0f64), |(x, y), q| (x + q[0] as f64, y + q[1] as f64));
        (sx / 5.0, sy / 5.0)
    };
    let ((mx, my), (nx, ny)) = (mean(src), mean(dst));
    let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
    for (a, b) in src.iter().zip(dst) {
        let (ax, ay) = (a[0] as f64 - mx, a[1] as f64 - my);
        let (bx, by) = (b[0] as f64 - nx, b[1] as f64 - ny);
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
        norm += ax * ax + ay * ay;
    }
    if norm < 1e-9 {
        return None;
    }
    let (c, s) = (dot / norm, cross / norm);
    Some([c, -s, nx - (c * mx - s * my), s, c, ny - (s * mx + c * my)])
}

/// The 224×224 aligned face: each output pixel maps back through the inverse transform and is
/// sampled bilinearly (zero outside the frame), rounded to nearest (`crop_resize`'s warp).
pub fn aligned_face(frame: &[u8], width: usize, height: usize, landmarks: &[[f32; 2]; 5]) -> Option<Vec<u8>> {
    let [a, b, tx, c, d, ty] = similarity(landmarks, &template())?;
    let det = a * d - b * c;
    if det.abs() < 1e-12 {
        return None;
    }
    // Inverse of [[a, b], [c, d]], applied to (u − tx, v − ty).
    let (ia, ib, ic, id) = (d / det, -b / det, -c / det, a / det);
    let inverse = [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
    Some(warp_bilinear(frame, width, height, inverse, FACE_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        // src = template rotated by 30°, scaled by 0.5, shifted: the fit must undo it exactly.
        let t = template();
        let (r, s) = (30f64.to_radians(), 0.5);
        let src = t.map(|[x, y]| {
            let (x, y) = (x as f64, y as f64);
            [(s * (r.cos() * x - r.sin() * y) + 40.0) as f32, (s * (r.sin() * x + r.cos() * y) - 7.0) as f32]
        });
        let m = similarity(&src, &t).unwrap();
        for (p, q) in src.iter().zip(&t) {
            let (x, y) = (p[0] as f64, p[1] as f64);
            assert!((m[0] * x + m[1] * y + m[2] - q[0] as f64).abs() < 1e-3);
            assert!((m[3] * x + m[4] * y + m[5] - q[1] as f64).abs() < 1e-3);
        }
        assert!(similarity(&[[1.0, 1.0]; 5], &t).is_none());
    }

    #[test]
    fn a_frame_already_aligned_is_copied() {
        // A 224×224 frame whose landmarks sit on the template: the transform is the identity.
        let frame: Vec<u8> = (0..FACE_SIZE * FACE_SIZE * 3).map(|i| (i * 7 % 251) as u8).collect();
        let out = aligned_face(&frame, FACE_SIZE, FACE_SIZE, &template()).unwrap();
        assert_eq!(out, frame);
    }
}
