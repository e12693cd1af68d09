//! The MARLIN encoder forward on CPU: tubelet patch embedding, the loaded positional table,
//! pre-norm ViT blocks, and the two outputs of the official `extract_features`: the pooled
//! feature (token mean, *then* the final LayerNorm) and the per-token sequence (LayerNorm of
//! every token).
//!
//! Weights are packed once, at construction, for the product kernels of [`crate::matmul`];
//! bias, GELU and the residual add run in the products' epilogues. Attention is tiled over
//! query blocks (no tokens × tokens matrix is held) and parallel over (clip, head, block).
//!
//! In int8 every product is int8 (`crate::matmul::quant`): the linear layers' inputs quantised
//! per token, queries per (token, head) with the query scale folded into their row scales, keys
//! per token and values per channel when packed, softmax probabilities as `round(255·p)` with the
//! softmax's division folded into their row scales. LayerNorm, softmax, GELU and the residual
//! stream stay f32. The MLP runs over bands of rows, each band's hidden activations kept in L2.

use std::cell::RefCell;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::matmul::{
    Epilogue, Lhs, PackedB, Precision, QuantMatrix, QuantRows, SendPtr, Spread, convert_to_bf16, matmul, matmul_raw,
};
use crate::ops::{layer_norm, layer_norm_row};
use crate::patchify::{Clip, patchify};
use crate::vmath::{softmax_exp_in_place, softmax_exp_u8};
use crate::weights::{BlockWeights, EncoderWeights, LayerNormWeights, LinearWeights};
use crate::{MarlinConfig, ModelError};

/// Query rows per attention step: two 6-row tiles, whose (rows × tokens) scores stay in L1/L2
/// through q·kᵀ, softmax and p·v (measured: 6–24 rows beat 128 by about 5 % on one thread).
const QUERY_BLOCK: usize = 12;

/// Rows per band of the int8 MLP: the band's hidden rows (f32 and u8) and both packed int8
/// weights of vit_small stay in one core's 2 MB L2.
const MLP_BAND: usize = 48;

/// A Linear layer (weight and bias) packed for the product kernels.
pub(crate) fn dense(l: LinearWeights, precision: Precision) -> PackedB {
    PackedB::from_linear(&l.weight, l.bias.as_deref(), l.out_dim, l.in_dim, precision)
}

pub(crate) struct Block {
    norm1: LayerNormWeights,
    qkv: PackedB,
    proj: PackedB,
    norm2: LayerNormWeights,
    fc1: PackedB,
    fc2: PackedB,
    gamma: Option<(Vec<f32>, Vec<f32>)>,
}

impl Block {
    /// Packs one block's weights for the product kernels.
    pub(crate) fn pack(b: BlockWeights, precision: Precision) -> Self {
        Block {
            norm1: b.norm1,
            qkv: dense(b.qkv, precision),
            proj: dense(b.proj, precision),
            norm2: b.norm2,
            fc1: dense(b.fc1, precision),
            fc2: dense(b.fc2, precision),
            gamma: b.gamma,
        }
    }
}

/// A stack's shape in one forward: tokens per clip, width, heads and the query scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub tokens: usize,
    pub dim: usize,
    pub heads: usize,
    pub scale: f32,
}

impl Geometry {
    pub(crate) fn new(cfg: &MarlinConfig, tokens: usize, stack: crate::config::StackConfig) -> Self {
        let hd = stack.embed_dim / stack.num_heads;
        Geometry {
            tokens,
            dim: stack.embed_dim,
            heads: stack.num_heads,
            scale: cfg.qk_scale.map_or((hd as f32).powf(-0.5), |s| s as f32),
        }
    }
}

/// The encoder: its config, packed weights and the thread pool it computes on.
pub struct Encoder {
    cfg: MarlinConfig,
    precision: Precision,
    patch_embed: PackedB,
    pos_embed: Vec<f32>,
    blocks: Vec<Block>,
    norm: LayerNormWeights,
    pool: rayon::ThreadPool,
    /// Activation buffers kept between forwards (no allocation in the hot loop).
    scratch: Mutex<Scratch>,
}

/// The last block's output for a batch of clips, before the final LayerNorm.
pub struct Hidden {
    /// (clips · tokens) × dim, row-major.
    pub values: Vec<f32>,
    pub clips: usize,
}

