//! The face detector's exported graph ([`export_retinaface`]) run through ONNX Runtime, with
//! `marlin-faces`' preprocessing before it and its decoding and NMS after: the same detections
//! as [`marlin_faces::RetinaFace`], computed by ONNX Runtime's provider.

use std::path::Path;
use std::sync::Mutex;

use marlin_faces::retinaface::{detections, load_tensors, network_input_chw};
use marlin_faces::{Detection, FaceDetector, FaceError, FrameRef, PixelOrder, RawOutput};
use ort::session::Session;
use ort::value::Tensor;

use crate::runtime::{ShapeProfile, environment, ort_error, start_session};
use crate::{OnnxError, Provider, export_retinaface};

/// RetinaFace in an ONNX Runtime session.
pub struct OnnxRetinaFace {
    session: Mutex<Session>,
    provider: Provider,
}

impl OnnxRetinaFace {
    /// Loads `face_detection_retina.pkl`, exports it and starts a session on `provider` with
    /// `threads` CPU threads (0: ONNX Runtime's default).
    pub fn load(path: &Path, provider: Provider, threads: usize) -> Result<Self, OnnxError> {
        let tensors = load_tensors(path)?;
        let model =
            export_retinaface(&tensors).map_err(|e| OnnxError::File { path: path.into(), detail: e.to_string() })?;
        let (_, env) = environment(None)?;
        // TensorRT's profile: from thumbnails to 4K frames, tuned for 720p
        let profile = ShapeProfile {
            min: "image:1x3x32x32".into(),
            opt: "image:1x3x720x1280".into(),
            max: "image:1x3x2160x3840".into(),
        };
        let session = start_session(&env, &model, &provider, threads, &profile)?;
        Ok(Self { session: Mutex::new(session), provider })
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The network's raw outputs for an 8-bit 3-channel image in `order`.
    pub fn raw(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<RawOutput, OnnxError> {
        let input = network_input_chw(frame, order)?;
        let value = Tensor::from_array(([1, 3, frame.height, frame.width], input)).map_err(ort_error)?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(ort::inputs!["image" => value]).map_err(ort_error)?;
        let values = |name: &str| outputs[name].try_extract_tensor::<f32>().map(|(_, v)| v).map_err(ort_error);
        let (loc, conf, lm) = (values("loc")?, values("conf")?, values("landmarks")?);
        let n = loc.len() / 4;
        if loc.len() != 4 * n || conf.len() != 2 * n || lm.len() != 10 * n {
            return Err(OnnxError::Runtime(format!(
                "the detector's outputs disagree: {} loc, {} conf, {} landmark values",
                loc.len(),
                conf.len(),
                lm.len()
            )));
        }
        Ok(RawOutput { loc: rows(loc), conf: rows(conf), landmarks: rows(lm) })
    }

    /// Faces in the image, best first (the official handler's decoding, score and NMS).
    pub fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, OnnxError> {
        let raw = self.raw(frame, order)?;
        Ok(detections(&raw, frame.width, frame.height))
    }
}

/// Consecutive `N` values as rows.
fn rows<const N: usize>(values: &[f32]) -> Vec<[f32; N]> {
    values.chunks_exact(N).map(|c| std::array::from_fn(|i| c[i])).collect()
}

impl FaceDetector for OnnxRetinaFace {
    fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, FaceError> {
        OnnxRetinaFace::detect(self, frame, order).map_err(|e| FaceError::Detector(Box::new(e)))
    }

    fn describe(&self) -> String {
        format!("{} (ONNX Runtime)", self.provider.name())
    }
}
