//! The run's memory between processes, in `DIR/.marlin/`: `run.json` (what decides the output
//! rows: settings, model, row shape), written once when the run starts, and `journal.jsonl`, one
//! line per finished video (its rows, or its failure), appended after the video's features are
//! in `features.npy.part`. A line cut short by a kill is ignored and cut off on resume.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::BatchError;
use crate::inputs::VideoInput;

/// The folder of the run's state under the output folder.
pub const STATE_DIR: &str = ".marlin";

/// What a run's rows depend on; a resumed run must match it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The output-deciding settings (see `FeaturizeConfig::output_settings`).
    pub settings: serde_json::Value,
    /// The checkpoint's SHA-256.
    pub model_sha256: String,
    /// The shape of one row of `features.npy`.
    pub row_shape: Vec<usize>,
}

/// A video as the tables list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoMeta {
    pub id: String,
    #[serde(with = "os_path")]
    pub path: PathBuf,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub split: String,
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// A path in JSON: a string when it is UTF-8, else `{"bytes": [...]}` (a Unix file name is
/// bytes; the journal keeps it whole).
mod os_path {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Raw { bytes: Vec<u8> },
    }

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => s.serialize_str(text),
            None => Repr::Raw { bytes: path.as_os_str().as_bytes().to_vec() }.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(text) => text.into(),
            Repr::Raw { bytes } => OsString::from_vec(bytes).into(),
        })
    }
}

impl From<&VideoInput> for VideoMeta {
    fn from(v: &VideoInput) -> Self {
        Self {
            id: v.id.clone(),
            path: v.path.clone(),
            label: v.label.clone(),
            split: v.split.clone(),
            extra: v.extra.clone(),
        }
    }
}

/// One row of `features.npy`: which clip (and face track) of its video it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowMeta {
    pub clip: usize,
    pub track: Option<u64>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// Frames with a detection; `None` without face cropping.
    pub face_frames: Option<usize>,
    pub face_box: Option<[f32; 4]>,
    pub face_score: Option<f32>,
}

/// A finished video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Record {
    Done { video: VideoMeta, rows: Vec<RowMeta>, frames: u64, decoder: Option<String>, colour: Option<String> },
    Failed { video: VideoMeta, error: String },
}

impl Record {
    pub fn video(&self) -> &VideoMeta {
        match self {
            Record::Done { video, .. } | Record::Failed { video, .. } => video,
        }
    }

    /// Rows this record put in `features.npy`.
    pub fn rows(&self) -> usize {
        match self {
            Record::Done { rows, .. } => rows.len(),
            Record::Failed { .. } => 0,
        }
    }
}

/// The open journal.
pub struct Journal {
    file: File,
    path: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io { path: path.into(), source }
}

impl Journal {
    /// Whether `dir` holds a run.
    pub fn exists(dir: &Path) -> bool {
        dir.join(STATE_DIR).join("run.json").exists()
    }

    /// Starts a new run in `dir`.
    pub fn create(dir: &Path, identity: &RunIdentity) -> Result<Self, BatchError> {
        let state = dir.join(STATE_DIR);
        std::fs::create_dir_all(&state).map_err(io(&state))?;
        let path = state.join("journal.jsonl");
        let file = File::create(&path).map_err(io(&path))?;
        let text = serde_json::to_string_pretty(identity).map_err(|e| BatchError::Internal(e.to_string()))?;
        marlin_npy::write_atomic(&state.join("run.json"), text.as_bytes())?;
        Ok(Self { file, path })
    }

    /// Opens the run in `dir`: its identity and the records of its finished videos. A torn last
    /// line is cut off.
    pub fn open(dir: &Path) -> Result<(Self, RunIdentity, Vec<Record>), BatchError> {
        let (identity, records, good) = Self::load(dir)?;
        let path = dir.join(STATE_DIR).join("journal.jsonl");
        let file = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
        file.set_len(good).map_err(io(&path))?;
        let mut j = Self { file, path };
        j.seek_end()?;
        Ok((j, identity, records))
    }

    /// Reads the run in `dir` without changing it: its identity and records.
    pub fn read(dir: &Path) -> Result<(RunIdentity, Vec<Record>), BatchError> {
        Self::load(dir).map(|(identity, records, _)| (identity, records))
    }

