//! Chart axes: a linear or logit scale from data values to SVG coordinates, its ticks and their
//! labels. Probabilities that cluster near 0 or 1 (a probe's scores often lie between 0.98 and
//! 0.9999) are drawn on a logit axis, labelled in probabilities (0.99, 0.995, 0.999 …).

use crate::logistic::sigmoid;

/// Probabilities are clamped into `[P_MIN, 1 − P_MIN]` before the logit (1e-6 is the CSVs'
/// resolution: `1.000000` and `0.999999` are one step apart).
pub const P_MIN: f64 = 1e-6;

/// `ln(p / (1 − p))` of `p` clamped into `[P_MIN, 1 − P_MIN]`.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(P_MIN, 1.0 - P_MIN);
    (p / (1.0 - p)).ln()
}

/// How data values are spaced along an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Linear,
    /// Probabilities at their logits.
    Logit,
}

impl Spacing {
    fn name(self) -> &'static str {
        match self {
            Spacing::Linear => "linear",
            Spacing::Logit => "logit",
        }
    }

    /// The value where the axis is linear.
    fn transform(self, v: f64) -> f64 {
        match self {
            Spacing::Linear => v,
            Spacing::Logit => logit(v),
        }
    }
}

/// An axis: the transformed domain `[d0, d1]` onto SVG coordinates `[r0, r1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub spacing: Spacing,
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Scale {
    /// Data values `[lo, hi]` onto `[r0, r1]`.
    pub fn linear(lo: f64, hi: f64, r0: f64, r1: f64) -> Self {
        Scale { spacing: Spacing::Linear, d0: lo, d1: if hi > lo { hi } else { lo + 1.0 }, r0, r1 }
    }

    /// Logits `[lo, hi]` onto `[r0, r1]`.
    pub fn logit(lo: f64, hi: f64, r0: f64, r1: f64) -> Self {
        Scale { spacing: Spacing::Logit, d0: lo, d1: if hi > lo { hi } else { lo + 1.0 }, r0, r1 }
    }

    /// Where `v` (a data value) lies, clamped to the axis.
    pub fn at(&self, v: f64) -> f64 {
        let t = ((self.spacing.transform(v) - self.d0) / (self.d1 - self.d0)).clamp(0.0, 1.0);
        self.r0 + t * (self.r1 - self.r0)
    }

    /// The scale as `data-*` attributes, for the page's script to place live markers exactly as
    /// the charts place their marks.
    pub fn data_attributes(&self, axis: char) -> String {
        format!(
            " data-{axis}-spacing=\"{}\" data-{axis}-d0=\"{}\" data-{axis}-d1=\"{}\" data-{axis}-r0=\"{}\" data-{axis}-r1=\"{}\"",
            self.spacing.name(),
            self.d0,
            self.d1,
            self.r0,
            self.r1
        )
    }

    /// Tick values (data values) for about `target` ticks.
    pub fn ticks(&self, target: usize) -> Vec<f64> {
        match self.spacing {
            Spacing::Linear => nice_ticks(self.d0, self.d1, target),
            Spacing::Logit => probability_ticks(self.d0, self.d1, target),
        }
    }
}

/// Multiples of 1, 2 or 5 × 10ⁿ covering `[lo, hi]` in about `target` steps.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// The smallest 1, 2 or 5 × 10ⁿ at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || raw.is_infinite() {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * base).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * base)
}

/// Ticks for a logit axis over logits `[lo, hi]`: the probabilities inside it from the rounder
/// tiers down (0.5, 10⁻ⁿ and 1 − 10⁻ⁿ; then 5·10⁻ⁿ and its complement; then 2·10⁻ⁿ), a less
/// round one only where it keeps an eighth of the axis from every tick so far and while they stay
/// at most `target` + 2 (every k-th of the roundest tier when even that is too many); on a narrow
/// range (fewer than three round probabilities inside) evenly spaced probabilities.
fn probability_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let tier = |m: f64| -> Vec<f64> {
        let mut out = Vec::new();
        for n in 1..=6 {
            let p = m * 10f64.powi(-n);
            out.extend([p, 1.0 - p]);
        }
        if m == 1.0 {
            out.push(0.5);
        }
        out.retain(|p| (lo..=hi).contains(&logit(*p)));
        out.sort_by(f64::total_cmp);
        out
    };
    let most = target + 2;
    let mut ticks = tier(1.0);
    if ticks.len() > most {
        let k = ticks.len().div_ceil(most);
        return ticks.into_iter().step_by(k).collect();
    }
    let gap = (hi - lo) / 8.0;
    for m in [5.0, 2.0] {
        let before = ticks.clone();
        let more: Vec<f64> =
            tier(m).into_iter().filter(|p| before.iter().all(|q| (logit(*p) - logit(*q)).abs() >= gap)).collect();
        if ticks.len() + more.len() > most && ticks.len() >= 3 {
            break;
        }
        ticks.extend(more);
    }
    if ticks.len() < 3 {
        return nice_ticks(sigmoid(lo), sigmoid(hi), target.min(4));
    }
    ticks.sort_by(f64::total_cmp);
    ticks
}

/// A tick value with as few decimals as it needs (at most 6): `0.995`, `12`, `0.5`.
pub fn tick_label(v: f64) -> String {
    for d in 0..=6 {
        let scale = 10f64.powi(d);
        if ((v * scale).round() / scale - v).abs() <= 1e-9 * v.abs().max(1e-3) {
            return format!("{v:.*}", d as usize);
        }
    }
    format!("{v:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_numbers_inside_the_range() {
        assert_eq!(nice_ticks(0.0, 9.7, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(0.0, 3.0, 5), vec![0.0, 1.0, 2.0, 3.0]);
        let labels: Vec<String> = nice_ticks(0.0, 1.0, 5).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn logit_ticks_spread_clustered_scores() {
        // the case: every video between 0.986 and 0.9998
        let s = Scale::logit(logit(0.98), logit(0.9999), 0.0, 500.0);
        let labels: Vec<String> = s.ticks(6).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0.98", "0.99", "0.995", "0.998", "0.999", "0.9995", "0.9998", "0.9999"]);
        // 0.986 and 0.9998 lie far apart on this axis, not in one bar
        assert!(s.at(0.9998) - s.at(0.986) > 300.0);
        // a range with fewer than three round probabilities inside: evenly spaced ones
        let narrow = Scale::logit(logit(0.9991), logit(0.9994), 0.0, 1.0);
        let ticks = narrow.ticks(6);
        let labels: Vec<String> = ticks.into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0.9991", "0.9992", "0.9993", "0.9994"]);
        // the full range keeps a readable number of ticks
        assert!(Scale::logit(logit(1e-6), logit(1.0 - 1e-6), 0.0, 1.0).ticks(6).len() <= 8);
        // a less round tick does not crowd a rounder one
        let wide = Scale::logit(logit(0.09), logit(0.996), 0.0, 1.0);
        let labels: Vec<String> = wide.ticks(6).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0.1", "0.5", "0.9", "0.99"]);
    }

    #[test]
    fn positions_clamp_to_the_axis() {
        let s = Scale::linear(0.0, 10.0, 100.0, 0.0);
        assert_eq!((s.at(0.0), s.at(5.0), s.at(20.0), s.at(-1.0)), (100.0, 50.0, 0.0, 100.0));
        assert_eq!(logit(1.0), logit(1.0 - P_MIN));
        assert!((sigmoid(logit(0.3)) - 0.3).abs() < 1e-12);
    }
}
