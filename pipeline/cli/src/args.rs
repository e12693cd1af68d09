//! The command line, as clap parses it.

use std::path::{Path, PathBuf};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use marlin_batch::config::{DecodeConfig, FacesConfig, Layout, SamplingConfig};
use marlin_batch::{ExtractSettings, Reduction, VideoSettings};
use marlin_faces::{CropMode, Faces};
use marlin_kernels::mask::MaskStrategy;
use marlin_media::sampling::TailPolicy;
use marlin_media::{ColourMode, DecoderChoice, Orientation};
use marlin_model::{Backend, Precision};
use marlin_onnx::InputLayout;
use marlin_probe::Level;
use marlin_settings::Named;

/// The value parser of a library choice: its names, each with its description in `--help`.
pub fn choice<T: Named + Clone>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|v| PossibleValue::new(v.name()).help(v.about())))
        .try_map(|name| marlin_settings::parse::<T>(&name))
}

/// MARLIN facial video features, many times faster than the official code.
#[derive(Debug, Parser)]
#[command(name = "marlin", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug); MARLIN_LOG=<filter> overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[arg(long, global = true, value_name = "PATH",
        help = format!("libonnxruntime.so (≥ 1.31) for the ONNX backends (default: {})", marlin_onnx::RUNTIME_SEARCH))]
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
    /// clip_scores.csv and scores.csv (each video's score and fake/real label) and the report
    /// (report/index.html).
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
    #[arg(long, value_parser = choice::<MaskStrategy>(), default_value_t = MaskStrategy::default())]
    pub mask: MaskStrategy,
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
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub faces: FaceArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// OUT.npy, OUT.png or OUT.mp4.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
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
        #[arg(long, value_parser = choice::<Level>(), default_value_t = Level::default())]
        level: Level,
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
        #[command(flatten)]
        model_config: ModelConfigArg,
        #[arg(long, value_parser = choice::<Level>(), default_value_t = Level::default())]
        level: Level,
        #[arg(long, default_value = "fake")]
        positive: String,
        #[arg(long, default_value = "real")]
        negative: String,
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        #[arg(short, long, value_name = "PROBE.json")]
        output: PathBuf,
    },
    /// Score a featurize output: clip_scores.csv (per clip), scores.csv (per video, with the
    /// label at the probe's threshold) and the report (report/index.html).
    Score {
        #[arg(long, value_name = "PROBE.json")]
        probe: PathBuf,
        #[arg(long, value_name = "DIR")]
        features: PathBuf,
        /// Per-video score from the clips': mean, max, or top3 (mean of the 3 highest; any k).
        #[arg(long, default_value = "mean")]
        video_score: String,
        /// Where the CSVs and the report go (default: the features folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, value_name = "N", default_value_t = marlin_probe::report::DEFAULT_CARDS, help = REPORT_TOP_HELP)]
        report_top: usize,
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
    #[arg(long, value_name = "N", default_value_t = marlin_probe::report::DEFAULT_CARDS, help = REPORT_TOP_HELP)]
    pub report_top: usize,
    #[command(flatten)]
    pub featurize: FeaturizeArgs,
}

const REPORT_TOP_HELP: &str = "How many flagged videos (highest scores first) get their evidence in the report: a \
    timeline, the faces of their most suspicious clips, a player. Every video is in its table";

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
    #[command(flatten)]
    pub model_config: ModelConfigArg,
    /// Encoder threads (0: every core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The encoder's arithmetic.
    #[arg(long, value_parser = choice::<Precision>(), default_value_t = Precision::default())]
    pub precision: Precision,
}

/// `--model-config`: MARLIN's YAML model config (`--config`, its old name, still works here
/// for a release, with a warning).
#[derive(Debug, Args)]
pub struct ModelConfigArg {
    /// MARLIN's YAML model config (as config/pretrain/*.yaml in the official repo), or an
    /// architecture's name (vit_small, vit_base, vit_large); default: the released architecture
    /// matching the weights.
    #[arg(long, value_name = "YAML")]
    model_config: Option<PathBuf>,
    /// The old name of --model-config.
    #[arg(long = "config", value_name = "YAML", hide = true, conflicts_with = "model_config")]
    config: Option<PathBuf>,
}

impl ModelConfigArg {
    /// The model config given (a YAML file, a preset or a released name), read; a warning when
    /// given under its old name.
    pub fn read(&self) -> Result<Option<marlin_model::MarlinConfig>, marlin_hub::HubError> {
        if self.config.is_some() {
            tracing::warn!("--config here is the model YAML: it is now --model-config (--config will go)");
        }
        self.config.as_deref().or(self.model_config.as_deref()).map(marlin_hub::resolve_config).transpose()
    }
}

impl ModelArgs {
    /// Opens the model on the engine `engine` names.
    pub fn open(&self, engine: &EngineArgs) -> Result<marlin_onnx::OpenedModel, marlin_onnx::OnnxError> {
        let config = self.model_config.read()?;
        let options = marlin_onnx::EngineOptions {
            threads: self.threads,
            precision: self.precision,
            onnxruntime: None,
            device: engine.device,
            tensorrt_cache: engine.tensorrt_cache.clone(),
        };
        marlin_onnx::open_model(&self.model, config, engine.backend, &options)
    }

