//! The report page's HTML: the summary, the threshold bar with the counts, the charts, the table
//! of every video (filled by the script from the page's JSON data), the cards of the flagged
//! videos and the failed ones. The style and the script (`report.css`, `report.js`) are
//! included in the page, so it is one file beside its thumbnails.

use std::fmt::Write;

use serde::Serialize;

use super::Card;
use super::links::{LinkKind, VideoLink};
use crate::Probe;
use crate::metrics::Confusion;
use crate::score::{VideoScore, VideoVerdict, format_probability, format_seconds};
use marlin_batch::tables::Failure;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Everything the page shows.
pub(super) struct Page<'a> {
    pub probe: &'a Probe,
    pub video_score: VideoScore,
    pub videos: &'a [VideoVerdict],
    pub links: &'a [VideoLink],
    /// Each video's card, if it has one.
    pub card_of: &'a [Option<usize>],
    /// Each video's rank by score (1 = highest).
    pub rank_of: &'a [usize],
    pub clips: usize,
    pub flagged: usize,
    pub cards: &'a [Card<'a>],
    pub confusion: Option<Confusion>,
    pub roc: Option<String>,
    pub histogram: String,
    /// The logit range of the slider.
    pub domain: (f64, f64),
    pub failures: &'a [Failure],
}

/// The page's data for its script: one entry per video, in `scores.csv`'s order.
#[derive(Serialize)]
struct Data<'a> {
    positive: &'a str,
    negative: &'a str,
    threshold: f64,
    /// The slider's range (logits).
    domain: [f64; 2],
    labelled: bool,
    videos: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    path: &'a str,
    href: &'a str,
    link: LinkKind,
    clips: usize,
    score: f64,
    /// The score as `scores.csv` writes it.
    shown: String,
    truth: &'a str,
    rank: usize,
    card: Option<usize>,
}

/// HTML text (and attribute values in double or single quotes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub(super) fn render(p: &Page) -> String {
    let probe = p.probe;
    let labelled = p.confusion.is_some();
    let data = Data {
        positive: &probe.positive,
        negative: &probe.negative,
        threshold: probe.threshold,
        domain: [p.domain.0, p.domain.1],
        labelled,
        videos: p
            .videos
            .iter()
            .enumerate()
            .map(|(i, v)| Row {
                id: &v.video_id,
                path: &v.path,
                href: &p.links[i].href,
                link: p.links[i].kind,
                clips: v.clips,
                score: v.score,
                shown: format_probability(v.score),
                truth: &v.truth,
                rank: p.rank_of[i],
                card: p.card_of[i],
            })
            .collect(),
    };
    // a JSON string never holds a raw `<` that could close the script element
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c");

    let mut h = String::new();
    let t = format_probability(probe.threshold);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Screening report: {flagged} of {n} flagged {pos}</title><style>{STYLE}</style></head>\n<body>\n",
        flagged = p.flagged,
        n = p.videos.len(),
        pos = escape(&probe.positive),
    );
    h.push_str(&header(p));
    h.push_str(&threshold_bar(p, &t));
    h.push_str("<section class=\"charts\" aria-label=\"charts\">\n");
    match &p.roc {
        Some(svg) => {
            let _ = writeln!(
                h,
                "<figure id=\"roc\">{svg}<figcaption>Each point is a threshold: the share of {neg} videos flagged \
                 (false positives) against the share of {pos} videos found. The filled dot is the probe's threshold, \
                 the ring follows the slider.</figcaption></figure>",
                neg = escape(&probe.negative),
                pos = escape(&probe.positive)
            );
        }
        None => {
            let why = if labelled {
                format!(
                    "all labelled videos are of one class ({} and {} are both needed)",
                    probe.positive, probe.negative
                )
            } else {
                format!("the videos carry no {}/{} labels", probe.positive, probe.negative)
            };
            let _ = writeln!(h, "<figure id=\"roc\" class=\"empty\"><p>No ROC curve: {}.</p></figure>", escape(&why));
        }
    }
    let _ = write!(
        h,
        "<figure id=\"histogram\">{}<figcaption>Video scores on a logit axis: equal steps of odds, so scores \
         that crowd near 1 (0.99, 0.999, 0.9999) still fall in bins of their own. Bars are counts of videos; \
         the dashed line is the probe's threshold.</figcaption></figure>\n</section>\n",
        p.histogram
    );
    h.push_str(&table(p));
    h.push_str(&cards(p, &t));
    h.push_str(&failures(p.failures));
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"report-data\">{json}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    h
}

