//! Writing RGB frames out through GStreamer: a PNG or JPEG for one frame, an H.264 MP4 for a
//! video (`appsrc ! videoconvert ! pngenc|jpegenc|x264enc ! [mp4mux !] filesink`). The file is
//! written under a temporary name and renamed once complete.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::{MediaError, RgbImage, init};

/// Frames to a PNG (the first frame only) or an MP4, by the output's extension.
pub struct FrameWriter {
    path: PathBuf,
    temp: PathBuf,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    size: (u32, u32),
    fps: (i32, i32),
    frames: u64,
    /// One picture (PNG, JPEG) rather than a video.
    still: bool,
}

impl FrameWriter {
    /// A writer of `width × height` frames at `fps` (numerator, denominator) into `path`
    /// (`.png`, `.jpg` / `.jpeg` (quality 85) or `.mp4`).
    pub fn create(path: &Path, width: u32, height: u32, fps: (i32, i32)) -> Result<Self, MediaError> {
        init()?;
        let bad = |reason: String| MediaError::Unreadable { path: path.into(), reason };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let encoder = match ext.as_str() {
            "png" => "pngenc snapshot=true".to_string(),
            "jpg" | "jpeg" => "jpegenc snapshot=true quality=85".to_string(),
            // H.264 4:2:0 needs even sizes: an odd row or column is scaled away.
            "mp4" => format!(
                "videoscale ! video/x-raw,format=I420,width={},height={} ! x264enc speed-preset=veryfast ! mp4mux",
                (width & !1).max(2),
                (height & !1).max(2)
            ),
            _ => return Err(bad("the drawing must be a .png, .jpg or .mp4 file".into())),
        };
        let still = ext != "mp4";
        let temp = path.with_extension(format!("{ext}.part"));
        let (fn_, fd) = if fps.0 > 0 && fps.1 > 0 { fps } else { (25, 1) };
        let line = format!(
            "appsrc name=src format=time caps=video/x-raw,format=RGB,width={width},height={height},framerate={fn_}/{fd} ! videoconvert ! {encoder} ! filesink location=\"{}\"",
            temp.display()
        );
        let pipeline = gst::parse::launch(&line).map_err(|e| bad(format!("cannot build the encoder ({e})")))?;
        let pipeline = pipeline.downcast::<gst::Pipeline>().map_err(|_| bad("not a pipeline".into()))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| bad("no appsrc".into()))?;
        pipeline.set_state(gst::State::Playing).map_err(|e| bad(format!("cannot start the encoder ({e})")))?;
        Ok(Self { path: path.into(), temp, pipeline, src, size: (width, height), fps: (fn_, fd), frames: 0, still })
    }

    /// Adds a frame (ignored after the first for a picture).
    pub fn push(&mut self, frame: &RgbImage) -> Result<(), MediaError> {
        if (frame.width, frame.height) != self.size {
            return Err(MediaError::Convert {
                path: self.path.clone(),
                reason: format!(
                    "frame of {}x{} in a {}x{} drawing",
                    frame.width, frame.height, self.size.0, self.size.1
                ),
            });
        }
        if self.still && self.frames > 0 {
            return Ok(());
        }
        // GStreamer's RGB rows start at multiples of 4 bytes
        let (row, stride) = (frame.width as usize * 3, (frame.width as usize * 3).next_multiple_of(4));
        let data = if row == stride {
            frame.data.clone()
        } else {
            let mut padded = vec![0u8; stride * frame.height as usize];
            for (dst, src) in padded.chunks_exact_mut(stride).zip(frame.data.chunks_exact(row)) {
                dst[..row].copy_from_slice(src);
            }
            padded
        };
        let mut buffer = gst::Buffer::from_slice(data);
        let pts = gst::ClockTime::SECOND.mul_div_floor(self.frames * self.fps.1 as u64, self.fps.0 as u64);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(pts);
        }
        self.src.push_buffer(buffer).map_err(|e| MediaError::Convert {
            path: self.path.clone(),
            reason: format!("encoder refused a frame ({e:?})"),
        })?;
        self.frames += 1;
        Ok(())
    }

    /// Ends the stream, waits for the file, renames it into place.
    pub fn finish(self) -> Result<(), MediaError> {
        let err = |reason: String| MediaError::Convert { path: self.path.clone(), reason };
        let _ = self.src.end_of_stream();
        let bus = self.pipeline.bus().ok_or_else(|| err("no bus".into()))?;
        let result = match bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(600), &[gst::MessageType::Eos, gst::MessageType::Error])
        {
            Some(m) => match m.view() {
                gst::MessageView::Error(e) => Err(err(format!("encoding failed: {}", e.error()))),
                _ => Ok(()),
            },
            None => Err(err("encoding timed out".into())),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        match result {
            Ok(()) => std::fs::rename(&self.temp, &self.path).map_err(|e| err(e.to_string())),
            Err(e) => {
                let _ = std::fs::remove_file(&self.temp);
                Err(e)
            }
        }
    }
}
