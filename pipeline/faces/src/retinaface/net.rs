//! The RetinaFace network (biubug6's layout, as FaceX-Zoo pickles it): MobileNetV1-0.25 body,
//! FPN over strides 8/16/32, an SSH context module per level, and 1×1 heads with 2 anchors per
//! location.

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;

use rayon::prelude::*;

use super::chain::{Chain, Layer, Source};
use super::layers::{Act, Conv, Folded, Separable, add_upsampled, chunk_count};
use super::map::{LEFT, Map, Workspace, with_scratch};
use super::simd::Isa;

const LEAKY: Act = Act::Leaky(0.1);

/// One SSH context module: the 3×3, 5×5 (two stacked 3×3) and 7×7 (three) branches, in one
/// map of their outputs and intermediates: `first` = conv3X3 ‖ conv5X5_1 (both read the
/// level), `second` = conv5X5_2 ‖ conv7X7_2 (both read conv5X5_1's output), then conv7x7_3.
/// The module's output — conv3X3, conv5X5_2, conv7x7_3 concatenated and ReLU'd — is the
/// channels `output` of that map, the ReLU in the three convolutions' epilogues.
struct Ssh {
    first: Conv,
    second: Conv,
    conv7_3: Conv,
    /// conv3X3's outputs: conv5X5_1's follow them in the map.
    conv3: usize,
    /// conv5X5_2's outputs: conv7X7_2's follow them.
    conv5_2: usize,
    /// The module's output channels in the map.
    output: Vec<usize>,
}
pub struct Network {
    /// MobileNet's stages, each streamed: stage 1 (the first conv, 3×3 stride 2, from the
    /// pixels, then `conv_dw` blocks), stages 2 and 3 (`conv_dw` blocks); each stage's output is
    /// an FPN level.
    stages: [Chain; 3],
    fpn_out: [Conv; 3],
    merge: [Conv; 2],
    ssh: [Ssh; 3],
    /// Per level, the class (2·2), box (2·4) and landmark (2·10) heads as one 1×1 of 32
    /// outputs.
    heads: [Conv; 3],
}

/// Raw outputs over all priors, in the network's order (level, y, x, anchor).
#[derive(Debug, Clone, Default)]
pub struct RawOutput {
    pub loc: Vec<[f32; 4]>,
    /// Softmaxed (background, face).
    pub conf: Vec<[f32; 2]>,
    pub landmarks: Vec<[f32; 10]>,
}

struct Weights<'a>(&'a BTreeMap<String, Tensor>);

impl Weights<'_> {
    fn get(&self, name: &str) -> Result<&Tensor, String> {
        self.0.get(name).ok_or_else(|| format!("tensor {name} missing"))
    }

    /// `prefix.{conv}` then BatchNorm `prefix.{bn}` (torch Sequential indices), folded.
    fn folded(&self, prefix: &str, conv: usize, bn: usize, act: Act) -> Result<Folded, String> {
        let w = self.get(&format!("{prefix}.{conv}.weight"))?;
        let p = |n: &str| self.get(&format!("{prefix}.{bn}.{n}")).map(|t| t.data.as_slice());
        let bn = [p("weight")?, p("bias")?, p("running_mean")?, p("running_var")?];
        Folded::new(&w.data, &w.shape, None, Some(bn), act).map_err(|e| format!("{prefix}: {e}"))
    }

    fn conv_bn(&self, prefix: &str, conv: usize, bn: usize, stride: usize, act: Act) -> Result<Conv, String> {
        Conv::from_folded(self.folded(prefix, conv, bn, act)?, stride).map_err(|e| format!("{prefix}: {e}"))
    }

    /// The class, box and landmark heads of level `i` (1×1 convs with biases) as one conv.
    fn heads(&self, i: usize) -> Result<Conv, String> {
        let (mut weight, mut bias, mut cout, mut cin) = (Vec::new(), Vec::new(), 0, None);
        for head in ["ClassHead", "BboxHead", "LandmarkHead"] {
            let w = self.get(&format!("{head}.{i}.conv1x1.weight"))?;
            let b = self.get(&format!("{head}.{i}.conv1x1.bias"))?;
            let &[o, c, 1, 1] = &w.shape[..] else { return Err(format!("{head}.{i}: weight of shape {:?}", w.shape)) };
            if *cin.get_or_insert(c) != c || b.data.len() != o {
                return Err(format!("{head}.{i}: weight of shape {:?}, bias of {}", w.shape, b.data.len()));
            }
            weight.extend_from_slice(&w.data);
            bias.extend_from_slice(&b.data);
            cout += o;
        }
        let shape = [cout, cin.unwrap_or(0), 1, 1];
        if cout != 2 * (2 + 4 + 10) {
            return Err(format!("heads of level {i}: {cout} outputs, expected 32 (2 anchors)"));
        }
        Conv::new(&weight, &shape, Some(&bias), None, 1, Act::None).map_err(|e| format!("heads of level {i}: {e}"))
    }

    fn ssh(&self, p: &str) -> Result<Ssh, String> {
        let part = |name: &str, act: Act| self.folded(&format!("{p}.{name}"), 0, 1, act);
        let stacked = |a: Folded, b: Folded| {
            Folded::stack(a, b).and_then(|f| Conv::from_folded(f, 1)).map_err(|e| format!("{p}: {e}"))
        };
        // The module's final ReLU runs in the epilogues of the three branches' last convs.
        let first = stacked(part("conv3X3", Act::Relu)?, part("conv5X5_1", LEAKY)?)?;
        let second = stacked(part("conv5X5_2", Act::Relu)?, part("conv7X7_2", LEAKY)?)?;
        let conv7_3 = self.conv_bn(&format!("{p}.conv7x7_3"), 0, 1, 1, Act::Relu)?;
        let conv3 = self.get(&format!("{p}.conv3X3.0.weight"))?.shape[0];
        let conv5_2 = self.get(&format!("{p}.conv5X5_2.0.weight"))?.shape[0];
        let (t5, t7) = (first.cout - conv3, second.cout - conv5_2);
        if second.cin != t5 || conv7_3.cin != t7 || first.k != 3 || second.k != 3 || conv7_3.k != 3 {
            return Err(format!("{p}: branches that do not chain"));
        }
        let at7 = first.cout + second.cout;
        let output = (0..conv3).chain(first.cout..first.cout + conv5_2).chain(at7..at7 + conv7_3.cout).collect();
        Ok(Ssh { first, second, conv7_3, conv3, conv5_2, output })
    }
}

