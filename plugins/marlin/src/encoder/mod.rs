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

/// Where the encoder computes (`backend`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstMarlinBackend")]
pub enum Backend {
    #[default]
    #[enum_value(name = "cpu: the AVX-512/AVX2 CPU encoder", nick = "cpu")]
    Cpu,
    #[enum_value(name = "onnx-cpu: the exported ONNX graph on ONNX Runtime's CPU provider", nick = "onnx-cpu")]
    OnnxCpu,
    #[enum_value(name = "cuda: ONNX Runtime's CUDA provider (plugin built with the cuda feature)", nick = "cuda")]
    Cuda,
    #[enum_value(
        name = "tensorrt: TensorRT fp16 through ONNX Runtime (plugin built with the tensorrt feature)",
        nick = "tensorrt"
    )]
    Tensorrt,
}

impl From<Backend> for marlin_onnx::Backend {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Cpu => marlin_onnx::Backend::Cpu,
            Backend::OnnxCpu => marlin_onnx::Backend::OnnxCpu,
            Backend::Cuda => marlin_onnx::Backend::Cuda,
            Backend::Tensorrt => marlin_onnx::Backend::TensorRt,
        }
    }
}

/// Arithmetic (`precision`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstMarlinPrecision")]
pub enum Precision {
    #[default]
    #[enum_value(name = "f32: reproduces the official features", nick = "f32")]
    F32,
    #[enum_value(name = "bf16: bf16 weights and activations, f32 accumulation (AVX512-BF16 CPUs)", nick = "bf16")]
    Bf16,
    #[enum_value(name = "int8: int8 weights and activations, i32 accumulation (VNNI CPUs)", nick = "int8")]
    Int8,
}

/// Frames after the last full clip window (`tail`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum, Default)]
#[repr(u32)]
#[enum_type(name = "GstMarlinTail")]
pub enum Tail {
    #[default]
    #[enum_value(name = "drop: as the official code", nick = "drop")]
    Drop,
    #[enum_value(name = "pad: one more clip, padded with the last frame", nick = "pad")]
    Pad,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "marlinencoder", gst::Rank::NONE, Encoder::static_type())
}
