//! `report.html` of a screening run with ground-truth labels: the ROC curve, the score
//! histograms of both classes with the threshold, and for each flagged video a timeline of its
//! clip scores beside the face of its most suspicious clip. Every picture is a PNG drawn here;
//! the page needs no server (images next to it in `report/`).

use std::path::{Path, PathBuf};

use marlin_faces::draw::Canvas;

use crate::metrics::{auc, roc};
use crate::score::VideoVerdict;
use crate::{Probe, ProbeError};

/// A flagged video's evidence.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub video_id: String,
    pub score: f64,
    /// Each clip's probability, in clip order.
    pub clip_probabilities: Vec<f64>,
    /// The face of the most suspicious clip: RGB pixels, width, height.
    pub face: Option<(Vec<u8>, usize, usize)>,
}

const W: usize = 480;
const H: usize = 320;
const MARGIN: usize = 40;
const INK: [u8; 3] = [20, 20, 20];
const GRID: [u8; 3] = [210, 210, 210];
/// Colours of the negative and positive class.
const NEG: [u8; 3] = [40, 110, 220];
const POS: [u8; 3] = [220, 60, 40];

/// A white RGB picture with a plotting area `[MARGIN, W−MARGIN/2] × [MARGIN/2, H−MARGIN]`.
struct Chart {
    px: Vec<u8>,
}

impl Chart {
    fn new(title: &str) -> Self {
        let mut c = Chart { px: vec![255; W * H * 3] };
        c.text(title, MARGIN as i64, 4, 2, INK);
        c.line((MARGIN as f64, (H - MARGIN) as f64), ((W - MARGIN / 2) as f64, (H - MARGIN) as f64), INK);
        c.line((MARGIN as f64, (MARGIN / 2) as f64), (MARGIN as f64, (H - MARGIN) as f64), INK);
        c
    }

    /// Plot coordinates ([0, 1]²) → pixels.
    fn at(&self, x: f64, y: f64) -> (f64, f64) {
        let (x0, x1, y0, y1) = (MARGIN as f64, (W - MARGIN / 2) as f64, (H - MARGIN) as f64, (MARGIN / 2) as f64);
        (x0 + x.clamp(0.0, 1.0) * (x1 - x0), y0 + y.clamp(0.0, 1.0) * (y1 - y0))
    }

    fn canvas(&mut self) -> Canvas<'_> {
        Canvas { pixels: &mut self.px, width: W, height: H }
    }

    fn line(&mut self, a: (f64, f64), b: (f64, f64), c: [u8; 3]) {
        self.canvas().line(a, b, c);
    }

    /// A bar over `[x0, x1)` from 0 to `y` (plot coordinates).
    fn bar(&mut self, x0: f64, x1: f64, y: f64, c: [u8; 3]) {
        let (a, top) = (self.at(x0, 0.0), self.at(x1, y));
        self.canvas().fill(a.0.round() as i64, top.1.round() as i64, top.0.round() as i64, a.1.round() as i64, c);
    }

    fn text(&mut self, text: &str, x: i64, y: i64, scale: i64, c: [u8; 3]) {
        self.canvas().text(text, x, y, scale, c);
    }

    /// Axis labels: `x` under the axis, `y` at the top left, ticks at 0 and 1.
    fn axes(&mut self, x: &str, y: &str) {
        self.text(x, (W / 2) as i64, (H - MARGIN + 22) as i64, 2, INK);
        self.text(y, 2, (MARGIN / 2 - 2) as i64, 1, INK);
        self.text("0", (MARGIN - 8) as i64, (H - MARGIN + 4) as i64, 1, INK);
        self.text("1", (W - MARGIN / 2 - 2) as i64, (H - MARGIN + 4) as i64, 1, INK);
        self.text("1", (MARGIN - 8) as i64, (MARGIN / 2) as i64, 1, INK);
    }
}