    /// The identity, the whole-line records, and the length of those lines.
    fn load(dir: &Path) -> Result<(RunIdentity, Vec<Record>, u64), BatchError> {
        let state = dir.join(STATE_DIR);
        let run = state.join("run.json");
        let text = marlin_npy::read_input_to_string(&run).map_err(io(&run))?;
        let identity: RunIdentity =
            serde_json::from_str(&text).map_err(|e| BatchError::Output(format!("{}: {e}", run.display())))?;
        let path = state.join("journal.jsonl");
        let bytes = marlin_npy::read_input(&path).map_err(io(&path))?;
        let (mut records, mut good) = (Vec::new(), 0);
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if !line.ends_with(b"\n") {
                tracing::warn!("{}: dropping a torn last line ({} bytes)", path.display(), line.len());
                break;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => records.push(r),
                Err(e) => {
                    return Err(BatchError::Output(format!("{}: line {}: {e}", path.display(), records.len() + 1)));
                }
            }
            good += line.len();
        }
        Ok((identity, records, good as u64))
    }

    /// Rewrites the journal to hold just `records` (after a crash lost feature rows that later
    /// records point at).
    pub fn keep_first(&mut self, records: &[Record]) -> Result<(), BatchError> {
        let mut text = Vec::new();
        for r in records {
            text.extend(line(r)?);
        }
        marlin_npy::write_atomic(&self.path, &text)?;
        self.file = OpenOptions::new().write(true).open(&self.path).map_err(io(&self.path))?;
        self.seek_end()
    }

    /// Appends one record (a single write of a whole line).
    pub fn append(&mut self, record: &Record) -> Result<(), BatchError> {
        let bytes = line(record)?;
        self.file.write_all(&bytes).map_err(io(&self.path))?;
        self.file.flush().map_err(io(&self.path))
    }

    fn seek_end(&mut self) -> Result<(), BatchError> {
        use std::io::Seek;
        self.file.seek(std::io::SeekFrom::End(0)).map(drop).map_err(io(&self.path))
    }
}

fn line(r: &Record) -> Result<Vec<u8>, BatchError> {
    let mut bytes = serde_json::to_vec(r).map_err(|e| BatchError::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(id: &str, rows: usize) -> Record {
        let row = RowMeta {
            clip: 0,
            track: None,
            first_frame: 0,
            last_frame: 30,
            start_s: Some(0.0),
            end_s: Some(1.24),
            face_frames: None,
            face_box: None,
            face_score: None,
        };
        Record::Done {
            video: VideoMeta {
                id: id.into(),
                path: format!("/v/{id}.mp4").into(),
                label: String::new(),
                split: String::new(),
                extra: BTreeMap::new(),
            },
            rows: vec![row; rows],
            frames: 31,
            decoder: Some("avdec_h264".into()),
            colour: None,
        }
    }

    fn identity() -> RunIdentity {
        RunIdentity { settings: serde_json::json!({"a": 1}), model_sha256: "ab".into(), row_shape: vec![384] }
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_line_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::create(d.path(), &identity()).unwrap();
        j.append(&done("a", 2)).unwrap();
        j.append(&done("b", 3)).unwrap();
        drop(j);
        let p = d.path().join(STATE_DIR).join("journal.jsonl");
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"status\":\"done\",\"vid").unwrap();
        let (mut j, id, records) = Journal::open(d.path()).unwrap();
        assert_eq!(id, identity());
        assert_eq!(records, vec![done("a", 2), done("b", 3)]);
        j.append(&done("c", 1)).unwrap();
        let (_, _, records) = Journal::open(d.path()).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2], done("c", 1));
    }

    #[test]
    fn a_path_that_is_not_utf8_survives_the_journal() {
        use std::os::unix::ffi::OsStringExt;
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::create(d.path(), &identity()).unwrap();
        let mut record = done("a", 1);
        let Record::Done { video, .. } = &mut record else { unreachable!() };
        video.path = std::ffi::OsString::from_vec(b"/v/caf\xe9.mp4".to_vec()).into();
        j.append(&record).unwrap();
        let (_, _, records) = Journal::open(d.path()).unwrap();
        assert_eq!(records, vec![record]);
    }

    #[test]
    fn keep_first_rewrites_the_journal() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::create(d.path(), &identity()).unwrap();
        for id in ["a", "b", "c"] {
            j.append(&done(id, 1)).unwrap();
        }
        let (mut j, _, records) = Journal::open(d.path()).unwrap();
        j.keep_first(&records[..1]).unwrap();
        j.append(&done("z", 1)).unwrap();
        let (_, _, records) = Journal::open(d.path()).unwrap();
        assert_eq!(records, vec![done("a", 1), done("z", 1)]);
    }
}
