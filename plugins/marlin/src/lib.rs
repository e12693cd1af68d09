//! `gstmarlin`: MARLIN in GStreamer pipelines. Five elements over the same library code as the
//! `marlin` command: `marlinfacedetect` (FaceX-Zoo's RetinaFace → region-of-interest metas),
//! `marlinfacecrop` (those faces → 224×224 RGB crops), `marlinencoder` (crops → clips → MARLIN
//! features), `marlinprobe` (features → probe scores, e.g. deepfake screening) and `marlinsink`
//! (features → .npy + .csv, written atomically at EOS).
//!
//! ```sh
//! GST_PLUGIN_PATH=target/release gst-launch-1.0 filesrc location=video.mp4 ! decodebin \
//!   ! marlinfacedetect model=face_detection_retina.pkl ! marlinfacecrop \
//!   ! marlinencoder model=vit_small_ytf ! marlinsink location=out.npy csv-location=out.csv
//! ```

use gst::glib;

mod encoder;
mod facecrop;
mod facedetect;
mod frames;
pub mod meta;
mod probe;
mod settings;
mod sink;

/// Locks a mutex, taking the value over from a thread that panicked while holding it (an
/// element keeps working after a failed buffer).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    meta::register();
    facedetect::register(plugin)?;
    facecrop::register(plugin)?;
    encoder::register(plugin)?;
    probe::register(plugin)?;
    sink::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    marlin,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
