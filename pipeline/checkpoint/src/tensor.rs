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

/// Converts `numel` little-endian elements of `dtype` from `bytes` to f32.
pub(crate) fn to_f32(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    let sz = dtype.size();
    let ch = bytes.chunks_exact(sz);
    match dtype {
        DType::F32 => ch.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        DType::F64 => ch.map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        DType::F16 => ch.map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        DType::BF16 => ch.map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        DType::I64 => ch.map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        DType::I32 => ch.map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32).collect(),
        DType::I16 => ch.map(|c| i16::from_le_bytes([c[0], c[1]]) as f32).collect(),
        DType::I8 => ch.map(|c| c[0] as i8 as f32).collect(),
        DType::U8 | DType::Bool => ch.map(|c| c[0] as f32).collect(),
    }
}

/// Gathers a strided view (`offset`, `shape`, `stride`, in elements) of `storage` into a
/// contiguous tensor. Returns `None` when the view reaches outside the storage.
pub(crate) fn from_strided(
    storage: &[f32],
    offset: usize,
    shape: &[usize],
    stride: &[usize],
    stored_as: DType,
) -> Option<Tensor> {
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return Some(Tensor { shape: shape.to_vec(), stored_as, data: Vec::new() });
    }
    let last = shape.iter().zip(stride).map(|(&n, &s)| (n - 1) * s).sum::<usize>();
    if offset.checked_add(last)? >= storage.len() {
        return None;
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
        storage[offset..offset + numel].to_vec()
    } else {
        let mut data = Vec::with_capacity(numel);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..numel {
            let at = offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
            data.push(storage[at]);
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
    Some(Tensor { shape: shape.to_vec(), stored_as, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_view_is_gathered() {
        let storage: Vec<f32> = (0..6).map(|x| x as f32).collect(); // 2x3 row-major
        let t = from_strided(&storage, 0, &[3, 2], &[1, 3], DType::F32).unwrap();
        assert_eq!(t.data, vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn view_outside_storage_is_rejected() {
        let storage = vec![0f32; 4];
        assert!(from_strided(&storage, 1, &[2, 2], &[2, 1], DType::F32).is_none());
    }
}
