//! FFmpeg's libswscale through a minimal hand-written FFI: the converter OpenCV's FFmpeg
//! backend and PyAV use, so frames converted here equal the official code's byte for byte.
//!
//! Only three swscale calls and two libavutil calls are used. The context is created with the
//! flags OpenCV passes (`SWS_BICUBIC`); for the decoders' native 4:2:0 → RGB24 conversion
//! swscale takes its unscaled special converter, whose result does not depend on the flags
//! (PyAV's bilinear gives the same bytes), but does depend on the destination line size for
//! widths that are not a multiple of 8: the SIMD converter writes whole groups of 8 pixels
//! when the line has room. OpenCV's frames come from `av_frame_get_buffer(…, 32)`, so
//! [`Converter`] lays out its destination lines the same way and copies the visible pixels
//! out.

use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

#[repr(C)]
struct SwsContext {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn sws_getContext(
        src_w: c_int,
        src_h: c_int,
        src_format: c_int,
        dst_w: c_int,
        dst_h: c_int,
        dst_format: c_int,
        flags: c_int,
        src_filter: *mut c_void,
        dst_filter: *mut c_void,
        param: *const f64,
    ) -> *mut SwsContext;
    fn sws_scale(
        c: *mut SwsContext,
        src_slice: *const *const u8,
        src_stride: *const c_int,
        src_slice_y: c_int,
        src_slice_h: c_int,
        dst: *const *mut u8,
        dst_stride: *const c_int,
    ) -> c_int;
    fn sws_freeContext(c: *mut SwsContext);
    fn av_get_pix_fmt(name: *const c_char) -> c_int;
    fn av_log_set_level(level: c_int);
}

const SWS_BICUBIC: c_int = 4;
const AV_LOG_ERROR: c_int = 16;

/// FFmpeg's pixel format number for its name (`yuv420p`, `nv12`…), `None` if unknown.
pub fn pixel_format(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string; av_get_pix_fmt only reads it.
    let f = unsafe { av_get_pix_fmt(c.as_ptr()) };
    (f >= 0).then_some(f)
}

/// A source picture: up to four planes with their line sizes, `height` rows of the first.
pub struct Picture<'a> {
    pub planes: [&'a [u8]; 4],
    pub strides: [usize; 4],
}

/// A cached swscale context converting one (size, format) to packed RGB24 of the same size.
pub struct Converter {
    ctx: *mut SwsContext,
    key: (u32, u32, i32),
    /// Destination lines as OpenCV allocates them (see the module doc).
    scratch: Vec<u8>,
    scratch_stride: usize,
}

// SAFETY: the context is owned by this value and only used through `&mut self`.
unsafe impl Send for Converter {}

impl Converter {
    /// A converter from `src_format` (an FFmpeg pixel format number) at `width`×`height`.
    pub fn new(width: u32, height: u32, src_format: i32) -> Result<Self, String> {
        let rgb24 = pixel_format("rgb24").ok_or("libavutil does not know rgb24")?;
        if width == 0 || height == 0 || width > 1 << 15 || height > 1 << 15 {
            return Err(format!("unsupported frame size {width}x{height}"));
        }
        // SAFETY: plain value arguments and null filters, as the swscale API documents.
        let ctx = unsafe {
            av_log_set_level(AV_LOG_ERROR);
            sws_getContext(
                width as c_int,
                height as c_int,
                src_format,
                width as c_int,
                height as c_int,
                rgb24,
                SWS_BICUBIC,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null(),
            )
        };
        if ctx.is_null() {
            return Err(format!("swscale cannot convert pixel format #{src_format} at {width}x{height} to RGB24"));
        }
        let scratch_stride = frame_linesize(width as usize);
        Ok(Self { ctx, key: (width, height, src_format), scratch: Vec::new(), scratch_stride })
    }

    /// Whether this converter was made for these parameters.
    pub fn matches(&self, width: u32, height: u32, src_format: i32) -> bool {
        self.key == (width, height, src_format)
    }

