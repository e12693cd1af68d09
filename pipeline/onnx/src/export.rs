//! The MARLIN encoder written as an ONNX graph from loaded weights: the tubelet embedding (a
//! 3-D Conv over `frames`, or a MatMul over `patches` as the `patchify` kernel lays them out),
//! the positional table, the pre-norm blocks and the two outputs of the official
//! `extract_features`: `features` = LayerNorm(token mean) and, with `keep_seq`, `tokens` =
//! LayerNorm of every token.
//!
//! Attention is written as the plain MatMul → Softmax → MatMul that TensorRT and ONNX Runtime
//! fuse; norms are `LayerNormalization` (opset 17); GELU is the `Gelu` op from opset 20 and
//! its exact erf form below it.

use marlin_model::{BlockWeights, EncoderWeights, LinearWeights, MarlinConfig};
use prost::Message;

use crate::OnnxError;
use crate::graph::{Dim, GraphBuilder, float, int, ints};
use crate::proto::{ModelProto, OperatorSetIdProto, StringStringEntryProto};

/// The lowest and highest opsets the exporter writes.
pub const OPSETS: std::ops::RangeInclusive<i64> = 17..=21;

marlin_settings::named! {
    /// What the exported graph takes.
    pub enum InputLayout: "graph input", default Frames {
        /// `frames`: float32 (B, 3, T, H, W) in [0, 1], the official model input.
        Frames = "frames",
        /// `patches`: float32 (B, tokens, 3·kt·p·p), as the `patchify` kernel lays them out.
        Patches = "patches",
    }
}

/// How to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    pub input: InputLayout,
    /// Also output `tokens` (B, tokens, D).
    pub keep_seq: bool,
    /// The batch size; `None`: a dynamic batch axis named `batch`.
    pub batch: Option<usize>,
    pub opset: i64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { input: InputLayout::Frames, keep_seq: false, batch: Some(1), opset: *OPSETS.start() }
    }
}

/// The graph's metadata keys, read back by [`crate::OnnxEncoder::from_file`].
pub mod meta {
    pub const ARCHITECTURE: &str = "marlin.architecture";
    pub const DIM: &str = "marlin.dim";
    pub const TOKENS: &str = "marlin.tokens";
    pub const PATCH_DIM: &str = "marlin.patch_dim";
    pub const INPUT: &str = "marlin.input";
    pub const KEEP_SEQ: &str = "marlin.keep_seq";
}

/// The encoder of `cfg` with `weights` as a serialized ONNX model.
pub fn export_encoder(
    cfg: &MarlinConfig,
    weights: &EncoderWeights,
    options: ExportOptions,
) -> Result<Vec<u8>, OnnxError> {
    if !OPSETS.contains(&options.opset) {
        return Err(OnnxError::Opset(options.opset));
    }
    if options.batch == Some(0) {
        return Err(OnnxError::Export("a batch of 0 clips".into()));
    }
    let graph = EncoderGraph { cfg, opset: options.opset, g: GraphBuilder::default() }.build(weights, options);
    let model = ModelProto {
        // IR 8 came with opset 17, 9 with opsets 19–20, 10 with 21
        ir_version: match options.opset {
            ..=18 => 8,
            19..=20 => 9,
            _ => 10,
        },
        producer_name: "marlin-rs".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("MARLIN {} encoder ({} input)", cfg.name, options.input.name()),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: options.opset }],
        metadata_props: [
            (meta::ARCHITECTURE, cfg.name.clone()),
            (meta::DIM, cfg.encoder.embed_dim.to_string()),
            (meta::TOKENS, cfg.num_tokens().to_string()),
            (meta::PATCH_DIM, cfg.patch_dim().to_string()),
            (meta::INPUT, options.input.name().to_string()),
            (meta::KEEP_SEQ, options.keep_seq.to_string()),
        ]
        .into_iter()
        .map(|(key, value)| StringStringEntryProto { key: key.into(), value })
        .collect(),
    };
    Ok(model.encode_to_vec())
}

struct EncoderGraph<'a> {
    cfg: &'a MarlinConfig,
    opset: i64,
    g: GraphBuilder,
}

