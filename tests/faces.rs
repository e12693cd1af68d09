//! Faces: the RetinaFace port against the official detector's raw outputs and detections, and
//! `marlin extract --crop-face --compat` against the official crops and video features.

use std::path::{Path, PathBuf};
use std::process::Output;

use marlin_faces::{FrameRef, PixelOrder, RetinaFace};

use crate::util::{
    arg, cosine, detector_path, extract_tiny, marlin, max_abs_diff, media, npz_array, oracle, read_f32, stderr,
};

/// `marlin extract VIDEO --crop-face --detector <the detector> FLAGS` with the tiny model.
fn extract_faces(video: &Path, flags: &[&str], out: &Path) -> Output {
    let det = detector_path();
    extract_tiny(video, &[&["--crop-face", "--detector", arg(&det)][..], flags].concat(), out)
}

/// `marlin detect INPUT --detector DET FLAGS -o OUT`.
fn detect(input: &Path, det: &Path, flags: &[&str], out: &Path) -> Output {
    marlin(&[&["detect", arg(input), "--detector", arg(det)][..], flags, &["-o", arg(out)]].concat(), &[])
}

#[test]
fn raw_outputs_and_detections_match_the_official_detector() {
    let det = RetinaFace::load(&detector_path(), 0).unwrap();
    for image in OFFICIAL_DETECTOR_IMAGES {
        let img = marlin_media::read_image(&media(&format!("registry/{image}"))).unwrap();
        let (w, h) = (img.width as usize, img.height as usize);
        let frame = FrameRef::new(&img.data, w, h);
        let raw = det.raw(frame, PixelOrder::Rgb).unwrap();
        let dets = det.detect(frame, PixelOrder::Rgb).unwrap();
        assert_matches_the_official_detector(image, &raw, &dets);
    }
}

/// The images of `../shared/oracle/detector/`, in `../shared/media/registry/`.
pub const OFFICIAL_DETECTOR_IMAGES: [&str; 3] = ["astronaut.png", "single_face.jpg", "multi_face.jpg"];

/// A detector's raw outputs and detections on `image` against the official ones: raw outputs
/// within 1e-3, the same detections (boxes within 0.5 px, scores within 1e-3).
pub fn assert_matches_the_official_detector(
    image: &str,
    raw: &marlin_faces::RawOutput,
    dets: &[marlin_faces::Detection],
) {
    let npz = oracle(&format!("detector/{}.npz", image.split('.').next().unwrap()));
    for (key, got) in [
        ("loc", raw.loc.iter().flatten().copied().collect::<Vec<f32>>()),
        ("conf", raw.conf.iter().flatten().copied().collect()),
        ("landmarks", raw.landmarks.iter().flatten().copied().collect()),
    ] {
        let want = npz_array(&npz, key).to_f32();
        assert_eq!(got.len(), want.len(), "{image} {key}");
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        eprintln!("{image} {key}: max-abs {err:.2e}");
        assert!(err < 1e-3, "{image} {key}: max-abs {err}");
    }
    let want = npz_array(&npz, "dets").to_f32();
    assert_eq!(dets.len(), want.len() / 5, "{image}: detection count");
    for (d, o) in dets.iter().zip(want.chunks(5)) {
        for (a, b) in [d.x1, d.y1, d.x2, d.y2].iter().zip(o) {
            assert!((a - b).abs() < 0.5, "{image}: box {:?} vs {o:?}", [d.x1, d.y1, d.x2, d.y2]);
        }
        assert!((d.score - o[4]).abs() < 1e-3);
    }
}

#[test]
fn one_detector_serves_several_threads_at_once() {
    // the batch runner's decode workers share one detector (and its thread pool)
    let det = RetinaFace::load(&detector_path(), 2).unwrap();
    let img = marlin_media::read_image(&media("registry/multi_face.jpg")).unwrap();
    let (w, h) = (img.width as usize, img.height as usize);
    let frame = FrameRef::new(&img.data, w, h);
    let alone = det.raw(frame, PixelOrder::Bgr).unwrap();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..8).map(|_| det.raw(frame, PixelOrder::Bgr).unwrap()).collect::<Vec<_>>()))
            .collect();
        for r in runs {
            for raw in r.join().expect("a detection thread panicked") {
                assert_eq!(raw.conf, alone.conf);
                assert_eq!(raw.loc, alone.loc);
            }
        }
    });
}

