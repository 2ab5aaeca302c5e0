//! The dashboard end to end in headless Chromium: seeds a SQLite database with the real `barter`
//! binary (a few sample instruments and a replayed trading period that leaves positions both
//! open and closed), starts `barter serve` on it, and runs the browser tests in `e2e/tests`
//! (`node --test`, driving Debian's `/usr/bin/chromium` with `playwright-core`).
//!
//! Needs Chromium and the e2e folder's npm packages:
//! `apt-get install -y chromium && npm ci --prefix e2e`. Without them the test prints
//! `SKIPPED dashboard e2e: …` and passes, unless `BARTER_E2E_REQUIRED=1` (as in `.ci/run`),
//! when it fails. A failing browser test leaves a screenshot in `e2e/screenshots/`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The token `barter serve` requires and the tests sign in with.
const TOKEN: &str = "e2e-dashboard-token-5f0c9a-0123456789abcdef";

/// Where Debian's Chromium is (`BARTER_CHROMIUM` overrides it).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The seeded configuration: one trend strategy on three sample instruments, with a trailing
/// stop, so a replay over the sample's last months ends with positions open and closed.
const CONFIG: &str = r#"
database_url = "sqlite://barter.db"

[account]
initial_cash = 10000

[broker]
fee_bps = 10
slippage_bps = 5
fill = "next-open"

[[strategies]]
name = "trend"
instruments = ["BTC", "ETH", "SOL"]
entry = "close > sma(close, 20)"
exit = "close < sma(close, 20)"
trailing_stop = "8%"
size = "20%"
"#;

/// The sample instruments the seed registers.
const INSTRUMENTS: &[&str] = &["BTC", "ETH", "SOL"];

/// The replayed period: the last three months of the bundled sample (it ends on 2026-01-05).
const REPLAY: (&str, &str) = ("2025-10-01", "2026-01-05");

/// How long the browser tests may take before they are stopped.
const NODE_LIMIT: Duration = Duration::from_secs(240);

/// The repository's `e2e` folder.
fn e2e_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    dir.canonicalize().unwrap_or(dir)
}

fn chromium() -> PathBuf {
    std::env::var_os("BARTER_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from)
}

/// The major version of `node` on the PATH, if it runs.
fn node_major() -> Option<u32> {
    let output = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// What the browser tests need that this machine lacks, each with how to install it.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    let chromium = chromium();
    if !chromium.is_file() {
        missing.push(format!(
            "{} (install Debian's Chromium: apt-get install -y chromium)",
            chromium.display()
        ));
    }
    match node_major() {
        None => missing.push("node (install Node.js 20 or later)".to_owned()),
        Some(major) if major < 20 => missing.push(format!(
            "node 20 or later (this is node {major}; install a newer Node.js)"
        )),
        Some(_) => {}
    }
    if !e2e_dir()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        missing.push(
            "e2e/node_modules/playwright-core (install it from the lock file: npm ci --prefix e2e)"
                .to_owned(),
        );
    }
    missing
}

/// Says loudly that the test did not run: written straight to stderr, past the test harness's
/// output capture, so it shows in a passing `cargo test` too.
fn say(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

/// Runs `barter ARGS` in `dir`; panics with its output when it fails.
fn barter(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(args)
        .current_dir(dir)
        .env("BARTER_CONFIG", dir.join("barter.toml"))
        .env_remove("BARTER_DATABASE_URL")
        .env("BARTER_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the barter binary runs");
    assert!(
        output.status.success(),
        "barter {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Seeds `dir`: the configuration, three sample instruments, and a replayed trading period;
/// returns how many positions are (open, closed).
fn seed(dir: &Path) -> (usize, usize) {
    std::fs::write(dir.join("barter.toml"), CONFIG).expect("write barter.toml");
    for symbol in INSTRUMENTS {
        barter(dir, &["instruments", "add", symbol, "--source", "sample"]);
    }
    barter(dir, &["run", "--replay-from", REPLAY.0, "--to", REPLAY.1]);
    let output = barter(dir, &["--json", "positions"]);
    let positions: Value = serde_json::from_slice(&output.stdout).expect("positions as JSON");
    let positions = positions.as_array().expect("a list of positions");
    let open = positions.iter().filter(|p| p["status"] == "open").count();
    (open, positions.len() - open)
}

/// A `barter serve` child, killed when dropped (also when a test assertion panics).
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `barter serve` on a free port over the seeded `dir`.
fn serve(dir: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env("BARTER_CONFIG", dir.join("barter.toml"))
        .env_remove("BARTER_DATABASE_URL")
        .env("BARTER_API_TOKEN", TOKEN)
        .env("BARTER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("barter serve starts");
    let stdout = child.stdout.take().expect("the server's stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = sender.send(first);
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let mut served = Served {
        child,
        base: String::new(),
    };
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .ok()
        .flatten()
        .unwrap_or_default();
    served.base = line
        .trim()
        .strip_prefix("barter serve listening on ")
        .unwrap_or_else(|| panic!("barter serve did not announce its address: {line:?}"))
        .to_owned();
    served
}

/// The browser test files, sorted.
fn test_files(e2e: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(e2e.join("tests"))
        .expect("e2e/tests")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("tests/{name}"))
        .collect();
    files.sort();
    files
}

/// Runs `node --test` on the browser tests against `served`, streaming its output; stops it
/// (and the browsers it started) after [`NODE_LIMIT`].
fn run_browser_tests(e2e: &Path, served: &Served, dir: &Path) -> ExitStatus {
    let files = test_files(e2e);
    assert!(!files.is_empty(), "no e2e/tests/*.test.mjs files");
    let mut node = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .args(&files)
        .current_dir(e2e)
        .env("BARTER_URL", &served.base)
        .env("BARTER_TOKEN", TOKEN)
        .env("BARTER_BIN", env!("CARGO_BIN_EXE_barter"))
        .env("BARTER_DIR", dir)
        .env("BARTER_CONFIG", dir.join("barter.toml"))
        .env("BARTER_CHROMIUM", chromium())
        .env_remove("BARTER_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // Its own process group, so a timeout can stop the test processes and their browsers.
        .process_group(0)
        .spawn()
        .expect("node starts");
    let started = Instant::now();
    loop {
        if let Some(status) = node.try_wait().expect("node's status") {
            return status;
        }
        if started.elapsed() > NODE_LIMIT {
            let group = format!("-{}", node.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = node.wait();
            panic!(
                "the browser tests took longer than {} s and were stopped",
                NODE_LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_dashboard_works_in_headless_chromium() {
    let missing = missing_prerequisites();
    if !missing.is_empty() {
        let what = missing.join("; ");
        if std::env::var("BARTER_E2E_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("dashboard e2e cannot run (BARTER_E2E_REQUIRED=1), missing: {what}");
        }
        say(&format!("SKIPPED dashboard e2e: missing {what}"));
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (open, closed) = seed(dir.path());
    assert!(
        open >= 1 && closed >= 1,
        "the seed should leave positions open and closed, it left {open} open and {closed} closed"
    );
    say(&format!(
        "dashboard e2e: seeded {} with {open} open and {closed} closed position(s) in {:.1} s",
        dir.path().display(),
        started.elapsed().as_secs_f64()
    ));
    let served = serve(dir.path());
    let e2e = e2e_dir();
    let status = run_browser_tests(&e2e, &served, dir.path());
    drop(served);
    say(&format!(
        "dashboard e2e: finished in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    assert!(
        status.success(),
        "browser tests failed ({status}); screenshots of the failing pages are in {}",
        e2e.join("screenshots").display()
    );
}
