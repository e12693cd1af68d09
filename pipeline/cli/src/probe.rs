//! `marlin probe train|import|score`: linear probes on featurize outputs.

use std::path::Path;

use anyhow::{Context, Result, bail};
use marlin_faces::crop::FACE_SIZE;
use marlin_faces::{Detection, SquareCrop};
use marlin_probe::report::{Evidence, write_report};
use marlin_probe::score::{ClipScore, VideoScore, VideoVerdict, score, write_scores};
use marlin_probe::{ClipSource, FORMAT, FeatureSet, Level, Probe, ProbeModel, TrainOptions, train};

use crate::args::{LevelArg, ModelArgs, PrecisionArg, ProbeCommand, ScreenArgs};
use crate::{featurize, model_source};

pub fn run(command: ProbeCommand) -> Result<()> {
    match command {
        ProbeCommand::Train {
            features,
            label_column,
            group_column,
            level,
            positive,
            val_fraction,
            folds,
            c,
            threshold,
            output,
        } => {
            if !(0.0..1.0).contains(&val_fraction) {
                bail!("--val-fraction must be in [0, 1), got {val_fraction}");
            }
            let set = FeatureSet::read(&features, &label_column, group_column.as_deref())?;
            let held_out = if val_fraction == 0.0 {
                "(--val-fraction 0)".to_string()
            } else {
                let groups = set.clips.iter().map(|c| c.group.as_str()).collect::<std::collections::HashSet<_>>();
                format!(
                    "(none of the {} {} fell in the --val-fraction {val_fraction} held out: use more of them, or --folds)",
                    groups.len(),
                    group_column.as_ref().map_or("videos".to_string(), |g| format!("`{g}` groups"))
                )
            };
            let opts =
                TrainOptions { level: level_of(level), label_column, positive, val_fraction, folds, c, threshold };
            let probe = train(&set, &opts)?;
            report(&probe, &held_out);
            probe.save(&output)?;
            println!("probe written to {}", output.display());
        }
        ProbeCommand::Import { head, model, config, level, positive, negative, threshold, output } => {
            let spec = model.clone();
            let (cfg, _, path) =
                model_source::read(&ModelArgs { model, config, threads: 1, precision: PrecisionArg::F32 })?;
            let info = model_source::info(&spec, &path, &cfg)?;
            let (weights, bias) = marlin_probe::linear_head(&head, info.dim)?;
            let probe = Probe {
                format: FORMAT.into(),
                model: ProbeModel { architecture: info.architecture, sha256: info.sha256, dim: info.dim },
                level: level_of(level),
                label_column: "label".into(),
                positive,
                negative,
                mean: vec![0.0; info.dim],
                std: vec![1.0; info.dim],
                weights,
                bias,
                threshold,
                threshold_rule: threshold.to_string(),
                c: None,
                validation: None,
                source: format!("imported from {}", head.display()),
            };
            probe.save(&output)?;
            println!("probe written to {}", output.display());
        }
        ProbeCommand::Score { probe, features, video_score, out } => {
            let p = Probe::load(&probe)?;
            let rule: VideoScore = video_score.parse().map_err(anyhow::Error::msg)?;
            let set = FeatureSet::read(&features, &p.label_column, None)
                .with_context(|| format!("cannot read the features in {}", features.display()))?;
            let dir = out.unwrap_or_else(|| features.clone());
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let flagged = score_into(&dir, &p, &set, rule)?;
            println!("{} flagged {}; scores.csv and clip_scores.csv in {}", flagged, p.positive, dir.display());
        }
    }
    Ok(())
}

/// `marlin screen`: featurize, then score with the probe (whose model is checked first).
pub fn screen(args: ScreenArgs) -> anyhow::Result<std::process::ExitCode> {
    let probe = Probe::load(&args.probe)?;
    let rule: VideoScore = args.video_score.parse().map_err(anyhow::Error::msg)?;
    let (code, dir) = featurize::execute(args.featurize, |m| {
        Ok(probe.check_model(&args.probe, &m.architecture, Some(&m.sha256), m.dim)?)
    })?;
    let set = FeatureSet::read(&dir, &probe.label_column, None)?;
    score_into(&dir, &probe, &set, rule)?;
    Ok(code)
}

