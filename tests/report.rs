//! The screening report in a real browser (headless Chromium over the DevTools protocol): every
//! chart and picture renders without console errors, the table holds exactly `scores.csv`'s rows,
//! the threshold slider changes the labels, the counts and the ROC marker as `scores.csv`
//! computes them, a timeline bar seeks the player to its clip as `clip_scores.csv` times it; and
//! without labels the report still holds the histogram, the table and the timelines.
//!
//! The scores come from a synthetic featurize output (`features.npy` holding each clip's logit
//! and a probe that reads it back), so that they cluster as a real probe's do (0.986–0.9998);
//! the videos are the shared ones (H.264 as they are, the MPEG-4 ones re-encoded to H.264 by
//! ffmpeg, which Chromium plays; one left as MPEG-4, which it does not, for the page to say so).
//! `MARLIN_REPORT_SCREENSHOT=docs/screening-report.png` also writes the README's screenshot
//! (`tools/report_screenshot.sh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::util::{arg, marlin_in, media, stderr};

/// A video of the synthetic featurize output.
struct Video {
    id: String,
    /// As clips.csv names it: absolute, or relative to the folder the report is made from.
    path: String,
    truth: &'static str,
    fps: f64,
    frames: u64,
    face: [f32; 4],
    /// Each clip's probability.
    clips: Vec<f64>,
}

/// The clips MARLIN's rule cuts from `frames` frames (sample rate 2, stride 16): first and last frame.
fn clip_frames(frames: u64) -> Vec<(u64, u64)> {
    match frames {
        0..=16 => vec![(0, frames.saturating_sub(1))],
        17..=32 => vec![(0, 15)],
        _ => (0..).map(|k| 32 * k).take_while(|s| s + 32 < frames).map(|s| (s, s + 30)).collect(),
    }
}

/// Writes a featurize-shaped folder `root/feats` for `videos` (one feature per clip: its logit)
/// and `root/probe.json`, a clip-level probe whose probability of a clip is σ(feature).
fn synthetic(root: &Path, videos: &[Video], threshold: f64) -> PathBuf {
    let feats = root.join("feats");
    std::fs::create_dir_all(&feats).unwrap();
    let mut csv = String::from(
        "row,video_id,path,label,split,clip_index,track_id,first_frame,last_frame,start_s,end_s,face_frames,\
         face_x1,face_y1,face_x2,face_y2,face_score,frames_in_video\n",
    );
    let mut features = Vec::new();
    for v in videos {
        let spans = clip_frames(v.frames);
        assert_eq!(spans.len(), v.clips.len(), "{}: {} clips by MARLIN's rule", v.id, spans.len());
        for (k, ((first, last), p)) in spans.iter().zip(&v.clips).enumerate() {
            let [x1, y1, x2, y2] = v.face;
            csv.push_str(&format!(
                "{row},{id},{path},{truth},,{k},,{first},{last},{:.3},{:.3},16,{x1},{y1},{x2},{y2},0.99,{frames}\n",
                *first as f64 / v.fps,
                (*last + 1) as f64 / v.fps,
                row = features.len() / 2,
                id = v.id,
                path = v.path,
                truth = v.truth,
                frames = v.frames,
            ));
            features.extend([(p / (1.0 - p)).ln() as f32, 0.0]);
        }
    }
    std::fs::write(feats.join("clips.csv"), csv).unwrap();
    std::fs::write(feats.join("failures.csv"), "video_id,path,error\nbroken,/data/broken.mp4,not a video\n").unwrap();
    marlin_npy::write_f32(feats.join("features.npy"), &[features.len() / 2, 2], &features).unwrap();
    let sha = "5e".repeat(32);
    let model =
        json!({ "spec": "synthetic", "path": "synthetic", "sha256": sha, "architecture": "synthetic", "dim": 2 });
    std::fs::write(feats.join("manifest.json"), json!({ "model": model }).to_string()).unwrap();
    let probe = json!({
        "format": "marlin-probe/1",
        "model": { "architecture": "synthetic", "sha256": sha, "dim": 2 },
        "level": "clip", "label_column": "label", "positive": "fake", "negative": "real",
        "mean": [0.0, 0.0], "std": [1.0, 1.0], "weights": [1.0, 0.0], "bias": 0.0,
        "threshold": threshold, "threshold_rule": "fixed", "c": null, "validation": null,
        "source": "a synthetic probe (σ of the first feature)"
    });
    std::fs::write(root.join("probe.json"), probe.to_string()).unwrap();
    feats
}

