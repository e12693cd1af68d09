//! The one interface of every engine that turns clips into MARLIN features: the CPU
//! [`Encoder`] here, and runtimes running the exported graph (`marlin-onnx`). Batch runs,
//! benchmarks and the GStreamer encoder take any of them.

use crate::{Clip, Encoder, MarlinConfig, ModelError};

pub trait FeatureExtractor: Send + Sync {
    /// The architecture computed.
    fn config(&self) -> &MarlinConfig;

    /// Feature width D.
    fn dim(&self) -> usize {
        self.config().encoder.embed_dim
    }

    /// The official `extract_features(x, keep_seq)`, one result per clip: (D,) pooled, or
    /// (tokens × D) with `keep_seq`.
    fn extract_features(&self, clips: &[Clip], keep_seq: bool) -> Result<Vec<Vec<f32>>, ModelError>;

    /// Where and how it computes, for logs and run manifests (`cpu f32, 2 threads`).
    fn describe(&self) -> String;
}

impl FeatureExtractor for Encoder {
    fn config(&self) -> &MarlinConfig {
        Encoder::config(self)
    }

    fn extract_features(&self, clips: &[Clip], keep_seq: bool) -> Result<Vec<Vec<f32>>, ModelError> {
        Encoder::extract_features(self, clips, keep_seq)
    }

    fn describe(&self) -> String {
        format!("cpu {}, {} threads", self.precision().name(), self.threads())
    }
}
