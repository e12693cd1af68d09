//! What is fuzzed: every parser of a file a user hands marlin, each with its seeds (the oracle's
//! files and the project's own, or files built here with the project's writers) and the
//! tokens its format is made of. A target runs the parser the way the command does (a
//! checkpoint is also mapped onto the model's weights, a settings file also validated), on the
//! bytes in memory or through a scratch file where the library reads paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use marlin_batch::journal::{Journal, Record, RowMeta, RunIdentity, VideoMeta};
use marlin_checkpoint::Checkpoint;
use marlin_model::{DecoderWeights, MarlinConfig, MarlinWeights};
use marlin_probe::{Level, Probe, ProbeModel};

/// One parser under test.
pub struct Target {
    pub name: &'static str,
    /// The seed files, given the shared folder (`../shared`) and the repository root.
    pub seeds: fn(&Path, &Path) -> Vec<Vec<u8>>,
    /// Runs the parser on one input; `Err` is a refusal (an error message), as expected of
    /// most mutations.
    pub run: fn(&[u8], &Scratch) -> Result<(), String>,
    pub dictionary: &'static [&'static [u8]],
}

/// A folder for the targets whose parsers read paths (on /dev/shm where there is one).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> std::io::Result<Self> {
        let dir = match Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm")?,
            false => tempfile::tempdir()?,
        };
        Ok(Self { dir })
    }

    /// Writes `bytes` as `name` in the scratch folder.
    fn file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("scratch: {e}"))?;
        Ok(path)
    }
}

pub const TARGETS: &[Target] = &[
    Target { name: "torch-zip", seeds: torch_zip_seeds, run: checkpoint, dictionary: ZIP_TOKENS },
    Target { name: "torch-legacy", seeds: torch_legacy_seeds, run: checkpoint, dictionary: PICKLE_TOKENS },
    Target { name: "detector-pickle", seeds: detector_seeds, run: detector, dictionary: PICKLE_TOKENS },
    Target { name: "safetensors", seeds: safetensors_seeds, run: checkpoint, dictionary: JSON_TOKENS },
    Target { name: "npy", seeds: npy_seeds, run: npy, dictionary: NPY_TOKENS },
    Target { name: "settings-yaml", seeds: settings_seeds, run: settings_yaml, dictionary: YAML_TOKENS },
    Target { name: "model-yaml", seeds: model_yaml_seeds, run: model_yaml, dictionary: YAML_TOKENS },
    Target { name: "manifest-csv", seeds: manifest_seeds, run: manifest_csv, dictionary: CSV_TOKENS },
    Target { name: "probe-json", seeds: probe_seeds, run: probe_json, dictionary: JSON_TOKENS },
    Target { name: "journal", seeds: journal_seeds, run: journal, dictionary: JSON_TOKENS },
];

