//! Scoring a featurisation output with a probe: a probability per clip, one per video
//! (mean, max or top-k mean of its clips' — or the probe's own per-video mean for a
//! video-level probe), the label at the probe's threshold; written as CSV files (sorted by
//! video id) through a rename. The report shows the same numbers through [`format_probability`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::{ClipSource, FeatureSet, Level, Probe, ProbeError};

/// How a video's score comes from its clips'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoScore {
    /// Mean of the clip probabilities (for a video-level probe: the probe on the clips' mean
    /// features, as it was trained).
    Mean,
    Max,
    /// Mean of the k highest clip probabilities.
    TopK(usize),
}

impl std::str::FromStr for VideoScore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "max" => Ok(Self::Max),
            _ => s
                .strip_prefix("top")
                .and_then(|k| k.trim_start_matches(['-', '_', ':']).parse().ok())
                .filter(|k| *k > 0)
                .map(Self::TopK)
                .ok_or_else(|| format!("video score {s:?}: use mean, max or topK (top3…)")),
        }
    }
}

impl std::fmt::Display for VideoScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mean => f.write_str("mean"),
            Self::Max => f.write_str("max"),
            Self::TopK(k) => write!(f, "top{k}"),
        }
    }
}

/// A probability or score as the CSV files (and the report) write it.
pub fn format_probability(p: f64) -> String {
    format!("{p:.6}")
}

/// Seconds as clips.csv writes them.
pub fn format_seconds(t: f64) -> String {
    format!("{t:.3}")
}

/// One clip's score.
#[derive(Debug, Clone)]
pub struct ClipScore {
    pub video_id: String,
    pub clip: Option<usize>,
    pub probability: f64,
    /// Where the clip came from (file, frames, times, face), when clips.csv says.
    pub source: Option<ClipSource>,
}

/// One video's score.
#[derive(Debug, Clone)]
pub struct VideoVerdict {
    pub video_id: String,
    /// The video file as clips.csv names it (empty when it does not).
    pub path: String,
    /// The label given in the features' table, if any.
    pub truth: String,
    pub clips: usize,
    pub score: f64,
    pub label: String,
}

/// Scores every clip and video of `set`.
pub fn score(
    probe: &Probe,
    set: &FeatureSet,
    rule: VideoScore,
) -> Result<(Vec<ClipScore>, Vec<VideoVerdict>), ProbeError> {
    probe.check_model(&set.dir, &set.model.architecture, Some(&set.model.sha256), set.dim)?;
    let clips: Vec<ClipScore> = set
        .clips
        .iter()
        .map(|c| ClipScore {
            video_id: c.video_id.clone(),
            clip: c.clip,
            probability: probe.probability(&c.features),
            source: c.source.clone(),
        })
        .collect();
    let mut paths: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &clips {
        if let Some(s) = &c.source {
            paths.entry(&c.video_id).or_insert(&s.path);
        }
    }
    let mut per_video: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for c in &clips {
        per_video.entry(&c.video_id).or_default().push(c.probability);
    }
    let means: BTreeMap<String, f64> = match (probe.level, rule) {
        (Level::Video, VideoScore::Mean) => set
            .samples(Level::Video)?
            .into_iter()
            .map(|s| (s.video_id.clone(), probe.probability(&s.features)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut videos = Vec::new();
    for s in set.samples(Level::Video)? {
        let mut p = per_video.remove(s.video_id.as_str()).unwrap_or_default();
        p.sort_by(|a, b| b.total_cmp(a));
        let score = match rule {
            VideoScore::Mean => {
                means.get(&s.video_id).copied().unwrap_or_else(|| p.iter().sum::<f64>() / p.len().max(1) as f64)
            }
            VideoScore::Max => p.first().copied().unwrap_or(0.0),
            VideoScore::TopK(k) => p.iter().take(k).sum::<f64>() / p.len().min(k).max(1) as f64,
        };
        videos.push(VideoVerdict {
            label: probe.label(score).to_string(),
            path: paths.get(s.video_id.as_str()).map_or_else(String::new, |p| p.to_string()),
            video_id: s.video_id,
            truth: s.label,
            clips: p.len(),
            score,
        });
    }
    // by video id, whatever order the videos finished in
    videos.sort_by(|a, b| a.video_id.cmp(&b.video_id));
    let mut clips = clips;
    clips.sort_by(|a, b| {
        (&a.video_id, a.clip, a.source.as_ref().and_then(|s| s.track)).cmp(&(
            &b.video_id,
            b.clip,
            b.source.as_ref().and_then(|s| s.track),
        ))
    });
    Ok((clips, videos))
}

/// Writes `clip_scores.csv` (`video_id, clip_index, probability, track_id, start_s, end_s`) and
/// `scores.csv` (`video_id, clips, score, label, truth, path`) into `dir`.
pub fn write_scores(dir: &Path, clips: &[ClipScore], videos: &[VideoVerdict]) -> Result<(), ProbeError> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    write_csv(
        &dir.join("clip_scores.csv"),
        &["video_id", "clip_index", "probability", "track_id", "start_s", "end_s"],
        clips.iter().map(|c| {
            let s = c.source.as_ref();
            vec![
                c.video_id.clone(),
                opt(c.clip.map(|k| k.to_string())),
                format_probability(c.probability),
                opt(s.and_then(|s| s.track).map(|t| t.to_string())),
                opt(s.and_then(|s| s.start_s).map(format_seconds)),
                opt(s.and_then(|s| s.end_s).map(format_seconds)),
            ]
        }),
    )?;
    write_csv(
        &dir.join("scores.csv"),
        &["video_id", "clips", "score", "label", "truth", "path"],
        videos.iter().map(|v| {
            vec![
                v.video_id.clone(),
                v.clips.to_string(),
                format_probability(v.score),
                v.label.clone(),
                v.truth.clone(),
                v.path.clone(),
            ]
        }),
    )
}

fn write_csv(path: &Path, header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<(), ProbeError> {
    let csv_error = |source| ProbeError::Csv { path: path.to_path_buf(), source };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(csv_error)?;
    for r in rows {
        w.write_record(&r).map_err(csv_error)?;
    }
    let bytes = w.into_inner().map_err(|e| ProbeError::Io { path: path.to_path_buf(), source: e.into_error() })?;
    Ok(marlin_npy::write_atomic(path, &bytes)?)
}
