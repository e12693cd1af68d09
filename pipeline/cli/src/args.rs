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
    /// libonnxruntime.so (≥ 1.31) for the ONNX backends (default: ORT_DYLIB_PATH, then the
    /// library search path; tools/onnxruntime.sh fetches one).
    #[arg(long, global = true, value_name = "PATH")]
    pub onnxruntime: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode one clip (.npy) into MARLIN features (.npy).
    Encode(EncodeArgs),
    /// Decode a video's first frames to .npy, as the clip pipeline sees them.
    Decode(DecodeArgs),
    /// Features of a whole video, clip by clip (the official `extract_video`).
    Extract(ExtractArgs),
    /// Faces in an image or in every frame of a video (FaceX-Zoo's RetinaFace), as CSV.
    Detect(DetectArgs),
    /// Features of many videos (files, folders, manifest CSVs) into one folder:
    /// features.npy, clips.csv, failures.csv, manifest.json. Resumable, shardable.
    #[command(after_help = FEATURIZE_AFTER_HELP)]
    Featurize(FeaturizeArgs),
    /// Join the shards of a sharded featurize run (DIR/shard-<I>-of-<N>/) into DIR.
    Merge {
        /// The --out folder the shards were written under.
        dir: PathBuf,
    },
    /// Show what MARLIN sees: each clip with most of its tokens masked, reconstructed by the
    /// MAE decoder of a full checkpoint (`*.full.pt`), beside the original and the masked input.
    #[command(after_help = RECONSTRUCT_AFTER_HELP)]
    Reconstruct(ReconstructArgs),
    /// Featurise videos and score them with a probe: everything `featurize` writes, plus
    /// clip_scores.csv and scores.csv (each video's score and fake/real label).
    Screen(ScreenArgs),
    /// Linear probes on featurize outputs (deepfake screening): train, import a PyTorch head,
    /// score.
    Probe {
        #[command(subcommand)]
        command: ProbeCommand,
    },
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
    /// Write the encoder as an ONNX graph (for ONNX Runtime, TensorRT, …).
    ExportOnnx(ExportOnnxArgs),
    /// What this machine has for marlin: GStreamer and its decoders, ONNX Runtime, CUDA,
    /// NVRTC, TensorRT, the CPU's vector units, and the features this binary was built with.
    Doctor,
    /// The CUDA pre-processing kernels (needs a build with `--features cuda`).
    Kernels {
        #[command(subcommand)]
        command: KernelsCommand,
    },
}

