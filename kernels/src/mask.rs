//! MAE token masks and the gather/scatter of tokens by mask (`mask`'s CPU twin).
//!
//! Masks follow MARLIN's pre-training data (`dataset/youtube_face.py`): `true` = visible. Each
//! strategy first marks a set of candidate tokens visible, then drops random candidates until
//! exactly `int(tokens · (1 − ratio))` stay visible (156 of 1568 at ratio 0.9):
//!
//! - `random`: every token is a candidate (VideoMAE's random masking);
//! - `tube`: `ceil(S² · (1 − ratio))` random positions of the first time step, the same positions
//!   in every time step (VideoMAE's tube masking);
//! - `frame`: every token of `ceil(T' · (1 − ratio))` random time steps;
//! - `fasking` (MARLIN's): per time step, from the face-parsing map of its first frame (LaPa
//!   labels), regions are made visible group by group — background, skin, then the five facial
//!   parts (right eye, left eye, nose, mouth, hair) in a random order — a patch becoming visible
//!   when any of its pixels has the label; it stops once at least `1 − ratio` of the step is
//!   visible. Facial parts are thus masked first. A step whose parsing map is empty is all
//!   visible.
//!
//! Where fewer candidates than the target exist (a parsing map with too few labelled pixels),
//! random masked tokens are added to reach it; the official code would fail there.
//!
//! Masks are generated on the host for both devices (a few thousand booleans); the gather and
//! scatter of tokens are the device kernels `gather_rows` / `scatter_rows`.

use crate::KernelError;
use crate::patchify::TubeletShape;

marlin_settings::named! {
    /// A masking rule (true = visible; exactly int(tokens·(1−ratio)) tokens stay visible).
    pub enum MaskStrategy: "mask", default Tube {
        /// Any tokens (VideoMAE).
        Random = "random",
        /// The same positions in every time step (VideoMAE).
        Tube = "tube",
        /// Whole time steps.
        Frame = "frame",
        /// MARLIN's face-guided masking, from face-parsing label maps.
        Fasking = "fasking",
    }
}

/// MARLIN's region groups, in LaPa labels, indexed as its `seg_groups`.
pub const REGION_GROUPS: [&[u8]; 7] = [
    &[2, 4],    // right eye
    &[3, 5],    // left eye
    &[6],       // nose
    &[7, 8, 9], // mouth
    &[10],      // hair
    &[1],       // skin
    &[0],       // background
];

/// Face-parsing label maps: one `side × side` u8 map per frame of the clip (LaPa labels).
#[derive(Debug, Clone, Copy)]
pub struct ParsingMaps<'a> {
    pub labels: &'a [u8],
    pub frames: usize,
}

/// The number of visible tokens a mask of `tokens` keeps at masking `ratio`.
pub fn visible_count(tokens: usize, ratio: f64) -> usize {
    (tokens as f64 * (1.0 - ratio)) as usize
}

/// A mask for one clip (`true` = visible), deterministic for `seed`.
pub fn generate(
    strategy: MaskStrategy,
    shape: TubeletShape,
    ratio: f64,
    seed: u64,
    parsing: Option<ParsingMaps<'_>>,
) -> Result<Vec<bool>, KernelError> {
    if !(0.0..1.0).contains(&ratio) {
        return Err(KernelError::Input(format!("the masking ratio must be in [0, 1), got {ratio}")));
    }
    let (steps, s) = (shape.frames / shape.tubelet, shape.side / shape.patch);
    let per_step = s * s;
    let keep = 1.0 - ratio;
    let mut rng = SplitMix64(seed);
    let mut mask = match strategy {
        MaskStrategy::Random => vec![true; steps * per_step],
        MaskStrategy::Tube => {
            let mut first = vec![true; per_step];
            drop_random(&mut first, (per_step as f64 * keep).ceil() as usize, &mut rng);
            first.repeat(steps)
        }
        MaskStrategy::Frame => {
            let mut frames = vec![true; steps];
            drop_random(&mut frames, (steps as f64 * keep).ceil() as usize, &mut rng);
            frames.iter().flat_map(|&v| std::iter::repeat_n(v, per_step)).collect()
        }
        MaskStrategy::Fasking => {
            let maps = parsing
                .ok_or_else(|| KernelError::Input("fasking needs face-parsing maps (LaPa labels per frame)".into()))?;
            let area = shape.side * shape.side;
            if maps.frames != shape.frames || maps.labels.len() != maps.frames * area {
                return Err(KernelError::Input(format!(
                    "face-parsing maps: expected {} frames of {}x{} labels, got {} values for {} frames",
                    shape.frames,
                    shape.side,
                    shape.side,
                    maps.labels.len(),
                    maps.frames
                )));
            }
            // background, skin, then the five parts in a random order (one order per clip)
            let mut parts = [0usize, 1, 2, 3, 4];
            shuffle(&mut parts, &mut rng);
            let order: Vec<usize> = [6, 5].into_iter().chain(parts).collect();
            let mut mask = Vec::with_capacity(steps * per_step);
            for t in 0..steps {
                let map = &maps.labels[t * shape.tubelet * area..][..area];
                mask.extend(fasking_step(map, shape, &order, keep));
            }
            mask
        }
    };
    let target = visible_count(mask.len(), ratio);
    let have = mask.iter().filter(|v| **v).count();
    if have >= target {
        drop_random(&mut mask, target, &mut rng);
    } else {
        add_random(&mut mask, target - have, &mut rng);
    }
    Ok(mask)
}

