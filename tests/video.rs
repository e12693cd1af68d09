//! Video in: `marlin decode` frames byte-identical to the official ones, `marlin extract`
//! features within the official test suite's tolerance, every container/codec GStreamer
//! decodes, and the sampling options.

use std::path::Path;

use crate::util::{arg, ffmpeg_rgb, gst_make, marlin, media, npz_frames, oracle, read_f32, read_u8, stderr};

fn decode(video: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["decode", arg(video), "-o", arg(out)];
    args.extend_from_slice(extra);
    marlin(&args, &[])
}

#[test]
fn decode_is_byte_identical_to_the_official_frames() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["cropped01", "cropped04", "cropped05", "video01", "video03"] {
        let out = dir.path().join(format!("{name}.npy"));
        let o = decode(&media(&format!("marlin/{name}.mp4")), &out, &["--frames", "32"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("colour exact"), "{}", stderr(&o));
        let (shape, got) = read_u8(&out);
        let (want_shape, want) = npz_frames(&oracle(&format!("frames/{name}.npz")));
        assert_eq!(shape, want_shape, "{name}");
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "{name}: {differing} bytes differ from the official frames");
    }
}

#[test]
fn videoconvert_mode_runs_and_is_not_the_official_arithmetic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vc.npy");
    let o = decode(&media("marlin/video01.mp4"), &out, &["--frames", "4", "--colour", "videoconvert"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("colour videoconvert"), "{}", stderr(&o));
    let (shape, got) = read_u8(&out);
    assert_eq!(shape, vec![4, 360, 480, 3]);
    let (_, want) = npz_frames(&oracle("frames/video01.npz"));
    let mean = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b) as f64).sum::<f64>() / got.len() as f64;
    assert!(mean > 0.1 && mean < 4.0, "videoconvert's mean difference {mean}");
}

/// (oracle model folder, checkpoint, extra flags)
fn oracle_models() -> Vec<(&'static str, String, Vec<String>)> {
    let s = |p: std::path::PathBuf| arg(&p).to_string();
    vec![
        (
            "marlin_tiny",
            s(oracle("models/marlin_tiny.encoder.pt")),
            vec!["--model-config".into(), s(oracle("marlin_tiny.yaml"))],
        ),
        ("marlin_vit_small_random", s(oracle("models/marlin_vit_small_random.encoder.f16.safetensors")), vec![]),
    ]
}

fn extract(video: &Path, model: &str, flags: &[String], out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = vec!["extract", arg(video), "--model", model, "-o", arg(out)];
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    marlin(&args, &[])
}

#[test]
fn extract_matches_the_official_video_features() {
    let dir = tempfile::tempdir().unwrap();
    for (folder, model, flags) in oracle_models() {
        for (video, clips) in [("cropped01", 4), ("cropped02", 3), ("cropped04", 1), ("cropped05", 1)] {
            let out = dir.path().join(format!("{folder}.{video}.npy"));
            let o = extract(&media(&format!("marlin/{video}.mp4")), &model, &flags, &out, &[]);
            assert!(o.status.success(), "{}", stderr(&o));
            let (shape, got) = read_f32(&out);
            let (want_shape, want) = read_f32(&oracle(&format!("videos/{folder}/{video}.npy")));
            assert_eq!(shape, want_shape, "{folder} {video}");
            assert_eq!(shape[0], clips);
            let d = shape[1];
            for c in 0..clips {
                let mad = (0..d).map(|i| (got[c * d + i] - want[c * d + i]).abs()).sum::<f32>() / d as f32;
                assert!(mad < 1.5e-4, "{folder} {video} clip {c}: mean-abs-diff {mad}");
            }
        }
    }
}

#[test]
fn extract_options() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model, flags) = oracle_models().remove(0);
    let video = media("marlin/cropped01.mp4"); // 143 frames at 30 fps
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = extract(&video, &model, &flags, &out, extra);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        read_f32(&out)
    };
    let (shape, rows) = run("plain.npy", &["--batch", "3"]);
    assert_eq!(shape, vec![4, 64]);
    let (s, pad) = run("pad.npy", &["--tail", "pad"]);
    assert_eq!(s, vec![5, 64], "one more clip over frames 128..142");
    assert_eq!(&pad[..4 * 64], &rows[..], "the official clips are unchanged");
    let (s, two) = run("max.npy", &["--max-clips", "2"]);
    assert_eq!(s, vec![2, 64]);
    assert_eq!(&two[..], &rows[..2 * 64]);
    let (s, _) = run("fps.npy", &["--fps", "15"]);
    assert_eq!(s, vec![2, 64], "143 frames at 30 fps are 72 at 15 fps: windows 0 and 32");
    let (s, mean) = run("mean.npy", &["--reduction", "mean"]);
    assert_eq!(s, vec![64]);
    let (s, max) = run("max_red.npy", &["--reduction", "max"]);
    assert_eq!(s, vec![64]);
    for i in 0..64 {
        let col: Vec<f32> = (0..4).map(|c| rows[c * 64 + i]).collect();
        assert!((mean[i] - col.iter().sum::<f32>() / 4.0).abs() < 1e-6);
        assert_eq!(max[i], col.iter().copied().fold(f32::MIN, f32::max));
    }
    let (s, seq) = run("seq.npy", &["--keep-seq", "--max-clips", "1"]);
    assert_eq!(s, vec![1, 1568, 64]);
    assert!(seq.iter().all(|v| v.is_finite()));
    // Sample rate 1, stride 8: windows of 16 consecutive frames every 8 frames, s < 143 − 16.
    let (s, _) = run("sr1.npy", &["--sample-rate", "1", "--stride", "8"]);
    assert_eq!(s, vec![16, 64]);
}

