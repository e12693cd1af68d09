//! Hostile and careless input (issue 21), one test per finding, named after it: no panic, no
//! hang, no silent garbage, nothing replaced that is not ours. Each checks the exit status, that
//! the message names the input and the problem, and that no output (or the previous one, intact)
//! is left; memory-bounded cases run under `ulimit -v`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use marlin_checkpoint::{Checkpoint, Tensor};
use safetensors::tensor::{Dtype, TensorView};

use crate::util::{arg, ffmpeg_rgb, marlin, media, oracle, read_f32, read_u8, stderr};

fn s(p: &Path) -> &str {
    arg(p)
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success(), "mkfifo {}", p.display());
}

/// The `error:` line of a failed run, checked to name every part.
fn error_line(o: &Output, parts: &[&str]) -> String {
    let e = stderr(o);
    assert!(!o.status.success(), "expected a failure: {e}");
    assert_eq!(o.status.code(), Some(1), "exit status: {e}");
    assert!(!e.contains("panicked"), "{e}");
    let line = e.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {e}"));
    for p in parts {
        assert!(line.contains(p), "the message does not name {p:?}: {line}");
    }
    line.to_string()
}

/// `marlin encode` of the oracle's face clip with the tiny config.
fn encode(model: &Path, config: &Path, out: &Path) -> Output {
    let clip = oracle("clips/face.u8.npy");
    marlin(&["encode", "--model", s(model), "--model-config", s(config), "--clip", s(&clip), "-o", s(out)], &[])
}

/// `marlin ARGS` under `ulimit -v KIB` (virtual memory): a run that would read a storage of
/// hundreds of megabytes fails instead of passing.
fn marlin_limited(kib: u64, args: &[&str]) -> Output {
    let mut line = format!("ulimit -v {kib}; exec \"$0\"");
    for (i, _) in args.iter().enumerate() {
        line.push_str(&format!(" \"${}\"", i + 1));
    }
    Command::new("sh").arg("-c").arg(line).arg(env!("CARGO_BIN_EXE_marlin")).args(args).output().expect("cannot run sh")
}

fn tiny_tensors() -> BTreeMap<String, Tensor> {
    Checkpoint::load(oracle("models/marlin_tiny.encoder.pt")).unwrap().tensors
}

