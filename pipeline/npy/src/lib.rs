//! NumPy `.npy` files: read (u8, f16, f32, f64, C order) and write (f32, u8), with errors that
//! name the file. Writes go to a temporary file in the same folder and are renamed into place,
//! so a crash never leaves a half-written array behind; [`files`] holds the rules every output
//! and input file of the project follows (regular files only in, nothing but regular files
//! replaced out).

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod files;
mod rows;

pub use files::{Destination, destination, open_input, read_input, read_input_to_string};
pub use rows::{ROWS_HEADER_LEN, RowFile};

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a valid .npy file: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
    #[error("{}: unsupported .npy content: {detail}", path.display())]
    Unsupported { path: PathBuf, detail: String },
}

/// The element values of an array, in the type the file stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

/// An n-dimensional array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Array {
    /// The values as f32 (u8 values are converted, not scaled).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::U8(v) => v.iter().map(|&x| x as f32).collect(),
            Data::F32(v) => v.clone(),
        }
    }
}

/// Reads a `.npy` file. f16 and f64 arrays are converted to f32.
pub fn read(path: impl AsRef<Path>) -> Result<Array, NpyError> {
    let path = path.as_ref();
    let bytes = read_input(path).map_err(|source| NpyError::Io { path: path.to_path_buf(), source })?;
    parse(&bytes).map_err(|(unsupported, detail)| {
        if unsupported {
            NpyError::Unsupported { path: path.to_path_buf(), detail }
        } else {
            NpyError::Invalid { path: path.to_path_buf(), detail }
        }
    })
}

type ParseError = (bool, String);

fn invalid(detail: impl Into<String>) -> ParseError {
    (false, detail.into())
}

/// An array's header: element type, shape, and where its data starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data_offset: usize,
}

/// Reads just the header of a `.npy` file.
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, NpyError> {
    use std::io::Read;
    let path = path.as_ref();
    let io = |source| NpyError::Io { path: path.to_path_buf(), source };
    let mut start = Vec::with_capacity(4096);
    open_input(path).map_err(io)?.take(1 << 16).read_to_end(&mut start).map_err(io)?;
    parse_header(&start).map_err(|(unsupported, detail)| {
        if unsupported {
            NpyError::Unsupported { path: path.to_path_buf(), detail }
        } else {
            NpyError::Invalid { path: path.to_path_buf(), detail }
        }
    })
}

fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(invalid("missing the \\x93NUMPY magic"));
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(invalid("header ends early"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err((true, format!("format version {v}"))),
    };
    let header = bytes.get(hstart..hstart + hlen).ok_or_else(|| invalid("header ends early"))?;
    let header = std::str::from_utf8(header).map_err(|_| invalid("header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| invalid("header has no 'descr'"))?;
    let descr = quoted(descr).ok_or_else(|| invalid("header 'descr' is not a string"))?;
    let fortran = dict_value(header, "fortran_order").ok_or_else(|| invalid("header has no 'fortran_order'"))?;
    if fortran.starts_with("True") {
        return Err((true, "Fortran-ordered array (save it C-ordered: np.ascontiguousarray)".into()));
    }
    let shape = parse_shape(header).ok_or_else(|| invalid("header has no valid 'shape'"))?;
    Ok(Header { descr: descr.to_string(), shape, data_offset: hstart + hlen })
}

/// Parses `.npy` bytes (as in a file or an `.npz` member).
pub fn parse(bytes: &[u8]) -> Result<Array, (bool, String)> {
    let Header { descr, shape, data_offset } = parse_header(bytes)?;
    let descr = descr.as_str();
    let numel = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| invalid(format!("shape {shape:?} has more elements than memory can hold")))?;
    let body = &bytes[data_offset..];
    let need = |size: usize| -> Result<&[u8], ParseError> {
        numel.checked_mul(size).and_then(|n| body.get(..n)).ok_or_else(|| {
            invalid(format!("data ends early: {} bytes for {numel} elements of {size} bytes", body.len()))
        })
    };
    let data = match descr {
        "|u1" | "<u1" | "u1" | "|b1" => Data::U8(need(1)?.to_vec()),
        "<f4" => Data::F32(need(4)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        "<f2" => Data::F32(need(2)?.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()),
        "<f8" => Data::F32(
            need(8)?.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        ),
        other => return Err((true, format!("element type {other:?} (expected uint8, float16, float32 or float64)"))),
    };
    Ok(Array { shape, data })
}

fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// The quoted string at the start of `s`.
fn quoted(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &s[1..];
    Some(&rest[..rest.find(q)?])
}

fn parse_shape(header: &str) -> Option<Vec<usize>> {
    let rest = dict_value(header, "shape")?.strip_prefix('(')?;
    let inner = &rest[..rest.find(')')?];
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('L').parse().ok()).collect()
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    header_aligned(descr, shape, 64)
}

/// The header, padded with spaces so its length is a multiple of `align` (64 as NumPy writes
/// it; a fixed length for files whose shape is rewritten in place).
fn header_aligned(descr: &str, shape: &[usize], align: usize) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("{n},"),
        _ => shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat((align - total % align) % align));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out
}

