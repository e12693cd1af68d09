//! Screening metrics from scores (higher = more likely positive) and labels: ROC AUC (ties
//! counted half), the equal error rate and its threshold, the threshold at a target false
//! positive rate, and the confusion matrix at a threshold (score ≥ threshold → positive).

use serde::{Deserialize, Serialize};

/// Counts at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Confusion {
    pub true_positives: usize,
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
}

impl Confusion {
    pub fn at(scores: &[f64], labels: &[bool], threshold: f64) -> Self {
        let mut c = Confusion::default();
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= threshold, l) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, false) => c.true_negatives += 1,
                (false, true) => c.false_negatives += 1,
            }
        }
        c
    }

    pub fn accuracy(&self) -> f64 {
        let n = self.true_positives + self.false_positives + self.true_negatives + self.false_negatives;
        (self.true_positives + self.true_negatives) as f64 / n.max(1) as f64
    }
}

/// The area under the ROC curve: the chance a random positive outscores a random negative.
/// `None` without both classes.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let (pos, neg) = split(scores, labels);
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0f64;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// The ROC curve: (false positive rate, true positive rate, threshold) from the highest
/// threshold down, starting at (0, 0).
pub fn roc(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64, f64)> {
    let (pos, neg) = split(scores, labels);
    let mut thresholds: Vec<f64> = scores.to_vec();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let mut out = vec![(0.0, 0.0, f64::INFINITY)];
    for t in thresholds {
        let tpr = pos.iter().filter(|s| **s >= t).count() as f64 / pos.len().max(1) as f64;
        let fpr = neg.iter().filter(|s| **s >= t).count() as f64 / neg.len().max(1) as f64;
        out.push((fpr, tpr, t));
    }
    out
}

/// The equal error rate (where the false positive and false negative rates meet, the mean of
/// the two at the closest threshold) and that threshold.
pub fn equal_error_rate(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    roc(scores, labels)
        .into_iter()
        .skip(1)
        .map(|(fpr, tpr, t)| ((fpr - (1.0 - tpr)).abs(), (fpr + 1.0 - tpr) / 2.0, t))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or((0.5, 0.5), |(_, eer, t)| (eer, t))
}

/// The lowest threshold whose false positive rate is at most `target`.
pub fn threshold_at_fpr(scores: &[f64], labels: &[bool], target: f64) -> f64 {
    roc(scores, labels)
        .into_iter()
        .filter(|(fpr, _, _)| *fpr <= target)
        .map(|(_, _, t)| t)
        .fold(f64::INFINITY, f64::min)
}

fn split(scores: &[f64], labels: &[bool]) -> (Vec<f64>, Vec<f64>) {
    let pos = scores.iter().zip(labels).filter(|(_, l)| **l).map(|(s, _)| *s).collect();
    let neg = scores.iter().zip(labels).filter(|(_, l)| !**l).map(|(s, _)| *s).collect();
    (pos, neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_small_cases() {
        let labels = [false, false, true, true];
        // scikit-learn's roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &labels), Some(0.75));
        assert_eq!(auc(&[0.5; 4], &labels), Some(0.5), "ties count half");
        assert_eq!(auc(&[0.9, 0.8, 0.1, 0.2], &labels), Some(0.0));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
        let (eer, t) = equal_error_rate(&[0.1, 0.4, 0.35, 0.8], &labels);
        assert_eq!((eer, t), (0.5, 0.4));
        let perfect = equal_error_rate(&[0.1, 0.2, 0.7, 0.8], &labels);
        assert_eq!(perfect, (0.0, 0.7));
        assert_eq!(threshold_at_fpr(&[0.1, 0.4, 0.35, 0.8], &labels, 0.0), 0.8);
        assert_eq!(threshold_at_fpr(&[0.1, 0.4, 0.35, 0.8], &labels, 0.5), 0.35);
        let c = Confusion::at(&[0.1, 0.4, 0.35, 0.8], &labels, 0.35);
        assert_eq!((c.true_positives, c.false_positives, c.true_negatives, c.false_negatives), (2, 1, 1, 0));
        assert_eq!(c.accuracy(), 0.75);
    }
}
