//! `marlin_rs._native`: the library crates as a Python extension module. Each submodule
//! converts Python arguments into the library's settings and arrays back into numpy; the
//! Python package around it (`python/marlin_rs/`) gives the official marlin-pytorch API.

mod batch;
mod engine;
mod errors;
mod fork;
mod interrupt;
mod logging;

use pyo3::prelude::*;

// As the `marlin` binary: the detector's per-layer maps are megabytes each, and mimalloc keeps
// freed memory for reuse instead of returning it to the kernel at every layer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    fork::init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<engine::Engine>()?;
    m.add_function(wrap_pyfunction!(batch::featurize, m)?)?;
    m.add_function(wrap_pyfunction!(batch::read_features, m)?)?;
    m.add_function(wrap_pyfunction!(batch::detect, m)?)?;
    m.add_function(wrap_pyfunction!(batch::fetch, m)?)?;
    m.add_function(wrap_pyfunction!(fork::before_fork, m)?)?;
    Ok(())
}
