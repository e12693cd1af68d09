//! Which decoder decodebin may use: NVDEC, libav, or what the registry ranks first.
//!
//! decodebin asks through its `autoplug-select` signal for every factory it is about to try;
//! we answer `skip` for the video decoders the user's choice excludes.

use gstreamer as gst;
use gstreamer::prelude::*;

marlin_settings::named! {
    /// The video decoder the user asked for.
    pub enum DecoderChoice: "decoder", default Auto {
        /// NVDEC (`nvh264dec`, `nvh265dec`, `nvvp9dec`, `nvav1dec`…) where the nvcodec plugin
        /// registered one for the codec, else libav (`avdec_*`), else any software decoder.
        Auto = "auto",
        /// libav where it has the codec, else any other software decoder; never hardware.
        Software = "software",
        /// NVDEC only; an error where none takes the codec.
        Nvdec = "nvdec",
    }
}

/// decodebin's answer for one candidate factory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Try,
    Skip,
    /// Skip, because NVDEC was required and no NVDEC decoder takes these caps.
    NoNvdec,
}

/// Decoders of video or of still images (MJPEG streams go to image decoders).
pub(crate) fn is_video_decoder(f: &gst::ElementFactory) -> bool {
    let klass = f.klass();
    klass.contains("Decoder") && (klass.contains("Video") || klass.contains("Image"))
}

fn is_nvdec(f: &gst::ElementFactory) -> bool {
    f.name().starts_with("nv")
}

fn is_libav(f: &gst::ElementFactory) -> bool {
    f.name().starts_with("avdec_")
}

/// Hardware decoders other than NVDEC, never picked: their output is not the official frames'
/// and they may be present without working hardware.
fn is_other_hardware(f: &gst::ElementFactory) -> bool {
    let n = f.name();
    ["va", "vaapi", "v4l2", "msdk", "qsv", "d3d", "vtdec", "amf"].iter().any(|p| n.starts_with(p))
}

/// Whether decodebin may try `factory` for `caps` under `choice`.
pub fn verdict(choice: DecoderChoice, caps: &gst::CapsRef, factory: &gst::ElementFactory) -> Verdict {
    if !is_video_decoder(factory) {
        return Verdict::Try;
    }
    let candidates: Vec<gst::ElementFactory> =
        gst::ElementFactory::factories_with_type(gst::ElementFactoryType::DECODER, gst::Rank::MARGINAL)
            .into_iter()
            .filter(|f| is_video_decoder(f) && f.can_sink_all_caps(caps))
            .collect();
    let any = |pred: fn(&gst::ElementFactory) -> bool| candidates.iter().any(pred);
    let allowed = match choice {
        DecoderChoice::Nvdec if !any(is_nvdec) => return Verdict::NoNvdec,
        DecoderChoice::Nvdec => is_nvdec(factory),
        DecoderChoice::Auto if any(is_nvdec) => is_nvdec(factory),
        DecoderChoice::Auto | DecoderChoice::Software if any(is_libav) => is_libav(factory),
        DecoderChoice::Auto | DecoderChoice::Software => !is_nvdec(factory) && !is_other_hardware(factory),
    };
    if allowed { Verdict::Try } else { Verdict::Skip }
}

/// The video decoders GStreamer has registered (for `marlin doctor`): `avdec_h264`,
/// `nvh264dec`…, sorted.
pub fn installed_video_decoders() -> Result<Vec<String>, crate::MediaError> {
    crate::init()?;
    let mut names: Vec<String> =
        gst::ElementFactory::factories_with_type(gst::ElementFactoryType::DECODER, gst::Rank::MARGINAL)
            .into_iter()
            .filter(is_video_decoder)
            .map(|f| f.name().to_string())
            .collect();
    names.sort();
    Ok(names)
}
