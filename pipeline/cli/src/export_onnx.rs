//! `marlin export-onnx`: the encoder of a checkpoint as an ONNX graph, written through a
//! temporary file and a rename.

use anyhow::Context;
use marlin_onnx::{ExportOptions, export_encoder};

use crate::args::ExportOnnxArgs;

pub fn run(args: ExportOnnxArgs) -> anyhow::Result<()> {
    let marlin_hub::ModelFile { config: cfg, weights, .. } = args.model.read()?;
    let options = ExportOptions {
        input: args.input,
        keep_seq: args.keep_seq,
        batch: (!args.dynamic_batch).then_some(args.batch),
        opset: args.opset,
    };
    let bytes = export_encoder(&cfg, &weights.encoder, options)?;
    let out = &args.output;
    marlin_npy::write_atomic(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "{}: {} encoder, input `{}` {}, outputs `features`{}, opset {}, {:.1} MB",
        out.display(),
        cfg.name,
        options.input.name(),
        options.batch.map_or("(dynamic batch)".to_string(), |b| format!("(batch {b})")),
        if options.keep_seq { " and `tokens`" } else { "" },
        options.opset,
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
