//! Square face crops as the official `FaceXZooFaceDetector.crop_face` makes them: centre and
//! half-size from the top detection (Python `int()` of f32 arithmetic), a zero-padded
//! `2·half` square, `cv2.resize` to 224.

use crate::FaceError;
use crate::resize::resize_linear;
use crate::retinaface::{Detection, PixelOrder, RetinaFace};
use crate::align::aligned_face;

/// The side of MARLIN's face crops.
pub const FACE_SIZE: usize = 224;

/// A square `[cx−half, cx+half)²` in frame pixels (may reach outside the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SquareCrop {
    pub cx: i64,
    pub cy: i64,
    pub half: i64,
}

impl SquareCrop {
    /// What the official code crops when it finds no face: its default arguments `x = y = 0`,
    /// `margin = 1`, a 2×2 square around the top-left corner.
    pub const NO_FACE: SquareCrop = SquareCrop { cx: 0, cy: 0, half: 1 };

    /// The official geometry: `x, y = int((x1+x2)/2), int((y1+y2)/2)`,
    /// `margin = int(max(|x2−x1|, |y2−y1|)/2)`, in f32 as numpy computes it.
    pub fn around(d: &Detection) -> Self {
        let half = ((d.x2 - d.x1).abs().max((d.y2 - d.y1).abs()) / 2.0) as i64;
        SquareCrop { cx: ((d.x1 + d.x2) / 2.0) as i64, cy: ((d.y1 + d.y2) / 2.0) as i64, half: half.max(1) }
    }

    /// The crop's pixels (zero outside the frame), `2·half` square, packed 3-channel.
    pub fn cut(&self, frame: &[u8], width: usize, height: usize) -> Vec<u8> {
        let side = (2 * self.half) as usize;
        let mut out = vec![0u8; side * side * 3];
        let (x0, y0) = (self.cx - self.half, self.cy - self.half);
        let xs = x0.max(0)..(x0 + side as i64).min(width as i64);
        if xs.is_empty() {
            return out;
        }
        for y in y0.max(0)..(y0 + side as i64).min(height as i64) {
            let src = &frame[(y as usize * width + xs.start as usize) * 3..(y as usize * width + xs.end as usize) * 3];
            let dst = ((y - y0) as usize * side + (xs.start - x0) as usize) * 3;
            out[dst..dst + src.len()].copy_from_slice(src);
        }
        out
    }

    /// The crop resized to 224×224 as `cv2.resize` (INTER_LINEAR) does.
    pub fn face(&self, frame: &[u8], width: usize, height: usize) -> Vec<u8> {
        let side = (2 * self.half) as usize;
        resize_linear(&self.cut(frame, width, height), side, side, FACE_SIZE, FACE_SIZE)
    }
}

/// How faces are found and cropped frame to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropMode {
    /// Bit-exact `extract_video(crop_face=True)`: the RGB frame handed to the detector as if it
    /// were BGR (the official code's quirk), the official 2×2 corner crop when no face is found,
    /// no smoothing.
    Compat,
    /// The same square geometry with the detector fed BGR (what it was trained on), the box
    /// smoothed over time, and the last face kept when a frame has none (MARLIN's own dataset
    /// preprocessing); before any face, the official corner crop.
    #[default]
    Marlin,
    /// The face warped so its 5 landmarks land on ArcFace's template scaled to 224 (see
    /// [`crate::align`]); smoothing and face-less frames as `Marlin`.
    Aligned,
}

/// One frame's crop and what produced it.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    /// 224×224 RGB.
    pub pixels: Vec<u8>,
    /// The square cut (for `Aligned`, the square around the face the warp used).
    pub crop: SquareCrop,
    /// The top detection of this frame, if it had a face (before smoothing).
    pub detection: Option<Detection>,
}

/// Exponential smoothing of one face's box and landmarks across frames; a new face (IoU < 0.3
/// with the smoothed box, e.g. after a cut) restarts it.
#[derive(Debug, Clone)]
pub struct Smoother {
    /// Weight of the newest detection (1: no smoothing).
    alpha: f32,
    state: Option<Detection>,
}

impl Smoother {
    pub fn new(alpha: f32) -> Self {
        Self { alpha: alpha.clamp(0.01, 1.0), state: None }
    }

    /// The smoothed face after seeing `d`.
    pub fn update(&mut self, d: &Detection) -> Detection {
        let a = self.alpha;
        let next = match &self.state {
            Some(s) if crate::tracker::iou(s, d) >= 0.3 => {
                let mix = |new: f32, old: f32| a * new + (1.0 - a) * old;
                Detection {
                    x1: mix(d.x1, s.x1),
                    y1: mix(d.y1, s.y1),
                    x2: mix(d.x2, s.x2),
                    y2: mix(d.y2, s.y2),
                    score: d.score,
                    landmarks: std::array::from_fn(|k| [mix(d.landmarks[k][0], s.landmarks[k][0]), mix(d.landmarks[k][1], s.landmarks[k][1])]),
                }
            }
            _ => d.clone(),
        };
        self.state = Some(next.clone());
        next
    }

