//! One video → its encoder inputs: frames decoded and cut into clips by MARLIN's rule, faces
//! detected and cropped when a detector is given, each clip (or each face track's crops of it)
//! as the bytes the encoder takes, with the row it becomes. `featurize`'s workers, `extract`,
//! `reconstruct` and the Python module read videos through here.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use marlin_faces::{FaceDetector, Faces};
use marlin_media::VideoClips;
use marlin_model::MarlinConfig;

use crate::BatchError;
use crate::clip_faces::{ClipFaces, ClipItem};
use crate::config::VideoSettings;
use crate::journal::RowMeta;

/// One clip ready for the encoder: its (T, H, W, 3) RGB bytes and the row it becomes.
pub struct EncoderInput {
    pub row: RowMeta,
    pub frames: Vec<u8>,
}

/// How a video went, once read to its end.
#[derive(Debug, Clone, Default)]
pub struct VideoReport {
    /// Frames decoded.
    pub frames: u64,
    /// The decoder element that ran.
    pub decoder: Option<String>,
    /// The colour conversion that ran.
    pub colour: Option<String>,
    /// With face cropping: frames with a face, frames run through the detector.
    pub face_counts: Option<(u64, u64)>,
    /// Encoder inputs given.
    pub rows: usize,
}

/// The encoder inputs of one video, produced while it decodes.
pub struct EncoderInputs<'a> {
    path: PathBuf,
    clips: VideoClips,
    faces: Option<ClipFaces<'a>>,
    all_faces: bool,
    img_size: usize,
    ready: VecDeque<EncoderInput>,
    rows: usize,
    decode_time: Duration,
    faces_time: Duration,
    /// `clip,frame,x1,y1,x2,y2,score,cx,cy,half` rows, when asked for.
    face_log: Option<String>,
}

impl<'a> EncoderInputs<'a> {
    /// Opens `path` for an encoder of architecture `model`; with `detector`, faces are cropped
    /// as `settings.faces` says (else the frames must be face crops of the encoder's size).
    pub fn open(
        path: &Path,
        settings: &VideoSettings,
        model: &MarlinConfig,
        detector: Option<&'a dyn FaceDetector>,
    ) -> Result<Self, BatchError> {
        settings.validate()?;
        let clips = VideoClips::open(
            path,
            settings.decode_options()?,
            settings.sampling.options(model.n_frames),
            settings.sampling.fps,
        )?;
        let all_faces = settings.faces.pick == Faces::All;
        let faces = detector.map(|d| ClipFaces::new(d, settings.faces.crop_options(), all_faces));
        Ok(Self {
            path: path.to_path_buf(),
            clips,
            faces,
            all_faces,
            img_size: model.img_size,
            ready: VecDeque::new(),
            rows: 0,
            decode_time: Duration::ZERO,
            faces_time: Duration::ZERO,
            face_log: None,
        })
    }

    /// Also keeps each cropped frame's top detection and crop square (see [`Self::face_log`]).
    pub fn log_faces(mut self) -> Self {
        self.face_log = Some(String::from("clip,frame,x1,y1,x2,y2,score,cx,cy,half\n"));
        self
    }

    /// The next encoder input; `Ok(None)` at the video's end.
    pub fn next_input(&mut self) -> Result<Option<EncoderInput>, BatchError> {
        loop {
            if let Some(input) = self.ready.pop_front() {
                self.rows += 1;
                return Ok(Some(input));
            }
            let started = Instant::now();
            let next = self.clips.next_clip();
            self.decode_time += started.elapsed();
            let Some(clip) = next? else { return Ok(None) };
            let (first, last) =
                (clip.frame_indices.first().copied().unwrap_or(0), clip.frame_indices.last().copied().unwrap_or(0));
            let started = Instant::now();
            let items = match &mut self.faces {
                Some(f) => f.crop(clip, &mut self.face_log)?,
                None => vec![ClipItem { clip: clip.index, track: None, frames: clip.frames, faces: None }],
            };
            self.faces_time += started.elapsed();
            let rate = self.clips.frame_rate();
            for item in items {
                let frames = item.encoder_input(self.img_size, &self.path)?;
                let row = RowMeta {
                    clip: item.clip,
                    track: item.track,
                    first_frame: first,
                    last_frame: last,
                    start_s: rate.map(|r| first as f64 / r),
                    end_s: rate.map(|r| (last + 1) as f64 / r),
                    face_frames: item.faces.map(|f| f.detected),
                    face_box: item.faces.and_then(|f| f.mean_box),
                    face_score: item.faces.and_then(|f| f.mean_score),
                };
                self.ready.push_back(EncoderInput { row, frames });
            }
        }
    }

    /// Time spent so far decoding and cutting clips, and detecting and cropping faces.
    pub fn stage_times(&self) -> (Duration, Duration) {
        (self.decode_time, self.faces_time)
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.clips.frames_decoded()
    }

    /// The face log's CSV text (header included), if [`Self::log_faces`] asked for it.
    pub fn face_log(&self) -> Option<&str> {
        self.face_log.as_deref()
    }

    /// Ends the video: how it went, or why it gave nothing to encode. Warns (through `tracing`)
    /// when no face was found at all and the features are of the fallback crop.
    pub fn finish(&self) -> Result<VideoReport, BatchError> {
        let path = self.path.display();
        let face_counts = self.faces.as_ref().map(|f| f.counts);
        if self.rows == 0 {
            return Err(BatchError::Input(match face_counts {
                Some((with, all)) if self.all_faces => {
                    format!("{path}: no clips with a face track (a face in {with} of {all} detected frames)")
                }
                _ => format!("{path}: no clips ({} frames decoded)", self.clips.frames_decoded()),
            }));
        }
        if face_counts.is_some_and(|(with, _)| with == 0) {
            tracing::warn!(
                "{path}: no face found at all: the features are of the fallback crop (the frame's top-left corner, as the official code does)"
            );
        }
        Ok(VideoReport {
            frames: self.clips.frames_decoded(),
            decoder: self.clips.decoder(),
            colour: self.clips.colour_path().map(|c| c.to_string()),
            face_counts,
            rows: self.rows,
        })
    }
}
