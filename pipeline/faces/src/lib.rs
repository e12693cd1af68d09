//! Faces for MARLIN: the official face detector (FaceX-Zoo's RetinaFace) and the crops the
//! official `extract_video(crop_face=True)` makes.

mod error;
pub mod retinaface;

pub use error::FaceError;