const PICKLE_TOKENS: &[&[u8]] = &[
    b"\x80\x02",
    b"(",
    b")",
    b"t",
    b"]",
    b"}",
    b"a",
    b"e",
    b"s",
    b"u",
    b"b",
    b"R",
    b"Q",
    b"2",
    b"0",
    b".",
    b"h\x00",
    b"j\xff\xff\xff\xff",
    b"q\x00",
    b"\x94",
    b"\x93",
    b"\x81",
    b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"J\xff\xff\xff\x7f",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ctorch\nFloatStorage\n",
    b"ctorch\nLongStorage\n",
    b"ccollections\nOrderedDict\n",
    b"X\xff\xff\xff\x7f",
    b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f",
];
const ZIP_TOKENS: &[&[u8]] = &[
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"PK\x06\x06",
    b"PK\x06\x07",
    b"archive/data.pkl",
    b"archive/data/0",
    b"archive/byteorder",
    b"big",
    b"\xff\xff\xff\xff",
    b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"(",
    b"t",
    b"R",
    b"Q",
    b"h\x00",
];
const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"null",
    b"true",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"\"dtype\":\"I64\"",
    b"\"dtype\":\"F32\"",
    b"\"shape\":[4294967296,4294967296]",
    b"\"data_offsets\":[0,18446744073709551615]",
    b"\"__metadata__\":{}",
    b"\"status\":\"done\"",
    b"\"status\":\"failed\"",
    b"\"bytes\":[255]",
    b"\\u0000",
    b"\\ud800",
];
const NPY_TOKENS: &[&[u8]] = &[
    b"\x93NUMPY\x01\x00",
    b"\x93NUMPY\x02\x00",
    b"'descr': '<f4'",
    b"'descr': '|O'",
    b"'descr': '<i8'",
    b"'descr': '>f4'",
    b"'fortran_order': True",
    b"'shape': (18446744073709551615, 2)",
    b"'shape': ()",
    b"'shape': (4294967296, 4294967296, 4294967296)",
    b"(",
    b")",
    b",",
    b"'",
    b"L",
];
const YAML_TOKENS: &[&[u8]] = &[
    b": ",
    b"\n",
    b"  ",
    b"- ",
    b"~",
    b"null",
    b".nan",
    b".inf",
    b"-.inf",
    b"1e308",
    b"-1",
    b"18446744073709551616",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!!binary ",
    b"!!float ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"'",
    b"\"",
    b"#",
    b"---\n",
    b"...\n",
    b"batch_size: ",
    b"encoder:\n  embed_dim: ",
    b"qk_scale: ",
    b"stall_timeout_s: ",
];
const CSV_TOKENS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\n",
    b"\r\n",
    b"path",
    b"video_id",
    b"label",
    b"split",
    b"../",
    b"/",
    b"\\",
    b"\x00",
    b"\xff",
    b"..",
    b".mp4",
];

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("seed {}: {e}", path.display()))
}

fn oracle(shared: &Path, rel: &str) -> Vec<u8> {
    read(&shared.join("oracle").join(rel))
}

fn torch_zip_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    vec![oracle(shared, "models/marlin_tiny.encoder.pt"), oracle(shared, "models/marlin_tiny.full.pt")]
}

fn torch_legacy_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    vec![oracle(shared, "models/marlin_tiny.encoder.legacy.pt")]
}

fn detector_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    vec![read(&shared.join("models/facexzoo_retinaface/face_detection_retina.pkl"))]
}

fn safetensors_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    vec![oracle(shared, "models/marlin_tiny.hf.safetensors")]
}

/// The tiny model's architecture, which the checkpoint targets map their tensors onto.
fn tiny_config() -> &'static MarlinConfig {
    static CONFIG: OnceLock<MarlinConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let shared = crate::shared_dir();
        MarlinConfig::from_yaml_file(&shared.join("oracle/marlin_tiny.yaml")).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A checkpoint loaded as `marlin` loads one: read, then mapped onto the model's weights.
fn checkpoint(bytes: &[u8], _: &Scratch) -> Result<(), String> {
    let ck = Checkpoint::from_bytes(bytes, Path::new("fuzz.pt")).map_err(|e| e.to_string())?;
    let cfg = marlin_model::resolve_config(&ck, Some(tiny_config().clone())).map_err(|e| e.to_string())?;
    let weights = MarlinWeights::from_checkpoint(ck, &cfg).map_err(|e| e.to_string())?;
    if !weights.decoder.is_empty() {
        DecoderWeights::from_tensors(weights.decoder, &cfg, Path::new("fuzz.pt")).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The face detector, from its pickled whole module.
fn detector(bytes: &[u8], scratch: &Scratch) -> Result<(), String> {
    let path = scratch.file("detector.pkl", bytes)?;
    marlin_faces::RetinaFace::load(&path, 1).map(drop).map_err(|e| e.to_string())
}

fn npy_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = ["features/marlin_tiny/face.mean.npy", "features/marlin_tiny/face.seq.npy"]
        .iter()
        .map(|rel| oracle(shared, rel))
        .collect();
    seeds.push(oracle(shared, "videos/marlin_tiny/cropped05.npy"));
    // an object array, as `np.save(…, allow_pickle=True)` writes one: its data is a pickle
    // (here of `[1, 'a']`, protocol 2)
    let mut object = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }";
    let header = format!("{header}{}\n", " ".repeat(63 - (10 + header.len()) % 64));
    object.extend_from_slice(&(header.len() as u16).to_le_bytes());
    object.extend_from_slice(header.as_bytes());
    object.extend_from_slice(b"\x80\x02]q\x00(K\x01X\x01\x00\x00\x00aq\x01e.");
    seeds.push(object);
    seeds
}

