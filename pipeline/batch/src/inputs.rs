//! What to featurise: video files, folders (walked recursively, by extension) and manifest CSVs
//! (`path` required; `video_id`, `label`, `split` and any other columns carried along). A video's
//! id defaults to its path relative to its input root, without the extension.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::BatchError;

/// One video to featurise.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInput {
    /// Unique in the run; also the relative path (without `.npy`) of its per-video file.
    pub id: String,
    pub path: PathBuf,
    pub label: String,
    pub split: String,
    /// Other manifest columns, by name.
    pub extra: BTreeMap<String, String>,
}

/// A video that could not be taken, and why (it goes to `failures.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub id: String,
    pub path: PathBuf,
    pub error: String,
}

/// The inputs of a run, in a stable order.
#[derive(Debug, Default)]
pub struct Inputs {
    pub videos: Vec<VideoInput>,
    pub rejected: Vec<Rejected>,
}

impl Inputs {
    /// Collects the videos of every input: an input that does not exist, or a manifest that
    /// cannot be read, is an error; a bad row or id is a [`Rejected`] entry.
    pub fn collect(inputs: &[PathBuf], extensions: &[String]) -> Result<Self, BatchError> {
        let mut out = Inputs::default();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for input in inputs {
            let meta = std::fs::metadata(input).map_err(|e| BatchError::Input(format!("{}: {e}", input.display())))?;
            let found = if meta.is_dir() {
                walk(input, extensions)?.into_iter().map(|p| Ok(plain(relative_id(&p, input), p))).collect()
            } else if is_manifest(input) {
                read_manifest(input)?
            } else {
                let root = input.parent().unwrap_or(Path::new(""));
                vec![Ok(plain(relative_id(input, root), input.clone()))]
            };
            for v in found {
                match v.and_then(|v| check_id(&v.id).map(|()| v).map_err(|e| (String::new(), e))) {
                    Ok(v) => match seen.get(&v.id) {
                        Some(first) => out.rejected.push(Rejected {
                            error: format!("video id `{}` is already taken by {}", v.id, first.display()),
                            id: v.id,
                            path: v.path,
                        }),
                        None => {
                            seen.insert(v.id.clone(), v.path.clone());
                            out.videos.push(v);
                        }
                    },
                    Err((id, error)) => out.rejected.push(Rejected { id, path: input.clone(), error }),
                }
            }
        }
        Ok(out)
    }
}

fn plain(id: String, path: PathBuf) -> VideoInput {
    VideoInput { id, path, label: String::new(), split: String::new(), extra: BTreeMap::new() }
}

