//! `marlin probe train|import|score`: linear probes on featurize outputs.

use std::path::Path;

use anyhow::{Context, Result, bail};
use marlin_batch::ModelInfo;
use marlin_probe::report::{ReportOptions, write_report};
use marlin_probe::score::{VideoScore, score, write_scores};
use marlin_probe::{FORMAT, FeatureSet, Probe, ProbeModel, TrainOptions, train};

use crate::args::{ProbeCommand, ScreenArgs};
use crate::featurize;

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
            let opts = TrainOptions { level, label_column, positive, val_fraction, folds, c, threshold };
            let probe = train(&set, &opts)?;
            report(&probe, &held_out);
            probe.save(&output)?;
            println!("probe written to {}", output.display());
        }
        ProbeCommand::Import { head, model, model_config, level, positive, negative, threshold, output } => {
            let file = marlin_hub::read_model(&model, model_config.read()?)?;
            let info = ModelInfo::of_checkpoint(&model, &file.path, &file.config)?;
            let (weights, bias) = marlin_probe::linear_head(&head, info.dim)?;
            let probe = Probe {
                format: FORMAT.into(),
                model: ProbeModel { architecture: info.architecture, sha256: info.sha256, dim: info.dim },
                level,
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
        ProbeCommand::Score { probe, features, video_score, out, report_top } => {
            let p = Probe::load(&probe)?;
            let rule: VideoScore = video_score.parse().map_err(anyhow::Error::msg)?;
            let report = ReportOptions { video_score: rule, cards: report_top };
            let set = FeatureSet::read(&features, &p.label_column, None)
                .with_context(|| format!("cannot read the features in {}", features.display()))?;
            let dir = out.unwrap_or_else(|| features.clone());
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let flagged = score_into(&dir, &p, &set, &report)?;
            println!("{} flagged {}; scores.csv and clip_scores.csv in {}", flagged, p.positive, dir.display());
        }
    }
    Ok(())
}

/// `marlin screen`: featurize, then score with the probe (whose model is checked first).
pub fn screen(args: ScreenArgs) -> anyhow::Result<std::process::ExitCode> {
    let probe = Probe::load(&args.probe)?;
    let rule: VideoScore = args.video_score.parse().map_err(anyhow::Error::msg)?;
    let report = ReportOptions { video_score: rule, cards: args.report_top };
    let (code, dir) = featurize::execute(args.featurize, |m| {
        Ok(probe.check_model(&args.probe, &m.architecture, Some(&m.sha256), m.dim)?)
    })?;
    let set = FeatureSet::read(&dir, &probe.label_column, None)?;
    score_into(&dir, &probe, &set, &report)?;
    Ok(code)
}

/// Scores `set` into `dir`: the two CSVs and the report; returns how many videos were flagged.
fn score_into(dir: &Path, probe: &Probe, set: &FeatureSet, report: &ReportOptions) -> Result<usize> {
    let (clips, videos) = score(probe, set, report.video_score)?;
    write_scores(dir, &clips, &videos)?;
    let flagged = videos.iter().filter(|v| v.label == probe.positive).count();
    eprintln!(
        "{} videos ({} clips) scored: {flagged} {}; see {}",
        videos.len(),
        clips.len(),
        probe.positive,
        dir.join("scores.csv").display()
    );
    let page = write_report(dir, probe, &set.dir, &clips, &videos, report)?;
    eprintln!("report: {}", page.display());
    Ok(flagged)
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
                p.level,
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
