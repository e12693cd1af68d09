//! From the decoder's native picture to packed RGB: the exact path (FFmpeg's swscale, as the
//! official frames were made) and the layout table behind it.
//!
//! The official code converts libavcodec's output with swscale. GStreamer's libav decoders
//! hand out the same pictures under GStreamer format names; [`ExactLayout::for_format`] maps
//! them back to FFmpeg's pixel formats (full-range 4:2:0/4:2:2/4:4:4 to the `yuvj*` formats,
//! as libavcodec reports them for JPEG-style streams). Semi-planar NV12/NV21 (NVDEC's output)
//! is unpacked to planar 4:2:0 first, losslessly, so a hardware-decoded frame converts along
//! the same swscale path as a libav-decoded one.

use gstreamer_video::{VideoColorRange, VideoFormat, VideoFrameExt, VideoFrameRef};

use crate::swscale::{self, Converter, Picture};

marlin_settings::named! {
    /// How frames become RGB.
    pub enum ColourMode: "colour mode", default Auto {
        /// The exact path (the official frames' arithmetic, FFmpeg's swscale) where the
        /// decoder's format is covered, `videoconvert` otherwise.
        Auto = "auto",
        /// Only the exact path; a decoder format it does not cover is an error.
        Exact = "exact",
        /// GStreamer's `videoconvert` (not the official arithmetic: about 1.3 grey levels away).
        Videoconvert = "videoconvert",
    }
}

/// The conversion that actually ran, reported to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourPath {
    /// swscale from the decoder's native format (its GStreamer name).
    Exact { format: String },
    /// GStreamer's videoconvert.
    Videoconvert,
}

impl std::fmt::Display for ColourPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColourPath::Exact { format } => write!(f, "exact (swscale from {format})"),
            ColourPath::Videoconvert => f.write_str("videoconvert"),
        }
    }
}

/// How one plane of the source is copied into the padded buffer handed to swscale.
#[derive(Debug, Clone, Copy)]
struct PlaneSpec {
    /// GStreamer plane index to read.
    src: usize,
    /// log2 of the horizontal and vertical subsampling.
    wshift: u32,
    hshift: u32,
    /// Bytes per sample group along a row.
    bytes: usize,
}

/// Special handling of a source format before swscale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repack {
    None,
    /// Interleaved chroma plane 1 (U first for NV12, V first for NV21) split into two planes.
    SplitChroma {
        u_first: bool,
    },
}

/// A GStreamer format the exact path covers: FFmpeg's name for it and its planes.
#[derive(Debug, Clone, Copy)]
pub struct ExactLayout {
    ffmpeg: &'static str,
    planes: &'static [PlaneSpec],
    repack: Repack,
}

const fn p(src: usize, wshift: u32, hshift: u32, bytes: usize) -> PlaneSpec {
    PlaneSpec { src, wshift, hshift, bytes }
}

const P420: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 1, 1, 1), p(2, 1, 1, 1)];
const P420_YV12: &[PlaneSpec] = &[p(0, 0, 0, 1), p(2, 1, 1, 1), p(1, 1, 1, 1)];
const P422: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 1, 0, 1), p(2, 1, 0, 1)];
const P444: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 0, 0, 1), p(2, 0, 0, 1)];
const P411: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 2, 0, 1), p(2, 2, 0, 1)];
const P420_16: &[PlaneSpec] = &[p(0, 0, 0, 2), p(1, 1, 1, 2), p(2, 1, 1, 2)];
const P422_16: &[PlaneSpec] = &[p(0, 0, 0, 2), p(1, 1, 0, 2), p(2, 1, 0, 2)];
const P444_16: &[PlaneSpec] = &[p(0, 0, 0, 2), p(1, 0, 0, 2), p(2, 0, 0, 2)];
const PA420: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 1, 1, 1), p(2, 1, 1, 1), p(3, 0, 0, 1)];
/// NV12/NV21 as delivered: luma, then one interleaved chroma plane (2 bytes per chroma sample).
const PNV: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 1, 1, 2)];
const PGBR: &[PlaneSpec] = &[p(0, 0, 0, 1), p(1, 0, 0, 1), p(2, 0, 0, 1)];
const PACKED1: &[PlaneSpec] = &[p(0, 0, 0, 1)];
const PACKED3: &[PlaneSpec] = &[p(0, 0, 0, 3)];
const PACKED4: &[PlaneSpec] = &[p(0, 0, 0, 4)];
/// YUY2/UYVY: one plane, 4 bytes per pair of pixels.
const PACKED422: &[PlaneSpec] = &[p(0, 1, 0, 4)];

