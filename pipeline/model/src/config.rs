//! Model configuration: the released presets (`configs/models/*.yaml`, embedded in the binary)
//! and MARLIN's own training YAML format, read with the same keys as the official
//! `register_model_from_yaml`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

/// One transformer stack (encoder or decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
}

/// A MARLIN model's architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct MarlinConfig {
    pub name: String,
    pub img_size: usize,
    pub patch_size: usize,
    pub n_frames: usize,
    pub tubelet_size: usize,
    pub mlp_ratio: f64,
    pub qkv_bias: bool,
    pub qk_scale: Option<f64>,
    /// Layer-scale initial value; > 0 means the blocks carry `gamma_1` / `gamma_2`.
    pub init_values: f64,
    pub encoder: StackConfig,
    pub decoder: StackConfig,
}

/// MARLIN's YAML (`config/pretrain/*.yaml` in the official repo). Training-only keys
/// (learning rate, optimiser, masking…) are accepted and ignored, as the official loader does.
#[derive(Debug, Deserialize)]
struct MarlinYaml {
    model_name: Option<String>,
    img_size: usize,
    patch_size: usize,
    clip_frames: usize,
    tubelet_size: usize,
    mlp_ratio: f64,
    qkv_bias: bool,
    qk_scale: Option<f64>,
    drop_rate: f64,
    attn_drop_rate: f64,
    norm_layer: String,
    init_values: f64,
    encoder: StackConfig,
    decoder: StackConfig,
    #[serde(flatten)]
    training: BTreeMap<String, serde_norway::Value>,
}

/// Training keys of MARLIN's own configs: present in real files, irrelevant to inference.
const TRAINING_KEYS: &[&str] = &[
    "mask_strategy",
    "temporal_sample_rate",
    "mask_percentage_target",
    "weight_decay",
    "feature_dir",
    "adv_loss",
    "adv_weight",
    "gp_weight",
    "d_steps",
    "g_steps",
    "learning_rate",
    "optimizer",
];

/// Bounds of the architecture's sizes: far above the released models (224², 16 frames, width
/// 1024, depth 24, MLP ×4), low enough that no size derived from them overflows.
const MAX_IMG_SIZE: usize = 4096;
const MAX_FRAMES: usize = 1024;
const MAX_WIDTH: usize = 16384;
const MAX_DEPTH: usize = 256;
const MAX_MLP_RATIO: f64 = 64.0;

/// The released architectures, by preset name.
pub const PRESETS: &[(&str, &str)] = &[
    ("vit_small", include_str!("../../../configs/models/vit_small.yaml")),
    ("vit_base", include_str!("../../../configs/models/vit_base.yaml")),
    ("vit_large", include_str!("../../../configs/models/vit_large.yaml")),
];

