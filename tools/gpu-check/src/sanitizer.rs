//! `--sanitizer`: the kernel checks again under NVIDIA's compute-sanitizer — memcheck
//! (out-of-bounds and misaligned device accesses) and initcheck (reads of device memory never
//! written) — as one child run of this binary per tool (`--kernels-only --repeat 0`), each ending
//! `ok` or `FAILED` with the sanitizer's first error lines.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use marlin_kernels::cuda::Outcome;
use marlin_kernels::libraries::{LibrarySearch, on_path};

use crate::Args;

const TOOLS: [&str; 2] = ["memcheck", "initcheck"];
/// The child's exit status when the sanitizer found an error.
const ERROR_EXIT: i32 = 99;
/// Longest a tool may run (the kit's whole run is meant to end within 5 minutes).
const TIMEOUT: Duration = Duration::from_secs(100);

/// One outcome per tool (each passed to `print` as it ends).
pub fn run(
    gpu: bool,
    args: &Args,
    inputs: &Path,
    search: &LibrarySearch,
    print: &mut dyn FnMut(&Outcome),
) -> Vec<Outcome> {
    let sanitizer = find(search);
    TOOLS
        .iter()
        .map(|tool| {
            let name = format!("compute-sanitizer {tool}");
            let outcome = match &sanitizer {
                _ if !gpu => Outcome::skipped(name, "no GPU (see `gpu`)"),
                None => Outcome::skipped(name, "compute-sanitizer is neither on PATH nor in a CUDA toolkit's bin/"),
                Some(s) => run_tool(&name, command(s, tool, args, inputs)),
            };
            print(&outcome);
            outcome
        })
        .collect()
}

/// compute-sanitizer on PATH, else in a toolkit the search knows.
fn find(search: &LibrarySearch) -> Option<PathBuf> {
    on_path("compute-sanitizer").or_else(|| {
        search
            .toolkits
            .iter()
            .flat_map(|root| [root.join("bin/compute-sanitizer"), root.join("compute-sanitizer/compute-sanitizer")])
            .find(|p| p.is_file())
    })
}

/// `SANITIZER --tool TOOL … THIS-BINARY --kernels-only --repeat 0 …` with this run's inputs
/// and library search.
fn command(sanitizer: &Path, tool: &str, args: &Args, inputs: &Path) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("marlin-gpu-check"));
    let mut c = Command::new(sanitizer);
    c.args(["--tool", tool, "--error-exitcode", &ERROR_EXIT.to_string(), "--print-limit", "10"])
        .arg(exe)
        .args(child_args(args, inputs));
    c
}

fn child_args(args: &Args, inputs: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> =
        ["--kernels-only", "--repeat", "0", "--inputs"].map(OsString::from).into_iter().collect();
    out.push(inputs.into());
    for (flag, values) in [("--python", &args.python), ("--lib-dir", &args.lib_dir)] {
        for v in values {
            out.extend([flag.into(), v.into()]);
        }
    }
    out
}

/// Runs `command` (output to a log file, killed after [`TIMEOUT`]) and reads its end.
fn run_tool(name: &str, mut command: Command) -> Outcome {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!("marlin-gpu-check-{}-{run}.log", std::process::id()));
    let file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => return Outcome::failed(name, vec![format!("{}: {e}", log.display())]),
    };
    let start = Instant::now();
    let child = file.try_clone().and_then(|out| command.stdout(out).stderr(file).spawn());
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Outcome::failed(name, vec![format!("{:?}: {e}", command.get_program())]),
    };
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status.code()),
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Outcome::failed(name, vec![e.to_string()]),
        }
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    verdict(name, code, &output, start.elapsed().as_secs_f64())
}

