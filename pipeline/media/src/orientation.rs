//! The display rotation a container records (a phone video's rotation matrix, which GStreamer
//! reports as an `image-orientation` tag) and which frames it is applied to.
//!
//! Players, FFmpeg and OpenCV show such a video turned; PyAV (through torchvision's
//! `read_video`) does not. The official `extract_video` reads videos of at most 32 frames with
//! PyAV and longer ones with OpenCV, which turns each frame after its colour conversion: so its
//! frames are as stored or turned depending on the length, and turning the converted RGB frame
//! (as here) gives OpenCV's bytes.

use crate::RgbImage;

marlin_settings::named! {
    /// How the frames of a video with a display rotation come out.
    pub enum Orientation: "orientation", default Display {
        /// Turned as the container says to display them (as players, FFmpeg and OpenCV show them).
        Display = "display",
        /// As stored, the rotation ignored.
        Stored = "stored",
        /// As the official code sees them: clips of videos longer than two clip lengths (32
        /// frames, read with OpenCV) turned, shorter ones (read with PyAV) as stored. A lone
        /// [`VideoReader`](crate::VideoReader) gives the stored frames and the rotation
        /// ([`VideoReader::rotation`](crate::VideoReader::rotation)); [`VideoClips`](crate::VideoClips)
        /// applies the rule.
        Official = "official",
    }
}

/// A clockwise rotation by quarter turns (0–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation(pub u8);

impl Rotation {
    /// The rotation an `image-orientation` tag asks for (`rotate-90` …). Mirrored orientations
    /// (`flip-rotate-*`) are not applied: `None`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        Some(Rotation(match tag {
            "rotate-0" => 0,
            "rotate-90" => 1,
            "rotate-180" => 2,
            "rotate-270" => 3,
            _ => return None,
        }))
    }

    pub fn is_none(self) -> bool {
        self.0.is_multiple_of(4)
    }

    /// `image` turned clockwise by this rotation (a copy; the same image for none).
    pub fn apply(self, image: RgbImage) -> RgbImage {
        let turns = self.0 % 4;
        if turns == 0 {
            return image;
        }
        let (w, h) = (image.width as usize, image.height as usize);
        let (ow, oh) = if turns == 2 { (w, h) } else { (h, w) };
        let mut out = vec![0u8; image.data.len()];
        for oy in 0..oh {
            for ox in 0..ow {
                // the source pixel of output (ox, oy)
                let (x, y) = match turns {
                    1 => (oy, h - 1 - ox),
                    2 => (w - 1 - ox, h - 1 - oy),
                    _ => (w - 1 - oy, ox),
                };
                let (o, i) = ((oy * ow + ox) * 3, (y * w + x) * 3);
                out[o..o + 3].copy_from_slice(&image.data[i..i + 3]);
            }
        }
        RgbImage { width: ow as u32, height: oh as u32, data: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_turns_are_clockwise() {
        // 3×2: a b c / d e f
        let img = RgbImage::new(3, 2, (0..18).collect()).unwrap();
        let px = |im: &RgbImage| im.data.chunks(3).map(|p| p[0] / 3).collect::<Vec<_>>();
        assert_eq!(px(&img), [0, 1, 2, 3, 4, 5]);
        let r = Rotation(1).apply(img.clone());
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(px(&r), [3, 0, 4, 1, 5, 2]);
        assert_eq!(px(&Rotation(2).apply(img.clone())), [5, 4, 3, 2, 1, 0]);
        let r = Rotation(3).apply(img.clone());
        assert_eq!(px(&r), [2, 5, 1, 4, 0, 3]);
        assert_eq!(Rotation(1).apply(Rotation(3).apply(img.clone())), img);
        assert_eq!(Rotation::from_tag("rotate-270"), Some(Rotation(3)));
        assert_eq!(Rotation::from_tag("flip-rotate-90"), None);
    }

    #[test]
    fn orientations_read_their_names() {
        for o in Orientation::ALL {
            assert_eq!(o.name().parse::<Orientation>().unwrap(), *o);
        }
        let e = "sideways".parse::<Orientation>().unwrap_err().to_string();
        assert!(e.contains("display, stored, official"), "{e}");
    }
}