impl ExactLayout {
    /// The layout for a GStreamer format and colour range, `None` where the exact path does
    /// not cover it.
    pub fn for_format(format: VideoFormat, range: VideoColorRange) -> Option<Self> {
        let full = range == VideoColorRange::Range0_255;
        let l = |ffmpeg, planes| Some(ExactLayout { ffmpeg, planes, repack: Repack::None });
        match format {
            VideoFormat::I420 => l(if full { "yuvj420p" } else { "yuv420p" }, P420),
            VideoFormat::Yv12 => l(if full { "yuvj420p" } else { "yuv420p" }, P420_YV12),
            VideoFormat::Y42b => l(if full { "yuvj422p" } else { "yuv422p" }, P422),
            VideoFormat::Y444 => l(if full { "yuvj444p" } else { "yuv444p" }, P444),
            VideoFormat::Nv12 | VideoFormat::Nv21 => Some(ExactLayout {
                ffmpeg: if full { "yuvj420p" } else { "yuv420p" },
                planes: PNV,
                repack: Repack::SplitChroma { u_first: format == VideoFormat::Nv12 },
            }),
            VideoFormat::Rgb => l("rgb24", PACKED3),
            VideoFormat::Bgr => l("bgr24", PACKED3),
            VideoFormat::Rgba => l("rgba", PACKED4),
            VideoFormat::Bgra => l("bgra", PACKED4),
            VideoFormat::Rgbx => l("rgb0", PACKED4),
            VideoFormat::Bgrx => l("bgr0", PACKED4),
            VideoFormat::Gbr => l("gbrp", PGBR),
            // Range only matters for YUV and grey; FFmpeg has no full-range variants of these.
            _ if full => None,
            VideoFormat::Y41b => l("yuv411p", P411),
            VideoFormat::A420 => l("yuva420p", PA420),
            VideoFormat::I42010le => l("yuv420p10le", P420_16),
            VideoFormat::I42210le => l("yuv422p10le", P422_16),
            VideoFormat::Y44410le => l("yuv444p10le", P444_16),
            VideoFormat::I42012le => l("yuv420p12le", P420_16),
            VideoFormat::Gray8 => l("gray", PACKED1),
            VideoFormat::Yuy2 => l("yuyv422", PACKED422),
            VideoFormat::Uyvy => l("uyvy422", PACKED422),
            _ => None,
        }
    }
}