fn is_manifest(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Files under `dir` with one of `extensions`, sorted; hidden entries are skipped.
fn walk(dir: &Path, extensions: &[String]) -> Result<Vec<PathBuf>, BatchError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| BatchError::Input(format!("{}: {e}", d.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| BatchError::Input(format!("{}: {e}", d.display())))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // follows symbolic links, as a user listing the folder would expect
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(_) => {
                    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
                    if extensions.iter().any(|x| x.eq_ignore_ascii_case(&ext)) {
                        out.push(path);
                    }
                }
                Err(e) => tracing::warn!("{}: skipped: {e}", path.display()),
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` relative to `root`, `/`-separated, without the file extension.
fn relative_id(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// An id must name a file under the output folder: relative, no `..`, no empty parts.
fn check_id(id: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("video id `{id}` {why}"));
    if id.is_empty() {
        return bad("is empty");
    }
    if id.contains('\\') || id.contains('\0') || id.chars().any(char::is_control) {
        return bad("holds a backslash or control character");
    }
    if id.starts_with('/') {
        return bad("is absolute: it would write outside the output folder");
    }
    for c in Path::new(id).components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return bad("climbs out with `..`: it would write outside the output folder"),
            _ => return bad("is not a plain relative path"),
        }
    }
    if id.split('/').any(|p| p.is_empty() || p == ".") {
        return bad("has an empty or `.` part");
    }
    Ok(())
}

type Row = Result<VideoInput, (String, String)>;

/// The rows of a manifest CSV; relative paths are relative to the manifest's folder.
fn read_manifest(manifest: &Path) -> Result<Vec<Row>, BatchError> {
    let err = |m: String| BatchError::Input(format!("{}: {m}", manifest.display()));
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_path(manifest).map_err(|e| err(e.to_string()))?;
    let headers: Vec<String> =
        reader.headers().map_err(|e| err(e.to_string()))?.iter().map(|h| h.trim().to_string()).collect();
    let Some(path_col) = headers.iter().position(|h| h == "path") else {
        return Err(err(format!("no `path` column (columns: {})", headers.join(", "))));
    };
    let root = manifest.parent().unwrap_or(Path::new(""));
    let mut rows = Vec::new();
    for (k, record) in reader.records().enumerate() {
        let line = k + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => return Err(err(format!("row {line}: {e}"))),
        };
        let field = |name: &str| {
            headers.iter().position(|h| h == name).and_then(|i| record.get(i)).unwrap_or("").trim().to_string()
        };
        let given = record.get(path_col).unwrap_or("").trim();
        if given.is_empty() {
            rows.push(Err((field("video_id"), format!("{}: row {line}: empty `path`", manifest.display()))));
            continue;
        }
        let path = if Path::new(given).is_absolute() { PathBuf::from(given) } else { root.join(given) };
        let id = match field("video_id") {
            id if id.is_empty() => relative_id(Path::new(given), Path::new("")).trim_start_matches('/').to_string(),
            id => id,
        };
        let extra = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| !matches!(h.as_str(), "path" | "video_id" | "label" | "split"))
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        rows.push(Ok(VideoInput { id, path, label: field("label"), split: field("split"), extra }));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    fn exts() -> Vec<String> {
        vec!["mp4".into(), "mov".into()]
    }

    #[test]
    fn folders_give_relative_ids_that_never_collide() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("a/x.mp4"));
        touch(&d.path().join("b/x.MP4"));
        touch(&d.path().join("b/notes.txt"));
        touch(&d.path().join(".hidden/y.mp4"));
        let got = Inputs::collect(&[d.path().to_path_buf()], &exts()).unwrap();
        let ids: Vec<&str> = got.videos.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["a/x", "b/x"]);
        assert!(got.rejected.is_empty());
    }

    #[test]
    fn a_second_video_with_the_same_id_is_rejected() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("x.mp4"));
        touch(&d.path().join("x.mov"));
        let got = Inputs::collect(&[d.path().to_path_buf()], &exts()).unwrap();
        assert_eq!(got.videos.len(), 1);
        assert_eq!(got.rejected.len(), 1);
        assert!(got.rejected[0].error.contains("already taken"), "{:?}", got.rejected);
    }

    #[test]
    fn manifests_carry_their_columns_and_reject_escaping_ids() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("v/one.mp4"));
        let m = d.path().join("list.csv");
        std::fs::write(&m, "path,label,fold,video_id\nv/one.mp4,fake,3,\nv/one.mp4,real,1,../../etc/x\n,real,1,z\n/abs/two.mp4,real,2,two\n").unwrap();
        let got = Inputs::collect(std::slice::from_ref(&m), &exts()).unwrap();
        assert_eq!(got.videos.len(), 2);
        let one = &got.videos[0];
        assert_eq!((one.id.as_str(), one.label.as_str()), ("v/one", "fake"));
        assert_eq!(one.path, d.path().join("v/one.mp4"));
        assert_eq!(one.extra.get("fold").map(String::as_str), Some("3"));
        assert_eq!(got.videos[1].path, Path::new("/abs/two.mp4"));
        assert_eq!(got.rejected.len(), 2);
        assert!(got.rejected[0].error.contains("outside the output folder"), "{:?}", got.rejected);
        assert!(got.rejected[1].error.contains("empty `path`"), "{:?}", got.rejected);
    }

    #[test]
    fn a_manifest_without_path_or_a_missing_input_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("list.csv");
        std::fs::write(&m, "file,label\na.mp4,x\n").unwrap();
        let e = Inputs::collect(&[m], &exts()).unwrap_err().to_string();
        assert!(e.contains("no `path` column"), "{e}");
        let e = Inputs::collect(&[d.path().join("nope")], &exts()).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("a/b").is_ok());
        for bad in ["", "/x", "../x", "a/../../x", "a//b", "a\\b", "./a"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
