//! `marlinencoder`: 224×224 RGB face crops in, MARLIN features out. Frames are cut into clips
//! by MARLIN's sampling rule while they stream (`sample-rate`, `stride`, `tail`), clips are
//! encoded on a worker thread (the streaming thread only waits when the worker is a batch
//! behind), and each clip leaves as one buffer of float32 features
//! (`application/x-marlin-features, dim=D, tokens=1|1568`) timestamped over the clip, with a
//! `MarlinClipMeta` (clip index, first/last frame, track id) and a `marlin-clip` element message.
//! Crops of `marlinfacecrop faces=all` are cut per face track: each track's crops form a
//! sequence of their own (frame numbers count that track's crops), its clips carry its id.
//!
//! ```sh
//! gst-launch-1.0 filesrc location=crops.mp4 ! decodebin ! videoconvert ! video/x-raw,format=RGB ! marlinencoder model=vit_small_ytf ! marlinsink location=out.npy
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Encoder(ObjectSubclass<imp::Encoder>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinencoder", gst::Rank::NONE, Encoder::static_type())
}