    /// The checkpoint's architecture and weights, unpacked, and its file.
    pub fn read(&self) -> Result<marlin_hub::ModelFile, marlin_hub::HubError> {
        marlin_hub::read_model(&self.model, self.model_config.read()?)
    }

    /// The CPU model with its decoder (reconstruction).
    pub fn load(&self) -> Result<marlin_model::Marlin, marlin_hub::HubError> {
        marlin_hub::load_model(&self.model, self.model_config.read()?, self.threads, self.precision)
    }
}

/// Where the encoder computes.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Where the encoder computes.
    #[arg(long, value_parser = choice::<Backend>(), default_value_t = Backend::default())]
    pub backend: Backend,
    /// GPU index for cuda / tensorrt.
    #[arg(long, default_value_t = 0)]
    pub device: i32,
    /// TensorRT's engine cache (default: ~/.cache/marlin/tensorrt).
    #[arg(long, value_name = "DIR")]
    pub tensorrt_cache: Option<PathBuf>,
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
    /// What the graph takes.
    #[arg(long, value_parser = choice::<InputLayout>(), default_value_t = InputLayout::default())]
    pub input: InputLayout,
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
    /// Video decoder.
    #[arg(long, value_parser = choice::<DecoderChoice>(), default_value_t = DecodeConfig::default().decoder)]
    pub decoder: DecoderChoice,
    /// YUV → RGB.
    #[arg(long, value_parser = choice::<ColourMode>(), default_value_t = DecodeConfig::default().colour)]
    pub colour: ColourMode,
    /// Give a video up when GStreamer gives no frame, no error and no end for this many
    /// seconds (a damaged file can leave the decoder waiting forever).
    #[arg(long, value_name = "SECONDS", default_value_t = DecodeConfig::default().stall_timeout_s)]
    pub stall_timeout: f64,
    /// A video with a display rotation (phones): display (turned, as players, FFmpeg and
    /// OpenCV show it), stored (as recorded), official (as the official code reads it: turned
    /// for videos over 32 frames, stored for shorter ones; what `extract --compat` uses).
    #[arg(long, value_parser = choice::<Orientation>())]
    pub orientation: Option<Orientation>,
}

impl VideoArgs {
    /// The `decode` settings these flags give.
    pub fn config(&self) -> DecodeConfig {
        DecodeConfig {
            decoder: self.decoder,
            colour: self.colour,
            stall_timeout_s: self.stall_timeout,
            orientation: self.orientation,
        }
    }

    /// The decoding options, checked.
    pub fn options(&self) -> Result<marlin_media::DecodeOptions, marlin_batch::BatchError> {
        self.config().options()
    }
}

/// How a video's frames are cut into clips (MARLIN's rule).
#[derive(Debug, Args)]
pub struct SamplingArgs {
    /// Take every n-th frame inside a clip window.
    #[arg(long, default_value_t = SamplingConfig::default().sample_rate)]
    pub sample_rate: usize,
    /// Clip windows start every stride·sample-rate frames.
    #[arg(long, default_value_t = SamplingConfig::default().stride)]
    pub stride: usize,
    /// Frames after the last full window.
    #[arg(long, value_parser = choice::<TailPolicy>(), default_value_t = SamplingConfig::default().tail)]
    pub tail: TailPolicy,
    /// Stop after this many clips.
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Resample the video to this frame rate (by timestamps) before cutting clips.
    #[arg(long, value_name = "FPS")]
    pub fps: Option<f64>,
}

impl SamplingArgs {
    /// The `sampling` settings these flags give.
    pub fn config(&self) -> SamplingConfig {
        SamplingConfig {
            sample_rate: self.sample_rate,
            stride: self.stride,
            tail: self.tail,
            max_clips: self.max_clips,
            fps: self.fps,
        }
    }
}

