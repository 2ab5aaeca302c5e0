//! What the benchmarks share: their `-- --name value` options, and the real `barter serve`
//! binary started in its own process for the HTTP benchmarks.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The value after `name` on the command line (`cargo bench ... -- --name 10`), or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running `barter serve`, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server announced it.
    pub base: String,
}

impl Served {
    /// Starts `barter serve` on a free loopback port in `dir` with `dir/barter.toml`, the
    /// database at `database_url` and `token`, and waits for the address it announces.
    pub fn start(dir: &Path, database_url: &str, token: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_barter"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .env("BARTER_CONFIG", dir.join("barter.toml"))
            .env("BARTER_DATABASE_URL", database_url)
            .env("BARTER_API_TOKEN", token)
            .env("BARTER_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("barter serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the announced address");
        let base = line
            .trim()
            .strip_prefix("barter serve listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self { child, base }
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
