//! The report's charts as inline SVG: the ROC curve with its AUC and the operating point, the
//! histogram of video scores on a logit axis (bins spread over where the scores are, however
//! close to 1 they cluster), and a flagged video's timeline of clip probabilities over seconds.
//! Each carries its scales as `data-*` attributes and an empty live marker that the page's script
//! moves with the threshold slider.

use super::page::escape;
use super::scale::{Scale, logit, nice_ticks, tick_label};
use super::svg::Svg;
use crate::logistic::sigmoid;
use crate::score::format_probability;

/// The plotting area inside a chart, in SVG units.
#[derive(Debug, Clone, Copy)]
struct Plot {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

/// The charts beside each other: 520 × 400, the plot under a title and a legend line.
const CHART: (f64, f64) = (520.0, 400.0);
const CHART_PLOT: Plot = Plot { left: 68.0, top: 56.0, right: 500.0, bottom: 340.0 };
/// A timeline across a card: 640 × 210.
const TIMELINE: (f64, f64) = (640.0, 210.0);
const TIMELINE_PLOT: Plot = Plot { left: 68.0, top: 14.0, right: 624.0, bottom: 160.0 };
/// Bars narrower than this are widened about their centre so that they stay clickable.
const MIN_BAR: f64 = 3.0;

/// One series of scores (`neg`, `pos` or `unl` for the CSS).
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub scores: Vec<f64>,
}

/// A clip in a timeline: its time span, probability and what its tooltip says; `lane` of
/// `lanes` splits the span between clips over the same frames (several face tracks).
pub struct TimelineBar {
    /// The clip's index in its video (`data-clip`).
    pub clip: usize,
    pub start: f64,
    pub end: f64,
    pub probability: f64,
    pub tip: String,
    pub lane: usize,
    pub lanes: usize,
}

/// The ROC curve (`points`: false and true positive rates from the highest threshold down),
/// the chance diagonal, the operating point `operating` at the probe's threshold and the live
/// marker (`#roc-live`), with `auc` and the class sizes in the title.
pub fn roc(
    points: &[(f64, f64)],
    auc: f64,
    operating: (f64, f64),
    threshold: f64,
    classes: (&str, usize, &str, usize),
) -> String {
    let p = CHART_PLOT;
    let x = Scale::linear(0.0, 1.0, p.left, p.right);
    let y = Scale::linear(0.0, 1.0, p.bottom, p.top);
    let (pos, n_pos, neg, n_neg) = classes;
    let title = format!("ROC curve: AUC {auc:.3} over {n_pos} {pos} and {n_neg} {neg} videos");
    let mut s = open(CHART, "roc-chart", "roc", &title, &x, &y);
    s.text((p.left, 22.0), "start", "chart-title", &format!("ROC curve · AUC {auc:.3}"), false);
    legend(
        &mut s,
        (p.left, 42.0),
        &[
            ("roc-curve", Mark::Line, "ROC".into()),
            ("chance", Mark::Line, "chance".into()),
            ("marker-probe", Mark::Dot, format!("probe threshold {}", format_probability(threshold))),
            ("marker-live", Mark::Dot, "slider".into()),
        ],
    );
    axes(&mut s, p, &x, &y, "false positive rate", &format!("true positive rate ({pos} found)"));
    s.line((x.at(0.0), y.at(0.0)), (x.at(1.0), y.at(1.0)), "chance", "");
    let curve: Vec<(f64, f64)> = points.iter().map(|(f, t)| (x.at(*f), y.at(*t))).collect();
    s.path(&curve, "roc-curve");
    let at = (x.at(operating.0), y.at(operating.1));
    s.circle(at, 6.0, "marker-probe", "");
    s.circle(at, 9.0, "marker-live", " id=\"roc-live\"");
    s.finish()
}

