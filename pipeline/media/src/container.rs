//! What an MP4/MOV's own structure says when GStreamer finds no stream in it: its top-level
//! boxes tell a file cut short (or still being written: the index, `moov`, comes last unless
//! the file was made for streaming) from one that is no video at all.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Top-level box types an ISO base media file (MP4, MOV, 3GP, M4V…) starts with.
const FIRST_BOXES: &[&[u8; 4]] =
    &[b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"pdin", b"meta"];

/// Why an ISO base media file has no usable index: `Some(reason)` when the file starts like
/// one but its `moov` box is missing or cut off; `None` when it is not such a file, or is whole.
pub(crate) fn missing_index(path: &Path) -> Option<String> {
    let mut file = marlin_npy::open_input(path).ok()?;
    let len = file.metadata().ok()?.len();
    missing_index_in(&mut file, len)
}

/// [`missing_index`] of `len` bytes read from `file`.
pub(crate) fn missing_index_in(file: &mut (impl Read + Seek), len: u64) -> Option<String> {
    if len < 8 {
        return None;
    }
    let mut pos = 0u64;
    let mut moov = false;
    while len.saturating_sub(pos) >= 8 {
        let mut head = [0u8; 16];
        file.seek(SeekFrom::Start(pos)).ok()?;
        file.read_exact(&mut head[..8]).ok()?;
        let kind: [u8; 4] = head[4..8].try_into().ok()?;
        if pos == 0 && !FIRST_BOXES.contains(&&kind) {
            return None;
        }
        let name = String::from_utf8_lossy(&kind).into_owned();
        let (size, header) = match u32::from_be_bytes(head[..4].try_into().ok()?) {
            0 => (len - pos, 8),
            1 => {
                file.read_exact(&mut head[8..16]).ok()?;
                (u64::from_be_bytes(head[8..16].try_into().ok()?), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Some(format!("its box structure is damaged at byte {pos} (a `{name}` box of {size} bytes)"));
        }
        let end = pos.saturating_add(size);
        if end > len {
            return Some(format!(
                "it ends inside its `{name}` box ({len} of {end} bytes): the file was cut short or is still being written"
            ));
        }
        moov |= &kind == b"moov";
        pos = end;
    }
    (!moov).then(|| {
        "it has no `moov` box (the index an MP4/MOV needs, written last): the file was cut short or is still being written"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn boxed(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut b = ((body + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.resize(body + 8, 0);
        b
    }

    #[test]
    fn a_file_cut_before_its_index_is_told_apart() {
        let whole: Vec<u8> = [boxed(b"ftyp", 20), boxed(b"mdat", 1000), boxed(b"moov", 300)].concat();
        let check = |b: &[u8]| missing_index_in(&mut Cursor::new(b), b.len() as u64);
        assert_eq!(check(&whole), None);
        let e = check(&whole[..500]).unwrap();
        assert!(e.contains("inside its `mdat` box") && e.contains("cut short"), "{e}");
        let e = check(&whole[..1036]).unwrap();
        assert!(e.contains("no `moov` box"), "{e}");
        assert_eq!(check(b"RIFF\x10\0\0\0AVI LIST"), None);
        assert_eq!(check(b"hello"), None);
        let e = check(&[0, 0, 0, 4, b'f', b't', b'y', b'p']).unwrap();
        assert!(e.contains("damaged"), "{e}");
    }
}