impl Network {
    /// Builds the network from the module's tensors (`body.stage1.0.0.weight`…).
    pub fn new(t: &BTreeMap<String, Tensor>) -> Result<Self, String> {
        let w = Weights(t);
        let first = w.conv_bn("body.stage1.0", 0, 1, 2, LEAKY)?;
        // MobileNetV1-0.25's strides, block by block (stage 1's first block is `first`, the
        // others conv_dw: a depthwise 3×3 then a 1×1).
        let stage = |name: &str, strides: &[usize], skip: usize| -> Result<Vec<Layer>, String> {
            (skip..strides.len())
                .map(|b| {
                    let p = format!("body.{name}.{b}");
                    Separable::new(w.conv_bn(&p, 0, 1, strides[b], LEAKY)?, w.conv_bn(&p, 3, 4, 1, LEAKY)?)
                        .map(Layer::Separable)
                        .map_err(|e| format!("{p}: {e}"))
                })
                .collect()
        };
        let mut stage1 = vec![Layer::Dense(first)];
        stage1.extend(stage("stage1", &[2, 1, 2, 1, 2, 1], 1)?);
        // Two bands per thread at full resolution (a few recomputed rows above each band are
        // cheap there), one in the small stages (where they are not).
        Ok(Self {
            stages: [
                Chain::new(stage1, 2)?,
                Chain::new(stage("stage2", &[2, 1, 1, 1, 1, 1], 0)?, 1)?,
                Chain::new(stage("stage3", &[2, 1], 0)?, 1)?,
            ],
            fpn_out: [
                w.conv_bn("fpn.output1", 0, 1, 1, LEAKY)?,
                w.conv_bn("fpn.output2", 0, 1, 1, LEAKY)?,
                w.conv_bn("fpn.output3", 0, 1, 1, LEAKY)?,
            ],
            merge: [w.conv_bn("fpn.merge1", 0, 1, 1, LEAKY)?, w.conv_bn("fpn.merge2", 0, 1, 1, LEAKY)?],
            ssh: [w.ssh("ssh1")?, w.ssh("ssh2")?, w.ssh("ssh3")?],
            heads: [w.heads(0)?, w.heads(1)?, w.heads(2)?],
        })
    }

    /// Raw outputs for an 8-bit image (`width · height · 3` bytes, B, G, R order if `bgr`),
    /// its maps over `ws`'s buffers; each layer's rows over the current pool when `parallel`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        isa: Isa,
        ws: &mut Workspace,
        pixels: &[u8],
        width: usize,
        height: usize,
        bgr: bool,
        parallel: bool,
    ) -> RawOutput {
        let f = Fwd { isa, parallel };
        let l1 = f.stage(ws, &self.stages[0], Source::Pixels { pixels, width, height, bgr });
        let l2 = f.stage(ws, &self.stages[1], Source::Map(&l1));
        let l3 = f.stage(ws, &self.stages[2], Source::Map(&l2));

        let o3 = f.conv(ws, &self.fpn_out[2], &l3);
        ws.recycle(l3);
        let mut o2 = f.conv(ws, &self.fpn_out[1], &l2);
        ws.recycle(l2);
        add_upsampled(&mut o2, &o3, parallel);
        let m2 = f.conv(ws, &self.merge[1], &o2);
        ws.recycle(o2);
        let mut o1 = f.conv(ws, &self.fpn_out[0], &l1);
        ws.recycle(l1);
        add_upsampled(&mut o1, &m2, parallel);
        let m1 = f.conv(ws, &self.merge[0], &o1);
        ws.recycle(o1);

        let priors = 2 * (m1.h * m1.w + m2.h * m2.w + o3.h * o3.w);
        let mut out =
            RawOutput { loc: vec![[0.0; 4]; priors], conf: vec![[0.0; 2]; priors], landmarks: vec![[0.0; 10]; priors] };
        let mut start = 0;
        for (level, feat) in [m1, m2, o3].into_iter().enumerate() {
            let s = f.ssh(ws, &self.ssh[level], &feat);
            ws.recycle(feat);
            let n = 2 * s.h * s.w;
            f.heads(&self.heads[level], &s, &self.ssh[level].output, &mut out, start..start + n);
            start += n;
            ws.recycle(s);
        }
        out
    }
}

