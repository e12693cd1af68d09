//! Training a probe on a featurisation output: samples per video or per clip, a validation
//! split by video (or k folds of videos), the threshold from the validation scores.

use marlin_batch::shard::fnv1a;

use crate::logistic::{Logistic, balanced_weights, fit};
use crate::metrics::{Confusion, auc, equal_error_rate, threshold_at_fpr};
use crate::probe::FORMAT;
use crate::{FeatureSet, Level, Probe, ProbeError, ProbeModel, Sample, ValidationReport};

/// How the decision threshold is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// At the equal error rate of the validation scores.
    Eer,
    /// The lowest with at most this false positive rate on the validation scores.
    Fpr(f64),
}

impl std::str::FromStr for ThresholdRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix("fpr=").or_else(|| s.strip_prefix("fpr:")) {
            None if s == "eer" => Ok(Self::Eer),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|f| (0.0..=1.0).contains(f))
                .map(Self::Fpr)
                .ok_or_else(|| format!("bad false positive rate in {s:?}")),
            None => Err(format!("threshold rule {s:?}: use eer or fpr=0.01")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub level: Level,
    pub label_column: String,
    /// The label scored as positive; default `fake` or `1`, whichever the labels hold.
    pub positive: Option<String>,
    /// Fraction of the videos held out for validation (ignored with `folds`).
    pub val_fraction: f64,
    /// k-fold cross-validation over videos (the final probe is trained on every video).
    pub folds: Option<usize>,
    /// Inverse L2 strength.
    pub c: f64,
    pub threshold: ThresholdRule,
}

