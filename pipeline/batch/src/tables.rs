//! The run's CSV tables, rendered from the journal: `clips.csv` (one line per row of
//! `features.npy`, in the same order) and `failures.csv` (video_id, path, error).

use std::collections::HashSet;
use std::path::Path;

use crate::BatchError;
use crate::inputs::escaped;
use crate::journal::{Record, RowMeta};

/// `clips.csv`'s own columns, before and after the carried manifest columns.
const LEADING: [&str; 5] = ["row", "video_id", "path", "label", "split"];
const TRAILING: [&str; 13] = [
    "clip_index",
    "track_id",
    "first_frame",
    "last_frame",
    "start_s",
    "end_s",
    "face_frames",
    "face_x1",
    "face_y1",
    "face_x2",
    "face_y2",
    "face_score",
    "frames_in_video",
];

/// A failed video.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub video_id: String,
    pub path: String,
    pub error: String,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> BatchError + '_ {
    move |e| BatchError::Output(format!("{}: {e}", path.display()))
}

/// Renders `clips.csv` for the `Done` records, rows numbered from 0 in record order, and
/// writes it atomically. Manifest columns are carried in first-seen order; one named like an
/// own column is written as `input_<name>`.
pub fn write_clips(path: &Path, records: &[Record]) -> Result<(), BatchError> {
    let mut carried: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for r in records {
        for k in r.video().extra.keys() {
            if seen.insert(k.clone()) {
                carried.push(k.clone());
            }
        }
    }
    let own: HashSet<&str> = LEADING.iter().chain(&TRAILING).copied().collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = LEADING
        .iter()
        .map(|s| s.to_string())
        .chain(carried.iter().map(|c| if own.contains(c.as_str()) { format!("input_{c}") } else { c.clone() }))
        .chain(TRAILING.iter().map(|s| s.to_string()));
    out.write_record(header).map_err(csv_error(path))?;
    let mut row = 0usize;
    for r in records {
        let Record::Done { video, rows, frames, .. } = r else { continue };
        for m in rows {
            let RowMeta { clip, track, first_frame, last_frame, start_s, end_s, face_frames, face_box, face_score } = m;
            let b = |k: usize| face_box.map_or_else(String::new, |b| format!("{:.2}", b[k]));
            let mut fields = vec![
                row.to_string(),
                video.id.clone(),
                escaped(video.path.as_os_str()),
                video.label.clone(),
                video.split.clone(),
            ];
            fields.extend(carried.iter().map(|c| video.extra.get(c).cloned().unwrap_or_default()));
            fields.extend([
                clip.to_string(),
                opt(*track),
                first_frame.to_string(),
                last_frame.to_string(),
                start_s.map_or_else(String::new, |t| format!("{t:.3}")),
                end_s.map_or_else(String::new, |t| format!("{t:.3}")),
                opt(*face_frames),
                b(0),
                b(1),
                b(2),
                b(3),
                face_score.map_or_else(String::new, |s| format!("{s:.4}")),
                frames.to_string(),
            ]);
            out.write_record(&fields).map_err(csv_error(path))?;
            row += 1;
        }
    }
    let bytes = out.into_inner().map_err(|e| BatchError::Output(format!("{}: {e}", path.display())))?;
    Ok(marlin_npy::write_atomic(path, &bytes)?)
}

/// Writes `failures.csv` atomically.
pub fn write_failures(path: &Path, failures: &[Failure]) -> Result<(), BatchError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["video_id", "path", "error"]).map_err(csv_error(path))?;
    for f in failures {
        out.write_record([&f.video_id, &f.path, &f.error]).map_err(csv_error(path))?;
    }
    let bytes = out.into_inner().map_err(|e| BatchError::Output(format!("{}: {e}", path.display())))?;
    Ok(marlin_npy::write_atomic(path, &bytes)?)
}

/// A CSV table as written: its header and its rows, every field as text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Reads a table this crate wrote (`clips.csv`, `failures.csv`).
pub fn read_table(path: &Path) -> Result<Table, BatchError> {
    let mut reader = csv::Reader::from_path(path).map_err(csv_error(path))?;
    let columns = reader.headers().map_err(csv_error(path))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for r in reader.records() {
        rows.push(r.map_err(csv_error(path))?.iter().map(str::to_string).collect());
    }
    Ok(Table { columns, rows })
}

/// Reads a `failures.csv`.
pub fn read_failures(path: &Path) -> Result<Vec<Failure>, BatchError> {
    let file = marlin_npy::open_input(path).map_err(|source| BatchError::Io { path: path.into(), source })?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    let mut out = Vec::new();
    for r in reader.records() {
        let r = r.map_err(csv_error(path))?;
        let f = |k: usize| r.get(k).unwrap_or("").to_string();
        out.push(Failure { video_id: f(0), path: f(1), error: f(2) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::journal::VideoMeta;

    #[test]
    fn clips_csv_numbers_rows_and_carries_columns() {
        let meta = |id: &str, extra: &[(&str, &str)]| VideoMeta {
            id: id.into(),
            path: format!("/d/{id}.mp4").into(),
            label: "fake".into(),
            split: "train".into(),
            extra: extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        };
        let row = |clip| RowMeta {
            clip,
            track: Some(2),
            first_frame: 32,
            last_frame: 62,
            start_s: Some(1.28),
            end_s: Some(2.52),
            face_frames: Some(16),
            face_box: Some([1.0, 2.0, 3.0, 4.5]),
            face_score: Some(0.99),
        };
        let records = vec![
            Record::Done {
                video: meta("a, b", &[("fold", "1"), ("row", "x")]),
                rows: vec![row(0), row(1)],
                frames: 100,
                decoder: None,
                colour: None,
            },
            Record::Failed { video: meta("bad", &[]), error: "truncated".into() },
            Record::Done {
                video: meta("c", &[("fold", "2")]),
                rows: vec![row(0)],
                frames: 40,
                decoder: None,
                colour: None,
            },
        ];
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("clips.csv");
        write_clips(&p, &records).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "row,video_id,path,label,split,fold,input_row,clip_index,track_id,first_frame,last_frame,start_s,end_s,face_frames,face_x1,face_y1,face_x2,face_y2,face_score,frames_in_video"
        );
        assert_eq!(
            lines[1],
            "0,\"a, b\",\"/d/a, b.mp4\",fake,train,1,x,0,2,32,62,1.280,2.520,16,1.00,2.00,3.00,4.50,0.9900,100"
        );
        assert!(lines[3].starts_with("2,c,/d/c.mp4,fake,train,2,,0,"), "{}", lines[3]);
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn failures_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("failures.csv");
        let f = vec![Failure {
            video_id: "x".into(),
            path: "/a/x.mp4".into(),
            error: "bad \"moov\", truncated\nsecond line".into(),
        }];
        write_failures(&p, &f).unwrap();
        assert_eq!(read_failures(&p).unwrap(), f);
    }
}