/// One forward's settings, for its layers.
struct Fwd {
    isa: Isa,
    parallel: bool,
}

impl Fwd {
    fn conv(&self, ws: &mut Workspace, conv: &Conv, x: &Map) -> Map {
        let (h, w) = conv.out_size(x.h, x.w);
        let mut y = ws.map(h, w, conv.cout);
        conv.run(self.isa, x, &mut y, 0, self.parallel);
        y
    }

    /// A stage's output from `src`.
    fn stage(&self, ws: &mut Workspace, stage: &Chain, src: Source<'_>) -> Map {
        let (h0, w0, _) = src.size();
        let (h, w) = stage.out_size(h0, w0);
        let mut out = ws.map(h, w, stage.cout());
        stage.run(self.isa, src, &mut out, self.parallel);
        out
    }

    /// The SSH module's map ([`Ssh`]).
    fn ssh(&self, ws: &mut Workspace, m: &Ssh, x: &Map) -> Map {
        let mut out = ws.map(x.h, x.w, m.first.cout + m.second.cout + m.conv7_3.cout);
        m.first.run(self.isa, x, &mut out, 0, self.parallel);
        m.second.run_in_place(self.isa, &mut out, m.conv3, m.first.cout, self.parallel);
        let t7 = m.first.cout + m.conv5_2;
        m.conv7_3.run_in_place(self.isa, &mut out, t7, m.first.cout + m.second.cout, self.parallel);
        out
    }

    /// The heads over channels `channels` of `x` (the SSH output), row by row straight into
    /// the priors `range` of `out`: (y, x, anchor) order, the class softmaxed.
    fn heads(&self, conv: &Conv, x: &Map, channels: &[usize], out: &mut RawOutput, range: std::ops::Range<usize>) {
        let offsets = conv.heads_offsets(x, channels);
        let (w, pitch) = (x.w, Map::pitch_for(x.w));
        let per_row = 2 * w;
        let rows = |y0: usize, loc: &mut [[f32; 4]], conf: &mut [[f32; 2]], lm: &mut [[f32; 10]]| {
            with_scratch(conv.cout * pitch, |heads| {
                for (i, ((loc, conf), lm)) in
                    loc.chunks_mut(per_row).zip(conf.chunks_mut(per_row)).zip(lm.chunks_mut(per_row)).enumerate()
                {
                    conv.row_over(self.isa, x, &offsets, y0 + i, heads);
                    priors_of_row(heads, pitch, w, loc, conf, lm);
                }
            })
        };
        let (loc, conf, lm) = (&mut out.loc[range.clone()], &mut out.conf[range.clone()], &mut out.landmarks[range]);
        let chunks = chunk_count(w * conv.cin * conv.cout, x.h, self.parallel);
        if chunks <= 1 {
            return rows(0, loc, conf, lm);
        }
        let per = x.h.div_ceil(chunks) * per_row;
        loc.par_chunks_mut(per)
            .zip(conf.par_chunks_mut(per))
            .zip(lm.par_chunks_mut(per))
            .enumerate()
            .for_each(|(i, ((loc, conf), lm))| rows(i * per / per_row, loc, conf, lm));
    }
}

/// One row's priors from its heads' outputs (`heads`: 32 channel-rows of `pitch`, pixel `x` at
/// `LEFT + x`: class 0..4, box 4..12, landmarks 12..32, anchor `a`'s values at `2a`, `4a`,
/// `10a` of each), in (x, anchor) order, the class softmaxed.
#[allow(clippy::needless_range_loop)] // x indexes 32 channel-rows at once
fn priors_of_row(
    heads: &[f32],
    pitch: usize,
    w: usize,
    loc: &mut [[f32; 4]],
    conf: &mut [[f32; 2]],
    lm: &mut [[f32; 10]],
) {
    let ch: [&[f32]; 32] = std::array::from_fn(|c| &heads[c * pitch + LEFT..c * pitch + LEFT + w]);
    for x in 0..w {
        for a in 0..2 {
            let p = 2 * x + a;
            let (c0, c1) = (ch[2 * a][x], ch[2 * a + 1][x]);
            let m = c0.max(c1);
            let (e0, e1) = ((c0 - m).exp(), (c1 - m).exp());
            conf[p] = [e0 / (e0 + e1), e1 / (e0 + e1)];
            loc[p] = std::array::from_fn(|k| ch[4 + 4 * a + k][x]);
            lm[p] = std::array::from_fn(|k| ch[12 + 10 * a + k][x]);
        }
    }
}
