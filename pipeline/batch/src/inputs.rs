//! What to featurise: video files, folders (walked recursively, by extension) and manifest CSVs
//! (`path` required; `video_id`, `label`, `split` and any other columns carried along). A video's
//! id defaults to its path relative to its input root, without the extension.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
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
    /// [`Inputs::collect`] for a run: inputs that hold nothing to do (no video, no rejected
    /// entry) are an error naming them and the extensions looked for.
    pub fn collect_for_run(inputs: &[PathBuf], extensions: &[String]) -> Result<Self, BatchError> {
        let found = Self::collect(inputs, extensions)?;
        if found.videos.is_empty() && found.rejected.is_empty() {
            let given: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
            return Err(BatchError::NoVideos { inputs: given.join(", "), extensions: extensions.join(", ") });
        }
        Ok(found)
    }

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
                let checked = v.and_then(|v| match check_id(&v.id) {
                    Ok(()) => Ok(v),
                    Err(error) => Err(Rejected { id: v.id, path: v.path, error }),
                });
                match checked {
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
                    Err(rejected) => out.rejected.push(rejected),
                }
            }
        }
        Ok(out)
    }
}

/// A file name as text: UTF-8 as it is, each byte that is not UTF-8 as `%XX` (Unix file names
/// are bytes; ids, CSV tables and JSON hold text).
pub fn escaped(name: &OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

/// `path` relative to `root`, `/`-separated, without the file extension, [`escaped`].
fn relative_id(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components().map(|c| escaped(c.as_os_str())).collect::<Vec<_>>().join("/")
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

type Row = Result<VideoInput, Rejected>;

/// The rows of a manifest CSV; relative paths are relative to the manifest's folder. The `path`
/// column is taken as bytes (any file name), the other columns as text.
fn read_manifest(manifest: &Path) -> Result<Vec<Row>, BatchError> {
    let err = |m: String| BatchError::Input(format!("{}: {m}", manifest.display()));
    let file = marlin_npy::open_input(manifest).map_err(|source| BatchError::Io { path: manifest.into(), source })?;
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(std::io::BufReader::new(file));
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut twice: Vec<&str> =
        headers.iter().enumerate().filter(|(i, h)| headers[..*i].contains(h)).map(|(_, h)| h.as_str()).collect();
    twice.dedup();
    if !twice.is_empty() {
        return Err(err(format!("column(s) named twice: {} (which one holds the value?)", twice.join(", "))));
    }
    let Some(path_col) = headers.iter().position(|h| h == "path") else {
        return Err(err(format!("no `path` column (columns: {})", headers.join(", "))));
    };
    let root = manifest.parent().unwrap_or(Path::new(""));
    let mut rows = Vec::new();
    for (k, record) in reader.byte_records().enumerate() {
        let line = k + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => return Err(err(format!("row {line}: {e}"))),
        };
        let text = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or(b"")).trim().to_string();
        let field = |name: &str| headers.iter().position(|h| h == name).map(text).unwrap_or_default();
        let given = Path::new(OsStr::from_bytes(record.get(path_col).unwrap_or(b"").trim_ascii()));
        if given.as_os_str().is_empty() {
            rows.push(Err(Rejected {
                id: field("video_id"),
                path: manifest.to_path_buf(),
                error: format!("{}: row {line}: empty `path`", manifest.display()),
            }));
            continue;
        }
        let path = if given.is_absolute() { given.to_path_buf() } else { root.join(given) };
        let id = match field("video_id") {
            id if id.is_empty() => relative_id(given, Path::new("")).trim_start_matches('/').to_string(),
            id => id,
        };
        let extra = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| !matches!(h.as_str(), "path" | "video_id" | "label" | "split"))
            .map(|(i, h)| (h.clone(), String::from_utf8_lossy(record.get(i).unwrap_or(b"")).into_owned()))
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
    fn a_run_over_inputs_without_videos_names_them_and_the_extensions() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("notes.txt"));
        let e = Inputs::collect_for_run(&[d.path().to_path_buf()], &exts()).unwrap_err().to_string();
        assert_eq!(e, format!("no videos found in {} (extensions: mp4, mov)", d.path().display()));
        touch(&d.path().join("x.mp4"));
        assert_eq!(Inputs::collect_for_run(&[d.path().to_path_buf()], &exts()).unwrap().videos.len(), 1);
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
        // a rejected row keeps its own id and path, not the manifest's
        assert_eq!(got.rejected[0].id, "../../etc/x");
        assert_eq!(got.rejected[0].path, d.path().join("v/one.mp4"));
        assert!(got.rejected[1].error.contains("empty `path`"), "{:?}", got.rejected);
    }

    #[test]
    fn a_manifest_with_a_column_named_twice_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("list.csv");
        std::fs::write(
            &m,
            "path,label,path
a.mp4,x,b.mp4
",
        )
        .unwrap();
        let e = Inputs::collect(&[m], &exts()).unwrap_err().to_string();
        assert!(e.contains("list.csv") && e.contains("named twice: path"), "{e}");
    }

    #[test]
    fn file_names_that_are_not_utf8_keep_their_bytes_and_get_escaped_ids() {
        use std::os::unix::ffi::OsStringExt;
        let d = tempfile::tempdir().unwrap();
        let name = std::ffi::OsString::from_vec(b"caf\xe9 %41.mp4".to_vec());
        touch(&d.path().join(&name));
        let got = Inputs::collect(&[d.path().to_path_buf()], &exts()).unwrap();
        assert_eq!(got.videos.len(), 1, "{:?}", got.rejected);
        assert_eq!(got.videos[0].id, "caf%E9 %41");
        assert_eq!(got.videos[0].path, d.path().join(&name));
        let m = d.path().join("list.csv");
        let mut text = b"path,label\n".to_vec();
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b",fake\n");
        std::fs::write(&m, text).unwrap();
        let got = Inputs::collect(&[m], &exts()).unwrap();
        assert_eq!(got.videos[0].path, d.path().join(&name));
        assert_eq!(got.videos[0].label, "fake");
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
