//! Long calls run on a worker thread with the GIL released; the calling thread waits in steps
//! of [`POLL`], running Python's signal handlers between them. Ctrl-C sets the work's cancel
//! flag (the library stops within a clip or a batch, finished outputs kept) and raises
//! `KeyboardInterrupt` once the work has stopped; [`StopOnCancel`] makes the face detector stop
//! at the next frame rather than the next clip.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use marlin_faces::{Detection, FaceDetector, FaceError, FrameRef, PixelOrder};
use pyo3::prelude::*;

use crate::errors::raise;

/// How often the waiting thread looks at Python's signals.
const POLL: Duration = Duration::from_millis(100);

/// Runs `work` with the GIL released; `tick` runs (GIL released) at every poll, e.g. to show
/// progress. Ctrl-C sets the flag `work` is given and, after it returns, raises
/// `KeyboardInterrupt` whatever it returned.
pub fn run<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> T + Send,
    mut tick: impl FnMut() + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::scope(|s| {
        let cancel = &cancel;
        std::thread::Builder::new()
            .name("marlin-python".into())
            .spawn_scoped(s, move || {
                let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(|| work(cancel))));
            })
            .map_err(|e| raise("MarlinError", format!("internal error: cannot start a thread: {e}")))?;
        let mut interrupted: Option<PyErr> = None;
        loop {
            let got = py.detach(|| {
                tick();
                rx.recv_timeout(POLL)
            });
            if got.is_ok() {
                crate::fork::pipelines_stopped();
            }
            match got {
                Ok(Ok(value)) => return interrupted.map_or(Ok(value), Err),
                Ok(Err(panic)) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    return Err(raise("MarlinError", format!("internal error: {what}")));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(raise("MarlinError", "internal error: the worker thread ended".into()));
                }
            }
            if interrupted.is_none()
                && let Err(e) = py.check_signals()
            {
                cancel.store(true, Ordering::Relaxed);
                interrupted = Some(e);
            }
        }
    })
}

/// The face detector of an interruptible call, failing once the call is cancelled: the library
/// looks at the flag between clips, and a clip's detections take seconds on large frames. The
/// failure goes nowhere: `run` raises KeyboardInterrupt whatever the work returned, and
/// featurize drops what reaches its encoder after the cancel (finished videos stay written).
pub struct StopOnCancel<'a> {
    pub detector: &'a dyn FaceDetector,
    pub cancel: &'a AtomicBool,
}

/// Images per detector call when a clip's frames come together: one per thread and more.
const DETECT_CHUNK: usize = 4;

impl StopOnCancel<'_> {
    fn check(&self) -> Result<(), FaceError> {
        match self.cancel.load(Ordering::Relaxed) {
            true => Err(FaceError::Detector("interrupted".into())),
            false => Ok(()),
        }
    }
}

impl FaceDetector for StopOnCancel<'_> {
    fn detect(&self, frame: FrameRef<'_>, order: PixelOrder) -> Result<Vec<Detection>, FaceError> {
        self.check()?;
        self.detector.detect(frame, order)
    }

    fn detect_batch(&self, images: &[FrameRef<'_>], order: PixelOrder) -> Result<Vec<Vec<Detection>>, FaceError> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(DETECT_CHUNK) {
            self.check()?;
            out.extend(self.detector.detect_batch(chunk, order)?);
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        self.detector.describe()
    }
}
