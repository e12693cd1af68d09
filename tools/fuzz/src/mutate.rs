//! The mutator: a few random edits of a seed file, reproducible from one 64-bit number.
//!
//! Edits are those a damaged or hostile file shows: bits flipped, bytes and integers set to
//! boundary values (0, −1, 2³¹, 2⁶³ …, either byte order), numbers in text replaced by huge,
//! negative or non-finite ones, ranges deleted, duplicated or spliced in from another seed,
//! format tokens inserted, the file cut. Half the edits land in the first or last 4 KiB, where
//! formats keep their headers and indexes (a zip's central directory, a safetensors header, an
//! `.npy` header, a pickle's opcodes); the rest anywhere.

/// SplitMix64: small, fast, and every case's stream follows from one number.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// The largest input produced: the allocation cap is a multiple of it.
pub const MAX_INPUT: usize = 4 << 20;

/// Integers at the edges of what sizes, counts and offsets hold.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

/// Numbers as text formats write them, out of every range.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"-0",
    b"1e308",
    b"1e999",
    b"-1e999",
    b"NaN",
    b".nan",
    b".inf",
    b"-.inf",
    b"inf",
    b"nan",
    b"4294967296",
    b"18446744073709551616",
    b"9223372036854775807",
    b"99999999999999999999999999",
    b"0.0000001",
    b"1000000000000",
    b"0x7fffffff",
];

/// A position in `0..=len` (or `0..len` with `inside`), biased towards the ends.
fn position(rng: &mut Rng, len: usize, inside: bool) -> usize {
    let n = if inside { len } else { len + 1 };
    if n == 0 {
        return 0;
    }
    let edge = n.min(4096);
    match rng.below(3) {
        0 => rng.below(edge),
        1 => n - edge + rng.below(edge),
        _ => rng.below(n),
    }
}

/// A length for a range edit: mostly short, sometimes large.
fn span(rng: &mut Rng, max: usize) -> usize {
    if max == 0 {
        return 0;
    }
    let n = if rng.chance(8) { rng.below(max) + 1 } else { rng.below(max.min(64)) + 1 };
    n.min(max)
}

/// One mutated copy of a seed: 1 to 8 edits (fewer more often).
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    let most = rng.below(8) + 1;
    let edits = 1 + rng.below(most);
    for _ in 0..edits {
        edit(rng, &mut data, seeds, dictionary);
    }
    data.truncate(MAX_INPUT);
    data
}

fn edit(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>], dictionary: &[&[u8]]) {
    let len = data.len();
    match rng.below(14) {
        0 if len > 0 => {
            let at = position(rng, len, true);
            data[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = position(rng, len, true);
            data[at] = rng.next() as u8;
        }
        2 if len > 0 => {
            let at = position(rng, len, true);
            data[at] = INTERESTING[rng.below(8)] as u8;
        }
        3 if len > 0 => {
            // an integer of 2, 4 or 8 bytes, either byte order
            let width = [2, 4, 8][rng.below(3)];
            let v = INTERESTING[rng.below(INTERESTING.len())];
            let v = if rng.chance(2) { v } else { v.wrapping_neg() };
            let bytes = if rng.chance(2) { v.to_le_bytes() } else { v.to_be_bytes() };
            let bytes = if bytes[0] == 0 && rng.chance(2) { &bytes[8 - width..] } else { &bytes[..width] };
            let at = position(rng, len, true);
            let end = (at + width).min(len);
            data[at..end].copy_from_slice(&bytes[..end - at]);
        }
        4 if len > 0 => {
            // a small change to a byte, as a count off by a few
            let at = position(rng, len, true);
            let delta = rng.below(33) as u8;
            data[at] = if rng.chance(2) { data[at].wrapping_add(delta) } else { data[at].wrapping_sub(delta) };
        }
        5 if len > 0 => {
            let at = position(rng, len, true);
            let n = span(rng, len - at);
            data.drain(at..at + n);
        }
        6 => {
            let at = position(rng, len, false);
            let n = span(rng, 256);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        7 if len > 0 => {
            // a range repeated elsewhere (a chunk, an entry, a line)
            let from = position(rng, len, true);
            let n = span(rng, len - from);
            let chunk = data[from..from + n].to_vec();
            let at = position(rng, len, false);
            if rng.chance(2) {
                data.splice(at..at, chunk);
            } else {
                let end = (at + n).min(len);
                data[at..end].copy_from_slice(&chunk[..end - at]);
            }
        }
        8 => {
            // a piece of another seed
            let other = &seeds[rng.below(seeds.len())];
            if !other.is_empty() {
                let from = position(rng, other.len(), true);
                let n = span(rng, other.len() - from);
                let at = position(rng, len, false);
                let end = if rng.chance(2) { at } else { (at + n).min(len) };
                data.splice(at..end, other[from..from + n].iter().copied());
            }
        }
        9 if !dictionary.is_empty() => {
            let token = dictionary[rng.below(dictionary.len())];
            let at = position(rng, len, false);
            if rng.chance(2) {
                data.splice(at..at, token.iter().copied());
            } else {
                let end = (at + token.len()).min(len);
                data.splice(at..end, token.iter().copied());
            }
        }
        10 => {
            // a number in text replaced
            if let Some((start, end)) = number_at(data, position(rng, len, false)) {
                let n = NUMBERS[rng.below(NUMBERS.len())];
                data.splice(start..end, n.iter().copied());
            }
        }
        11 if len > 0 => data.truncate(position(rng, len, true)),
        12 if len > 0 => {
            // a run of one byte (zeros or spaces), as a file padded or overwritten
            let at = position(rng, len, true);
            let n = span(rng, len - at);
            let b = [0u8, b' ', 0xff, b'\n'][rng.below(4)];
            data[at..at + n].fill(b);
        }
        13 if len > 1 => {
            // two ranges swapped
            let (a, b) = (position(rng, len, true), position(rng, len, true));
            let (lo, hi) = (a.min(b), a.max(b));
            let n = span(rng, (hi - lo).min(len - hi));
            let (left, right) = data.split_at_mut(hi);
            left[lo..lo + n].swap_with_slice(&mut right[..n]);
        }
        _ => {}
    }
}

/// The run of digits (with sign, point, exponent) at or after `from`.
fn number_at(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let is_num = |b: u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
    let start = (from..data.len()).find(|&i| data[i].is_ascii_digit())?;
    let start = (0..start).rev().take_while(|&i| is_num(data[i])).last().unwrap_or(start);
    let end = (start..data.len()).find(|&i| !is_num(data[i])).unwrap_or(data.len());
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_number_gives_the_same_input() {
        let seeds = vec![b"img_size: 224\npatch_size: 16\n".to_vec(), vec![0u8; 5000]];
        let a: Vec<Vec<u8>> = (0..200).map(|c| mutate(&mut Rng::new(c), &seeds, &[b"~"])).collect();
        let b: Vec<Vec<u8>> = (0..200).map(|c| mutate(&mut Rng::new(c), &seeds, &[b"~"])).collect();
        assert_eq!(a, b);
        assert!(a.iter().filter(|x| !seeds.contains(x)).count() > 150, "most cases change the seed");
    }

    #[test]
    fn numbers_in_text_are_found() {
        assert_eq!(number_at(b"a: -12.5e3\n", 0), Some((3, 10)));
        assert_eq!(number_at(b"none", 0), None);
    }
}