fn header(p: &Page) -> String {
    let probe = p.probe;
    let n = p.videos.len();
    let truth = |l: &str| p.videos.iter().filter(|v| v.truth == l).count();
    let (pos, neg) = (truth(&probe.positive), truth(&probe.negative));
    let mut h = String::from("<header>\n<h1>Screening report</h1>\n");
    let _ = write!(
        h,
        "<p class=\"summary\"><b>{flagged}</b> of {n} videos flagged <b>{positive}</b> at the probe's threshold \
         {t} · {clips} clips · ",
        flagged = p.flagged,
        positive = escape(&probe.positive),
        t = format_probability(probe.threshold),
        clips = p.clips
    );
    if pos + neg > 0 {
        let _ = write!(h, "labels: {pos} {}, {neg} {}", escape(&probe.positive), escape(&probe.negative));
        if pos + neg < n {
            let _ = write!(h, ", {} unlabelled", n - pos - neg);
        }
    } else {
        h.push_str("no labels (no ROC or confusion counts)");
    }
    if !p.failures.is_empty() {
        let _ = write!(h, " · <a href=\"#failures\">{} not screened</a>", p.failures.len());
    }
    h.push_str("</p>\n");
    let short: String = probe.model.sha256.chars().take(12).collect();
    let _ = writeln!(
        h,
        "<p class=\"probe\">Probe: {positive} vs {negative}, threshold {t} ({rule}), {level}-level, from {source}; \
         a video's score is the {how} of its clips' probabilities. Features of {arch} (SHA-256 {short}…).</p>",
        positive = escape(&probe.positive),
        negative = escape(&probe.negative),
        t = format_probability(probe.threshold),
        rule = escape(&probe.threshold_rule),
        level = match probe.level {
            crate::Level::Video => "video",
            crate::Level::Clip => "clip",
        },
        source = escape(&probe.source),
        how = match p.video_score {
            VideoScore::Mean => "mean".to_string(),
            VideoScore::Max => "maximum".to_string(),
            VideoScore::TopK(k) => format!("mean of the {k} highest"),
        },
        arch = escape(&probe.model.architecture),
    );
    let count = |k: LinkKind| p.links.iter().filter(|l| l.kind == k).count();
    let mut notes = Vec::new();
    if count(LinkKind::Relative) > 0 {
        notes.push(
            "Videos named by relative paths are linked relative to this folder: they play while the report \
             and the videos keep their places (move or zip them together)."
                .to_string(),
        );
    }
    if count(LinkKind::Absolute) > 0 {
        notes.push(format!(
            "{} videos named by absolute paths are linked as <code>file://</code> URLs: they play on this machine, \
             or on one with the videos at the same paths, when the page is opened from a file.",
            count(LinkKind::Absolute)
        ));
    }
    if count(LinkKind::Missing) > 0 {
        notes.push(format!(
            "{} videos were not found at the path clips.csv gives when this report was written: their players stay empty.",
            count(LinkKind::Missing)
        ));
    }
    for note in notes {
        let _ = writeln!(h, "<p class=\"note\">{note}</p>");
    }
    h.push_str(
        "<p class=\"note\" id=\"served-note\" hidden>This page is served over the network: the browser will not \
         open <code>file://</code> videos from it.</p>\n\
         <p class=\"note warn\" id=\"missing-images\" hidden>Some pictures did not load: keep the faces/ folder beside \
         index.html.</p>\n<noscript><p class=\"note warn\">The table, the slider and the players need JavaScript.</p></noscript>\n</header>\n",
    );
    h
}