    /// The last smoothed face, if any.
    pub fn last(&self) -> Option<&Detection> {
        self.state.as_ref()
    }
}

/// Crops faces frame after frame under a [`CropMode`].
pub struct FaceCropper<'a> {
    detector: &'a RetinaFace,
    mode: CropMode,
    smoother: Smoother,
}

impl<'a> FaceCropper<'a> {
    /// `smooth`: weight of the newest box in the temporal smoothing (1 turns it off; `Compat`
    /// never smooths).
    pub fn new(detector: &'a RetinaFace, mode: CropMode, smooth: f32) -> Self {
        Self { detector, mode, smoother: Smoother::new(if mode == CropMode::Compat { 1.0 } else { smooth }) }
    }

    /// The face crop of one RGB frame (`width·height·3` bytes).
    pub fn crop(&mut self, rgb: &[u8], width: usize, height: usize) -> Result<FaceCrop, FaceError> {
        let order = match self.mode {
            CropMode::Compat => PixelOrder::Bgr,
            CropMode::Marlin | CropMode::Aligned => PixelOrder::Rgb,
        };
        let detection = self.detector.detect(rgb, width, height, order)?.into_iter().next();
        if self.mode == CropMode::Compat {
            let crop = detection.as_ref().map_or(SquareCrop::NO_FACE, SquareCrop::around);
            return Ok(FaceCrop { pixels: crop.face(rgb, width, height), crop, detection });
        }
        let face = match &detection {
            Some(d) => Some(self.smoother.update(d)),
            None => self.smoother.last().cloned(),
        };
        let crop = face.as_ref().map_or(SquareCrop::NO_FACE, SquareCrop::around);
        let aligned = match (self.mode, &face) {
            (CropMode::Aligned, Some(f)) => aligned_face(rgb, width, height, &f.landmarks),
            _ => None,
        };
        let pixels = aligned.unwrap_or_else(|| crop.face(rgb, width, height));
        Ok(FaceCrop { pixels, crop, detection })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_pad_with_zeros_outside_the_frame() {
        // A 4×3 frame whose pixel (x, y) holds x + 10·y + 1 in every channel.
        let (w, h) = (4, 3);
        let frame: Vec<u8> = (0..w * h).flat_map(|i| [((i % w) + 10 * (i / w) + 1) as u8; 3]).collect();
        let c = SquareCrop { cx: 0, cy: 0, half: 1 }.cut(&frame, w, h);
        // [−1, 1)²: only (0, 0) is inside, bottom-right of the 2×2 crop.
        assert_eq!(c.chunks(3).map(|p| p[0]).collect::<Vec<_>>(), vec![0, 0, 0, 1]);
        let c = SquareCrop { cx: 3, cy: 2, half: 2 }.cut(&frame, w, h);
        let vals: Vec<u8> = c.chunks(3).map(|p| p[0]).collect();
        assert_eq!(&vals[..4], &[2, 3, 4, 0]);
        assert_eq!(&vals[4..8], &[12, 13, 14, 0]);
        assert_eq!(&vals[8..], &[22, 23, 24, 0, 0, 0, 0, 0]);
        assert!(SquareCrop { cx: -10, cy: 1, half: 2 }.cut(&frame, w, h).iter().all(|&v| v == 0));
    }

    fn det(x: f32) -> Detection {
        Detection { x1: x, y1: 0.0, x2: x + 100.0, y2: 100.0, score: 0.9, landmarks: [[x + 50.0, 50.0]; 5] }
    }

    #[test]
    fn smoothing_follows_a_face_and_restarts_on_a_new_one() {
        let mut s = Smoother::new(0.5);
        assert_eq!(s.update(&det(0.0)).x1, 0.0);
        // Same face moved by 10: half-way.
        let d = s.update(&det(10.0));
        assert_eq!((d.x1, d.landmarks[0][0]), (5.0, 55.0));
        // Another face far away: taken as is.
        assert_eq!(s.update(&det(500.0)).x1, 500.0);
        // alpha 1: no smoothing.
        let mut s = Smoother::new(1.0);
        s.update(&det(0.0));
        assert_eq!(s.update(&det(10.0)).x1, 10.0);
    }

    #[test]
    fn official_geometry_truncates_like_python_int() {
        let d = Detection { x1: 214.30986, y1: 83.71637, x2: 303.1719, y2: 200.58118, score: 0.99, landmarks: [[0.0; 2]; 5] };
        // ../shared/oracle/videos/official_face_boxes.csv, video01 call 0: cx 258, cy 142, half 58.
        assert_eq!(SquareCrop::around(&d), SquareCrop { cx: 258, cy: 142, half: 58 });
    }
}