#[test]
fn detect_writes_the_faces_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("faces.csv");
    let det = detector_path();
    let o = detect(&media("registry/multi_face.jpg"), &det, &[], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "frame,track,x1,y1,x2,y2,score,lm1x,lm1y,lm2x,lm2y,lm3x,lm3y,lm4x,lm4y,lm5x,lm5y"
    );
    let rows: Vec<Vec<f32>> = lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 5);
    let want = npz_array(&oracle("detector/multi_face.npz"), "dets").to_f32();
    for (k, (r, o)) in rows.iter().zip(want.chunks(5)).enumerate() {
        assert_eq!(r.len(), 17);
        assert_eq!((r[0], r[1]), (0.0, k as f32), "frame 0, one track per face");
        assert!(r[2..7].iter().zip(o).all(|(a, b)| (a - b).abs() < 0.5));
        // Landmarks inside the face box.
        for l in r[7..].chunks(2) {
            assert!(l[0] > r[2] && l[0] < r[4] && l[1] > r[3] && l[1] < r[5], "landmark {l:?} outside {:?}", &r[2..6]);
        }
    }
}

/// `extract --crop-face --compat` on the wild videos: the official clip counts and features,
/// and crop squares equal to the official ones.
#[test]
fn compat_crops_reproduce_the_official_video_features() {
    let dir = tempfile::tempdir().unwrap();
    let det = detector_path();
    let boxes = std::fs::read_to_string(oracle("videos/official_face_boxes.csv")).unwrap();
    let s = |p: PathBuf| arg(&p).to_string();
    let models = [
        (
            "marlin_tiny",
            s(oracle("models/marlin_tiny.encoder.pt")),
            vec!["--model-config".to_string(), s(oracle("marlin_tiny.yaml"))],
        ),
        ("marlin_vit_small_random", s(oracle("models/marlin_vit_small_random.encoder.f16.safetensors")), vec![]),
    ];
    for (folder, model, flags) in &models {
        for video in ["video01", "video02", "video03"] {
            let out = dir.path().join(format!("{folder}.{video}.npy"));
            let faces = dir.path().join(format!("{folder}.{video}.csv"));
            let mut args =
                vec!["extract", "--crop-face", "--compat", "--detector", arg(&det), "--model", model.as_str()];
            args.extend(flags.iter().map(String::as_str));
            let v = media(&format!("marlin/{video}.mp4"));
            args.extend([arg(&v), "--faces-csv", arg(&faces), "-o", arg(&out)]);
            let o = marlin(&args, &[]);
            assert!(o.status.success(), "{}", stderr(&o));
            let (shape, got) = read_f32(&out);
            let (want_shape, want) = read_f32(&oracle(&format!("videos/{folder}/{video}.npy")));
            assert_eq!(shape, want_shape, "{folder} {video}: clip count");
            let d = shape[1];
            for c in 0..shape[0] {
                let mad = (0..d).map(|i| (got[c * d + i] - want[c * d + i]).abs()).sum::<f32>() / d as f32;
                assert!(mad < 1.5e-4, "{folder} {video} clip {c}: mean-abs-diff {mad}");
            }
            // Crop squares: the official CSV lists (cx, cy, half) per detector call in order.
            let official: Vec<(String, String, String)> = boxes
                .lines()
                .skip(1)
                .filter(|l| l.starts_with(&format!("{video}.mp4,")))
                .map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    (f[8].into(), f[9].into(), f[10].into())
                })
                .collect();
            let ours: Vec<(String, String, String)> = std::fs::read_to_string(&faces)
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| {
                    let f: Vec<&str> = l.split(',').collect();
                    (f[7].into(), f[8].into(), f[9].into())
                })
                .collect();
            assert_eq!(ours.len(), official.len(), "{video}: frames cropped");
            let same = ours.iter().zip(&official).filter(|(a, b)| a == b).count();
            assert!(
                same * 100 >= 99 * ours.len(),
                "{video}: {same} of {} crop squares equal the official ones",
                ours.len()
            );
        }
    }
}

