//! A small writer of inline SVG: a `viewBox` picture with a `<title>`, and the marks the charts
//! draw (lines, rectangles, paths, circles, text). Colours and fonts come from the page's CSS
//! through classes, so text stays selectable and crisp at any zoom.

use std::fmt::Write;

use super::page::escape;

/// An SVG picture being written.
pub struct Svg {
    out: String,
}

/// A coordinate with at most two decimals (`12`, `3.5`, `0.25`).
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

impl Svg {
    /// A `width × height` picture with class `class`, titled `title` (read by screen readers and
    /// shown as the tooltip); `attributes` are written into the `<svg>` tag as they are.
    pub fn new(width: f64, height: f64, class: &str, title: &str, attributes: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"chart {class}\" viewBox=\"0 0 {} {}\" role=\"img\"{attributes}><title>{}</title>",
            num(width),
            num(height),
            escape(title)
        );
        Svg { out }
    }

    /// A line, with `attributes` written as they are (`id`s of live marks).
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str, attributes: &str) {
        let _ = write!(
            self.out,
            "<line class=\"{class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{attributes}/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// A rectangle between two corners, with `attributes` as they are and an optional tooltip.
    pub fn rect(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str, attributes: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{attributes}>",
            num(x1.min(x2)),
            num(y1.min(y2)),
            num((x2 - x1).abs()),
            num((y2 - y1).abs())
        );
        if !tip.is_empty() {
            let _ = write!(self.out, "<title>{}</title>", escape(tip));
        }
        self.out.push_str("</rect>");
    }

    /// A polyline through `points`.
    pub fn path(&mut self, points: &[(f64, f64)], class: &str) {
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(k, (x, y))| format!("{}{},{}", if k == 0 { 'M' } else { 'L' }, num(*x), num(*y)))
            .collect();
        let _ = write!(self.out, "<path class=\"{class}\" d=\"{}\"/>", d.join(""));
    }

    pub fn circle(&mut self, (x, y): (f64, f64), r: f64, class: &str, attributes: &str) {
        let _ = write!(
            self.out,
            "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"{}\"{attributes}/>",
            num(x),
            num(y),
            num(r)
        );
    }

    /// Text at `(x, y)` anchored `start`, `middle` or `end`; `rotate` turns it about that point
    /// by -90° (a vertical axis title).
    pub fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, text: &str, rotate: bool) {
        let turn = if rotate { format!(" transform=\"rotate(-90 {} {})\"", num(x), num(y)) } else { String::new() };
        let _ = write!(
            self.out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{turn}>{}</text>",
            num(x),
            num(y),
            escape(text)
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_text_escaped() {
        assert_eq!(
            (num(12.0), num(3.5), num(0.254), num(-0.001)),
            ("12".into(), "3.5".into(), "0.25".into(), "0".into())
        );
        let mut s = Svg::new(100.0, 50.0, "roc", "a <b>", " data-x=\"1\"");
        s.text((1.0, 2.0), "middle", "t", "x & y", false);
        assert_eq!(
            s.finish(),
            "<svg class=\"chart roc\" viewBox=\"0 0 100 50\" role=\"img\" data-x=\"1\"><title>a &lt;b&gt;</title>\
             <text class=\"t\" x=\"1\" y=\"2\" text-anchor=\"middle\">x &amp; y</text></svg>"
        );
    }
}
