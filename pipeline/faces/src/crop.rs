//! Square face crops as the official `FaceXZooFaceDetector.crop_face` makes them: centre and
//! half-size from the top detection (Python `int()` of f32 arithmetic), a zero-padded
//! `2·half` square, `cv2.resize` to 224.

use crate::FaceError;
use crate::align::aligned_face;
use crate::retinaface::{Detection, FaceDetector, PixelOrder};
use marlin_kernels::crop::{Square, crop_resize_square, cut_square};
use marlin_kernels::resize::resize_linear;
use marlin_settings::{Bounds, OutOfRange};

use crate::FACE_SIZE;

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

    /// The square in `crop_resize`'s terms.
    pub fn square(&self) -> Square {
        Square { x0: self.cx - self.half, y0: self.cy - self.half, side: (2 * self.half) as usize }
    }

    /// The crop's pixels (zero outside the frame), `2·half` square, packed 3-channel.
    pub fn cut(&self, frame: &[u8], width: usize, height: usize) -> Vec<u8> {
        cut_square(frame, width, height, self.square())
    }

    /// The crop resized to 224×224 as `cv2.resize` (INTER_LINEAR) does.
    pub fn face(&self, frame: &[u8], width: usize, height: usize) -> Vec<u8> {
        crop_resize_square(frame, width, height, self.square(), FACE_SIZE)
    }
}

marlin_settings::named! {
    /// How faces are found and cropped frame to frame.
    pub enum CropMode: "crop mode", default Marlin {
        /// Bit-exact `extract_video(crop_face=True)`: the RGB frame handed to the detector as if
        /// it were BGR (the official code's quirk), the official 2×2 corner crop when no face is
        /// found, no smoothing.
        Compat = "compat",
        /// The official square geometry with the detector fed BGR (what it was trained on), the
        /// box smoothed over time, and the last face kept when a frame has none (MARLIN's own
        /// dataset preprocessing); before any face, the official corner crop.
        Marlin = "marlin",
        /// The face warped so its 5 landmarks land on ArcFace's template scaled to 224;
        /// smoothing and face-less frames as `marlin`.
        Aligned = "aligned",
    }
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
                    landmarks: std::array::from_fn(|k| {
                        [mix(d.landmarks[k][0], s.landmarks[k][0]), mix(d.landmarks[k][1], s.landmarks[k][1])]
                    }),
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

marlin_settings::named! {
    /// Which faces become clips when frames have several.
    pub enum Faces: "face choice", default Largest {
        /// The largest face (the main subject, usually).
        Largest = "largest",
        /// The best-scored face (the official choice: `dets[0]`).
        Score = "score",
        /// Every face: one crop sequence (and one row per clip) per face track; a single
        /// followed face takes the largest.
        All = "all",
    }
}

/// How [`FaceCropper`] works; `Compat` ignores everything but `mode`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropOptions {
    pub mode: CropMode,
    /// Weight of the newest box in the temporal smoothing (1: off).
    pub smooth: f32,
    /// Run the detector on every k-th frame of a clip (and its last); boxes and landmarks of the
    /// frames between are interpolated linearly.
    pub detect_every: usize,
    /// Downscale frames so their longer side is at most this before detecting (boxes are scaled
    /// back).
    pub max_side: Option<usize>,
    /// Faces narrower than this (pixels, full resolution) are ignored.
    pub min_face: f32,
    /// Which face; a single followed face takes the largest for `all`.
    pub pick: Faces,
}

impl CropOptions {
    /// Weight of the newest box in the smoothing: above 0, at most 1 (off).
    pub const SMOOTH: Bounds<f32> = Bounds::above(0.0, 1.0);
    pub const DETECT_EVERY: Bounds<usize> = Bounds::closed(1, 1000);
    /// Pixels of the longer side frames are downscaled to before detecting.
    pub const MAX_SIDE: Bounds<usize> = Bounds::closed(32, 16_384);
    /// Pixels.
    pub const MIN_FACE: Bounds<f32> = Bounds::closed(0.0, 16_384.0);

