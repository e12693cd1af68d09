//! `marlinsink`: writes the features of `marlinencoder` to `location` (.npy, float32
//! [clips, D] or [clips, 1568, D]) and `csv-location` (one row per feature row: clip index,
//! frames, times, track id, `video-id`, `label`). Both are written under temporary names and
//! renamed into place at EOS; an error or a stop before EOS leaves nothing under the final names.
//!
//! ```sh
//! gst-launch-1.0 … ! marlinencoder model=vit_small_ytf ! marlinsink location=out.npy csv-location=out.csv video-id=v1 label=real
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Sink(ObjectSubclass<imp::Sink>) @extends gst_base::BaseSink, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinsink", gst::Rank::NONE, Sink::static_type())
}
