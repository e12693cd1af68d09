//! Maps checkpoint tensors onto the encoder's parameters, following the PyTorch module tree
//! (`encoder.blocks.3.attn.qkv.weight` …), whatever the file's key prefix (`encoder.`,
//! `marlin.encoder.`). Checks every key, shape, element type (floating point only) and value
//! (finite only). The decoder tensors of a full checkpoint are mapped by
//! [`DecoderWeights::from_tensors`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marlin_checkpoint::{Checkpoint, Tensor};

use crate::{MarlinConfig, ModelError};

/// `y = x·Wᵀ + b` with W stored (out, in) as in PyTorch.
#[derive(Debug, Clone)]
pub struct LinearWeights {
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub out_dim: usize,
    pub in_dim: usize,
}

#[derive(Debug, Clone)]
pub struct LayerNormWeights {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct BlockWeights {
    pub norm1: LayerNormWeights,
    /// The fused q/k/v projection with the official bias `cat(q_bias, 0, v_bias)`.
    pub qkv: LinearWeights,
    pub proj: LinearWeights,
    pub norm2: LayerNormWeights,
    pub fc1: LinearWeights,
    pub fc2: LinearWeights,
    /// Layer scale (`init_values > 0` only).
    pub gamma: Option<(Vec<f32>, Vec<f32>)>,
}

#[derive(Debug, Clone)]
pub struct EncoderWeights {
    /// The Conv3d patch embedding as a linear map over (c, kt, ky, kx)-ordered patches.
    pub patch_embed: LinearWeights,
    /// The positional table (tokens × dim), loaded as stored.
    pub pos_embed: Vec<f32>,
    pub blocks: Vec<BlockWeights>,
    pub norm: LayerNormWeights,
}

/// Everything a checkpoint holds for MARLIN: the encoder, and the decoder tensors (keys
/// `decoder.*`, `enc_dec_proj.weight`) of a `.full.pt`.
#[derive(Debug, Clone)]
pub struct MarlinWeights {
    pub encoder: EncoderWeights,
    pub decoder: BTreeMap<String, Tensor>,
}

/// The key prefix in front of `encoder.` in a checkpoint (`""`, `"marlin."`, …).
pub(crate) fn key_prefix(ck: &Checkpoint) -> Result<String, ModelError> {
    const ANCHOR: &str = "encoder.patch_embedding.projection.weight";
    ck.tensors.keys().find_map(|k| k.strip_suffix(ANCHOR).map(str::to_string)).ok_or_else(|| ModelError::NotMarlin {
        path: ck.path.clone(),
        detail: format!("no `{ANCHOR}` key; found {}", sample_keys(ck.tensors.keys())),
    })
}

fn sample_keys<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let keys: Vec<_> = keys.collect();
    let shown: Vec<_> = keys.iter().take(5).map(|k| format!("`{k}`")).collect();
    if keys.len() > 5 { format!("{}, … ({} keys)", shown.join(", "), keys.len()) } else { shown.join(", ") }
}

/// Encoder width and depth as the tensors show them.
pub(crate) fn encoder_shape(ck: &Checkpoint, prefix: &str) -> (usize, usize) {
    let dim = ck
        .tensors
        .get(&format!("{prefix}encoder.patch_embedding.projection.weight"))
        .and_then(|t| t.shape.first().copied())
        .unwrap_or(0);
    let blocks = format!("{prefix}encoder.blocks.");
    let depth = ck
        .tensors
        .keys()
        .filter_map(|k| k.strip_prefix(&blocks)?.split('.').next()?.parse::<usize>().ok())
        .max()
        .map_or(0, |d| d + 1);
    (dim, depth)
}

/// Takes tensors by key, checking shapes, and remembers which keys were never there.
struct Taker<'a> {
    path: &'a Path,
    tensors: BTreeMap<String, Tensor>,
    missing: Vec<String>,
}