/// Scores `set` into `dir` (the two CSVs, and `report.html` when the videos carry labels);
/// returns how many videos were flagged.
fn score_into(dir: &Path, probe: &Probe, set: &FeatureSet, rule: VideoScore) -> Result<usize> {
    let (clips, videos) = score(probe, set, rule)?;
    write_scores(dir, &clips, &videos)?;
    let flagged: Vec<&VideoVerdict> = videos.iter().filter(|v| v.label == probe.positive).collect();
    eprintln!(
        "{} videos ({} clips) scored: {} {}; see {}",
        videos.len(),
        clips.len(),
        flagged.len(),
        probe.positive,
        dir.join("scores.csv").display()
    );
    if videos.iter().any(|v| v.truth == probe.positive || v.truth == probe.negative) {
        let evidence: Vec<Evidence> = flagged.iter().map(|v| evidence(set, &clips, v)).collect();
        let page = write_report(dir, probe, &videos, &evidence)?;
        eprintln!("report: {}", page.display());
    }
    Ok(flagged.len())
}

/// A flagged video's clip scores and the face of its most suspicious clip.
fn evidence(set: &FeatureSet, clips: &[ClipScore], v: &VideoVerdict) -> Evidence {
    let mine: Vec<&ClipScore> = clips.iter().filter(|c| c.video_id == v.video_id).collect();
    let worst = mine.iter().max_by(|a, b| a.probability.total_cmp(&b.probability));
    let source = worst
        .and_then(|w| set.clips.iter().find(|s| s.video_id == v.video_id && s.clip == w.clip))
        .and_then(|s| s.source.clone());
    let face = source.and_then(|s| match face_of(&s) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!("{}: no face picture for the report: {e:#}", s.path);
            None
        }
    });
    Evidence {
        video_id: v.video_id.clone(),
        score: v.score,
        clip_probabilities: mine.iter().map(|c| c.probability).collect(),
        face,
    }
}

/// The middle frame of a clip, cropped to its mean face box (or the centre square), 224².
fn face_of(s: &ClipSource) -> Result<(Vec<u8>, usize, usize)> {
    let target = (s.first_frame + s.last_frame) / 2;
    let mut reader = marlin_media::VideoReader::open(Path::new(&s.path), marlin_media::DecodeOptions::default())?;
    let image = loop {
        let convert = reader.frames_decoded() == target;
        match reader.next_frame(convert)? {
            Some(f) if convert => break f.image.context("a frame without pixels")?,
            Some(_) => {}
            None => bail!("the video ends before frame {target}"),
        }
    };
    let (w, h) = (image.width as usize, image.height as usize);
    let square = match s.face {
        Some([x1, y1, x2, y2]) => {
            SquareCrop::around(&Detection { x1, y1, x2, y2, score: 1.0, landmarks: [[0.0; 2]; 5] })
        }
        None => SquareCrop { cx: (w / 2) as i64, cy: (h / 2) as i64, half: (w.min(h) / 2).max(1) as i64 },
    };
    Ok((square.face(&image.data, w, h), FACE_SIZE, FACE_SIZE))
}

fn level_of(l: LevelArg) -> Level {
    match l {
        LevelArg::Video => Level::Video,
        LevelArg::Clip => Level::Clip,
    }
}

/// Prints how the probe validated; `held_out` says why no video was held out, if none was.
fn report(p: &Probe, held_out: &str) {
    match &p.validation {
        Some(v) => {
            let c = &v.confusion;
            println!(
                "validation ({}, {} {}s): AUC {} EER {:.4} accuracy {:.4} at threshold {:.4} ({})",
                v.method,
                v.samples,
                match p.level {
                    Level::Video => "video",
                    Level::Clip => "clip",
                },
                v.auc.map_or("n/a".into(), |a| format!("{a:.4}")),
                v.eer,
                v.accuracy,
                p.threshold,
                p.threshold_rule
            );
            println!(
                "confusion ({} positive): TP {} FP {} TN {} FN {}",
                p.positive, c.true_positives, c.false_positives, c.true_negatives, c.false_negatives
            );
        }
        None => {
            println!("no validation videos {held_out}: threshold {:.4} from the training scores", p.threshold)
        }
    }
}