impl Encoder {
    /// An encoder computing on `threads` threads (0: one per core) in `precision` (bf16 falls
    /// back to f32, with a warning, on CPUs without AVX512-BF16; int8 without VNNI is an error).
    pub fn new(
        cfg: MarlinConfig,
        weights: EncoderWeights,
        threads: usize,
        precision: Precision,
    ) -> Result<Self, ModelError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("marlin-encoder-{i}"))
            .build()
            .map_err(|e| ModelError::Runtime(format!("cannot start the encoder threads: {e}")))?;
        precision.check()?;
        let supported = precision.supported();
        if supported != precision {
            tracing::warn!("this CPU has no AVX512-BF16: computing in f32 instead of bf16");
        }
        let precision = supported;
        let EncoderWeights { patch_embed, pos_embed, blocks, norm } = weights;
        // packed one layer at a time, each unpacked copy freed before the next is packed
        let patch_embed = dense(patch_embed, precision);
        let blocks = blocks.into_iter().map(|b| Block::pack(b, precision)).collect();
        Ok(Encoder {
            cfg,
            precision,
            patch_embed,
            pos_embed,
            blocks,
            norm,
            pool,
            scratch: Mutex::new(Scratch::default()),
        })
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

    /// The arithmetic the encoder runs in.
    pub fn precision(&self) -> Precision {
        self.precision
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
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        Ok(self.with_scratch(clips.len() * n, d, |s| {
            let mut x = self.embed(clips, s);
            let g = Geometry::new(&self.cfg, n, self.cfg.encoder);
            for block in &self.blocks {
                self.block(block, &mut x, clips.len(), g, s);
            }
            Hidden { values: x, clips: clips.len() }
        }))
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
                layer_norm_row(&mean, &self.norm, &mut out);
                out
            })
            .collect()
    }

    /// The per-token features per clip: LayerNorm of every token, (tokens × D).
    pub fn sequence(&self, hidden: Hidden) -> Vec<Vec<f32>> {
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        let mut out = vec![0f32; hidden.values.len()];
        self.pool.install(|| layer_norm(&hidden.values, d, &self.norm, &mut out));
        out.chunks_exact(n * d).map(<[f32]>::to_vec).collect()
    }

    /// Runs `f` on the encoder's threads with the activation buffers sized for `rows` rows of
    /// width `d`.
    fn with_scratch<R: Send>(&self, rows: usize, d: usize, f: impl FnOnce(&mut Scratch) -> R + Send) -> R {
        self.pool.install(|| {
            // a poisoned lock only means another forward panicked; the buffers are overwritten anyway
            let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
            let s = &mut *guard;
            s.ensure(rows, d, self.cfg.patch_dim(), self.cfg.mlp_hidden(d), self.precision);
            f(s)
        })
    }

    /// Every token of each clip embedded: pos + (patches·Wᵀ + b), the official order of the two
    /// additions; (clips · tokens) × D.
    fn embed(&self, clips: &[Clip], s: &mut Scratch) -> Vec<f32> {
        let cfg = &self.cfg;
        let (n, d, pd) = (cfg.num_tokens(), self.dim(), cfg.patch_dim());
        let rows = clips.len() * n;
        let mut patches = std::mem::take(&mut s.patches);
        patches.par_chunks_mut(n * pd).zip(clips).for_each(|(out, clip)| patchify(clip, cfg, out));
        let mut x = vec![0f32; rows * d];
        for clip in x.chunks_exact_mut(n * d) {
            clip.copy_from_slice(&self.pos_embed);
        }
        self.dense(&patches, rows, &self.patch_embed, &mut x, Epilogue::Accumulate, s);
        s.patches = patches;
        x
    }

    /// The official `MarlinEncoder.forward(x, mask)` for one clip: the patch embedding and
    /// positional table of every token, then only the `visible` tokens (in token order) through
    /// the blocks and the final LayerNorm: (visible × D).
    pub fn forward_visible(&self, clip: &Clip, visible: &[u32]) -> Result<Vec<f32>, ModelError> {
        clip.check(&self.cfg)?;
        let (n, d) = (self.cfg.num_tokens(), self.dim());
        if visible.is_empty() || visible.iter().any(|&i| i as usize >= n) {
            return Err(ModelError::BadInput(format!(
                "a mask must leave between 1 and {n} tokens visible, all below {n}"
            )));
        }
        Ok(self.with_scratch(n, d, |s| {
            let all = self.embed(std::slice::from_ref(clip), s);
            let mut x = vec![0f32; visible.len() * d];
            marlin_kernels::mask::gather_rows(&all, d, visible, &mut x);
            let g = Geometry::new(&self.cfg, visible.len(), self.cfg.encoder);
            for block in &self.blocks {
                self.block(block, &mut x, 1, g, s);
            }
            let mut out = vec![0f32; x.len()];
            layer_norm(&x, d, &self.norm, &mut out);
            out
        }))
    }

    /// Runs `blocks` of shape `g` over `x` (`clips` × `g.tokens` rows), in place.
    pub(crate) fn run_blocks(&self, blocks: &[Block], x: &mut [f32], clips: usize, g: Geometry) {
        self.with_scratch(clips * g.tokens, g.dim, |s| {
            for block in blocks {
                self.block(block, x, clips, g, s);
            }
        })
    }

    /// `x·Wᵀ + b` for `rows` rows, on the encoder's threads.
    pub(crate) fn linear(&self, x: &[f32], rows: usize, l: &PackedB) -> Vec<f32> {
        self.with_scratch(rows, l.k(), |s| {
            let mut out = vec![0f32; rows * l.n()];
            self.dense(x, rows, l, &mut out, Epilogue::Store, s);
            out
        })
    }

    /// `out (epi)= x·Wᵀ + b`, converting `x` to bf16 first when the weights are bf16, quantising
    /// it per row when they are int8.
    fn dense(&self, x: &[f32], rows: usize, l: &PackedB, out: &mut [f32], epi: Epilogue, s: &mut Scratch) {
        let (lhs, lda) = if l.wants_bf16() {
            convert_to_bf16(&x[..rows * l.k()], &mut s.lhs16[..rows * l.k()]);
            (Lhs::Bf16(&s.lhs16), l.k())
        } else if l.wants_u8() {
            s.lhs8.quantize(x, rows, l.k(), l.k());
            let (q, lda) = s.lhs8.rows_from(0);
            (Lhs::U8(q), lda)
        } else {
            (Lhs::F32(x), l.k())
        };
        matmul(lhs, rows, lda, l, out, l.n(), epi, Spread::Pool);
    }

    /// `out (epi)= LayerNorm(x)·Wᵀ + b` (through `normed`; in int8 each normalised row is
    /// quantised as soon as it is computed, and `normed` is not used).
    #[allow(clippy::too_many_arguments)]
    fn normed_dense(
        &self,
        x: &[f32],
        rows: usize,
        ln: &LayerNormWeights,
        l: &PackedB,
        out: &mut [f32],
        epi: Epilogue,
        normed: &mut [f32],
        s: &mut Scratch,
    ) {
        let d = l.k();
        if l.wants_u8() {
            s.lhs8.quantize_by(rows, d, 1.0, |r, tmp| {
                layer_norm_row(&x[r * d..][..d], ln, tmp);
                None
            });
            let (q, lda) = s.lhs8.rows_from(0);
            matmul(Lhs::U8(q), rows, lda, l, out, l.n(), epi, Spread::Pool);
        } else {
            layer_norm(&x[..rows * d], d, ln, &mut normed[..rows * d]);
            self.dense(normed, rows, l, out, epi, s);
        }
    }

    /// `x += attn(norm1(x)); x += mlp(norm2(x))` (each scaled by gamma when present).
    fn block(&self, w: &Block, x: &mut [f32], clips: usize, g: Geometry, s: &mut Scratch) {
        let (d, scale) = (g.dim, g.scale);
        let rows = clips * g.tokens;

        let mut normed = std::mem::take(&mut s.normed);
        let mut qkv = std::mem::take(&mut s.qkv);
        let mut attn = std::mem::take(&mut s.attn_out);
        let mut hidden = std::mem::take(&mut s.hidden);

        self.normed_dense(x, rows, &w.norm1, &w.qkv, &mut qkv, Epilogue::Store, &mut normed, s);
        // q = q · scale, as the official attention does before q·kᵀ (int8 folds it into the
        // queries' row scales)
        if self.precision != Precision::Int8 {
            qkv[..rows * 3 * d].par_chunks_mut(3 * d).for_each(|r| r[..d].iter_mut().for_each(|v| *v *= scale));
        }
        self.attention(&qkv, clips, g, &mut attn, s);
        self.residual(&attn, rows, &w.proj, x, w.gamma.as_ref().map(|g| g.0.as_slice()), &mut normed, s);

        if w.fc1.wants_u8() {
            self.mlp_in_bands(w, &mut x[..rows * d], d);
        } else {
            self.normed_dense(x, rows, &w.norm2, &w.fc1, &mut hidden, Epilogue::Gelu, &mut normed, s);
            self.residual(&hidden, rows, &w.fc2, x, w.gamma.as_ref().map(|g| g.1.as_slice()), &mut normed, s);
        }

        s.normed = normed;
        s.qkv = qkv;
        s.attn_out = attn;
        s.hidden = hidden;
    }

    /// int8 `x += mlp(norm2(x))` over bands of [`MLP_BAND`] rows, each band on one thread with
    /// its buffers in L2: LayerNorm rows quantised as they are computed, fc1 with GELU into the
    /// band's hidden rows, those quantised, fc2 added to the band of `x` (scaled by gamma when
    /// present). The hidden activations never go through memory.
    fn mlp_in_bands(&self, w: &Block, x: &mut [f32], d: usize) {
        let hidden = w.fc1.n();
        let gamma = w.gamma.as_ref().map(|g| g.1.as_slice());
        x.par_chunks_mut(MLP_BAND * d).for_each(|band| {
            MLP.with_borrow_mut(|b| {
                let rows = band.len() / d;
                b.lhs.quantize_by(rows, d, 1.0, |r, tmp| {
                    layer_norm_row(&band[r * d..][..d], &w.norm2, tmp);
                    None
                });
                b.hidden.resize(rows * hidden, 0.0);
                let (q, lda) = b.lhs.rows_from(0);
                matmul(Lhs::U8(q), rows, lda, &w.fc1, &mut b.hidden, hidden, Epilogue::Gelu, Spread::Caller);
                b.lhs.quantize(&b.hidden, rows, hidden, hidden);
                let (q, lda) = b.lhs.rows_from(0);
                match gamma {
                    None => matmul(Lhs::U8(q), rows, lda, &w.fc2, band, d, Epilogue::Accumulate, Spread::Caller),
                    Some(g) => {
                        b.out.resize(rows * d, 0.0);
                        matmul(Lhs::U8(q), rows, lda, &w.fc2, &mut b.out, d, Epilogue::Store, Spread::Caller);
                        for (x, y) in band.chunks_exact_mut(d).zip(b.out.chunks_exact(d)) {
                            x.iter_mut().zip(y).zip(g).for_each(|((x, y), g)| *x += g * y);
                        }
                    }
                }
            })
        });
    }

    /// `x += y·Wᵀ + b`, or `x += gamma ⊙ (y·Wᵀ + b)` with layer scale (via `tmp`).
    #[allow(clippy::too_many_arguments)]
    fn residual(
        &self,
        y: &[f32],
        rows: usize,
        l: &PackedB,
        x: &mut [f32],
        gamma: Option<&[f32]>,
        tmp: &mut [f32],
        s: &mut Scratch,
    ) {
        match gamma {
            None => self.dense(y, rows, l, x, Epilogue::Accumulate, s),
            Some(g) => {
                self.dense(y, rows, l, tmp, Epilogue::Store, s);
                x.par_chunks_mut(l.n()).zip(tmp.par_chunks(l.n())).for_each(|(x, y)| {
                    x.iter_mut().zip(y).zip(g).for_each(|((x, y), g)| *x += g * y);
                });
            }
        }
    }

    /// Multi-head softmax attention over each clip's tokens. `qkv` rows are [q·scale | k | v]
    /// (in int8, [q | k | v] with the scale applied by the quantised queries).
    /// One task per (clip, head): it packs that head's keys and values, then runs every query
    /// block against them, so they stay in its core's cache.
    fn attention(&self, qkv: &[f32], clips: usize, g: Geometry, out: &mut [f32], s: &mut Scratch) {
        let (n, d, heads) = (g.tokens, g.dim, g.heads);
        let hd = d / heads;
        let ld = 3 * d;
        let bf16 = self.precision == Precision::Bf16;
        if bf16 {
            convert_to_bf16(qkv, &mut s.qkv16);
        }
        let int8 = self.precision == Precision::Int8;
        if int8 {
            // rows in (clip, head, token) order, so a task's query block is consecutive rows
            s.q8.quantize_by(clips * heads * n, hd, g.scale, |r, _| {
                let (clip, h, t) = (r / (heads * n), r / n % heads, r % n);
                Some(&qkv[(clip * n + t) * ld + h * hd..][..hd])
            });
        }
        let (qkv16, q8) = (&s.qkv16, &s.q8);
        let precision = self.precision;
        let out_ptr = SendPtr(out.as_mut_ptr());
        (0..clips * heads).into_par_iter().for_each(|ch| {
            ATTENTION.with_borrow_mut(|buf| {
                let (clip, h) = (ch / heads, ch % heads);
                let base = clip * n * ld;
                let (keys, values) = buf.operands(precision);
                // keys as B = Kᵀ (n_out = tokens, k = head_dim); values as B = V (n_out = head_dim, k = tokens)
                keys.pack(&qkv[base + d + h * hd..], n, hd, ld, 1);
                values.pack(&qkv[base + 2 * d + h * hd..], hd, n, 1, ld);
                buf.scores.resize(QUERY_BLOCK * n, 0.0);
                for q0 in (0..n).step_by(QUERY_BLOCK) {
                    let bq = QUERY_BLOCK.min(n - q0);
                    let scores = &mut buf.scores[..bq * n];
                    let keys = buf.keys.as_ref().expect("packed above");
                    if int8 {
                        let (q, lda) = q8.rows_from(ch * n + q0);
                        matmul(Lhs::U8(q), bq, lda, keys, scores, n, Epilogue::Store, Spread::Caller);
                        // SAFETY: this task alone writes rows q0..q0+bq, columns h·hd..(h+1)·hd of
                        // this clip's output, which outlives the loop.
                        unsafe {
                            buf.probabilities_times_values(bq, n, out_ptr.get().add((clip * n + q0) * d + h * hd), d)
                        };
                        continue;
                    }
                    let q_at = (clip * n + q0) * ld + h * hd;
                    let q = if bf16 { Lhs::Bf16(&qkv16[q_at..]) } else { Lhs::F32(&qkv[q_at..]) };
                    matmul(q, bq, ld, keys, scores, n, Epilogue::Store, Spread::Caller);
                    let mut inv_sums = [0f32; QUERY_BLOCK];
                    for (row, inv) in scores.chunks_exact_mut(n).zip(inv_sums.iter_mut()) {
                        *inv = softmax_exp_in_place(row);
                    }
                    let p = if bf16 {
                        buf.scores16.resize(QUERY_BLOCK * n, 0);
                        buf.scores[..bq * n]
                            .iter()
                            .zip(buf.scores16.iter_mut())
                            .for_each(|(s, d)| *d = crate::matmul::to_bf16(*s));
                        Lhs::Bf16(&buf.scores16)
                    } else {
                        Lhs::F32(&buf.scores)
                    };
                    // SAFETY: this task writes rows q0..q0+bq, columns h·hd..(h+1)·hd of this
                    // clip's output: tiles no other task touches, of `out`, which outlives the loop.
                    unsafe {
                        let o = out_ptr.get().add((clip * n + q0) * d + h * hd);
                        matmul_raw(
                            p,
                            bq,
                            n,
                            buf.values.as_ref().expect("packed above"),
                            o,
                            d,
                            Epilogue::Store,
                            Spread::Caller,
                        );
                        // the softmax's division, applied to the (rows × head_dim) output
                        for (r, inv) in inv_sums[..bq].iter().enumerate() {
                            std::slice::from_raw_parts_mut(o.add(r * d), hd).iter_mut().for_each(|v| *v *= inv);
                        }
                    }
                }
            })
        });
    }
}

