//! The MARLIN encoder forward on CPU: tubelet patch embedding, the loaded positional table,
//! pre-norm ViT blocks, and the two outputs of the official `extract_features`: the pooled
//! feature (token mean, *then* the final LayerNorm) and the per-token sequence (LayerNorm of
//! every token).

use std::cell::RefCell;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::ops::{gemm_strided, layer_norm, layer_norm_row, linear};
use crate::patchify::{Clip, patchify};
use crate::vmath::{gelu_in_place, softmax_in_place};
use crate::weights::{BlockWeights, EncoderWeights};
use crate::{MarlinConfig, ModelError};

/// Query rows per attention task: a block's scores (rows × tokens) stay in cache.
const QUERY_BLOCK: usize = 128;

/// The encoder: its config, its weights and the thread pool it computes on.
pub struct Encoder {
    cfg: MarlinConfig,
    weights: EncoderWeights,
    pool: rayon::ThreadPool,
    /// Activation buffers kept between forwards (no page faults in the hot loop).
    scratch: Mutex<Scratch>,
}

/// The last block's output for a batch of clips, before the final LayerNorm.
pub struct Hidden {
    /// (clips · tokens) × dim, row-major.
    pub values: Vec<f32>,
    pub clips: usize,
}

impl Encoder {
    /// An encoder computing on `threads` threads (0: one per core).
    pub fn new(cfg: MarlinConfig, weights: EncoderWeights, threads: usize) -> Result<Self, ModelError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("marlin-encoder-{i}"))
            .build()
            .map_err(|e| ModelError::Runtime(format!("cannot start the encoder threads: {e}")))?;
        Ok(Encoder { cfg, weights, pool, scratch: Mutex::new(Scratch::default()) })
    }

    pub fn config(&self) -> &MarlinConfig {
        &self.cfg
    }

    /// Feature width D.
    pub fn dim(&self) -> usize {
        self.cfg.encoder.embed_dim
    }

    /// Threads the encoder computes on.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The official `extract_features(x, keep_seq)`, one result per clip: (D,) pooled, or
    /// (tokens × D) with `keep_seq`.
    pub fn extract_features(&self, clips: &[Clip], keep_seq: bool) -> Result<Vec<Vec<f32>>, ModelError> {
        let hidden = self.forward(clips)?;
        Ok(if keep_seq { self.sequence(hidden) } else { self.pooled(&hidden) })
    }

    /// Runs every block on a batch of clips.
    pub fn forward(&self, clips: &[Clip]) -> Result<Hidden, ModelError> {
        for c in clips {
            c.check(&self.cfg)?;
        }
        Ok(self.pool.install(|| self.forward_checked(clips)))
    }

    /// The pooled feature per clip: LayerNorm(mean over tokens).
    pub fn pooled(&self, hidden: &Hidden) -> Vec<Vec<f32>> {
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        hidden
            .values
            .chunks_exact(n * d)
            .map(|clip| {
                let mut mean = vec![0f64; d];
                for tok in clip.chunks_exact(d) {
                    mean.iter_mut().zip(tok).for_each(|(m, &v)| *m += v as f64);
                }
                let mean: Vec<f32> = mean.iter().map(|&m| (m / n as f64) as f32).collect();
                let mut out = vec![0f32; d];
                layer_norm_row(&mean, &self.weights.norm, &mut out);
                out
            })
            .collect()
    }

    /// The per-token features per clip: LayerNorm of every token, (tokens × D).
    pub fn sequence(&self, hidden: Hidden) -> Vec<Vec<f32>> {
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        let mut out = vec![0f32; hidden.values.len()];
        self.pool.install(|| layer_norm(&hidden.values, d, &self.weights.norm, &mut out));
        out.chunks_exact(n * d).map(<[f32]>::to_vec).collect()
    }

    fn forward_checked(&self, clips: &[Clip]) -> Hidden {
        let cfg = &self.cfg;
        let (n, d, pd) = (cfg.num_tokens(), self.dim(), cfg.patch_dim());
        let rows = clips.len() * n;
        // a poisoned lock only means another forward panicked; the buffers are overwritten anyway
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let scratch = &mut *guard;
        scratch.ensure(rows, d, pd, cfg.mlp_hidden(d));
        let patches = &mut scratch.patches[..rows * pd];
        patches.par_chunks_mut(n * pd).zip(clips).for_each(|(out, clip)| patchify(clip, cfg, out));
        let mut x = vec![0f32; rows * d];
        linear(patches, rows, &self.weights.patch_embed, &mut x);
        x.par_chunks_mut(n * d).for_each(|clip| {
            clip.iter_mut().zip(&self.weights.pos_embed).for_each(|(v, p)| *v += p);
        });
        for block in &self.weights.blocks {
            self.block(block, &mut x, clips.len(), scratch);
        }
        Hidden { values: x, clips: clips.len() }
    }

    /// `x += attn(norm1(x)); x += mlp(norm2(x))` (each scaled by gamma when present).
    fn block(&self, w: &BlockWeights, x: &mut [f32], clips: usize, s: &mut Scratch) {
        let cfg = &self.cfg;
        let (n, d) = (cfg.num_tokens(), self.dim());
        let rows = clips * n;
        let heads = cfg.encoder.num_heads;
        let hd = d / heads;
        let scale = cfg.qk_scale.map_or((hd as f32).powf(-0.5), |s| s as f32);

        layer_norm(x, d, &w.norm1, &mut s.normed);
        linear(&s.normed, rows, &w.qkv, &mut s.qkv);
        // q = q · scale, as the official attention does before q·kᵀ
        s.qkv.par_chunks_mut(3 * d).for_each(|r| r[..d].iter_mut().for_each(|v| *v *= scale));
        self.attention(&s.qkv, clips, &mut s.attn_out);
        linear(&s.attn_out, rows, &w.proj, &mut s.normed);
        add_residual(x, &s.normed, w.gamma.as_ref().map(|g| g.0.as_slice()), d);

        layer_norm(x, d, &w.norm2, &mut s.normed);
        linear(&s.normed, rows, &w.fc1, &mut s.hidden);
        s.hidden.par_chunks_mut(1 << 14).for_each(gelu_in_place);
        linear(&s.hidden, rows, &w.fc2, &mut s.normed);
        add_residual(x, &s.normed, w.gamma.as_ref().map(|g| g.1.as_slice()), d);
    }

    /// Multi-head softmax attention over each clip's tokens, tiled over query blocks so no
    /// (tokens × tokens) matrix is ever held whole. `qkv` rows are [q·scale | k | v].
    fn attention(&self, qkv: &[f32], clips: usize, out: &mut [f32]) {
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        let heads = self.cfg.encoder.num_heads;
        let hd = d / heads;
        let blocks = n.div_ceil(QUERY_BLOCK);
        let out_ptr = SendPtr(out.as_mut_ptr());
        (0..clips * heads * blocks).into_par_iter().for_each(|task| {
            SCORES.with_borrow_mut(|scores| {
                scores.resize(QUERY_BLOCK * n, 0.0);
                let (clip, rest) = (task / (heads * blocks), task % (heads * blocks));
                let (h, qb) = (rest / blocks, rest % blocks);
                let q0 = qb * QUERY_BLOCK;
                let bq = QUERY_BLOCK.min(n - q0);
                let base = clip * n * 3 * d;
                let q = &qkv[base + q0 * 3 * d + h * hd..];
                let k = &qkv[base + d + h * hd..];
                let v = &qkv[base + 2 * d + h * hd..];
                let ld = 3 * d as isize;
                // SAFETY: q/k/v index rows < n with stride 3d inside this clip's qkv rows, scores
                // holds bq×n, and each task writes its own (rows q0..q0+bq, head h) output tile.
                unsafe {
                    gemm_strided(bq, n, hd, scores.as_mut_ptr(), (n as isize, 1), q.as_ptr(), (ld, 1), k.as_ptr(), (1, ld), false, false);
                    scores[..bq * n].chunks_exact_mut(n).for_each(softmax_in_place);
                    let o = out_ptr.get().add((clip * n + q0) * d + h * hd);
                    gemm_strided(bq, hd, n, o, (d as isize, 1), scores.as_ptr(), (n as isize, 1), v.as_ptr(), (ld, 1), false, false);
                }
            })
        });
    }
}

