//! Resumable HTTP download into `<dest>.part`, verified before an atomic rename to `dest`.
//!
//! A connection that breaks mid-file keeps the bytes already written; the next attempt (in the
//! same call, up to a few retries, or a later call) asks for the rest with a `Range` header.
//! A server that ignores the range gets the file restarted from zero.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::HubError;

/// Attempts per call before giving up on a flaky connection.
const ATTEMPTS: usize = 5;

/// Download progress, for a progress bar.
pub trait Progress {
    /// A transfer starts with `done` bytes already on disk out of `total` (when known).
    fn start(&mut self, done: u64, total: Option<u64>);
    fn advance(&mut self, bytes: u64);
    fn finish(&mut self);
}

/// Downloads `url` to `dest`: resumes `<dest>.part`, runs `verify` on the complete file,
/// then renames it into place. A file that fails verification is deleted.
pub fn download_verified(
    url: &str,
    dest: &Path,
    progress: &mut dyn Progress,
    verify: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), HubError> {
    let part = part_path(dest);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut last_err = None;
    for attempt in 1..=ATTEMPTS {
        match transfer(&agent, url, &part, progress) {
            Ok(()) => {
                last_err = None;
                break;
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e)) => {
                tracing::warn!("{url}: attempt {attempt} of {ATTEMPTS} failed: {e}");
                last_err = Some(e);
                std::thread::sleep(Duration::from_millis(200 * attempt as u64));
            }
        }
    }
    progress.finish();
    if let Some(e) = last_err {
        return Err(e);
    }
    if let Err(detail) = verify(&part) {
        let _ = std::fs::remove_file(&part);
        let model = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(HubError::Verify { url: url.to_string(), model, detail });
    }
    std::fs::rename(&part, dest).map_err(|source| HubError::Io { path: dest.to_path_buf(), source })
}

/// `<dest>.part`
pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

enum Failure {
    /// Worth another attempt (connection dropped, timeout, server error).
    Retry(HubError),
    Fatal(HubError),
}

fn transfer(agent: &ureq::Agent, url: &str, part: &Path, progress: &mut dyn Progress) -> Result<(), Failure> {
    let io = |source| Failure::Fatal(HubError::Io { path: part.to_path_buf(), source });
    let http = |detail: String| HubError::Http { url: url.to_string(), detail };
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        // Range not satisfiable: the partial file already holds everything.
        Err(ureq::Error::StatusCode(416)) if have > 0 => return Ok(()),
        Err(ureq::Error::StatusCode(code)) if code >= 500 => return Err(Failure::Retry(http(format!("HTTP {code}")))),
        Err(ureq::Error::StatusCode(code)) => return Err(Failure::Fatal(http(format!("HTTP {code}")))),
        Err(e) => return Err(Failure::Retry(http(e.to_string()))),
    };
    let resumed = resp.status().as_u16() == 206;
    let length: Option<u64> =
        resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let start = if resumed { have } else { 0 };
    let total = length.map(|l| l + start);
    let mut file =
        OpenOptions::new().create(true).write(true).truncate(!resumed).append(resumed).open(part).map_err(io)?;
    progress.start(start, total);
    let mut reader = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut written = start;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.flush().map_err(io)?;
                return Err(Failure::Retry(http(format!("connection broke after {written} bytes: {e}"))));
            }
        };
        file.write_all(&buf[..n]).map_err(io)?;
        written += n as u64;
        progress.advance(n as u64);
    }
    file.sync_all().map_err(io)?;
    match total {
        Some(t) if written != t => Err(Failure::Retry(http(format!("connection closed after {written} of {t} bytes")))),
        _ => Ok(()),
    }
}