/// One attention task's working set, per worker thread: the head's packed keys and values
/// and a query block's scores (f32, and bf16 in bf16 precision; int8: u8 probabilities with
/// their row scales).
#[derive(Default)]
struct AttentionBuffers {
    keys: Option<PackedB>,
    values: Option<PackedB>,
    scores: Vec<f32>,
    scores16: Vec<u16>,
    probabilities: Vec<u8>,
}

impl AttentionBuffers {
    /// int8: softmax of the `bq` rows of scores (`n` wide) quantised to u8, times the packed
    /// values, into `out` (rows `ldo` apart): `round(255·exp(s − max))·v / (255·Σ exp)` with the
    /// division in the rows' scales.
    ///
    /// # Safety
    /// `out` must address `bq` rows of `ldo` stride with head_dim writable values each that no
    /// one else accesses during the call.
    unsafe fn probabilities_times_values(&mut self, bq: usize, n: usize, out: *mut f32, ldo: usize) {
        let lda = n.next_multiple_of(4);
        self.probabilities.resize(QUERY_BLOCK * lda, 0);
        let mut scales = [0f32; QUERY_BLOCK];
        for ((row, p), scale) in
            self.scores.chunks_exact(n).zip(self.probabilities.chunks_exact_mut(lda)).zip(&mut scales).take(bq)
        {
            *scale = softmax_exp_u8(row, p) / 255.0;
        }
        let p = QuantRows { values: &self.probabilities, scales: &scales, zeros: &[0; QUERY_BLOCK] };
        let values = self.values.as_ref().expect("packed by the caller");
        // SAFETY: forwarded contract.
        unsafe { matmul_raw(Lhs::U8(p), bq, lda, values, out, ldo, Epilogue::Store, Spread::Caller) };
    }