impl Taker<'_> {
    /// The values of `key`, checked: its shape, a floating-point type, finite values. A
    /// missing key is remembered (and reported by [`finish`](Self::finish)) and gives no values.
    fn take(&mut self, key: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let path = || self.path.to_path_buf();
        match self.tensors.remove(key) {
            Some(t) if t.shape != shape => Err(ModelError::ShapeMismatch {
                path: path(),
                key: key.to_string(),
                expected: shape.to_vec(),
                found: t.shape,
            }),
            Some(t) if !t.stored_as.is_float() => {
                Err(ModelError::NotFloat { path: path(), key: key.to_string(), dtype: format!("{:?}", t.stored_as) })
            }
            Some(t) => match t.data.iter().position(|v| !v.is_finite()) {
                Some(first) => Err(ModelError::NonFinite {
                    path: path(),
                    key: key.to_string(),
                    count: t.data.iter().filter(|v| !v.is_finite()).count(),
                    first,
                    value: t.data[first],
                }),
                None => Ok(t.data),
            },
            None => {
                self.missing.push(key.to_string());
                Ok(Vec::new())
            }
        }
    }
    fn linear(&mut self, key: &str, out_dim: usize, in_dim: usize, bias: bool) -> Result<LinearWeights, ModelError> {
        let weight = self.take(&format!("{key}.weight"), &[out_dim, in_dim])?;
        let bias = if bias { Some(self.take(&format!("{key}.bias"), &[out_dim])?) } else { None };
        Ok(LinearWeights { weight, bias, out_dim, in_dim })
    }
    fn layer_norm(&mut self, key: &str, dim: usize) -> Result<LayerNormWeights, ModelError> {
        Ok(LayerNormWeights {
            weight: self.take(&format!("{key}.weight"), &[dim])?,
            bias: self.take(&format!("{key}.bias"), &[dim])?,
        })
    }
    /// `depth` pre-norm blocks of width `d` under `{base}.{i}.`.
    fn blocks(
        &mut self,
        base: &str,
        depth: usize,
        d: usize,
        cfg: &MarlinConfig,
    ) -> Result<Vec<BlockWeights>, ModelError> {
        let hidden = cfg.mlp_hidden(d);
        let mut blocks = Vec::with_capacity(depth);
        for i in 0..depth {
            let b = |k: &str| format!("{base}.{i}.{k}");
            let norm1 = self.layer_norm(&b("norm1"), d)?;
            let mut qkv = self.linear(&b("attn.qkv"), 3 * d, d, false)?;
            if cfg.qkv_bias {
                let q = self.take(&b("attn.q_bias"), &[d])?;
                let v = self.take(&b("attn.v_bias"), &[d])?;
                qkv.bias = Some([q, vec![0.0; d], v].concat());
            }
            let proj = self.linear(&b("attn.proj"), d, d, true)?;
            let norm2 = self.layer_norm(&b("norm2"), d)?;
            let fc1 = self.linear(&b("mlp.layers.0.linear"), hidden, d, true)?;
            let fc2 = self.linear(&b("mlp.layers.1.linear"), d, hidden, true)?;
            let gamma = if cfg.init_values > 0.0 {
                Some((self.take(&b("gamma_1"), &[d])?, self.take(&b("gamma_2"), &[d])?))
            } else {
                None
            };
            blocks.push(BlockWeights { norm1, qkv, proj, norm2, fc1, fc2, gamma });
        }
        Ok(blocks)
    }
    /// Fails on keys never taken or never there.
    fn finish(self) -> Result<(), ModelError> {
        if !self.missing.is_empty() {
            return Err(ModelError::MissingKeys { path: self.path.to_path_buf(), keys: self.missing });
        }
        if !self.tensors.is_empty() {
            return Err(ModelError::UnexpectedKeys {
                path: self.path.to_path_buf(),
                keys: self.tensors.into_keys().collect(),
            });
        }
        Ok(())
    }
}

/// The MAE decoder of a full checkpoint: `enc_dec_proj`, mask token, positional table, blocks,
/// norm and the head predicting each token's pixels.
#[derive(Debug, Clone)]
pub struct DecoderWeights {
    /// `enc_dec_proj`: encoder width → decoder width, no bias.
    pub proj: LinearWeights,
    pub mask_token: Vec<f32>,
    /// The (tokens × decoder width) sine-cosine table, as stored.
    pub pos_embed: Vec<f32>,
    pub blocks: Vec<BlockWeights>,
    pub norm: LayerNormWeights,
    /// decoder width → patch_dim (3·kt·p·p) pixels.
    pub head: LinearWeights,
}

impl DecoderWeights {
    /// The decoder from the `decoder.*` / `enc_dec_proj.weight` tensors of `path`.
    pub fn from_tensors(
        tensors: BTreeMap<String, Tensor>,
        cfg: &MarlinConfig,
        path: &Path,
    ) -> Result<Self, ModelError> {
        let mut tk = Taker { path, tensors, missing: Vec::new() };
        let (e, d) = (cfg.encoder.embed_dim, cfg.decoder.embed_dim);
        let proj = tk.linear("enc_dec_proj", d, e, false)?;
        let mask_token = tk.take("decoder.mask_token", &[1, 1, d])?;
        let pos_embed = tk.take("decoder.pos_embedding.emb", &[1, cfg.num_tokens(), d])?;
        let blocks = tk.blocks("decoder.blocks", cfg.decoder.depth, d, cfg)?;
        let norm = tk.layer_norm("decoder.norm", d)?;
        let head = tk.linear("decoder.head", cfg.patch_dim(), d, true)?;
        tk.finish()?;
        Ok(DecoderWeights { proj, mask_token, pos_embed, blocks, norm, head })
    }
}

