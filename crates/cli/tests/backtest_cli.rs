//! `barter backtest` as a user runs it: a single backtest from a CSV file (no database), its
//! report files, a parameter sweep, walk-forward, a named strategy on the database after
//! quickstart, and readable errors.

use std::path::Path;
use std::process::{Command, Output};

fn barter(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(args)
        .current_dir(dir)
        .env_remove("BARTER_CONFIG")
        .env_remove("BARTER_DATABASE_URL")
        .env("BARTER_LOG", "warn")
        .output()
        .expect("barter runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn sample(file: &str) -> String {
    format!("{}/../../data/sample/{file}", env!("CARGO_MANIFEST_DIR"))
}

const ENTRY: &str = "crosses_above(sma(close, $fast), sma(close, $slow))";
const EXIT: &str = "crosses_below(sma(close, $fast), sma(close, $slow))";

#[test]
fn a_backtest_from_a_csv_file_matches_backtesting_py_and_writes_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("btc-usd-daily.csv");
    let args = [
        "backtest",
        "--data",
        &data,
        "--entry",
        ENTRY,
        "--exit",
        EXIT,
        "--set",
        "fast=10",
        "--set",
        "slow=20",
        "--fee-bps",
        "20",
        "--slippage-bps",
        "0",
        "--whole-units",
        "--json",
        "--out",
        "report",
    ];
    let out = barter(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !dir.path().join("barter.db").exists(),
        "a backtest of files needs no database"
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // backtesting.py 0.6.6 on the same scenario (crates/core/tests/fixtures/backtesting).
    assert_eq!(result["final_equity"], "113588.66820");
    assert_eq!(result["stats"]["trades"], 79);
    for file in [
        "trades.csv",
        "equity.csv",
        "stats.json",
        "chart.svg",
        "report.html",
    ] {
        let path = dir.path().join("report").join(file);
        assert!(path.is_file(), "{file} written");
    }
    let html = std::fs::read_to_string(dir.path().join("report/report.html")).expect("html");
    assert!(html.contains("<svg") && !html.contains("src=\"http"));
    let trades = std::fs::read_to_string(dir.path().join("report/trades.csv")).expect("csv");
    assert_eq!(
        trades.lines().count(),
        1 + 79 + 1,
        "header, closed trades, the open one"
    );
}

#[test]
fn a_sweep_runs_every_valid_combination_and_writes_all_results_and_a_heatmap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("eth-usd-daily.csv");
    let args = [
        "backtest",
        "--data",
        &data,
        "--entry",
        ENTRY,
        "--exit",
        EXIT,
        "--set",
        "fast=10",
        "--set",
        "slow=20",
        "--param",
        "fast=5..20:5",
        "--param",
        "slow=10..40:10",
        "--constraint",
        "fast<slow",
        "--rank-by",
        "sharpe_ratio",
        "--top",
        "3",
        "--out",
        "sweep",
    ];
    let out = barter(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    // fast 5,10,15,20 × slow 10,20,30,40 = 16 points; fast < slow leaves 4+3+2+1... = 12.
    let csv = std::fs::read_to_string(dir.path().join("sweep/sweep.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 1 + 12);
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.starts_with("fast,slow,"))
    );
    assert!(text(&out).contains("12 combination(s) run, 4 skipped by constraints"));
    let svg = std::fs::read_to_string(dir.path().join("sweep/heatmap.svg")).expect("svg");
    assert!(svg.starts_with("<svg"));
}

/// The rows of the ranking a sweep prints, split into columns (the header first).
fn ranking(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .skip_while(|line| !line.contains("combination(s) run"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .map(|line| line.split('|').map(|c| c.trim().to_owned()).collect())
        .collect()
}

#[test]
fn a_swept_parameter_needs_no_set_and_trades_print_as_integers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("eth-usd-daily.csv");
    let sweep = |set: &[&str]| {
        let mut args = vec![
            "backtest", "--data", &data, "--entry", ENTRY, "--exit", EXIT,
        ];
        args.extend_from_slice(set);
        args.extend_from_slice(&[
            "--param",
            "fast=5..20:5",
            "--param",
            "slow=10..40:10",
            "--constraint",
            "fast<slow",
            "--top",
            "5",
            "--out",
            "sweep",
        ]);
        let out = barter(dir.path(), &args);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let alone = sweep(&[]);
    assert!(alone.contains("12 combination(s) run"), "{alone}");
    let rows = ranking(&alone);
    assert_eq!(
        rows[0],
        [
            "fast",
            "slow",
            "return_pct",
            "sharpe_ratio",
            "max_drawdown_pct",
            "trades",
            "win_rate_pct"
        ],
        "{alone}"
    );
    assert_eq!(rows.len(), 1 + 5, "{alone}");
    let returns: Vec<f64> = rows[1..]
        .iter()
        .map(|r| r[2].parse().expect("return"))
        .collect();
    assert!(
        returns.windows(2).all(|w| w[0] >= w[1]),
        "ranked by return: {alone}"
    );
    for row in &rows[1..] {
        assert!(
            row[5].parse::<u64>().is_ok(),
            "trades `{}` is a whole number: {alone}",
            row[5]
        );
        assert!(row[2].contains('.'), "returns keep their decimals: {alone}");
    }
    // The values --set gives are overridden by the sweep: the same ranking either way.
    let set = sweep(&["--set", "fast=7", "--set", "slow=33"]);
    assert_eq!(ranking(&set), rows);

    // The walk-forward table counts trades in whole numbers too.
    let args = [
        "backtest",
        "--data",
        &data,
        "--entry",
        ENTRY,
        "--exit",
        EXIT,
        "--param",
        "fast=5..15:5",
        "--param",
        "slow=20..40:10",
        "--walk-forward",
        "train=730d,test=365d",
    ];
    let out = barter(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let walk = String::from_utf8_lossy(&out.stdout);
    let stitched = walk
        .lines()
        .find(|l| l.trim_start().starts_with("# Trades") && l.split_whitespace().count() == 5)
        .and_then(|l| l.split_whitespace().last())
        .expect("the # Trades row");
    assert!(stitched.parse::<u64>().is_ok(), "{walk}");
}

#[test]
fn an_unknown_parameter_says_which_flag_declares_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("btc-usd-daily.csv");
    let out = barter(dir.path(), &["backtest", "--data", &data, "--entry", ENTRY]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("unknown parameter `$fast`"), "{message}");
    assert!(
        message.contains("--set fast=VALUE") && message.contains("--param fast=FIRST..LAST"),
        "{message}"
    );
    // One swept, the other missing: the hint names the missing one's flags.
    let out = barter(
        dir.path(),
        &[
            "backtest",
            "--data",
            &data,
            "--entry",
            ENTRY,
            "--param",
            "fast=5..10",
        ],
    );
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("unknown parameter `$slow`"), "{message}");
    assert!(!message.contains("unknown parameter `$fast`"), "{message}");
    assert!(message.contains("--set slow=VALUE"), "{message}");
    // A swept name no rule uses is still refused, under the flag that gave it.
    let out = barter(
        dir.path(),
        &[
            "backtest",
            "--data",
            &data,
            "--entry",
            ENTRY,
            "--param",
            "fast=5..10",
            "--param",
            "slow=20..30",
            "--param",
            "slwo=1,2",
        ],
    );
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("--param: no rule uses `$slwo`"),
        "{message}"
    );
}

#[test]
fn walk_forward_reports_each_window_and_the_stitched_out_of_sample_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("btc-usd-daily.csv");
    let args = [
        "backtest",
        "--data",
        &data,
        "--entry",
        ENTRY,
        "--exit",
        EXIT,
        "--set",
        "fast=10",
        "--set",
        "slow=20",
        "--param",
        "fast=5..15:5",
        "--param",
        "slow=20..40:10",
        "--walk-forward",
        "train=730d,test=365d",
        "--json",
    ];
    let out = barter(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let walk: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let windows = walk["windows"].as_array().expect("windows");
    assert!(windows.len() >= 5, "8+ years give several windows");
    for pair in windows.windows(2) {
        assert!(pair[0]["test_to"].as_str() < pair[1]["test_from"].as_str());
    }
    let stitched = walk["out_of_sample"]["equity"].as_array().expect("equity");
    assert_eq!(
        stitched.first().and_then(|p| p["day"].as_str()),
        windows[0]["test_from"].as_str()
    );
}

#[test]
fn bad_input_is_refused_with_what_and_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample("btc-usd-daily.csv");
    let out = barter(
        dir.path(),
        &["backtest", "--data", &data, "--entry", "sma(close, 10) >"],
    );
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("--entry") && message.contains("line 1, column 17"),
        "{message}"
    );
    let out = barter(
        dir.path(),
        &[
            "backtest",
            "--data",
            &data,
            "--entry",
            ENTRY,
            "--set",
            "fast=10",
            "--set",
            "slow=20",
            "--param",
            "fast=9..5",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("ends before it starts"),
        "{}",
        text(&out)
    );
    let out = barter(
        dir.path(),
        &["backtest", "--data", "missing.csv", "--entry", "close > 0"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("missing.csv"), "{}", text(&out));
}

#[test]
fn a_named_strategy_backtests_on_the_database_after_quickstart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = barter(dir.path(), &["quickstart"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("barter-report/report.html").is_file());
    let out = barter(
        dir.path(),
        &[
            "backtest",
            "--strategy",
            "golden-cross",
            "--instrument",
            "ETH",
            "--from",
            "2021-01-01",
            "--to",
            "2023-12-31",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(result["stats"]["start"], "2021-01-01");
    assert_eq!(result["stats"]["end"], "2023-12-31");
    // Inline settings do not silently disappear on a named strategy.
    let out = barter(
        dir.path(),
        &[
            "backtest",
            "--strategy",
            "golden-cross",
            "--stop-loss",
            "5%",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--stop-loss: applies to an inline"),
        "{}",
        text(&out)
    );
}
