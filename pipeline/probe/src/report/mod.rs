//! The screening report: `DIR/report/index.html`, one self-contained page (inline SVG charts,
//! CSS and script; no server, no network, works from `file://`) with its face thumbnails in
//! `DIR/report/faces/`, a folder to zip and send. It shows the ROC curve and the confusion counts
//! when the videos carry labels, the histogram of video scores, every video in a sortable,
//! filterable, paged table, a threshold slider that relabels them live, and for the flagged videos
//! (the highest-scored first) a timeline of clip probabilities over seconds, the faces of the three
//! most suspicious clips and a player of the source that seeks to a clip when its bar is clicked.
//! The numbers are the CSVs' (`scores.csv`, `clip_scores.csv`).

mod charts;
mod faces;
mod links;
mod page;
mod scale;
mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marlin_batch::tables::{Failure, read_failures};

use crate::metrics::{Confusion, auc, roc};
use crate::score::{ClipScore, VideoScore, VideoVerdict, format_probability, format_seconds};
use crate::{Probe, ProbeError};
use charts::{Series, TimelineBar};
use links::{VideoLink, video_link};
use scale::logit;

/// How many flagged videos get a card (timeline, faces, player) unless told otherwise.
pub const DEFAULT_CARDS: usize = 100;
/// Without any flagged video, the highest-scored get cards all the same, at most this many.
const UNFLAGGED_CARDS: usize = 3;
/// The faces shown per card: its most suspicious clips.
const FACES_PER_CARD: usize = 3;

/// What the report is made with beside the scores.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// How the video scores came from the clips' (said in the page).
    pub video_score: VideoScore,
    /// At most this many flagged videos get a card; all of them are in the table.
    pub cards: usize,
}

/// A video with a card: its evidence.
struct Card<'a> {
    video: &'a VideoVerdict,
    rank: usize,
    link: VideoLink,
    timeline: String,
    /// The most suspicious clip's start and end second, where the player opens.
    opening: Option<(f64, f64)>,
    faces: Vec<Face>,
}

/// A face thumbnail of a card and its clip.
struct Face {
    /// The image, relative to the report folder.
    file: String,
    caption: String,
    span: Option<(f64, f64)>,
    /// Why there is no image.
    error: Option<String>,
}