/// `--precision int8` on every shared video (the face-crop videos as they are, the wild ones
/// through the official crops): each clip's feature within cosine 0.999 of the official f32
/// feature; cosine and max-abs reported.
#[test]
fn int8_features_of_every_shared_video_stay_within_cosine_0_999_of_the_official() {
    if !crate::util::int8_runs() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let det = detector_path();
    let model = oracle("models/marlin_vit_small_random.encoder.f16.safetensors");
    let (mut clips, mut worst) = (0, 1f64);
    for video in ["cropped01", "cropped02", "cropped04", "cropped05", "video01", "video02", "video03"] {
        let out = dir.path().join(format!("{video}.npy"));
        let v = media(&format!("marlin/{video}.mp4"));
        let mut args = vec!["extract", arg(&v), "--model", arg(&model), "--precision", "int8"];
        if video.starts_with("video") {
            args.extend(["--crop-face", "--compat", "--detector", arg(&det)]);
        }
        args.extend(["-o", arg(&out)]);
        let o = marlin(&args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let (shape, got) = read_f32(&out);
        let (want_shape, want) = read_f32(&oracle(&format!("videos/marlin_vit_small_random/{video}.npy")));
        assert_eq!(shape, want_shape, "{video}: clip count");
        let d = shape[1];
        for (c, (g, w)) in got.chunks_exact(d).zip(want.chunks_exact(d)).enumerate() {
            let cos = cosine(g, w);
            eprintln!("int8 {video} clip {c}: cosine {cos:.6}, max-abs {:.2e}", max_abs_diff(g, w));
            assert!(cos >= 0.999, "{video} clip {c}: cosine {cos}");
            worst = worst.min(cos);
            clips += 1;
        }
    }
    eprintln!("int8: {clips} clips, worst cosine {worst:.6}");
    assert_eq!(clips, 31, "every clip of the seven videos");
}

/// A video that cuts between a face and a cartoon (HEVC): default crop mode keeps the last face
/// crop over the face-less frames, compat mode takes the official corner crop; both finish.
#[test]
fn videos_with_faceless_frames() {
    let dir = tempfile::tempdir().unwrap();
    let video = media("registry/face_noface.mov");
    for compat in [false, true] {
        let out = dir.path().join(format!("f{compat}.npy"));
        let faces = dir.path().join(format!("f{compat}.csv"));
        let mut flags = vec!["--faces-csv", arg(&faces)];
        if compat {
            flags.push("--compat");
        }
        let o = extract_faces(&video, &flags, &out);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(read_f32(&out).0, vec![5, 64]);
        let csv = std::fs::read_to_string(&faces).unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
        let faceless: Vec<&Vec<&str>> = rows.iter().filter(|r| r[2].is_empty()).collect();
        assert!(
            !faceless.is_empty() && faceless.len() < rows.len(),
            "{} of {} frames without a face",
            faceless.len(),
            rows.len()
        );
        for r in faceless {
            let square = (r[7], r[8], r[9]);
            if compat {
                assert_eq!(square, ("0", "0", "1"), "the official no-face crop");
            } else {
                assert_ne!(square, ("0", "0", "1"), "the previous face's crop is kept");
            }
        }
    }
}

#[test]
fn bad_detector_files() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("retina.pkl");
    std::fs::write(&fake, b"not a pickle").unwrap();
    let out = dir.path().join("faces.csv");
    for (det, want) in [
        (fake.clone(), "retina.pkl"),
        (dir.path().join("missing.pkl"), "no such detector file"),
        (oracle("models/marlin_tiny.encoder.pt"), "not the RetinaFace detector"),
    ] {
        let o = detect(&media("registry/single_face.jpg"), &det, &[], &out);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
        assert!(!out.exists());
    }
}

/// `detect --draw`: a PNG for an image, an MP4 with every frame for a video, both readable.
#[test]
fn detect_draws_for_people_to_look_at() {
    let dir = tempfile::tempdir().unwrap();
    let det = detector_path();
    let png = dir.path().join("faces.png");
    let csv = dir.path().join("faces.csv");
    let o = detect(&media("registry/multi_face.jpg"), &det, &["--draw", arg(&png)], &csv);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = marlin_media::read_image(&png).unwrap();
    assert_eq!((img.width, img.height), (1000, 667));
    let src = marlin_media::read_image(&media("registry/multi_face.jpg")).unwrap();
    let changed = img.data.iter().zip(&src.data).filter(|(a, b)| a != b).count();
    assert!(changed > 1000 && changed < img.data.len() / 10, "{changed} bytes drawn over");
    // A video: every frame, H.264 4:2:0.
    let video = dir.path().join("clip.mp4");
    crate::util::gst_make(
        "videotestsrc num-buffers=12 ! video/x-raw,width=160,height=120,framerate=10/1 ! x264enc ! mp4mux",
        &video,
    );
    let mp4 = dir.path().join("drawn.mp4");
    let o = detect(&video, &det, &["--draw", arg(&mp4)], &csv);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("frames.npy");
    let o = marlin(&["decode", arg(&mp4), "--frames", "100", "-o", arg(&out)], &[]);
    assert!(o.status.success() && stderr(&o).contains("from I420"), "{}", stderr(&o));
    let frames = crate::util::read_u8(&out).0[0];
    assert!((11..=12).contains(&frames), "{frames} frames");
    // A bad drawing path is an error before any work.
    let o = detect(&video, &det, &["--draw", arg(&dir.path().join("x.gif"))], &csv);
    assert!(!o.status.success() && stderr(&o).contains(".png, .jpg or .mp4"), "{}", stderr(&o));
}

