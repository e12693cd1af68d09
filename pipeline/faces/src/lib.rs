//! Faces for MARLIN: the official face detector (FaceX-Zoo's RetinaFace) and the crops the official `extract_video(crop_face=True)` makes.

/// The side of MARLIN's face crops.
pub const FACE_SIZE: usize = 224;

pub mod align;
pub mod crop;
pub mod draw;
mod error;
pub mod retinaface;
pub mod tracker;

pub use crop::{
    CropMode, CropOptions, DetectedCropper, FaceCrop, FaceCropper, Faces, FrameRef, Smoother, SquareCrop, TrackCropper,
};
pub use error::FaceError;
pub use retinaface::{Detection, FaceDetector, PixelOrder, RawOutput, RetinaFace};
pub use tracker::Tracker;
