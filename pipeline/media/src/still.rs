//! Still images as `cv2.imread` reads them: JPEG through libjpeg-turbo (TurboJPEG, default
//! settings: accurate integer IDCT, smooth chroma upsampling, the library's own YCbCr → RGB,
//! as OpenCV's decoder uses it), everything else (PNG, BMP, TIFF…) as the first frame GStreamer
//! decodes, through the exact colour path.

use std::ffi::{CStr, c_char, c_int, c_uchar, c_ulong, c_void};
use std::path::Path;

use crate::{DecodeOptions, MediaError, RgbImage, VideoReader};

unsafe extern "C" {
    fn tjInitDecompress() -> *mut c_void;
    fn tjDecompressHeader3(
        h: *mut c_void,
        buf: *const c_uchar,
        size: c_ulong,
        width: *mut c_int,
        height: *mut c_int,
        subsamp: *mut c_int,
        colorspace: *mut c_int,
    ) -> c_int;
    fn tjDecompress2(
        h: *mut c_void,
        buf: *const c_uchar,
        size: c_ulong,
        dst: *mut c_uchar,
        width: c_int,
        pitch: c_int,
        height: c_int,
        pixel_format: c_int,
        flags: c_int,
    ) -> c_int;
    fn tjGetErrorStr2(h: *mut c_void) -> *mut c_char;
    fn tjDestroy(h: *mut c_void) -> c_int;
}

const TJPF_RGB: c_int = 0;

/// Reads an image file into RGB (for a video: its first frame).
pub fn read_image(path: &Path) -> Result<RgbImage, MediaError> {
    let bytes = marlin_npy::read_input(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound { path: path.into() },
        _ => MediaError::Unreadable { path: path.into(), reason: e.to_string() },
    })?;
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(&bytes)
            .map_err(|reason| MediaError::NotAVideo { path: path.into(), reason: format!("bad JPEG: {reason}") });
    }
    let mut reader = VideoReader::open(path, DecodeOptions::default())?;
    let frame = reader.next_frame(true)?.ok_or_else(|| MediaError::NoFrames { path: path.into() })?;
    frame.image.ok_or_else(|| MediaError::NoFrames { path: path.into() })
}

/// Owns a TurboJPEG handle.
struct Handle(*mut c_void);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tjInitDecompress and is destroyed once.
        unsafe { tjDestroy(self.0) };
    }
}

impl Handle {
    fn error(&self) -> String {
        // SAFETY: tjGetErrorStr2 returns a NUL-terminated string owned by the handle.
        unsafe { CStr::from_ptr(tjGetErrorStr2(self.0)).to_string_lossy().into_owned() }
    }
}

fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, String> {
    // SAFETY: plain constructor; null on failure.
    let h = Handle(unsafe { tjInitDecompress() });
    if h.0.is_null() {
        return Err("TurboJPEG did not start".into());
    }
    let (mut w, mut ht, mut sub, mut cs) = (0, 0, 0, 0);
    // SAFETY: `bytes` is a live buffer of the given length; the out-pointers are locals.
    if unsafe { tjDecompressHeader3(h.0, bytes.as_ptr(), bytes.len() as c_ulong, &mut w, &mut ht, &mut sub, &mut cs) }
        != 0
    {
        return Err(h.error());
    }
    if w <= 0 || ht <= 0 || w > 1 << 16 || ht > 1 << 16 {
        return Err(format!("unsupported size {w}x{ht}"));
    }
    let (wu, hu) = (w as usize, ht as usize);
    let mut out = vec![0u8; wu * hu * 3];
    // SAFETY: `out` holds height rows of width·3 bytes, the pitch passed.
    if unsafe {
        tjDecompress2(h.0, bytes.as_ptr(), bytes.len() as c_ulong, out.as_mut_ptr(), w, w * 3, ht, TJPF_RGB, 0)
    } != 0
    {
        return Err(h.error());
    }
    RgbImage::new(wu as u32, hu as u32, out).ok_or_else(|| "decoded size mismatch".into())
}
