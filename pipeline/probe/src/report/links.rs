//! Links from the report to the source videos. A path given relative (as featurize's inputs
//! named it, from the working directory) becomes a link relative to the report folder, so the
//! report still plays the videos when both are moved together; an absolute path becomes a
//! `file://` URL, which plays only where the videos sit at that path. Either way the link is
//! only as good as the file: a video missing when the report is written is said so.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// What kind of link a video got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// Relative to the report folder.
    Relative,
    /// A `file://` URL of an absolute path.
    Absolute,
    /// The video was not found when the report was written (the link is made all the same).
    Missing,
    /// clips.csv names no file.
    None,
}

impl LinkKind {
    /// What the page says under a player whose video has this link.
    pub fn note(self) -> &'static str {
        match self {
            LinkKind::Relative => "",
            LinkKind::Absolute => "linked by its absolute path: plays where the video is at that path",
            LinkKind::Missing => "the video was not at this path when the report was written",
            LinkKind::None => "clips.csv names no file for this video",
        }
    }
}

/// A video's link: the URL (percent-encoded, without a fragment) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoLink {
    pub href: String,
    pub kind: LinkKind,
}

/// The link from the folder `report_dir` to the video `path` (as clips.csv names it);
/// relative paths are taken from `cwd`.
pub fn video_link(path: &str, report_dir: &Path, cwd: &Path) -> VideoLink {
    if path.is_empty() {
        return VideoLink { href: String::new(), kind: LinkKind::None };
    }
    let given = Path::new(path);
    let target = normalize(&cwd.join(given));
    let (href, kind) = if given.is_absolute() {
        (format!("file://{}", encode(&target)), LinkKind::Absolute)
    } else {
        (encode(&relative(&normalize(&cwd.join(report_dir)), &target)), LinkKind::Relative)
    };
    let kind = if target.is_file() { kind } else { LinkKind::Missing };
    VideoLink { href, kind }
}

/// `path` without `.` and with each `..` taken against the component before it (the link goes
/// where the path reads, not where symbolic links on this machine lead).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The path from the folder `from` to `to`, both absolute and normalised.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A path as a URL path: every byte outside `A–Z a–z 0–9 - . _ ~ /` percent-encoded.
fn encode(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_inputs_link_relatively_absolute_ones_as_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("videos/a b")).unwrap();
        std::fs::write(root.join("videos/a b/x#1.mp4"), b"").unwrap();
        let report = Path::new("out/S/report");
        let link = video_link("videos/a b/x#1.mp4", report, root);
        assert_eq!(link, VideoLink { href: "../../../videos/a%20b/x%231.mp4".into(), kind: LinkKind::Relative });
        let link = video_link("./videos/../videos/a b/x#1.mp4", report, root);
        assert_eq!(link.href, "../../../videos/a%20b/x%231.mp4");
        let absolute = root.join("videos/a b/x#1.mp4");
        let link = video_link(absolute.to_str().unwrap(), report, Path::new("/elsewhere"));
        assert_eq!(link.kind, LinkKind::Absolute);
        assert!(link.href.starts_with("file:///") && link.href.ends_with("/videos/a%20b/x%231.mp4"), "{}", link.href);
        assert_eq!(video_link("gone.mp4", report, root).kind, LinkKind::Missing);
        assert_eq!(video_link("", report, root).kind, LinkKind::None);
        // a report inside the videos' folder
        std::fs::write(root.join("videos/y.mp4"), b"").unwrap();
        assert_eq!(video_link("videos/y.mp4", Path::new("videos/S/report"), root).href, "../../y.mp4");
    }
}
