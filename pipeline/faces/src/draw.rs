//! Drawing onto RGB frames so a person can check them: detections (box outlines, the 5
//! landmarks, the track id) and short labels, in a small built-in 3×5 font (digits, A–Z, a little punctuation).

use crate::retinaface::Detection;

/// 3×5 bitmaps of the digits 0–9, one row per 3 bits (most significant = leftmost).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// 3×5 bitmaps of the letters A–Z.
const LETTERS: [[u8; 5]; 26] = [
    [2, 5, 7, 5, 5], // A
    [6, 5, 6, 5, 6], // B
    [3, 4, 4, 4, 3], // C
    [6, 5, 5, 5, 6], // D
    [7, 4, 6, 4, 7], // E
    [7, 4, 6, 4, 4], // F
    [3, 4, 5, 5, 3], // G
    [5, 5, 7, 5, 5], // H
    [7, 2, 2, 2, 7], // I
    [1, 1, 1, 5, 2], // J
    [5, 5, 6, 5, 5], // K
    [4, 4, 4, 4, 7], // L
    [5, 7, 7, 5, 5], // M
    [6, 5, 5, 5, 5], // N
    [2, 5, 5, 5, 2], // O
    [6, 5, 6, 4, 4], // P
    [2, 5, 5, 6, 3], // Q
    [6, 5, 6, 5, 5], // R
    [3, 4, 2, 1, 6], // S
    [7, 2, 2, 2, 2], // T
    [5, 5, 5, 5, 7], // U
    [5, 5, 5, 5, 2], // V
    [5, 5, 7, 7, 5], // W
    [5, 5, 2, 5, 5], // X
    [5, 5, 2, 2, 2], // Y
    [7, 1, 2, 4, 7], // Z
];

/// The glyph of a character: digits, letters (either case) and `. - : /`; anything else is
/// blank.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0'..='9' => DIGITS[ch as usize - '0' as usize],
        'a'..='z' => LETTERS[ch as usize - 'a' as usize],
        'A'..='Z' => LETTERS[ch as usize - 'A' as usize],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        ':' => [0, 2, 0, 2, 0],
        '/' => [1, 1, 2, 4, 4],
        _ => [0; 5],
    }
}

/// A colour per track, cycling.
const COLOURS: [[u8; 3]; 6] = [[0, 255, 0], [255, 64, 64], [64, 160, 255], [255, 220, 0], [255, 0, 255], [0, 255, 255]];

/// An RGB frame to draw on.
pub struct Canvas<'a> {
    pub pixels: &'a mut [u8],
    pub width: usize,
    pub height: usize,
}

impl Canvas<'_> {
    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The rectangle `[x0, x1) × [y0, y1)`, clipped to the frame.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.put(x, y, c);
            }
        }
    }

    /// A 2-pixel line from `a` to `b`, clipped to the frame.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), c: [u8; 3]) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                self.put(x.round() as i64 + dx, y.round() as i64 + dy, c);
            }
        }
    }

    /// Box outline, landmark dots and the track id above the box's top-left corner.
    pub fn face(&mut self, d: &Detection, track: u64) {
        let c = COLOURS[(track % COLOURS.len() as u64) as usize];
        let t = ((self.width.max(self.height) / 400).max(1)) as i64;
        let (x1, y1, x2, y2) = (d.x1.round() as i64, d.y1.round() as i64, d.x2.round() as i64, d.y2.round() as i64);
        self.fill(x1, y1, x2 + 1, y1 + t, c);
        self.fill(x1, y2 + 1 - t, x2 + 1, y2 + 1, c);
        self.fill(x1, y1, x1 + t, y2 + 1, c);
        self.fill(x2 + 1 - t, y1, x2 + 1, y2 + 1, c);
        for [lx, ly] in d.landmarks {
            let (lx, ly) = (lx.round() as i64, ly.round() as i64);
            self.fill(lx - t, ly - t, lx + t + 1, ly + t + 1, c);
        }
        let scale = 2 * t;
        self.text(&track.to_string(), x1, y1 - 6 * scale - t, scale, c);
    }

    /// `text` with its top-left corner at (x, y), each font pixel `scale` pixels square.
    pub fn text(&mut self, text: &str, x: i64, y: i64, scale: i64, c: [u8; 3]) {
        for (k, ch) in text.chars().enumerate() {
            let x0 = x + k as i64 * 4 * scale;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..3 {
                    if bits >> (2 - col) & 1 == 1 {
                        let (px, py) = (x0 + col * scale, y + row as i64 * scale);
                        self.fill(px, py, px + scale, py + scale, c);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inside_the_frame_only() {
        let (w, h) = (40, 30);
        let mut px = vec![0u8; w * h * 3];
        let d = Detection { x1: 5.0, y1: 12.0, x2: 50.0, y2: 25.0, score: 0.9, landmarks: [[10.0, 15.0]; 5] };
        Canvas { pixels: &mut px, width: w, height: h }.face(&d, 7);
        let at = |x: usize, y: usize| &px[(y * w + x) * 3..(y * w + x) * 3 + 3];
        assert_eq!(at(5, 12), [255, 64, 64]); // box corner in track 7's colour (7 mod 6 = 1)
        assert_eq!(at(10, 15), [255, 64, 64]); // landmark
        assert_eq!(at(20, 18), [0, 0, 0]); // inside the box: untouched
        assert_eq!(at(5, 0), [255, 64, 64]); // the digit 7's top row (scaled ×2, just above the box)
        assert_eq!(at(5, 2), [0, 0, 0]); // its second row lights only the right column
    }

    #[test]
    fn labels_use_letters_and_digits() {
        let (w, h) = (12, 5);
        let mut px = vec![0u8; w * h * 3];
        Canvas { pixels: &mut px, width: w, height: h }.text("L1 ", 0, 0, 1, [9, 9, 9]);
        let lit: Vec<String> =
            (0..h).map(|y| (0..w).map(|x| if px[(y * w + x) * 3] == 9 { '#' } else { '.' }).collect()).collect();
        assert_eq!(lit, ["#....#......", "#...##......", "#....#......", "#....#......", "###.###....."]);
    }
}