/// Writes `report.html` and its pictures under `dir`; returns the page's path.
pub fn write_report(
    dir: &Path,
    probe: &Probe,
    videos: &[VideoVerdict],
    evidence: &[Evidence],
) -> Result<PathBuf, ProbeError> {
    let labelled: Vec<&VideoVerdict> =
        videos.iter().filter(|v| v.truth == probe.positive || v.truth == probe.negative).collect();
    let scores: Vec<f64> = labelled.iter().map(|v| v.score).collect();
    let truth: Vec<bool> = labelled.iter().map(|v| v.truth == probe.positive).collect();
    let images = dir.join("report");
    std::fs::create_dir_all(&images).map_err(|e| ProbeError::File { path: images.clone(), reason: e.to_string() })?;

    let area = auc(&scores, &truth);
    let mut c = Chart::new(&format!("ROC  AUC {}", area.map_or("NA".into(), |a| format!("{a:.3}"))));
    c.line(c.at(0.0, 0.0), c.at(1.0, 1.0), GRID);
    let curve = roc(&scores, &truth);
    for pair in curve.windows(2) {
        c.line(c.at(pair[0].0, pair[0].1), c.at(pair[1].0, pair[1].1), POS);
    }
    c.axes("FALSE POSITIVE RATE", "TRUE POSITIVE RATE");
    save_png(&images.join("roc.png"), &c.px, W, H)?;

    let bins = 20;
    let mut c = Chart::new(&format!("SCORES  {} BLUE  {} RED", probe.negative, probe.positive));
    let count = |cls: bool| -> Vec<usize> {
        let mut h = vec![0usize; bins];
        for (s, _) in scores.iter().zip(&truth).filter(|(_, t)| **t == cls) {
            h[((s * bins as f64) as usize).min(bins - 1)] += 1;
        }
        h
    };
    let (neg, pos) = (count(false), count(true));
    let top = neg.iter().chain(&pos).copied().max().unwrap_or(1).max(1) as f64;
    for b in 0..bins {
        let (x0, x1) = (b as f64 / bins as f64, (b as f64 + 0.5) / bins as f64);
        c.bar(x0, x1, neg[b] as f64 / top, NEG);
        c.bar(x1, (b as f64 + 1.0) / bins as f64, pos[b] as f64 / top, POS);
    }
    let t = probe.threshold;
    c.line(c.at(t, 0.0), c.at(t, 1.0), INK);
    c.axes("SCORE", "VIDEOS");
    save_png(&images.join("histogram.png"), &c.px, W, H)?;

    let mut flagged_html = String::new();
    for (k, e) in evidence.iter().enumerate() {
        let mut c = Chart::new(&format!("CLIP SCORES  VIDEO SCORE {:.3}", e.score));
        let n = e.clip_probabilities.len().max(1) as f64;
        for (j, p) in e.clip_probabilities.iter().enumerate() {
            c.bar((j as f64 + 0.1) / n, (j as f64 + 0.9) / n, *p, if *p >= t { POS } else { NEG });
        }
        c.line(c.at(0.0, t), c.at(1.0, t), INK);
        c.axes("CLIP", "PROBABILITY");
        save_png(&images.join(format!("timeline_{k}.png")), &c.px, W, H)?;
        let face = match &e.face {
            Some((px, w, h)) => {
                save_png(&images.join(format!("face_{k}.png")), px, *w, *h)?;
                format!("<img src=\"report/face_{k}.png\" alt=\"face of the most suspicious clip\" width=\"224\">")
            }
            None => "<p>(no face crop)</p>".into(),
        };
        flagged_html.push_str(&format!(
            "<section><h3>{}</h3><p>score {:.4} (truth: {})</p><img src=\"report/timeline_{k}.png\" alt=\"clip scores\"> {face}</section>\n",
            escape(&e.video_id),
            e.score,
            escape(&videos.iter().find(|v| v.video_id == e.video_id).map_or(String::new(), |v| v.truth.clone()))
        ));
    }
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>MARLIN screening report</title>\
         <style>body{{font-family:sans-serif;margin:2em}} img{{border:1px solid #ccc;margin:4px}} section{{margin-bottom:1.5em}}</style></head><body>\n\
         <p id=\"missing\" hidden style=\"color:#b00\">Some pictures did not load: keep the report/ folder beside this page.</p>\n\
         <h1>Screening report</h1><p>{} videos ({} labelled), probe: {} positive, threshold {:.4} ({}), model {} ({}…)</p>\n\
         <img src=\"report/roc.png\" alt=\"ROC curve\"> <img src=\"report/histogram.png\" alt=\"score histograms\">\n\
         <h2>Flagged videos ({})</h2>\n{flagged_html}\
         <script>window.addEventListener('load', () => {{ const bad = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)); \
         document.body.dataset.images = bad.length ? 'missing ' + bad.map(i => i.getAttribute('src')).join(' ') : 'loaded ' + document.images.length; \
         if (bad.length) document.getElementById('missing').hidden = false; }});</script>\n</body></html>\n",
        videos.len(),
        labelled.len(),
        escape(&probe.positive),
        probe.threshold,
        escape(&probe.threshold_rule),
        escape(&probe.model.architecture),
        &probe.model.sha256.chars().take(12).collect::<String>(),
        evidence.len()
    );
    let page = dir.join("report.html");
    let temp = dir.join("report.html.part");
    std::fs::write(&temp, html).map_err(|e| ProbeError::File { path: temp.clone(), reason: e.to_string() })?;
    std::fs::rename(&temp, &page).map_err(|e| ProbeError::File { path: page.clone(), reason: e.to_string() })?;
    Ok(page)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes an RGB image as PNG through a temporary name.
pub fn save_png(path: &Path, rgb: &[u8], width: usize, height: usize) -> Result<(), ProbeError> {
    let bad = |reason: String| ProbeError::File { path: path.to_path_buf(), reason };
    let temp = path.with_extension("png.part");
    let file = std::fs::File::create(&temp).map_err(|e| bad(e.to_string()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| bad(e.to_string()))?;
    w.write_image_data(rgb).map_err(|e| bad(e.to_string()))?;
    w.finish().map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&temp, path).map_err(|e| bad(e.to_string()))
}