/// Refuses labelled feature rows holding NaN or infinity, naming the rows (of features.npy) and
/// the columns.
fn check_finite(set: &FeatureSet) -> Result<(), ProbeError> {
    let mut rows = Vec::new();
    let mut columns = std::collections::BTreeSet::new();
    for (row, clip) in set.clips.iter().enumerate().filter(|(_, c)| !c.label.is_empty()) {
        let bad: Vec<usize> = (0..clip.features.len()).filter(|&j| !clip.features[j].is_finite()).collect();
        if !bad.is_empty() {
            rows.push(row);
            columns.extend(bad);
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let list = |v: &mut dyn Iterator<Item = usize>, n: usize| {
        let shown: Vec<String> = v.take(10).map(|x| x.to_string()).collect();
        if n > 10 { format!("{}, …", shown.join(", ")) } else { shown.join(", ") }
    };
    Err(ProbeError::Data(format!(
        "{}: features.npy holds NaN or infinite values in {} row(s) ({}) and {} column(s) ({}); a probe cannot be trained on them (featurize those videos again)",
        set.dir.display(),
        rows.len(),
        list(&mut rows.iter().copied(), rows.len()),
        columns.len(),
        list(&mut columns.iter().copied(), columns.len()),
    )))
}

/// Trains a probe on `set`.
pub fn train(set: &FeatureSet, opts: &TrainOptions) -> Result<Probe, ProbeError> {
    check_finite(set)?;
    let samples: Vec<Sample> = set.samples(opts.level)?.into_iter().filter(|s| !s.label.is_empty()).collect();
    if samples.is_empty() {
        return Err(ProbeError::Data(format!(
            "{}: no labelled videos (clips.csv needs a `{}` column: featurize a manifest CSV with one)",
            set.dir.display(),
            opts.label_column
        )));
    }
    let mut labels: Vec<String> = samples.iter().map(|s| s.label.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() != 2 {
        return Err(ProbeError::Data(format!(
            "the `{}` column must hold exactly two labels; it holds {labels:?}",
            opts.label_column
        )));
    }
    let positive = match &opts.positive {
        Some(p) if labels.contains(p) => p.clone(),
        Some(p) => return Err(ProbeError::Data(format!("--positive {p:?} is not one of the labels {labels:?}"))),
        None => ["fake", "1"]
            .into_iter()
            .find(|p| labels.iter().any(|l| l == p))
            .map(String::from)
            .ok_or_else(|| ProbeError::Data(format!("which of {labels:?} is positive? name it with --positive")))?,
    };
    let negative = labels.iter().find(|l| **l != positive).cloned().unwrap_or_default();
    let y: Vec<bool> = samples.iter().map(|s| s.label == positive).collect();

    // held-out scores: (probability, label) over validation videos or out of fold
    let groups = samples.iter().map(|s| s.group.as_str()).collect::<std::collections::HashSet<_>>().len();
    let (held_out, method) = match opts.folds {
        Some(k) if k > groups => {
            return Err(ProbeError::Data(format!(
                "--folds {k}: there are only {groups} labelled videos (or groups) to split into folds"
            )));
        }
        Some(k) if k >= 2 => {
            let mut scores = Vec::new();
            for f in 0..k {
                let train_idx: Vec<usize> =
                    (0..samples.len()).filter(|&i| fold_of(&samples[i].group, k) != f).collect();
                let test_idx: Vec<usize> = (0..samples.len()).filter(|&i| fold_of(&samples[i].group, k) == f).collect();
                if test_idx.is_empty() {
                    continue;
                }
                let fitted = Fitted::new(&samples, &y, &train_idx, opts.c)?;
                scores.extend(test_idx.iter().map(|&i| (fitted.probability(&samples[i].features), y[i])));
            }
            (scores, format!("{k}-fold"))
        }
        Some(k) => return Err(ProbeError::Data(format!("--folds must be at least 2, got {k}"))),
        None => {
            let val: Vec<usize> =
                (0..samples.len()).filter(|&i| in_validation(&samples[i].group, opts.val_fraction)).collect();
            let train_idx: Vec<usize> =
                (0..samples.len()).filter(|&i| !in_validation(&samples[i].group, opts.val_fraction)).collect();
            let fitted = Fitted::new(&samples, &y, &train_idx, opts.c)?;
            (val.iter().map(|&i| (fitted.probability(&samples[i].features), y[i])).collect(), "split".to_string())
        }
    };
    let all: Vec<usize> = (0..samples.len()).collect();
    let final_idx: Vec<usize> = if opts.folds.is_some() {
        all
    } else {
        all.into_iter().filter(|&i| !in_validation(&samples[i].group, opts.val_fraction)).collect()
    };
    let fitted = Fitted::new(&samples, &y, &final_idx, opts.c)?;
    // without held-out samples the threshold comes from the training scores
    let scored: Vec<(f64, bool)> = if held_out.is_empty() {
        final_idx.iter().map(|&i| (fitted.probability(&samples[i].features), y[i])).collect()
    } else {
        held_out.clone()
    };
    let (s, l): (Vec<f64>, Vec<bool>) = scored.iter().copied().unzip();
    let (eer, eer_threshold) = equal_error_rate(&s, &l);
    let (threshold, rule) = match opts.threshold {
        ThresholdRule::Eer => (eer_threshold, "eer".to_string()),
        ThresholdRule::Fpr(f) => (threshold_at_fpr(&s, &l, f), format!("fpr={f}")),
    };
    let threshold = if threshold.is_finite() { threshold } else { 1.0 };
    let validation = (!held_out.is_empty()).then(|| {
        let confusion = Confusion::at(&s, &l, threshold);
        ValidationReport { method, samples: s.len(), auc: auc(&s, &l), eer, accuracy: confusion.accuracy(), confusion }
    });
    let Fitted { mean, std, model } = fitted;
    Ok(Probe {
        format: FORMAT.into(),
        model: ProbeModel {
            architecture: set.model.architecture.clone(),
            sha256: set.model.sha256.clone(),
            dim: set.dim,
        },
        level: opts.level,
        label_column: opts.label_column.clone(),
        positive,
        negative,
        mean,
        std,
        weights: model.weights,
        bias: model.bias,
        threshold,
        threshold_rule: rule,
        c: Some(opts.c),
        validation,
        source: format!("trained on {}", set.dir.display()),
    })
}

/// A linear layer fitted on standardised features, with the standardisation.
struct Fitted {
    mean: Vec<f64>,
    std: Vec<f64>,
    model: Logistic,
}

impl Fitted {
    /// Standardises on the `idx` samples and fits the linear layer.
    fn new(samples: &[Sample], y: &[bool], idx: &[usize], c: f64) -> Result<Self, ProbeError> {
        if idx.is_empty() {
            return Err(ProbeError::Data("no training samples left after the validation split".into()));
        }
        let d = samples[idx[0]].features.len();
        let n = idx.len() as f64;
        let mut mean = vec![0f64; d];
        for &i in idx {
            mean.iter_mut().zip(&samples[i].features).for_each(|(m, v)| *m += v / n);
        }
        let mut std = vec![0f64; d];
        for &i in idx {
            std.iter_mut().zip(&samples[i].features).zip(&mean).for_each(|((s, v), m)| *s += (v - m) * (v - m) / n);
        }
        let std: Vec<f64> = std.into_iter().map(|v| if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 }).collect();
        let x: Vec<Vec<f64>> = idx.iter().map(|&i| standardise(&samples[i].features, &mean, &std)).collect();
        let labels: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
        let model = fit(&x, &labels, &balanced_weights(&labels), c)?;
        Ok(Fitted { mean, std, model })
    }

    fn probability(&self, features: &[f64]) -> f64 {
        self.model.probability(&standardise(features, &self.mean, &self.std))
    }
}

fn standardise(features: &[f64], mean: &[f64], std: &[f64]) -> Vec<f64> {
    features.iter().zip(mean).zip(std).map(|((v, m), s)| (v - m) / s).collect()
}

fn in_validation(id: &str, fraction: f64) -> bool {
    (fnv1a(id.as_bytes()) % 10_000) as f64 / 10_000.0 < fraction
}

fn fold_of(id: &str, k: usize) -> usize {
    (fnv1a(id.as_bytes()) % k as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use marlin_batch::ModelInfo;

    /// 40 videos of 3 clips in 4-D: fakes shifted along the first feature.
    fn set() -> FeatureSet {
        let mut clips = Vec::new();
        for v in 0..40 {
            let fake = v % 3 == 0;
            for c in 0..3 {
                let noise = |j: usize| ((v * 7 + c * 3 + j * 11) as f64 * 0.618).sin();
                let features = (0..4).map(|j| noise(j) + if fake && j == 0 { 2.0 } else { 0.0 }).collect();
                clips.push(Sample {
                    video_id: format!("v{v}"),
                    group: format!("v{v}"),
                    clip: Some(c),
                    label: if fake { "fake" } else { "real" }.into(),
                    features,
                    source: None,
                });
            }
        }
        let model = ModelInfo {
            spec: "m".into(),
            path: "m.pt".into(),
            sha256: "ab".repeat(32),
            architecture: "vit_small".into(),
            dim: 4,
        };
        FeatureSet { dir: "feats".into(), model, dim: 4, clips }
    }

    fn options() -> TrainOptions {
        TrainOptions {
            level: Level::Video,
            label_column: "label".into(),
            positive: None,
            val_fraction: 0.3,
            folds: None,
            c: 1.0,
            threshold: ThresholdRule::Eer,
        }
    }

    #[test]
    fn trains_validates_round_trips_and_refuses_other_models() {
        let set = set();
        let probe = train(&set, &options()).unwrap();
        let v = probe.validation.clone().unwrap();
        assert!(v.samples > 5 && v.samples < 25, "{v:?}");
        assert!(v.auc.unwrap() > 0.95, "{v:?}");
        assert_eq!(probe.positive, "fake");
        // held-out videos never trained on: the split is by video, and clip level keeps it
        let clip_probe = train(&set, &TrainOptions { level: Level::Clip, ..options() }).unwrap();
        assert_eq!(clip_probe.validation.as_ref().unwrap().samples, 3 * v.samples);
        let kfold = train(&set, &TrainOptions { folds: Some(5), ..options() }).unwrap();
        assert_eq!(kfold.validation.as_ref().unwrap().samples, 40);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.json");
        probe.save(&path).unwrap();
        assert_eq!(Probe::load(&path).unwrap(), probe);
        assert!(probe.check_model(&path, "vit_small", Some(&"ab".repeat(32)), 4).is_ok());
        assert!(probe.check_model(&path, "a stream", None, 4).is_ok());
        assert!(probe.check_model(&path, "a stream", None, 5).is_err());
        let e = probe.check_model(&path, "vit_base", Some(&"cd".repeat(32)), 768).unwrap_err().to_string();
        assert!(e.contains("trained on features of vit_small") && e.contains("vit_base"), "{e}");
        let wrong = train(&set, &TrainOptions { positive: Some("maybe".into()), ..options() }).unwrap_err();
        assert!(wrong.to_string().contains("not one of the labels"));
    }

    #[test]
    fn more_folds_than_videos_are_refused() {
        let e = train(&set(), &TrainOptions { folds: Some(100), ..options() }).unwrap_err().to_string();
        assert!(e.contains("--folds 100") && e.contains("only 40 labelled videos"), "{e}");
    }

    #[test]
    fn non_finite_features_are_refused_naming_rows_and_columns() {
        let mut set = set();
        set.clips[7].features[2] = f64::NAN;
        set.clips[9].features[0] = f64::INFINITY;
        set.clips[9].features[2] = f64::NAN;
        let e = train(&set, &options()).unwrap_err().to_string();
        assert!(e.contains("2 row(s) (7, 9)") && e.contains("2 column(s) (0, 2)"), "{e}");
    }
}
