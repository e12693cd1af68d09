//! A named checkpoint tensor: its shape, the element type it was stored in, and its values
//! upcast to f32.

use crate::DType;

/// A dense, contiguous (row-major) tensor upcast to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    /// The element type in the file (the values are always f32 here).
    pub stored_as: DType,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Converts little-endian elements of `dtype` to f32.
pub(crate) fn to_f32(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(dtype.size()).map(|c| element(dtype, c)).collect()
}

#[inline]
fn element(dtype: DType, c: &[u8]) -> f32 {
    let b = |i: usize| c[i];
    match dtype {
        DType::F32 => f32::from_le_bytes([b(0), b(1), b(2), b(3)]),
        DType::F64 => f64::from_le_bytes([b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7)]) as f32,
        DType::F16 => half::f16::from_le_bytes([b(0), b(1)]).to_f32(),
        DType::BF16 => half::bf16::from_le_bytes([b(0), b(1)]).to_f32(),
        DType::I64 => i64::from_le_bytes([b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7)]) as f32,
        DType::I32 => i32::from_le_bytes([b(0), b(1), b(2), b(3)]) as f32,
        DType::I16 => i16::from_le_bytes([b(0), b(1)]) as f32,
        DType::I8 => b(0) as i8 as f32,
        DType::U8 | DType::Bool => b(0) as f32,
    }
}

/// One past the last storage element a strided view (`offset`, `shape`, `stride`, in elements)
/// touches; `offset` for an empty view. `None` when the arithmetic overflows.
pub(crate) fn view_end(offset: usize, shape: &[usize], stride: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(offset);
    }
    let last = shape.iter().zip(stride).try_fold(0usize, |acc, (&n, &s)| acc.checked_add((n - 1).checked_mul(s)?))?;
    offset.checked_add(last)?.checked_add(1)
}

/// Builds a contiguous f32 tensor from a strided view (`offset`, `shape`, `stride`, in
/// elements) of a storage's raw bytes. Refuses a view reaching outside them, and one with more
/// elements than the storage span it covers (a broadcast or overlapping view: a checkpoint
/// stores each value once, and such a view could make a few stored bytes into gigabytes).
pub(crate) fn from_strided(
    bytes: &[u8],
    dtype: DType,
    offset: usize,
    shape: &[usize],
    stride: &[usize],
) -> Result<Tensor, String> {
    let sz = dtype.size();
    let len = bytes.len() / sz;
    // checked arithmetic throughout: sizes come from the file
    let too_big = || format!("tensor of shape {shape:?} is too large");
    let numel = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)).ok_or_else(too_big)?;
    if numel == 0 {
        return Ok(Tensor { shape: shape.to_vec(), stored_as: dtype, data: Vec::new() });
    }
    let end = view_end(offset, shape, stride).ok_or_else(too_big)?;
    if end > len {
        return Err(format!(
            "tensor of shape {shape:?} (stride {stride:?}, offset {offset}) reaches element {end} of a storage of {len}"
        ));
    }
    if numel > end - offset {
        return Err(format!(
            "tensor of shape {shape:?} (stride {stride:?}) repeats storage elements ({numel} values from {} stored)",
            end - offset
        ));
    }
    let contiguous = {
        let mut expect = 1;
        let mut ok = true;
        for (&n, &s) in shape.iter().zip(stride).rev() {
            if n > 1 && s != expect {
                ok = false;
            }
            expect *= n;
        }
        ok
    };
    let data = if contiguous {
        to_f32(dtype, &bytes[offset * sz..(offset + numel) * sz])
    } else {
        let mut data = Vec::with_capacity(numel);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..numel {
            let at = offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
            data.push(element(dtype, &bytes[at * sz..(at + 1) * sz]));
            for d in (0..shape.len()).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        data
    };
    Ok(Tensor { shape: shape.to_vec(), stored_as: dtype, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_view_is_gathered() {
        let storage: Vec<u8> = (0..6).flat_map(|x| (x as f32).to_le_bytes()).collect(); // 2x3 row-major
        let t = from_strided(&storage, DType::F32, 0, &[3, 2], &[1, 3]).unwrap();
        assert_eq!(t.data, vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn absurd_sizes_are_rejected_not_overflowed() {
        let storage = vec![0u8; 16];
        assert!(from_strided(&storage, DType::F32, 0, &[usize::MAX, 2], &[1, 1]).is_err());
        assert!(from_strided(&storage, DType::F32, usize::MAX, &[2], &[1]).is_err());
    }

    #[test]
    fn view_outside_storage_is_rejected() {
        let storage = vec![0u8; 4 * 4];
        assert!(from_strided(&storage, DType::F32, 1, &[2, 2], &[2, 1]).is_err());
    }

    #[test]
    fn a_broadcast_view_cannot_multiply_the_stored_values() {
        let storage = vec![0u8; 4];
        let e = from_strided(&storage, DType::F32, 0, &[1 << 30], &[0]).unwrap_err();
        assert!(e.contains("repeats storage elements"), "{e}");
        assert_eq!(view_end(3, &[2, 0], &[1, 1]), Some(3));
        assert_eq!(view_end(1, &[2, 3], &[3, 1]), Some(7));
    }
}
