//! Bad video input: one clear error line naming the file and the cause, a non-zero exit, and
//! no output file left behind.

use std::path::Path;

use crate::util::{arg, gst_make, marlin, media, stderr};

/// Runs `marlin decode` on `video` and checks the failure; returns stderr.
fn decode_fails(video: &Path, cause: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npy");
    let o = marlin(&["decode", arg(video), "--frames", "1000", "-o", arg(&out)], &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{}: expected a failure, got success", video.display());
    let name = video.file_name().unwrap().to_str().unwrap();
    let line = e.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {e}"));
    assert!(line.contains(name) && line.contains(cause), "{name}: expected `{cause}`, got: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(!out.exists(), "{name}: an output file was left behind");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{name}: temporary files left behind");
    e
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn missing_unreadable_and_not_video() {
    let dir = tempfile::tempdir().unwrap();
    decode_fails(&dir.path().join("missing.mp4"), "no such file");
    decode_fails(dir.path(), "is a folder");
    decode_fails(&write(dir.path(), "empty.mp4", b""), "empty file");
    decode_fails(&write(dir.path(), "text.mp4", "not a video at all\n".repeat(100).as_bytes()), "not a video");
    decode_fails(
        &write(
            dir.path(),
            "noise.mkv",
            &(0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>(),
        ),
        "not a video",
    );
}

#[test]
fn truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    // moov at the end (as most recorders write): the index is gone, and the file says so
    let full = std::fs::read(media("marlin/video01.mp4")).unwrap();
    decode_fails(&write(dir.path(), "half.mp4", &full[..full.len() / 2]), "truncated or incomplete");
    decode_fails(&write(dir.path(), "head.mp4", &full[..2000]), "truncated or incomplete");
    // moov first (fast start): the index promises frames the file no longer holds.
    let fast = dir.path().join("fast.mp4");
    gst_make(
        "videotestsrc num-buffers=300 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc ! mp4mux faststart=true",
        &fast,
    );
    let bytes = std::fs::read(&fast).unwrap();
    decode_fails(&write(dir.path(), "fast_cut.mp4", &bytes[..bytes.len() / 2]), "truncated");
}

#[test]
fn no_decodable_frames() {
    let dir = tempfile::tempdir().unwrap();
    // The sample data zeroed, the index intact: every frame fails to decode.
    let mut bytes = std::fs::read(media("marlin/video01.mp4")).unwrap();
    let find = |b: &[u8], tag: &[u8]| b.windows(4).position(|w| w == tag).unwrap();
    let (mdat, moov) = (find(&bytes, b"mdat"), find(&bytes, b"moov"));
    assert!(mdat < moov);
    bytes[mdat + 4..moov - 4].fill(0);
    decode_fails(&write(dir.path(), "zeroed.mp4", &bytes), "no decodable video frames");
}

#[test]
fn audio_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let ogg = dir.path().join("tone.ogg");
    gst_make("audiotestsrc num-buffers=40 ! audioconvert ! vorbisenc ! oggmux", &ogg);
    decode_fails(&ogg, "no video stream");
    let m4a = dir.path().join("tone.m4a");
    gst_make("audiotestsrc num-buffers=40 ! audioconvert ! avenc_aac ! mp4mux", &m4a);
    decode_fails(&m4a, "no video stream");
}

#[test]
fn unsupported_codec() {
    let dir = tempfile::tempdir().unwrap();
    // The sample description's codec tag renamed: no decoder knows `xyzw`.
    let mut bytes = std::fs::read(media("marlin/video01.mp4")).unwrap();
    let stsd = bytes.windows(4).position(|w| w == b"stsd").unwrap();
    let avc1 = stsd + bytes[stsd..].windows(4).position(|w| w == b"avc1").unwrap();
    bytes[avc1..avc1 + 4].copy_from_slice(b"xyzw");
    decode_fails(&write(dir.path(), "xyzw.mp4", &bytes), "no decoder installed for video/x-gst-fourcc-xyzw");
}

#[test]
fn extract_reports_bad_video_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(dir.path(), "clip.mp4", b"hello");
    let model = crate::util::oracle("models/marlin_tiny.encoder.pt");
    let config = crate::util::oracle("marlin_tiny.yaml");
    let out = dir.path().join("features.npy");
    let o =
        marlin(&["extract", arg(&text), "--model", arg(&model), "--model-config", arg(&config), "-o", arg(&out)], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("clip.mp4: not a video"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// A read that never ends (a pipe whose writer stops sending, as a hung network mount does):
/// the video is given up after `--stall-timeout` with an error naming it, not waited on forever.
#[test]
fn stalled_reads_are_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stalled.mp4");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let head = std::fs::read(media("marlin/video01.mp4")).unwrap()[..100_000].to_vec();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let _ = f.write_all(&head);
            // hold the pipe open, sending nothing more, until the reader is done
            let _ = stopped.recv_timeout(std::time::Duration::from_secs(120));
        })
    };
    let started = std::time::Instant::now();
    let out = dir.path().join("out.npy");
    let o = marlin(&["decode", arg(&fifo), "--frames", "10", "--stall-timeout", "2", "-o", arg(&out)], &[]);
    stop.send(()).unwrap();
    writer.join().unwrap();
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    let line = e.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {e}"));
    assert!(line.contains("stalled.mp4") && line.contains("stalled after 0 frame(s)"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    assert!(!out.exists());
}
