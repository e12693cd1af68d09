//! The library's `tracing` events into Python's `logging`, logger `marlin_rs` (a warning is seen
//! on stderr with no logging set up, as Python's own warnings). `MARLIN_LOG` filters them as for
//! the CLI (default: info and above reach Python, whose logger levels decide the rest).

use std::fmt::Write;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Installs the forwarding subscriber, unless the process already has one.
pub fn install() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MARLIN_LOG").unwrap_or_else(|_| "info".into());
    let subscriber = tracing_subscriber::registry().with(filter).with(ToPython);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Sends each event to `logging.getLogger("marlin_rs")`.
struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => 40,
            Level::WARN => 30,
            Level::INFO => 20,
            Level::DEBUG | Level::TRACE => 10,
        };
        let mut text = Text(String::new());
        event.record(&mut text);
        Python::attach(|py| {
            let logged = py
                .import("logging")
                .and_then(|l| l.call_method1("getLogger", ("marlin_rs",)))
                .and_then(|logger| logger.call_method1("log", (level, text.0)));
            if let Err(e) = logged {
                e.print(py);
            }
        });
    }
}

/// An event's message, then its other fields as ` name=value` (the CLI's log line).
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.0, "{value:?}");
            }
            name => {
                let _ = write!(self.0, " {name}={value:?}");
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.0.push_str(value),
            name => {
                let _ = write!(self.0, " {name}={value}");
            }
        }
    }
}