const RECONSTRUCT_AFTER_HELP: &str = "\
Masks (true = visible; exactly int(1568·(1−ratio)) tokens stay visible, 156 at 0.9):
  random   any tokens (VideoMAE)
  tube     the same positions in every time step (VideoMAE; the default)
  frame    whole time steps
  fasking  MARLIN's face-guided masking: needs --parsing PARSING.npy, face-parsing label maps
           (LaPa labels, as MARLIN's preprocessing saves them) of shape (16,224,224) for every
           clip or (n_clips·16,224,224), one map per frame of each clip
A clip's mask is drawn with seed S + clip index; --mask-file uses one (1568,) bool mask for all.
Output: .npy (the (16,224,224,3) float32 reconstruction of each clip, stacked over clips for a
video), .png (per clip a grid: original, masked and reconstructed rows, clips stacked) or .mp4
(the three views side by side, clip after clip). Each clip's masked-token MSE is printed.";

/// `marlin reconstruct`.
#[derive(Debug, Args)]
pub struct ReconstructArgs {
    /// A video, or one clip as a (16,224,224,3) uint8 .npy.
    pub input: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub video_args: VideoArgs,
    /// How tokens are masked.
    #[arg(long, value_enum, default_value_t = MaskArg::Tube)]
    pub mask: MaskArg,
    /// The fraction of tokens masked.
    #[arg(long, default_value_t = 0.9)]
    pub ratio: f64,
    /// Seed of the masks (clip k uses seed + k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// One mask for every clip: a (1568,) bool or uint8 .npy, true = visible.
    #[arg(long, value_name = "MASK.npy", conflicts_with_all = ["mask", "ratio", "seed", "parsing"])]
    pub mask_file: Option<PathBuf>,
    /// Face-parsing maps for `--mask fasking` (see below).
    #[arg(long, value_name = "PARSING.npy")]
    pub parsing: Option<PathBuf>,
    /// Clip sampling of videos, as `extract`.
    #[arg(long, default_value_t = 2)]
    pub sample_rate: usize,
    #[arg(long, default_value_t = 16)]
    pub stride: usize,
    /// Stop after this many clips.
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Detect and crop the face of each frame first (the default crop mode of `extract`).
    #[arg(long)]
    pub crop_face: bool,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// OUT.npy, OUT.png or OUT.mp4.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MaskArg {
    Random,
    Tube,
    Frame,
    Fasking,
}

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Train a probe (MARLIN's linear-probe protocol: per-video mean of the clip features,
    /// standardised, L2 logistic regression with balanced class weights); validation split by
    /// video. Prints and saves AUC, EER, accuracy, the confusion matrix and the threshold.
    Train {
        /// A `marlin featurize` --out folder with labels (a manifest CSV's label column).
        #[arg(long, value_name = "DIR")]
        features: PathBuf,
        #[arg(long, default_value = "label")]
        label_column: String,
        /// A clips.csv column whose samples are kept together on one side of the validation
        /// (e.g. the source of several edited copies); default: the video.
        #[arg(long)]
        group_column: Option<String>,
        #[arg(long, value_enum, default_value_t = LevelArg::Video)]
        level: LevelArg,
        /// The label scored as positive (default: `fake` or `1`).
        #[arg(long)]
        positive: Option<String>,
        /// Fraction of the videos held out for validation.
        #[arg(long, default_value_t = 0.2)]
        val_fraction: f64,
        /// k-fold cross-validation over videos instead (the probe is then trained on all).
        #[arg(long)]
        folds: Option<usize>,
        /// Inverse L2 strength (scikit-learn's C).
        #[arg(long = "c", default_value_t = 1.0)]
        c: f64,
        /// The decision threshold: `eer` or `fpr=0.01` (on the validation scores).
        #[arg(long, default_value = "eer")]
        threshold: marlin_probe::ThresholdRule,
        #[arg(short, long, value_name = "PROBE.json")]
        output: PathBuf,
    },
    /// Import a PyTorch linear head (`fc.weight`/`fc.bias`, or the only Linear of a .pt or a
    /// Lightning .ckpt) as a probe for the features of `--model`.
    Import {
        head: PathBuf,
        /// The MARLIN checkpoint (or released name) whose features the head takes.
        #[arg(long, value_name = "CKPT|NAME")]
        model: String,
        #[arg(long, value_name = "YAML")]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = LevelArg::Video)]
        level: LevelArg,
        #[arg(long, default_value = "fake")]
        positive: String,
        #[arg(long, default_value = "real")]
        negative: String,
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        #[arg(short, long, value_name = "PROBE.json")]
        output: PathBuf,
    },
    /// Score a featurize output: clip_scores.csv (per clip) and scores.csv (per video, with the
    /// label at the probe's threshold); with labelled videos also report.html.
    Score {
        #[arg(long, value_name = "PROBE.json")]
        probe: PathBuf,
        #[arg(long, value_name = "DIR")]
        features: PathBuf,
        /// Per-video score from the clips': mean, max, or top3 (mean of the 3 highest; any k).
        #[arg(long, default_value = "mean")]
        video_score: String,
        /// Where the CSVs go (default: the features folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `marlin screen`.
#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// A probe from `marlin probe train|import`, for the features of `--model`.
    #[arg(long, value_name = "PROBE.json")]
    pub probe: PathBuf,
    /// Per-video score from the clips': mean, max, or topK (mean of the K highest).
    #[arg(long, default_value = "mean")]
    pub video_score: String,
    #[command(flatten)]
    pub featurize: FeaturizeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelArg {
    Video,
    Clip,
}

#[derive(Debug, Subcommand)]
pub enum KernelsCommand {
    /// Compile every kernel with NVRTC (one line each); on a GPU, also run each against its CPU
    /// twin and measure its throughput. Exits non-zero on a compile error or a mismatch.
    Check {
        /// An image (JPEG/PNG) to crop from as well, besides the random inputs.
        #[arg(long, value_name = "IMAGE")]
        image: Option<PathBuf>,
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

/// Where the encoder computes.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// cpu (the native encoder), onnx-cpu (the exported graph on ONNX Runtime's CPU provider),
    /// cuda or tensorrt (ONNX Runtime's GPU providers; builds with `--features cuda` /
    /// `--features tensorrt`).
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    pub backend: BackendArg,
    /// GPU index for cuda / tensorrt.
    #[arg(long, default_value_t = 0)]
    pub device: i32,
    /// TensorRT's engine cache (default: ~/.cache/marlin/tensorrt).
    #[arg(long, value_name = "DIR")]
    pub tensorrt_cache: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Cpu,
    OnnxCpu,
    Cuda,
    Tensorrt,
}

impl From<BackendArg> for marlin_onnx::Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Cpu => marlin_onnx::Backend::Cpu,
            BackendArg::OnnxCpu => marlin_onnx::Backend::OnnxCpu,
            BackendArg::Cuda => marlin_onnx::Backend::Cuda,
            BackendArg::Tensorrt => marlin_onnx::Backend::TensorRt,
        }
    }
}

/// `marlin export-onnx`.
#[derive(Debug, Args)]
pub struct ExportOnnxArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The ONNX file to write.
    #[arg(short, long, value_name = "MODEL.onnx")]
    pub output: PathBuf,
    /// ONNX opset (17–21; `Gelu` is a single op from 20).
    #[arg(long, default_value_t = 17)]
    pub opset: i64,
    /// frames: float32 (B,3,16,224,224) in [0,1]; patches: (B,1568,1536) as the patchify
    /// kernel lays them out.
    #[arg(long, value_enum, default_value_t = OnnxInputArg::Frames)]
    pub input: OnnxInputArg,
    /// Also output `tokens` (B,1568,D), every token's feature.
    #[arg(long)]
    pub keep_seq: bool,
    /// A dynamic batch axis (named `batch`) instead of --batch.
    #[arg(long, conflicts_with = "batch")]
    pub dynamic_batch: bool,
    /// The fixed batch size.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnnxInputArg {
    Frames,
    Patches,
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
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

/// How a video is decoded and its frames turned into RGB.
#[derive(Debug, Args)]
pub struct VideoArgs {
    /// Video decoder: auto (NVDEC where present, else libav), software (libav), nvdec.
    #[arg(long, value_enum, default_value_t = DecoderArg::Auto)]
    pub decoder: DecoderArg,
    /// YUV → RGB: exact (the official frames' arithmetic, FFmpeg's swscale), videoconvert
    /// (GStreamer's), or auto (exact where the decoder's format is covered).
    #[arg(long, value_enum, default_value_t = ColourArg::Auto)]
    pub colour: ColourArg,
    /// Give a video up when GStreamer gives no frame, no error and no end for this many
    /// seconds (a damaged file can leave the decoder waiting forever).
    #[arg(long, value_name = "SECONDS", default_value_t = marlin_media::DEFAULT_STALL_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    pub stall_timeout: f64,
    /// A video with a display rotation (phones): display (turned, as players, FFmpeg and
    /// OpenCV show it), stored (as recorded), official (as the official code reads it: turned
    /// for videos over 32 frames, stored for shorter ones; what `extract --compat` uses).
    #[arg(long, value_name = "display|stored|official")]
    pub orientation: Option<marlin_media::Orientation>,
}

/// A number of seconds above zero.
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a number of seconds above 0, got {s:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecoderArg {
    Auto,
    Software,
    Nvdec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColourArg {
    Auto,
    Exact,
    Videoconvert,
}

impl VideoArgs {
    pub fn options(&self) -> marlin_media::DecodeOptions {
        use marlin_media::{ColourMode, DecoderChoice};
        marlin_media::DecodeOptions {
            decoder: match self.decoder {
                DecoderArg::Auto => DecoderChoice::Auto,
                DecoderArg::Software => DecoderChoice::Software,
                DecoderArg::Nvdec => DecoderChoice::Nvdec,
            },
            colour: match self.colour {
                ColourArg::Auto => ColourMode::Auto,
                ColourArg::Exact => ColourMode::Exact,
                ColourArg::Videoconvert => ColourMode::Videoconvert,
            },
            orientation: self.orientation.unwrap_or_default(),
            stall_timeout: std::time::Duration::from_secs_f64(self.stall_timeout),
        }
    }
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Any video GStreamer can open.
    pub video: PathBuf,
    /// How many frames, from the first (fewer if the video is shorter).
    #[arg(long, default_value_t = 32)]
    pub frames: usize,
    #[command(flatten)]
    pub video_args: VideoArgs,
    /// Output: (K,H,W,3) uint8 RGB .npy.
    #[arg(short, long, value_name = "FRAMES.npy")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReductionArg {
    None,
    Mean,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FacesArg {
    Largest,
    Score,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CropModeArg {
    Marlin,
    Aligned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailArg {
    Drop,
    Pad,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Any video GStreamer can open; its frames must be 224×224 face crops.
    pub video: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub video_args: VideoArgs,
    /// Take every n-th frame inside a clip window.
    #[arg(long, default_value_t = 2)]
    pub sample_rate: usize,
    /// Clip windows start every stride·sample-rate frames.
    #[arg(long, default_value_t = 16)]
    pub stride: usize,
    /// Frames after the last full window: drop (official) or one more clip, padded with the
    /// last frame.
    #[arg(long, value_enum, default_value_t = TailArg::Drop)]
    pub tail: TailArg,
    /// Stop after this many clips.
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Resample the video to this frame rate (by timestamps) before cutting clips.
    #[arg(long, value_name = "FPS")]
    pub fps: Option<f64>,
    /// Clips per encoder forward.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    /// Detect the face in every sampled frame and crop it to 224×224 (for uncropped videos).
    #[arg(long)]
    pub crop_face: bool,
    /// With --crop-face: reproduce the official crops bit for bit (detector fed RGB as if BGR,
    /// the official 2×2 corner crop on frames without a face). Default crop mode `marlin`: the
    /// detector fed BGR, the previous crop kept when a frame has no face.
    #[arg(long, requires = "crop_face", conflicts_with = "crop_mode")]
    pub compat: bool,
    /// With --crop-face: `marlin` (square around the face, as the official geometry) or
    /// `aligned` (5-point similarity warp onto ArcFace's template scaled to 224).
    #[arg(long, value_enum, requires = "crop_face")]
    pub crop_mode: Option<CropModeArg>,
    /// With --crop-face (not --compat): weight of the newest box in the temporal smoothing of
    /// boxes and landmarks, 0 < w ≤ 1 (1 turns smoothing off).
    #[arg(long, default_value_t = 0.5, requires = "crop_face")]
    pub smooth: f32,
    /// With --crop-face (not --compat): which faces become clips: the largest face, the
    /// best-scored (the official choice), or all of them — one row per (clip, face track), the
    /// rows listed in OUT.rows.csv (`row,clip,track`).
    #[arg(long, value_enum, default_value_t = FacesArg::Largest, requires = "crop_face", conflicts_with = "compat")]
    pub faces: FacesArg,
    /// With --crop-face (not --compat): run the detector on every k-th frame of a clip (and its
    /// last), interpolating boxes and landmarks in between. Faster by about k.
    #[arg(long, default_value_t = 1, requires = "crop_face", conflicts_with = "compat")]
    pub detect_every: usize,
    /// With --crop-face (not --compat): detect on frames downscaled to this longer side (boxes
    /// scaled back). Faster on large videos; see docs/BENCHMARKS.md for its effect on boxes.
    #[arg(long, value_name = "PX", requires = "crop_face", conflicts_with = "compat")]
    pub max_side: Option<usize>,
    /// With --crop-face (not --compat): ignore faces narrower than this many pixels.
    #[arg(long, default_value_t = 0.0, value_name = "PX", requires = "crop_face", conflicts_with = "compat")]
    pub min_face: f32,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// With --crop-face: write each sampled frame's top detection and crop square here
    /// (`clip,frame,x1,y1,x2,y2,score,cx,cy,half`; empty box fields where no face was found).
    #[arg(long, value_name = "CSV", requires = "crop_face")]
    pub faces_csv: Option<PathBuf>,
    /// Every token's feature per clip, (n_clips, 1568, D), instead of the pooled (n_clips, D).
    #[arg(long)]
    pub keep_seq: bool,
    /// Reduce over clips: none (one row per clip), mean or max.
    #[arg(long, value_enum, default_value_t = ReductionArg::None)]
    pub reduction: ReductionArg,
    /// Output features, float32 .npy.
    #[arg(short, long, value_name = "OUT.npy")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// An image (JPEG, PNG…) or any video GStreamer can open.
    pub input: PathBuf,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub video_args: VideoArgs,
    /// Faces narrower than this many pixels are left out.
    #[arg(long, default_value_t = 0.0)]
    pub min_size: f32,
    /// Also render the frames with boxes, landmarks and track ids: OUT.png (an image, or a
    /// video's first frame) or OUT.mp4 (every frame, H.264).
    #[arg(long, value_name = "OUT.png|OUT.mp4")]
    pub draw: Option<PathBuf>,
    /// Output: `frame,track,x1,y1,x2,y2,score,lm1x,lm1y,…,lm5x,lm5y`, one row per face (track
    /// ids link a face across frames: greedy IoU ≥ 0.3 over gaps of up to 15 frames).
    #[arg(short, long, value_name = "FACES.csv")]
    pub output: PathBuf,
}

const FEATURIZE_AFTER_HELP: &str = "\
Exit status: 0 every video succeeded; 2 some videos failed (listed in failures.csv, the others
are written); 1 a fatal error (bad settings, unwritable output, full disk: rerun with --resume
once fixed); 130 interrupted by SIGINT/SIGTERM (finished videos are written; --resume goes on).

Sharding: --shard I/N (0 <= I < N) takes the videos whose id hashes to I and writes
DIR/shard-<I>-of-<N>/; Slurm job arrays (SLURM_ARRAY_TASK_ID/_COUNT) and Kubernetes Indexed Jobs
(JOB_COMPLETION_INDEX with MARLIN_SHARD_COUNT) set it without the flag. `marlin merge DIR` joins
the shards. Every key of --config is documented in configs/default.yaml.";

/// `marlin featurize`; every flag overrides the --config file's key.
#[derive(Debug, Args)]
pub struct FeaturizeArgs {
    /// Video files, folders (searched recursively for video extensions) and manifest CSVs
    /// (a `path` column; `video_id`, `label`, `split` and other columns are carried into
    /// clips.csv).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Checkpoint (.pt, .safetensors) or released name (vit_small_ytf…); key `model`.
    #[arg(long, value_name = "CKPT|NAME")]
    pub model: Option<String>,
    /// Settings file (YAML; configs/default.yaml lists every key).
    #[arg(long, value_name = "YAML")]
    pub config: Option<PathBuf>,
    /// MARLIN's YAML model config; key `model_config`.
    #[arg(long, value_name = "YAML")]
    pub model_config: Option<PathBuf>,
    /// Detect and crop faces; key `faces.crop_face`.
    #[arg(long)]
    pub crop_face: bool,
    /// Videos decoded at once; key `jobs`.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Clips per encoder forward; key `batch_size`.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Encoder threads (0: every core); key `encoder_threads`.
    #[arg(long)]
    pub threads: Option<usize>,
    /// f32 or bf16; key `precision`.
    #[arg(long)]
    pub precision: Option<marlin_batch::config::Precision>,
    /// cpu, onnx-cpu, cuda or tensorrt (see `marlin encode --help`); key `backend`.
    #[arg(long)]
    pub backend: Option<marlin_batch::config::Backend>,
    /// Where the face detector computes (cpu, onnx-cpu, cuda, tensorrt); key `faces.backend`.
    #[arg(long)]
    pub detector_backend: Option<marlin_batch::config::Backend>,
    /// combined or per-video (also videos/<id>.npy); key `output.layout`.
    #[arg(long)]
    pub layout: Option<marlin_batch::config::Layout>,
    /// Every token's feature per clip; key `output.keep_seq`.
    #[arg(long)]
    pub keep_seq: bool,
    /// Face detector .pkl; key `faces.detector`.
    #[arg(long, value_name = "PKL")]
    pub detector: Option<PathBuf>,
    /// Continue the run already in DIR: finished videos are skipped.
    #[arg(long)]
    pub resume: bool,
    /// This machine's share: I/N, 0 <= I < N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<marlin_batch::Shard>,
    /// No progress output (errors and failed videos are still reported).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Where the face detector comes from.
#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// FaceX-Zoo's RetinaFace `face_detection_retina.pkl` (default: the cache, where
    /// `marlin models fetch retinaface` puts it).
    #[arg(long, value_name = "PKL")]
    pub detector: Option<PathBuf>,
    /// Detector threads (0: every core).
    #[arg(long, default_value_t = 0)]
    pub detector_threads: usize,
    /// Where the detector computes: cpu (the native port), onnx-cpu, cuda or tensorrt (its
    /// graph exported to ONNX Runtime; GPU 0, see `--onnxruntime`).
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    pub detector_backend: BackendArg,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the released models and whether they are in the cache.
    List,
    /// Download a released checkpoint, or the face detector, into the cache (resumes a partial
    /// download).
    Fetch {
        /// vit_small_ytf, vit_base_ytf, vit_large_ytf, retinaface (FaceX-Zoo's detector, from
        /// its GitHub repository; `MARLIN_DETECTOR_URL` overrides the address), or onnxruntime
        /// (ONNX Runtime's CPU library from its PyPI wheel, SHA-256 checked; found there by
        /// the onnx backends; `MARLIN_ONNXRUNTIME_URL` overrides the address).
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
        #[command(flatten)]
        engine: EngineArgs,
        /// Clips to time, after one warm-up batch.
        #[arg(long, default_value_t = 4)]
        clips: usize,
        /// Clips per forward.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// Face detector speed on one image (or a video's first frame): median of `--repeat`
    /// detections after a warm-up; last line `ms/frame=<x>`.
    Detect {
        input: PathBuf,
        #[command(flatten)]
        detector: DetectorArgs,
        #[arg(long, default_value_t = 10)]
        repeat: usize,
        /// Also time detection on the frame downscaled to this longer side, and report the IoU
        /// of its top box with the full-resolution one.
        #[arg(long, value_name = "PX")]
        max_side: Option<usize>,
    },
    /// Decode throughput: every frame of VIDEO decoded and converted to RGB; last line
    /// `frames/s=<x>`.
    Decode {
        video: PathBuf,
        #[command(flatten)]
        video_args: VideoArgs,
        /// Passes over the video; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}