    /// Refuses values outside their bounds (NaN included), naming the setting.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        Self::SMOOTH.check("smooth", self.smooth)?;
        Self::DETECT_EVERY.check("detect_every", self.detect_every)?;
        if let Some(side) = self.max_side {
            Self::MAX_SIDE.check("max_side", side)?;
        }
        Self::MIN_FACE.check("min_face", self.min_face)?;
        Ok(())
    }
}

impl Default for CropOptions {
    fn default() -> Self {
        Self {
            mode: CropMode::Marlin,
            smooth: 0.5,
            detect_every: 1,
            max_side: None,
            min_face: 0.0,
            pick: Faces::Largest,
        }
    }
}

/// One 8-bit 3-channel frame: `width·height·3` bytes, RGB (a detector is told when they are
/// BGR, [`PixelOrder`](crate::PixelOrder)).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub rgb: &'a [u8],
    pub width: usize,
    pub height: usize,
}

impl<'a> FrameRef<'a> {
    pub fn new(rgb: &'a [u8], width: usize, height: usize) -> Self {
        Self { rgb, width, height }
    }
}

/// Crops faces frame after frame under [`CropOptions`].
pub struct FaceCropper<'a> {
    detector: &'a dyn FaceDetector,
    opts: CropOptions,
    smoother: Smoother,
}

impl<'a> FaceCropper<'a> {
    pub fn new(detector: &'a dyn FaceDetector, opts: CropOptions) -> Self {
        // `Compat` returns before the smoother is ever used.
        Self { detector, opts, smoother: Smoother::new(opts.smooth) }
    }

    /// The face crops of a clip's frames, in order.
    pub fn crop_clip(&mut self, frames: &[FrameRef<'_>]) -> Result<Vec<FaceCrop>, FaceError> {
        if self.opts.mode == CropMode::Compat {
            let found = detect_compat_batch(self.detector, frames)?;
            return Ok(frames.iter().zip(found).map(|(f, dets)| compat_cut(f, dets.into_iter().next())).collect());
        }
        let n = frames.len();
        // Detect on the key frames (together); smooth in order; interpolate the rest.
        let mut faces: Vec<Option<Detection>> = vec![None; n];
        let mut detections: Vec<Option<Detection>> = vec![None; n];
        let keys = key_frames(n, self.opts.detect_every);
        let key_images: Vec<FrameRef<'_>> = keys.iter().map(|&i| frames[i]).collect();
        let found = faces_in_batch(self.detector, &key_images, &self.opts)?;
        for (&i, dets) in keys.iter().zip(found) {
            let d = pick_face(dets, self.opts.pick);
            faces[i] = match &d {
                Some(d) => Some(self.smoother.update(d)),
                None => self.smoother.last().cloned(),
            };
            detections[i] = d;
        }
        interpolate_between_keys(&mut faces, &keys);
        // Between a face and no face (before the first face), the face is held.
        for pair in keys.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if let Some(f) = faces[a].clone().xor(faces[b].clone()) {
                faces[a + 1..b].fill(Some(f));
            }
        }
        Ok(frames
            .iter()
            .zip(faces)
            .zip(detections)
            .map(|((f, face), detection)| cut(self.opts.mode, f, face.as_ref(), detection))
            .collect())
    }

    /// The face crop of one frame (a clip of one).
    pub fn crop(&mut self, frame: FrameRef<'_>) -> Result<FaceCrop, FaceError> {
        Ok(self.crop_clip(&[frame])?.remove(0))
    }
}

/// Crops frames whose faces were found elsewhere (the GStreamer detector element upstream),
/// one frame at a time, under [`FaceCropper`]'s rules: the followed face picked and smoothed,
/// the last face held over face-less frames; `Compat`: the best-scored face or the official
/// corner crop.
pub struct DetectedCropper {
    opts: CropOptions,
    smoother: Smoother,
}

