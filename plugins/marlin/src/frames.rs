//! Video buffers as packed RGB: YUV through the exact colour conversion of `marlin-media`
//! (FFmpeg's swscale, as the official frames), RGB-family formats repacked.

use marlin_media::colour::{ExactConverter, ExactLayout};

/// The raw formats the face elements take: the decoders' own and packed RGB.
pub const FORMATS: &[&str] = &["I420", "NV12", "RGB", "BGR", "RGBx", "BGRx"];

/// Converts frames of one stream to packed RGB.
pub struct RgbConverter {
    info: gst_video::VideoInfo,
    layout: ExactLayout,
    exact: ExactConverter,
}

impl RgbConverter {
    pub fn new(info: gst_video::VideoInfo) -> Result<Self, String> {
        let layout = ExactLayout::for_format(info.format(), info.colorimetry().range())
            .ok_or_else(|| format!("no exact colour conversion for {:?}", info.format()))?;
        Ok(Self { info, layout, exact: ExactConverter::default() })
    }

    pub fn info(&self) -> &gst_video::VideoInfo {
        &self.info
    }

    /// The frame in `buffer` as `width·height·3` RGB bytes in `out`.
    pub fn convert(&mut self, buffer: &gst::BufferRef, out: &mut Vec<u8>) -> Result<(), String> {
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &self.info)
            .map_err(|e| format!("cannot map a frame: {e}"))?;
        self.exact.convert(&frame, self.layout, out)
    }
}