/// Encodes an f32 array as `.npy` bytes.
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut out = header("<f4", shape);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Encodes a u8 array as `.npy` bytes.
pub fn encode_u8(shape: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = header("|u1", shape);
    out.extend_from_slice(data);
    out
}

/// Writes an f32 array atomically (temporary file in the same folder, then rename).
pub fn write_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    assert_eq!(shape.iter().product::<usize>(), data.len(), "shape does not match the data");
    write_atomic(path.as_ref(), &encode_f32(shape, data))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename; see [`destination`] for
/// what is written in place (devices, FIFOs), followed (symbolic links) or refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NpyError> {
    let io = |source| NpyError::Io { path: path.to_path_buf(), source };
    let target = match destination(path).map_err(io)? {
        Destination::InPlace(target) => {
            let mut f = std::fs::OpenOptions::new().write(true).open(&target).map_err(io)?;
            return f.write_all(bytes).map_err(io);
        }
        Destination::Replace(target) => target,
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        write_f32(&p, &[2, 3, 4], &data).unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.data, Data::F32(data));
        let raw = std::fs::read(&p).unwrap();
        let hlen = u16::from_le_bytes([raw[8], raw[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0, "numpy aligns the data to 64 bytes");
    }

    #[test]
    fn one_dimensional_shape_has_trailing_comma() {
        let bytes = encode_f32(&[5], &[0.0; 5]);
        let text = String::from_utf8_lossy(&bytes[10..]);
        assert!(text.contains("'shape': (5,)"), "{text}");
        assert_eq!(parse(&bytes).unwrap().shape, vec![5]);
    }

    #[test]
    fn truncated_data_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("short.npy");
        let mut bytes = encode_u8(&[4, 4], &[7; 16]);
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, bytes).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("short.npy") && e.contains("data ends early"), "{e}");
    }

    #[test]
    fn writing_through_a_link_or_into_a_fifo_replaces_neither() {
        use std::os::unix::fs::FileTypeExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("real.npy"), b"old").unwrap();
        std::os::unix::fs::symlink("real.npy", d.path().join("link.npy")).unwrap();
        write_atomic(&d.path().join("link.npy"), b"new").unwrap();
        assert!(std::fs::symlink_metadata(d.path().join("link.npy")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(d.path().join("real.npy")).unwrap(), b"new");

        let fifo = d.path().join("out.npy");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::read(fifo).unwrap()
        });
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        let e = write_atomic(d.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("folder"), "{e}");
    }

    #[test]
    fn a_shape_whose_size_overflows_is_invalid() {
        let bytes = header("<f4", &[usize::MAX / 2, 3]);
        let (unsupported, msg) = parse(&bytes).unwrap_err();
        assert!(!unsupported && msg.contains("more elements than memory can hold"), "{msg}");
        let bytes = header("<f4", &[usize::MAX / 4]);
        let (_, msg) = parse(&bytes).unwrap_err();
        assert!(msg.contains("data ends early"), "{msg}");
    }

    #[test]
    fn unsupported_dtype_is_reported() {
        let mut bytes = header("<i4", &[2]);
        bytes.extend_from_slice(&[0; 8]);
        let (unsupported, msg) = parse(&bytes).unwrap_err();
        assert!(unsupported && msg.contains("<i4"), "{msg}");
    }
}
