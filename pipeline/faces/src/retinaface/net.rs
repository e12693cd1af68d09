//! The RetinaFace network (biubug6's layout, as FaceX-Zoo pickles it): MobileNetV1-0.25 body,
//! FPN over strides 8/16/32, an SSH context module per level, and 1×1 heads with 2 anchors per
//! location.

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;

use super::kernels::Act;
use super::layers::{Conv, Separable, Stem, add_upsampled};
use super::map::{LEFT, Map, Workspace};
use super::simd::Isa;

const LEAKY: Act = Act::Leaky(0.1);

/// One SSH context module: the 3×3, 5×5 (two stacked 3×3) and 7×7 (three) branches, written
/// side by side into one map; the ReLU after their concatenation runs in the epilogues of the
/// three convolutions that write it.
struct Ssh {
    conv3: Conv,
    conv5_1: Conv,
    conv5_2: Conv,
    conv7_2: Conv,
    conv7_3: Conv,
}

pub struct Network {
    /// MobileNet's stage 1: the first conv (3×3, stride 2, from the pixels) and its `conv_dw`
    /// blocks, streamed; its output is the first FPN level.
    stem: Stem,
    /// The `conv_dw` blocks of stages 2 and 3; each stage's output is an FPN level.
    stages: [Vec<Separable>; 2],
    fpn_out: [Conv; 3],
    merge: [Conv; 2],
    ssh: [Ssh; 3],
    /// Per level, the class (2·2), box (2·4) and landmark (2·10) heads as one 1×1 of 32 outputs.
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

    /// `prefix.{conv}` then BatchNorm `prefix.{bn}` (torch Sequential indices).
    fn conv_bn(&self, prefix: &str, conv: usize, bn: usize, stride: usize, act: Act) -> Result<Conv, String> {
        let w = self.get(&format!("{prefix}.{conv}.weight"))?;
        let p = |n: &str| self.get(&format!("{prefix}.{bn}.{n}")).map(|t| t.data.as_slice());
        let bn = [p("weight")?, p("bias")?, p("running_mean")?, p("running_var")?];
        Conv::new(&w.data, &w.shape, None, Some(bn), stride, act).map_err(|e| format!("{prefix}: {e}"))
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
        Ok(Ssh {
            conv3: self.conv_bn(&format!("{p}.conv3X3"), 0, 1, 1, Act::Relu)?,
            conv5_1: self.conv_bn(&format!("{p}.conv5X5_1"), 0, 1, 1, LEAKY)?,
            conv5_2: self.conv_bn(&format!("{p}.conv5X5_2"), 0, 1, 1, Act::Relu)?,
            conv7_2: self.conv_bn(&format!("{p}.conv7X7_2"), 0, 1, 1, LEAKY)?,
            conv7_3: self.conv_bn(&format!("{p}.conv7x7_3"), 0, 1, 1, Act::Relu)?,
        })
    }
}