/// `video` re-encoded to H.264 (which Chromium plays) into `root/videos/`, frame for frame.
fn h264_copy(root: &Path, video: &str) -> String {
    let out = root.join("videos").join(format!("{video}.mp4"));
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(media(&format!("marlin/{video}.mp4")))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-an"])
        .arg(&out)
        .output()
        .expect("ffmpeg is needed to make H.264 test videos (apt-get install ffmpeg)");
    assert!(o.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&o.stderr));
    format!("videos/{video}.mp4")
}

/// Six videos whose scores cluster between 0.986 and 0.9998, as the did: at the
/// threshold 0.995 two fakes found, one missed, two reals flagged, one passed.
fn six_videos(root: &Path, truth: bool) -> Vec<Video> {
    let shared = |name: &str| media(&format!("marlin/{name}.mp4")).canonicalize().unwrap().display().to_string();
    let t = |label: &'static str| if truth { label } else { "" };
    vec![
        Video {
            id: "video01".into(),
            path: shared("video01"),
            truth: t("fake"),
            fps: 30.0,
            frames: 300,
            face: [213.91, 84.04, 302.83, 201.91],
            clips: vec![0.9990, 0.9993, 0.9996, 0.9999, 0.9998, 0.9991, 0.9989, 0.9994, 0.9992],
        },
        Video {
            id: "video02".into(),
            path: shared("video02"),
            truth: t("real"),
            fps: 15.0,
            frames: 195,
            face: [518.75, 144.84, 732.75, 450.75],
            clips: vec![0.990, 0.992, 0.9985, 0.9990, 0.991, 0.993],
        },
        Video {
            id: "video03".into(),
            path: shared("video03"),
            truth: t("real"),
            fps: 30.0,
            frames: 240,
            face: [149.97, 74.81, 198.78, 138.82],
            clips: vec![0.996, 0.997, 0.9995, 0.998, 0.997, 0.996, 0.9965],
        },
        Video {
            id: "cropped01".into(),
            path: h264_copy(root, "cropped01"),
            truth: t("fake"),
            fps: 30.0,
            frames: 143,
            face: [28.87, 7.62, 194.23, 218.42],
            clips: vec![0.9995, 0.9997, 0.9998, 0.9996],
        },
        Video {
            id: "cropped02".into(),
            path: h264_copy(root, "cropped02"),
            truth: t("fake"),
            fps: 15.0,
            frames: 104,
            face: [35.40, 11.95, 186.65, 216.44],
            clips: vec![0.991, 0.989, 0.993],
        },
        Video {
            id: "cropped05".into(),
            // MPEG-4 part 2, which Chromium does not play
            path: shared("cropped05"),
            truth: t("real"),
            fps: 30.0,
            frames: 27,
            face: [22.53, 9.10, 195.44, 213.57],
            clips: vec![0.9985],
        },
    ]
}