#[test]
fn extract_asks_for_face_crops_on_uncropped_video() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model, flags) = oracle_models().remove(0);
    let out = dir.path().join("x.npy");
    let o = extract(&media("marlin/video01.mp4"), &model, &flags, &out, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("video01.mp4") && e.contains("480x360") && e.contains("224x224"), "{e}");
    assert!(!out.exists());
}

/// Containers and codecs made with GStreamer's encoders: every frame decoded, sizes kept
/// (odd ones included), and the exact path equal to FFmpeg's own conversion.
#[test]
fn containers_and_codecs() {
    let dir = tempfile::tempdir().unwrap();
    let src = "videotestsrc num-buffers=20 pattern=smpte ! video/x-raw,width=318,height=238,framerate=25/1";
    let cases = [
        ("h264.mkv", format!("{src},format=I420 ! x264enc ! matroskamux"), "avdec_h264"),
        ("vp8.webm", format!("{src},format=I420 ! vp8enc ! webmmux"), "avdec_vp8"),
        ("vp9.webm", format!("{src},format=I420 ! vp9enc ! webmmux"), "avdec_vp9"),
        ("mpeg4.avi", format!("{src},format=I420 ! avenc_mpeg4 ! avimux"), "avdec_mpeg4"),
        ("mjpeg.avi", format!("{src},format=I420 ! jpegenc ! avimux"), "avdec_mjpeg"),
        ("hevc.mov", format!("{src},format=I420 ! x265enc ! h265parse ! qtmux"), "avdec_h265"),
        ("av1.mkv", format!("{src},format=I420 ! av1enc cpu-used=8 ! av1parse ! matroskamux"), "av1dec"),
        ("h264_422.mp4", format!("{src},format=Y42B ! x264enc ! mp4mux"), "avdec_h264"),
        ("h264_444_10bit.mp4", format!("{src},format=Y444_10LE ! x264enc ! mp4mux"), "avdec_h264"),
    ];
    for (name, pipeline, decoder) in cases {
        let video = dir.path().join(name);
        gst_make(&pipeline, &video);
        let out = dir.path().join(format!("{name}.npy"));
        let o = decode(&video, &out, &["--frames", "1000", "--decoder", "software"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("decoder {decoder}")) && stderr(&o).contains("colour exact"),
            "{name}: {}",
            stderr(&o)
        );
        let (shape, got) = read_u8(&out);
        assert_eq!(shape, vec![20, 238, 318, 3], "{name}");
        assert!(got == ffmpeg_rgb(&video), "{name}: frames differ from FFmpeg's rgb24 conversion");
    }
}

#[test]
fn nvdec_without_nvidia_is_a_clear_error() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        return; // a machine with NVDEC: covered by the GPU checks instead
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let o = decode(&media("marlin/video01.mp4"), &out, &["--decoder", "nvdec"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("video01.mp4") && stderr(&o).contains("NVDEC"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// A long video decodes in flat memory: peak RSS barely grows with 10x the frames.
#[test]
fn memory_does_not_grow_with_video_length() {
    let dir = tempfile::tempdir().unwrap();
    let rss = |frames: u32| {
        let video = dir.path().join(format!("long{frames}.mp4"));
        gst_make(
            &format!(
                "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux"
            ),
            &video,
        );
        let o = marlin(&["bench", "decode", arg(&video), "--repeat", "1"], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let line = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(line.contains(&format!("frames={frames} ")), "{line}");
        let mb: f64 = line
            .split("peak_rss_mb=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        mb
    };
    let (short, long) = (rss(150), rss(1500));
    assert!(long < short + 25.0, "peak RSS {short} MB for 150 frames, {long} MB for 1500");
}

/// A format the exact path does not cover (raw AYUV in Matroska): `exact` refuses it with a
/// clear error, `auto` falls back to videoconvert and says so.
#[test]
fn uncovered_format_falls_back_or_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("ayuv.mkv");
    gst_make(
        "videotestsrc num-buffers=5 ! video/x-raw,format=AYUV,width=64,height=48,framerate=25/1 ! matroskamux",
        &video,
    );
    let out = dir.path().join("exact.npy");
    let o = decode(&video, &out, &["--colour", "exact"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("ayuv.mkv: the decoder outputs AYUV, which the exact colour path does not cover"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let out = dir.path().join("auto.npy");
    let o = decode(&video, &out, &["--colour", "auto"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("decoder none (raw video), colour videoconvert"), "{}", stderr(&o));
    assert_eq!(read_u8(&out).0, vec![5, 48, 64, 3]);
}