    /// The key and value operands, (re)made for `precision`.
    fn operands(&mut self, precision: Precision) -> (&mut PackedB, &mut PackedB) {
        let fresh = |p: &Option<PackedB>| {
            p.as_ref().is_none_or(|b| {
                b.wants_bf16() != (precision == Precision::Bf16) || b.wants_u8() != (precision == Precision::Int8)
            })
        };
        if fresh(&self.keys) || fresh(&self.values) {
            self.keys = Some(PackedB::empty(precision));
            self.values = Some(PackedB::empty(precision));
        }
        match (&mut self.keys, &mut self.values) {
            (Some(k), Some(v)) => (k, v),
            _ => unreachable!("both set above"),
        }
    }
}

/// One int8 MLP band's working set, per worker thread: its quantised rows (normalised input,
/// then hidden), its hidden rows, and fc2's output when a layer scale applies.
#[derive(Default)]
struct MlpBuffers {
    lhs: QuantMatrix,
    hidden: Vec<f32>,
    out: Vec<f32>,
}

thread_local! {
    static ATTENTION: RefCell<AttentionBuffers> = RefCell::new(AttentionBuffers::default());
    static MLP: RefCell<MlpBuffers> = RefCell::new(MlpBuffers::default());
}

/// Activations reused across blocks and forwards.
#[derive(Default)]
struct Scratch {
    patches: Vec<f32>,
    normed: Vec<f32>,
    qkv: Vec<f32>,
    attn_out: Vec<f32>,
    hidden: Vec<f32>,
    /// bf16 copy of a product's left operand (bf16 precision only).
    lhs16: Vec<u16>,
    qkv16: Vec<u16>,
    /// A product's left operand quantised per row, and the queries per (clip, head, token)
    /// (int8 precision only; sized when filled).
    lhs8: QuantMatrix,
    q8: QuantMatrix,
}

impl Scratch {
    /// Sizes every buffer for `rows` tokens (all clips of a batch).
    fn ensure(&mut self, rows: usize, d: usize, patch_dim: usize, hidden: usize, precision: Precision) {
        for (buf, len) in [
            (&mut self.patches, rows * patch_dim),
            (&mut self.normed, rows * d),
            (&mut self.qkv, rows * 3 * d),
            (&mut self.attn_out, rows * d),
            // (int8 computes the MLP in bands with buffers of their own)
            (&mut self.hidden, if precision == Precision::Int8 { 0 } else { rows * hidden }),
        ] {
            buf.resize(len, 0.0);
        }
        if precision == Precision::Bf16 {
            self.lhs16.resize(rows * patch_dim.max(hidden).max(d), 0);
            self.qkv16.resize(rows * 3 * d, 0);
        }
    }
}