/// `marlin probe score` of `feats` into `root/S` (run from `root`, so relative paths resolve).
fn score(root: &Path, feats: &Path) -> PathBuf {
    let out = root.join("S");
    let o = marlin_in(root, &["probe", "score", "--probe", "probe.json", "--features", arg(feats), "--out", "S"]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// The six videos scored at the threshold 0.995 (with their labels or without) into `root/S`.
fn six_scored(root: &Path, truth: bool) -> PathBuf {
    let videos = six_videos(root, truth);
    let feats = synthetic(root, &videos, 0.995);
    score(root, &feats)
}

/// A CSV's rows as maps from column to field.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|row| header.iter().zip(row.unwrap().iter()).map(|(h, f)| (h.to_string(), f.to_string())).collect())
        .collect()
}

/// TP, FP, TN, FN of `scores.csv`'s rows at `threshold` (score ≥ threshold is fake).
fn confusion(scores: &[BTreeMap<String, String>], threshold: f64) -> [u64; 4] {
    let mut c = [0; 4];
    for r in scores {
        let flagged = r["score"].parse::<f64>().unwrap() >= threshold;
        match (r["truth"].as_str(), flagged) {
            ("fake", true) => c[0] += 1,
            ("real", true) => c[1] += 1,
            ("real", false) => c[2] += 1,
            ("fake", false) => c[3] += 1,
            _ => {}
        }
    }
    c
}

/// Checks what holds for any report `dir/report/index.html` in `browser`: every chart and
/// picture rendered, no console errors, the table's rows exactly `dir/scores.csv`'s, a timeline
/// per card with a bar per clip of `clip_scores.csv`. Returns the number of cards.
pub fn check_report(browser: &mut Browser, dir: &Path) -> usize {
    browser.open(&dir.join("report/index.html"));
    browser.wait_for("[...document.images].every(i => i.complete)", "the pictures load");
    let images =
        browser.eval("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])");
    for i in images.as_array().unwrap() {
        assert!(i[1].as_u64() > Some(0) && i[2].as_u64() > Some(0), "a picture did not render: {i}");
    }
    let charts = browser.eval(
        "[...document.querySelectorAll('svg.chart')].map(s => { const b = s.getBBox(); \
         return [s.id, b.width, b.height, s.querySelectorAll('text').length]; })",
    );
    let charts = charts.as_array().unwrap();
    for c in charts {
        assert!(
            c[1].as_f64() > Some(100.0) && c[2].as_f64() > Some(50.0) && c[3].as_u64() > Some(5),
            "a chart did not render: {c}"
        );
    }
    assert!(charts.iter().any(|c| c[0] == "hist-chart"), "no histogram: {charts:?}");

    // the table: every row of scores.csv, as it is
    let scores = read_csv(&dir.join("scores.csv"));
    browser.eval("(() => { const s = document.getElementById('page-size'); s.value = '0'; s.dispatchEvent(new Event('input')); })()");
    let rows = browser.eval(
        "[...document.querySelectorAll('#video-table tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))",
    );
    let mut table: Vec<Vec<String>> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect())
        .collect();
    table.sort_by(|a, b| a[1].cmp(&b[1]));
    let want: Vec<Vec<String>> = scores
        .iter()
        .map(|r| ["video_id", "path", "clips", "score", "label", "truth"].iter().map(|k| r[*k].clone()).collect())
        .collect();
    let got: Vec<Vec<String>> = table.iter().map(|r| r[1..7].to_vec()).collect();
    assert_eq!(got, want, "the table's rows (video, source, clips, score, label, truth) against scores.csv");

    // the cards: a timeline with a bar per clip, at clip_scores.csv's times
    let clips = read_csv(&dir.join("clip_scores.csv"));
    let cards = browser.eval(
        "[...document.querySelectorAll('.card')].map(c => [c.querySelector('h3').lastChild.textContent.trim(), \
         [...c.querySelectorAll('svg.timeline .bar')].map(b => [b.dataset.start, b.dataset.end, b.dataset.p])])",
    );
    let cards = cards.as_array().unwrap();
    for card in cards {
        let id = card[0].as_str().unwrap();
        let bars = card[1].as_array().unwrap();
        let mine: Vec<_> = clips.iter().filter(|c| c["video_id"] == id).collect();
        assert_eq!(bars.len(), mine.len(), "{id}: a bar per clip");
        for (b, c) in bars.iter().zip(&mine) {
            let close = |a: &Value, b: &str| {
                (a.as_str().unwrap().parse::<f64>().unwrap() - b.parse::<f64>().unwrap()).abs() < 5e-4
            };
            assert!(
                close(&b[0], &c["start_s"]) && close(&b[1], &c["end_s"]) && close(&b[2], &c["probability"]),
                "{id}: {b} vs {c:?}"
            );
        }
    }
    assert!(browser.errors.is_empty(), "the page reported errors: {:?}", browser.errors);
    cards.len()
}

