//! The plugin as users run it: `gst-launch-1.0` subprocesses loading the built
//! `libgstmarlin.so`, checked against the official features; `gst-inspect-1.0` docs.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use marlin_test_support::{detector_path, shared};

/// A folder holding just the freshly built plugin (cargo leaves it beside the test binary), and
/// a private registry, so no stale or foreign plugin is picked up.
struct Plugin {
    dir: tempfile::TempDir,
}

impl Plugin {
    fn new() -> Self {
        let exe = std::env::current_exe().unwrap();
        let deps = exe.parent().unwrap();
        let so = [deps.join("libgstmarlin.so"), deps.parent().unwrap().join("libgstmarlin.so")]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("libgstmarlin.so not built next to {}", exe.display()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::copy(&so, dir.path().join("plugins/libgstmarlin.so")).unwrap();
        Self { dir }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("GST_PLUGIN_PATH", self.dir.path().join("plugins"))
            .env("GST_REGISTRY", self.dir.path().join("registry.bin"));
        c
    }

    /// Runs a pipeline to its end; a pipeline still running after 5 minutes fails the test.
    fn launch(&self, pipeline: &str) -> Output {
        let mut child = self
            .command("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split_whitespace())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gst-launch-1.0 (apt-get install gstreamer1.0-tools)");
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(300) {
                child.kill().unwrap();
                panic!("gst-launch-1.0 still running after 5 minutes: {pipeline}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }
}

fn read_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = marlin_npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    let v = a.to_f32();
    (a.shape, v)
}

fn models() -> (String, String, String) {
    let s = shared();
    (
        detector_path().display().to_string(),
        s.join("oracle/models/marlin_tiny.encoder.pt").display().to_string(),
        s.join("oracle/marlin_tiny.yaml").display().to_string(),
    )
}

#[test]
fn gst_launch_reproduces_the_official_video_features() {
    let plugin = Plugin::new();
    let (det, model, cfg) = models();
    let video = shared().join("media/marlin/video03.mp4");
    let out = tempfile::tempdir().unwrap();
    let (npy, csv) = (out.path().join("out.npy"), out.path().join("out.csv"));
    let o = plugin.launch(&format!(
        "filesrc location={} ! decodebin ! marlinfacedetect model={det} compat=true ! marlinfacecrop mode=compat ! marlinencoder model={model} config={cfg} ! marlinsink location={} csv-location={} video-id=video03",
        video.display(),
        npy.display(),
        csv.display()
    ));
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let (shape, got) = read_f32(&npy);
    let (want_shape, want) = read_f32(&shared().join("oracle/videos/marlin_tiny/video03.npy"));
    assert_eq!(shape, want_shape);
    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err <= 1e-5, "max-abs {err} against the official extract_video(crop_face=True)");
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    assert_eq!(rows, shape[0], "one CSV row per feature row");
}

/// The other branch of a tee needs a queue holding a clip's worth of frames (33 at the
/// default sampling): the sinks preroll only once the first clip is encoded.
#[test]
fn works_after_uridecodebin_tee_and_queues() {
    let plugin = Plugin::new();
    let (det, model, cfg) = models();
    let video = shared().join("media/marlin/video01.mp4");
    let out = tempfile::tempdir().unwrap();
    let npy = out.path().join("out.npy");
    let o = plugin.launch(&format!(
        "uridecodebin uri=file://{} ! queue ! tee name=t t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! fakesink t. ! queue ! marlinfacedetect model={det} max-side=320 detect-every=2 ! queue ! marlinfacecrop mode=aligned ! queue ! marlinencoder model={model} config={cfg} batch-size=2 ! marlinsink location={}",
        video.display(),
        npy.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let official: usize = 9; // ../shared/oracle/videos/videos.json: video01
    assert_eq!(read_f32(&npy).0, vec![official, 64]);
}

#[test]
fn errors_name_the_problem_and_leave_no_output() {
    let plugin = Plugin::new();
    let (det, _, _) = models();
    let out = tempfile::tempdir().unwrap();
    let npy = out.path().join("out.npy");
    let o = plugin.launch(&format!(
        "filesrc location={} ! decodebin ! marlinfacedetect model={det} ! marlinfacecrop ! marlinencoder model=/no/such/model.pt ! marlinsink location={}",
        shared().join("media/marlin/video03.mp4").display(),
        npy.display()
    ));
    assert!(!o.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("/no/such/model.pt"), "{text}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn gst_inspect_documents_every_element() {
    let plugin = Plugin::new();
    for (element, props) in [
        ("marlinfacedetect", &["model", "threshold", "min-face-size", "detect-every", "max-side", "compat"][..]),
        ("marlinfacecrop", &["mode", "faces", "smoothing"][..]),
        (
            "marlinencoder",
            &[
                "model",
                "config",
                "backend",
                "threads",
                "batch-size",
                "precision",
                "keep-seq",
                "sample-rate",
                "stride",
                "tail",
            ][..],
        ),
        ("marlinsink", &["location", "csv-location", "video-id", "label"][..]),
    ] {
        let o = plugin.command("gst-inspect-1.0").arg(element).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{element}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(text.contains("gst-launch-1.0"), "{element}: no runnable example");
        assert!(text.contains("Pad Templates"), "{element}");
        for p in props {
            assert!(text.contains(&format!("  {p} ")), "{element}: property {p} undocumented");
        }
    }
}

#[test]
fn every_face_gets_its_own_clips() {
    let plugin = Plugin::new();
    let (det, model, cfg) = models();
    let out = tempfile::tempdir().unwrap();
    let (npy, csv) = (out.path().join("out.npy"), out.path().join("out.csv"));
    // a still of several people, 40 frames: one clip (frames 0..30) per face track
    let o = plugin.launch(&format!(
        "filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! imagefreeze num-buffers=40 ! video/x-raw,framerate=25/1 ! marlinfacedetect model={det} ! marlinfacecrop faces=all ! marlinencoder model={model} config={cfg} ! marlinsink location={} csv-location={}",
        shared().join("media/registry/multi_face.jpg").display(),
        npy.display(),
        csv.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 2, "several faces: {text}");
    let mut tracks: Vec<&str> = rows.iter().map(|r| r[4]).collect();
    tracks.sort();
    tracks.dedup();
    assert_eq!(tracks.len(), rows.len(), "one clip per track: {text}");
    assert!(rows.iter().all(|r| r[3] == "0" && r[5] == "0" && r[6] == "30"), "{text}");
    assert_eq!(read_f32(&npy).0, vec![rows.len(), 64]);
}

/// A stream that ends before its first frame still gets its outputs: an empty features file and
/// the CSV header, with a warning saying so (a batch job reading them finds zero rows, not a
/// missing file).
#[test]
fn a_stream_without_frames_writes_empty_outputs_and_warns() {
    let plugin = Plugin::new();
    let (_, model, cfg) = models();
    let out = tempfile::tempdir().unwrap();
    let (npy, csv) = (out.path().join("out.npy"), out.path().join("out.csv"));
    let pipeline = format!(
        "videotestsrc num-buffers=0 ! video/x-raw,format=RGB,width=224,height=224 ! marlinencoder model={model} config={cfg} ! marlinsink location={} csv-location={}",
        npy.display(),
        csv.display()
    );
    let o = plugin
        .command("gst-launch-1.0")
        .env("GST_DEBUG", "marlinsink:2")
        .args(pipeline.split_whitespace())
        .output()
        .expect("gst-launch-1.0");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("without any features") && text.contains("0 rows"), "no warning: {text}");
    let (shape, data) = read_f32(&npy);
    assert_eq!(shape[0], 0, "{shape:?}");
    assert!(data.is_empty());
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 1, "the header only");
}

/// `marlinfacecrop` without `marlinfacedetect` before it would crop the same fallback square
/// from every frame: an error naming the missing element instead.
#[test]
fn facecrop_without_facedetect_upstream_is_an_error() {
    let plugin = Plugin::new();
    let o = plugin.launch(&format!(
        "filesrc location={} ! decodebin ! queue ! marlinfacecrop ! fakesink",
        shared().join("media/marlin/video03.mp4").display()
    ));
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("needs marlinfacedetect upstream"), "{text}");
    // with the detector before it (and a queue between), the same frames crop
    let (det, _, _) = models();
    let o = plugin.launch(&format!(
        "filesrc location={} ! decodebin ! marlinfacedetect model={det} max-side=320 ! queue ! marlinfacecrop ! fakesink",
        shared().join("media/marlin/video03.mp4").display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
