//! The CUDA sources, one per op family, and the kernels each defines.

/// A CUDA source file and its entry points.
#[derive(Debug, Clone, Copy)]
pub struct KernelSource {
    /// The op family (`crop_resize`, `patchify`, `mask`).
    pub name: &'static str,
    pub source: &'static str,
    /// `extern "C"` kernels it defines.
    pub functions: &'static [&'static str],
}

/// Every kernel source of the crate.
pub const SOURCES: [KernelSource; 3] = [
    KernelSource {
        name: "crop_resize",
        source: include_str!("../cuda/crop_resize.cu"),
        functions: &["crop_resize_square", "warp_similarity"],
    },
    KernelSource {
        name: "patchify",
        source: include_str!("../cuda/patchify.cu"),
        functions: &["patchify_f32", "patchify_f16"],
    },
    KernelSource { name: "mask", source: include_str!("../cuda/mask.cu"), functions: &["gather_rows", "scatter_rows"] },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_function_is_defined_in_its_source() {
        for k in SOURCES {
            for f in k.functions {
                assert!(k.source.contains(&format!("extern \"C\" __global__ void {f}(")), "{}: {f}", k.name);
            }
            assert_eq!(
                k.source.matches("__global__").count(),
                k.functions.len(),
                "{}: a kernel is missing from the list",
                k.name
            );
        }
    }
}