/// The counts the page shows.
fn page_counts(browser: &mut Browser) -> [u64; 4] {
    let v = browser.eval("['n-tp', 'n-fp', 'n-tn', 'n-fn'].map(id => Number(document.getElementById(id).textContent))");
    let v: Vec<u64> = v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    [v[0], v[1], v[2], v[3]]
}

/// The README's screenshot: the top of the page (summary, slider, charts, table, first cards).
const SCREENSHOT_HEIGHT: u32 = 2000;

#[test]
fn labelled_report_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = six_scored(dir.path(), true);
    let scores = read_csv(&out.join("scores.csv"));
    let clips = read_csv(&out.join("clip_scores.csv"));
    let mut browser = Browser::launch(1280, 900);
    let cards = check_report(&mut browser, &out);
    let flagged = scores.iter().filter(|r| r["label"] == "fake").count();
    assert_eq!(cards, flagged, "a card per flagged video");
    let shown: Vec<String> =
        serde_json::from_value(browser.eval("[...document.querySelectorAll('svg.chart')].map(s => s.id)")).unwrap();
    assert!(shown.contains(&"roc-chart".to_string()), "labelled videos have a ROC curve: {shown:?}");
    assert_eq!(browser.eval("document.querySelectorAll('.card .face img').length"), json!(3 + 3 + 3 + 1));
    assert!(browser.eval("document.getElementById('roc-chart').textContent").as_str().unwrap().contains("AUC 0.667"));
    assert!(browser.eval("document.getElementById('failures').textContent").as_str().unwrap().contains("not a video"));

    // the slider: counts as scores.csv gives them at the page's threshold, labels and the
    // ROC marker with them
    let probe = confusion(&scores, 0.995);
    assert_eq!(probe, [2, 2, 1, 1]);
    assert_eq!(page_counts(&mut browser), probe);
    let marker = "['cx', 'cy'].map(a => Number(document.getElementById('roc-live').getAttribute(a)))";
    let at_probe = browser.eval(marker);
    for (fraction, want) in [(0.03, Some([3, 3, 0, 0])), (0.97, Some([0, 0, 3, 3])), (0.5, None)] {
        browser.click("#t-range", fraction);
        let t: f64 = browser.eval("document.body.dataset.threshold").as_str().unwrap().parse().unwrap();
        let counts = confusion(&scores, t);
        assert_eq!(page_counts(&mut browser), counts, "counts at the slider's threshold {t}");
        if let Some(want) = want {
            assert_eq!(counts, want, "the slider at {fraction} of its track ({t})");
        }
        let labels = browser.eval("[...document.querySelectorAll('#video-table tbody tr')].map(tr => [tr.cells[1].textContent, tr.cells[5].textContent])");
        for l in labels.as_array().unwrap() {
            let row = scores.iter().find(|r| r["video_id"] == l[0].as_str().unwrap()).unwrap();
            let fake = row["score"].parse::<f64>().unwrap() >= t;
            assert_eq!(l[1], if fake { "fake" } else { "real" }, "{l} at {t}");
        }
        let [tp, fp, tn, fne] = counts.map(|c| c as f64);
        let roc = browser.eval(
            "(() => { const s = document.getElementById('roc-chart').dataset; return [s.xR0, s.xR1, s.yR0, s.yR1].map(Number); })()",
        );
        let r: Vec<f64> = roc.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let want_at = [r[0] + fp / (fp + tn).max(1.0) * (r[1] - r[0]), r[2] + tp / (tp + fne).max(1.0) * (r[3] - r[2])];
        let got = browser.eval(marker);
        let got: Vec<f64> = got.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(
            (got[0] - want_at[0]).abs() < 0.01 && (got[1] - want_at[1]).abs() < 0.01,
            "ROC marker {got:?} vs {want_at:?} at {t}"
        );
    }
    assert_ne!(browser.eval(marker), at_probe, "the ROC marker moved");
    browser.click("#t-reset", 0.5);
    assert_eq!(page_counts(&mut browser), probe, "back at the probe's threshold");

    // a timeline bar plays its clip: video01's clip 6 (the player opens at clip 3, its worst)
    let card = browser.eval(
        "[...document.querySelectorAll('.card')].findIndex(c => c.querySelector('h3').textContent.includes('video01'))",
    );
    let card = card.as_i64().unwrap();
    assert!(card >= 0, "video01 has a card");
    let clip = clips.iter().filter(|c| c["video_id"] == "video01").nth(6).unwrap();
    let (start, end): (f64, f64) = (clip["start_s"].parse().unwrap(), clip["end_s"].parse().unwrap());
    browser.click(&format!("#timeline-{card} .bar[data-clip=\"6\"]"), 0.5);
    let video = format!("document.querySelector('#card-{card} video')");
    let now = browser.wait_for(
        &format!("(() => {{ const v = {video}; return v.readyState >= 1 && !v.seeking && v.currentTime > 0 && v.currentTime; }})()"),
        "the player seeks to the clicked clip",
    );
    let now = now.as_f64().unwrap();
    assert!(now >= start - 0.05 && now <= end + 0.05, "the player is at {now} s, clip 6 spans {start}–{end} s");
    let src = browser.eval(&format!("{video}.src"));
    assert!(src.as_str().unwrap().ends_with(&format!("#t={start:.3},{end:.3}")), "media fragment: {src}");

    // a video the browser cannot play (MPEG-4 part 2) says so
    let mpeg4 = browser.eval("[...document.querySelectorAll('.card')].findIndex(c => c.querySelector('h3').textContent.includes('cropped05'))");
    browser.click(&format!("#card-{} video", mpeg4.as_i64().unwrap()), 0.5);
    let note = browser.wait_for(
        &format!("document.querySelector('#card-{} .video-note.warn')?.textContent", mpeg4.as_i64().unwrap()),
        "the page says when a video cannot play",
    );
    assert!(note.as_str().unwrap().contains("cannot play"), "{note}");
    assert!(browser.errors.is_empty(), "the page reported errors: {:?}", browser.errors);

    if let Some(path) = std::env::var_os("MARLIN_REPORT_SCREENSHOT") {
        browser.open(&out.join("report/index.html"));
        browser.wait_for("[...document.images].every(i => i.complete)", "the pictures load");
        browser.screenshot(Path::new(&path), SCREENSHOT_HEIGHT);
    }
}

