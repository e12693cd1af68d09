//! FaceX-Zoo's RetinaFace (MobileNet-0.25), the detector MARLIN's `crop_face` uses, loaded from
//! its pickled whole module (`face_detection_retina.pkl`) without running any pickle code.

mod chain;
mod kernels;
mod layers;
mod map;
mod net;
mod postprocess;
#[cfg(test)]
mod reference;
mod simd;
pub mod weights;
mod winograd;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

pub use net::RawOutput;
pub use postprocess::{Detection, NMS_THRESHOLD, SCORE_THRESHOLD, detections, priors};

use crate::FaceError;
use crate::crop::FrameRef;
use map::Workspace;
use simd::Isa;

/// The byte order of the pixels handed to the detector. The network was trained on BGR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    Rgb,
    Bgr,
}

/// The module's tensors by their state-dict names (`body.stage1.0.0.weight`…), for the
/// detector here and for its ONNX export.
pub fn load_tensors(path: &Path) -> Result<BTreeMap<String, marlin_checkpoint::Tensor>, FaceError> {
    let object = marlin_checkpoint::load_pickled_object(path)?;
    let mut tensors = BTreeMap::new();
    weights::collect(&object, "", &mut tensors);
    if tensors.is_empty() {
        return Err(FaceError::NotRetinaFace { path: path.into(), detail: "no module tensors in the pickle".into() });
    }
    Ok(tensors)
}

/// An 8-bit 3-channel image's size against its bytes (`width·height·3`).
fn check_image(frame: FrameRef<'_>) -> Result<(), FaceError> {
    let FrameRef { rgb, width, height } = frame;
    if rgb.len() != width * height * 3 || width == 0 || height == 0 {
        return Err(FaceError::BadImage { width, height, len: rgb.len() });
    }
    Ok(())
}

/// The handler's preprocessing (float BGR minus (104, 117, 123), as the native network's first
/// layer reads it) as the network's input, channels first (1, 3, H, W).
pub fn network_input_chw(frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<f32>, FaceError> {
    check_image(frame)?;
    let FrameRef { rgb: pixels, width, height } = frame;
    let plane = width * height;
    let mut out = vec![0f32; 3 * plane];
    let isa = Isa::detect();
    for (y, row) in pixels.chunks_exact(width * 3).enumerate() {
        // Channel c of row y at c·plane + y·width: channel-rows a plane apart.
        kernels::input_row(isa, row, order == PixelOrder::Bgr, &mut out[y * width..], plane, 0);
    }
    Ok(out)
}

/// What finds faces in a frame, whichever engine computes: [`RetinaFace`] here, or the
/// exported graph in ONNX Runtime (`marlin-onnx`). Crops, trackers and batch runs take any.
pub trait FaceDetector: Send + Sync {
    /// Faces in the 8-bit 3-channel image (`order`), best first: the official handler's
    /// decoding, score > 0.7 and NMS 0.2.
    fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, FaceError>;

    /// Faces in each of several images (the frames of a clip, say), each as [`detect`] finds
    /// them: engines that can compute images together (the native detector runs one image
    /// per thread) override this.
    ///
    /// [`detect`]: FaceDetector::detect
    fn detect_batch(&self, images: &[FrameRef<'_>], order: PixelOrder) -> Result<Vec<Vec<Detection>>, FaceError> {
        images.iter().map(|&frame| self.detect(frame, order)).collect()
    }

    /// Where and how it computes (`cpu, 2 threads`).
    fn describe(&self) -> String;
}

impl FaceDetector for RetinaFace {
    fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, FaceError> {
        RetinaFace::detect(self, frame, order)
    }

    fn detect_batch(&self, images: &[FrameRef<'_>], order: PixelOrder) -> Result<Vec<Vec<Detection>>, FaceError> {
        RetinaFace::detect_batch(self, images, order)
    }

    fn describe(&self) -> String {
        format!("cpu, {} threads", self.threads())
    }
}

/// The detector with its weights (BatchNorm folded), a thread pool, and the buffers of its
/// feature maps (one set per forward running at once, kept between frames).
pub struct RetinaFace {
    net: net::Network,
    pool: rayon::ThreadPool,
    isa: Isa,
    workspaces: Mutex<Vec<Workspace>>,
}

impl RetinaFace {
    /// Loads `face_detection_retina.pkl` (FaceX-Zoo's `torch.save` of the whole module).
    /// `threads` 0 means every core.
    pub fn load(path: &Path, threads: usize) -> Result<Self, FaceError> {
        let not = |detail: String| FaceError::NotRetinaFace { path: path.into(), detail };
        let tensors = load_tensors(path)?;
        let net = net::Network::new(&tensors).map_err(not)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| not(format!("thread pool: {e}")))?;
        let isa = Isa::detect();
        tracing::debug!(?isa, threads = pool.current_num_threads(), "RetinaFace loaded");
        Ok(Self { net, pool, isa, workspaces: Mutex::new(Vec::new()) })
    }

    /// Threads of the detector's pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The network's raw outputs for an 8-bit 3-channel image (`width·height·3` bytes, in
    /// `order`), at full resolution.
    pub fn raw(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<RawOutput, FaceError> {
        check_image(frame)?;
        Ok(self.pool.install(|| self.forward(frame, order, true)))
    }

    /// One forward on the calling thread (in the pool), its layers over the pool if `parallel`.
    fn forward(&self, frame: FrameRef<'_>, order: PixelOrder, parallel: bool) -> RawOutput {
        let taken = self.workspaces.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut ws = taken.unwrap_or_default();
        let FrameRef { rgb, width, height } = frame;
        let raw = self.net.forward(self.isa, &mut ws, rgb, width, height, order == PixelOrder::Bgr, parallel);
        self.workspaces.lock().unwrap_or_else(|e| e.into_inner()).push(ws);
        raw
    }

    /// Faces in the image, best first: the official handler's decoding, score > 0.7 and NMS 0.2.
    pub fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, FaceError> {
        let raw = self.raw(frame, order)?;
        Ok(postprocess::detections(&raw, frame.width, frame.height))
    }

    /// Faces in each image, as [`RetinaFace::detect`] finds them (the same values): whole
    /// rounds of one image per thread, no waiting between layers; the images left over, one
    /// at a time over all threads.
    pub fn detect_batch(&self, images: &[FrameRef<'_>], order: PixelOrder) -> Result<Vec<Vec<Detection>>, FaceError> {
        for &f in images {
            check_image(f)?;
        }
        let threads = self.threads();
        let together = if threads > 1 { images.len() / threads * threads } else { 0 };
        let detect = |&f: &FrameRef<'_>, parallel: bool| {
            let raw = self.forward(f, order, parallel);
            postprocess::detections(&raw, f.width, f.height)
        };
        Ok(self.pool.install(|| {
            let mut out: Vec<Vec<Detection>> = images[..together].par_iter().map(|f| detect(f, false)).collect();
            out.extend(images[together..].iter().map(|f| detect(f, true)));
            out
        }))
    }
}