impl DetectedCropper {
    pub fn new(opts: CropOptions) -> Self {
        Self { opts, smoother: Smoother::new(opts.smooth) }
    }

    /// The crop of `f` given its faces, best score first (as the detector orders them).
    pub fn crop(&mut self, f: FrameRef<'_>, faces: &[Detection]) -> FaceCrop {
        if self.opts.mode == CropMode::Compat {
            return compat_cut(&f, faces.first().cloned());
        }
        let detection = pick_face(faces.iter().filter(|d| d.x2 - d.x1 >= self.opts.min_face).cloned(), self.opts.pick);
        let face = match &detection {
            Some(d) => Some(self.smoother.update(d)),
            None => self.smoother.last().cloned(),
        };
        cut(self.opts.mode, &f, face.as_ref(), detection)
    }
}

/// The official crop: the square around the top detection, or the corner crop without one.
fn compat_cut(f: &FrameRef<'_>, detection: Option<Detection>) -> FaceCrop {
    let crop = detection.as_ref().map_or(SquareCrop::NO_FACE, SquareCrop::around);
    FaceCrop { pixels: crop.face(f.rgb, f.width, f.height), crop, detection }
}

/// The official code's detections: the RGB frame handed over as if it were BGR.
pub fn detect_compat(detector: &dyn FaceDetector, f: &FrameRef<'_>) -> Result<Vec<Detection>, FaceError> {
    Ok(detect_compat_batch(detector, std::slice::from_ref(f))?.pop().unwrap_or_default())
}

/// [`detect_compat`] of several frames at once (a clip's), through [`FaceDetector::detect_batch`].
fn detect_compat_batch(detector: &dyn FaceDetector, frames: &[FrameRef<'_>]) -> Result<Vec<Vec<Detection>>, FaceError> {
    detector.detect_batch(frames, PixelOrder::Bgr)
}

/// The face followed among a frame's faces (given best score first).
fn pick_face(faces: impl IntoIterator<Item = Detection>, pick: Faces) -> Option<Detection> {
    let mut faces = faces.into_iter();
    match pick {
        Faces::Score => faces.next(),
        Faces::Largest | Faces::All => {
            faces.max_by(|a, b| ((a.x2 - a.x1) * (a.y2 - a.y1)).total_cmp(&((b.x2 - b.x1) * (b.y2 - b.y1))))
        }
    }
}

/// The crop of `face` in a frame under `mode` (square, or aligned when the landmarks allow).
fn cut(mode: CropMode, f: &FrameRef<'_>, face: Option<&Detection>, detection: Option<Detection>) -> FaceCrop {
    let crop = face.map_or(SquareCrop::NO_FACE, SquareCrop::around);
    let aligned = match (mode, face) {
        (CropMode::Aligned, Some(face)) => aligned_face(f.rgb, f.width, f.height, &face.landmarks),
        _ => None,
    };
    let pixels = aligned.unwrap_or_else(|| crop.face(f.rgb, f.width, f.height));
    FaceCrop { pixels, crop, detection }
}

/// Every face of a clip, followed across clips: one crop sequence per track.
pub struct TrackCropper<'a> {
    detector: &'a dyn FaceDetector,
    opts: CropOptions,
    tracker: crate::tracker::Tracker,
    smoothers: std::collections::HashMap<u64, Smoother>,
    /// Sampled frames seen so far (the tracker's clock).
    clock: u64,
}

impl<'a> TrackCropper<'a> {
    /// `opts.mode` must not be `Compat` (the official code follows one face); `pick` is unused.
    pub fn new(detector: &'a dyn FaceDetector, opts: CropOptions) -> Self {
        Self { detector, opts, tracker: crate::tracker::Tracker::default(), smoothers: Default::default(), clock: 0 }
    }