    /// Converts `src` into `out`, packed RGB24 without padding (`width*height*3` bytes).
    ///
    /// The source planes must hold `height` rows (chroma planes their subsampled rows) at their
    /// strides, every row readable up to the width rounded up to 16 pixels: the SIMD converter
    /// reads whole vector groups (see `colour::ExactConverter`).
    pub fn convert(&mut self, src: &Picture<'_>, out: &mut Vec<u8>) -> Result<(), String> {
        let (w, h) = (self.key.0 as usize, self.key.1 as usize);
        // Lines as OpenCV's are exactly as long as the packed output's: write straight into it.
        let direct = self.scratch_stride == 3 * w;
        let dst_buf = if direct {
            // swscale writes every byte of the output: no zero-filling first.
            out.clear();
            out.reserve(3 * w * h);
            &mut *out
        } else {
            self.scratch.resize(self.scratch_stride * h + 64, 0);
            &mut self.scratch
        };
        let planes: [*const u8; 4] =
            std::array::from_fn(|i| if src.planes[i].is_empty() { ptr::null() } else { src.planes[i].as_ptr() });
        let strides: [c_int; 4] = std::array::from_fn(|i| src.strides[i] as c_int);
        let dst: [*mut u8; 4] = [dst_buf.as_mut_ptr(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut()];
        let dst_strides: [c_int; 4] = [self.scratch_stride as c_int, 0, 0, 0];
        // SAFETY: the context was made for exactly this size and format; the caller guarantees
        // the source planes cover `h` rows at their strides (plus read slack); the destination
        // has capacity for `h` lines of `scratch_stride` ≥ 3·round_up(w, 8) bytes, room for the
        // widest write of the SIMD converter (direct only when `3w` is a multiple of 32, so
        // `w` is a multiple of 8 and nothing is written past the line).
        let rows = unsafe {
            sws_scale(self.ctx, planes.as_ptr(), strides.as_ptr(), 0, h as c_int, dst.as_ptr(), dst_strides.as_ptr())
        };
        if rows != h as c_int {
            return Err(format!("swscale returned {rows} rows instead of {h}"));
        }
        if direct {
            // SAFETY: sws_scale returned all `h` rows, each of `3w` bytes at stride `3w`: the
            // first `3wh` bytes of the reserved capacity are initialised.
            unsafe { out.set_len(3 * w * h) };
        } else {
            out.clear();
            out.reserve(w * h * 3);
            for row in self.scratch.chunks(self.scratch_stride).take(h) {
                out.extend_from_slice(&row[..w * 3]);
            }
        }
        Ok(())
    }
}

impl Drop for Converter {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from sws_getContext and is freed once.
        unsafe { sws_freeContext(self.ctx) }
    }
}

/// The RGB24 line size `av_frame_get_buffer(frame, 32)` picks for `width`: the width is
/// rounded up to the smallest power of two (≤ 32) that makes the line a multiple of 32 bytes.
/// Always at least `3·round_up(width, 8)`, the SIMD converter's widest write.
fn frame_linesize(width: usize) -> usize {
    let mut align = 1;
    while align <= 32 {
        let line = 3 * width.next_multiple_of(align);
        if line % 32 == 0 {
            return line;
        }
        align *= 2;
    }
    3 * width.next_multiple_of(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linesize_as_av_frame_get_buffer() {
        assert_eq!(frame_linesize(224), 672);
        assert_eq!(frame_linesize(470), 1440);
        assert_eq!(frame_linesize(480), 1440);
        assert_eq!(frame_linesize(1280), 3840);
        for w in 1..2000 {
            assert!(frame_linesize(w) >= 3 * w.next_multiple_of(8));
        }
    }

    #[test]
    fn grey_yuv_gives_grey_rgb() {
        let fmt = pixel_format("yuv420p").unwrap();
        let (w, h) = (20u32, 6u32);
        let y = vec![126u8; 64 * 6 + 64];
        let uv = vec![128u8; 64 * 3 + 64];
        let mut conv = Converter::new(w, h, fmt).unwrap();
        let mut out = Vec::new();
        conv.convert(&Picture { planes: [&y, &uv, &uv, &[]], strides: [64, 64, 64, 0] }, &mut out).unwrap();
        assert_eq!(out.len(), (w * h * 3) as usize);
        // Limited-range BT.601: Y=126 → (126-16)·255/219 ≈ 128.
        assert!(out.iter().all(|&v| v.abs_diff(128) <= 1), "{:?}", &out[..9]);
        assert_eq!(pixel_format("no-such-format"), None);
    }
}