/// Face detection and cropping of uncropped videos.
#[derive(Debug, Args)]
pub struct FaceArgs {
    /// Detect the face in every sampled frame and crop it to 224×224 (for uncropped videos).
    #[arg(long)]
    pub crop_face: bool,
    /// With --crop-face: reproduce the official crops bit for bit (the same as
    /// `--crop-mode compat`).
    #[arg(long, requires = "crop_face", conflicts_with = "crop_mode")]
    pub compat: bool,
    /// With --crop-face: how faces are cropped.
    #[arg(long, value_parser = choice::<CropMode>(), requires = "crop_face")]
    pub crop_mode: Option<CropMode>,
    /// With --crop-face (not compat): weight of the newest box in the temporal smoothing of
    /// boxes and landmarks, 0 < w ≤ 1 (1 turns smoothing off).
    #[arg(long, default_value_t = FacesConfig::default().smooth, requires = "crop_face")]
    pub smooth: f32,
    /// With --crop-face (not compat): which faces become clips (`all`: one row per (clip, face
    /// track), the rows listed in OUT.rows.csv as `row,clip,track`).
    #[arg(long, value_parser = choice::<Faces>(), default_value_t = FacesConfig::default().pick, requires = "crop_face")]
    pub faces: Faces,
    /// With --crop-face (not compat): run the detector on every k-th frame of a clip (and its
    /// last), interpolating boxes and landmarks in between. Faster by about k.
    #[arg(long, default_value_t = FacesConfig::default().detect_every, requires = "crop_face")]
    pub detect_every: usize,
    /// With --crop-face (not compat): detect on frames downscaled to this longer side (boxes
    /// scaled back). Faster on large videos; see docs/BENCHMARKS.md for its effect on boxes.
    #[arg(long, value_name = "PX", requires = "crop_face")]
    pub max_side: Option<usize>,
    /// With --crop-face (not compat): ignore faces narrower than this many pixels.
    #[arg(long, default_value_t = FacesConfig::default().min_face, value_name = "PX", requires = "crop_face")]
    pub min_face: f32,
}

impl FaceArgs {
    /// The `faces` settings these flags give (the detector file and backend are `DetectorArgs`').
    pub fn config(&self) -> FacesConfig {
        FacesConfig {
            crop_face: self.crop_face,
            mode: if self.compat { CropMode::Compat } else { self.crop_mode.unwrap_or_default() },
            pick: self.faces,
            smooth: self.smooth,
            detect_every: self.detect_every,
            max_side: self.max_side,
            min_face: self.min_face,
            ..FacesConfig::default()
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

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Any video GStreamer can open; without --crop-face its frames must be 224×224 face crops.
    pub video: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub video_args: VideoArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Clips per encoder forward.
    #[arg(long, default_value_t = ExtractSettings::default().batch)]
    pub batch: usize,
    #[command(flatten)]
    pub faces: FaceArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// With --crop-face: write each sampled frame's top detection and crop square here
    /// (`clip,frame,x1,y1,x2,y2,score,cx,cy,half`; empty box fields where no face was found).
    #[arg(long, value_name = "CSV", requires = "crop_face")]
    pub faces_csv: Option<PathBuf>,
    /// Every token's feature per clip, (n_clips, 1568, D), instead of the pooled (n_clips, D).
    #[arg(long)]
    pub keep_seq: bool,
    /// Reduce over clips.
    #[arg(long, value_parser = choice::<Reduction>(), default_value_t = Reduction::default())]
    pub reduction: Reduction,
    /// Output features, float32 .npy.
    #[arg(short, long, value_name = "OUT.npy")]
    pub output: PathBuf,
}

impl ExtractArgs {
    /// The extraction settings these flags give.
    pub fn settings(&self) -> ExtractSettings {
        let mut faces = self.faces.config();
        faces.detector = self.detector.detector.clone();
        faces.backend = self.detector.detector_backend;
        ExtractSettings {
            video: VideoSettings { sampling: self.sampling.config(), decode: self.video_args.config(), faces },
            batch: self.batch,
            keep_seq: self.keep_seq,
            reduction: self.reduction,
            log_faces: self.faces_csv.is_some(),
        }
    }
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
the shards. Every key of --settings is documented in configs/default.yaml.";

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
    settings: Option<PathBuf>,
    /// The old name of --settings.
    #[arg(long = "config", value_name = "YAML", hide = true, conflicts_with = "settings")]
    config: Option<PathBuf>,
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
    /// The encoder's arithmetic; key `precision`.
    #[arg(long, value_parser = choice::<Precision>())]
    pub precision: Option<Precision>,
    /// Where the encoder computes; key `backend`.
    #[arg(long, value_parser = choice::<Backend>())]
    pub backend: Option<Backend>,
    /// Where the face detector computes; key `faces.backend`.
    #[arg(long, value_parser = choice::<Backend>())]
    pub detector_backend: Option<Backend>,
    /// What is written; key `output.layout`.
    #[arg(long, value_parser = choice::<Layout>())]
    pub layout: Option<Layout>,
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

impl FeaturizeArgs {
    /// The settings file given, if any (warning when given under its old name).
    pub fn settings_file(&self) -> Option<&Path> {
        if let Some(p) = &self.config {
            tracing::warn!("--config here is the settings file: it is now --settings (--config will go)");
            return Some(p);
        }
        self.settings.as_deref()
    }
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
    /// Where the detector computes (the ONNX backends run its exported graph; GPU 0).
    #[arg(long, value_parser = choice::<Backend>(), default_value_t = FacesConfig::default().backend)]
    pub detector_backend: Backend,
}

impl DetectorArgs {
    /// Opens the detector (the given file, else the cached one) on its backend.
    pub fn open(&self) -> Result<Box<dyn marlin_faces::FaceDetector>, marlin_onnx::OnnxError> {
        let options = marlin_onnx::EngineOptions { threads: self.detector_threads, ..Default::default() };
        marlin_onnx::open_face_detector(self.detector.as_deref(), self.detector_backend, &options)
    }
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
