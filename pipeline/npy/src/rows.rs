//! A float32 `.npy` file grown one row at a time: a fixed-length header (rewritten with the
//! final row count when the file is finished) followed by the rows as they are appended. The
//! row count can be cut back to a known-good value after a crash and appending resumed.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{NpyError, header_aligned};

/// The length of the header a [`RowFile`] reserves (any realistic shape fits).
pub const ROWS_HEADER_LEN: usize = 128;

/// An `.npy` file of shape (rows, *row_shape), float32, being written.
pub struct RowFile {
    file: File,
    path: PathBuf,
    row_shape: Vec<usize>,
    rows: u64,
}

impl RowFile {
    /// Creates (or truncates) `path` with no rows.
    pub fn create(path: &Path, row_shape: &[usize]) -> Result<Self, NpyError> {
        let file = File::create(path).map_err(|source| io(path, source))?;
        let mut f = Self { file, path: path.into(), row_shape: row_shape.into(), rows: 0 };
        f.write_header()?;
        Ok(f)
    }

    /// Opens a file an earlier run was writing and cuts it back to `rows` rows. Fails when the
    /// file holds fewer whole rows than that; [`RowFile::whole_rows`] tells how many it has.
    pub fn reopen(path: &Path, row_shape: &[usize], rows: u64) -> Result<Self, NpyError> {
        let have = Self::whole_rows(path, row_shape)?;
        if have < rows {
            return Err(NpyError::Invalid { path: path.into(), detail: format!("holds {have} rows, {rows} expected") });
        }
        let file = OpenOptions::new().write(true).open(path).map_err(|source| io(path, source))?;
        let mut f = Self { file, path: path.into(), row_shape: row_shape.into(), rows };
        f.file.set_len(f.offset(rows)).map_err(|source| io(path, source))?;
        f.file.seek(SeekFrom::End(0)).map_err(|source| io(path, source))?;
        Ok(f)
    }

    /// How many whole rows the file at `path` holds after its header.
    pub fn whole_rows(path: &Path, row_shape: &[usize]) -> Result<u64, NpyError> {
        let len = std::fs::metadata(path).map_err(|source| io(path, source))?.len();
        let row = row_bytes(row_shape);
        Ok(len.saturating_sub(ROWS_HEADER_LEN as u64) / row.max(1))
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shape of one row.
    pub fn row_shape(&self) -> &[usize] {
        &self.row_shape
    }

    /// Appends whole rows (`data.len()` a multiple of the row length).
    pub fn append(&mut self, data: &[f32]) -> Result<(), NpyError> {
        let row: usize = self.row_shape.iter().product();
        if row == 0 || !data.len().is_multiple_of(row) {
            return Err(NpyError::Invalid {
                path: self.path.clone(),
                detail: format!("{} values are not whole rows of {row}", data.len()),
            });
        }
        let mut bytes = Vec::with_capacity(data.len() * 4);
        for v in data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.write_all(&bytes).map_err(|source| io(&self.path, source))?;
        self.rows += (data.len() / row) as u64;
        Ok(())
    }

    /// Appends whole rows given as little-endian float32 bytes (as another `.npy` holds them).
    pub fn append_le_bytes(&mut self, bytes: &[u8]) -> Result<(), NpyError> {
        let row = row_bytes(&self.row_shape) as usize;
        if row == 0 || !bytes.len().is_multiple_of(row) {
            return Err(NpyError::Invalid {
                path: self.path.clone(),
                detail: format!("{} bytes are not whole rows of {row}", bytes.len()),
            });
        }
        self.file.write_all(bytes).map_err(|source| io(&self.path, source))?;
        self.rows += (bytes.len() / row) as u64;
        Ok(())
    }

    /// Writes the header with the final row count and flushes the file to disk.
    pub fn finish(mut self) -> Result<(), NpyError> {
        self.write_header()?;
        self.file.sync_all().map_err(|source| io(&self.path, source))
    }

    fn offset(&self, rows: u64) -> u64 {
        ROWS_HEADER_LEN as u64 + rows * row_bytes(&self.row_shape)
    }

    fn write_header(&mut self) -> Result<(), NpyError> {
        let shape: Vec<usize> = std::iter::once(self.rows as usize).chain(self.row_shape.iter().copied()).collect();
        let h = header_aligned("<f4", &shape, ROWS_HEADER_LEN);
        if h.len() != ROWS_HEADER_LEN {
            return Err(NpyError::Unsupported {
                path: self.path.clone(),
                detail: format!("shape {shape:?} does not fit a {ROWS_HEADER_LEN}-byte header"),
            });
        }
        let end = self.offset(self.rows);
        let p = &self.path;
        self.file.seek(SeekFrom::Start(0)).map_err(|source| io(p, source))?;
        self.file.write_all(&h).map_err(|source| io(p, source))?;
        self.file.seek(SeekFrom::Start(end)).map_err(|source| io(p, source))?;
        Ok(())
    }
}

fn row_bytes(row_shape: &[usize]) -> u64 {
    row_shape.iter().product::<usize>() as u64 * 4
}

fn io(path: &Path, source: std::io::Error) -> NpyError {
    NpyError::Io { path: path.into(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Data, read};

    #[test]
    fn rows_appended_read_back_as_one_array() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.npy");
        let mut f = RowFile::create(&p, &[3]).unwrap();
        f.append(&[1.0, 2.0, 3.0]).unwrap();
        f.append(&[4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
        assert!(f.append(&[1.0]).is_err());
        f.finish().unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![3, 3]);
        assert_eq!(a.data, Data::F32((1..=9).map(|v| v as f32).collect()));
    }

    #[test]
    fn reopen_cuts_back_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.npy");
        let mut f = RowFile::create(&p, &[2, 2]).unwrap();
        f.append(&[0.0; 12]).unwrap();
        drop(f);
        // a torn write: half a row more
        let mut raw = OpenOptions::new().append(true).open(&p).unwrap();
        raw.write_all(&[0u8; 8]).unwrap();
        assert_eq!(RowFile::whole_rows(&p, &[2, 2]).unwrap(), 3);
        assert!(RowFile::reopen(&p, &[2, 2], 4).is_err());
        let mut f = RowFile::reopen(&p, &[2, 2], 2).unwrap();
        f.append(&[7.0; 4]).unwrap();
        f.finish().unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![3, 2, 2]);
        assert_eq!(a.to_f32()[8..], [7.0; 4]);
    }

    #[test]
    fn an_unfinished_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.npy");
        RowFile::create(&p, &[1568, 384]).unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![0, 1568, 384]);
    }
}
