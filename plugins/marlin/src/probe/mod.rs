//! `marlinprobe`: scores `marlinencoder`'s pooled features with a probe from
//! `marlin probe train|import`. Buffers pass through unchanged, each with a `MarlinScoreMeta`
//! (`probability`, `label`) attached, and an element message `marlin-probe` per clip
//! (`clip-index`, `first-frame`, `last-frame`, `track-id`, `probability`, `label`, `pts`), so a
//! live pipeline can screen as it goes.
//!
//! ```sh
//! gst-launch-1.0 … ! marlinencoder model=vit_small_ytf ! marlinprobe probe=probe.json ! fakesink
//! ```

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Probe(ObjectSubclass<imp::Probe>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinprobe", gst::Rank::NONE, Probe::static_type())
}
