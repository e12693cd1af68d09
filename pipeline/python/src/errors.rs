//! Library errors as Python exceptions. The message is the CLI's (the error and its causes,
//! `marlin_settings::error_chain`); the class is `marlin_rs.MarlinError`, or its
//! `FileNotFoundError` / `ValueError` subclasses for a missing file or a bad setting, or
//! `KeyboardInterrupt` for a run stopped by Ctrl-C.

use std::error::Error;

use marlin_batch::BatchError;
use marlin_hub::HubError;
use marlin_media::MediaError;
use marlin_model::ModelError;
use marlin_onnx::OnnxError;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

/// What kind of Python exception an error is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    NotFound,
    Value,
    Interrupted,
}

/// The Python exception for `e`.
pub fn to_py(e: &(dyn Error + 'static)) -> PyErr {
    let message = marlin_settings::error_chain(e);
    let class = match kind(e) {
        Some(Kind::Interrupted) => return PyKeyboardInterrupt::new_err(message),
        Some(Kind::NotFound) => "MarlinFileNotFoundError",
        Some(Kind::Value) => "MarlinValueError",
        None => "MarlinError",
    };
    raise(class, message)
}

/// `marlin_rs.<class>(message)` as a `PyErr`.
pub fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        match py.import("marlin_rs._errors").and_then(|m| m.getattr(class)).and_then(|c| c.call1((message.clone(),))) {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        }
    })
}

/// Library results into Python results.
pub trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: Error + 'static> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| to_py(&e))
    }
}

/// The kind of the first error in the chain that has one. Transparent variants print their
/// inner error but do not return it as a source, so they are looked into here.
fn kind(e: &(dyn Error + 'static)) -> Option<Kind> {
    own_kind(e).or_else(|| e.source().and_then(kind))
}

fn own_kind(e: &(dyn Error + 'static)) -> Option<Kind> {
    if let Some(e) = e.downcast_ref::<BatchError>() {
        return match e {
            BatchError::Cancelled => Some(Kind::Interrupted),
            BatchError::Config(_) | BatchError::Setting(_) | BatchError::NoVideos { .. } => Some(Kind::Value),
            BatchError::Io { source, .. } => kind(source),
            BatchError::Media(m) => kind(m),
            BatchError::Model(m) => kind(m),
            BatchError::Faces(f) => kind(f),
            BatchError::Npy(n) => kind(n),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<OnnxError>() {
        return match e {
            OnnxError::Model(m) => kind(m),
            OnnxError::Hub(h) => kind(h),
            OnnxError::Faces(f) => kind(f),
            OnnxError::Setting(_) | OnnxError::Unsupported(_) => Some(Kind::Value),
            OnnxError::Batch(b) => kind(b),
            OnnxError::Detector { source, .. } => kind(source.as_ref()),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<HubError>() {
        return match e {
            HubError::NoSuchCheckpoint(_) | HubError::NoDetector { .. } | HubError::NotFetched(_) => {
                Some(Kind::NotFound)
            }
            HubError::NoSuchDetector { path, .. } if !path.exists() => Some(Kind::NotFound),
            HubError::UnknownModel(_) | HubError::UnknownConfig(_) => Some(Kind::Value),
            HubError::Io { source, .. } => kind(source),
            HubError::Model { source, .. } | HubError::Config { source } => kind(source),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<MediaError>() {
        return match e {
            MediaError::NotFound { .. } => Some(Kind::NotFound),
            MediaError::Setting(_) => Some(Kind::Value),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<ModelError>() {
        return match e {
            ModelError::BadInput(_) => Some(Kind::Value),
            ModelError::Checkpoint(c) => kind(c),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<std::io::Error>() {
        return (e.kind() == std::io::ErrorKind::NotFound).then_some(Kind::NotFound);
    }
    if e.is::<marlin_settings::OutOfRange>() || e.is::<marlin_settings::UnknownName>() {
        return Some(Kind::Value);
    }
    None
}
