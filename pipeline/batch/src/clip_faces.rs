//! Face crops for whole clips, as `extract --crop-face` and `featurize` feed them to the
//! encoder: one face per clip (the followed face, [`FaceCropper`]) or one crop sequence per face
//! track ([`TrackCropper`], `pick: all`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use marlin_faces::FACE_SIZE;
use marlin_faces::{CropOptions, Detection, FaceCrop, FaceCropper, FaceDetector, FrameRef, TrackCropper};
use marlin_media::RgbImage;
use marlin_media::sampling::Clip;

use crate::BatchError;

/// One encoder input: a clip's frames (or one face track's crops of them).
pub struct ClipItem {
    pub clip: usize,
    pub track: Option<u64>,
    pub frames: Vec<Arc<RgbImage>>,
    /// The detections behind the crops; `None` without face cropping.
    pub faces: Option<FaceSummary>,
}

impl ClipItem {
    /// The clip as the encoder takes it: its frames' RGB bytes back to back. Frames that are
    /// not `size`×`size` (uncropped video, or a size change mid-stream) are an error naming
    /// `video`.
    pub fn encoder_input(&self, size: usize, video: &Path) -> Result<Vec<u8>, BatchError> {
        let mut data = Vec::with_capacity(self.frames.len() * size * size * 3);
        for (k, f) in self.frames.iter().enumerate() {
            if (f.width as usize, f.height as usize) != (size, size) {
                let why = match k {
                    0 => format!(
                        "frames are {}x{}, but the encoder takes {size}x{size} face crops: add --crop-face (faces.crop_face)",
                        f.width, f.height
                    ),
                    _ => format!("the frame size changes mid-stream to {}x{}", f.width, f.height),
                };
                return Err(BatchError::Input(format!("{}: {why}", video.display())));
            }
            data.extend_from_slice(&f.data);
        }
        Ok(data)
    }
}

/// What the detector saw in a clip's frames.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaceSummary {
    /// Frames with a detection (of the clip's frames).
    pub detected: usize,
    /// The mean detected box (x1, y1, x2, y2), pixels of the frame.
    pub mean_box: Option<[f32; 4]>,
    /// The mean score of those detections.
    pub mean_score: Option<f32>,
}

impl FaceSummary {
    fn of<'d>(detections: impl Iterator<Item = Option<&'d Detection>>) -> Self {
        let (mut n, mut sum) = (0usize, [0f64; 5]);
        for d in detections.flatten() {
            n += 1;
            for (s, v) in sum.iter_mut().zip([d.x1, d.y1, d.x2, d.y2, d.score]) {
                *s += f64::from(v);
            }
        }
        let mean = |k: usize| (sum[k] / n as f64) as f32;
        match n {
            0 => Self::default(),
            _ => Self { detected: n, mean_box: Some([mean(0), mean(1), mean(2), mean(3)]), mean_score: Some(mean(4)) },
        }
    }
}

/// How a video's frames are cropped, and how many of the frames run through the detector had
/// a face (`counts`: with a face, in all).
pub struct ClipFaces<'a> {
    kind: Kind<'a>,
    pub counts: (u64, u64),
}

/// A frame's crop and its detection.
type Cropped = (Arc<RgbImage>, Option<Detection>);

enum Kind<'a> {
    /// The followed face; `cache` holds the previous clip's crops by frame index, so frames
    /// shared by overlapping windows are cropped once.
    One {
        cropper: FaceCropper<'a>,
        cache: HashMap<u64, Cropped>,
    },
    All(TrackCropper<'a>),
}

fn image(c: FaceCrop) -> Result<Arc<RgbImage>, BatchError> {
    let size = FACE_SIZE as u32;
    Ok(Arc::new(
        RgbImage::new(size, size, c.pixels)
            .ok_or_else(|| BatchError::Internal("face crop of the wrong size".into()))?,
    ))
}

