//! `marlin-fuzz`: mutation fuzzing, on stable Rust, of every parser of a file a user hands
//! marlin (torch zip and legacy checkpoints, the detector's pickled module, safetensors, `.npy`,
//! settings and model YAML, manifest CSVs, probe JSON, featurize journals).
//!
//! Each case is a seed file with a few random edits ([`mutate`]), reproducible from the run's
//! seed, the target and the case number. A case passes when the parser returns (a value or an
//! error) without panicking, within the hang limit, and without asking for a single allocation
//! above [`capped_alloc::CAP`]. Failing inputs are written to `--out` for a regression test.
//!
//! ```sh
//! marlin-fuzz [--cases N] [--seed S] [--target NAME]... [--out DIR]
//! marlin-fuzz --target NAME --replay CASE [--seed S] --out DIR   # writes that case's input
//! ```
//! The oracle folder is `../shared` beside the repository (or `MARLIN_SHARED_DIR`).

mod capped_alloc;
mod mutate;
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use capped_alloc::{CASE, CappedAlloc, REFUSED, TARGET};
use mutate::{Rng, mutate};
use targets::{Scratch, TARGETS, Target};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// A case still running after this long is a hang.
const HANG: Duration = Duration::from_secs(60);

/// The shared folder (`../shared` beside the repository, or `MARLIN_SHARED_DIR`).
fn shared_dir() -> PathBuf {
    std::env::var_os("MARLIN_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| repo_dir().join("../shared"))
}

fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Options {
    cases: u64,
    seed: u64,
    targets: Vec<&'static Target>,
    out: PathBuf,
    replay: Option<u64>,
}

fn options() -> Result<Options, String> {
    let mut o =
        Options { cases: 10_000, seed: 1, targets: Vec::new(), out: PathBuf::from("target/fuzz"), replay: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let number = |v: String| v.replace('_', "").parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match a.as_str() {
            "--cases" => o.cases = number(value()?)?,
            "--seed" => o.seed = number(value()?)?,
            "--replay" => o.replay = Some(number(value()?)?),
            "--out" => o.out = PathBuf::from(value()?),
            "--target" => {
                let name = value()?;
                let t = TARGETS.iter().find(|t| t.name == name).ok_or_else(|| {
                    format!(
                        "no target {name:?}; targets: {}",
                        TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
                    )
                })?;
                o.targets.push(t);
            }
            "-h" | "--help" => {
                return Err(
                    "usage: marlin-fuzz [--cases N] [--seed S] [--target NAME]... [--out DIR] [--replay CASE]".into()
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.targets.is_empty() {
        o.targets = TARGETS.iter().collect();
    }
    Ok(o)
}

/// Case `case` of `target`'s stream: its own random numbers, independent of the other cases.
fn case_rng(seed: u64, target: &Target, case: u64) -> Rng {
    let name = target.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    Rng::new(seed ^ name ^ case.wrapping_mul(0xd1b5_4a32_d192_ed03))
}

/// What one target's run found.
#[derive(Default)]
struct Tally {
    cases: u64,
    parsed: u64,
    refused: u64,
    panics: u64,
    over_cap: u64,
    slowest: Duration,
    slowest_case: u64,
    elapsed: Duration,
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (shared, repo) = (shared_dir(), repo_dir());
    if !shared.join("oracle/README.md").is_file() {
        eprintln!("error: the oracle folder is missing: expected {} (set MARLIN_SHARED_DIR)", shared.display());
        return ExitCode::FAILURE;
    }
    if let Some(case) = o.replay {
        return replay(&o, case, &shared, &repo);
    }
    // panics are counted and their inputs kept; the default message would repeat for each
    std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let watchdog = Watchdog::start();
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: scratch folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "marlin-fuzz: seed {}, {} cases per target, allocation cap {} MiB, hang limit {} s",
        o.seed,
        o.cases,
        capped_alloc::CAP >> 20,
        HANG.as_secs()
    );
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>7} {:>9} {:>10} {:>9} {:>9}",
        "target", "cases", "parsed", "refused", "panics", "over cap", "slowest ms", "(case)", "cases/s"
    );
    let mut failed = false;
    for target in &o.targets {
        let index = TARGETS.iter().position(|t| t.name == target.name).unwrap_or(usize::MAX);
        let seeds = (target.seeds)(&shared, &repo);
        // the seeds themselves must parse
        for (k, s) in seeds.iter().enumerate() {
            if let Err(e) = (target.run)(s, &scratch) {
                eprintln!("note: {} seed {k} does not parse: {e}", target.name);
            }
        }
        let t = run_target(&o, index, target, &seeds, &scratch, &watchdog);
        println!(
            "{:<16} {:>10} {:>10} {:>10} {:>7} {:>9} {:>10.1} {:>9} {:>9.0}",
            target.name,
            t.cases,
            t.parsed,
            t.refused,
            t.panics,
            t.over_cap,
            t.slowest.as_secs_f64() * 1e3,
            t.slowest_case,
            t.cases as f64 / t.elapsed.as_secs_f64().max(1e-9)
        );
        failed |= t.panics > 0 || t.over_cap > 0;
    }
    if failed {
        eprintln!("failing inputs are in {}", o.out.display());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run_target(
    o: &Options,
    index: usize,
    target: &Target,
    seeds: &[Vec<u8>],
    scratch: &Scratch,
    watchdog: &Watchdog,
) -> Tally {
    let mut t = Tally::default();
    let started = Instant::now();
    let mut last_report = Instant::now();
    TARGET.store(index, Ordering::Relaxed);
    for case in 0..o.cases {
        let input = mutate(&mut case_rng(o.seed, target, case), seeds, target.dictionary);
        CASE.store(case, Ordering::Relaxed);
        let refused_before = REFUSED.load(Ordering::Relaxed);
        watchdog.begin(case);
        let begun = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input, scratch)));
        let took = begun.elapsed();
        watchdog.end();
        if took > t.slowest {
            (t.slowest, t.slowest_case) = (took, case);
        }
        t.cases += 1;
        let over_cap = REFUSED.load(Ordering::Relaxed) > refused_before;
        match outcome {
            Ok(Ok(())) => t.parsed += 1,
            Ok(Err(_)) => t.refused += 1,
            Err(_) => t.panics += 1,
        }
        if over_cap {
            t.over_cap += 1;
        }
        if outcome.is_err() || over_cap {
            keep(&o.out, target, case, &input);
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            last_report = Instant::now();
            eprintln!("  {}: {case} of {} cases, {} panics", target.name, o.cases, t.panics);
        }
    }
    t.elapsed = started.elapsed();
    t
}

/// Writes a failing input to `out/<target>-<case>.bin`.
fn keep(out: &Path, target: &Target, case: u64, input: &[u8]) {
    let path = out.join(format!("{}-{case}.bin", target.name));
    let written = std::fs::create_dir_all(out).and_then(|()| std::fs::write(&path, input));
    match written {
        Ok(()) => eprintln!("  {} case {case}: input kept in {}", target.name, path.display()),
        Err(e) => eprintln!("  {} case {case}: cannot keep the input in {}: {e}", target.name, path.display()),
    }
}

/// `--replay CASE`: writes the input of one case of each target named, and runs it.
fn replay(o: &Options, case: u64, shared: &Path, repo: &Path) -> ExitCode {
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: scratch folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    for target in &o.targets {
        let seeds = (target.seeds)(shared, repo);
        let input = mutate(&mut case_rng(o.seed, target, case), &seeds, target.dictionary);
        keep(&o.out, target, case, &input);
        match (target.run)(&input, &scratch) {
            Ok(()) => println!("{} case {case}: parsed", target.name),
            Err(e) => println!("{} case {case}: refused: {e}", target.name),
        }
    }
    ExitCode::SUCCESS
}

/// Ends the process when a case runs longer than [`HANG`], naming it for a replay.
struct Watchdog {
    /// Milliseconds since `epoch` when the running case began; 0 between cases.
    since: &'static AtomicU64,
    case: &'static AtomicU64,
    epoch: Instant,
}

impl Watchdog {
    fn start() -> Self {
        static SINCE: AtomicU64 = AtomicU64::new(0);
        static WATCHED: AtomicU64 = AtomicU64::new(0);
        static STARTED: AtomicBool = AtomicBool::new(false);
        let epoch = Instant::now();
        if !STARTED.swap(true, Ordering::Relaxed) {
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(500));
                    let since = SINCE.load(Ordering::Relaxed);
                    let now = epoch.elapsed().as_millis() as u64;
                    if since > 0 && now.saturating_sub(since) > HANG.as_millis() as u64 {
                        let target = TARGETS.get(TARGET.load(Ordering::Relaxed)).map_or("?", |t| t.name);
                        eprintln!(
                            "hang: {target} case {} has run {} s (replay: --target {target} --replay {})",
                            WATCHED.load(Ordering::Relaxed),
                            (now - since) / 1000,
                            WATCHED.load(Ordering::Relaxed)
                        );
                        std::process::exit(3);
                    }
                }
            });
        }
        Self { since: &SINCE, case: &WATCHED, epoch }
    }

    fn begin(&self, case: u64) {
        self.case.store(case, Ordering::Relaxed);
        self.since.store(self.epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }

    fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }
}
