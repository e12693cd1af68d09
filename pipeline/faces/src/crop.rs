//! Square face crops as the official `FaceXZooFaceDetector.crop_face` makes them: centre and
//! half-size from the top detection (Python `int()` of f32 arithmetic), a zero-padded
//! `2·half` square, `cv2.resize` to 224.

use crate::resize::resize_linear;
use crate::retinaface::{Detection, PixelOrder, RetinaFace};
use crate::FaceError;

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
    /// were BGR (the official code's quirk), the official 2×2 corner crop when no face is found.
    Compat,
    /// The same geometry with the detector fed BGR (what it was trained on), and the previous
    /// frame's crop carried over when a frame has no face (MARLIN's own dataset preprocessing);
    /// before any face, the official no-face crop.
    #[default]
    Marlin,
}

/// One frame's crop and what produced it.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    /// 224×224 RGB.
    pub pixels: Vec<u8>,
    pub crop: SquareCrop,
    /// The top detection, if the frame had a face.
    pub detection: Option<Detection>,
}

/// Crops faces frame after frame under a [`CropMode`].
pub struct FaceCropper<'a> {
    detector: &'a RetinaFace,
    mode: CropMode,
    previous: Option<SquareCrop>,
}

impl<'a> FaceCropper<'a> {
    pub fn new(detector: &'a RetinaFace, mode: CropMode) -> Self {
        Self { detector, mode, previous: None }
    }

    /// The face crop of one RGB frame (`width·height·3` bytes).
    pub fn crop(&mut self, rgb: &[u8], width: usize, height: usize) -> Result<FaceCrop, FaceError> {
        let order = match self.mode {
            CropMode::Compat => PixelOrder::Bgr,
            CropMode::Marlin => PixelOrder::Rgb,
        };
        let detection = self.detector.detect(rgb, width, height, order)?.into_iter().next();
        let crop = match (&detection, self.mode) {
            (Some(d), _) => SquareCrop::around(d),
            (None, CropMode::Compat) => SquareCrop::NO_FACE,
            (None, CropMode::Marlin) => self.previous.unwrap_or(SquareCrop::NO_FACE),
        };
        if detection.is_some() {
            self.previous = Some(crop);
        }
        Ok(FaceCrop { pixels: crop.face(rgb, width, height), crop, detection })
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

    #[test]
    fn official_geometry_truncates_like_python_int() {
        let d = Detection { x1: 214.30986, y1: 83.71637, x2: 303.1719, y2: 200.58118, score: 0.99, landmarks: [[0.0; 2]; 5] };
        // ../shared/oracle/videos/official_face_boxes.csv, video01 call 0: cx 258, cy 142, half 58.
        assert_eq!(SquareCrop::around(&d), SquareCrop { cx: 258, cy: 142, half: 58 });
    }
}