/// An array as `marlin` reads one (`encode`'s clips, `merge`'s and the probes' features).
fn npy(bytes: &[u8], _: &Scratch) -> Result<(), String> {
    let a = marlin_npy::parse(bytes).map_err(|(_, e)| e)?;
    let n: usize = a.shape.iter().product();
    if a.to_f32().len() != n {
        return Err(format!("{} values for shape {:?}", a.to_f32().len(), a.shape));
    }
    Ok(())
}

fn settings_seeds(_: &Path, repo: &Path) -> Vec<Vec<u8>> {
    let dir = repo.join("configs");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    names.iter().map(|p| read(p)).collect()
}

/// A `featurize --settings` file: read, validated, and turned into every stage's options.
fn settings_yaml(bytes: &[u8], _: &Scratch) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let c = marlin_batch::FeaturizeConfig::from_yaml(text)?;
    c.validate().map_err(|e| e.to_string())?;
    let video = c.video();
    let _ = (c.output_settings(), video.decode_options(), video.sampling.options(16), video.faces.crop_options());
    Ok(())
}

fn model_yaml_seeds(shared: &Path, repo: &Path) -> Vec<Vec<u8>> {
    let mut seeds = vec![oracle(shared, "marlin_tiny.yaml")];
    for name in ["vit_small", "vit_base", "vit_large"] {
        seeds.push(read(&repo.join(format!("configs/models/{name}.yaml"))));
    }
    seeds
}

/// A model config (`--config`), with the sizes computed from it.
fn model_yaml(bytes: &[u8], _: &Scratch) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let c = MarlinConfig::from_yaml_str(text, "fuzz.yaml").map_err(|e| e.to_string())?;
    let _ = (c.num_tokens(), c.patch_dim(), c.mlp_hidden(c.encoder.embed_dim), c.encoder_flops());
    Ok(())
}

fn manifest_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    vec![
        b"path,label,split,video_id,fold\nv/a.mp4,fake,train,,1\nv/b.mp4,real,test,b,2\n/abs/c.mov,real,train,c,3\n"
            .to_vec(),
        b"path\n\"a, b.mp4\"\n\"c\"\"d.mp4\"\n".to_vec(),
        oracle(shared, "videos/official_face_boxes.csv"),
    ]
}

/// A manifest CSV as `featurize` collects it.
fn manifest_csv(bytes: &[u8], scratch: &Scratch) -> Result<(), String> {
    let path = scratch.file("list.csv", bytes)?;
    let got = marlin_batch::Inputs::collect(&[path], &["mp4".to_string()]).map_err(|e| e.to_string())?;
    // ids that were accepted must be safe to write under the output folder
    for v in &got.videos {
        let p = Path::new(&v.id);
        if v.id.is_empty() || p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            panic!("unsafe video id accepted: {:?}", v.id);
        }
    }
    Ok(())
}

