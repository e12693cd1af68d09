//! Face crops for whole clips, as `extract --crop-face` feeds them to the encoder: one face per
//! clip (the followed face, [`FaceCropper`]) or one crop sequence per face track
//! ([`TrackCropper`], `--faces all`).

use std::collections::HashMap;
use std::sync::Arc;

use marlin_faces::crop::FACE_SIZE;
use marlin_faces::{CropOptions, FaceCrop, FaceCropper, FrameRef, RetinaFace, TrackCropper};
use marlin_media::RgbImage;
use marlin_media::sampling::Clip;

/// One encoder input: a clip's frames (or one face track's crops of them).
pub struct ClipItem {
    pub clip: usize,
    pub track: Option<u64>,
    pub frames: Vec<Arc<RgbImage>>,
}

/// How a video's frames are cropped, and how many of the frames run through the detector had
/// a face (`counts`: with a face, in all).
pub struct ClipFaces<'a> {
    kind: Kind<'a>,
    pub counts: (u64, u64),
}

enum Kind<'a> {
    /// The followed face; `cache` holds the previous clip's crops by frame index, so frames
    /// shared by overlapping windows are cropped once.
    One { cropper: FaceCropper<'a>, cache: HashMap<u64, Arc<RgbImage>> },
    All(TrackCropper<'a>),
}

fn image(c: FaceCrop) -> anyhow::Result<Arc<RgbImage>> {
    let size = FACE_SIZE as u32;
    Ok(Arc::new(RgbImage::new(size, size, c.pixels).ok_or_else(|| anyhow::anyhow!("face crop of the wrong size"))?))
}

fn log_row(log: &mut Option<String>, counts: &mut (u64, u64), clip: usize, index: u64, c: &FaceCrop) {
    counts.0 += u64::from(c.detection.is_some());
    counts.1 += 1;
    if let Some(log) = log {
        let b = c.detection.as_ref().map_or_else(|| ",,,,".to_string(), |d| format!("{},{},{},{},{}", d.x1, d.y1, d.x2, d.y2, d.score));
        log.push_str(&format!("{clip},{index},{b},{},{},{}\n", c.crop.cx, c.crop.cy, c.crop.half));
    }
}

impl<'a> ClipFaces<'a> {
    pub fn new(detector: &'a RetinaFace, options: CropOptions, all: bool) -> Self {
        let kind = if all { Kind::All(TrackCropper::new(detector, options)) } else { Kind::One { cropper: FaceCropper::new(detector, options), cache: HashMap::new() } };
        Self { kind, counts: (0, 0) }
    }

    /// The encoder inputs of one clip; `log` collects `--faces-csv` rows.
    pub fn crop(&mut self, clip: Clip<Arc<RgbImage>>, log: &mut Option<String>) -> anyhow::Result<Vec<ClipItem>> {
        let refs = |ks: &[usize]| -> Vec<FrameRef> {
            ks.iter().map(|&k| {
                let f = &clip.frames[k];
                FrameRef { rgb: &f.data, width: f.width as usize, height: f.height as usize }
            }).collect()
        };
        let counts = &mut self.counts;
        match &mut self.kind {
            Kind::All(cropper) => {
                let all: Vec<usize> = (0..clip.frames.len()).collect();
                let mut items = Vec::new();
                for (track, crops) in cropper.crop_clip(&refs(&all))? {
                    let mut frames = Vec::with_capacity(crops.len());
                    for (c, &index) in crops.into_iter().zip(&clip.frame_indices) {
                        log_row(log, counts, clip.index, index, &c);
                        frames.push(image(c)?);
                    }
                    items.push(ClipItem { clip: clip.index, track: Some(track), frames });
                }
                Ok(items)
            }
            Kind::One { cropper, cache } => {
                let todo: Vec<usize> = (0..clip.frames.len()).filter(|&k| !cache.contains_key(&clip.frame_indices[k])).collect();
                let mut next = HashMap::new();
                for (&k, c) in todo.iter().zip(cropper.crop_clip(&refs(&todo))?) {
                    log_row(log, counts, clip.index, clip.frame_indices[k], &c);
                    next.insert(clip.frame_indices[k], image(c)?);
                }
                for &index in &clip.frame_indices {
                    if let Some(f) = cache.get(&index) {
                        next.entry(index).or_insert_with(|| Arc::clone(f));
                    }
                }
                let frames = clip.frame_indices.iter().map(|i| next.get(i).cloned().ok_or_else(|| anyhow::anyhow!("frame {i} was not cropped"))).collect::<anyhow::Result<_>>()?;
                *cache = next;
                Ok(vec![ClipItem { clip: clip.index, track: None, frames }])
            }
        }
    }
}