impl EncoderGraph<'_> {
    fn build(mut self, w: &EncoderWeights, o: ExportOptions) -> crate::proto::GraphProto {
        let cfg = self.cfg;
        let (n, d) = (cfg.num_tokens(), cfg.encoder.embed_dim);
        let batch = o.batch.map_or(Dim::Named("batch"), Dim::Fixed);
        let mut x = match o.input {
            InputLayout::Frames => {
                let (t, s) = (cfg.n_frames, cfg.img_size);
                let input = self
                    .g
                    .input("frames", &[batch.clone(), Dim::Fixed(3), Dim::Fixed(t), Dim::Fixed(s), Dim::Fixed(s)]);
                self.patch_conv(&input, &w.patch_embed)
            }
            InputLayout::Patches => {
                let input = self.g.input("patches", &[batch.clone(), Dim::Fixed(n), Dim::Fixed(cfg.patch_dim())]);
                self.linear(&input, &w.patch_embed, "patch_embed")
            }
        };
        let pos = self.g.weight("pos_embed", &[1, n, d], &w.pos_embed);
        x = self.g.op("Add", &[&x, &pos], vec![]);
        for (i, b) in w.blocks.iter().enumerate() {
            x = self.block(&x, b, i);
        }
        let (scale, bias) =
            (self.g.weight("norm.weight", &[d], &w.norm.weight), self.g.weight("norm.bias", &[d], &w.norm.bias));
        let mean = self.reduce_mean_tokens(&x);
        let features = self.layer_norm(&mean, &scale, &bias);
        self.g.output(&features, "features", &[batch.clone(), Dim::Fixed(d)]);
        if o.keep_seq {
            let tokens = self.layer_norm(&x, &scale, &bias);
            self.g.output(&tokens, "tokens", &[batch, Dim::Fixed(n), Dim::Fixed(d)]);
        }
        self.g.finish(&format!("marlin_{}_encoder", cfg.name))
    }

    /// Conv3d with kernel = stride = (kt, p, p), then (B, D, t, y, x) → (B, tokens, D).
    fn patch_conv(&mut self, frames: &str, l: &LinearWeights) -> String {
        let (kt, p, d) = (self.cfg.tubelet_size, self.cfg.patch_size, l.out_dim);
        let kernel = [kt as i64, p as i64, p as i64];
        let weight = self.g.weight("patch_embed.weight", &[d, 3, kt, p, p], &l.weight);
        let mut inputs = vec![frames.to_string(), weight];
        if let Some(b) = &l.bias {
            inputs.push(self.g.weight("patch_embed.bias", &[d], b));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let conv = self.g.op("Conv", &inputs, vec![ints("kernel_shape", &kernel), ints("strides", &kernel)]);
        let shape = self.g.ints("patch_embed.flat_shape", &[0, d as i64, -1]);
        let flat = self.g.op("Reshape", &[&conv, &shape], vec![]);
        self.g.op("Transpose", &[&flat], vec![ints("perm", &[0, 2, 1])])
    }

    /// `x·Wᵀ + b` with W stored (out, in): a MatMul against Wᵀ.
    fn linear(&mut self, x: &str, l: &LinearWeights, name: &str) -> String {
        self.linear_rows(x, l, 0..l.out_dim, name)
    }

    /// The Linear restricted to output rows `rows` (q, k or v of the fused projection).
    fn linear_rows(&mut self, x: &str, l: &LinearWeights, rows: std::ops::Range<usize>, name: &str) -> String {
        let (k, m) = (l.in_dim, rows.len());
        let mut wt = vec![0f32; k * m];
        for (j, r) in rows.clone().enumerate() {
            for (i, &v) in l.weight[r * k..(r + 1) * k].iter().enumerate() {
                wt[i * m + j] = v;
            }
        }
        let wt = self.g.weight(&format!("{name}.weight_t"), &[k, m], &wt);
        let y = self.g.op("MatMul", &[x, &wt], vec![]);
        match &l.bias {
            Some(b) => {
                let b = self.g.weight(&format!("{name}.bias"), &[m], &b[rows]);
                self.g.op("Add", &[&y, &b], vec![])
            }
            None => y,
        }
    }

    fn layer_norm(&mut self, x: &str, scale: &str, bias: &str) -> String {
        self.g.op(
            "LayerNormalization",
            &[x, scale, bias],
            vec![int("axis", -1), float("epsilon", marlin_model::LN_EPS as f32)],
        )
    }

    fn reduce_mean_tokens(&mut self, x: &str) -> String {
        if self.opset >= 18 {
            let axes = self.g.ints("token_axis", &[1]);
            self.g.op("ReduceMean", &[x, &axes], vec![int("keepdims", 0)])
        } else {
            self.g.op("ReduceMean", &[x], vec![ints("axes", &[1]), int("keepdims", 0)])
        }
    }

    /// The exact (erf) GELU: `Gelu` from opset 20, `x·½·(1 + erf(x/√2))` below it.
    fn gelu(&mut self, x: &str) -> String {
        if self.opset >= 20 {
            return self.g.op("Gelu", &[x], vec![]);
        }
        let (half, one, inv_sqrt2) = (
            self.g.scalar_shared("gelu.half", 0.5),
            self.g.scalar_shared("gelu.one", 1.0),
            self.g.scalar_shared("gelu.inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2),
        );
        let scaled = self.g.op("Mul", &[x, &inv_sqrt2], vec![]);
        let erf = self.g.op("Erf", &[&scaled], vec![]);
        let plus = self.g.op("Add", &[&erf, &one], vec![]);
        let halved = self.g.op("Mul", &[x, &half], vec![]);
        self.g.op("Mul", &[&halved, &plus], vec![])
    }

    /// `x + γ₁·attn(norm1(x))`, then `x + γ₂·mlp(norm2(x))`.
    fn block(&mut self, x: &str, b: &BlockWeights, i: usize) -> String {
        let name = format!("blocks.{i}");
        let d = b.proj.out_dim;
        let heads = self.cfg.encoder.num_heads;
        let hd = d / heads;
        let scale = self.cfg.qk_scale.map_or((hd as f32).powf(-0.5), |s| s as f32);

        let (s1, b1) = (
            self.g.weight(&format!("{name}.norm1.weight"), &[d], &b.norm1.weight),
            self.g.weight(&format!("{name}.norm1.bias"), &[d], &b.norm1.bias),
        );
        let h = self.layer_norm(x, &s1, &b1);
        let q = self.linear_rows(&h, &b.qkv, 0..d, &format!("{name}.attn.q"));
        let k = self.linear_rows(&h, &b.qkv, d..2 * d, &format!("{name}.attn.k"));
        let v = self.linear_rows(&h, &b.qkv, 2 * d..3 * d, &format!("{name}.attn.v"));
        let scale = self.g.scalar(&format!("{name}.attn.scale"), scale);
        let q = self.g.op("Mul", &[&q, &scale], vec![]);
        let split = self.g.ints_shared("attn.head_shape", &[0, 0, heads as i64, hd as i64]);
        let heads_of = |g: &mut GraphBuilder, t: &str, perm: &[i64]| {
            let r = g.op("Reshape", &[t, &split], vec![]);
            g.op("Transpose", &[&r], vec![ints("perm", perm)])
        };
        let q = heads_of(&mut self.g, &q, &[0, 2, 1, 3]);
        let kt = heads_of(&mut self.g, &k, &[0, 2, 3, 1]);
        let v = heads_of(&mut self.g, &v, &[0, 2, 1, 3]);
        let logits = self.g.op("MatMul", &[&q, &kt], vec![]);
        let attn = self.g.op("Softmax", &[&logits], vec![int("axis", -1)]);
        let o = self.g.op("MatMul", &[&attn, &v], vec![]);
        let o = self.g.op("Transpose", &[&o], vec![ints("perm", &[0, 2, 1, 3])]);
        let merge = self.g.ints_shared("attn.merge_shape", &[0, 0, d as i64]);
        let o = self.g.op("Reshape", &[&o, &merge], vec![]);
        let y = self.linear(&o, &b.proj, &format!("{name}.attn.proj"));
        let y = self.layer_scale(&y, b.gamma.as_ref().map(|g| &g.0), &format!("{name}.gamma_1"));
        let x = self.g.op("Add", &[x, &y], vec![]);

        let (s2, b2) = (
            self.g.weight(&format!("{name}.norm2.weight"), &[d], &b.norm2.weight),
            self.g.weight(&format!("{name}.norm2.bias"), &[d], &b.norm2.bias),
        );
        let h = self.layer_norm(&x, &s2, &b2);
        let m = self.linear(&h, &b.fc1, &format!("{name}.mlp.fc1"));
        let m = self.gelu(&m);
        let y = self.linear(&m, &b.fc2, &format!("{name}.mlp.fc2"));
        let y = self.layer_scale(&y, b.gamma.as_ref().map(|g| &g.1), &format!("{name}.gamma_2"));
        self.g.op("Add", &[&x, &y], vec![])
    }

    fn layer_scale(&mut self, y: &str, gamma: Option<&Vec<f32>>, name: &str) -> String {
        match gamma {
            Some(g) => {
                let g = self.g.weight(name, &[g.len()], g);
                self.g.op("Mul", &[y, &g], vec![])
            }
            None => y.to_string(),
        }
    }
}
