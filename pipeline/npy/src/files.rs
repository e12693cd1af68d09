//! Files the user names, in and out. Inputs are read only when they are regular files: a FIFO
//! blocks in `open()` until someone writes to it, a device never ends. Outputs go through a
//! temporary sibling and a rename, except where that would replace something that is not a
//! regular file: a character device or a FIFO (`-o /dev/null`) is written in place, a symbolic
//! link is followed to its target (the link stays), anything else is refused.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a file type is, for messages about files that are not regular.
fn kind(t: &FileType) -> &'static str {
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn not_regular(t: &FileType) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("is {}, not a regular file", kind(t)))
}

/// Refuses what is not a regular file (symbolic links followed), without opening it.
pub fn check_regular(path: &Path) -> io::Result<()> {
    let t = std::fs::metadata(path)?.file_type();
    if t.is_file() { Ok(()) } else { Err(not_regular(&t)) }
}

/// Opens `path` for reading if it is a regular file (symbolic links followed). The open itself
/// cannot block: a FIFO is opened non-blocking, seen for what it is, and refused.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let t = file.metadata()?.file_type();
    if !t.is_file() {
        return Err(not_regular(&t));
    }
    Ok(file)
}

/// The whole content of a regular file (see [`open_regular`]).
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of a regular file (see [`open_regular`]).
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text ({})", e.utf8_error())))
}

/// How an output file is to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or nothing yet, at this path (symbolic links resolved): written under a
    /// temporary sibling, then renamed over it.
    Replace(PathBuf),
    /// A character device or a FIFO: written straight into, never replaced.
    InPlace(PathBuf),
}

/// How many symbolic links are followed before giving up (as Linux's `ELOOP`).
const MAX_LINKS: usize = 40;

/// Where writing `path` must go: see [`Destination`]. Folders, block devices and sockets are
/// refused.
pub fn destination(path: &Path) -> io::Result<Destination> {
    let mut target = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Destination::Replace(target)),
            other => other?,
        };
        let t = meta.file_type();
        if t.is_symlink() {
            // a relative link is relative to the folder holding it
            let link = std::fs::read_link(&target)?;
            target = match target.parent() {
                Some(dir) if link.is_relative() => dir.join(link),
                _ => link,
            };
            continue;
        }
        return if t.is_file() {
            Ok(Destination::Replace(target))
        } else if t.is_char_device() || t.is_fifo() {
            Ok(Destination::InPlace(target))
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidInput, format!("is {}: refusing to replace it", kind(&t))))
        };
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "too many levels of symbolic links"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("f.mp4");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(check_regular(&fifo).is_err());
        assert_eq!(destination(&fifo).unwrap(), Destination::InPlace(fifo));
        let e = read_regular(d.path()).unwrap_err();
        assert!(e.to_string().contains("folder"), "{e}");
    }

    #[test]
    fn symbolic_links_are_followed_to_their_target() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("sub/real.npy");
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("sub/real.npy", d.path().join("link.npy")).unwrap();
        // dangling: the target does not exist yet
        assert_eq!(
            destination(&d.path().join("link.npy")).unwrap(),
            Destination::Replace(d.path().join("sub/real.npy"))
        );
        std::fs::write(&real, b"x").unwrap();
        assert_eq!(
            destination(&d.path().join("link.npy")).unwrap(),
            Destination::Replace(d.path().join("sub/real.npy"))
        );
        assert_eq!(destination(Path::new("/dev/null")).unwrap(), Destination::InPlace("/dev/null".into()));
        std::os::unix::fs::symlink("loop", d.path().join("loop")).unwrap();
        assert!(destination(&d.path().join("loop")).is_err());
        assert!(destination(d.path()).unwrap_err().to_string().contains("folder"));
    }
}