fn probe_seeds(shared: &Path, _: &Path) -> Vec<Vec<u8>> {
    let dim = 8;
    let probe = Probe {
        format: marlin_probe::FORMAT.into(),
        model: ProbeModel { architecture: "vit_small".into(), sha256: "ab".repeat(32), dim },
        level: Level::Video,
        label_column: "label".into(),
        positive: "fake".into(),
        negative: "real".into(),
        mean: (0..dim).map(|i| i as f64 * 0.1).collect(),
        std: vec![1.5; dim],
        weights: (0..dim).map(|i| 0.5 - i as f64 * 0.1).collect(),
        bias: -0.25,
        threshold: 0.5,
        threshold_rule: "eer".into(),
        c: Some(1.0),
        validation: None,
        source: "fuzz seed".into(),
    };
    let text = serde_json::to_vec_pretty(&probe).unwrap_or_default();
    vec![text, oracle(shared, "videos/videos.json")]
}

/// A probe file (`probe score`, `screen`), used to score one sample.
fn probe_json(bytes: &[u8], scratch: &Scratch) -> Result<(), String> {
    let path = scratch.file("probe.json", bytes)?;
    let probe = Probe::load(&path).map_err(|e| e.to_string())?;
    let p = probe.probability(&vec![0.5; probe.model.dim]);
    let _ = probe.label(p);
    Ok(())
}

/// The run identity every journal seed belongs to.
fn identity() -> RunIdentity {
    RunIdentity {
        settings: serde_json::json!({"sampling": {"stride": 16}}),
        model_sha256: "ab".repeat(32),
        row_shape: vec![64],
    }
}

fn journal_seeds(_: &Path, _: &Path) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    let scratch = Scratch::new().unwrap_or_else(|e| panic!("scratch: {e}"));
    let mut journal = Journal::create(scratch.dir.path(), &identity()).unwrap_or_else(|e| panic!("{e}"));
    let meta = |id: &str, path: PathBuf| VideoMeta {
        id: id.into(),
        path,
        label: "fake".into(),
        split: "train".into(),
        extra: BTreeMap::from([("fold".to_string(), "3".to_string())]),
    };
    let row = |clip| RowMeta {
        clip,
        track: Some(1),
        first_frame: 32 * clip as u64,
        last_frame: 32 * clip as u64 + 30,
        start_s: Some(1.28 * clip as f64),
        end_s: Some(1.28 * clip as f64 + 1.24),
        face_frames: Some(16),
        face_box: Some([10.0, 12.5, 100.0, 120.0]),
        face_score: Some(0.99),
    };
    let records = [
        Record::Done {
            video: meta("a/x", "/v/a/x.mp4".into()),
            rows: vec![row(0), row(1)],
            frames: 100,
            decoder: Some("avdec_h264".into()),
            colour: Some("exact (swscale from I420)".into()),
        },
        Record::Failed { video: meta("b", "/v/b.mp4".into()), error: "/v/b.mp4: truncated".into() },
        Record::Done {
            video: meta("caf%E9", std::ffi::OsString::from_vec(b"/v/caf\xe9.mp4".to_vec()).into()),
            rows: vec![row(0)],
            frames: 40,
            decoder: None,
            colour: None,
        },
    ];
    for r in &records {
        journal.append(r).unwrap_or_else(|e| panic!("{e}"));
    }
    vec![read(&scratch.dir.path().join(".marlin/journal.jsonl"))]
}

/// Journal lines as `--resume` and `merge` read them, then rendered into the tables.
fn journal(bytes: &[u8], scratch: &Scratch) -> Result<(), String> {
    let run = scratch.dir.path().join(".marlin/run.json");
    if !run.exists() {
        let text = serde_json::to_vec(&identity()).map_err(|e| e.to_string())?;
        scratch.file(".marlin/run.json", &text)?;
    }
    scratch.file(".marlin/journal.jsonl", bytes)?;
    let (_, records) = Journal::read(scratch.dir.path()).map_err(|e| e.to_string())?;
    marlin_batch::tables::write_clips(&scratch.dir.path().join("clips.csv"), &records).map_err(|e| e.to_string())
}
