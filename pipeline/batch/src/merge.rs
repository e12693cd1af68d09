//! `marlin merge DIR`: joins the finished shards `DIR/shard-<I>-of-<N>/` into `DIR/features.npy`,
//! `DIR/clips.csv`, `DIR/failures.csv` and `DIR/manifest.json` (and `DIR/videos/` for the
//! per-video layout). The shards are only read.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use marlin_npy::RowFile;

use crate::BatchError;
use crate::journal::{Journal, Record};
use crate::manifest::{Counts, Manifest, Timings};
use crate::shard::Shard;
use crate::tables::{read_failures, write_clips, write_failures};

/// Merges the shards under `dir`; returns the merged counts.
pub fn merge(dir: &Path) -> Result<Counts, BatchError> {
    let shards = find_shards(dir)?;
    let mut identity = None;
    let mut records: Vec<Record> = Vec::new();
    let mut failures = Vec::new();
    let mut manifests = Vec::new();
    for (shard, path) in &shards {
        let manifest = Manifest::read(&path.join("manifest.json")).map_err(|e| {
            BatchError::Output(format!("shard {shard} is not finished ({e}): run it (again) with --resume"))
        })?;
        if !manifest.complete {
            return Err(BatchError::Output(format!(
                "shard {shard} ({}) is not complete: {} videos pending; rerun it with --resume",
                path.display(),
                manifest.counts.pending
            )));
        }
        let (id, rs) = Journal::read(path)?;
        match &identity {
            None => identity = Some(id),
            Some(first) if *first != id => {
                return Err(BatchError::Output(format!(
                    "shard {shard} ({}) was made with other settings or another model than shard {}",
                    path.display(),
                    shards[0].0
                )));
            }
            Some(_) => {}
        }
        records.extend(rs);
        failures.extend(read_failures(&path.join("failures.csv"))?);
        manifests.push(manifest);
    }
    let identity = identity
        .ok_or_else(|| BatchError::Output(format!("{}: no shard-<I>-of-<N> folders to merge", dir.display())))?;

    let expected: u64 = records.iter().map(|r| r.rows() as u64).sum();
    let listed: u64 = manifests.iter().map(|m| m.counts.rows).sum();
    if listed != expected {
        return Err(BatchError::Output(format!(
            "the shards' manifests count {listed} rows but their journals list {expected}"
        )));
    }
    // every shard's features checked before anything is written
    for ((shard, path), manifest) in shards.iter().zip(&manifests) {
        check_rows(&path.join("features.npy"), &identity.row_shape, manifest.counts.rows)
            .map_err(|e| BatchError::Output(format!("shard {shard}: {e}")))?;
    }
    let part = dir.join("features.npy.part");
    let mut out = RowFile::create(&part, &identity.row_shape)?;
    let written = (|| {
        for ((shard, path), manifest) in shards.iter().zip(&manifests) {
            copy_rows(&path.join("features.npy"), &mut out, manifest.counts.rows)
                .map_err(|e| BatchError::Output(format!("shard {shard}: {e}")))?;
            let videos = path.join("videos");
            if videos.is_dir() {
                copy_tree(&videos, &dir.join("videos"))?;
            }
        }
        write_clips(&dir.join("clips.csv"), &records)?;
        write_failures(&dir.join("failures.csv"), &failures)?;
        Ok(out.rows())
    })();
    let rows = match written.and_then(|rows| out.finish().map(|()| rows).map_err(BatchError::from)) {
        Ok(rows) => rows,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    let final_path = dir.join("features.npy");
    std::fs::rename(&part, &final_path).map_err(|source| BatchError::Io { path: final_path, source })?;

    let sum = |f: fn(&Counts) -> u64| manifests.iter().map(|m| f(&m.counts)).sum::<u64>();
    let counts = Counts {
        videos: sum(|c| c.videos),
        done: sum(|c| c.done),
        failed: sum(|c| c.failed),
        pending: 0,
        rows,
        frames_decoded: sum(|c| c.frames_decoded),
    };
    let mut merged = manifests[0].clone();
    merged.shard = None;
    merged.counts = counts;
    merged.decoders.clear();
    merged.colour_paths.clear();
    merged.tally(&records);
    merged.engines = manifests
        .iter()
        .flat_map(|m| m.engines.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let wall_s = manifests.iter().map(|m| m.timings.wall_s).fold(0.0, f64::max);
    let sum = |f: fn(&Timings) -> f64| manifests.iter().map(|m| f(&m.timings)).sum();
    merged.timings = Timings {
        wall_s,
        encode_s: sum(|t| t.encode_s),
        clips_per_s: rows as f64 / wall_s.max(1e-9),
        encoder_wait_s: sum(|t| t.encoder_wait_s),
        workers: manifests.iter().map(|m| m.timings.workers).sum(),
        decode_s: sum(|t| t.decode_s),
        faces_s: sum(|t| t.faces_s),
        workers_wait_s: sum(|t| t.workers_wait_s),
    };
    merged.write(&dir.join("manifest.json"))?;
    Ok(counts)
}

/// The `shard-<I>-of-<N>` folders under `dir`, by index; all N must be there.
fn find_shards(dir: &Path) -> Result<Vec<(Shard, PathBuf)>, BatchError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BatchError::Io { path: dir.into(), source })?;
    let mut shards: Vec<(Shard, PathBuf)> = Vec::new();
    for e in entries {
        let e = e.map_err(|source| BatchError::Io { path: dir.into(), source })?;
        if let Some(s) = Shard::from_dir_name(&e.file_name().to_string_lossy())
            && e.path().is_dir()
        {
            shards.push((s, e.path()));
        }
    }
    shards.sort_by_key(|(s, _)| (s.count, s.index));
    let Some(count) = shards.first().map(|(s, _)| s.count) else {
        return Err(BatchError::Output(format!("{}: no shard-<I>-of-<N> folders to merge", dir.display())));
    };
    if shards.iter().any(|(s, _)| s.count != count) {
        return Err(BatchError::Output(format!("{}: shards of different counts (N) side by side", dir.display())));
    }
    let missing: Vec<String> =
        (0..count).filter(|i| !shards.iter().any(|(s, _)| s.index == *i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(BatchError::Output(format!(
            "{}: shard(s) {} of {count} missing",
            dir.display(),
            missing.join(", ")
        )));
    }
    Ok(shards)
}

/// Checks that the `.npy` at `path` holds `rows` float32 rows of `row_shape`, all there (a
/// file cut short is named, not found out halfway through a copy); returns its header.
fn check_rows(path: &Path, row_shape: &[usize], rows: u64) -> Result<marlin_npy::Header, BatchError> {
    let header = marlin_npy::read_header(path)?;
    let shape: Vec<usize> = std::iter::once(rows as usize).chain(row_shape.iter().copied()).collect();
    if header.descr != "<f4" || header.shape != shape {
        return Err(BatchError::Output(format!(
            "{}: holds {} {:?}, expected float32 {shape:?}",
            path.display(),
            header.descr,
            header.shape
        )));
    }
    let io = |source| BatchError::Io { path: path.into(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    let need =
        (header.data_offset as u64).saturating_add(rows.saturating_mul(row_shape.iter().product::<usize>() as u64 * 4));
    if len < need {
        return Err(BatchError::Output(format!(
            "{}: truncated: {len} bytes, its {rows} rows need {need}",
            path.display()
        )));
    }
    Ok(header)
}

/// Appends the rows of the `.npy` at `path` (which must hold `rows` rows of `out`'s shape).
fn copy_rows(path: &Path, out: &mut RowFile, rows: u64) -> Result<(), BatchError> {
    let header = check_rows(path, out.row_shape(), rows)?;
    let io = |source| BatchError::Io { path: path.into(), source };
    let mut f = marlin_npy::open_input(path).map_err(io)?;
    f.seek(SeekFrom::Start(header.data_offset as u64)).map_err(io)?;
    let row_bytes = header.shape[1..].iter().product::<usize>() * 4;
    let chunk_rows = ((16 << 20) / row_bytes.max(1)).max(1);
    let mut left = rows as usize;
    let mut buf = vec![0u8; chunk_rows * row_bytes];
    while left > 0 {
        let n = left.min(chunk_rows);
        f.read_exact(&mut buf[..n * row_bytes]).map_err(io)?;
        out.append_le_bytes(&buf[..n * row_bytes])?;
        left -= n;
    }
    Ok(())
}

/// Copies the files under `from` into `to`, keeping relative paths.
fn copy_tree(from: &Path, to: &Path) -> Result<(), BatchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BatchError::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in std::fs::read_dir(from).map_err(io(from))? {
        let e = e.map_err(io(from))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(&dst))?;
        }
    }
    Ok(())
}
