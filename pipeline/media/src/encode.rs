//! Writing RGB frames out through GStreamer: a PNG or JPEG for one frame, an H.264 MP4 for a
//! video (`appsrc ! videoconvert ! pngenc|jpegenc|x264enc ! [mp4mux !] filesink`). The file is
//! written under a temporary name and renamed once complete (a device or a FIFO is written in
//! place, a symbolic link followed: `marlin_npy::destination`).

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::{MediaError, RgbImage, init};

/// Frames to a PNG or JPEG (the first frame only) or an MP4, by the output's extension.
pub struct FrameWriter {
    path: PathBuf,
    /// Where GStreamer writes: a temporary sibling of the target, or the target itself when it
    /// is a device or a FIFO (never replaced).
    temp: Option<PathBuf>,
    target: PathBuf,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    size: (u32, u32),
    fps: (i32, i32),
    frames: u64,
    /// One picture (PNG, JPEG) rather than a video.
    still: bool,
    /// Renamed into place (or written in place): nothing to clean up.
    done: bool,
}

/// The smallest frame mp4mux takes.
const MP4_MIN_SIDE: u32 = 16;

impl FrameWriter {
    /// A writer of `width × height` frames at `fps` (numerator, denominator) into `path`
    /// (`.png`, `.jpg` / `.jpeg` (quality 85) or `.mp4`).
    pub fn create(path: &Path, width: u32, height: u32, fps: (i32, i32)) -> Result<Self, MediaError> {
        init()?;
        let bad = |reason: String| MediaError::Write { path: path.into(), reason };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let encoder = match ext.as_str() {
            "png" => "pngenc snapshot=true".to_string(),
            "jpg" | "jpeg" => "jpegenc snapshot=true quality=85".to_string(),
            // H.264 4:2:0 needs even sizes: an odd row or column is scaled away.
            "mp4" => format!(
                "videoscale ! video/x-raw,format=I420,width={},height={} ! x264enc speed-preset=veryfast ! mp4mux",
                width & !1,
                height & !1
            ),
            "" => {
                return Err(bad(
                    "a drawing is written as .png, .jpg or .mp4 (by its extension); this name has none".into()
                ));
            }
            other => return Err(bad(format!("a drawing is written as .png, .jpg or .mp4, not .{other}"))),
        };
        let still = ext != "mp4";
        if !still && (width < MP4_MIN_SIDE || height < MP4_MIN_SIDE) {
            return Err(bad(format!(
                "an MP4 needs frames of at least {MP4_MIN_SIDE}×{MP4_MIN_SIDE} pixels, these are {width}×{height} (draw to a .png instead)"
            )));
        }
        let (target, temp) = match marlin_npy::destination(path).map_err(|e| bad(e.to_string()))? {
            marlin_npy::Destination::InPlace(target) => (target, None),
            marlin_npy::Destination::Replace(target) => {
                let mut name = target.file_name().unwrap_or_default().to_os_string();
                name.push(".part");
                let temp = target.with_file_name(name);
                // created here, so that a missing folder or a read-only one is named now
                std::fs::File::create(&temp).map_err(|e| bad(format!("cannot create {}: {e}", temp.display())))?;
                (target, Some(temp))
            }
        };
        let written = temp.as_ref().unwrap_or(&target);
        let (fn_, fd) = if fps.0 > 0 && fps.1 > 0 { fps } else { (25, 1) };
        let line = format!(
            "appsrc name=src format=time caps=video/x-raw,format=RGB,width={width},height={height},framerate={fn_}/{fd} ! videoconvert ! {encoder} ! filesink name=sink"
        );
        let cleanup = |e: MediaError| {
            if let Some(t) = &temp {
                let _ = std::fs::remove_file(t);
            }
            e
        };
        let pipeline =
            gst::parse::launch(&line).map_err(|e| cleanup(bad(format!("cannot build the encoder ({e})"))))?;
        let pipeline = pipeline.downcast::<gst::Pipeline>().map_err(|_| cleanup(bad("not a pipeline".into())))?;
        let sink = pipeline.by_name("sink").ok_or_else(|| cleanup(bad("no filesink".into())))?;
        let uri = std::path::absolute(written).ok().and_then(|p| glib::filename_to_uri(p, None).ok());
        let set = uri.zip(sink.dynamic_cast_ref::<gst::URIHandler>()).map(|(uri, h)| h.set_uri(&uri));
        if !matches!(set, Some(Ok(()))) {
            return Err(cleanup(bad(format!("GStreamer cannot write {}", written.display()))));
        }
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| cleanup(bad("no appsrc".into())))?;
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(cleanup(bad(format!("the encoder did not start ({e})"))));
        }
        Ok(Self {
            path: path.into(),
            temp,
            target,
            pipeline,
            src,
            size: (width, height),
            fps: (fn_, fd),
            frames: 0,
            still,
            done: false,
        })
    }

    /// Adds a frame (ignored after the first for a picture).
    pub fn push(&mut self, frame: &RgbImage) -> Result<(), MediaError> {
        if (frame.width, frame.height) != self.size {
            return Err(MediaError::Write {
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
        self.src.push_buffer(buffer).map_err(|e| MediaError::Write {
            path: self.path.clone(),
            reason: format!("encoder refused a frame ({e:?})"),
        })?;
        self.frames += 1;
        Ok(())
    }

    /// Ends the stream, waits for the file, renames it into place.
    pub fn finish(mut self) -> Result<(), MediaError> {
        self.done = true;
        let err = |reason: String| MediaError::Write { path: self.path.clone(), reason };
        let _ = self.src.end_of_stream();
        let bus = self.pipeline.bus().ok_or_else(|| err("no bus".into()))?;
        let result = match bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(600), &[gst::MessageType::Eos, gst::MessageType::Error])
        {
            Some(m) => match m.view() {
                gst::MessageView::Error(e) => {
                    let from = e.src().map(|s| s.name().to_string()).unwrap_or_default();
                    let debug = e.debug().map(|d| d.to_string()).unwrap_or_default();
                    let cause = debug.lines().last().unwrap_or("").trim().to_string();
                    Err(err(format!(
                        "{from}: {}{}",
                        e.error(),
                        if cause.is_empty() { String::new() } else { format!(" ({cause})") }
                    )))
                }
                _ => Ok(()),
            },
            None => Err(err("encoding timed out".into())),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        let Some(temp) = &self.temp else { return result };
        match result {
            Ok(()) => std::fs::rename(temp, &self.target).map_err(|e| err(e.to_string())),
            Err(e) => {
                let _ = std::fs::remove_file(temp);
                Err(e)
            }
        }
    }
}

impl Drop for FrameWriter {
    /// A drawing never finished leaves no temporary file behind.
    fn drop(&mut self) {
        if !self.done {
            let _ = self.pipeline.set_state(gst::State::Null);
            if let Some(temp) = &self.temp {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}