/// Writes tensors as safetensors; `dtype_of` picks each one's type (F32 or I64).
fn write_safetensors(path: &Path, tensors: &BTreeMap<String, Tensor>, dtype_of: impl Fn(&str) -> Dtype) {
    let bytes: Vec<(String, Dtype, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| {
            let dtype = dtype_of(k);
            let b = match dtype {
                Dtype::F32 => t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Dtype::I64 => t.data.iter().flat_map(|v| (v.round() as i64).to_le_bytes()).collect(),
                other => panic!("{other:?}"),
            };
            (k.clone(), dtype, b, t.shape.clone())
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        bytes.iter().map(|(k, d, b, s)| (k.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// What goes into one entry of a rewritten zip checkpoint.
enum Entry {
    Same,
    Bytes(Vec<u8>),
    /// The original bytes followed by zeros up to `total` bytes, deflated (a few hundred
    /// kilobytes of file for any size).
    ZeroPadded {
        total: u64,
    },
}

/// The oracle's tiny zip checkpoint rewritten into `dst`, each entry as `change` says.
fn rewrite_zip(dst: &Path, change: impl Fn(&str, &[u8]) -> Entry) {
    let mut src = zip::ZipArchive::new(std::fs::File::open(oracle("models/marlin_tiny.encoder.pt")).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    for i in 0..src.len() {
        let mut e = src.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        match change(&name, &bytes) {
            Entry::Same => {
                out.start_file(name, stored).unwrap();
                out.write_all(&bytes).unwrap();
            }
            Entry::Bytes(b) => {
                out.start_file(name, stored).unwrap();
                out.write_all(&b).unwrap();
            }
            Entry::ZeroPadded { total } => {
                let deflated = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(true);
                out.start_file(name, deflated).unwrap();
                out.write_all(&bytes).unwrap();
                let zeros = vec![0u8; 1 << 20];
                let mut left = total - bytes.len() as u64;
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    out.write_all(&zeros[..n]).unwrap();
                    left -= n as u64;
                }
            }
        }
    }
    out.finish().unwrap();
}

/// The positional table's storage (`data/2`, 1568·64 floats) and its size in `data.pkl`'s
/// persistent id (`J` + the count, the first of two occurrences; the second is a stride).
const POS_STORAGE: &str = "marlin_tiny.encoder/data/2";
const POS_NUMEL: u32 = 1568 * 64;

// ---- 5: FIFOs and other non-regular inputs ----

#[test]
fn a_fifo_named_as_a_video_is_given_up_after_the_stall_timeout_not_waited_on_forever() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("f.mp4");
    mkfifo(&fifo);
    let out = dir.path().join("x.npy");
    let started = Instant::now();
    let o = marlin(&["decode", s(&fifo), "--stall-timeout", "2", "-o", s(&out)], &[]);
    error_line(&o, &["f.mp4", "stalled after 0 frame(s)"]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!out.exists());
    // a device would never end: refused before it is opened
    let o = marlin(&["decode", "/dev/zero", "-o", s(&out)], &[]);
    error_line(&o, &["/dev/zero", "character device"]);
}

#[test]
fn a_fifo_or_device_given_as_a_checkpoint_or_config_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("weights.pt");
    mkfifo(&fifo);
    let out = dir.path().join("f.npy");
    let started = Instant::now();
    // nobody writes to it: it reads as empty
    let o = encode(&fifo, &oracle("marlin_tiny.yaml"), &out);
    error_line(&o, &["weights.pt", "not a checkpoint", "empty"]);
    let o = encode(Path::new("/dev/zero"), &oracle("marlin_tiny.yaml"), &out);
    error_line(&o, &["/dev/zero", "character device"]);
    let yaml = dir.path().join("model.yaml");
    mkfifo(&yaml);
    let o = encode(&oracle("models/marlin_tiny.encoder.pt"), &yaml, &out);
    error_line(&o, &["model.yaml", "invalid model config"]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!out.exists());
}

#[test]
fn a_fifo_in_a_featurize_folder_fails_alone_and_a_signal_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("in");
    std::fs::create_dir(&videos).unwrap();
    std::fs::copy(media("marlin/cropped05.mp4"), videos.join("a.mp4")).unwrap();
    mkfifo(&videos.join("f.mp4"));
    let settings = |stall: u32| {
        let p = dir.path().join(format!("s{stall}.yaml"));
        std::fs::write(&p, format!("decode:\n  stall_timeout_s: {stall}\n")).unwrap();
        p
    };
    let args = |out: &Path, cfg: &Path| -> Vec<String> {
        [
            "featurize",
            s(&videos),
            "--config",
            s(cfg),
            "--model",
            s(&oracle("models/marlin_tiny.encoder.pt")),
            "--model-config",
            s(&oracle("marlin_tiny.yaml")),
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    let out = dir.path().join("out");
    let a = args(&out, &settings(2));
    let o = marlin(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(!e.contains('\x1b'), "colour codes on a stderr that is not a terminal: {e:?}");
    let failures = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    assert!(failures.contains("f.mp4") && failures.contains("stalled"), "{failures}");
    assert_eq!(read_f32(&out.join("features.npy")).0[0], 1, "the good video's row");

    // SIGTERM while a worker waits on the FIFO: the run stops (within the stall timeout)
    let out = dir.path().join("out2");
    let a = args(&out, &settings(8));
    let mut child = Command::new(env!("CARGO_BIN_EXE_marlin"))
        .args(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("SIGTERM not honoured within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(matches!(status.code(), Some(130) | Some(2)), "{status:?}");
    assert!(out.join("features.npy").exists(), "finished videos are written on a stop");
}

// ---- 6: checkpoint storages read no further than their tensors need ----

#[test]
fn a_storage_that_inflates_far_beyond_its_tensor_is_read_no_further() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.pt");
    // the positional table's storage declared and stored as 512 MiB more (zeros): the file
    // stays small, the tensor needs its first 392 KiB only
    let extra = 128u32 << 20;
    rewrite_zip(&bomb, |name, bytes| {
        if name.ends_with("/data.pkl") {
            let pat = [b"J".as_slice(), &POS_NUMEL.to_le_bytes()].concat();
            let at = bytes.windows(5).position(|w| w == pat).expect("the storage size in data.pkl");
            let mut b = bytes.to_vec();
            b[at + 1..at + 5].copy_from_slice(&(POS_NUMEL + extra).to_le_bytes());
            Entry::Bytes(b)
        } else if name == POS_STORAGE {
            Entry::ZeroPadded { total: (POS_NUMEL as u64 + extra as u64) * 4 }
        } else {
            Entry::Same
        }
    });
    assert!(std::fs::metadata(&bomb).unwrap().len() < 4 << 20);
    let (ok, out) = (dir.path().join("ok.npy"), dir.path().join("bomb.npy"));
    let cfg = oracle("marlin_tiny.yaml");
    let clip = oracle("clips/face.u8.npy");
    let run = |model: &Path, out: &Path| {
        marlin_limited(400_000, &["encode", "--model", s(model), "--config", s(&cfg), "--clip", s(&clip), "-o", s(out)])
    };
    let o = run(&oracle("models/marlin_tiny.encoder.pt"), &ok);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&bomb, &out);
    assert!(o.status.success(), "a storage read in full does not fit 400 MB: {}", stderr(&o));
    assert_eq!(read_f32(&out), read_f32(&ok), "the same weights, the same features");

    // an entry holding more than its persistent id declares is refused, never inflated
    let liar = dir.path().join("liar.pt");
    rewrite_zip(
        &liar,
        |name, _| if name == POS_STORAGE { Entry::ZeroPadded { total: 512 << 20 } } else { Entry::Same },
    );
    let o = marlin_limited(
        400_000,
        &["encode", "--model", s(&liar), "--config", s(&cfg), "--clip", s(&clip), "-o", s(&out)],
    );
    error_line(&o, &["liar.pt", "storage 2 holds 536870912 bytes", "100352 elements"]);
}

// ---- 7: outputs never replace what is not a regular file ----

#[test]
fn outputs_are_written_into_a_fifo_and_through_a_link_never_replacing_them() {
    let dir = tempfile::tempdir().unwrap();
    let video = media("marlin/cropped05.mp4");
    let fifo = dir.path().join("frames.npy");
    mkfifo(&fifo);
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(fifo).unwrap()
    });
    let o = marlin(&["decode", s(&video), "--frames", "2", "-o", s(&fifo)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = reader.join().unwrap();
    assert_eq!(marlin_npy::parse(&got).unwrap().shape, vec![2, 224, 224, 3]);
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");

    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::fs::write(dir.path().join("real/frames.npy"), b"old").unwrap();
    let link = dir.path().join("link.npy");
    std::os::unix::fs::symlink("real/frames.npy", &link).unwrap();
    let o = marlin(&["decode", s(&video), "--frames", "2", "-o", s(&link)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(read_u8(&dir.path().join("real/frames.npy")).0, vec![2, 224, 224, 3]);

    let o = marlin(&["decode", s(&video), "--frames", "2", "-o", s(dir.path())], &[]);
    error_line(&o, &[s(dir.path()), "is a folder"]);
}

// ---- 8, 9: weights that are not floats, or not finite ----

#[test]
fn integer_weights_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ints.safetensors");
    let key = "encoder.blocks.0.attn.proj.weight";
    write_safetensors(&p, &tiny_tensors(), |k| if k == key { Dtype::I64 } else { Dtype::F32 });
    let out = dir.path().join("f.npy");
    let o = encode(&p, &oracle("marlin_tiny.yaml"), &out);
    error_line(&o, &["ints.safetensors", key, "I64", "floating point"]);
    assert!(!out.exists());
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.npy");
    let cfg = oracle("marlin_tiny.yaml");
    // safetensors
    let p = dir.path().join("nan.safetensors");
    let mut t = tiny_tensors();
    t.get_mut("encoder.norm.weight").unwrap().data[5] = f32::NAN;
    write_safetensors(&p, &t, |_| Dtype::F32);
    error_line(&encode(&p, &cfg, &out), &["nan.safetensors", "encoder.norm.weight", "non-finite", "index 5"]);
    // a torch zip: the first value of storage 1 made infinite
    let p = dir.path().join("inf.pt");
    rewrite_zip(&p, |name, bytes| {
        if name.ends_with("/data/1") {
            let mut b = bytes.to_vec();
            b[..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
            Entry::Bytes(b)
        } else {
            Entry::Same
        }
    });
    let key = Checkpoint::load(&p)
        .unwrap()
        .tensors
        .into_iter()
        .find(|(_, t)| t.data.first().is_some_and(|v| v.is_infinite()))
        .map(|(k, _)| k)
        .unwrap();
    error_line(&encode(&p, &cfg, &out), &["inf.pt", &key, "non-finite", "inf"]);
    // qk_scale: .nan in a model config
    let nan_cfg = dir.path().join("nan.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("qk_scale: null"), "{text}");
    std::fs::write(&nan_cfg, text.replace("qk_scale: null", "qk_scale: .nan")).unwrap();
    error_line(&encode(&oracle("models/marlin_tiny.encoder.pt"), &nan_cfg, &out), &["nan.yaml", "qk_scale is NaN"]);
    assert!(!out.exists());
}

#[test]
fn a_video_whose_features_are_not_finite_is_a_failure_never_a_row() {
    let dir = tempfile::tempdir().unwrap();
    // finite weights so large that the first MLP overflows
    let p = dir.path().join("huge.safetensors");
    let mut t = tiny_tensors();
    t.get_mut("encoder.blocks.0.mlp.layers.0.linear.weight").unwrap().data.iter_mut().for_each(|v| *v = 3e38);
    write_safetensors(&p, &t, |_| Dtype::F32);
    let out = dir.path().join("out");
    let o = marlin(
        &[
            "featurize",
            s(&media("marlin/cropped05.mp4")),
            "--model",
            s(&p),
            "--model-config",
            s(&oracle("marlin_tiny.yaml")),
            "--out",
            s(&out),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let failures = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    assert!(failures.contains("cropped05.mp4") && failures.contains("non-finite features"), "{failures}");
    assert_eq!(read_f32(&out.join("features.npy")).0, vec![0, 64], "no row for that video");
}

// ---- 10, 15: probe training ----

/// A featurize output folder by hand: `rows` (video id, label, features), 4 features each.
fn feature_folder(dir: &Path, rows: &[(&str, &str, [f32; 4])]) -> PathBuf {
    let out = dir.join("feats");
    std::fs::create_dir_all(&out).unwrap();
    let manifest = serde_json::json!({"model": {"spec": "m", "path": "m.pt", "sha256": "ab".repeat(32), "architecture": "vit_small", "dim": 4}});
    std::fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
    let mut csv = String::from("row,video_id,path,label,split,clip_index\n");
    let mut data = Vec::new();
    for (i, (id, label, f)) in rows.iter().enumerate() {
        csv.push_str(&format!("{i},{id},/v/{id}.mp4,{label},,0\n"));
        data.extend_from_slice(f);
    }
    std::fs::write(out.join("clips.csv"), csv).unwrap();
    marlin_npy::write_f32(out.join("features.npy"), &[rows.len(), 4], &data).unwrap();
    out
}

fn labelled(n: usize) -> Vec<(String, &'static str, [f32; 4])> {
    (0..n)
        .map(|i| {
            let fake = i % 2 == 0;
            let x = (i as f32 * 0.37).sin();
            (
                format!("v{i}"),
                if fake { "fake" } else { "real" },
                [x + if fake { 2.0 } else { 0.0 }, x * 0.5, 1.0 - x, x * x],
            )
        })
        .collect()
}

#[test]
fn probe_training_refuses_nan_features_naming_rows_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = labelled(16);
    rows[3].2[1] = f32::NAN;
    rows[9].2[3] = f32::INFINITY;
    let r: Vec<(&str, &str, [f32; 4])> = rows.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
    let feats = feature_folder(dir.path(), &r);
    let probe = dir.path().join("probe.json");
    let o = marlin(&["probe", "train", "--features", s(&feats), "-o", s(&probe)], &[]);
    error_line(&o, &["feats", "2 row(s) (3, 9)", "2 column(s) (1, 3)"]);
    assert!(!probe.exists());
}

#[test]
fn probe_training_refuses_more_folds_than_videos_and_says_why_none_was_held_out() {
    let dir = tempfile::tempdir().unwrap();
    let rows = labelled(16);
    let r: Vec<(&str, &str, [f32; 4])> = rows.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
    let feats = feature_folder(dir.path(), &r);
    let probe = dir.path().join("probe.json");
    let o = marlin(&["probe", "train", "--features", s(&feats), "--folds", "100", "-o", s(&probe)], &[]);
    error_line(&o, &["--folds 100", "only 16 labelled videos"]);
    assert!(!probe.exists());
    // grouped by label: two groups, neither in the 20% held out
    let o = marlin(
        &[
            "probe",
            "train",
            "--features",
            s(&feats),
            "--group-column",
            "label",
            "--val-fraction",
            "0.2",
            "-o",
            s(&probe),
        ],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("none of the 2 `label` groups fell in the --val-fraction 0.2 held out"), "{out}");
    assert!(!out.contains("--val-fraction 0)"), "{out}");
}

// ---- 13: rotation ----

#[test]
fn a_rotated_phone_video_decodes_as_displayed_and_compat_keeps_the_official_frames() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, frames: u32| {
        let plain = dir.path().join(format!("{name}.mp4"));
        let rotated = dir.path().join(format!("{name}.rot.mp4"));
        let run = |args: Vec<String>| {
            let o = Command::new("ffmpeg").args(&args).output().expect("ffmpeg (apt-get install ffmpeg)");
            assert!(o.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        run(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-frames:v"]
            .iter()
            .map(|a| a.to_string())
            .chain([frames.to_string()])
            .chain(["-pix_fmt", "yuv420p", "-c:v", "libx264", s(&plain)].map(String::from))
            .collect());
        // a phone's display matrix, as ffmpeg writes one without re-encoding
        run(["-v", "error", "-y", "-i", s(&plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", s(&rotated)]
            .map(String::from)
            .to_vec());
        (plain, rotated)
    };
    let (plain, rotated) = make("long", 40);
    let out = dir.path().join("f.npy");
    let o = marlin(&["decode", s(&rotated), "--frames", "40", "-o", s(&out)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, frames) = read_u8(&out);
    assert_eq!(shape, vec![40, 64, 48, 3], "turned upright: 48 wide, 64 high");
    assert!(frames == ffmpeg_rgb(&rotated), "FFmpeg's (and OpenCV's) frames, byte for byte");
    let o = marlin(&["decode", s(&rotated), "--frames", "40", "--orientation", "stored", "-o", s(&out)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, frames) = read_u8(&out);
    assert_eq!(shape, vec![40, 48, 64, 3]);
    assert!(frames == ffmpeg_rgb(&plain), "as stored");

    // the official code: OpenCV (turned) above 32 frames, PyAV (as stored) for shorter videos
    let official = marlin_media::DecodeOptions {
        orientation: marlin_media::Orientation::Official,
        ..marlin_media::DecodeOptions::default()
    };
    let sampling = marlin_media::sampling::SamplingOptions::default();
    let first_clip_size = |video: &Path| {
        let mut clips = marlin_media::VideoClips::open(video, official, sampling, None).unwrap();
        let clip = clips.next_clip().unwrap().unwrap();
        (clip.frames[0].width, clip.frames[0].height)
    };
    assert_eq!(first_clip_size(&rotated), (48, 64), "over 32 frames: turned, as OpenCV reads it");
    let (_, short) = make("short", 20);
    assert_eq!(first_clip_size(&short), (64, 48), "at most 32 frames: as stored, as PyAV reads it");
}

// ---- 14: file names that are not UTF-8 ----

#[test]
fn file_names_that_are_not_utf8_decode_and_featurize_with_escaped_ids() {
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("in");
    std::fs::create_dir(&videos).unwrap();
    let name = OsString::from_vec(b"caf\xe9.mp4".to_vec());
    std::fs::copy(media("marlin/cropped05.mp4"), videos.join(&name)).unwrap();
    std::fs::copy(media("marlin/cropped04.mp4"), videos.join("plain.mp4")).unwrap();
    let out = dir.path().join("frames.npy");
    let o = Command::new(env!("CARGO_BIN_EXE_marlin"))
        .arg("decode")
        .arg(videos.join(&name))
        .args(["--frames", "2", "-o", s(&out)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_u8(&out).0, vec![2, 224, 224, 3]);

    let feats = dir.path().join("feats");
    let (model, cfg) = (oracle("models/marlin_tiny.encoder.pt"), oracle("marlin_tiny.yaml"));
    let run = |extra: &[&str]| {
        let mut a = vec![
            "featurize",
            s(&videos),
            "--model",
            s(&model),
            "--model-config",
            s(&cfg),
            "--out",
            s(&feats),
            "--quiet",
        ];
        a.extend_from_slice(extra);
        marlin(&a, &[])
    };
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let clips = std::fs::read_to_string(feats.join("clips.csv")).unwrap();
    assert!(clips.contains(",caf%E9,") && clips.contains("caf%E9.mp4"), "{clips}");
    let rows = read_f32(&feats.join("features.npy")).0[0];
    // resumed: nothing to redo, nothing duplicated
    let o = run(&["--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_f32(&feats.join("features.npy")).0[0], rows);
}

// ---- 15: unclear messages ----

#[test]
fn drawing_errors_name_the_output_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.mp4");
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc=size=10x10:rate=25", "-frames:v", "3"])
        .args(["-pix_fmt", "yuv420p", "-c:v", "libx264", s(&tiny)])
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let detector = crate::util::detector_path();
    let csv = dir.path().join("faces.csv");
    let detect =
        |draw: &Path| marlin(&["detect", s(&tiny), "--detector", s(&detector), "--draw", s(draw), "-o", s(&csv)], &[]);
    error_line(&detect(&dir.path().join("d.mp4")), &["d.mp4", "cannot write", "16×16", "10×10"]);
    error_line(&detect(Path::new("/missing/dir/x.png")), &["/missing/dir/x.png", "cannot write", "No such file"]);
    error_line(&detect(&dir.path().join("x.gif")), &["x.gif", "cannot write", ".png, .jpg or .mp4"]);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![OsString::from("tiny.mp4")], "outputs or temporary files left behind");
}

#[test]
fn featurize_out_naming_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("existing");
    std::fs::write(&file, b"mine").unwrap();
    let o = marlin(
        &[
            "featurize",
            s(&media("marlin/cropped05.mp4")),
            "--model",
            s(&oracle("models/marlin_tiny.encoder.pt")),
            "--model-config",
            s(&oracle("marlin_tiny.yaml")),
            "--out",
            s(&file),
        ],
        &[],
    );
    error_line(&o, &["existing", "is not a folder"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
}

#[test]
fn merge_with_a_truncated_shard_names_its_file_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("in");
    std::fs::create_dir(&videos).unwrap();
    for n in ["cropped01", "cropped02", "cropped04", "cropped05"] {
        std::fs::copy(media(&format!("marlin/{n}.mp4")), videos.join(format!("{n}.mp4"))).unwrap();
    }
    let out = dir.path().join("out");
    for shard in ["0/2", "1/2"] {
        let o = marlin(
            &[
                "featurize",
                s(&videos),
                "--model",
                s(&oracle("models/marlin_tiny.encoder.pt")),
                "--model-config",
                s(&oracle("marlin_tiny.yaml")),
                "--out",
                s(&out),
                "--shard",
                shard,
                "--quiet",
            ],
            &[],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let cut = ["shard-0-of-2", "shard-1-of-2"]
        .iter()
        .map(|d| out.join(d).join("features.npy"))
        .find(|p| read_f32(p).0[0] > 0)
        .unwrap();
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let o = marlin(&["merge", s(&out)], &[]);
    let shard = cut.parent().unwrap().file_name().unwrap().to_str().unwrap();
    error_line(&o, &[&format!("{shard}/features.npy"), "truncated"]);
    for left in ["features.npy.part", "features.npy", "clips.csv"] {
        assert!(!out.join(left).exists(), "{left} left behind");
    }
}

#[test]
fn manifests_name_rejected_videos_by_their_own_id_and_path_and_refuse_a_column_named_twice() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.csv");
    let video = media("marlin/cropped05.mp4");
    std::fs::write(&list, format!("path,video_id\n{},good\n{},../../escape\n", video.display(), video.display()))
        .unwrap();
    let out = dir.path().join("out");
    let model = oracle("models/marlin_tiny.encoder.pt");
    let cfg = oracle("marlin_tiny.yaml");
    let run = |list: &Path| {
        marlin(
            &["featurize", s(list), "--model", s(&model), "--model-config", s(&cfg), "--out", s(&out), "--quiet"],
            &[],
        )
    };
    let o = run(&list);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let mut r = csv::Reader::from_path(out.join("failures.csv")).unwrap();
    let row = r.records().next().unwrap().unwrap();
    assert_eq!((&row[0], &row[1]), ("../../escape", s(&video)), "{row:?}");

    let twice = dir.path().join("twice.csv");
    std::fs::write(&twice, format!("path,label,path\n{},real,x.mp4\n", video.display())).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    error_line(&run(&twice), &["twice.csv", "named twice: path"]);
}

/// Findings 1–4 and 11: every numeric setting is range-checked where it is defined, from a flag or
/// a settings file alike, before anything is allocated, decoded or started; the message names the
/// setting, the value and the range. Nothing is written.
#[test]
fn out_of_range_and_non_finite_settings_are_refused_naming_the_setting_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let (model, config) = (oracle("models/marlin_tiny.encoder.pt"), oracle("marlin_tiny.yaml"));
    let video = media("marlin/cropped05.mp4");
    let detector = crate::util::detector_path();
    let out = dir.path().join("x.npy");
    let extract = |extra: &[&str]| {
        let mut args = vec!["extract", s(&video), "--model", s(&model), "--model-config", s(&config)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-o", s(&out)]);
        marlin(&args, &[])
    };
    let cases: &[(&[&str], &[&str])] = &[
        (&["--batch", "1000000000000"], &["batch must be in [1, 256]", "1000000000000"]),
        (&["--stall-timeout", "1e300"], &["stall_timeout_s must be in (0, 86400]", "got 1e300"]),
        (&["--fps", "1e300"], &["fps must be in (0, 1000]", "got 1e300"]),
        (&["--fps", "NaN"], &["fps must be in (0, 1000]", "got NaN"]),
        (&["--threads", "100000"], &["threads must be in [0, 1024]", "100000"]),
        (&["--stride", "0"], &["stride must be in [1, 1000]"]),
        (&["--crop-face", "--detector", s(&detector), "--min-face", "NaN"], &["min_face must be in", "got NaN"]),
        (&["--crop-face", "--detector", s(&detector), "--smooth", "0"], &["smooth must be in (0, 1]"]),
    ];
    for (extra, parts) in cases {
        let started = Instant::now();
        error_line(&extract(extra), parts);
        assert!(started.elapsed() < Duration::from_secs(20), "{extra:?} took {:?}", started.elapsed());
        assert!(!out.exists(), "{extra:?} wrote an output");
    }
    let o = marlin(&["detect", s(&video), "--detector", s(&detector), "--min-size", "NaN", "-o", s(&out)], &[]);
    error_line(&o, &["min_size must be in", "got NaN"]);
    // featurize: the flag and the settings file, refused before `.marlin/` or any output exists
    for (flag, yaml, parts) in [
        (Some("1000000000000"), "", &["batch_size must be in [1, 256]", "1000000000000"][..]),
        (None, "batch_size: 1000000000000\n", &["batch_size must be in [1, 256]"][..]),
        (None, "encoder_threads: 100000\n", &["encoder_threads must be in [0, 1024]"][..]),
        (None, "decode:\n  stall_timeout_s: 1.0e300\n", &["stall_timeout_s must be in (0, 86400]"][..]),
        (None, "sampling:\n  fps: .nan\n", &["fps must be in (0, 1000]", "NaN"][..]),
    ] {
        let run = dir.path().join("run");
        let settings = dir.path().join("s.yaml");
        std::fs::write(&settings, yaml).unwrap();
        let mut args = vec!["featurize", s(&video), "--model", s(&model), "--model-config", s(&config)];
        args.extend_from_slice(&["--settings", s(&settings), "--out", s(&run)]);
        if let Some(b) = flag {
            args.extend_from_slice(&["--batch", b]);
        }
        error_line(&marlin(&args, &[]), parts);
        assert!(!run.join(".marlin").exists() && !run.join("features.npy.part").exists(), "{yaml}");
    }
}
