//! Long calls run on a worker thread with the GIL released; the calling thread waits in steps
//! of [`POLL`], running Python's signal handlers between them. Ctrl-C sets the work's cancel
//! flag (the library stops within a clip or a batch, finished outputs kept) and raises
//! `KeyboardInterrupt` once the work has stopped.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
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