impl MarlinConfig {
    /// Parses MARLIN's YAML format; `origin` names the file in errors.
    /// Whether YAML `text` is a mapping with a MARLIN model config's keys (`model_name`,
    /// `img_size` or an `encoder` with `embed_dim`), whatever else it holds.
    pub fn is_model_yaml(text: &str) -> bool {
        let Ok(serde_norway::Value::Mapping(m)) = serde_norway::from_str::<serde_norway::Value>(text) else {
            return false;
        };
        let has = |k: &str| m.contains_key(k);
        has("model_name") || has("img_size") || m.get("encoder").and_then(|e| e.get("embed_dim")).is_some()
    }

    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, ModelError> {
        let err = |detail: String| ModelError::Config { origin: origin.to_string(), detail };
        let y: MarlinYaml = serde_norway::from_str(text).map_err(|e| match Self::is_model_yaml(text) {
            true => err(e.to_string()),
            false => err(format!(
                "not a MARLIN model config: it has none of model_name, img_size, encoder ({e}); a `marlin featurize` settings file is given with --settings"
            )),
        })?;
        for key in y.training.keys() {
            if !TRAINING_KEYS.contains(&key.as_str()) {
                tracing::warn!("{origin}: unknown key `{key}` ignored");
            }
        }
        for (key, rate) in [("drop_rate", y.drop_rate), ("attn_drop_rate", y.attn_drop_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(err(format!("{key} is {rate}, outside [0, 1]")));
            }
        }
        if y.drop_rate != 0.0 || y.attn_drop_rate != 0.0 {
            tracing::debug!("{origin}: dropout rates only matter in training; inference runs without dropout");
        }
        if y.norm_layer != "LayerNorm" {
            return Err(err(format!("norm_layer {:?}: only \"LayerNorm\" exists in MARLIN", y.norm_layer)));
        }
        let cfg = MarlinConfig {
            name: y.model_name.unwrap_or_else(|| origin.to_string()),
            img_size: y.img_size,
            patch_size: y.patch_size,
            n_frames: y.clip_frames,
            tubelet_size: y.tubelet_size,
            mlp_ratio: y.mlp_ratio,
            qkv_bias: y.qkv_bias,
            qk_scale: y.qk_scale,
            init_values: y.init_values,
            encoder: y.encoder,
            decoder: y.decoder,
        };
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Reads a YAML config file in MARLIN's format.
    pub fn from_yaml_file(path: &Path) -> Result<Self, ModelError> {
        let text = marlin_npy::read_input_to_string(path).map_err(|e| ModelError::Config {
            origin: path.display().to_string(),
            detail: format!("cannot read: {e}"),
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// A released architecture: `vit_small`, `vit_base` or `vit_large`.
    pub fn preset(name: &str) -> Option<Self> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        Self::from_yaml_str(text, &format!("configs/models/{name}.yaml")).ok()
    }

    /// The preset whose encoder has this width and depth.
    pub fn preset_matching(embed_dim: usize, depth: usize) -> Option<Self> {
        PRESETS
            .iter()
            .filter_map(|(n, _)| Self::preset(n))
            .find(|c| c.encoder.embed_dim == embed_dim && c.encoder.depth == depth)
    }

    /// Every setting within its range (so no size computed from them overflows or allocates
    /// beyond reason), every number finite, and the sizes dividing as the architecture needs.
    fn validate(&self) -> Result<(), String> {
        let out_of = |key: &str, value: String, range: &str| Err(format!("{key} is {value}, outside {range}"));
        let sizes = [
            ("img_size", self.img_size, 1, MAX_IMG_SIZE),
            ("patch_size", self.patch_size, 1, self.img_size),
            ("clip_frames", self.n_frames, 1, MAX_FRAMES),
            ("tubelet_size", self.tubelet_size, 1, self.n_frames),
            ("encoder.embed_dim", self.encoder.embed_dim, 1, MAX_WIDTH),
            ("encoder.depth", self.encoder.depth, 1, MAX_DEPTH),
            ("encoder.num_heads", self.encoder.num_heads, 1, self.encoder.embed_dim),
            ("decoder.embed_dim", self.decoder.embed_dim, 0, MAX_WIDTH),
            ("decoder.depth", self.decoder.depth, 0, MAX_DEPTH),
            ("decoder.num_heads", self.decoder.num_heads, 0, self.decoder.embed_dim),
        ];
        for (key, v, lo, hi) in sizes {
            if !(lo..=hi).contains(&v) {
                return out_of(key, v.to_string(), &format!("{lo}..={hi}"));
            }
        }
        let reals = [
            ("mlp_ratio", Some(self.mlp_ratio), self.mlp_ratio > 0.0 && self.mlp_ratio <= MAX_MLP_RATIO, "(0, 64]"),
            (
                "qk_scale",
                self.qk_scale,
                self.qk_scale.is_some_and(|q| q.is_finite() && q > 0.0),
                "finite numbers above 0",
            ),
            (
                "init_values",
                Some(self.init_values),
                self.init_values.is_finite() && self.init_values >= 0.0,
                "finite numbers >= 0",
            ),
        ];
        for (key, v, ok, range) in reals {
            if let Some(v) = v
                && !ok
            {
                return out_of(key, v.to_string(), range);
            }
        }
        if !self.img_size.is_multiple_of(self.patch_size) {
            return Err(format!("img_size {} is not a multiple of patch_size {}", self.img_size, self.patch_size));
        }
        if !self.n_frames.is_multiple_of(self.tubelet_size) {
            return Err(format!(
                "clip_frames {} is not a multiple of tubelet_size {}",
                self.n_frames, self.tubelet_size
            ));
        }
        for (which, s) in [("encoder", self.encoder), ("decoder", self.decoder)] {
            if s.num_heads > 0 && !s.embed_dim.is_multiple_of(s.num_heads) {
                return Err(format!(
                    "{which}.embed_dim {} is not a multiple of num_heads {}",
                    s.embed_dim, s.num_heads
                ));
            }
        }
        if self.mlp_hidden(self.encoder.embed_dim) == 0 {
            return Err(format!(
                "mlp_ratio {} leaves the MLP of an encoder of width {} no hidden units",
                self.mlp_ratio, self.encoder.embed_dim
            ));
        }
        Ok(())
    }

    /// Tokens per clip: (frames / tubelet) · (img / patch)².
    pub fn num_tokens(&self) -> usize {
        let side = self.img_size / self.patch_size;
        (self.n_frames / self.tubelet_size) * side * side
    }

    /// Values in one token's patch: 3 · tubelet · patch².
    pub fn patch_dim(&self) -> usize {
        3 * self.tubelet_size * self.patch_size * self.patch_size
    }

    /// Floating-point operations (2 per multiply-add) of one clip through the encoder:
    /// patch embedding, and per block qkv, q·kᵀ, attention·v, proj and the two MLP layers.
    pub fn encoder_flops(&self) -> f64 {
        let (n, d) = (self.num_tokens() as f64, self.encoder.embed_dim as f64);
        let h = self.mlp_hidden(self.encoder.embed_dim) as f64;
        let block = 2.0 * n * d * (3.0 * d + d + 2.0 * h) + 4.0 * n * n * d;
        2.0 * n * self.patch_dim() as f64 * d + self.encoder.depth as f64 * block
    }

    /// The MLP's hidden width, `int(dim · mlp_ratio)` as the official code computes it.
    pub fn mlp_hidden(&self, dim: usize) -> usize {
        (dim as f64 * self.mlp_ratio) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_with_the_released_shapes() {
        let s = MarlinConfig::preset("vit_small").unwrap();
        assert_eq!((s.encoder.embed_dim, s.encoder.depth, s.encoder.num_heads), (384, 12, 6));
        let b = MarlinConfig::preset("vit_base").unwrap();
        assert_eq!((b.encoder.embed_dim, b.encoder.depth, b.encoder.num_heads), (768, 12, 12));
        let l = MarlinConfig::preset("vit_large").unwrap();
        assert_eq!((l.encoder.embed_dim, l.encoder.depth, l.encoder.num_heads), (1024, 24, 16));
        assert_eq!(s.num_tokens(), 1568);
        assert_eq!(s.patch_dim(), 1536);
        // the blocks alone are the 112 and 357 GFLOP usually quoted; the patch embedding adds
        // 2·1568·1536·D
        assert_eq!((s.encoder_flops() / 1e9).round(), 114.0);
        assert_eq!((b.encoder_flops() / 1e9).round(), 361.0);
        assert_eq!(MarlinConfig::preset_matching(768, 12).unwrap().name, "marlin_vit_base_ytf");
    }

    #[test]
    fn missing_key_is_named() {
        let text = include_str!("../../../configs/models/vit_small.yaml").replace("patch_size: 16\n", "");
        let e = MarlinConfig::from_yaml_str(&text, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("x.yaml") && e.contains("patch_size"), "{e}");
    }

    #[test]
    fn typo_in_a_stack_is_rejected_with_its_line() {
        let text = include_str!("../../../configs/models/vit_small.yaml").replace("num_heads: 6", "num_head: 6");
        let e = MarlinConfig::from_yaml_str(&text, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("num_head") && e.contains("line"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_or_not_finite_are_named_with_their_range() {
        let base = include_str!("../../../configs/models/vit_small.yaml");
        for (from, to, named) in [
            ("qk_scale: null", "qk_scale: .nan", "qk_scale is NaN"),
            ("mlp_ratio: 4.0", "mlp_ratio: .inf", "mlp_ratio is inf"),
            ("init_values: 0.0", "init_values: -1", "init_values is -1"),
            ("img_size: 224", "img_size: 1000000000000", "img_size is 1000000000000, outside 1..=4096"),
            ("depth: 12", "depth: 100000", "encoder.depth is 100000, outside 1..=256"),
            ("drop_rate: 0.0", "drop_rate: .nan", "drop_rate is NaN"),
        ] {
            assert!(base.contains(from), "{from}");
            let text = base.replacen(from, to, 1);
            let e = MarlinConfig::from_yaml_str(&text, "x.yaml").unwrap_err().to_string();
            assert!(e.contains("x.yaml") && e.contains(named), "{to}: {e}");
        }
    }

    #[test]
    fn heads_must_divide_width() {
        let text = include_str!("../../../configs/models/vit_small.yaml").replace("num_heads: 6", "num_heads: 5");
        let e = MarlinConfig::from_yaml_str(&text, "x.yaml").unwrap_err().to_string();
        assert!(e.contains("not a multiple of num_heads 5"), "{e}");
    }
}
