//! Linear probes on MARLIN features, MARLIN's linear-probe protocol for deepfake screening:
//! per-video temporal means of the clip features (or the clips themselves), standardised, one
//! L2-regularised logistic regression with balanced class weights; validation split by video,
//! optional k-fold; AUC, EER, accuracy and the confusion matrix at the chosen threshold; probe
//! files that record the model they belong to; scoring featurisation outputs with them.

mod dataset;
mod error;
mod import;
pub mod logistic;
pub mod metrics;
mod probe;
pub mod report;
pub mod score;
mod train;

pub use dataset::{ClipSource, FeatureSet, Level, Sample};
pub use error::ProbeError;
pub use import::linear_head;
pub use probe::{FORMAT, Probe, ProbeModel, ValidationReport};
pub use train::{ThresholdRule, TrainOptions, train};
