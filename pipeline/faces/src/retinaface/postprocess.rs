//! From raw outputs to detections exactly as FaceX-Zoo's `FaceDetModelHandler`: priors over
//! strides 8/16/32 with min sizes [[16,32],[64,128],[256,512]], decoding with variances
//! 0.1/0.2, score > 0.7, and greedy NMS at IoU 0.2 with the `+1` pixel area convention.

use super::net::RawOutput;

const STEPS: [usize; 3] = [8, 16, 32];
const MIN_SIZES: [[f64; 2]; 3] = [[16.0, 32.0], [64.0, 128.0], [256.0, 512.0]];
const VARIANCE: [f32; 2] = [0.1, 0.2];
pub const SCORE_THRESHOLD: f32 = 0.7;
pub const NMS_THRESHOLD: f32 = 0.2;

/// One face: box corners in pixels, score, and the 5 landmarks (eyes, nose, mouth corners).
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

/// Prior boxes `(cx, cy, w, h)` relative to the image, as `PriorBox.forward` makes them (in f64,
/// then stored as f32).
pub fn priors(width: usize, height: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (k, &step) in STEPS.iter().enumerate() {
        let (fh, fw) = (height.div_ceil(step), width.div_ceil(step));
        for i in 0..fh {
            for j in 0..fw {
                for &min in &MIN_SIZES[k] {
                    let cx = (j as f64 + 0.5) * step as f64 / width as f64;
                    let cy = (i as f64 + 0.5) * step as f64 / height as f64;
                    out.push([cx as f32, cy as f32, (min / width as f64) as f32, (min / height as f64) as f32]);
                }
            }
        }
    }
    out
}

/// Decoded, thresholded, NMS-filtered detections, best first.
pub fn detections(raw: &RawOutput, width: usize, height: usize) -> Vec<Detection> {
    let priors = priors(width, height);
    let (w, h) = (width as f32, height as f32);
    let mut cands: Vec<Detection> = Vec::new();
    for (i, p) in priors.iter().enumerate().take(raw.loc.len()) {
        let score = raw.conf[i][1];
        if score <= SCORE_THRESHOLD {
            continue;
        }
        let l = raw.loc[i];
        let cx = p[0] + l[0] * VARIANCE[0] * p[2];
        let cy = p[1] + l[1] * VARIANCE[0] * p[3];
        let bw = p[2] * (l[2] * VARIANCE[1]).exp();
        let bh = p[3] * (l[3] * VARIANCE[1]).exp();
        let (x1, y1) = (cx - bw / 2.0, cy - bh / 2.0);
        let (x2, y2) = (bw + x1, bh + y1);
        let m = raw.landmarks[i];
        let landmarks = std::array::from_fn(|k| {
            [(p[0] + m[2 * k] * VARIANCE[0] * p[2]) * w, (p[1] + m[2 * k + 1] * VARIANCE[0] * p[3]) * h]
        });
        cands.push(Detection { x1: x1 * w, y1: y1 * h, x2: x2 * w, y2: y2 * h, score, landmarks });
    }
    // Descending score (numpy's argsort()[::-1]; equal scores keep no particular order).
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    nms(cands, NMS_THRESHOLD)
}

/// Greedy NMS as `py_cpu_nms`: areas and overlaps with `+1` on each side.
fn nms(sorted: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    let area = |d: &Detection| (d.x2 - d.x1 + 1.0) * (d.y2 - d.y1 + 1.0);
    let mut keep: Vec<Detection> = Vec::new();
    let mut alive = vec![true; sorted.len()];
    for i in 0..sorted.len() {
        if !alive[i] {
            continue;
        }
        let a = &sorted[i];
        for j in i + 1..sorted.len() {
            if !alive[j] {
                continue;
            }
            let b = &sorted[j];
            let iw = (a.x2.min(b.x2) - a.x1.max(b.x1) + 1.0).max(0.0);
            let ih = (a.y2.min(b.y2) - a.y1.max(b.y1) + 1.0).max(0.0);
            let inter = iw * ih;
            if inter / (area(a) + area(b) - inter) > threshold {
                alive[j] = false;
            }
        }
        keep.push(a.clone());
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Detection {
        Detection { x1, y1, x2, y2, score, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn prior_count_and_first_boxes() {
        // 640x480: 80·60·2 + 40·30·2 + 20·15·2 priors.
        let p = priors(640, 480);
        assert_eq!(p.len(), 80 * 60 * 2 + 40 * 30 * 2 + 20 * 15 * 2);
        assert_eq!(p[0], [4.0 / 640.0, 4.0 / 480.0, 16.0 / 640.0, 16.0 / 480.0]);
        assert_eq!(p[1][2], 32.0 / 640.0);
        // Odd sizes round the feature maps up.
        // Feature maps 2x3, 1x2 and 1x1, two priors per cell.
        assert_eq!(priors(17, 9).len(), (6 + 2 + 1) * 2);
    }

    #[test]
    fn nms_uses_the_plus_one_convention() {
        // Two 10x10 boxes (11x11 with +1) overlapping by 3 columns: IoU = 4·11 / (2·121 − 44) =
        // 0.222 > 0.2 with +1, but 3·10 / (200 − 30) = 0.176 without.
        let kept = nms(vec![det(0.0, 0.0, 10.0, 10.0, 0.9), det(7.0, 0.0, 17.0, 10.0, 0.8)], 0.2);
        assert_eq!(kept.len(), 1);
        let kept = nms(vec![det(0.0, 0.0, 10.0, 10.0, 0.9), det(8.0, 0.0, 18.0, 10.0, 0.8)], 0.2);
        assert_eq!(kept.len(), 2);
    }
}
