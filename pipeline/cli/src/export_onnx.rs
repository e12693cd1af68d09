//! `marlin export-onnx`: the encoder of a checkpoint as an ONNX graph, written through a
//! temporary file and a rename.

use anyhow::Context;
use marlin_onnx::{ExportOptions, InputLayout, export_encoder};

use crate::args::{ExportOnnxArgs, OnnxInputArg};
use crate::model_source;

pub fn run(args: ExportOnnxArgs) -> anyhow::Result<()> {
    let (cfg, weights, _) = model_source::read(&args.model)?;
    let options = ExportOptions {
        input: match args.input {
            OnnxInputArg::Frames => InputLayout::Frames,
            OnnxInputArg::Patches => InputLayout::Patches,
        },
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
