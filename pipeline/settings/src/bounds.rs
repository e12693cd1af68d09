//! The range a numeric setting may take, and the check that refuses anything else.

use std::fmt::{self, Debug, Display};

/// A closed range `[low, high]`, or `(low, high]` when `low_open` (e.g. "above 0").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    pub low: T,
    pub high: T,
    pub low_open: bool,
}

impl<T> Bounds<T> {
    /// `[low, high]`.
    pub const fn closed(low: T, high: T) -> Self {
        Self { low, high, low_open: false }
    }

    /// `(low, high]`.
    pub const fn above(low: T, high: T) -> Self {
        Self { low, high, low_open: true }
    }
}

impl<T: PartialOrd + Display + Debug + Copy> Bounds<T> {
    /// Whether `value` lies inside (never for NaN).
    pub fn contains(&self, value: T) -> bool {
        let above_low = if self.low_open { value > self.low } else { value >= self.low };
        above_low && value <= self.high
    }

    /// `value`, or an error naming the setting `name`, the value (as Rust writes it short:
    /// `1e300`, `NaN`) and the range.
    pub fn check(&self, name: &str, value: T) -> Result<T, OutOfRange> {
        match self.contains(value) {
            true => Ok(value),
            false => Err(OutOfRange { name: name.to_string(), value: format!("{value:?}"), bounds: self.to_string() }),
        }
    }
}

impl<T: Display> Display for Bounds<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = if self.low_open { "(" } else { "[" };
        write!(f, "{open}{}, {}]", self.low, self.high)
    }
}

/// A setting outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be in {bounds}, got {value}")]
pub struct OutOfRange {
    pub name: String,
    pub value: String,
    pub bounds: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_and_nan_are_refused() {
        let fps = Bounds::above(0.0, 1000.0);
        assert!(fps.check("fps", 25.0).is_ok());
        assert!(fps.check("fps", 1000.0).is_ok());
        for bad in [0.0, -1.0, 1e300, f64::NAN, f64::INFINITY] {
            let e = fps.check("fps", bad).unwrap_err().to_string();
            assert!(e.starts_with("fps must be in (0, 1000], got "), "{e}");
        }
        assert_eq!(fps.check("fps", 1e300).unwrap_err().to_string(), "fps must be in (0, 1000], got 1e300");
        assert_eq!(
            Bounds::closed(1usize, 256).check("batch", 0).unwrap_err().to_string(),
            "batch must be in [1, 256], got 0"
        );
    }
}
