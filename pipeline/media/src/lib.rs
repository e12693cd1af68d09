//! Video in for MARLIN: decode any video GStreamer can open ([`VideoReader`]), turn the
//! decoder's pictures into RGB exactly as the official code's OpenCV/PyAV frames
//! ([`colour`]), and cut them into clips by MARLIN's rule ([`sampling`]).

mod clips;
pub mod colour;
mod container;
mod decode;
mod decoder_choice;
mod encode;
mod error;
mod image;
mod orientation;
pub mod sampling;
mod still;
mod swscale;

pub use clips::VideoClips;
pub use colour::{ColourMode, ColourPath};
pub use decode::{DEFAULT_STALL_TIMEOUT, DecodeOptions, Frame, VideoReader, gstreamer_version, init};
pub use decoder_choice::{DecoderChoice, installed_video_decoders};
pub use encode::FrameWriter;
pub use error::MediaError;
pub use image::RgbImage;
pub use orientation::{Orientation, Rotation};
pub use still::read_image;
