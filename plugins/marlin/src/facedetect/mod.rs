//! `marlinfacedetect`: finds faces with FaceX-Zoo's RetinaFace (the detector the official
//! `extract_video(crop_face=True)` runs) and attaches them to each frame as `face`
//! region-of-interest metas (see [`crate::meta`]); the video passes through unchanged.
//!
//! ```sh
//! gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! marlinfacedetect model=face_detection_retina.pkl ! fakesink
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct FaceDetect(ObjectSubclass<imp::FaceDetect>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinfacedetect", gst::Rank::NONE, FaceDetect::static_type())
}