fn threshold_bar(p: &Page, t: &str) -> String {
    let probe = p.probe;
    let z = super::scale::logit(probe.threshold);
    let mut h = String::new();
    let _ = write!(
        h,
        "<section id=\"controls\" aria-label=\"threshold\">\n<label for=\"t-range\">Threshold</label>\
         <input type=\"range\" id=\"t-range\" min=\"{lo}\" max=\"{hi}\" step=\"any\" value=\"{z}\" \
         aria-describedby=\"t-help\">\
         <input type=\"number\" id=\"t-value\" min=\"0\" max=\"1\" step=\"0.000001\" value=\"{t}\" aria-label=\"threshold\">\
         <button type=\"button\" id=\"t-reset\">probe's {t}</button>\
         <span id=\"t-help\" class=\"help\">slide on the logit scale; a video is {pos} when its score ≥ the threshold</span>\n<dl id=\"counts\">",
        lo = p.domain.0,
        hi = p.domain.1,
        pos = escape(&probe.positive),
    );
    let item = |h: &mut String, id: &str, name: &str, title: &str, value: String| {
        let _ = write!(h, "<div title=\"{title}\"><dt>{name}</dt><dd id=\"{id}\">{value}</dd></div>");
    };
    item(&mut h, "n-flagged", "flagged", "videos at or above the threshold", p.flagged.to_string());
    if let Some(c) = p.confusion {
        let ratio = |a: usize, b: usize| {
            if a + b == 0 { "–".to_string() } else { format!("{:.3}", a as f64 / (a + b) as f64) }
        };
        let pos = escape(&probe.positive);
        let neg = escape(&probe.negative);
        item(&mut h, "n-tp", "TP", &format!("{pos} videos flagged"), c.true_positives.to_string());
        item(&mut h, "n-fp", "FP", &format!("{neg} videos flagged"), c.false_positives.to_string());
        item(&mut h, "n-tn", "TN", &format!("{neg} videos passed"), c.true_negatives.to_string());
        item(&mut h, "n-fn", "FN", &format!("{pos} videos passed"), c.false_negatives.to_string());
        item(&mut h, "precision", "precision", "TP / (TP + FP)", ratio(c.true_positives, c.false_positives));
        item(&mut h, "recall", "recall", "TP / (TP + FN)", ratio(c.true_positives, c.false_negatives));
    }
    h.push_str("</dl>\n</section>\n");
    h
}

fn table(p: &Page) -> String {
    let probe = p.probe;
    let mut h = String::from("<section id=\"videos\">\n<h2>All videos</h2>\n<div class=\"tools\">");
    let _ = write!(
        h,
        "<label>label <select id=\"f-label\"><option value=\"\">all</option><option value=\"{pos}\">{pos}</option>\
         <option value=\"{neg}\">{neg}</option></select></label>",
        pos = escape(&probe.positive),
        neg = escape(&probe.negative)
    );
    let mut truths: Vec<&str> = p.videos.iter().map(|v| v.truth.as_str()).filter(|t| !t.is_empty()).collect();
    truths.sort_unstable();
    truths.dedup();
    if !truths.is_empty() {
        h.push_str("<label>truth <select id=\"f-truth\"><option value=\"\">all</option>");
        for t in truths.iter().take(50) {
            let _ = write!(h, "<option value=\"{0}\">{0}</option>", escape(t));
        }
        h.push_str("</select></label>");
    }
    h.push_str(
        "<label>find <input type=\"search\" id=\"f-text\" placeholder=\"id or path\"></label>\
         <label>rows <select id=\"page-size\"><option>25</option><option selected>50</option><option>200</option>\
         <option>1000</option><option value=\"0\">all</option></select></label>\
         <span class=\"pager\"><button type=\"button\" id=\"prev\" aria-label=\"previous page\">◀</button>\
         <span id=\"page-no\"></span><button type=\"button\" id=\"next\" aria-label=\"next page\">▶</button></span>\
         <span id=\"row-count\" aria-live=\"polite\"></span></div>\n<table id=\"video-table\">\n<thead><tr>",
    );
    let mut columns = vec![
        ("rank", "#"),
        ("id", "video"),
        ("path", "source"),
        ("clips", "clips"),
        ("score", "score"),
        ("label", "label"),
        ("truth", "truth"),
    ];
    if p.confusion.is_some() {
        columns.push(("outcome", "outcome"));
    }
    for (key, name) in columns {
        let _ = write!(h, "<th data-key=\"{key}\"><button type=\"button\">{name}</button></th>");
    }
    h.push_str("</tr></thead>\n<tbody></tbody>\n</table>\n</section>\n");
    h
}

