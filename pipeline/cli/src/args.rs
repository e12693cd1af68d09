//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MARLIN facial video features, many times faster than the official code.
#[derive(Debug, Parser)]
#[command(name = "marlin", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug); MARLIN_LOG=<filter> overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode one clip (.npy) into MARLIN features (.npy).
    Encode(EncodeArgs),
    /// Measure speed.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Released checkpoints: list them, download them into the cache.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

/// Where the model comes from: a checkpoint file or a released model name.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Checkpoint (.pt zip or legacy, .safetensors) or a released name (vit_small_ytf,
    /// vit_base_ytf, vit_large_ytf) fetched with `marlin models fetch`.
    #[arg(long, value_name = "CKPT|NAME")]
    pub model: String,
    /// MARLIN's YAML model config (as config/pretrain/*.yaml in the official repo); default:
    /// the released architecture matching the weights.
    #[arg(long, value_name = "YAML")]
    pub config: Option<PathBuf>,
    /// Encoder threads (0: every core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Arithmetic: f32 (reproduces the official features) or bf16 (bf16 weights and
    /// activations, f32 accumulation; needs AVX512-BF16, else f32 is used).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    F32,
    Bf16,
}

impl From<PrecisionArg> for marlin_model::Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::F32 => marlin_model::Precision::F32,
            PrecisionArg::Bf16 => marlin_model::Precision::Bf16,
        }
    }
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The clip: (16,224,224,3) uint8 RGB, or float32 (3,16,224,224) / (1,3,16,224,224) in [0,1].
    #[arg(long, value_name = "CLIP.npy")]
    pub clip: PathBuf,
    /// Output every token's feature (1568,D) instead of the pooled (D,).
    #[arg(long)]
    pub keep_seq: bool,
    /// Output features, float32 .npy.
    #[arg(short, long, value_name = "OUT.npy")]
    pub output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the released models and whether they are in the cache.
    List,
    /// Download a released checkpoint into the cache (resumes a partial download).
    Fetch {
        /// vit_small_ytf, vit_base_ytf or vit_large_ytf.
        name: String,
        /// The full model (encoder + decoder, for reconstruction) instead of the encoder.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Encoder throughput on synthetic clips (model load excluded); last line
    /// `clips/s=<x> gflops=<y>`. `--model random:vit_base` benchmarks an architecture with
    /// random weights.
    Encode {
        #[command(flatten)]
        model: ModelArgs,
        /// Clips to time, after one warm-up batch.
        #[arg(long, default_value_t = 4)]
        clips: usize,
        /// Clips per forward.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
}
