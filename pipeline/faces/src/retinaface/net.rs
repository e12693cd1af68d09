//! The RetinaFace network (biubug6's layout, as FaceX-Zoo pickles it): MobileNetV1-0.25 body,
//! FPN over strides 8/16/32, an SSH context module per level, and 1×1 heads with 2 anchors per
//! location.

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;

use super::layers::{Act, Conv, Feature, add_upsampled};

const LEAKY: Act = Act::Leaky(0.1);

/// One SSH context module: the 3×3, 5×5 and 7×7 (stacked 3×3) branches. The two convs reading
/// the module's input are fused into one (`conv3X3` ⊕ `conv5X5_1`), and so are the two reading
/// `conv5X5_1`'s output (`conv5X5_2` ⊕ `conv7X7_2`).
struct Ssh {
    /// 3×3 branch (no activation) then the shared first 3×3 of the 5×5/7×7 branches (leaky).
    first: Conv,
    /// 5×5 branch's second 3×3 (no activation) then the 7×7 branch's second (leaky).
    second: Conv,
    conv7_3: Conv,
}

/// The three heads of one level: class (2·2), box (2·4), landmarks (2·10).
struct Heads {
    class: Conv,
    bbox: Conv,
    landmark: Conv,
}

pub struct Network {
    body: Vec<Vec<Conv>>,
    fpn_out: [Conv; 3],
    merge: [Conv; 2],
    ssh: [Ssh; 3],
    heads: [Heads; 3],
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

    fn head(&self, prefix: &str) -> Result<Conv, String> {
        let w = self.get(&format!("{prefix}.conv1x1.weight"))?;
        let b = self.get(&format!("{prefix}.conv1x1.bias"))?;
        Conv::new(&w.data, &w.shape, Some(&b.data), None, 1, Act::None).map_err(|e| format!("{prefix}: {e}"))
    }

    fn ssh(&self, p: &str) -> Result<Ssh, String> {
        let conv3 = self.conv_bn(&format!("{p}.conv3X3"), 0, 1, 1, Act::None)?;
        let conv5_1 = self.conv_bn(&format!("{p}.conv5X5_1"), 0, 1, 1, LEAKY)?;
        let conv5_2 = self.conv_bn(&format!("{p}.conv5X5_2"), 0, 1, 1, Act::None)?;
        let conv7_2 = self.conv_bn(&format!("{p}.conv7X7_2"), 0, 1, 1, LEAKY)?;
        Ok(Ssh {
            first: Conv::concat(&conv3, &conv5_1).map_err(|e| format!("{p}: {e}"))?,
            second: Conv::concat(&conv5_2, &conv7_2).map_err(|e| format!("{p}: {e}"))?,
            conv7_3: self.conv_bn(&format!("{p}.conv7x7_3"), 0, 1, 1, Act::None)?,
        })
    }
}

impl Network {
    /// Builds the network from the module's tensors (`body.stage1.0.0.weight`…).
    pub fn new(t: &BTreeMap<String, Tensor>) -> Result<Self, String> {
        let w = Weights(t);
        let mut body = Vec::new();
        // MobileNetV1-0.25's strides, block by block (the first block of stage 1 is a plain
        // conv_bn, the others conv_dw: a depthwise 3×3 then a 1×1).
        for (stage, strides) in
            [("stage1", &[2, 1, 2, 1, 2, 1][..]), ("stage2", &[2, 1, 1, 1, 1, 1]), ("stage3", &[2, 1])]
        {
            let mut layers = Vec::new();
            for (b, &stride) in strides.iter().enumerate() {
                let p = format!("body.{stage}.{b}");
                if stage == "stage1" && b == 0 {
                    layers.push(w.conv_bn(&p, 0, 1, stride, LEAKY)?);
                } else {
                    layers.push(w.conv_bn(&p, 0, 1, stride, LEAKY)?);
                    layers.push(w.conv_bn(&p, 3, 4, 1, LEAKY)?);
                }
            }
            body.push(layers);
        }
        let heads = |i: usize| -> Result<Heads, String> {
            Ok(Heads {
                class: w.head(&format!("ClassHead.{i}"))?,
                bbox: w.head(&format!("BboxHead.{i}"))?,
                landmark: w.head(&format!("LandmarkHead.{i}"))?,
            })
        };
        Ok(Self {
            body,
            fpn_out: [
                w.conv_bn("fpn.output1", 0, 1, 1, LEAKY)?,
                w.conv_bn("fpn.output2", 0, 1, 1, LEAKY)?,
                w.conv_bn("fpn.output3", 0, 1, 1, LEAKY)?,
            ],
            merge: [w.conv_bn("fpn.merge1", 0, 1, 1, LEAKY)?, w.conv_bn("fpn.merge2", 0, 1, 1, LEAKY)?],
            ssh: [w.ssh("ssh1")?, w.ssh("ssh2")?, w.ssh("ssh3")?],
            heads: [heads(0)?, heads(1)?, heads(2)?],
        })
    }

    /// Raw outputs for an input already in the network's form (BGR minus the means).
    pub fn forward(&self, x: Feature) -> RawOutput {
        let mut levels = Vec::with_capacity(3);
        let mut f = x;
        for stage in &self.body {
            for conv in stage {
                f = conv.forward(&f);
            }
            levels.push(f.clone());
        }
        let o1 = self.fpn_out[0].forward(&levels[0]);
        let mut o2 = self.fpn_out[1].forward(&levels[1]);
        let o3 = self.fpn_out[2].forward(&levels[2]);
        add_upsampled(&mut o2, &o3);
        let o2 = self.merge[1].forward(&o2);
        let mut o1 = o1;
        add_upsampled(&mut o1, &o2);
        let o1 = self.merge[0].forward(&o1);
        let mut out = RawOutput::default();
        for (level, feat) in [o1, o2, o3].iter().enumerate() {
            let s = self.ssh[level].forward(feat);
            let h = &self.heads[level];
            let (cls, bbox, lm) = (h.class.forward(&s), h.bbox.forward(&s), h.landmark.forward(&s));
            for p in 0..s.h * s.w * 2 {
                let c = &cls.data[p * 2..p * 2 + 2];
                let m = c[0].max(c[1]);
                let (e0, e1) = ((c[0] - m).exp(), (c[1] - m).exp());
                out.conf.push([e0 / (e0 + e1), e1 / (e0 + e1)]);
                out.loc.push(bbox.data[p * 4..p * 4 + 4].try_into().unwrap_or_default());
                out.landmarks.push(lm.data[p * 10..p * 10 + 10].try_into().unwrap_or_default());
            }
        }
        out
    }
}

impl Ssh {
    fn forward(&self, x: &Feature) -> Feature {
        let first = self.first.forward(x);
        let half = self.first.act_from; // channels of the 3×3 branch
        let second = self.second.forward(&first.channels(half, first.c - half));
        let quarter = self.second.act_from; // channels of the 5×5 branch
        let c7 = self.conv7_3.forward(&second.channels(quarter, second.c - quarter));
        let c = half + quarter + c7.c;
        let mut out = Feature::zeros(x.h, x.w, c);
        for p in 0..x.h * x.w {
            let dst = &mut out.data[p * c..(p + 1) * c];
            dst[..half].copy_from_slice(&first.data[p * first.c..p * first.c + half]);
            dst[half..half + quarter].copy_from_slice(&second.data[p * second.c..p * second.c + quarter]);
            dst[half + quarter..].copy_from_slice(&c7.data[p * c7.c..(p + 1) * c7.c]);
            dst.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        out
    }
}
