//! Faces in an image or in every frame of a video: FaceX-Zoo's RetinaFace on each frame (RGB
//! handed over as RGB), faces narrower than a minimum dropped, track ids linking a face across
//! frames. `marlin detect` and the Python module's `detect` call this.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use marlin_faces::{Detection, FaceDetector, FrameRef, PixelOrder, Tracker};
use marlin_media::{DecodeOptions, RgbImage, VideoReader};

use crate::BatchError;

/// One frame's faces, best first, with their track ids.
pub struct FrameFaces<'a> {
    /// The frame's index (0 for an image).
    pub index: u64,
    pub image: &'a RgbImage,
    pub faces: Vec<Detection>,
    pub tracks: Vec<u64>,
    /// The stream's nominal frame rate (numerator, denominator); (1, 1) for an image.
    pub rate: (i32, i32),
}

/// Whether `path` names a still image (by its extension).
pub fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "bmp" | "tif" | "tiff" | "webp")
}

/// Detects the faces of `input` (an image, or every frame of a video decoded with `decode`),
/// ignoring faces narrower than `min_size` pixels, and hands each frame to `each`. Returns the
/// number of frames. Setting `cancel` stops it between frames ([`BatchError::Cancelled`]).
pub fn detect_faces(
    input: &Path,
    detector: &dyn FaceDetector,
    decode: DecodeOptions,
    min_size: f32,
    cancel: &AtomicBool,
    mut each: impl FnMut(FrameFaces<'_>) -> Result<(), BatchError>,
) -> Result<u64, BatchError> {
    marlin_faces::CropOptions::MIN_FACE.check("min_size", min_size)?;
    let mut tracker = Tracker::default();
    let mut frame = |index: u64, image: &RgbImage, rate: (i32, i32)| -> Result<(), BatchError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(BatchError::Cancelled);
        }
        let faces: Vec<Detection> = detector
            .detect(FrameRef::new(&image.data, image.width as usize, image.height as usize), PixelOrder::Rgb)?
            .into_iter()
            .filter(|d| d.x2 - d.x1 >= min_size)
            .collect();
        let tracks = tracker.update(index, &faces);
        each(FrameFaces { index, image, faces, tracks, rate })
    };
    if is_image(input) {
        frame(0, &marlin_media::read_image(input)?, (1, 1))?;
        return Ok(1);
    }
    let mut reader = VideoReader::open(input, decode)?;
    let mut frames = 0;
    let mut rate = None;
    while let Some(f) = reader.next_frame(true)? {
        if let Some(image) = &f.image {
            // known once the first frame has negotiated the caps; the same for the stream
            let rate = *rate.get_or_insert_with(|| reader.frame_rate());
            frame(f.index, image, rate)?;
            frames += 1;
        }
    }
    Ok(frames)
}