    /// For each track seen on at least half of the clip's key frames: its id and a crop per
    /// frame (frames between key frames interpolated, frames where the track is missing holding
    /// its nearest face), tracks in id order.
    pub fn crop_clip(&mut self, frames: &[FrameRef<'_>]) -> Result<Vec<(u64, Vec<FaceCrop>)>, FaceError> {
        let n = frames.len();
        let keys = key_frames(n, self.opts.detect_every);
        // track id → face at each key frame (smoothed per track)
        let mut seen: std::collections::BTreeMap<u64, Vec<Option<Detection>>> = Default::default();
        let key_images: Vec<FrameRef<'_>> = keys.iter().map(|&i| frames[i]).collect();
        let found = faces_in_batch(self.detector, &key_images, &self.opts)?;
        for ((ki, &i), dets) in keys.iter().enumerate().zip(found) {
            let ids = self.tracker.update(self.clock + i as u64, &dets);
            for (d, id) in dets.iter().zip(ids) {
                let smooth = self.smoothers.entry(id).or_insert_with(|| Smoother::new(self.opts.smooth)).update(d);
                seen.entry(id).or_insert_with(|| vec![None; keys.len()])[ki] = Some(smooth);
            }
        }
        self.clock += n as u64;
        let mut out = Vec::new();
        for (id, at_keys) in seen {
            if at_keys.iter().filter(|f| f.is_some()).count() * 2 < keys.len() {
                continue;
            }
            let mut faces: Vec<Option<Detection>> = vec![None; n];
            for (ki, &i) in keys.iter().enumerate() {
                faces[i] = at_keys[ki].clone();
            }
            interpolate_between_keys(&mut faces, &keys);
            // Hold the nearest face where the track is missing.
            let present: Vec<usize> = (0..n).filter(|&i| faces[i].is_some()).collect();
            let crops = (0..n)
                .map(|i| {
                    let nearest = present.iter().min_by_key(|&&p| p.abs_diff(i)).and_then(|&p| faces[p].clone());
                    let detection = keys.binary_search(&i).ok().and_then(|ki| at_keys[ki].clone());
                    cut(self.opts.mode, &frames[i], nearest.as_ref(), detection)
                })
                .collect();
            out.push((id, crops));
        }
        self.smoothers.retain(|id, _| out.iter().any(|(t, _)| t == id) || self.tracker.is_active(*id));
        Ok(out)
    }
}

/// Detections of an RGB frame (detector fed BGR), on a copy downscaled so its longer side is at
/// most `max_side` when given; boxes and landmarks scaled back to the frame.
pub fn detect_scaled(
    detector: &dyn FaceDetector,
    f: &FrameRef<'_>,
    max_side: Option<usize>,
) -> Result<Vec<Detection>, FaceError> {
    Ok(detect_scaled_batch(detector, std::slice::from_ref(f), max_side)?.pop().unwrap_or_default())
}

/// A frame downscaled for the detector, and the factors back to the frame.
struct Downscaled {
    rgb: Vec<u8>,
    width: usize,
    height: usize,
    sx: f32,
    sy: f32,
}

/// [`detect_scaled`] of several frames at once (the key frames of a clip), through the
/// detector's [`FaceDetector::detect_batch`].
pub fn detect_scaled_batch(
    detector: &dyn FaceDetector,
    frames: &[FrameRef<'_>],
    max_side: Option<usize>,
) -> Result<Vec<Vec<Detection>>, FaceError> {
    let scaled: Vec<Option<Downscaled>> = frames
        .iter()
        .map(|f| {
            let side = f.width.max(f.height);
            match max_side {
                Some(m) if m > 0 && side > m => {
                    let (w, h) = (
                        ((f.width * m) as f64 / side as f64).round().max(1.0) as usize,
                        ((f.height * m) as f64 / side as f64).round().max(1.0) as usize,
                    );
                    Some(Downscaled {
                        rgb: resize_linear(f.rgb, f.width, f.height, w, h),
                        width: w,
                        height: h,
                        sx: f.width as f32 / w as f32,
                        sy: f.height as f32 / h as f32,
                    })
                }
                _ => None,
            }
        })
        .collect();
    let inputs: Vec<FrameRef<'_>> = frames
        .iter()
        .zip(&scaled)
        .map(|(f, s)| match s {
            Some(d) => FrameRef { rgb: &d.rgb, width: d.width, height: d.height },
            None => *f,
        })
        .collect();
    let found = detector.detect_batch(&inputs, PixelOrder::Rgb)?;
    Ok(found
        .into_iter()
        .zip(&scaled)
        .map(|(dets, s)| match s {
            &Some(Downscaled { sx, sy, .. }) => dets
                .into_iter()
                .map(|d| Detection {
                    x1: d.x1 * sx,
                    y1: d.y1 * sy,
                    x2: d.x2 * sx,
                    y2: d.y2 * sy,
                    score: d.score,
                    landmarks: d.landmarks.map(|[x, y]| [x * sx, y * sy]),
                })
                .collect(),
            None => dets,
        })
        .collect())
}

/// The key frames of a clip of `n` frames: every `every`-th (at least every one) and the last.
fn key_frames(n: usize, every: usize) -> Vec<usize> {
    let every = every.max(1);
    (0..n).filter(|&i| i % every == 0 || i + 1 == n).collect()
}

/// Frames between two key frames that both have a face get the linear interpolation of the two.
fn interpolate_between_keys(faces: &mut [Option<Detection>], keys: &[usize]) {
    for pair in keys.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if let (Some(fa), Some(fb)) = (faces[a].clone(), faces[b].clone()) {
            for (step, slot) in faces[a + 1..b].iter_mut().enumerate() {
                *slot = Some(lerp(&fa, &fb, (step + 1) as f32 / (b - a) as f32));
            }
        }
    }
}

/// The faces of a frame the croppers consider: detected (downscaled per `max_side`), at least
/// `min_face` wide.
pub fn faces_in(
    detector: &dyn FaceDetector,
    f: &FrameRef<'_>,
    opts: &CropOptions,
) -> Result<Vec<Detection>, FaceError> {
    Ok(faces_in_batch(detector, std::slice::from_ref(f), opts)?.pop().unwrap_or_default())
}

/// [`faces_in`] of several frames at once.
fn faces_in_batch(
    detector: &dyn FaceDetector,
    frames: &[FrameRef<'_>],
    opts: &CropOptions,
) -> Result<Vec<Vec<Detection>>, FaceError> {
    Ok(detect_scaled_batch(detector, frames, opts.max_side)?
        .into_iter()
        .map(|dets| dets.into_iter().filter(|d| d.x2 - d.x1 >= opts.min_face).collect())
        .collect())
}

/// `a + t·(b − a)` for box and landmarks.
fn lerp(a: &Detection, b: &Detection, t: f32) -> Detection {
    let m = |x: f32, y: f32| x + t * (y - x);
    Detection {
        x1: m(a.x1, b.x1),
        y1: m(a.y1, b.y1),
        x2: m(a.x2, b.x2),
        y2: m(a.y2, b.y2),
        score: m(a.score, b.score),
        landmarks: std::array::from_fn(|k| {
            [m(a.landmarks[k][0], b.landmarks[k][0]), m(a.landmarks[k][1], b.landmarks[k][1])]
        }),
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
        let d = Detection {
            x1: 214.30986,
            y1: 83.71637,
            x2: 303.1719,
            y2: 200.58118,
            score: 0.99,
            landmarks: [[0.0; 2]; 5],
        };
        // ../shared/oracle/videos/official_face_boxes.csv, video01 call 0: cx 258, cy 142, half 58.
        assert_eq!(SquareCrop::around(&d), SquareCrop { cx: 258, cy: 142, half: 58 });
    }
}
