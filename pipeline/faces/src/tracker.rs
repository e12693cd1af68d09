//! A small IoU tracker: detections of consecutive frames linked into tracks with stable ids.
//!
//! Each frame's detections are matched greedily (highest IoU first) to the tracks seen in the
//! last `max_gap` frames, at IoU ≥ `min_iou`; unmatched detections start new tracks.

use crate::retinaface::Detection;

/// Links detections across frames.
#[derive(Debug)]
pub struct Tracker {
    min_iou: f32,
    max_gap: u64,
    next_id: u64,
    /// (id, last box, frame last seen)
    tracks: Vec<(u64, Detection, u64)>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(0.3, 15)
    }
}

/// Intersection over union of two boxes (continuous coordinates).
pub fn iou(a: &Detection, b: &Detection) -> f32 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = iw * ih;
    let area = |d: &Detection| (d.x2 - d.x1).max(0.0) * (d.y2 - d.y1).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

impl Tracker {
    pub fn new(min_iou: f32, max_gap: u64) -> Self {
        Self { min_iou, max_gap, next_id: 0, tracks: Vec::new() }
    }

    /// Whether track `id` is still followed (seen within the last `max_gap` frames).
    pub fn is_active(&self, id: u64) -> bool {
        self.tracks.iter().any(|t| t.0 == id)
    }

    /// Track ids for `detections` of frame `frame` (frames in increasing order), same order.
    pub fn update(&mut self, frame: u64, detections: &[Detection]) -> Vec<u64> {
        self.tracks.retain(|t| frame.saturating_sub(t.2) <= self.max_gap);
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (d, det) in detections.iter().enumerate() {
            for (t, track) in self.tracks.iter().enumerate() {
                let v = iou(det, &track.1);
                if v >= self.min_iou {
                    pairs.push((v, d, t));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut ids = vec![None; detections.len()];
        let mut used = vec![false; self.tracks.len()];
        for (_, d, t) in pairs {
            if ids[d].is_none() && !used[t] {
                ids[d] = Some(self.tracks[t].0);
                used[t] = true;
                self.tracks[t].1 = detections[d].clone();
                self.tracks[t].2 = frame;
            }
        }
        ids.into_iter()
            .enumerate()
            .map(|(d, id)| {
                id.unwrap_or_else(|| {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.tracks.push((id, detections[d].clone(), frame));
                    id
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32) -> Detection {
        Detection { x1: x, y1: y, x2: x + 50.0, y2: y + 60.0, score: 0.9, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn ids_follow_moving_faces_and_new_faces_get_new_ids() {
        let mut t = Tracker::default();
        assert_eq!(t.update(0, &[det(0.0, 0.0), det(200.0, 0.0)]), vec![0, 1]);
        // Both moved a little, listed in the other order.
        assert_eq!(t.update(1, &[det(205.0, 3.0), det(4.0, 2.0)]), vec![1, 0]);
        // A third face appears; face 1 is missing for a frame.
        assert_eq!(t.update(2, &[det(6.0, 2.0), det(400.0, 100.0)]), vec![0, 2]);
        assert_eq!(t.update(3, &[det(208.0, 4.0)]), vec![1]);
        // After a long gap a face at an old place is a new track.
        assert_eq!(t.update(100, &[det(6.0, 2.0)]), vec![3]);
    }
}
