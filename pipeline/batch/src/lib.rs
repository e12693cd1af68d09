//! Bulk featurisation: many videos (files, folders, manifest CSVs) through decoding, face
//! cropping and one batching encoder into `features.npy` + `clips.csv`, resumable after any
//! interruption and shardable across machines; `merge` joins the shards. Also the views
//! `marlin reconstruct` renders of MAE reconstructions.

pub mod clip_faces;
pub mod config;
pub mod detect;
pub mod encoder_inputs;
mod error;
pub mod extract;
pub mod inputs;
pub mod journal;
mod manifest;
pub mod merge;
pub mod reconstruction;
mod run;
pub mod shard;
pub mod stats;
pub mod tables;
mod worker;

pub use config::{FeaturizeConfig, VideoSettings};
pub use detect::{FrameFaces, detect_faces, is_image};
pub use encoder_inputs::{EncoderInput, EncoderInputs, VideoReport};
pub use error::BatchError;
pub use extract::{ExtractSettings, Reduction, VideoFeatures, extract_video};
pub use inputs::{Inputs, VideoInput};
pub use manifest::ModelInfo;
pub use merge::merge;
pub use run::{Featurizer, RunSummary};
pub use shard::Shard;
pub use stats::Stats;
