//! `marlin models list|fetch`: the released MARLIN checkpoints and the face detector.

use indicatif::{ProgressBar, ProgressStyle};
use marlin_hub::{Progress, Release};

use crate::args::ModelsCommand;

pub fn run(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::List => {
            for r in Release::ALL {
                for full in [false, true] {
                    let p = r.cached_path(full)?;
                    let state = if p.is_file() { p.display().to_string() } else { "not downloaded".into() };
                    println!("{:<15} {:<8} {state}", r.name(), if full { "full" } else { "encoder" });
                }
            }
            let p = marlin_hub::cached_detector_path()?;
            let state = if p.is_file() { p.display().to_string() } else { "not downloaded".into() };
            println!("{:<15} {:<8} {state}", "retinaface", "detector");
            let p = marlin_hub::cached_onnxruntime()?;
            let state = if p.is_file() { p.display().to_string() } else { "not downloaded".into() };
            println!("{:<15} {:<8} {state}", "onnxruntime", marlin_hub::ONNXRUNTIME_VERSION);
            Ok(())
        }
        ModelsCommand::Fetch { name, .. } if name == "onnxruntime" => {
            eprintln!("fetching ONNX Runtime {} (CPU) from PyPI", marlin_hub::ONNXRUNTIME_VERSION);
            let path = marlin_hub::fetch_onnxruntime(&mut Bar(None))?;
            println!("{}", path.display());
            Ok(())
        }
        ModelsCommand::Fetch { name, .. } if name == "retinaface" => {
            eprintln!("fetching {} from {}", marlin_hub::DETECTOR_FILE, marlin_hub::detector_url());
            let dest = marlin_hub::fetch_detector(&mut Bar(None))?;
            println!("{}", dest.display());
            Ok(())
        }
        ModelsCommand::Fetch { name, full } => {
            let r = Release::parse(&name)?;
            eprintln!("fetching {} from {}", r.file_name(full), r.url(full));
            let path = r.fetch(full, &mut Bar(None))?;
            println!("{}", path.display());
            Ok(())
        }
    }
}

/// An indicatif progress bar on stderr.
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn start(&mut self, done: u64, total: Option<u64>) {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template("{bytes}/{total_bytes} [{bar:40}] {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(done);
        if let Some(old) = self.0.replace(bar) {
            old.abandon();
        }
    }
    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn finish(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}
