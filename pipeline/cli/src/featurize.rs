//! `marlin featurize` and `marlin merge`: settings from the config file and flags, the model and
//! detector loaded, SIGINT/SIGTERM turned into a clean stop, progress shown, exit status set.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use marlin_batch::{FeaturizeConfig, Featurizer, Inputs, ModelInfo, Shard, Stats};

use crate::args::FeaturizeArgs;

/// Exit status when some videos failed.
const SOME_FAILED: u8 = 2;
/// Exit status after SIGINT/SIGTERM (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

pub fn run(args: FeaturizeArgs) -> anyhow::Result<ExitCode> {
    execute(args, |_| Ok(())).map(|(code, _)| code)
}

/// Runs featurize; returns the exit status and the folder written (the shard's own when
/// sharded). `accept_model` sees the loaded model's record before anything is written.
pub fn execute(
    args: FeaturizeArgs,
    accept_model: impl FnOnce(&ModelInfo) -> anyhow::Result<()>,
) -> anyhow::Result<(ExitCode, std::path::PathBuf)> {
    let config = settings(&args)?;
    let shard = match args.shard {
        Some(s) => Some(s),
        None => Shard::from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let inputs = Inputs::collect_for_run(&args.inputs, &config.extensions)?;

    let spec =
        config.model.clone().context("no model: pass --model CKPT|NAME or set `model:` in the --settings file")?;
    let (engine, info) = marlin_onnx::open_featurize_model(&config, &spec)?;
    accept_model(&info)?;
    let detector = marlin_onnx::open_featurize_detector(&config)?;

    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // a second signal while stopping exits at once
        signal_hook::flag::register_conditional_shutdown(signal, INTERRUPTED.into(), Arc::clone(&cancel))
            .context("cannot install signal handlers")?;
        signal_hook::flag::register(signal, Arc::clone(&cancel)).context("cannot install signal handlers")?;
    }
    let stats = Stats::default();
    let featurizer = Featurizer {
        config: &config,
        encoder: engine.extractor.as_ref(),
        detector: detector.as_deref(),
        model: &info,
        cancel: &cancel,
        stats: &stats,
    };
    let finished = AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        if !args.quiet {
            s.spawn(|| show_progress(&stats, &finished));
        }
        let result = featurizer.run(inputs, &args.out, args.resume, shard);
        finished.store(true, Ordering::Relaxed);
        result
    })?;

    let c = summary.counts;
    let snap = stats.snapshot();
    eprintln!(
        "{}: {} videos: {} done, {} failed{}; {} rows in features.npy; this run: {} clips",
        summary.out.display(),
        c.videos,
        c.done,
        c.failed,
        if c.pending > 0 { format!(", {} not started or unfinished", c.pending) } else { String::new() },
        c.rows,
        snap.clips,
    );
    if snap.clips > 0 {
        eprintln!("stages: {}", snap.stage_line(summary.wall_s));
    }
    if summary.interrupted {
        eprintln!("interrupted: the finished videos are written; rerun with --resume to continue");
        return Ok((ExitCode::from(INTERRUPTED), summary.out));
    }
    if c.failed > 0 {
        eprintln!("{} videos failed: see {}", c.failed, summary.out.join("failures.csv").display());
        return Ok((ExitCode::from(SOME_FAILED), summary.out));
    }
    Ok((ExitCode::SUCCESS, summary.out))
}

pub fn merge(dir: &Path) -> anyhow::Result<()> {
    let c = marlin_batch::merge(dir)?;
    eprintln!("{}: merged {} videos ({} done, {} failed), {} rows", dir.display(), c.videos, c.done, c.failed, c.rows);
    Ok(())
}

/// The config file, then the flags over it.
fn settings(args: &FeaturizeArgs) -> anyhow::Result<FeaturizeConfig> {
    let mut c = match args.settings_file() {
        Some(p) => FeaturizeConfig::from_yaml_file(p)?,
        None => FeaturizeConfig::default(),
    };
    if let Some(m) = &args.model {
        c.model = Some(m.clone());
    }
    if let Some(m) = &args.model_config {
        c.model_config = Some(m.clone());
    }
    c.faces.crop_face |= args.crop_face;
    c.output.keep_seq |= args.keep_seq;
    if let Some(v) = args.jobs {
        c.jobs = v;
    }
    if let Some(v) = args.batch {
        c.batch_size = v;
    }
    if let Some(v) = args.threads {
        c.encoder_threads = v;
    }
    if let Some(v) = args.precision {
        c.precision = v;
    }
    if let Some(v) = args.backend {
        c.backend = v;
    }
    if let Some(v) = args.detector_backend {
        c.faces.backend = v;
    }
    if let Some(v) = args.layout {
        c.output.layout = v;
    }
    if let Some(v) = &args.detector {
        c.faces.detector = Some(v.clone());
    }
    c.validate()?;
    Ok(c)
}

/// A progress bar on a terminal, a log line every 30 s otherwise, until `finished`.
fn show_progress(stats: &Stats, finished: &AtomicBool) {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} videos {msg} ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut last_log = Instant::now();
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let s = stats.snapshot();
        let msg = s.progress(started.elapsed().as_secs_f64());
        match &bar {
            Some(bar) => {
                bar.set_length(s.videos_total);
                bar.set_position(s.videos_finished());
                bar.set_message(msg);
            }
            None if last_log.elapsed() >= Duration::from_secs(30) => {
                last_log = Instant::now();
                eprintln!(
                    "progress: {}/{} videos, {msg} (+{} finished earlier)",
                    s.videos_finished(),
                    s.videos_total,
                    s.videos_earlier
                );
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
