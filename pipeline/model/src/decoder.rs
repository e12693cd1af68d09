//! MARLIN's MAE decoder (the `.full.pt` checkpoints) and the official `Marlin.forward(x, mask)`:
//! the encoder on the visible tokens only, `enc_dec_proj`, then the decoder over the visible
//! tokens (plus their positions) followed by one mask token per masked position (plus its
//! position), whose last `masked` outputs go through the norm and the head: each masked
//! token's predicted pixels in (c, kt, ky, kx) order, [0, 1] scale.

use marlin_kernels::mask::{masked_indices, visible_indices};

use crate::encoder::{Block, Geometry, dense};
use crate::matmul::{PackedB, Precision};
use crate::ops::layer_norm;
use crate::weights::{DecoderWeights, LayerNormWeights};
use crate::{Clip, Encoder, ModelError};

/// The decoder's packed weights.
pub struct Decoder {
    proj: PackedB,
    mask_token: Vec<f32>,
    pos_embed: Vec<f32>,
    blocks: Vec<Block>,
    norm: LayerNormWeights,
    head: PackedB,
}

impl Decoder {
    pub fn new(w: DecoderWeights, precision: Precision) -> Self {
        Decoder {
            proj: dense(w.proj, precision),
            mask_token: w.mask_token,
            pos_embed: w.pos_embed,
            blocks: w.blocks.into_iter().map(|b| Block::pack(b, precision)).collect(),
            norm: w.norm,
            head: dense(w.head, precision),
        }
    }

    /// `Marlin.forward(clip, mask)[0]` (`mask`: one flag per token, `true` = visible): the
    /// predicted pixels of the masked tokens in token order, (masked × patch_dim).
    pub fn reconstruct(&self, encoder: &Encoder, clip: &Clip, mask: &[bool]) -> Result<Vec<f32>, ModelError> {
        let cfg = encoder.config();
        let n = cfg.num_tokens();
        if mask.len() != n {
            return Err(ModelError::BadInput(format!("the mask has {} entries; the model has {n} tokens", mask.len())));
        }
        let (visible, masked) = (visible_indices(mask), masked_indices(mask));
        if visible.is_empty() || masked.is_empty() {
            return Err(ModelError::BadInput(format!(
                "the mask leaves {} of {n} tokens visible: it needs some of each",
                visible.len()
            )));
        }
        let encoded = encoder.forward_visible(clip, &visible)?;
        let d = cfg.decoder.embed_dim;
        let projected = encoder.linear(&encoded, visible.len(), &self.proj);
        // [visible + pos, mask_token + pos], each in token order
        let mut x = Vec::with_capacity(n * d);
        for (row, &t) in projected.chunks_exact(d).zip(&visible) {
            x.extend(row.iter().zip(&self.pos_embed[t as usize * d..][..d]).map(|(a, p)| a + p));
        }
        for &t in &masked {
            x.extend(self.mask_token.iter().zip(&self.pos_embed[t as usize * d..][..d]).map(|(m, p)| m + p));
        }
        encoder.run_blocks(&self.blocks, &mut x, 1, Geometry::new(cfg, n, cfg.decoder));
        let tail = &x[visible.len() * d..];
        let mut normed = vec![0f32; tail.len()];
        layer_norm(tail, d, &self.norm, &mut normed);
        Ok(encoder.linear(&normed, masked.len(), &self.head))
    }
}