impl MarlinWeights {
    /// Builds the weights for `cfg` from `ck`, failing on missing, unexpected or misshapen
    /// tensors.
    pub fn from_checkpoint(ck: Checkpoint, cfg: &MarlinConfig) -> Result<Self, ModelError> {
        let prefix = key_prefix(&ck)?;
        let path: PathBuf = ck.path.clone();
        let mut decoder = BTreeMap::new();
        let mut encoder_tensors = BTreeMap::new();
        let mut unexpected = Vec::new();
        for (k, t) in ck.tensors {
            match k.strip_prefix(prefix.as_str()) {
                Some(rest) if rest.starts_with("encoder.") => {
                    encoder_tensors.insert(k, t);
                }
                Some(rest) if rest.starts_with("decoder.") || rest == "enc_dec_proj.weight" => {
                    decoder.insert(rest.to_string(), t);
                }
                _ => unexpected.push(k),
            }
        }
        let mut tk = Taker { path: &path, tensors: encoder_tensors, missing: Vec::new() };
        let d = cfg.encoder.embed_dim;
        let p = |k: &str| format!("{prefix}encoder.{k}");
        let (kt, ps) = (cfg.tubelet_size, cfg.patch_size);
        let patch_w = tk.take(&p("patch_embedding.projection.weight"), &[d, 3, kt, ps, ps])?;
        let patch_b = tk.take(&p("patch_embedding.projection.bias"), &[d])?;
        let patch_embed = LinearWeights { weight: patch_w, bias: Some(patch_b), out_dim: d, in_dim: cfg.patch_dim() };
        let pos_embed = tk.take(&p("pos_embedding.emb"), &[1, cfg.num_tokens(), d])?;
        let blocks = tk.blocks(&p("blocks"), cfg.encoder.depth, d, cfg)?;
        let norm = tk.layer_norm(&p("norm"), d)?;
        let Taker { missing, tensors: left, .. } = tk;
        if !missing.is_empty() {
            return Err(ModelError::MissingKeys { path, keys: missing });
        }
        unexpected.extend(left.into_keys());
        if !unexpected.is_empty() {
            unexpected.sort();
            return Err(ModelError::UnexpectedKeys { path, keys: unexpected });
        }
        Ok(MarlinWeights { encoder: EncoderWeights { patch_embed, pos_embed, blocks, norm }, decoder })
    }
}

impl EncoderWeights {
    /// Deterministic pseudo-random weights of the right shapes (uniform, scaled by
    /// 1/√fan_in; norms near 1): for benchmarks and tests where no checkpoint is at hand.
    pub fn random(cfg: &MarlinConfig, seed: u64) -> Self {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = move |len: usize, scale: f32, offset: f32| -> Vec<f32> {
            (0..len)
                .map(|_| {
                    // xorshift64*
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let u = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32;
                    offset + scale * (2.0 * u - 1.0)
                })
                .collect()
        };
        let mut linear = |out_dim: usize, in_dim: usize, bias: bool| LinearWeights {
            weight: uniform(out_dim * in_dim, (3.0 / in_dim as f32).sqrt(), 0.0),
            bias: bias.then(|| vec![0.01; out_dim]),
            out_dim,
            in_dim,
        };
        let d = cfg.encoder.embed_dim;
        let h = cfg.mlp_hidden(d);
        let norm = || LayerNormWeights { weight: vec![1.0; d], bias: vec![0.0; d] };
        let blocks = (0..cfg.encoder.depth)
            .map(|_| BlockWeights {
                norm1: norm(),
                qkv: linear(3 * d, d, true),
                proj: linear(d, d, true),
                norm2: norm(),
                fc1: linear(h, d, true),
                fc2: linear(d, h, true),
                gamma: (cfg.init_values > 0.0)
                    .then(|| (vec![cfg.init_values as f32; d], vec![cfg.init_values as f32; d])),
            })
            .collect();
        let patch_embed = linear(d, cfg.patch_dim(), true);
        let pos_embed = (0..cfg.num_tokens() * d).map(|i| ((i % 97) as f32 / 97.0 - 0.5) * 0.1).collect();
        EncoderWeights { patch_embed, pos_embed, blocks, norm: norm() }
    }
}
