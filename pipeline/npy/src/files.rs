//! Files the user names, in and out. Inputs are regular files or pipes (a FIFO, a shell's
//! `<(…)`), opened so that the open never blocks: a FIFO nobody writes to reads as empty
//! instead of hanging in `open()`; devices (which may never end), sockets and folders are
//! refused. Outputs go through a temporary sibling and a rename, except where that would replace
//! something that is not a regular file: a character device or a FIFO (`-o /dev/null`) is
//! written in place, a symbolic link is followed to its target (the link stays), anything else
//! is refused.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a file type is, for messages about files that cannot be used.
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

fn unusable(t: &FileType) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("is {}, not a file to read", kind(t)))
}

/// What an input names, symbolic links followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    File,
    /// A FIFO or a pipe: read as it is written, possibly never (its open can block).
    Pipe,
}

/// The kind of input `path` names, without opening it; devices, sockets and folders are
/// refused.
pub fn input_kind(path: &Path) -> io::Result<InputKind> {
    let t = std::fs::metadata(path)?.file_type();
    if t.is_file() {
        Ok(InputKind::File)
    } else if t.is_fifo() {
        Ok(InputKind::Pipe)
    } else {
        Err(unusable(&t))
    }
}

/// Opens `path` for reading if it is a regular file or a pipe (symbolic links followed). The
/// open never blocks: a FIFO is opened non-blocking (then read blocking: to its end, or at
/// once to nothing when no one writes to it).
pub fn open_input(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let t = file.metadata()?.file_type();
    if t.is_fifo() {
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this function owns, clearing one status flag.
        let cleared = unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) & !libc::O_NONBLOCK) };
        if cleared < 0 {
            return Err(io::Error::last_os_error());
        }
    } else if !t.is_file() {
        return Err(unusable(&t));
    }
    Ok(file)
}

/// The whole content of an input (see [`open_input`]).
pub fn read_input(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_input(path)?;
    let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of an input (see [`open_input`]).
pub fn read_input_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_input(path)?)
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
    fn a_fifo_nobody_writes_to_reads_as_empty_and_devices_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("f.yaml");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(input_kind(&fifo).unwrap(), InputKind::Pipe);
        assert_eq!(read_input(&fifo).unwrap(), b"");
        // with a writer, what it writes
        let writer = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::write(fifo, b"batch_size: 4\n").unwrap()
        });
        let mut got = Vec::new();
        while got.is_empty() {
            got = read_input(&fifo).unwrap();
        }
        writer.join().unwrap();
        assert_eq!(got, b"batch_size: 4\n");
        assert_eq!(destination(&fifo).unwrap(), Destination::InPlace(fifo));
        let e = read_input(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_input(d.path()).unwrap_err();
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
