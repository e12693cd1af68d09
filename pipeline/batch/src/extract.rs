//! One video's features, clip by clip: the official `Marlin.extract_video` (with `crop_face`
//! when a detector is given). Decoding and face cropping run on their own thread, a batch
//! ahead of the encoder, so neither waits while the other has work. `marlin extract` and the
//! Python module's `extract_video` call this.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use marlin_faces::{FaceDetector, Faces};
use marlin_model::{Clip as ModelClip, FeatureExtractor};

use crate::BatchError;
use crate::config::VideoSettings;
use crate::encoder_inputs::{EncoderInput, EncoderInputs, VideoReport};
use crate::journal::RowMeta;

marlin_settings::named! {
    /// How a video's clip rows are reduced (the official `extract_video`'s `reduction`).
    pub enum Reduction: "reduction", default None {
        /// A row per clip.
        None = "none",
        /// The mean over clips.
        Mean = "mean",
        /// The element-wise maximum over clips.
        Max = "max",
    }
}

/// How to extract.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractSettings {
    pub video: VideoSettings,
    /// Clips per encoder forward.
    pub batch: usize,
    /// Every token's feature per clip, (tokens, D), instead of the pooled (D,).
    pub keep_seq: bool,
    pub reduction: Reduction,
    /// Keep each cropped frame's detection and crop square ([`VideoFeatures::face_log`]).
    pub log_faces: bool,
}

impl ExtractSettings {
    /// Refuses out-of-range or contradictory settings, naming the setting (before any model or
    /// video is opened).
    pub fn validate(&self) -> Result<(), BatchError> {
        crate::FeaturizeConfig::BATCH_SIZE.check("batch", self.batch)?;
        if self.video.faces.pick == Faces::All && self.reduction != Reduction::None {
            return Err(BatchError::Config(
                "faces: all gives one row per (clip, face track); reduce per track from the rows instead".into(),
            ));
        }
        self.video.validate()
    }
}

impl Default for ExtractSettings {
    fn default() -> Self {
        Self {
            video: VideoSettings::default(),
            batch: 2,
            keep_seq: false,
            reduction: Reduction::None,
            log_faces: false,
        }
    }
}

/// A video's features.
#[derive(Debug, Clone)]
pub struct VideoFeatures {
    /// (rows, D) or (rows, tokens, D); reduced: (D,) or (tokens, D).
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// What each row is (before any reduction).
    pub rows: Vec<RowMeta>,
    pub report: VideoReport,
    /// `clip,frame,x1,y1,x2,y2,score,cx,cy,half` CSV, when `log_faces` asked for it.
    pub face_log: Option<String>,
}

/// What the decoding thread sends.
enum Produced {
    Input(EncoderInput),
    End(Result<(VideoReport, Option<String>), BatchError>),
}

/// The features of the video at `path`, computed by `encoder`; faces cropped by `detector` when
/// given. Setting `cancel` stops it within a clip's decode or a batch's encode
/// ([`BatchError::Cancelled`]).
pub fn extract_video(
    path: &Path,
    encoder: &dyn FeatureExtractor,
    detector: Option<&dyn FaceDetector>,
    settings: &ExtractSettings,
    cancel: &AtomicBool,
) -> Result<VideoFeatures, BatchError> {
    settings.validate()?;
    let model = encoder.config();
    let mut inputs = EncoderInputs::open(path, &settings.video, model, detector)?;
    if settings.log_faces {
        inputs = inputs.log_faces();
    }
    let (tx, rx) = sync_channel::<Produced>(settings.batch);
    let (rows, data, ended) = std::thread::scope(|s| -> Result<_, BatchError> {
        std::thread::Builder::new()
            .name("marlin-decode".into())
            .spawn_scoped(s, move || {
                let end = loop {
                    if cancel.load(Ordering::Relaxed) {
                        break Err(BatchError::Cancelled);
                    }
                    match inputs.next_input() {
                        Ok(Some(input)) => {
                            if tx.send(Produced::Input(input)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break inputs.finish().map(|r| (r, inputs.face_log().map(str::to_string))),
                        Err(e) => break Err(e),
                    }
                };
                let _ = tx.send(Produced::End(end));
            })
            .map_err(|e| BatchError::Internal(format!("cannot start the decoding thread: {e}")))?;
        let mut rows = Vec::new();
        let mut data = Vec::new();
        let mut batch = Vec::with_capacity(settings.batch);
        let encode = |batch: &mut Vec<ModelClip>, data: &mut Vec<f32>| -> Result<(), BatchError> {
            if cancel.load(Ordering::Relaxed) {
                return Err(BatchError::Cancelled);
            }
            for f in encoder.extract_features(batch, settings.keep_seq)? {
                data.extend_from_slice(&f);
            }
            batch.clear();
            Ok(())
        };
        // the receiver is dropped on any early return, which stops the decoding thread
        for produced in rx {
            match produced {
                Produced::Input(input) => {
                    rows.push(input.row);
                    batch.push(ModelClip::Rgb8(input.frames));
                    if batch.len() == settings.batch {
                        encode(&mut batch, &mut data)?;
                    }
                }
                Produced::End(end) => {
                    let ended = end?;
                    if !batch.is_empty() {
                        encode(&mut batch, &mut data)?;
                    }
                    return Ok((rows, data, Some(ended)));
                }
            }
        }
        Ok((rows, data, None))
    })?;
    let (report, face_log) = ended.ok_or_else(|| BatchError::Internal("the decoding thread ended early".into()))?;
    let row_shape = if settings.keep_seq { vec![model.num_tokens(), encoder.dim()] } else { vec![encoder.dim()] };
    let row_len: usize = row_shape.iter().product();
    if let Some(k) = data.chunks_exact(row_len).position(|r| r.iter().any(|x| !x.is_finite())) {
        return Err(BatchError::Input(format!(
            "{}: the features of clip {} are not finite (NaN or infinity): the model's weights are broken",
            path.display(),
            rows[k].clip
        )));
    }
    let (shape, data) = match settings.reduction {
        Reduction::None => ([vec![rows.len()], row_shape].concat(), data),
        Reduction::Mean => {
            let n = rows.len() as f32;
            (row_shape, reduce(&data, row_len, |acc, x| acc + x, |acc| acc / n))
        }
        Reduction::Max => (row_shape, reduce(&data, row_len, f32::max, |acc| acc)),
    };
    Ok(VideoFeatures { shape, data, rows, report, face_log })
}

/// Folds the rows of `features` (each `row` long) element-wise, then finishes each value.
fn reduce(features: &[f32], row: usize, fold: impl Fn(f32, f32) -> f32, finish: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut rows = features.chunks_exact(row);
    let mut acc = rows.next().map(<[f32]>::to_vec).unwrap_or_default();
    for r in rows {
        for (a, &x) in acc.iter_mut().zip(r) {
            *a = fold(*a, x);
        }
    }
    acc.into_iter().map(finish).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_reduce_elementwise() {
        let rows = [1.0, 5.0, 3.0, 2.0, 8.0, -1.0];
        assert_eq!(reduce(&rows, 2, |a, x| a + x, |a| a / 3.0), vec![4.0, 2.0]);
        assert_eq!(reduce(&rows, 2, f32::max, |a| a), vec![8.0, 5.0]);
    }
}