#[test]
fn unlabelled_report_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = six_scored(dir.path(), false);
    let mut browser = Browser::launch(1280, 900);
    let cards = check_report(&mut browser, &out);
    assert_eq!(cards, 4, "the flagged videos still have their evidence");
    assert_eq!(browser.eval("document.getElementById('roc-chart')"), Value::Null, "no ROC without labels");
    assert_eq!(browser.eval("document.getElementById('n-tp')"), Value::Null, "no confusion counts without labels");
    assert!(
        browser.eval("document.getElementById('roc').textContent").as_str().unwrap().contains("no fake/real labels")
    );
    // the slider still relabels and counts the flagged videos
    browser.click("#t-range", 0.03);
    assert_eq!(browser.eval("document.getElementById('n-flagged').textContent"), json!("6"));
    assert!(browser.errors.is_empty(), "the page reported errors: {:?}", browser.errors);
}

/// 10,000 videos (the six files over and over, 5 clips each on average, half of them fake,
/// scores spread as a weak probe's): the report folder stays under 50 MB and the page responsive
/// (a sort or a slider move over every video well under a second). Prints what it measured:
/// `cargo test -p marlin-cli --test tests report::ten_thousand -- --nocapture` (docs/BENCHMARKS.md).
#[test]
fn ten_thousand_videos() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let templates = six_videos(root, true);
    // xorshift64*, then Box–Muller: clip logits around 3 (fake) or 1 (real)
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move || (-2.0 * (1.0 - uniform()).ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
    let ids: Vec<String> = (0..10_000).map(|k| format!("batch{}/video{k:05}", k / 1000)).collect();
    let videos: Vec<Video> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let t = &templates[k % templates.len()];
            let fake = normal() > 0.0;
            let centre = if fake { 3.0 } else { 1.0 } + 1.5 * normal();
            let clips =
                clip_frames(t.frames).iter().map(|_| 1.0 / (1.0 + (-(centre + 0.7 * normal())).exp())).collect();
            Video {
                id: id.clone(),
                path: t.path.clone(),
                truth: if fake { "fake" } else { "real" },
                fps: t.fps,
                frames: t.frames,
                face: t.face,
                clips,
            }
        })
        .collect();
    let feats = synthetic(root, &videos, 0.95);
    let started = std::time::Instant::now();
    let out = score(root, &feats);
    let scoring = started.elapsed().as_secs_f64();
    let report = out.join("report");
    let files: Vec<u64> =
        std::fs::read_dir(report.join("faces")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    let page = std::fs::metadata(report.join("index.html")).unwrap().len();
    let total = page + files.iter().sum::<u64>();
    let flagged = read_csv(&out.join("scores.csv")).iter().filter(|r| r["label"] == "fake").count();

    let mut browser = Browser::launch(1280, 900);
    let started = std::time::Instant::now();
    browser.open(&report.join("index.html"));
    let load = started.elapsed().as_secs_f64();
    browser.wait_for("document.querySelectorAll('#video-table tbody tr').length === 50", "the first page of the table");
    // a sort over every video and a slider move, timed in the page (both re-render the table)
    let sort = browser.eval(
        "(() => { const t = performance.now(); document.querySelector('th[data-key=\"id\"] button').click(); return performance.now() - t; })()",
    );
    let slide = browser.eval(
        "(() => { const r = document.getElementById('t-range'); const t = performance.now(); r.value = String((Number(r.min) + Number(r.max)) / 2); \
         r.dispatchEvent(new Event('input')); return performance.now() - t; })()",
    );
    let all = browser.eval(
        "(() => { const s = document.getElementById('page-size'); const t = performance.now(); s.value = '0'; s.dispatchEvent(new Event('input')); \
         return [performance.now() - t, document.querySelectorAll('#video-table tbody tr').length]; })()",
    );
    assert!(browser.errors.is_empty(), "{:?}", browser.errors);
    println!(
        "10000 videos, {} clips, {flagged} flagged: probe score {scoring:.1} s; report {:.1} MB (index.html {:.1} MB, {} face JPEGs {:.1} MB); \
         page load {load:.2} s; sort {:.0} ms; slider {:.0} ms; all rows {:.0} ms for {}",
        videos.iter().map(|v| v.clips.len()).sum::<usize>(),
        total as f64 / 1e6,
        page as f64 / 1e6,
        files.len(),
        files.iter().sum::<u64>() as f64 / 1e6,
        sort.as_f64().unwrap(),
        slide.as_f64().unwrap(),
        all[0].as_f64().unwrap(),
        all[1]
    );
    assert!(total < 50_000_000, "the report folder is {total} bytes");
    assert_eq!(all[1], json!(10_000));
    // generous bounds (this machine: tens of milliseconds), so that a loaded CI machine passes
    assert!(sort.as_f64() < Some(1000.0) && slide.as_f64() < Some(1000.0), "sort {sort} ms, slider {slide} ms");
}
