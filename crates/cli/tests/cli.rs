//! The `barter` binary as a user runs it: in a fresh directory, through its exit status and output.

use std::path::Path;
use std::process::{Command, Output};

fn barter(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(args)
        .current_dir(dir)
        .env_remove("BARTER_CONFIG")
        .env_remove("BARTER_DATABASE_URL")
        .env_remove("BARTER_COINGECKO_API_KEY")
        .env("BARTER_LOG", "warn")
        .output()
        .expect("barter runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[test]
fn quickstart_in_an_empty_directory_syncs_the_sample_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(dir.path(), &["quickstart"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(dir.path().join("barter.toml").is_file());
    assert!(dir.path().join("barter.db").is_file());
    assert!(
        stdout(&out).contains("registered 9 sample instrument(s)"),
        "{}",
        stdout(&out)
    );

    let list = json(&barter(dir.path(), &["instruments", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(9));
    let spy = list
        .as_array()
        .and_then(|l| l.iter().find(|i| i["symbol"] == "SPY"))
        .expect("SPY is registered");
    assert_eq!(spy["calendar"], "xnys", "{spy}");
    // SPY's history misses no NYSE trading day: its 194 weekday holidays are not gaps.
    assert!(!stdout(&out).contains("gaps:"), "{}", stdout(&out));

    let again = barter(dir.path(), &["sync", "--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let run = json(&again);
    assert_eq!(run["counts"]["candles_added"], 0);
    assert_eq!(run["counts"]["missing_days"], 0);
    assert_eq!(run["status"], "succeeded");

    let candles = json(&barter(
        dir.path(),
        &["candles", "BTC", "--from", "2026-01-04", "--json"],
    ));
    assert_eq!(candles[0]["day"], "2026-01-04");
    assert_eq!(
        candles[0]["close"], "91529.73",
        "prices are exact decimal strings in JSON"
    );

    // The replay of the sample's last year traded, and every position can be explained.
    let positions = json(&barter(dir.path(), &["positions", "--json"]));
    let positions = positions.as_array().expect("positions array").clone();
    assert!(
        !positions.is_empty(),
        "the starter strategies trade in the last year"
    );
    let id = positions[0]["id"].to_string();
    let explain = barter(dir.path(), &["explain", &id]);
    assert!(explain.status.success(), "{}", stderr(&explain));
    let text = stdout(&explain);
    assert!(text.contains("entry decision on the close of"), "{text}");
    assert!(text.contains("fill: Buy"), "{text}");

    let account = json(&barter(dir.path(), &["account", "--json"]));
    let number = |v: &serde_json::Value| {
        v.as_str()
            .expect("decimal string")
            .parse::<f64>()
            .expect("number")
    };
    assert!(
        (number(&account["equity"]) - number(&account["cash"]) - number(&account["holdings"]))
            .abs()
            < 1e-9
    );

    let history = json(&barter(
        dir.path(),
        &[
            "history",
            "--strategy",
            "golden-cross",
            "--limit",
            "5",
            "--json",
        ],
    ));
    let history = history.as_array().expect("history array");
    assert_eq!(history.len(), 5);
    assert!(
        history.iter().all(|e| e["strategy"] == "golden-cross"),
        "{history:?}"
    );

    // Replaying days that already ran changes nothing.
    let replay = barter(
        dir.path(),
        &[
            "run",
            "--replay-from",
            "2025-06-01",
            "--to",
            "2025-06-30",
            "--json",
        ],
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    let days = json(&replay);
    let traded: u64 = days
        .as_array()
        .expect("days")
        .iter()
        .map(|d| d["opened"].as_u64().unwrap_or(0) + d["closed"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(traded, 0, "every decision of those days was already taken");
    let again = json(&barter(dir.path(), &["positions", "--json"]));
    assert_eq!(again.as_array().map(Vec::len), Some(positions.len()));

    // The morning after the sample's last day every crypto instrument is current; SPY's
    // sample ends in 2020, so it is stale, and `barter status` says so with exit status 1.
    let now = "2026-01-06T06:00:00Z";
    let status = barter(dir.path(), &["status", "--now", now, "--json"]);
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
    let report = json(&status);
    assert_eq!(report["instruments"]["active"], 9);
    assert_eq!(report["instruments"]["current"], 8);
    let items = report["attention"].as_array().expect("attention");
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["kind"], "instrument_stale");
    assert_eq!(items[0]["subject"], "SPY");
    let open = json(&barter(dir.path(), &["positions", "--open", "--json"]));
    assert_eq!(
        report["positions"]["open"].as_u64(),
        open.as_array().map(|p| p.len() as u64)
    );
    // Without SPY, the quickstart's installation is healthy.
    let deactivate = barter(dir.path(), &["instruments", "deactivate", "SPY"]);
    assert!(deactivate.status.success(), "{}", stderr(&deactivate));
    let status = barter(dir.path(), &["status", "--now", now]);
    assert!(
        status.status.success(),
        "{}{}",
        stdout(&status),
        stderr(&status)
    );
    assert!(stdout(&status).contains(": healthy"), "{}", stdout(&status));
}

#[test]
fn instruments_can_be_added_from_csv_listed_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.csv"),
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,1.4,100\n",
    )
    .expect("write");
    let add = barter(
        dir.path(),
        &[
            "instruments",
            "add",
            "aapl",
            "--source",
            "csv",
            "--path",
            "a.csv",
            "--calendar",
            "xnys",
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let list = json(&barter(dir.path(), &["instruments", "list", "--json"]));
    assert_eq!(list[0]["calendar"], "xnys", "{list}");
    let sync = barter(dir.path(), &["sync", "--instrument", "AAPL"]);
    assert!(sync.status.success(), "{}{}", stdout(&sync), stderr(&sync));
    assert!(stdout(&sync).contains("AAPL"), "{}", stdout(&sync));
    let duplicate = barter(
        dir.path(),
        &[
            "instruments",
            "add",
            "AAPL",
            "--source",
            "csv",
            "--path",
            "a.csv",
        ],
    );
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("AAPL is already registered"),
        "{}",
        stderr(&duplicate)
    );
    let remove = barter(dir.path(), &["instruments", "remove", "AAPL"]);
    assert!(
        stdout(&remove).contains("removed AAPL and its 1 stored candle(s)"),
        "{}",
        stdout(&remove)
    );
}

#[test]
fn a_sync_finding_conflicting_candles_is_partial_with_a_failing_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("a.csv");
    std::fs::write(
        &csv,
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n",
    )
    .expect("write");
    let add = barter(
        dir.path(),
        &[
            "instruments",
            "add",
            "A",
            "--source",
            "csv",
            "--path",
            "a.csv",
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let first = barter(dir.path(), &["sync", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    // The source now reports the complete day differently: kept as stored, and reported.
    std::fs::write(
        &csv,
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.7,100\n",
    )
    .expect("write");
    let second = barter(dir.path(), &["sync", "--json"]);
    assert!(!second.status.success(), "a conflict is not a success");
    let run = json(&second);
    assert_eq!(run["status"], "partial", "{run}");
    assert_eq!(run["counts"]["conflicts"], 1, "{run}");
    let runs = json(&barter(dir.path(), &["runs", "--json"]));
    assert_eq!(runs[0]["status"], "partial", "{runs}");
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failing_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 13] = [
        (
            &["instruments", "add", "BTC", "--source", "yahoo"],
            "unknown data source `yahoo`",
        ),
        (
            &["instruments", "add", "BTC", "--source", "coingecko"],
            "--source coingecko needs --source-id",
        ),
        (
            &[
                "instruments",
                "add",
                "BTC",
                "--source",
                "csv",
                "--path",
                "nope.csv",
            ],
            "CSV file `nope.csv` does not exist",
        ),
        (
            &[
                "instruments",
                "add",
                "ENV",
                "--source",
                "csv",
                "--path",
                "/proc/self/environ",
            ],
            "is a system file",
        ),
        (
            &[
                "instruments",
                "add",
                "Z",
                "--source",
                "csv",
                "--path",
                "/dev/zero",
            ],
            "is a system file",
        ),
        (
            &[
                "instruments",
                "add",
                "D",
                "--source",
                "csv",
                "--path",
                "/tmp",
            ],
            "is a folder",
        ),
        (
            &["candles", "BTC", "--from", "2025-02-30"],
            "2025-02 has 28 days",
        ),
        (
            &[
                "candles",
                "BTC",
                "--from",
                "2025-03-02",
                "--to",
                "2025-03-01",
            ],
            "--from 2025-03-02 is after --to 2025-03-01",
        ),
        (
            &[
                "backtest",
                "--data",
                "x.csv",
                "--entry",
                "close > 1",
                "--cash",
                "-5",
            ],
            "-5 must be greater than 0",
        ),
        (
            &["run", "--replay-from", "0001-01-01", "--to", "9999-12-31"],
            "at most 20000 are replayed at once",
        ),
        (
            &[
                "backtest",
                "--data",
                "x.csv",
                "--entry",
                "close > 1",
                "--out",
                "/proc/barter-x",
            ],
            "cannot write the report to /proc/barter-x",
        ),
        (
            &["instruments", "add", "XYZ", "--source", "sample"],
            "the bundled sample has no `XYZ`",
        ),
        (
            &["sync", "--instrument", "ZZZ"],
            "instrument ZZZ is not registered",
        ),
    ];
    for (args, expected) in cases {
        let out = barter(dir.path(), args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn an_invalid_config_file_is_named_with_its_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("barter.toml"),
        "[sources.binance]\nrequests_per_minute = \"fast\"\n",
    )
    .expect("write");
    let out = barter(dir.path(), &["instruments", "list"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("barter.toml, line 2, key `sources.binance.requests_per_minute`"),
        "{err}"
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(barter(dir.path(), &["init"]).status.success());
    let again = barter(dir.path(), &["init"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists; use --force"),
        "{}",
        stderr(&again)
    );
    assert!(barter(dir.path(), &["init", "--force"]).status.success());
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["quickstart", "--help"],
        vec!["instruments", "add", "--help"],
        vec!["instruments", "list", "--help"],
        vec!["instruments", "remove", "--help"],
        vec!["instruments", "activate", "--help"],
        vec!["instruments", "deactivate", "--help"],
        vec!["sync", "--help"],
        vec!["candles", "--help"],
        vec!["runs", "--help"],
        vec!["status", "--help"],
        vec!["halt", "--help"],
        vec!["orders", "--help"],
        vec!["resume", "--help"],
        vec!["db", "migrate", "--help"],
    ] {
        let out = barter(dir.path(), &args);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn the_database_flag_selects_another_file_and_db_migrate_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(
        dir.path(),
        &["--database", "sqlite://other.db", "db", "migrate"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("sqlite database sqlite://other.db is up to date"),
        "{}",
        stdout(&out)
    );
    assert!(dir.path().join("other.db").is_file());
}

#[test]
fn a_database_in_a_missing_directory_is_an_error_naming_it_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(
        dir.path(),
        &["--database", "sqlite://typo/dir/x.db", "runs"],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    let missing = dir.path().join("typo/dir");
    assert!(
        stderr(&out).contains(&format!(
            "its directory {} does not exist",
            missing.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("typo").exists(), "no directory created");
}

#[test]
fn a_closed_postgres_port_is_refused_within_seconds_without_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let out = barter(
        dir.path(),
        &["--database", "postgres://bob:s3cret@127.0.0.1:1/x", "runs"],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot reach the PostgreSQL server at 127.0.0.1:1: connection refused"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(barter(dir.path(), &["init"]).status.success());
    let add = barter(
        dir.path(),
        &["instruments", "add", "DOGE", "--source", "sample"],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let out = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["sync", "--json"])
        .current_dir(dir.path())
        .env("BARTER_SOURCES__SAMPLE__AS_OF", "2024-03-01")
        .output()
        .expect("barter runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out);
    assert_eq!(
        run["report"]["items"][0]["stored_range"],
        serde_json::json!(["2019-07-05", "2024-03-01"])
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["sync"])
        .current_dir(dir.path())
        .env("BARTER_SYNC__BACKFILL_DAYS", "0")
        .output()
        .expect("barter runs");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("sync.backfill_days"),
        "{}",
        stderr(&bad)
    );

    let other = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["instruments", "list", "--json"])
        .current_dir(dir.path())
        .env("BARTER_DATABASE_URL", "sqlite://elsewhere.db")
        .output()
        .expect("barter runs");
    assert_eq!(
        json(&other).as_array().map(Vec::len),
        Some(0),
        "a fresh database was used"
    );
    assert!(dir.path().join("elsewhere.db").is_file());
}

#[test]
fn halt_and_resume_are_kept_in_the_database_and_said_before_trading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(dir.path(), &["halt", "--reason", "venue incident"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("HALTED") && stdout(&out).contains("venue incident"),
        "{}",
        stdout(&out)
    );
    let state = json(&barter(dir.path(), &["--json", "halt"]));
    assert_eq!(state["halted"], true);
    assert_eq!(state["reason"], "venue incident", "the first reason stays");
    assert_eq!(state["changed_by"], "cli");
    let trade = barter(dir.path(), &["trade"]);
    assert!(
        stderr(&trade).contains("HALTED"),
        "a trade job says new entries are halted: {}",
        stderr(&trade)
    );
    let resumed = barter(dir.path(), &["resume"]);
    assert!(resumed.status.success());
    assert!(
        stdout(&resumed).contains("new entries allowed"),
        "{}",
        stdout(&resumed)
    );
    let orders = barter(dir.path(), &["orders"]);
    assert!(
        stdout(&orders).contains("no orders yet"),
        "{}",
        stdout(&orders)
    );
    assert_eq!(
        json(&barter(dir.path(), &["--json", "orders", "--open"])),
        serde_json::json!([])
    );
    let bad = barter(dir.path(), &["orders", "--limit", "0"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("--limit"),
        "{}",
        stderr(&bad)
    );
    let too_long = "x".repeat(501);
    let refused = barter(dir.path(), &["halt", "--reason", &too_long]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("at most 500"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_deactivated_instrument_is_skipped_by_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    for symbol in ["SOL", "XRP"] {
        assert!(
            barter(
                dir.path(),
                &["instruments", "add", symbol, "--source", "sample"]
            )
            .status
            .success()
        );
    }
    assert!(
        barter(dir.path(), &["instruments", "deactivate", "xrp"])
            .status
            .success()
    );
    let run = json(&barter(dir.path(), &["sync", "--json"]));
    assert_eq!(run["counts"]["instruments"], 1);
    assert_eq!(run["report"]["items"][0]["symbol"], "SOL");
}

#[test]
fn strategies_check_reports_every_problem_with_carets() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(
        barter(
            dir.path(),
            &["instruments", "add", "BTC", "--source", "sample"]
        )
        .status
        .success()
    );
    std::fs::write(
        dir.path().join("barter.toml"),
        "[[strategies]]\nname = \"bad\"\nentry = \"crosses_above(sma(close, $fast), emaa(close, 50))\"\nexit = \"close <\"\nparams = { fast = 10 }\n",
    )
    .expect("write");
    let out = barter(dir.path(), &["strategies", "check"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unknown function `emaa`"), "{err}");
    assert!(err.contains("did you mean `ema`?"), "{err}");
    assert!(err.contains("strategy `bad`, exit:"), "{err}");
    assert!(err.contains("2 problem(s) found"), "{err}");
    // The trade job refuses to run on a broken config.
    let trade = barter(dir.path(), &["trade"]);
    assert!(!trade.status.success());
    assert!(
        stderr(&trade).contains("problem(s) in the strategies"),
        "{}",
        stderr(&trade)
    );
}

/// Positions as comparable facts (ids aside).
fn position_facts(dir: &Path) -> Vec<String> {
    let positions = json(&barter(dir, &["positions", "--json"]));
    let mut facts: Vec<String> = positions
        .as_array()
        .expect("positions")
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {} {}",
                p["strategy"],
                p["symbol"],
                p["quantity"],
                p["entry_price"],
                p["entry_day"],
                p["exit"]
            )
        })
        .collect();
    facts.sort();
    facts
}

#[test]
fn a_replay_killed_part_way_and_run_again_ends_exactly_like_an_uninterrupted_one() {
    let setup = |dir: &Path| {
        assert!(barter(dir, &["init"]).status.success());
        for symbol in ["BTC", "ETH", "SOL"] {
            assert!(
                barter(dir, &["instruments", "add", symbol, "--source", "sample"])
                    .status
                    .success()
            );
        }
        assert!(barter(dir, &["sync"]).status.success());
    };
    let replay = ["run", "--replay-from", "2025-03-01", "--to", "2025-08-31"];
    let reference = tempfile::tempdir().expect("tempdir");
    setup(reference.path());
    assert!(barter(reference.path(), &replay).status.success());

    let killed = tempfile::tempdir().expect("tempdir");
    setup(killed.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(replay)
        .current_dir(killed.path())
        .env_remove("BARTER_CONFIG")
        .env_remove("BARTER_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("barter starts");
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().expect("kill the replay");
    let _ = child.wait();
    let resumed = barter(killed.path(), &replay);
    assert!(resumed.status.success(), "{}", stderr(&resumed));

    let expected = position_facts(reference.path());
    assert!(
        !expected.is_empty(),
        "the starter strategies trade between March and August 2025"
    );
    assert_eq!(position_facts(killed.path()), expected);
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["instruments", "add", "BTC", "--source", "sample"][..],
        &["sync"][..],
    ] {
        let out = barter(dir.path(), args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // `barter candles BTC | head -0`: the reader is gone before the first line is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["candles", "BTC"])
        .current_dir(dir.path())
        .env_remove("BARTER_CONFIG")
        .env_remove("BARTER_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("barter runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["candles", "BTC"])
        .current_dir(dir.path())
        .env_remove("BARTER_CONFIG")
        .env_remove("BARTER_DATABASE_URL")
        .stdout(full)
        .output()
        .expect("barter runs");
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the disk is full"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(
        dir.path(),
        &["--config", "missing.toml", "instruments", "list"],
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert_eq!(text.matches("No such file").count(), 1, "{text}");
    std::fs::write(dir.path().join("empty.csv"), "").expect("write");
    let out = barter(
        dir.path(),
        &["backtest", "--data", "gone.csv", "--entry", "close > 1"],
    );
    let text = stderr(&out);
    assert!(!out.status.success());
    assert!(text.matches("No such file").count() <= 1, "{text}");
}

/// `barter notify test` and `list` against the fake webhook receiver: what each channel
/// answered, an unusable channel named with the variable to set, and hostile settings refused.
#[test]
fn notify_test_and_list_report_what_each_channel_answered() {
    use barter_fakes::notify::{Receiver, Service, WEBHOOK_PATH};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = runtime.block_on(Receiver::start());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}{WEBHOOK_PATH}\"\n\n\
         [[notify]]\nname = \"tg\"\nkind = \"telegram\"\nchat_id = \"1\"\n",
        receiver.url()
    );
    std::fs::write(dir.path().join("barter.toml"), config).expect("config");
    let one = barter(dir.path(), &["notify", "test", "--channel", "hook"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(
        stdout(&one).contains("hook") && stdout(&one).contains("accepted"),
        "{}",
        stdout(&one)
    );
    assert_eq!(receiver.received_by(Service::Webhook).len(), 1);
    // Every channel: the Telegram one has no token, so the command fails and says which variable.
    let all = barter(dir.path(), &["notify", "test"]);
    assert!(!all.status.success());
    assert!(
        stderr(&all).contains("BARTER_NOTIFY_TG_SECRET"),
        "{}",
        stderr(&all)
    );
    // `barter status` counts the unusable channel as needing attention.
    let status = barter(dir.path(), &["--json", "status"]);
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
    let report = json(&status);
    assert!(
        report["attention"]
            .as_array()
            .is_some_and(|items| items
                .iter()
                .any(|i| i["kind"] == "notification_channel_failing"
                    && i["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("BARTER_NOTIFY_TG_SECRET"))),
        "{report}"
    );
    let missing = barter(dir.path(), &["notify", "test", "--channel", "nope"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("usable: hook"),
        "{}",
        stderr(&missing)
    );
    let list = barter(dir.path(), &["notify", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(
        stdout(&list).contains("sent") && stdout(&list).contains("test"),
        "{}",
        stdout(&list)
    );
    let listed = json(&barter(dir.path(), &["--json", "notify", "list"]));
    assert_eq!(listed["channels"][0]["channel"], "hook");
    assert_eq!(listed["deliveries"].as_array().map(Vec::len), Some(2));

    // Hostile settings are refused at load, in bounded words naming the problem.
    for (entry, expected) in [
        (format!("name = \"{}\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/x\"", "n".repeat(5000)), "name"),
        ("name = \"s\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"".to_owned(), "BARTER_NOTIFY_S_SECRET"),
        ("name = \"w\"\nkind = \"webhook\"\nurl = \"http://example.com/hook\"".to_owned(), "https"),
        ("name = \"m\"\nkind = \"email\"\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\nsecurity = \"none\"".to_owned(), "clear text"),
    ] {
        std::fs::write(dir.path().join("barter.toml"), format!("[[notify]]\n{entry}\n"))
            .expect("config");
        let refused = barter(dir.path(), &["notify", "list"]);
        assert!(!refused.status.success());
        let error = stderr(&refused);
        assert!(error.contains(expected) && error.len() < 1_000, "{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// `barter status`: health at a glance and an exit status for cron lines and monitoring checks
// ---------------------------------------------------------------------------------------------

/// The exit code of a finished command.
fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

/// The kinds of the attention items of a `barter status --json` report.
fn attention_kinds(report: &serde_json::Value) -> Vec<String> {
    report["attention"]
        .as_array()
        .expect("attention list")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// The sorted keys of a JSON object.
fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn status_exits_non_zero_on_a_stale_instrument_and_zero_when_all_is_current() {
    let dir = tempfile::tempdir().expect("tempdir");
    let add = barter(
        dir.path(),
        &["instruments", "add", "BTC", "--source", "sample"],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    // The daily job as the cron ran it on 2026-01-02..06 at 00:10: BTC's sample ends 2026-01-05.
    let replay = barter(
        dir.path(),
        &["run", "--replay-from", "2026-01-01", "--to", "2026-01-05"],
    );
    assert!(replay.status.success(), "{}", stderr(&replay));

    let healthy = barter(
        dir.path(),
        &["status", "--now", "2026-01-06T12:00:00Z", "--json"],
    );
    assert_eq!(
        code(&healthy),
        0,
        "{}{}",
        stdout(&healthy),
        stderr(&healthy)
    );
    let report = json(&healthy);
    assert_eq!(
        keys(&report),
        [
            "accounts",
            "attention",
            "checked_at",
            "halt",
            "healthy",
            "instruments",
            "jobs",
            "positions",
            "schedule"
        ]
    );
    assert_eq!(report["healthy"], true);
    assert_eq!(report["checked_at"], "2026-01-06T12:00:00Z");
    let jobs: Vec<&str> = report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["job"].as_str().expect("job"))
        .collect();
    assert_eq!(
        jobs,
        ["sync_data", "sync_new_trades", "sync_close_positions"]
    );
    let last = &report["jobs"][0]["last_run"];
    assert_eq!(
        keys(last),
        [
            "ago_secs",
            "duration_ms",
            "error_count",
            "errors",
            "finished_at",
            "id",
            "started_at",
            "status"
        ]
    );
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["started_at"], "2026-01-06T00:10:00Z");
    assert_eq!(last["ago_secs"], 11 * 3600 + 50 * 60);
    assert_eq!(
        report["instruments"],
        serde_json::json!({"active": 1, "current": 1, "attention": []})
    );
    assert_eq!(
        report["positions"],
        serde_json::json!({"open": 0, "by_strategy": {}})
    );
    assert_eq!(report["accounts"][0]["name"], "paper");
    assert_eq!(report["halt"]["halted"], false);
    assert_eq!(
        report["schedule"],
        serde_json::json!({"configured": false, "next": null})
    );
    assert_eq!(report["attention"], serde_json::json!([]));
    let text = barter(dir.path(), &["status", "--now", "2026-01-06T12:00:00Z"]);
    assert_eq!(code(&text), 0);
    assert!(stdout(&text).contains("healthy"), "{}", stdout(&text));
    assert!(
        stdout(&text).contains("no [schedule] configured"),
        "{}",
        stdout(&text)
    );

    // Three days later no new candle came: BTC is stale, and the exit status says so.
    let stale = barter(
        dir.path(),
        &["status", "--now", "2026-01-09T12:00:00Z", "--json"],
    );
    assert_eq!(code(&stale), 1, "{}", stderr(&stale));
    let report = json(&stale);
    assert_eq!(report["healthy"], false);
    assert_eq!(attention_kinds(&report), ["instrument_stale"]);
    let item = &report["attention"][0];
    assert_eq!(keys(item), ["kind", "message", "severity", "subject"]);
    assert_eq!(item["subject"], "BTC");
    assert_eq!(item["severity"], "warning");
    assert_eq!(
        report["instruments"]["attention"][0],
        serde_json::json!({
            "symbol": "BTC",
            "last_complete": "2026-01-05",
            "expected": "2026-01-08",
            "freshness": "stale",
            "conflicts": 0
        })
    );
    let text = barter(dir.path(), &["status", "--now", "2026-01-09T12:00:00Z"]);
    assert_eq!(code(&text), 1);
    let out = stdout(&text);
    assert!(
        out.contains("needs attention:")
            && out.contains("BTC is stale")
            && out.contains("barter sync"),
        "{out}"
    );
    // On the wall clock (after the sample's end) BTC is stale too.
    assert_eq!(code(&barter(dir.path(), &["status"])), 1);

    // A halt needs attention.
    assert!(
        barter(dir.path(), &["halt", "--reason", "incident"])
            .status
            .success()
    );
    let halted = barter(
        dir.path(),
        &["status", "--now", "2026-01-06T12:00:00Z", "--json"],
    );
    assert_eq!(code(&halted), 1);
    let report = json(&halted);
    assert_eq!(attention_kinds(&report), ["trading_halted"]);
    assert!(
        report["attention"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("incident") && m.contains("barter resume")),
        "{report}"
    );
    assert_eq!(report["halt"]["halted"], true);
    assert!(barter(dir.path(), &["resume"]).status.success());

    // A failed run needs attention, most severe first: a CSV instrument whose file is gone.
    let csv = dir.path().join("gone.csv");
    std::fs::write(
        &csv,
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n",
    )
    .expect("write");
    let add = barter(
        dir.path(),
        &[
            "instruments",
            "add",
            "GONE",
            "--source",
            "csv",
            "--path",
            "gone.csv",
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    std::fs::remove_file(&csv).expect("remove");
    let sync = barter(dir.path(), &["sync", "--instrument", "GONE"]);
    assert!(!sync.status.success());
    let failed = barter(
        dir.path(),
        &["status", "--now", "2026-01-06T12:00:00Z", "--json"],
    );
    assert_eq!(code(&failed), 1);
    let report = json(&failed);
    assert_eq!(
        attention_kinds(&report),
        ["job_failed", "instrument_no_data"],
        "{report}"
    );
    assert_eq!(report["attention"][0]["severity"], "critical");
    assert_eq!(report["attention"][0]["subject"], "sync_data");
    assert!(
        report["attention"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("GONE") && m.contains("barter runs")),
        "{report}"
    );
    assert_eq!(report["jobs"][0]["last_run"]["status"], "failed");
    assert_eq!(report["attention"][1]["subject"], "GONE");
}

#[test]
fn status_exits_2_when_the_status_cannot_be_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!(
        "sqlite://{}",
        dir.path().join("no-such-dir").join("barter.db").display()
    );
    let out = barter(dir.path(), &["status", "--database", &missing]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    let bad = barter(dir.path(), &["status", "--now", "yesterday"]);
    assert_eq!(code(&bad), 2, "a usage error is clap's exit status 2 too");
}