/// The video scores of each series in bins of equal width on the logit axis `domain` (logits),
/// side by side per bin; the probe's threshold as a dashed line and the live one (`#hist-live`).
pub fn histogram(series: &[Series], domain: (f64, f64), threshold: f64) -> String {
    let p = CHART_PLOT;
    let x = Scale::logit(domain.0, domain.1, p.left, p.right);
    let n: usize = series.iter().map(|s| s.scores.len()).sum();
    let bins = ((2.0 * (n as f64).sqrt()).round() as usize).clamp(8, 40);
    let width = (domain.1 - domain.0) / bins as f64;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|s| {
            let mut h = vec![0usize; bins];
            for v in &s.scores {
                h[(((logit(*v) - domain.0) / width).floor().max(0.0) as usize).min(bins - 1)] += 1;
            }
            h
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let y_ticks = nice_ticks(0.0, top, 5).into_iter().filter(|t| t.fract() == 0.0).collect::<Vec<_>>();
    let y_top = y_ticks.last().copied().filter(|t| *t >= top).unwrap_or(top);
    let y = Scale::linear(0.0, y_top, p.bottom, p.top);
    let title = format!("Video scores: {n} videos in {bins} bins on a logit axis");
    let mut s = open(CHART, "hist-chart", "histogram", &title, &x, &y);
    s.text((p.left, 22.0), "start", "chart-title", "Video scores", false);
    let mut items: Vec<(&str, Mark, String)> =
        series.iter().map(|v| (v.class, Mark::Box, format!("{} ({})", v.name, v.scores.len()))).collect();
    items.push(("threshold-probe", Mark::Line, format!("probe threshold {}", format_probability(threshold))));
    items.push(("threshold-live", Mark::Line, "slider".into()));
    legend(&mut s, (p.left, 42.0), &items);
    axes_with(&mut s, p, &x, &y, &y_ticks, "video score (logit scale: equal steps of odds)", "videos");
    let k = series.len().max(1) as f64;
    for b in 0..bins {
        let (l0, l1) = (domain.0 + b as f64 * width, domain.0 + (b + 1) as f64 * width);
        let (x0, x1) = (
            p.left + (p.right - p.left) * b as f64 / bins as f64,
            p.left + (p.right - p.left) * (b + 1) as f64 / bins as f64,
        );
        let slot = (x1 - x0 - 2.0) / k;
        for (j, (v, h)) in series.iter().zip(&counts).enumerate() {
            if h[b] == 0 {
                continue;
            }
            let a = x0 + 1.0 + j as f64 * slot;
            let tip = format!(
                "{} {} video{} scored {}–{}",
                h[b],
                v.name,
                if h[b] == 1 { "" } else { "s" },
                format_probability(sigmoid(l0)),
                format_probability(sigmoid(l1))
            );
            s.rect((a, y.at(h[b] as f64)), (a + slot, y.at(0.0)), &format!("bin {}", v.class), "", &tip);
        }
    }
    let t = x.at(threshold);
    s.line((t, p.top), (t, p.bottom), "threshold-probe", "");
    s.line((t, p.top), (t, p.bottom), "threshold-live", " id=\"hist-live\"");
    s.finish()
}

/// A video's clips over time: a bar per clip from its start to its end second, as high as its
/// probability on the logit axis `domain`; `pos` above the threshold. Bars carry their clip's
/// times (`data-start`, `data-end`) for the page's script, which seeks the video when one is
/// clicked. `seconds` false: the clips have no times and stand at their indices.
pub fn timeline(card: usize, bars: &[TimelineBar], domain: (f64, f64), threshold: f64, seconds: bool) -> String {
    let p = TIMELINE_PLOT;
    let end = bars.iter().map(|b| b.end).fold(0.0, f64::max);
    let x = Scale::linear(0.0, if end > 0.0 { end } else { 1.0 }, p.left, p.right);
    let y = Scale::logit(domain.0, domain.1, p.bottom, p.top);
    let title = format!("Clip probabilities over the video ({} clips)", bars.len());
    let mut s = open(TIMELINE, &format!("timeline-{card}"), "timeline", &title, &x, &y);
    axes(&mut s, p, &x, &y, if seconds { "time in the video (s)" } else { "clip" }, "clip probability");
    for b in bars {
        let (x0, x1) = (x.at(b.start), x.at(b.end));
        let lane = (x1 - x0) / b.lanes.max(1) as f64;
        let (mut a, mut z) = (x0 + lane * b.lane as f64 + 0.5, x0 + lane * (b.lane + 1) as f64 - 0.5);
        if z - a < MIN_BAR {
            let c = (a + z) / 2.0;
            (a, z) = (c - MIN_BAR / 2.0, c + MIN_BAR / 2.0);
        }
        let class = if b.probability >= threshold { "bar pos" } else { "bar neg" };
        let data = format!(
            " data-clip=\"{}\" data-start=\"{}\" data-end=\"{}\" data-p=\"{}\" tabindex=\"0\" role=\"button\" aria-label=\"{}\"",
            b.clip,
            b.start,
            b.end,
            b.probability,
            escape(&b.tip)
        );
        s.rect((a, y.at(b.probability)), (z, p.bottom), class, &data, &b.tip);
    }
    let t = y.at(threshold);
    s.line((p.left, t), (p.right, t), "threshold-probe", "");
    s.line((p.left, t), (p.right, t), "threshold-live", "");
    s.finish()
}

/// A `size` chart `id` of class `class`, titled `title`, carrying its scales for the page's script.
fn open(size: (f64, f64), id: &str, class: &str, title: &str, x: &Scale, y: &Scale) -> Svg {
    let attributes =
        format!(" id=\"{id}\" aria-label=\"{}\"{}{}", escape(title), x.data_attributes('x'), y.data_attributes('y'));
    Svg::new(size.0, size.1, class, title, &attributes)
}

/// How a legend item is drawn.
#[derive(Clone, Copy)]
enum Mark {
    Box,
    Line,
    Dot,
}

/// Legend items on one line from `(x, y)`, each a mark in its class and its text.
fn legend(s: &mut Svg, (mut x, y): (f64, f64), items: &[(&str, Mark, String)]) {
    for (class, mark, text) in items {
        match mark {
            Mark::Box => s.rect((x, y - 9.0), (x + 12.0, y + 1.0), class, "", ""),
            Mark::Line => s.line((x, y - 4.0), (x + 14.0, y - 4.0), class, ""),
            Mark::Dot => s.circle((x + 6.0, y - 4.0), 5.0, class, ""),
        }
        s.text((x + 18.0, y), "start", "legend", text, false);
        // about 6.5 units per character of 12-unit text
        x += 18.0 + 6.5 * text.chars().count() as f64 + 16.0;
    }
}

/// Grid, axis lines, tick labels and titles, with the scales' own ticks (fewer on a short y axis).
fn axes(s: &mut Svg, p: Plot, x: &Scale, y: &Scale, x_title: &str, y_title: &str) {
    let y_ticks = y.ticks(if p.bottom - p.top < 200.0 { 3 } else { 5 });
    axes_with(s, p, x, y, &y_ticks, x_title, y_title);
}

/// As [`axes`] with the y ticks given.
fn axes_with(s: &mut Svg, p: Plot, x: &Scale, y: &Scale, y_ticks: &[f64], x_title: &str, y_title: &str) {
    for t in x.ticks(6) {
        let at = x.at(t);
        s.line((at, p.top), (at, p.bottom), "grid", "");
        s.line((at, p.bottom), (at, p.bottom + 5.0), "axis", "");
        s.text((at, p.bottom + 19.0), "middle", "tick", &tick_label(t), false);
    }
    for &t in y_ticks {
        let at = y.at(t);
        s.line((p.left, at), (p.right, at), "grid", "");
        s.line((p.left - 5.0, at), (p.left, at), "axis", "");
        s.text((p.left - 8.0, at + 4.0), "end", "tick", &tick_label(t), false);
    }
    s.line((p.left, p.bottom), (p.right, p.bottom), "axis", "");
    s.line((p.left, p.top), (p.left, p.bottom), "axis", "");
    s.text(((p.left + p.right) / 2.0, p.bottom + 40.0), "middle", "axis-title", x_title, false);
    s.text((16.0, (p.top + p.bottom) / 2.0), "middle", "axis-title", y_title, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn histogram_spreads_clustered_scores_over_bins() {
        // the six videos, all between 0.986 and 0.9998
        let scores = vec![0.986, 0.991, 0.995, 0.998, 0.9993, 0.9998];
        let domain = (logit(0.98), logit(0.9999));
        let svg = histogram(&[Series { name: "real".into(), class: "neg", scores }], domain, 0.995);
        // every video in a bar of its own
        assert_eq!(count(&svg, "class=\"bin neg\""), 6, "{svg}");
        assert!(svg.contains(">0.999<") && svg.contains(">0.99<"), "probability ticks: {svg}");
        assert!(svg.contains("id=\"hist-live\"") && svg.contains("data-x-spacing=\"logit\""));
    }

    #[test]
    fn roc_marks_auc_and_operating_point() {
        let svg =
            roc(&[(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)], 0.875, (0.0, 0.5), 0.7, ("fake", 2, "real", 2));
        assert!(svg.contains("AUC 0.875"));
        assert_eq!(count(&svg, "class=\"marker-probe\""), 2, "legend and point");
        assert!(svg.contains("id=\"roc-live\""));
        for t in ["0.2", "0.4", "0.6", "0.8"] {
            assert!(svg.contains(&format!(">{t}<")), "tick {t}");
        }
    }

    #[test]
    fn timeline_bars_span_their_seconds() {
        let bar = |clip, start, end, probability| TimelineBar {
            clip,
            start,
            end,
            probability,
            tip: String::new(),
            lane: 0,
            lanes: 1,
        };
        let svg = timeline(3, &[bar(0, 0.0, 1.0, 0.2), bar(1, 1.0, 2.0, 0.9)], (logit(0.1), logit(0.95)), 0.5, true);
        assert!(svg.contains("id=\"timeline-3\""));
        assert_eq!(count(&svg, "class=\"bar neg\""), 1);
        assert_eq!(count(&svg, "class=\"bar pos\""), 1);
        assert!(svg.contains("data-start=\"1\" data-end=\"2\""));
        assert!(svg.contains("time in the video (s)"));
    }
}
