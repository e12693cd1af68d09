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

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinfacecrop", gst::Rank::NONE, FaceCrop::static_type())
}
