//! The kit's frames: every `.npy` of a folder, each (N,H,W,3) uint8 RGB (`marlin decode`'s
//! output), in name order.

use std::path::Path;

use anyhow::{Context, bail};
use marlin_kernels::cuda::Frames;
use marlin_npy::Data;

/// Every frame set in `dir`; an error naming the folder or file when one is missing or not
/// frames.
pub fn read(dir: &Path) -> anyhow::Result<Vec<Frames>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| {
            format!("{}: the inputs folder (tools/gpu_check.sh build writes it; --inputs names another)", dir.display())
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .npy frames (tools/gpu_check.sh build writes them)", dir.display());
    }
    files.iter().map(|f| frames(f)).collect()
}

fn frames(path: &Path) -> anyhow::Result<Frames> {
    let array = marlin_npy::read(path)?;
    let (Data::U8(rgb), &[count, height, width, 3]) = (array.data, array.shape.as_slice()) else {
        bail!("{}: not (N,H,W,3) uint8 RGB frames (shape {:?})", path.display(), array.shape);
    };
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Frames::new(name, rgb, count, width, height)?)
}

/// One line: how many frames of what size, from where.
pub fn describe(frames: &[Frames], dir: &Path) -> String {
    let sets: Vec<String> =
        frames.iter().map(|f| format!("{} ({} × {}×{})", f.name, f.count, f.width, f.height)).collect();
    format!("frames from {}: {}", dir.display(), sets.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_files_are_read_in_name_order_and_others_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        marlin_npy::write_atomic(&tmp.path().join("b.npy"), &marlin_npy::encode_u8(&[1, 2, 3, 3], &[7; 18])).unwrap();
        marlin_npy::write_atomic(&tmp.path().join("a.npy"), &marlin_npy::encode_u8(&[2, 1, 1, 3], &[1; 6])).unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "not frames").unwrap();
        let sets = read(tmp.path()).unwrap();
        let shapes: Vec<(&str, usize, usize, usize)> =
            sets.iter().map(|f| (f.name.as_str(), f.count, f.width, f.height)).collect();
        assert_eq!(shapes, [("a.npy", 2, 1, 1), ("b.npy", 1, 3, 2)]);
        assert!(describe(&sets, tmp.path()).ends_with("a.npy (2 × 1×1), b.npy (1 × 3×2)"));

        marlin_npy::write_f32(tmp.path().join("c.npy"), &[1, 1, 1, 3], &[0.0; 3]).unwrap();
        let err = read(tmp.path()).err().unwrap().to_string();
        assert!(err.contains("c.npy: not (N,H,W,3) uint8 RGB frames"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        assert!(read(empty.path()).err().unwrap().to_string().contains("no .npy frames"));
        assert!(read(&empty.path().join("missing")).err().unwrap().to_string().contains("the inputs folder"));
    }
}
