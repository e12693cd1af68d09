//! `marlinfacecrop`: turns each frame and its `face` metas (from `marlinfacedetect`) into the
//! 224×224 RGB face crop MARLIN takes, under the crop modes of `marlin extract --crop-face`;
//! the followed face travels on the crop as a `face` meta (its track id included).
//!
//! ```sh
//! gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! marlinfacecrop mode=marlin ! videoconvert ! autovideosink
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct FaceCrop(ObjectSubclass<imp::FaceCrop>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// How faces are cropped (`mode`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstMarlinCropMode")]
pub enum CropMode {
    /// The official square, detector fed BGR, smoothed, last face held
    #[default]
    #[enum_value(
        name = "marlin: the official square around the face, smoothed, the last face held over face-less frames",
        nick = "marlin"
    )]
    Marlin,
    #[enum_value(
        name = "compat: the official crops bit for bit (use with marlinfacedetect compat=true)",
        nick = "compat"
    )]
    Compat,
    #[enum_value(name = "aligned: 5-point similarity warp onto ArcFace's template scaled to 224", nick = "aligned")]
    Aligned,
}

/// Which face a frame's crop follows (`faces`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstMarlinFacePick")]
pub enum FacePick {
    #[default]
    #[enum_value(name = "largest: the largest face", nick = "largest")]
    Largest,
    #[enum_value(name = "score: the best-scored face (the official choice)", nick = "score")]
    Score,
    #[enum_value(
        name = "all: a crop per face track and frame; marlinencoder cuts each track into clips of its own",
        nick = "all"
    )]
    All,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinfacecrop", gst::Rank::NONE, FaceCrop::static_type())
}