/// One time step of `fasking`: patches made visible region group by group in `order` until
/// at least `keep` of the step is visible.
fn fasking_step(map: &[u8], shape: TubeletShape, order: &[usize], keep: f64) -> Vec<bool> {
    let (s, p) = (shape.side / shape.patch, shape.patch);
    let mut visible = vec![false; s * s];
    let mut count = 0usize;
    for &group in order {
        for &label in REGION_GROUPS[group] {
            for (k, v) in visible.iter_mut().enumerate() {
                if !*v {
                    let (py, px) = (k / s, k % s);
                    let hit = (0..p).any(|dy| map[(py * p + dy) * shape.side + px * p..][..p].contains(&label));
                    if hit {
                        *v = true;
                        count += 1;
                    }
                }
            }
            if count as f64 / (s * s) as f64 >= keep {
                return visible;
            }
        }
    }
    visible
}

/// Keeps exactly `keep` of the `true` entries, chosen at random.
fn drop_random(mask: &mut [bool], keep: usize, rng: &mut SplitMix64) {
    let mut on: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
    shuffle(&mut on, rng);
    for &i in on.iter().skip(keep) {
        mask[i] = false;
    }
}

/// Turns `n` random `false` entries `true`.
fn add_random(mask: &mut [bool], n: usize, rng: &mut SplitMix64) {
    let mut off: Vec<usize> = (0..mask.len()).filter(|&i| !mask[i]).collect();
    shuffle(&mut off, rng);
    for &i in off.iter().take(n) {
        mask[i] = true;
    }
}