/// The non-official crop modes run end to end: square (smoothed) and aligned crops give
/// features, and different ones.
#[test]
fn marlin_and_aligned_crop_modes() {
    let dir = tempfile::tempdir().unwrap();
    let video = media("marlin/video01.mp4");
    let mut results = Vec::new();
    for mode in ["marlin", "aligned"] {
        let out = dir.path().join(format!("{mode}.npy"));
        let o = extract_faces(&video, &["--crop-mode", mode, "--max-clips", "2"], &out);
        assert!(o.status.success(), "{}", stderr(&o));
        let (shape, v) = read_f32(&out);
        assert_eq!(shape, vec![2, 64]);
        results.push(v);
    }
    assert_ne!(results[0], results[1]);
    // Detecting every 4th frame of a clip (and its last) on frames downscaled to 240 px.
    let out = dir.path().join("fast.npy");
    let faces = dir.path().join("fast.csv");
    let o = extract_faces(
        &video,
        &["--detect-every", "4", "--max-side", "240", "--max-clips", "2", "--faces-csv", arg(&faces)],
        &out,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&faces).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 32);
    let detected: Vec<usize> = rows.iter().enumerate().filter(|(_, r)| !r[2].is_empty()).map(|(i, _)| i % 16).collect();
    assert_eq!(detected, vec![0, 4, 8, 12, 15, 0, 4, 8, 12, 15], "detections on key frames only");
    // Interpolated frames still get a face crop (not the corner crop).
    assert!(rows.iter().all(|r| (r[7], r[8], r[9]) != ("0", "0", "1")));
    // --compat and --crop-mode exclude each other.
    let o = extract_faces(&video, &["--compat", "--crop-mode", "aligned"], &dir.path().join("x.npy"));
    assert!(!o.status.success() && stderr(&o).contains("--crop-mode"), "{}", stderr(&o));
}

/// `--faces all`: a clip per face track, the rows listed beside the output.
#[test]
fn every_face_gets_its_own_clips() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("group.mp4");
    let photo = media("registry/multi_face.jpg");
    crate::util::gst_make(
        &format!(
            "filesrc location={} ! jpegdec ! imagefreeze num-buffers=70 ! videoconvert ! videoscale ! video/x-raw,format=I420,width=1000,height=666,framerate=10/1 ! x264enc ! mp4mux",
            photo.display()
        ),
        &video,
    );
    let out = dir.path().join("group.npy");
    let o = extract_faces(&video, &["--faces", "all"], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    // 70 frames: windows 0 and 32; five people in each.
    let (shape, rows) = read_f32(&out);
    assert_eq!(shape, vec![10, 64]);
    let listed = std::fs::read_to_string(dir.path().join("group.rows.csv")).unwrap();
    let want: String = std::iter::once("row,clip,track\n".to_string())
        .chain((0..10).map(|r| format!("{r},{},{}\n", r / 5, r % 5)))
        .collect();
    assert_eq!(listed, want, "the same five tracks in both clips");
    // A still video (up to H.264 noise): each track's two clips give nearly the same features,
    // and different tracks different ones.
    let mad = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    for t in 0..5 {
        let (a, b) = (&rows[t * 64..(t + 1) * 64], &rows[(t + 5) * 64..(t + 6) * 64]);
        assert!(mad(a, b) < 0.05, "track {t}: {}", mad(a, b));
        let other = &rows[((t + 1) % 5) * 64..((t + 1) % 5 + 1) * 64];
        assert!(mad(a, other) > mad(a, b), "track {t} vs {}", (t + 1) % 5);
    }
    // Reductions mix tracks: refused.
    let o = extract_faces(&video, &["--faces", "all", "--reduction", "mean"], &out);
    assert!(!o.status.success() && stderr(&o).contains("faces: all"), "{}", stderr(&o));
}

/// A video without any face: features of the fallback crop, and a warning saying so.
#[test]
fn a_video_without_faces_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let video = media("registry/no_face.mp4");
    let o = extract_faces(&video, &[], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a face in 0 of 32 detected frames") && stderr(&o).contains("warning: "),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_f32(&out).0, vec![2, 64]);
    let o = extract_faces(&video, &["--faces", "all"], &out);
    assert!(!o.status.success() && stderr(&o).contains("no clips with a face track"), "{}", stderr(&o));
}
