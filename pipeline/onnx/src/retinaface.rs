//! FaceX-Zoo's RetinaFace (MobileNet-0.25) as an ONNX graph written from the pickled module's
//! tensors, BatchNorm folded into the convolutions as `marlin-faces` folds it: input `image`
//! (1, 3, H, W), the handler's preprocessing already applied (BGR minus 104, 117, 123), any
//! size; outputs `loc` (1, P, 4), `conf` (1, P, 2, softmaxed) and `landmarks` (1, P, 10) over
//! the P priors in the network's order (level, y, x, anchor). The decoding, score threshold and
//! NMS stay in `marlin-faces` ([`marlin_faces::retinaface::detections`]).

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;
use prost::Message;

use crate::OnnxError;
use crate::graph::{Dim, GraphBuilder, float, int, ints, string};
use crate::proto::{ModelProto, OperatorSetIdProto};

/// The opset the detector graph is written in.
const OPSET: i64 = 17;
/// BatchNorm's epsilon in the pickled module (PyTorch's default).
const BN_EPS: f64 = 1e-5;

/// The detector of `tensors` (from [`marlin_faces::retinaface::load_tensors`]) as a
/// serialized ONNX model.
pub fn export_retinaface(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, OnnxError> {
    let mut n = Net { t: tensors, g: GraphBuilder::default() };
    let image = n.g.input("image", &[Dim::Fixed(1), Dim::Fixed(3), Dim::Named("height"), Dim::Named("width")]);
    let mut f = image;
    let mut levels = Vec::new();
    // MobileNetV1-0.25: stage1's first block is a conv_bn, every other block a depthwise 3×3
    // then a 1×1
    for (stage, strides) in [("stage1", &[2, 1, 2, 1, 2, 1][..]), ("stage2", &[2, 1, 1, 1, 1, 1]), ("stage3", &[2, 1])]
    {
        for (b, &stride) in strides.iter().enumerate() {
            let p = format!("body.{stage}.{b}");
            f = n.conv_bn(&f, &p, 0, 1, stride, true)?;
            if !(stage == "stage1" && b == 0) {
                f = n.conv_bn(&f, &p, 3, 4, 1, true)?;
            }
        }
        levels.push(f.clone());
    }
    let o1 = n.conv_bn(&levels[0], "fpn.output1", 0, 1, 1, true)?;
    let o2 = n.conv_bn(&levels[1], "fpn.output2", 0, 1, 1, true)?;
    let o3 = n.conv_bn(&levels[2], "fpn.output3", 0, 1, 1, true)?;
    let up3 = n.upsample_to(&o3, &o2);
    let o2 = n.g.op("Add", &[&o2, &up3], vec![]);
    let o2 = n.conv_bn(&o2, "fpn.merge2", 0, 1, 1, true)?;
    let up2 = n.upsample_to(&o2, &o1);
    let o1 = n.g.op("Add", &[&o1, &up2], vec![]);
    let o1 = n.conv_bn(&o1, "fpn.merge1", 0, 1, 1, true)?;

    let (mut loc, mut conf, mut lm) = (Vec::new(), Vec::new(), Vec::new());
    for (i, feat) in [o1, o2, o3].iter().enumerate() {
        let s = n.ssh(feat, &format!("ssh{}", i + 1))?;
        conf.push(n.head(&s, &format!("ClassHead.{i}"), 2)?);
        loc.push(n.head(&s, &format!("BboxHead.{i}"), 4)?);
        lm.push(n.head(&s, &format!("LandmarkHead.{i}"), 10)?);
    }
    let cat = |g: &mut GraphBuilder, parts: &[String]| {
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        g.op("Concat", &parts, vec![int("axis", 1)])
    };
    let loc = cat(&mut n.g, &loc);
    let conf = cat(&mut n.g, &conf);
    let conf = n.g.op("Softmax", &[&conf], vec![int("axis", -1)]);
    let lm = cat(&mut n.g, &lm);
    for (value, name, width) in [(&loc, "loc", 4), (&conf, "conf", 2), (&lm, "landmarks", 10)] {
        n.g.output(value, name, &[Dim::Fixed(1), Dim::Named("priors"), Dim::Fixed(width)]);
    }
    let model = ModelProto {
        ir_version: 8,
        producer_name: "marlin-rs".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "FaceX-Zoo RetinaFace (MobileNet-0.25), BatchNorm folded".into(),
        graph: Some(n.g.finish("retinaface_mobilenet0.25")),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        metadata_props: vec![],
    };
    Ok(model.encode_to_vec())
}

struct Net<'a> {
    t: &'a BTreeMap<String, Tensor>,
    g: GraphBuilder,
}

