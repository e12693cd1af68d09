//! marlin-rs integration tests: one binary, one module per topic. Tests that need the oracle
//! read `../shared` (or `MARLIN_SHARED_DIR`) and fail loudly when it is absent.

mod browser;
mod util;

mod checkpoint_errors;
mod cli;
mod faces;
mod featurize;
mod fetch;
mod hostile;
mod kernels;
mod onnx;
mod oracle_encoder;
mod probe;
mod reconstruct;
mod report;
mod video;
mod video_errors;