/// How a child run ended: `code` is `None` when it timed out, `Some(None)` when a signal ended it.
fn verdict(name: &str, code: Option<Option<i32>>, output: &str, seconds: f64) -> Outcome {
    let lines = |prefix: &str| output.lines().filter(|l| l.starts_with(prefix)).collect::<Vec<_>>();
    let first = |v: Vec<&str>, n: usize| v.into_iter().take(n).map(str::to_string).collect::<Vec<_>>();
    let tail = || {
        let all: Vec<&str> = output.lines().collect();
        all[all.len().saturating_sub(8)..].iter().map(|l| l.to_string()).collect::<Vec<_>>()
    };
    match code {
        None => Outcome::failed(name, [vec![format!("timed out after {} s", TIMEOUT.as_secs())], tail()].concat()),
        Some(Some(0)) => {
            let checks = lines("ok ").len();
            Outcome::ok(name, format!("no errors; {checks} checks passed under it ({seconds:.0} s)"))
        }
        Some(Some(ERROR_EXIT)) => {
            let errors: Vec<&str> = output
                .lines()
                .filter(|l| l.starts_with("=========") && !l.trim_start_matches('=').trim().is_empty())
                .collect();
            Outcome::failed(name, first(errors, 10))
        }
        Some(Some(3)) => Outcome::failed(
            name,
            [vec!["under the sanitizer the GPU checks were skipped:".to_string()], first(lines("skipped "), 3)]
                .concat(),
        ),
        Some(code) => {
            let failed = lines("FAILED ");
            let detail = if failed.is_empty() { tail() } else { first(failed, 5) };
            Outcome::failed(name, [vec![format!("exit status {code:?}")], detail].concat())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use marlin_kernels::cuda::Status;

    #[test]
    fn the_child_runs_the_kernel_checks_once_with_the_same_search() {
        let args = Args::parse_from([
            "marlin-gpu-check",
            "--sanitizer",
            "--python",
            "/venv/bin/python",
            "--lib-dir",
            "/opt/nvrtc",
            "--repeat",
            "50",
        ]);
        let c = command(Path::new("/cuda/bin/compute-sanitizer"), "initcheck", &args, Path::new("/kit/inputs"));
        assert_eq!(c.get_program(), "/cuda/bin/compute-sanitizer");
        let argv: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let exe = std::env::current_exe().unwrap().display().to_string();
        assert_eq!(
            argv,
            [
                "--tool",
                "initcheck",
                "--error-exitcode",
                "99",
                "--print-limit",
                "10",
                &exe,
                "--kernels-only",
                "--repeat",
                "0",
                "--inputs",
                "/kit/inputs",
                "--python",
                "/venv/bin/python",
                "--lib-dir",
                "/opt/nvrtc",
            ]
        );
        // the child parses what it is given
        let child = Args::parse_from(std::iter::once(OsString::from("x")).chain(child_args(&args, Path::new("/k"))));
        assert!(child.kernels_only && !child.sanitizer && child.repeat == 0);
    }

    #[test]
    fn sanitizer_results_become_outcomes() {
        let ok = verdict("s", Some(Some(0)), "ok gpu: H200\nok crop: fine\n========= ERROR SUMMARY: 0 errors\n", 3.0);
        assert_eq!(ok.status, Status::Ok("no errors; 2 checks passed under it (3 s)".into()));
        let output = "========= COMPUTE-SANITIZER\n========= Invalid __global__ read of size 1 bytes\n=========     at crop_resize_square+0x1b0\n=========\nok gpu: H200\n";
        let bad = verdict("s", Some(Some(ERROR_EXIT)), output, 3.0);
        assert_eq!(
            bad.status,
            Status::Failed(vec![
                "========= COMPUTE-SANITIZER".into(),
                "========= Invalid __global__ read of size 1 bytes".into(),
                "=========     at crop_resize_square+0x1b0".into(),
            ])
        );
        let skipped = verdict("s", Some(Some(3)), "skipped gpu: no device\n", 1.0);
        assert!(skipped.to_string().contains("skipped gpu: no device"), "{skipped}");
        let mismatch = verdict("s", Some(Some(1)), "ok a: x\nFAILED crop: face 0\n", 1.0);
        assert_eq!(mismatch.status, Status::Failed(vec!["exit status Some(1)".into(), "FAILED crop: face 0".into()]));
        let killed = verdict("s", None, "ok gpu: H200\n", 100.0);
        assert!(killed.to_string().contains("timed out after 100 s; ok gpu: H200"), "{killed}");
    }

    #[test]
    fn a_sanitizer_that_does_not_start_is_a_failure_naming_it() {
        let o = run_tool("compute-sanitizer memcheck", Command::new("/nonexistent/compute-sanitizer"));
        assert!(
            o.to_string().starts_with("FAILED compute-sanitizer memcheck: \"/nonexistent/compute-sanitizer\""),
            "{o}"
        );
    }

    #[test]
    fn a_child_is_run_and_its_output_read() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo 'ok gpu: fake'; echo 'FAILED crop: face 1' >&2; exit 1"]);
        let o = run_tool("compute-sanitizer memcheck", c);
        assert_eq!(o.status, Status::Failed(vec!["exit status Some(1)".into(), "FAILED crop: face 1".into()]));
    }
}
