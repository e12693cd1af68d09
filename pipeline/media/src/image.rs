//! Packed RGB frames as the clip pipeline sees them.

/// One frame: `height` rows of `width` RGB pixels, 3 bytes each, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// An image over `data`, which must hold exactly `width·height·3` bytes.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (data.len() == width as usize * height as usize * 3).then_some(Self { width, height, data })
    }
}
