//! Where an engine computes: the native CPU engines, or ONNX Runtime on one of its providers,
//! and on how many threads. The choices are named here, below every crate that takes them;
//! `marlin-onnx` opens the engines.

marlin_settings::named! {
    /// Where an engine (the encoder, the face detector) computes.
    pub enum Backend: "backend", default Cpu {
        /// The native CPU engines (AVX-512 / AVX2).
        Cpu = "cpu",
        /// The exported ONNX graph on ONNX Runtime's CPU provider.
        OnnxCpu = "onnx-cpu",
        /// ONNX Runtime's CUDA provider (builds with the `cuda` feature).
        Cuda = "cuda",
        /// TensorRT fp16 through ONNX Runtime (builds with the `tensorrt` feature).
        TensorRt = "tensorrt",
    }
}

/// CPU threads an engine may be given (0: every core).
pub const THREADS: marlin_settings::Bounds<usize> = marlin_settings::Bounds::closed(0, 1024);
