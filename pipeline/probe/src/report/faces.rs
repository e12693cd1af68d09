//! Face thumbnails of a video's clips: the middle frame of each clip, cropped to the clip's mean
//! face box as clips.csv records it (the centre square without one: featurize without face
//! cropping takes whole frames), 224², written as JPEG. A video's clips come from one decoding
//! pass; videos are spread over a few threads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use marlin_faces::FACE_SIZE;
use marlin_faces::{Detection, SquareCrop};
use marlin_media::{DecodeOptions, FrameWriter, RgbImage, VideoReader};

use crate::ClipSource;

/// One thumbnail to make: the clip and the file to write.
pub struct Thumbnail {
    pub source: ClipSource,
    pub file: PathBuf,
}

/// At most this many videos are decoded at once (each decoder has threads of its own).
const MAX_THREADS: usize = 4;

/// Writes the thumbnails of each video (one list per video, all of one file); returns for each
/// thumbnail nothing or why it could not be made.
pub fn write_all(videos: Vec<Vec<Thumbnail>>) -> Vec<Vec<Result<(), String>>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Vec<Result<(), String>>>> = videos.iter().map(|_| Mutex::new(Vec::new())).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS).min(videos.len());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(thumbs) = videos.get(k) else { break };
                    let done = write_video(thumbs);
                    if let Ok(mut slot) = results[k].lock() {
                        *slot = done;
                    }
                }
            });
        }
    });
    results.into_iter().map(|m| m.into_inner().unwrap_or_default()).collect()
}

/// The thumbnails of one video, in one pass over its frames.
fn write_video(thumbs: &[Thumbnail]) -> Vec<Result<(), String>> {
    let targets: Vec<u64> = thumbs.iter().map(|t| (t.source.first_frame + t.source.last_frame) / 2).collect();
    let mut out: Vec<Option<Result<(), String>>> = thumbs.iter().map(|_| None).collect();
    let Some(path) = thumbs.first().map(|t| Path::new(&t.source.path)) else { return Vec::new() };
    let pass = (|| -> Result<(), String> {
        let mut reader = VideoReader::open(path, DecodeOptions::default()).map_err(|e| e.to_string())?;
        let last = targets.iter().copied().max().unwrap_or(0);
        while reader.frames_decoded() <= last {
            let index = reader.frames_decoded();
            let wanted = targets.contains(&index);
            let Some(frame) = reader.next_frame(wanted).map_err(|e| e.to_string())? else { break };
            if !wanted {
                continue;
            }
            let Some(image) = frame.image else { return Err(format!("frame {index} came without pixels")) };
            for (k, t) in thumbs.iter().enumerate() {
                if targets[k] == index {
                    out[k] = Some(write_face(&image, &t.source, &t.file));
                }
            }
        }
        Ok(())
    })();
    out.into_iter()
        .zip(&targets)
        .map(|(done, target)| match (done, &pass) {
            (Some(done), _) => done,
            (None, Err(e)) => Err(e.clone()),
            (None, Ok(())) => Err(format!("the video ends before frame {target}")),
        })
        .collect()
}

/// The clip's face (or centre square) in `image`, 224², as a JPEG at `file`.
fn write_face(image: &RgbImage, source: &ClipSource, file: &Path) -> Result<(), String> {
    let (w, h) = (image.width as usize, image.height as usize);
    let square = match source.face {
        Some([x1, y1, x2, y2]) => {
            SquareCrop::around(&Detection { x1, y1, x2, y2, score: 1.0, landmarks: [[0.0; 2]; 5] })
        }
        None => SquareCrop { cx: (w / 2) as i64, cy: (h / 2) as i64, half: (w.min(h) / 2).max(1) as i64 },
    };
    let face = RgbImage::new(FACE_SIZE as u32, FACE_SIZE as u32, square.face(&image.data, w, h))
        .ok_or("the crop has the wrong size")?;
    let mut writer = FrameWriter::create(file, face.width, face.height, (1, 1)).map_err(|e| e.to_string())?;
    writer.push(&face).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
