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

#[test]
fn a_sweep_per_instrument_ranks_by_the_aggregate_and_each_instrument_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        format!("BTC={}", sample("btc-usd-daily.csv")),
        format!("ETH={}", sample("eth-usd-daily.csv")),
        format!("SOL={}", sample("sol-usd-daily.csv")),
    ];
    let sweep = |extra: &[&str]| {
        let mut args = vec!["backtest"];
        for file in &files {
            args.extend(["--data", file.as_str()]);
        }
        args.extend([
            "--instrument",
            "BTC",
            "--instrument",
            "ETH",
            "--instrument",
            "SOL",
            "--entry",
            ENTRY,
            "--exit",
            EXIT,
            "--param",
            "fast=5..20:5",
            "--param",
            "slow=20..60:20",
            "--constraint",
            "fast<slow",
            "--fee-bps",
            "10",
            "--per-instrument",
            "--top",
            "3",
            "--out",
            "across",
        ]);
        args.extend_from_slice(extra);
        let out = barter(dir.path(), &args);
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    // fast 5,10,15,20 × slow 20,40,60, fast < slow: 11 combinations.
    let out = sweep(&[]);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains("11 combination(s) run on each of 3 instruments (BTC, ETH, SOL)"),
        "{printed}"
    );
    assert!(
        printed.contains("best 3 by the median of return_pct across instruments"),
        "{printed}"
    );
    let rows = ranking(&printed);
    assert_eq!(
        rows[0],
        [
            "fast",
            "slow",
            "return_pct median",
            "return_pct worst",
            "consistency_pct"
        ],
        "{printed}"
    );
    // Each best combination, then its three instruments.
    assert_eq!(rows.len(), 1 + 3 * 4, "{printed}");
    for (i, symbol) in ["BTC", "ETH", "SOL"].iter().enumerate() {
        assert!(
            rows[2 + i][0].starts_with(&format!("{symbol}: return_pct ")),
            "{printed}"
        );
    }
    let medians: Vec<f64> = [1, 5, 9]
        .iter()
        .map(|r| rows[*r][2].parse().expect("median"))
        .collect();
    assert!(medians.windows(2).all(|w| w[0] >= w[1]), "{printed}");

    let csv = std::fs::read_to_string(dir.path().join("across/sweep.csv")).expect("csv");
    assert_eq!(
        csv.lines().count(),
        1 + 11 * 3,
        "a row per combination and instrument"
    );
    assert!(csv.starts_with("instrument,fast,slow,"), "{csv}");
    let aggregate =
        std::fs::read_to_string(dir.path().join("across/sweep_aggregate.csv")).expect("csv");
    assert_eq!(aggregate.lines().count(), 1 + 11);
    assert_eq!(
        aggregate.lines().next(),
        Some(
            "fast,slow,return_pct_median,return_pct_worst,consistency_pct,return_pct_BTC,\
             return_pct_ETH,return_pct_SOL"
        )
    );
    assert!(dir.path().join("across/heatmap.svg").is_file());

    // By the worst instrument, as JSON: every instrument's numbers are those of a plain
    // backtest of that instrument alone at the same values.
    let out = sweep(&["--rank-across", "worst", "--json"]);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body["rank_across"], "worst");
    assert_eq!(body["backtests"], 33);
    let top = body["top"].as_array().expect("top");
    assert_eq!(top.len(), 3);
    let worst = |row: &serde_json::Value| row["aggregate"]["worst"].as_f64().expect("worst");
    assert!(
        top.windows(2).all(|w| worst(&w[0]) >= worst(&w[1])),
        "{body}"
    );
    let best = &top[0];
    let (fast, slow) = (
        best["values"][0].as_f64().expect("fast").to_string(),
        best["values"][1].as_f64().expect("slow").to_string(),
    );
    let mut returns = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let single = barter(
            dir.path(),
            &[
                "backtest",
                "--data",
                file,
                "--entry",
                ENTRY,
                "--exit",
                EXIT,
                "--set",
                &format!("fast={fast}"),
                "--set",
                &format!("slow={slow}"),
                "--fee-bps",
                "10",
                "--json",
            ],
        );
        assert!(single.status.success(), "{}", text(&single));
        let single: serde_json::Value = serde_json::from_slice(&single.stdout).expect("json");
        let across = &best["instruments"][i];
        assert_eq!(across["stats"], single["stats"], "{file}");
        assert_eq!(across["final_equity"], single["final_equity"], "{file}");
        returns.push(single["stats"]["return_pct"].as_f64().expect("return"));
    }
    let lowest = returns.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(worst(best), lowest);
    let positive = returns.iter().filter(|r| **r > 0.0).count() as f64;
    assert_eq!(
        best["aggregate"]["consistency_pct"].as_f64(),
        Some(positive * 100.0 / 3.0)
    );
}

#[test]
fn per_instrument_is_refused_without_a_sweep_or_with_one_instrument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let btc = format!("BTC={}", sample("btc-usd-daily.csv"));
    let eth = format!("ETH={}", sample("eth-usd-daily.csv"));
    let run = |args: &[&str]| {
        let mut all = vec!["backtest", "--entry", ENTRY, "--exit", EXIT];
        all.extend_from_slice(args);
        let out = barter(dir.path(), &all);
        assert!(!out.status.success(), "refused: {args:?}");
        text(&out)
    };
    let message = run(&[
        "--data",
        &btc,
        "--data",
        &eth,
        "--set",
        "fast=5",
        "--set",
        "slow=20",
        "--per-instrument",
    ]);
    assert!(
        message.contains("--per-instrument: ranks a sweep's points across instruments"),
        "{message}"
    );
    let message = run(&[
        "--data",
        &btc,
        "--param",
        "fast=5..10:5",
        "--param",
        "slow=20..30:10",
        "--per-instrument",
    ]);
    assert!(
        message.contains("--per-instrument: compares") && message.contains("got 1"),
        "{message}"
    );
    let message = run(&[
        "--data",
        &btc,
        "--data",
        &eth,
        "--param",
        "fast=5..10:5",
        "--param",
        "slow=20..30:10",
        "--per-instrument",
        "--rank-across",
        "best",
    ]);
    assert!(message.contains("--rank-across: `best`"), "{message}");
    let message = run(&[
        "--data",
        &btc,
        "--data",
        &eth,
        "--param",
        "fast=5..10:5",
        "--param",
        "slow=20..30:10",
        "--rank-across",
        "worst",
    ]);
    // The command line's words, never the API's field names.
    assert!(
        message.contains("--rank-across: ") && message.contains("needs --per-instrument"),
        "{message}"
    );
    assert!(!message.contains("`per_instrument`"), "{message}");
}