fn shuffle<T>(v: &mut [T], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// SplitMix64: small, seedable, the same on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift; the tiny bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// Indices of the `true` (visible) tokens, in token order.
pub fn visible_indices(mask: &[bool]) -> Vec<u32> {
    (0..mask.len() as u32).filter(|&i| mask[i as usize]).collect()
}

/// Indices of the `false` (masked) tokens, in token order.
pub fn masked_indices(mask: &[bool]) -> Vec<u32> {
    (0..mask.len() as u32).filter(|&i| !mask[i as usize]).collect()
}

/// `out[j] = src[indices[j]]`, rows of `dim` values.
pub fn gather_rows(src: &[f32], dim: usize, indices: &[u32], out: &mut [f32]) {
    assert_eq!(out.len(), indices.len() * dim, "gather_rows: output of the wrong size");
    for (o, &i) in out.chunks_exact_mut(dim).zip(indices) {
        o.copy_from_slice(&src[i as usize * dim..][..dim]);
    }
}

/// `out[indices[j]] = src[j]`, rows of `dim` values; other rows of `out` are left as they are.
pub fn scatter_rows(src: &[f32], dim: usize, indices: &[u32], out: &mut [f32]) {
    assert_eq!(src.len(), indices.len() * dim, "scatter_rows: input of the wrong size");
    for (s, &i) in src.chunks_exact(dim).zip(indices) {
        out[i as usize * dim..][..dim].copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: TubeletShape = TubeletShape::MARLIN;

    fn visible(m: &[bool]) -> usize {
        m.iter().filter(|v| **v).count()
    }

    #[test]
    fn every_strategy_keeps_exactly_the_target_and_is_deterministic() {
        let labels = face_like_parsing();
        let maps = ParsingMaps { labels: &labels, frames: 16 };
        for strategy in [MaskStrategy::Random, MaskStrategy::Tube, MaskStrategy::Frame, MaskStrategy::Fasking] {
            let a = generate(strategy, M, 0.9, 7, Some(maps)).unwrap();
            assert_eq!(a.len(), 1568);
            assert_eq!(visible(&a), 156, "{strategy:?}");
            assert_eq!(a, generate(strategy, M, 0.9, 7, Some(maps)).unwrap(), "{strategy:?}: same seed, same mask");
            assert_ne!(
                a,
                generate(strategy, M, 0.9, 8, Some(maps)).unwrap(),
                "{strategy:?}: another seed, another mask"
            );
        }
        assert_eq!(visible_count(1568, 0.75), 392);
    }

    #[test]
    fn tube_masks_repeat_across_time_and_frame_masks_cover_whole_steps() {
        let tube = generate(MaskStrategy::Tube, M, 0.9, 3, None).unwrap();
        // 20 positions per step before the global cut to 156: 4 of the 160 dropped
        let per_position: Vec<usize> = (0..196).map(|k| (0..8).filter(|t| tube[t * 196 + k]).count()).collect();
        assert_eq!(per_position.iter().filter(|c| **c > 0).count(), 20);
        assert_eq!(per_position.iter().sum::<usize>(), 156);
        let frame = generate(MaskStrategy::Frame, M, 0.9, 3, None).unwrap();
        let steps: Vec<usize> = (0..8).map(|t| visible(&frame[t * 196..(t + 1) * 196])).collect();
        assert_eq!(steps.iter().filter(|c| **c > 0).count(), 1, "{steps:?}");
    }

    /// A parsing map: background everywhere, a skin disc, eyes, nose and mouth inside it.
    fn face_like_parsing() -> Vec<u8> {
        let mut map = vec![0u8; 224 * 224];
        for y in 0..224usize {
            for x in 0..224usize {
                let (dx, dy) = (x as f64 - 112.0, y as f64 - 112.0);
                if dx * dx + dy * dy < 100.0 * 100.0 {
                    map[y * 224 + x] = 1;
                }
            }
        }
        let mut rect = |x0: usize, y0: usize, w: usize, h: usize, label: u8| {
            for y in y0..y0 + h {
                map[y * 224 + x0..y * 224 + x0 + w].fill(label);
            }
        };
        rect(70, 80, 30, 12, 4);
        rect(124, 80, 30, 12, 5);
        rect(104, 100, 16, 30, 6);
        rect(85, 150, 54, 16, 7);
        map.repeat(16)
    }

    #[test]
    fn fasking_shows_background_first_and_masks_the_face() {
        let labels = face_like_parsing();
        let mask =
            generate(MaskStrategy::Fasking, M, 0.9, 1, Some(ParsingMaps { labels: &labels, frames: 16 })).unwrap();
        // every visible token touches background (label 0): with this much background the
        // first group alone passes 10%, so no facial part is ever shown
        for k in visible_indices(&mask) {
            let (t, py, px) = (k as usize / 196, (k as usize % 196) / 14, k as usize % 14);
            let map = &labels[t * 2 * 224 * 224..];
            let touches_background = (0..16).any(|dy| (0..16).any(|dx| map[(py * 16 + dy) * 224 + px * 16 + dx] == 0));
            assert!(touches_background, "token {k}");
        }
        // a map with almost no background: skin comes next, then parts
        let mut tight = face_like_parsing();
        tight.iter_mut().for_each(|v| {
            if *v == 0 {
                *v = 1
            }
        });
        let order = [6, 5, 0, 1, 2, 3, 4];
        let step = fasking_step(&tight[..224 * 224], M, &order, 0.1);
        assert!(step.iter().all(|v| *v), "skin covers every patch: the step is all visible");
        let missing = generate(MaskStrategy::Fasking, M, 0.9, 1, None).unwrap_err();
        assert!(missing.to_string().contains("face-parsing"));
    }

    #[test]
    fn gather_then_scatter_restores_the_rows() {
        let dim = 3;
        let src: Vec<f32> = (0..10 * dim).map(|i| i as f32).collect();
        let mask: Vec<bool> = (0..10).map(|i| i % 3 == 0).collect();
        let idx = visible_indices(&mask);
        assert_eq!(idx, [0, 3, 6, 9]);
        let mut picked = vec![0f32; idx.len() * dim];
        gather_rows(&src, dim, &idx, &mut picked);
        assert_eq!(&picked[3..6], &[9.0, 10.0, 11.0]);
        let mut back = vec![-1f32; src.len()];
        scatter_rows(&picked, dim, &idx, &mut back);
        for (k, row) in back.chunks(dim).enumerate() {
            if mask[k] { assert_eq!(row, &src[k * dim..(k + 1) * dim]) } else { assert_eq!(row, &[-1.0; 3]) }
        }
        assert_eq!(masked_indices(&mask).len(), 6);
    }
}
