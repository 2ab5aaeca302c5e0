//! Barter's side of the anchor benchmark (`bench/anchors/run.sh` runs it next to backtesting.py
//! and vectorbt): the long-only SMA crossover, next-open fills, all cash, fractional units.
//!
//! ```sh
//! cargo bench -p barter-core --bench anchors -- --workload w1|w2|w3 --data FILE --runs N \
//!     --fee-bps B [--fast 10 --slow 20] [--exact]
//! cargo bench -p barter-core --bench anchors -- --workload w6 --data FILE --runs N \
//!     --fee-bps B --cash C --amount A --max-open K [--fast 10 --slow 20]
//! ```
//! W6 is the portfolio workload: the same crossover over every instrument of a long CSV
//! (`symbol,date,open,high,low,close,volume`), one strategy, one account with shared cash `C`,
//! each entry spending `A` fee included (`Sizing::Amount`), at most `K` positions open at once
//! (`--max-open 0`: no cap); timed like W1 (the whole backtest with all statistics).
//! Like the other engines' workers in `bench/anchors/anchors.py`, the first call is timed on its
//! own (`first_s`: a fresh process's first backtest also pays for the memory it is the first to
//! touch) and `runs_s` and `median_s` are of the `N` calls after it.
//! Prints one JSON line: `{"engine":"barter","workload":..,"first_s":..,"runs_s":[..],"median_s":..,
//! "final_equity":..,"trades":..,"best":{"fast":..,"slow":..}|null,"rss_loaded_kb":..,
//! "peak_rss_kb":..}` (W6 adds `"open_trades"`, `"unfilled"` and `"instruments"`; the RSS fields
//! are Linux only, else `null`: the resident memory once the data is loaded, and the
//! peak after that, the loading's own peak forgotten through `/proc/self/clear_refs`; their
//! difference is what the runs added). Timed: building the
//! strategy, the indicators, the backtest and all statistics (W1, W2, W6), or the whole 1,590-point
//! sweep on all cores ranked by final equity (W3: the screening pass over every point, then the
//! best re-run exactly; `--exact` runs every point exactly, as sweeps did before); never reading
//! the CSV.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use barter_core::rule::{IndicatorCache, Params, Rule, RuleKind};
use barter_core::simulator::{
    BacktestInstrument, BacktestResult, BacktestSettings, BacktestStrategy, Constraint, Grid,
    ParamRange, Screen, backtest_with, run_grid, screened_ranking,
};
use barter_core::strategy::{ExitLimits, InstrumentSelection, RuleStrategy};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, FillModel, FillTiming, MarketData, Money, Ohlcv,
    QuantityRounding, Sizing, Symbol,
};
use rust_decimal::Decimal;

struct Args {
    workload: String,
    data: String,
    runs: usize,
    fee_bps: Decimal,
    fast: f64,
    slow: f64,
    /// W3 through the exact engine for every point (the design before the screening pass).
    exact: bool,
    /// W6: the starting cash shared by all instruments.
    cash: Decimal,
    /// W6: what each entry spends, fee included.
    amount: Decimal,
    /// W6: at most this many open positions (0: no cap).
    max_open: u32,
}

fn args() -> Args {
    let mut a = Args {
        workload: "w1".into(),
        data: String::new(),
        runs: 5,
        fee_bps: Decimal::ZERO,
        fast: 10.0,
        slow: 20.0,
        exact: false,
        cash: Decimal::from(10_000),
        amount: Decimal::from(1_000),
        max_open: 0,
    };
    let list: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < list.len() {
        let value = list.get(i + 1).cloned().unwrap_or_default();
        match list[i].as_str() {
            "--workload" => a.workload = value,
            "--data" => a.data = value,
            "--runs" => a.runs = value.parse().expect("--runs N"),
            "--fee-bps" => a.fee_bps = Decimal::from_str(&value).expect("--fee-bps B"),
            "--fast" => a.fast = value.parse().expect("--fast N"),
            "--slow" => a.slow = value.parse().expect("--slow N"),
            "--cash" => a.cash = Decimal::from_str(&value).expect("--cash C"),
            "--amount" => a.amount = Decimal::from_str(&value).expect("--amount A"),
            "--max-open" => a.max_open = value.parse().expect("--max-open K"),
            "--exact" => {
                a.exact = true;
                i += 1;
                continue;
            }
            // cargo bench passes `--bench`; nothing else is expected.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    assert!(!a.data.is_empty(), "--data FILE is required");
    a
}

fn candles(symbol: &Symbol, path: &str) -> Vec<Candle> {
    let text = std::fs::read_to_string(path).expect("data file");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            candle(symbol, &f)
        })
        .collect()
}