thread_local! {
    /// One attention task's (query block × tokens) scores, per worker thread.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Activations reused across blocks and forwards.
#[derive(Default)]
struct Scratch {
    patches: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    attn_out: Vec<f32>,
    hidden: Vec<f32>,
}

impl Scratch {
    /// Sizes every buffer for `rows` tokens (all clips of a batch).
    fn ensure(&mut self, rows: usize, d: usize, patch_dim: usize, hidden: usize) {
        for (buf, len) in [
            (&mut self.patches, rows * patch_dim),
            (&mut self.normed, rows * d),
            (&mut self.qkv, rows * 3 * d),
            (&mut self.attn_out, rows * d),
            (&mut self.hidden, rows * hidden),
        ] {
            buf.resize(len, 0.0);
        }
    }
}

fn add_residual(x: &mut [f32], y: &[f32], gamma: Option<&[f32]>, d: usize) {
    x.par_chunks_mut(d).zip(y.par_chunks(d)).for_each(|(x, y)| match gamma {
        Some(g) => x.iter_mut().zip(y).zip(g).for_each(|((x, y), g)| *x += g * y),
        None => x.iter_mut().zip(y).for_each(|(x, y)| *x += y),
    });
}

/// A raw output pointer shared by tasks that write disjoint regions.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);

impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: only used for disjoint writes, see `attention`.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