impl<'a> Net<'a> {
    fn get(&self, name: &str) -> Result<&'a Tensor, OnnxError> {
        self.t.get(name).ok_or_else(|| OnnxError::Export(format!("the detector has no tensor {name}")))
    }

    /// `{prefix}.{conv}` (3×3 or 1×1, padding k/2; depthwise when it has one input channel per
    /// group) with the BatchNorm `{prefix}.{bn}` folded in, then LeakyReLU(0.1) when `leaky`.
    fn conv_bn(
        &mut self,
        x: &str,
        prefix: &str,
        conv: usize,
        bn: usize,
        stride: usize,
        leaky: bool,
    ) -> Result<String, OnnxError> {
        let w = self.get(&format!("{prefix}.{conv}.weight"))?;
        let &[cout, cin_g, k, k2] = w.shape.as_slice() else {
            return Err(OnnxError::Export(format!("{prefix}: conv weight of shape {:?}", w.shape)));
        };
        if k != k2 {
            return Err(OnnxError::Export(format!("{prefix}: conv weight of shape {:?}", w.shape)));
        }
        let p = |n: &str| self.get(&format!("{prefix}.{bn}.{n}")).map(|t| t.data.as_slice());
        let (gamma, beta, mean, var) = (p("weight")?, p("bias")?, p("running_mean")?, p("running_var")?);
        let per = cin_g * k * k;
        let mut weight = vec![0f32; cout * per];
        let mut bias = vec![0f32; cout];
        for o in 0..cout {
            let s = gamma[o] as f64 / (var[o] as f64 + BN_EPS).sqrt();
            for (dst, &src) in weight[o * per..(o + 1) * per].iter_mut().zip(&w.data[o * per..(o + 1) * per]) {
                *dst = (src as f64 * s) as f32;
            }
            bias[o] = ((0.0 - mean[o] as f64) * s + beta[o] as f64) as f32;
        }
        let groups = if cin_g == 1 && cout > 1 && k == 3 { cout } else { 1 };
        let wn = self.g.weight(&format!("{prefix}.{conv}.folded_weight"), &[cout, cin_g, k, k], &weight);
        let bn_ = self.g.weight(&format!("{prefix}.{conv}.folded_bias"), &[cout], &bias);
        let pad = (k / 2) as i64;
        let y = self.g.op(
            "Conv",
            &[x, &wn, &bn_],
            vec![
                ints("kernel_shape", &[k as i64, k as i64]),
                ints("strides", &[stride as i64, stride as i64]),
                ints("pads", &[pad; 4]),
                int("group", groups as i64),
            ],
        );
        Ok(if leaky { self.g.op("LeakyRelu", &[&y], vec![float("alpha", 0.1)]) } else { y })
    }

    /// `x` nearest-upsampled to `like`'s size, as `F.interpolate(mode="nearest")`.
    fn upsample_to(&mut self, x: &str, like: &str) -> String {
        let sizes = self.g.op("Shape", &[like], vec![]);
        self.g.op(
            "Resize",
            &[x, "", "", &sizes],
            vec![
                string("mode", "nearest"),
                string("coordinate_transformation_mode", "asymmetric"),
                string("nearest_mode", "floor"),
            ],
        )
    }

    /// The SSH context module: concat(3×3, 5×5, 7×7 branches), ReLU.
    fn ssh(&mut self, x: &str, p: &str) -> Result<String, OnnxError> {
        let c3 = self.conv_bn(x, &format!("{p}.conv3X3"), 0, 1, 1, false)?;
        let c5_1 = self.conv_bn(x, &format!("{p}.conv5X5_1"), 0, 1, 1, true)?;
        let c5 = self.conv_bn(&c5_1, &format!("{p}.conv5X5_2"), 0, 1, 1, false)?;
        let c7_2 = self.conv_bn(&c5_1, &format!("{p}.conv7X7_2"), 0, 1, 1, true)?;
        let c7 = self.conv_bn(&c7_2, &format!("{p}.conv7x7_3"), 0, 1, 1, false)?;
        let cat = self.g.op("Concat", &[&c3, &c5, &c7], vec![int("axis", 1)]);
        Ok(self.g.op("Relu", &[&cat], vec![]))
    }

    /// A 1×1 head with bias, (1, A·width, h, w) → (1, h·w·A, width).
    fn head(&mut self, x: &str, prefix: &str, width: i64) -> Result<String, OnnxError> {
        let (w, b) = (self.get(&format!("{prefix}.conv1x1.weight"))?, self.get(&format!("{prefix}.conv1x1.bias"))?);
        let wn = self.g.weight(&format!("{prefix}.weight"), &w.shape, &w.data);
        let bn = self.g.weight(&format!("{prefix}.bias"), &b.shape, &b.data);
        let y = self.g.op("Conv", &[x, &wn, &bn], vec![ints("kernel_shape", &[1, 1])]);
        let y = self.g.op("Transpose", &[&y], vec![ints("perm", &[0, 2, 3, 1])]);
        let shape = self.g.ints(&format!("{prefix}.shape"), &[0, -1, width]);
        Ok(self.g.op("Reshape", &[&y, &shape], vec![]))
    }
}
