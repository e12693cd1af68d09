//! Labelled samples from a `marlin featurize` folder: `features.npy` rows, their `clips.csv`
//! lines (video id, label column) and the model from `manifest.json`; per video (the temporal
//! mean of its clips) or per clip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marlin_batch::ModelInfo;

use crate::ProbeError;

marlin_settings::named! {
    /// What one sample of a probe stands for.
    pub enum Level: "probe level", default Video {
        /// A video: the mean of its clips' features (MARLIN's linear-probe protocol).
        Video = "video",
        /// A clip.
        Clip = "clip",
    }
}

/// One feature vector with its video, its clip (clip level) and its label text.
#[derive(Debug, Clone)]
pub struct Sample {
    pub video_id: String,
    /// What validation splits by: the video, or a `--group-column` (e.g. the source video of
    /// several edited copies), so related samples never sit on both sides.
    pub group: String,
    pub clip: Option<usize>,
    pub label: String,
    pub features: Vec<f64>,
    /// Where the clip came from (clip rows of a featurize output).
    pub source: Option<ClipSource>,
}

/// A clip's video file, frames, times, face track and mean face box (`x1, y1, x2, y2`) as
/// clips.csv records them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSource {
    pub path: String,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Seconds from the video's start to the clip's first frame and past its last.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// The face track (`--faces all`), if any.
    pub track: Option<u64>,
    pub face: Option<[f32; 4]>,
}

/// A featurisation output read for probing.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    pub dir: PathBuf,
    pub model: ModelInfo,
    pub dim: usize,
    /// Every clip row in file order: (video id, clip index, label, features).
    pub clips: Vec<Sample>,
}

impl FeatureSet {
    /// Reads `dir` (a featurize `--out` folder, `--layout rows`), taking labels from
    /// `label_column` of clips.csv and validation groups from `group_column` (default: the video).
    pub fn read(dir: &Path, label_column: &str, group_column: Option<&str>) -> Result<Self, ProbeError> {
        let file = |name: &str| dir.join(name);
        let bad = |path: PathBuf, reason: String| ProbeError::File { path, reason };
        let manifest_path = file("manifest.json");
        let text = marlin_npy::read_input_to_string(&manifest_path)
            .map_err(|e| bad(manifest_path.clone(), format!("{e} (not a `marlin featurize` output folder?)")))?;
        let manifest: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ProbeError::Json { path: manifest_path.clone(), source })?;
        let model: ModelInfo = serde_json::from_value(manifest["model"].clone())
            .map_err(|e| bad(manifest_path.clone(), format!("no model record: {e}")))?;
        let features_path = file("features.npy");
        let array = marlin_npy::read(&features_path)?;
        let marlin_npy::Data::F32(values) = array.data else { return Err(bad(features_path, "not float32".into())) };
        if array.shape.len() != 2 {
            return Err(bad(
                features_path,
                format!(
                    "rows of shape {:?}: probes take pooled features (featurize without --keep-seq)",
                    &array.shape[1..]
                ),
            ));
        }
        let (rows, dim) = (array.shape[0], array.shape[1]);
        let csv_path = file("clips.csv");
        let file =
            marlin_npy::open_input(&csv_path).map_err(|source| ProbeError::Io { path: csv_path.clone(), source })?;
        let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
        let headers = reader.headers().map_err(|source| ProbeError::Csv { path: csv_path.clone(), source })?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(vid), Some(clip)) = (col("video_id"), col("clip_index")) else {
            return Err(bad(csv_path, "no video_id/clip_index columns".into()));
        };
        // unlabelled videos (screening) have no label column: their labels are empty
        let label = col(label_column);
        let columns = headers.iter().collect::<Vec<_>>().join(", ");
        let group = match group_column {
            Some(g) => Some(col(g).ok_or_else(|| bad(csv_path.clone(), format!("no `{g}` column")))?),
            None => None,
        };
        let named = |name: &str| col(name);
        let (path_col, first_col, last_col) = (named("path"), named("first_frame"), named("last_frame"));
        let (start_col, end_col, track_col) = (named("start_s"), named("end_s"), named("track_id"));
        let box_cols: Option<Vec<usize>> =
            ["face_x1", "face_y1", "face_x2", "face_y2"].iter().map(|n| named(n)).collect();
        let source_of = |r: &csv::StringRecord| -> Option<ClipSource> {
            let face = box_cols.as_ref().and_then(|c| {
                let v: Option<Vec<f32>> = c.iter().map(|&i| r[i].parse().ok()).collect();
                v.map(|v| [v[0], v[1], v[2], v[3]])
            });
            Some(ClipSource {
                path: r[path_col?].to_string(),
                first_frame: r[first_col?].parse().ok()?,
                last_frame: r[last_col?].parse().ok()?,
                start_s: field(r, start_col),
                end_s: field(r, end_col),
                track: field(r, track_col),
                face,
            })
        };
        let mut clips = Vec::with_capacity(rows);
        for (k, record) in reader.records().enumerate() {
            let r = record.map_err(|source| ProbeError::Csv { path: csv_path.clone(), source })?;
            if k >= rows {
                return Err(bad(csv_path, format!("more lines than features.npy has rows ({rows})")));
            }
            clips.push(Sample {
                video_id: r[vid].to_string(),
                group: r[group.unwrap_or(vid)].to_string(),
                clip: r[clip].parse().ok(),
                label: label.map_or("", |l| r[l].trim()).to_string(),
                features: values[k * dim..(k + 1) * dim].iter().map(|&v| v as f64).collect(),
                source: source_of(&r),
            });
        }
        if clips.len() != rows {
            return Err(bad(csv_path, format!("{} lines for {rows} feature rows", clips.len())));
        }
        if label.is_none() {
            tracing::info!(
                "{}: no `{label_column}` column (columns: {columns}): the videos are unlabelled",
                csv_path.display()
            );
        }
        Ok(FeatureSet { dir: dir.to_path_buf(), model, dim, clips })
    }

    /// The samples at `level`: clips as they are, or one per video (mean of its clips, in
    /// first-appearance order). A video whose clips disagree on the label is an error.
    pub fn samples(&self, level: Level) -> Result<Vec<Sample>, ProbeError> {
        if level == Level::Clip {
            return Ok(self.clips.clone());
        }
        let mut order: Vec<String> = Vec::new();
        let mut acc: BTreeMap<String, (Sample, usize)> = BTreeMap::new();
        for c in &self.clips {
            match acc.get_mut(&c.video_id) {
                Some((s, n)) => {
                    if s.label != c.label || s.group != c.group {
                        return Err(ProbeError::Data(format!(
                            "video {} has clips labelled (or grouped) both {:?} and {:?}",
                            c.video_id, s.label, c.label
                        )));
                    }
                    s.features.iter_mut().zip(&c.features).for_each(|(a, b)| *a += b);
                    *n += 1;
                }
                None => {
                    order.push(c.video_id.clone());
                    acc.insert(c.video_id.clone(), (Sample { clip: None, source: None, ..c.clone() }, 1));
                }
            }
        }
        Ok(order
            .into_iter()
            .filter_map(|id| acc.remove(&id))
            .map(|(mut s, n)| {
                s.features.iter_mut().for_each(|v| *v /= n as f64);
                s
            })
            .collect())
    }
}

/// A column's value parsed, `None` when the column is absent or the field empty or malformed.
fn field<T: std::str::FromStr>(record: &csv::StringRecord, column: Option<usize>) -> Option<T> {
    column.and_then(|c| record.get(c)?.parse().ok())
}
