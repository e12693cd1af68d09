//! The RetinaFace network (biubug6's layout, as FaceX-Zoo pickles it): MobileNetV1-0.25 body,
//! FPN over strides 8/16/32, an SSH context module per level, and 1×1 heads with 2 anchors per
//! location.

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;

use super::layers::{Act, Conv, Feature, add_upsampled};

const LEAKY: Act = Act::Leaky(0.1);

/// One SSH context module: the 3×3, 5×5 and 7×7 (stacked 3×3) branches.
struct Ssh {
    conv3: Conv,
    conv5_1: Conv,
    conv5_2: Conv,
    conv7_2: Conv,
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
        Ok(Ssh {
            conv3: self.conv_bn(&format!("{p}.conv3X3"), 0, 1, 1, Act::None)?,
            conv5_1: self.conv_bn(&format!("{p}.conv5X5_1"), 0, 1, 1, LEAKY)?,
            conv5_2: self.conv_bn(&format!("{p}.conv5X5_2"), 0, 1, 1, Act::None)?,
            conv7_2: self.conv_bn(&format!("{p}.conv7X7_2"), 0, 1, 1, LEAKY)?,
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
        for (stage, strides) in [("stage1", &[2, 1, 2, 1, 2, 1][..]), ("stage2", &[2, 1, 1, 1, 1, 1]), ("stage3", &[2, 1])] {
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
            Ok(Heads { class: w.head(&format!("ClassHead.{i}"))?, bbox: w.head(&format!("BboxHead.{i}"))?, landmark: w.head(&format!("LandmarkHead.{i}"))? })
        };
        Ok(Self {
            body,
            fpn_out: [w.conv_bn("fpn.output1", 0, 1, 1, LEAKY)?, w.conv_bn("fpn.output2", 0, 1, 1, LEAKY)?, w.conv_bn("fpn.output3", 0, 1, 1, LEAKY)?],
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
        let c3 = self.conv3.forward(x);
        let c5_1 = self.conv5_1.forward(x);
        let c5 = self.conv5_2.forward(&c5_1);
        let c7 = self.conv7_3.forward(&self.conv7_2.forward(&c5_1));
        let c = c3.c + c5.c + c7.c;
        let mut out = Feature::zeros(x.h, x.w, c);
        for p in 0..x.h * x.w {
            let dst = &mut out.data[p * c..(p + 1) * c];
            dst[..c3.c].copy_from_slice(&c3.data[p * c3.c..(p + 1) * c3.c]);
            dst[c3.c..c3.c + c5.c].copy_from_slice(&c5.data[p * c5.c..(p + 1) * c5.c]);
            dst[c3.c + c5.c..].copy_from_slice(&c7.data[p * c7.c..(p + 1) * c7.c]);
            dst.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        out
    }
}
