//! `os.fork()` after the module decoded: the child must not count on the parent's GLib pool
//! threads. GStreamer starts its streaming threads from GLib's shared thread pool; a thread
//! whose pipeline stopped waits half a second for more work of its pool, then joins GLib's
//! global list of unused threads. A forked child inherits both counts but not the threads, and
//! its pipelines wait forever for a streaming thread. So: no unused threads are kept (they
//! exit instead), and a fork waits until the last pipeline's threads have left their pool
//! (`before_fork`, registered with `os.register_at_fork`). The engines' own thread pools are
//! opened again in the child (`engine.rs`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How long GLib keeps a finished pool thread waiting for its pool's next task (half a
/// second), with a margin.
const POOL_THREAD_LINGER: Duration = Duration::from_millis(700);

/// When the last call that ran GStreamer pipelines ended.
static LAST_PIPELINES: Mutex<Option<Instant>> = Mutex::new(None);

/// GLib keeps no unused threads for later (they exit when their pool has no work).
pub fn init() {
    gstreamer::glib::ThreadPool::set_max_unused_threads(Some(0));
}

/// A call that may have run pipelines has ended (their threads are back in GLib's pool).
pub fn pipelines_stopped() {
    *LAST_PIPELINES.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
}

/// Called by `os.fork()` in the parent: waits until the last pipelines' threads have exited.
#[pyfunction]
pub fn before_fork(py: Python<'_>) {
    let last = *LAST_PIPELINES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wait) = last.and_then(|t| POOL_THREAD_LINGER.checked_sub(t.elapsed())) {
        py.detach(|| std::thread::sleep(wait));
    }
}