/// Writes the report for the scored `videos` and `clips` (as `score` returned them) under `dir`
/// (`dir/report/`, replacing an earlier one only once the new one is complete); the failed videos
/// come from `features_dir/failures.csv`. Returns the page's path.
pub fn write_report(
    dir: &Path,
    probe: &Probe,
    features_dir: &Path,
    clips: &[ClipScore],
    videos: &[VideoVerdict],
    options: &ReportOptions,
) -> Result<PathBuf, ProbeError> {
    let target = dir.join("report");
    let staging = dir.join(format!(".report.{}.partial", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| ProbeError::Io { path, source }
    };
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("faces")).map_err(io(&staging))?;
    let written = (|| {
        let html = render(&staging, &target, probe, features_dir, clips, videos, options)?;
        std::fs::write(staging.join("index.html"), html).map_err(io(&staging.join("index.html")))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let old = dir.join(format!(".report.{}.old", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(target.join("index.html"))
}

/// The page, its thumbnails written into `staging` (which becomes `target`).
fn render(
    staging: &Path,
    target: &Path,
    probe: &Probe,
    features_dir: &Path,
    clips: &[ClipScore],
    videos: &[VideoVerdict],
    options: &ReportOptions,
) -> Result<String, ProbeError> {
    let cwd = std::env::current_dir().map_err(|source| ProbeError::Io { path: ".".into(), source })?;
    let links: Vec<VideoLink> = videos.iter().map(|v| video_link(&v.path, target, &cwd)).collect();
    let domain = domain(videos.iter().map(|v| v.score).chain(clips.iter().map(|c| c.probability)), probe.threshold);

    // the highest scores first; cards for the flagged ones (or the top few when none is)
    let mut ranked: Vec<usize> = (0..videos.len()).collect();
    ranked.sort_by(|&a, &b| {
        videos[b].score.total_cmp(&videos[a].score).then(videos[a].video_id.cmp(&videos[b].video_id))
    });
    let flagged = videos.iter().filter(|v| v.label == probe.positive).count();
    let shown =
        if flagged > 0 { flagged.min(options.cards) } else { videos.len().min(options.cards).min(UNFLAGGED_CARDS) };
    let mut card_of = vec![None; videos.len()];
    let mut rank_of = vec![0; videos.len()];
    for (r, &i) in ranked.iter().enumerate() {
        rank_of[i] = r + 1;
        card_of[i] = (r < shown).then_some(r);
    }
    let mut by_video: BTreeMap<&str, Vec<&ClipScore>> = BTreeMap::new();
    for c in clips {
        by_video.entry(&c.video_id).or_default().push(c);
    }
    let carded: Vec<(usize, &[&ClipScore])> = ranked[..shown]
        .iter()
        .map(|&i| (i, by_video.get(videos[i].video_id.as_str()).map_or(&[][..], |c| c.as_slice())))
        .collect();
    let cards = cards(&carded, videos, &links, domain, probe.threshold, staging);

    let labelled: Vec<&VideoVerdict> =
        videos.iter().filter(|v| v.truth == probe.positive || v.truth == probe.negative).collect();
    let scores: Vec<f64> = labelled.iter().map(|v| v.score).collect();
    let truth: Vec<bool> = labelled.iter().map(|v| v.truth == probe.positive).collect();
    Ok(page::render(&page::Page {
        probe,
        video_score: options.video_score,
        videos,
        links: &links,
        card_of: &card_of,
        rank_of: &rank_of,
        clips: clips.len(),
        flagged,
        cards: &cards,
        confusion: (!labelled.is_empty()).then(|| Confusion::at(&scores, &truth, probe.threshold)),
        roc: roc_chart(probe, &scores, &truth),
        histogram: histogram(probe, videos, domain),
        domain,
        failures: &failures(features_dir),
    }))
}

/// The cards of `carded` (each video's index and clips), their face thumbnails written.
fn cards<'a>(
    carded: &[(usize, &[&ClipScore])],
    videos: &'a [VideoVerdict],
    links: &[VideoLink],
    domain: (f64, f64),
    threshold: f64,
    staging: &Path,
) -> Vec<Card<'a>> {
    let (mut cards, thumbnails): (Vec<Card>, Vec<Vec<faces::Thumbnail>>) = carded
        .iter()
        .enumerate()
        .map(|(k, &(i, clips))| card(k, &videos[i], links[i].clone(), clips, domain, threshold, staging))
        .unzip();
    for (card, results) in cards.iter_mut().zip(faces::write_all(thumbnails)) {
        let made = card.faces.iter_mut().filter(|f| f.error.is_none());
        for (face, result) in made.zip(results) {
            if let Err(e) = result {
                tracing::warn!("{}: no face picture for the report: {e}", card.video.path);
                face.error = Some(e);
            }
        }
    }
    cards
}

/// The ROC curve of the labelled videos' `scores` (`truth`: positive), with the probe's operating
/// point; none without both classes.
fn roc_chart(probe: &Probe, scores: &[f64], truth: &[bool]) -> Option<String> {
    let area = auc(scores, truth)?;
    let points: Vec<(f64, f64)> = roc(scores, truth).into_iter().map(|(f, t, _)| (f, t)).collect();
    let c = Confusion::at(scores, truth, probe.threshold);
    let rate = |a: usize, b: usize| a as f64 / (a + b).max(1) as f64;
    let operating = (rate(c.false_positives, c.true_negatives), rate(c.true_positives, c.false_negatives));
    let positives = truth.iter().filter(|t| **t).count();
    let classes = (probe.positive.as_str(), positives, probe.negative.as_str(), truth.len() - positives);
    Some(charts::roc(&points, area, operating, probe.threshold, classes))
}

/// The histogram of the video scores: negatives, positives and unlabelled videos as series.
fn histogram(probe: &Probe, videos: &[VideoVerdict], domain: (f64, f64)) -> String {
    let of = |truth: &dyn Fn(&str) -> bool| videos.iter().filter(|v| truth(&v.truth)).map(|v| v.score).collect();
    let unlabelled: Vec<f64> = of(&|t| t != probe.positive && t != probe.negative);
    let mut series = Vec::new();
    if unlabelled.len() < videos.len() {
        series.push(Series { name: probe.negative.clone(), class: "neg", scores: of(&|t| t == probe.negative) });
        series.push(Series { name: probe.positive.clone(), class: "pos", scores: of(&|t| t == probe.positive) });
    }
    if !unlabelled.is_empty() {
        let name = if series.is_empty() { "videos" } else { "unlabelled" };
        series.push(Series { name: name.into(), class: "unl", scores: unlabelled });
    }
    charts::histogram(&series, domain, probe.threshold)
}

/// The videos featurize could not read (`failures.csv` beside the features), if it says.
fn failures(features_dir: &Path) -> Vec<Failure> {
    let path = features_dir.join("failures.csv");
    if !path.is_file() {
        return Vec::new();
    }
    read_failures(&path).unwrap_or_else(|e| {
        tracing::warn!("the report leaves the failed videos out: {e}");
        Vec::new()
    })
}

/// The logit axis shared by the histogram, the timelines and the slider: every score and clip
/// probability and the threshold, with a margin (at least one logit wide).
fn domain(values: impl Iterator<Item = f64>, threshold: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (logit(threshold), logit(threshold));
    for v in values.map(logit) {
        (lo, hi) = (lo.min(v), hi.max(v));
    }
    if hi - lo < 1.0 {
        let mid = (lo + hi) / 2.0;
        (lo, hi) = (mid - 0.5, mid + 0.5);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Card `k` of `video`: its timeline and the thumbnails to make of its most suspicious clips
/// (under `staging/faces/`).
fn card<'a>(
    k: usize,
    video: &'a VideoVerdict,
    link: VideoLink,
    clips: &[&ClipScore],
    domain: (f64, f64),
    threshold: f64,
    staging: &Path,
) -> (Card<'a>, Vec<faces::Thumbnail>) {
    let span = |c: &ClipScore| c.source.as_ref().and_then(|s| Some((s.start_s?, s.end_s?)));
    let seconds = !clips.is_empty() && clips.iter().all(|c| span(c).is_some());
    let extent = |j: usize, c: &ClipScore| match span(c) {
        Some(s) if seconds => s,
        _ => (j as f64, j as f64 + 1.0),
    };
    let caption = |j: usize, c: &ClipScore| {
        let (a, b) = extent(j, c);
        let mut text = format!("clip {}", c.clip.map_or_else(|| j.to_string(), |i| i.to_string()));
        if let Some(t) = c.source.as_ref().and_then(|s| s.track) {
            text.push_str(&format!(" (face {t})"));
        }
        if seconds {
            text.push_str(&format!(" · {}–{} s", format_seconds(a), format_seconds(b)));
        }
        text.push_str(&format!(" · probability {}", format_probability(c.probability)));
        text
    };
    let spans: Vec<(f64, f64)> = clips.iter().enumerate().map(|(j, c)| extent(j, c)).collect();
    let bars: Vec<TimelineBar> = clips
        .iter()
        .zip(&spans)
        .zip(lanes(&spans))
        .enumerate()
        .map(|(j, ((c, &(start, end)), (lane, lanes)))| TimelineBar {
            clip: c.clip.unwrap_or(j),
            start,
            end,
            probability: c.probability,
            tip: caption(j, c),
            lane,
            lanes,
        })
        .collect();
    let timeline = charts::timeline(k, &bars, domain, threshold, seconds);

    let mut order: Vec<usize> = (0..clips.len()).collect();
    order.sort_by(|&a, &b| clips[b].probability.total_cmp(&clips[a].probability).then(a.cmp(&b)));
    let mut faces = Vec::new();
    let mut thumbs = Vec::new();
    for (n, &j) in order.iter().take(FACES_PER_CARD).enumerate() {
        let c = clips[j];
        let file = format!("faces/{k}-{n}.jpg");
        let error = match &c.source {
            Some(source) => {
                thumbs.push(faces::Thumbnail { source: source.clone(), file: staging.join(&file) });
                None
            }
            None => Some("clips.csv gives no frames for this clip".to_string()),
        };
        faces.push(Face { file, caption: caption(j, c), span: seconds.then(|| extent(j, c)), error });
    }
    let opening = order.first().filter(|_| seconds).map(|&j| extent(j, clips[j]));
    (Card { video, rank: k + 1, link, timeline, opening, faces }, thumbs)
}

/// For each span, its place among the spans equal to it and how many they are: clips over the
/// same frames (of several face tracks) stand side by side.
fn lanes(spans: &[(f64, f64)]) -> Vec<(usize, usize)> {
    spans
        .iter()
        .enumerate()
        .map(|(j, s)| (spans[..j].iter().filter(|t| *t == s).count(), spans.iter().filter(|t| *t == s).count()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_over_the_same_frames_share_their_span() {
        let spans = [(0.0, 1.0), (0.0, 1.0), (1.0, 2.0), (0.0, 1.0)];
        assert_eq!(lanes(&spans), [(0, 3), (1, 3), (0, 1), (2, 3)]);
    }

    #[test]
    fn the_axis_holds_every_score_and_the_threshold() {
        let (lo, hi) = domain([0.986, 0.9998].into_iter(), 0.5);
        assert!(lo < logit(0.5) && hi > logit(0.9998), "{lo} {hi}");
        // one score: an axis a logit wide around it
        let (lo, hi) = domain([0.9].into_iter(), 0.9);
        assert!((hi - lo - 1.1).abs() < 1e-9 && lo < logit(0.9) && logit(0.9) < hi);
    }
}