impl Network {
    /// Builds the network from the module's tensors (`body.stage1.0.0.weight`…).
    pub fn new(t: &BTreeMap<String, Tensor>) -> Result<Self, String> {
        let w = Weights(t);
        let first = w.conv_bn("body.stage1.0", 0, 1, 2, LEAKY)?;
        // MobileNetV1-0.25's strides, block by block (stage 1's first block is `first`, the
        // others conv_dw: a depthwise 3×3 then a 1×1).
        let stage = |name: &str, strides: &[usize], skip: usize| -> Result<Vec<Separable>, String> {
            (skip..strides.len())
                .map(|b| {
                    let p = format!("body.{name}.{b}");
                    Separable::new(w.conv_bn(&p, 0, 1, strides[b], LEAKY)?, w.conv_bn(&p, 3, 4, 1, LEAKY)?)
                        .map_err(|e| format!("{p}: {e}"))
                })
                .collect()
        };
        Ok(Self {
            stem: Stem::new(first, stage("stage1", &[2, 1, 2, 1, 2, 1], 1)?)?,
            stages: [stage("stage2", &[2, 1, 1, 1, 1, 1], 0)?, stage("stage3", &[2, 1], 0)?],
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
        let (h, w) = self.stem.out_size(height, width);
        let mut l1 = ws.map(h, w, self.stem.cout());
        self.stem.run(isa, pixels, width, height, bgr, &mut l1, parallel);
        let l2 = f.stage(ws, &self.stages[0], &l1);
        let l3 = f.stage(ws, &self.stages[1], &l2);

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
        let mut out = RawOutput {
            loc: Vec::with_capacity(priors),
            conf: Vec::with_capacity(priors),
            landmarks: Vec::with_capacity(priors),
        };
        for (level, feat) in [m1, m2, o3].into_iter().enumerate() {
            let s = f.ssh(ws, &self.ssh[level], &feat);
            ws.recycle(feat);
            let heads = f.conv(ws, &self.heads[level], &s);
            ws.recycle(s);
            append_priors(&heads, &mut out);
            ws.recycle(heads);
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

    /// A stage's blocks from `input` (left to the caller) to the stage's output.
    fn stage(&self, ws: &mut Workspace, blocks: &[Separable], input: &Map) -> Map {
        let mut cur: Option<Map> = None;
        for block in blocks {
            let x = cur.as_ref().unwrap_or(input);
            let (h, w) = block.out_size(x.h, x.w);
            let mut y = ws.map(h, w, block.cout());
            block.run(self.isa, x, &mut y, self.parallel);
            if let Some(old) = cur.replace(y) {
                ws.recycle(old);
            }
        }
        cur.unwrap_or_else(|| unreachable!("every stage has blocks"))
    }

    /// The SSH module's output: `conv3 ‖ conv5_2(t) ‖ conv7_3(conv7_2(t))`, `t = conv5_1(x)`.
    fn ssh(&self, ws: &mut Workspace, m: &Ssh, x: &Map) -> Map {
        let (c3, c5) = (m.conv3.cout, m.conv5_2.cout);
        let mut out = ws.map(x.h, x.w, c3 + c5 + m.conv7_3.cout);
        m.conv3.run(self.isa, x, &mut out, 0, self.parallel);
        let t = self.conv(ws, &m.conv5_1, x);
        m.conv5_2.run(self.isa, &t, &mut out, c3, self.parallel);
        let t7 = self.conv(ws, &m.conv7_2, &t);
        ws.recycle(t);
        m.conv7_3.run(self.isa, &t7, &mut out, c3 + c5, self.parallel);
        ws.recycle(t7);
        out
    }
}

/// One level's priors from its heads' map (32 channels: class 0..4, box 4..12, landmarks 12..32: anchor
/// `a`'s values at `2a`, `4a`, `10a` of each), in (y, x, anchor) order, the class softmaxed.
#[allow(clippy::needless_range_loop)] // x indexes 32 channel-rows at once
fn append_priors(heads: &Map, out: &mut RawOutput) {
    let (w, pitch, rs) = (heads.w, heads.pitch, heads.row_stride());
    for y in 0..heads.h {
        let row = &heads.data[(y + 1) * rs..(y + 2) * rs];
        let ch: [&[f32]; 32] = std::array::from_fn(|c| &row[c * pitch + LEFT..c * pitch + LEFT + w]);
        for x in 0..w {
            for a in 0..2 {
                let (c0, c1) = (ch[2 * a][x], ch[2 * a + 1][x]);
                let m = c0.max(c1);
                let (e0, e1) = ((c0 - m).exp(), (c1 - m).exp());
                out.conf.push([e0 / (e0 + e1), e1 / (e0 + e1)]);
                out.loc.push(std::array::from_fn(|k| ch[4 + 4 * a + k][x]));
                out.landmarks.push(std::array::from_fn(|k| ch[12 + 10 * a + k][x]));
            }
        }
    }
}