fn cards(p: &Page, t: &str) -> String {
    let probe = p.probe;
    let mut h = String::from("<section id=\"flagged\">\n");
    let n = p.cards.len();
    if p.flagged > 0 {
        let _ = write!(
            h,
            "<h2>Flagged videos</h2>\n<p>{} of {} videos score at least the probe's threshold {t}",
            p.flagged,
            p.videos.len()
        );
        if n == 0 {
            h.push_str("; their evidence is left out (--report-top 0), every one is in the table");
        } else if n < p.flagged {
            let _ = write!(h, "; the {n} highest-scored have their evidence here, every one is in the table");
        }
        h.push_str(". Click a bar of a timeline (or a face) to play that clip.</p>\n");
    } else if n == 0 {
        let _ = writeln!(h, "<h2>Flagged videos</h2>\n<p>No video reaches the probe's threshold {t}.</p>");
    } else {
        let _ = writeln!(
            h,
            "<h2>Highest-scored videos</h2>\n<p>No video reaches the probe's threshold {t}; the {n} highest-scored:</p>"
        );
    }
    h.push_str(
        "<div class=\"tools\" id=\"card-pager\"><span class=\"pager\"><button type=\"button\" id=\"card-prev\" \
         aria-label=\"previous cards\">◀</button><span id=\"card-page-no\"></span><button type=\"button\" \
         id=\"card-next\" aria-label=\"next cards\">▶</button></span></div>\n<div id=\"cards\">\n",
    );
    for (k, c) in p.cards.iter().enumerate() {
        let v = c.video;
        let verdict = if v.label == probe.positive { "pos" } else { "neg" };
        let _ = write!(
            h,
            "<article class=\"card\" id=\"card-{k}\" data-score=\"{score}\">\n<header><h3><span class=\"rank\">#{rank}</span> \
             {id}</h3><p class=\"meta\">score <b>{shown}</b> · <span class=\"verdict {verdict}\">{label}</span> · truth {truth} \
             · {clips} clip{s} · ",
            score = v.score,
            rank = c.rank,
            id = escape(&v.video_id),
            shown = format_probability(v.score),
            label = escape(&v.label),
            truth = if v.truth.is_empty() { "unknown".to_string() } else { escape(&v.truth) },
            clips = v.clips,
            s = if v.clips == 1 { "" } else { "s" },
        );
        if c.link.href.is_empty() {
            h.push_str("no source file");
        } else {
            let _ = write!(h, "<a href=\"{}\">{}</a>", escape(&c.link.href), escape(&v.path));
        }
        h.push_str("</p></header>\n<div class=\"evidence\">\n");
        let _ = write!(h, "<figure class=\"timeline-figure\">{}</figure>\n<div class=\"player\">", c.timeline);
        if !c.link.href.is_empty() {
            let fragment =
                c.opening.map_or(String::new(), |(a, b)| format!("#t={},{}", format_seconds(a), format_seconds(b)));
            // the most suspicious face stands in for the video until it plays
            let poster = c
                .faces
                .iter()
                .find(|f| f.error.is_none())
                .map_or(String::new(), |f| format!(" poster=\"{}\"", escape(&f.file)));
            let _ = write!(
                h,
                "<video controls preload=\"metadata\" playsinline{poster} data-base=\"{0}\" data-src=\"{0}{fragment}\"></video>",
                escape(&c.link.href)
            );
        }
        let _ = write!(
            h,
            "<p class=\"video-note\">{}</p></div>\n</div>\n<div class=\"faces\">",
            escape(c.link.kind.note())
        );
        for f in &c.faces {
            let span = f.span.map_or(String::new(), |(a, b)| {
                format!(" data-start=\"{a}\" data-end=\"{b}\" tabindex=\"0\" role=\"button\"")
            });
            match &f.error {
                None => {
                    let _ = write!(
                        h,
                        "<figure class=\"face\"{span}><img src=\"{file}\" alt=\"face, {caption}\" width=\"224\" height=\"224\">\
                         <figcaption>{caption}</figcaption></figure>",
                        file = escape(&f.file),
                        caption = escape(&f.caption)
                    );
                }
                Some(e) => {
                    let _ = write!(
                        h,
                        "<figure class=\"face missing\"{span}><p>no picture: {}</p><figcaption>{}</figcaption></figure>",
                        escape(e),
                        escape(&f.caption)
                    );
                }
            }
        }
        h.push_str("</div>\n</article>\n");
    }
    h.push_str("</div>\n</section>\n");
    h
}

fn failures(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let mut h = format!(
        "<section id=\"failures\">\n<h2>Not screened ({})</h2>\n<p>These videos could not be featurised \
         (failures.csv); they have no score.</p>\n<table><thead><tr><th>video</th><th>source</th><th>error</th></tr></thead><tbody>",
        failures.len()
    );
    for f in failures {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&f.video_id),
            escape(&f.path),
            escape(&f.error)
        );
    }
    h.push_str("</tbody></table>\n</section>\n");
    h
}