/// One candle from `date,open,high,low,close[,volume]` fields.
fn candle(symbol: &Symbol, f: &[&str]) -> Candle {
    let far = Day::MAX.pred_opt().expect("day");
    let d = |i: usize| Decimal::from_str(f[i].trim()).expect("decimal");
    let volume = if f.len() > 5 { d(5) } else { Decimal::ZERO };
    let values = Ohlcv {
        open: d(1),
        high: d(2),
        low: d(3),
        close: d(4),
        volume,
    };
    let day = f[0].parse().expect("day");
    Candle::new(
        symbol.clone(),
        day,
        values,
        true,
        CandleOrigin::CsvFile,
        far,
    )
    .expect("valid candle")
}

/// W6's long file (`symbol,date,open,high,low,close,volume`, rows of one symbol together) as
/// market data and its instruments.
fn portfolio_data(path: &str) -> (MarketData, Vec<BacktestInstrument>) {
    let text = std::fs::read_to_string(path).expect("data file");
    let mut series: Vec<(Symbol, Vec<Candle>)> = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if series.last().is_none_or(|(s, _)| s.as_str() != f[0]) {
            series.push((Symbol::parse(f[0]).expect("symbol"), Vec::new()));
        }
        if let Some((symbol, candles)) = series.last_mut() {
            candles.push(candle(symbol, &f[1..]));
        }
    }
    let mut data = MarketData::new();
    let mut instruments = Vec::with_capacity(series.len());
    for (symbol, candles) in series {
        data.insert(symbol.clone(), candles).expect("data");
        instruments.push(BacktestInstrument {
            symbol,
            calendar: Calendar::Continuous,
        });
    }
    (data, instruments)
}

fn strategy() -> RuleStrategy {
    let mut params = Params::new();
    params.insert("fast".into(), 10.0);
    params.insert("slow".into(), 20.0);
    let rule = |text: &str, kind| Rule::parse(text, kind, &params).expect("rule");
    RuleStrategy::new(
        "sma_cross".into(),
        InstrumentSelection::default(),
        rule(
            "crosses_above(sma(close, $fast), sma(close, $slow))",
            RuleKind::Entry,
        ),
        Some(rule(
            "crosses_below(sma(close, $fast), sma(close, $slow))",
            RuleKind::Exit,
        )),
        ExitLimits::default(),
    )
}

fn run_one(
    base: &RuleStrategy,
    data: &MarketData,
    instruments: &[BacktestInstrument],
    settings: &BacktestSettings,
    (fast, slow): (f64, f64),
    cache: &mut IndicatorCache,
) -> BacktestResult {
    let mut params = Params::new();
    params.insert("fast".into(), fast);
    params.insert("slow".into(), slow);
    // As a sweep does: the parsed strategy with this point's parameters.
    let s = base.clone().with_params(params);
    let strategies = [BacktestStrategy {
        strategy: &s,
        sizing: Sizing::AllCash,
        max_open_positions: None,
    }];
    backtest_with(data, instruments, &strategies, settings, cache).expect("backtest")
}

/// The process's peak resident memory so far in KiB (`VmHWM`), where Linux reports it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The first call's time, the times after it, and their median (the upper middle one).
fn first_and_median(mut times: Vec<f64>) -> (f64, Vec<f64>, f64) {
    let first = times.remove(0);
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    (first, times, sorted[sorted.len() / 2])
}

/// The best point of the W3 sweep by final equity: (equity, closed trades, (fast, slow)).
type Best = (f64, usize, (f64, f64));

/// Every workload's settings: `cash`, next-open fills with `fee_bps`, no slippage, 1e-8 units.
fn settings(cash: Decimal, fee_bps: Decimal) -> BacktestSettings {
    BacktestSettings {
        initial_cash: Money(cash),
        fill_model: FillModel::new(
            fee_bps,
            Decimal::ZERO,
            FillTiming::NextOpen,
            QuantityRounding::Fractional(8),
        )
        .expect("fill model"),
        ..BacktestSettings::default()
    }
}

/// W6: one strategy over every instrument with shared cash; prints the JSON line.
fn portfolio(a: &Args) {
    let (data, instruments) = portfolio_data(&a.data);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_loaded_kb = peak_rss_kb();
    let settings = settings(a.cash, a.fee_bps);
    let mut times = Vec::new();
    let mut outcome = (0.0, 0, 0, 0);
    for _ in 0..=a.runs.max(1) {
        let start = Instant::now();
        let mut params = Params::new();
        params.insert("fast".into(), a.fast);
        params.insert("slow".into(), a.slow);
        let s = strategy().with_params(params);
        let strategies = [BacktestStrategy {
            strategy: &s,
            sizing: Sizing::Amount(Money(a.amount)),
            max_open_positions: (a.max_open > 0).then_some(a.max_open),
        }];
        let mut cache = IndicatorCache::new();
        let r = backtest_with(&data, &instruments, &strategies, &settings, &mut cache)
            .expect("backtest");
        times.push(start.elapsed().as_secs_f64());
        outcome = (
            barter_core::decimal_to_f64(r.final_equity.0),
            r.trades.len(),
            r.open_trades.len(),
            r.unfilled.len(),
        );
    }
    let (first, times, median) = first_and_median(times);
    let kb = |v: Option<u64>| v.map_or("null".to_owned(), |v| v.to_string());
    println!(
        "{{\"engine\":\"barter\",\"workload\":\"{}\",\"first_s\":{first},\"runs_s\":{:?},\"median_s\":{median},\"final_equity\":{},\"trades\":{},\"open_trades\":{},\"unfilled\":{},\"instruments\":{},\"best\":null,\"rss_loaded_kb\":{},\"peak_rss_kb\":{}}}",
        a.workload,
        times,
        outcome.0,
        outcome.1,
        outcome.2,
        outcome.3,
        instruments.len(),
        kb(rss_loaded_kb),
        kb(peak_rss_kb())
    );
}