/// Exact conversion of decoded frames: a padded copy of the planes, then swscale.
#[derive(Default)]
pub struct ExactConverter {
    converter: Option<Converter>,
    /// The last FFmpeg pixel format looked up, by name (the lookup is a string search).
    format: Option<(&'static str, i32)>,
    /// The source planes, each row padded so swscale's vector reads stay inside.
    padded: Vec<u8>,
}

/// Bytes of slack after every copied row (swscale's widest over-read is one vector group).
const ROW_SLACK: usize = 64;

impl ExactConverter {
    /// Converts one decoded frame into packed RGB24 (`out`, `width·height·3` bytes).
    pub fn convert(
        &mut self,
        frame: &VideoFrameRef<&gstreamer::BufferRef>,
        layout: ExactLayout,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let format = match self.format {
            Some((name, f)) if name == layout.ffmpeg => f,
            _ => {
                let f = swscale::pixel_format(layout.ffmpeg)
                    .ok_or_else(|| format!("libavutil does not know {}", layout.ffmpeg))?;
                self.format = Some((layout.ffmpeg, f));
                f
            }
        };
        let conv = match &mut self.converter {
            Some(c) if c.matches(w as u32, h as u32, format) => c,
            slot => slot.insert(Converter::new(w as u32, h as u32, format)?),
        };
        if let Some(picture) = in_place_420(frame, layout) {
            return conv.convert(&picture, out);
        }
        // Copy (and unpack) the planes: (offset, stride) of each destination plane.
        let mut dst: Vec<(usize, usize)> = Vec::with_capacity(4);
        let mut total = 0;
        let specs: Vec<(usize, usize, usize)> = layout
            .planes
            .iter()
            .flat_map(|s| {
                let cols = w.div_ceil(1 << s.wshift);
                let rows = h.div_ceil(1 << s.hshift);
                match layout.repack {
                    Repack::SplitChroma { .. } if s.src == 1 => vec![(s.src, cols, rows), (s.src, cols, rows)],
                    _ => vec![(s.src, cols * s.bytes, rows)],
                }
            })
            .collect();
        for &(_, row_bytes, rows) in &specs {
            let stride = row_bytes.next_multiple_of(64) + ROW_SLACK;
            dst.push((total, stride));
            total += stride * rows;
        }
        self.padded.resize(total + ROW_SLACK, 0);
        for (k, &(src_plane, row_bytes, rows)) in specs.iter().enumerate() {
            let data = frame.plane_data(src_plane as u32).map_err(|e| e.to_string())?;
            let src_stride = frame.plane_stride()[src_plane] as usize;
            let (off, stride) = dst[k];
            if data.len()
                < src_stride * (rows - 1)
                    + match layout.repack {
                        Repack::SplitChroma { .. } if src_plane == 1 => row_bytes * 2,
                        _ => row_bytes,
                    }
            {
                return Err(format!("plane {src_plane} holds {} bytes, too few for {rows} rows", data.len()));
            }
            for r in 0..rows {
                let d = &mut self.padded[off + r * stride..off + r * stride + row_bytes];
                match layout.repack {
                    Repack::SplitChroma { u_first } if src_plane == 1 => {
                        // k == 1 is U, k == 2 is V in the destination.
                        let pick = usize::from((k == 2) == u_first);
                        let s = &data[r * src_stride..r * src_stride + 2 * row_bytes];
                        for (x, v) in d.iter_mut().enumerate() {
                            *v = s[2 * x + pick];
                        }
                    }
                    _ => d.copy_from_slice(&data[r * src_stride..r * src_stride + row_bytes]),
                }
            }
        }
        let mut planes: [&[u8]; 4] = [&[]; 4];
        let mut strides = [0usize; 4];
        for (k, &(off, stride)) in dst.iter().enumerate() {
            planes[k] = &self.padded[off..];
            strides[k] = stride;
        }
        conv.convert(&Picture { planes, strides }, out)
    }
}

/// The frame's own planes, when swscale can read them where they are: planar 4:2:0 (its
/// special converter, which reads exactly the visible width once that is a multiple of 16),
/// an even height, and every row inside the mapped planes. Saves a copy per frame of the most
/// common videos; anything else goes through the padded copy.
fn in_place_420<'a>(frame: &'a VideoFrameRef<&gstreamer::BufferRef>, layout: ExactLayout) -> Option<Picture<'a>> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let planar_420 = std::ptr::eq(layout.planes, P420) || std::ptr::eq(layout.planes, P420_YV12);
    if !planar_420 || layout.repack != Repack::None || w % 16 != 0 || h % 2 != 0 {
        return None;
    }
    let mut planes: [&[u8]; 4] = [&[]; 4];
    let mut strides = [0usize; 4];
    for (k, spec) in layout.planes.iter().enumerate() {
        let data = frame.plane_data(spec.src as u32).ok()?;
        let stride = frame.plane_stride()[spec.src] as usize;
        let (cols, rows) = (w >> spec.wshift, h >> spec.hshift);
        if stride < cols || data.len() < stride * (rows - 1) + cols {
            return None;
        }
        planes[k] = data;
        strides[k] = stride;
    }
    Some(Picture { planes, strides })
}

/// Copies an RGB frame (from videoconvert) into packed rows.
pub fn copy_packed_rgb(frame: &VideoFrameRef<&gstreamer::BufferRef>, out: &mut Vec<u8>) -> Result<(), String> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let data = frame.plane_data(0).map_err(|e| e.to_string())?;
    let stride = frame.plane_stride()[0] as usize;
    if data.len() < stride * (h - 1) + 3 * w {
        return Err(format!("RGB frame holds {} bytes, too few for {w}x{h}", data.len()));
    }
    out.clear();
    out.reserve(w * h * 3);
    for r in 0..h {
        out.extend_from_slice(&data[r * stride..r * stride + 3 * w]);
    }
    Ok(())
}
