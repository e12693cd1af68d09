//! What the tests check the layers against: a direct convolution in f64 over NHWC values and
//! torch weights, pseudo-random data, and map helpers.

use super::layers::{Act, out_len};
use super::map::{LEFT, Map};

/// A map from `h × w × c` values, channels innermost (the reference's layout).
pub fn map_from_hwc(h: usize, w: usize, c: usize, hwc: &[f32]) -> Map {
    let mut m = Map::zeros(h, w, c);
    let pitch = m.pitch;
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                m.data[((y + 1) * c + ch) * pitch + LEFT + x] = hwc[(y * w + x) * c + ch];
            }
        }
    }
    m
}

/// Direct convolution over NHWC values and torch weights, in f64: the reference.
#[allow(clippy::too_many_arguments)]
pub fn reference(
    x: &[f32],
    (h, w, c): (usize, usize, usize),
    wt: &[f32],
    cout: usize,
    k: usize,
    s: usize,
    groups: usize,
    act: Act,
) -> Vec<f32> {
    let (oh, ow) = (out_len(h, k, s), out_len(w, k, s));
    let cin_g = c / groups;
    let pad = (k / 2) as isize;
    let mut y = vec![0f32; oh * ow * cout];
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..cout {
                let g = o / (cout / groups);
                let mut acc = 0.0f64;
                for ci in 0..cin_g {
                    for ky in 0..k {
                        for kx in 0..k {
                            let (iy, ix) = ((oy * s + ky) as isize - pad, (ox * s + kx) as isize - pad);
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                acc += x[(iy as usize * w + ix as usize) * c + g * cin_g + ci] as f64
                                    * wt[((o * cin_g + ci) * k + ky) * k + kx] as f64;
                            }
                        }
                    }
                }
                let v = acc as f32;
                y[(oy * ow + ox) * cout + o] = match act {
                    Act::None => v,
                    Act::Relu => v.max(0.0),
                    Act::Leaky(sl) => v.max(v * sl),
                };
            }
        }
    }
    y
}

pub fn pseudo(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
        .collect()
}

/// Largest difference between `got` (channels `c0..c0 + cout` of a map) and the NHWC `want`.
pub fn max_err(got: &Map, c0: usize, cout: usize, want: &[f32]) -> f32 {
    let mut err = 0.0f32;
    for y in 0..got.h {
        for x in 0..got.w {
            for o in 0..cout {
                err = err.max((got.at(y, c0 + o, x) - want[(y * got.w + x) * cout + o]).abs());
            }
        }
    }
    err
}

/// The padding the next layer reads is zero: the rows above and below, and the values just
/// before and after the pixels of every channel-row.
pub fn padding_is_zero(m: &Map) -> bool {
    let rs = m.row_stride();
    let rows = m.data[..rs].iter().chain(&m.data[(m.h + 1) * rs..(m.h + 2) * rs]).all(|&v| v == 0.0);
    rows && (m.c..(m.h + 1) * m.c)
        .all(|r| m.data[r * m.pitch + LEFT - 1] == 0.0 && m.data[r * m.pitch + LEFT + m.w] == 0.0)
}