fn main() {
    let a = args();
    if a.workload == "w6" {
        portfolio(&a);
        return;
    }
    let symbol = Symbol::parse("BENCH").expect("symbol");
    let mut data = MarketData::new();
    data.insert(symbol.clone(), candles(&symbol, &a.data))
        .expect("data");
    // Forget the loading's peak (its text and parsed copies are freed by now), so that the peak
    // at the end is the runs'. Best effort: without it the peak is the loading's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_loaded_kb = peak_rss_kb();
    let instruments = [BacktestInstrument {
        symbol,
        calendar: Calendar::Continuous,
    }];
    let settings = settings(Decimal::from(10_000), a.fee_bps);
    let mut times = Vec::new();
    let mut outcome: (f64, usize, Option<(f64, f64)>) = (0.0, 0, None);
    for _ in 0..=a.runs.max(1) {
        let start = Instant::now();
        let base = strategy();
        if a.workload == "w3" {
            let ranges: Vec<ParamRange> = ["fast=5..50", "slow=20..200:5"]
                .iter()
                .map(|s| s.parse().expect("range"))
                .collect();
            let constraint: Constraint = "fast<slow".parse().expect("constraint");
            let grid = Grid::new(&ranges, &[constraint]).expect("grid");
            let point_strategy = |p: &[f64]| {
                let mut params = Params::new();
                params.insert("fast".into(), p[0]);
                params.insert("slow".into(), p[1]);
                base.clone().with_params(params)
            };
            let best: Mutex<Best> = Mutex::new((f64::MIN, 0, (0.0, 0.0)));
            if a.exact {
                run_grid(
                    &grid,
                    |p, cache| {
                        let r = run_one(&base, &data, &instruments, &settings, (p[0], p[1]), cache);
                        ((p[0], p[1]), r.stats.equity_final, r.trades.len())
                    },
                    |_, (params, equity, trades)| {
                        let mut b = best.lock().expect("lock");
                        if equity > b.0 || (equity == b.0 && params < b.2) {
                            *b = (equity, trades, params);
                        }
                    },
                );
            } else {
                // What `barter backtest --param` does: screen every point, the best exactly.
                let screen = Screen::new(&data, &instruments[0], Sizing::AllCash, None, &settings)
                    .expect("screenable");
                let ranked = screened_ranking(
                    &grid,
                    "equity_final",
                    1,
                    |p, cache, drawdown, curve| {
                        screen.screen(&point_strategy(p), cache, drawdown, curve)
                    },
                    |p, cache| {
                        Some(run_one(
                            &base,
                            &data,
                            &instruments,
                            &settings,
                            (p[0], p[1]),
                            cache,
                        ))
                    },
                    |_, _| {},
                );
                let (index, result) = ranked.into_iter().next().expect("a best point");
                let result = result.expect("the best point ran");
                let p = &grid.points[index];
                *best.lock().expect("lock") =
                    (result.stats.equity_final, result.trades.len(), (p[0], p[1]));
            }
            let (equity, trades, params) = best.into_inner().expect("lock");
            outcome = (equity, trades, Some(params));
        } else {
            let mut cache = IndicatorCache::new();
            let r = run_one(
                &base,
                &data,
                &instruments,
                &settings,
                (a.fast, a.slow),
                &mut cache,
            );
            outcome = (
                barter_core::decimal_to_f64(r.final_equity.0),
                r.trades.len(),
                None,
            );
        }
        times.push(start.elapsed().as_secs_f64());
    }
    let (first, times, median) = first_and_median(times);
    let best = outcome.2.map_or("null".to_owned(), |(f, s)| {
        format!("{{\"fast\":{f},\"slow\":{s}}}")
    });
    let kb = |v: Option<u64>| v.map_or("null".to_owned(), |v| v.to_string());
    println!(
        "{{\"engine\":\"barter\",\"workload\":\"{}\",\"first_s\":{first},\"runs_s\":{:?},\"median_s\":{median},\"final_equity\":{},\"trades\":{},\"best\":{best},\"rss_loaded_kb\":{},\"peak_rss_kb\":{}}}",
        a.workload,
        times,
        outcome.0,
        outcome.1,
        kb(rss_loaded_kb),
        kb(peak_rss_kb())
    );
}