fn log_row(log: &mut Option<String>, counts: &mut (u64, u64), clip: usize, index: u64, c: &FaceCrop) {
    counts.0 += u64::from(c.detection.is_some());
    counts.1 += 1;
    if let Some(log) = log {
        let b = c
            .detection
            .as_ref()
            .map_or_else(|| ",,,,".to_string(), |d| format!("{},{},{},{},{}", d.x1, d.y1, d.x2, d.y2, d.score));
        log.push_str(&format!("{clip},{index},{b},{},{},{}\n", c.crop.cx, c.crop.cy, c.crop.half));
    }
}

impl<'a> ClipFaces<'a> {
    pub fn new(detector: &'a dyn FaceDetector, options: CropOptions, all: bool) -> Self {
        let kind = if all {
            Kind::All(TrackCropper::new(detector, options))
        } else {
            Kind::One { cropper: FaceCropper::new(detector, options), cache: HashMap::new() }
        };
        Self { kind, counts: (0, 0) }
    }

    /// The encoder inputs of one clip; `log` collects `--faces-csv` rows.
    pub fn crop(&mut self, clip: Clip<Arc<RgbImage>>, log: &mut Option<String>) -> Result<Vec<ClipItem>, BatchError> {
        let refs = |ks: &[usize]| -> Vec<FrameRef> {
            ks.iter()
                .map(|&k| {
                    let f = &clip.frames[k];
                    FrameRef { rgb: &f.data, width: f.width as usize, height: f.height as usize }
                })
                .collect()
        };
        let counts = &mut self.counts;
        match &mut self.kind {
            Kind::All(cropper) => {
                let all: Vec<usize> = (0..clip.frames.len()).collect();
                let mut items = Vec::new();
                for (track, crops) in cropper.crop_clip(&refs(&all))? {
                    let faces = FaceSummary::of(crops.iter().map(|c| c.detection.as_ref()));
                    let mut frames = Vec::with_capacity(crops.len());
                    for (c, &index) in crops.into_iter().zip(&clip.frame_indices) {
                        log_row(log, counts, clip.index, index, &c);
                        frames.push(image(c)?);
                    }
                    items.push(ClipItem { clip: clip.index, track: Some(track), frames, faces: Some(faces) });
                }
                Ok(items)
            }
            Kind::One { cropper, cache } => {
                let todo: Vec<usize> =
                    (0..clip.frames.len()).filter(|&k| !cache.contains_key(&clip.frame_indices[k])).collect();
                let mut next = HashMap::new();
                for (&k, c) in todo.iter().zip(cropper.crop_clip(&refs(&todo))?) {
                    log_row(log, counts, clip.index, clip.frame_indices[k], &c);
                    let detection = c.detection.clone();
                    next.insert(clip.frame_indices[k], (image(c)?, detection));
                }
                for &index in &clip.frame_indices {
                    if let Some(f) = cache.get(&index) {
                        next.entry(index).or_insert_with(|| f.clone());
                    }
                }
                let cropped = clip
                    .frame_indices
                    .iter()
                    .map(|i| next.get(i).ok_or_else(|| BatchError::Internal(format!("frame {i} was not cropped"))))
                    .collect::<Result<Vec<_>, _>>()?;
                let faces = FaceSummary::of(cropped.iter().map(|(_, d)| d.as_ref()));
                let frames = cropped.iter().map(|(f, _)| Arc::clone(f)).collect();
                *cache = next;
                Ok(vec![ClipItem { clip: clip.index, track: None, frames, faces: Some(faces) }])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_averages_the_detected_frames_only() {
        let d =
            |x: f32, s: f32| Detection { x1: x, y1: 0.0, x2: x + 10.0, y2: 10.0, score: s, landmarks: [[0.0; 2]; 5] };
        let (a, b) = (d(0.0, 0.9), d(4.0, 0.7));
        let s = FaceSummary::of([Some(&a), None, Some(&b)].into_iter());
        assert_eq!(s.detected, 2);
        assert_eq!(s.mean_box, Some([2.0, 0.0, 12.0, 10.0]));
        assert!((s.mean_score.unwrap() - 0.8).abs() < 1e-6);
        assert_eq!(FaceSummary::of([None].into_iter()), FaceSummary::default());
    }
}
