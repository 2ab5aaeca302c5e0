//! `barter backtest`: one backtest, a parameter sweep, or a walk-forward analysis, over the
//! database's candles or CSV files, printed as tables or JSON and written as report files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use barter_core::simulator::{BacktestResult, PointStats, Statistics, breakdown};
use barter_core::{Day, FillTiming, Symbol};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rust_decimal::Decimal;

use barter_report::{self as report, ReportInput, ReportTable};
use barter_service::backtest::{
    self, BacktestFailure, BacktestRequest, CandleSource, Plan, Prepared,
};
use barter_service::config::Config;

/// `barter backtest` flags.
#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// A strategy from barter.toml (repeat for a portfolio sharing one account).
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// An inline entry rule, e.g. "crosses_above(sma(close, 10), sma(close, 20))".
    #[arg(long, value_name = "RULE", conflicts_with = "strategies")]
    pub entry: Option<String>,
    /// The inline strategy's exit rule.
    #[arg(long, value_name = "RULE", requires = "entry")]
    pub exit: Option<String>,
    /// Stop-loss below the entry price, e.g. 8%.
    #[arg(long, value_name = "PCT", requires = "entry")]
    pub stop_loss: Option<String>,
    /// Take-profit above the entry price, e.g. 20%.
    #[arg(long, value_name = "PCT", requires = "entry")]
    pub take_profit: Option<String>,
    /// Trailing stop below the highest close since entry, e.g. 10%.
    #[arg(long, value_name = "PCT", requires = "entry")]
    pub trailing_stop: Option<String>,
    /// Close after this many days held.
    #[arg(long, value_name = "DAYS", requires = "entry")]
    pub max_holding_days: Option<u32>,
    /// A value of an inline rule's parameter, NAME=VALUE (repeatable; a swept one needs none).
    #[arg(long = "set", value_name = "NAME=VALUE", requires = "entry")]
    pub set: Vec<String>,
    /// An instrument to test (repeatable; default: what the strategies trade).
    #[arg(long = "instrument", value_name = "SYMBOL")]
    pub instruments: Vec<Symbol>,
    /// First day (YYYY-MM-DD).
    #[arg(long, value_parser = barter_core::calendar::parse_day)]
    pub from: Option<Day>,
    /// Last day (YYYY-MM-DD).
    #[arg(long, value_parser = barter_core::calendar::parse_day)]
    pub to: Option<Day>,
    /// Starting cash (default: [account] initial_cash).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = positive_cash)]
    pub cash: Option<Decimal>,
    /// Size of each entry: AMOUNT, PCT% of equity, `all`, or `N units`.
    #[arg(long, value_name = "AMOUNT|PCT%")]
    pub size: Option<String>,
    /// Fee in basis points (default: [broker] fee_bps).
    #[arg(long, value_name = "N")]
    pub fee_bps: Option<Decimal>,
    /// Slippage in basis points (default: [broker] slippage_bps).
    #[arg(long, value_name = "N")]
    pub slippage_bps: Option<Decimal>,
    /// When decisions fill: next-open or close (default: [broker] fill).
    #[arg(long, value_name = "next-open|close", value_parser = parse_fill)]
    pub fill: Option<FillTiming>,
    /// Buy whole units only.
    #[arg(long)]
    pub whole_units: bool,
    /// Close positions still open at the end at the last close.
    #[arg(long)]
    pub close_at_end: bool,
    /// Read candles from a CSV file, `PATH` or `SYMBOL=PATH` (repeatable; no database needed).
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<String>,
    /// Sweep a parameter: NAME=FIRST..LAST[:STEP] or NAME=A,B,C (repeatable). Declares an inline
    /// rule's `$NAME`: no --set needed.
    #[arg(long = "param", value_name = "RANGE")]
    pub params: Vec<String>,
    /// A constraint between swept parameters, e.g. fast<slow (repeatable).
    #[arg(long = "constraint", value_name = "EXPR")]
    pub constraints: Vec<String>,
    /// The statistic sweeps rank by (e.g. return_pct, sharpe_ratio, equity_final).
    #[arg(long, value_name = "STAT")]
    pub rank_by: Option<String>,
    /// How many of the best combinations to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Run every point of a sweep through the exact engine and write every statistic of each
    /// to sweep.csv (slower; by default a screening pass decides the ranking statistics of
    /// every point and only the best are run exactly).
    #[arg(long, requires = "params")]
    pub all_statistics: bool,
    /// Sweep each --instrument on its own (one backtest per combination and instrument, each
    /// with its own account and the whole --cash) instead of all of them sharing one account,
    /// and rank the combinations by an aggregate across the instruments (--rank-across). Needs
    /// --param and two or more --instrument. Writes sweep.csv (a row per combination and
    /// instrument) and sweep_aggregate.csv (a row per combination).
    #[arg(long)]
    pub per_instrument: bool,
    /// With --per-instrument: rank by the median (default) or the worst value of --rank-by
    /// across the instruments.
    #[arg(long, value_name = "median|worst")]
    pub rank_across: Option<String>,
    /// Walk-forward analysis, e.g. train=730d,test=180d[,step=180d] (needs --param).
    #[arg(long, value_name = "SPEC", requires = "params")]
    pub walk_forward: Option<String>,
    /// Write the report files (trades.csv, equity.csv, stats.json, chart.svg, report.html;
    /// sweeps: sweep.csv and heatmap.svg) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_fill(text: &str) -> Result<FillTiming, String> {
    match text {
        "next-open" => Ok(FillTiming::NextOpen),
        "close" => Ok(FillTiming::Close),
        other => Err(format!("`{other}`: use next-open or close")),
    }
}

impl BacktestArgs {
    /// The request these flags describe.
    ///
    /// # Errors
    /// A `--set` that is not NAME=NUMBER.
    pub fn request(&self) -> anyhow::Result<BacktestRequest> {
        let mut params = barter_core::rule::Params::new();
        for pair in &self.set {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("--set {pair}: write NAME=VALUE"))?;
            let value: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("--set {pair}: `{value}` is not a number"))?;
            params.insert(name.trim().trim_start_matches('$').to_owned(), value);
        }
        Ok(BacktestRequest {
            strategies: self.strategies.clone(),
            entry: self.entry.clone(),
            exit: self.exit.clone(),
            stop_loss: self.stop_loss.clone(),
            take_profit: self.take_profit.clone(),
            trailing_stop: self.trailing_stop.clone(),
            max_holding_days: self.max_holding_days,
            params,
            instruments: self.instruments.clone(),
            from: self.from,
            to: self.to,
            cash: self.cash,
            size: self.size.clone(),
            fee_bps: self.fee_bps,
            slippage_bps: self.slippage_bps,
            fill: self.fill,
            whole_units: self.whole_units,
            close_at_end: self.close_at_end,
            sweep: self.params.clone(),
            constraints: self.constraints.clone(),
            rank_by: self.rank_by.clone(),
            walk_forward: self.walk_forward.clone(),
            per_instrument: self.per_instrument,
            rank_across: self.rank_across.clone(),
            caller: barter_service::backtest::Caller::Cli,
        })
    }
}

/// Parses `--cash`: an exact decimal greater than 0 (a negative one is refused with this
/// message rather than mistaken for a flag).
fn positive_cash(text: &str) -> Result<Decimal, String> {
    let cash: Decimal = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of quote currency, e.g. 10000"))?;
    if cash <= Decimal::ZERO {
        return Err(format!("{cash} must be greater than 0"));
    }
    Ok(cash)
}

/// Runs `barter backtest`.
///
/// # Errors
/// Invalid flags (every problem listed), unreadable data, or unwritable output.
pub async fn run(json: bool, config: &Config, args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let request = args.request()?;
    if let Some(dir) = &args.out {
        // Before the backtest, which may take minutes: a folder that cannot be written is
        // reported now, not after the work is done.
        writable_dir(dir)?;
    }
    let prepared = if args.data.is_empty() {
        let store = super::commands::open_store(config).await?;
        backtest::prepare(&request, config, CandleSource::Store(&store)).await
    } else {
        backtest::prepare(&request, config, CandleSource::Files(&args.data)).await
    };
    let prepared =
        prepared.map_err(|e| failure(e.with_parameter_help(&request, parameter_help)))?;
    match backtest::plan(&request, &prepared).map_err(failure)? {
        Plan::Single => single(json, &prepared, args.out.as_deref()),
        Plan::Sweep(plan) => sweep(json, &prepared, &plan, args),
        Plan::WalkForward(plan, spec) => {
            let walk = prepared.walk_forward(&plan, spec).map_err(failure)?;
            walk_forward(json, &prepared, &walk, args.out.as_deref())
        }
        Plan::Across(plan) => sweep_across(json, &prepared, &plan, args),
    }
}

/// Creates `dir` if needed and proves a file can be written in it.
///
/// # Errors
/// Which folder cannot be written, and why.
fn writable_dir(dir: &Path) -> anyhow::Result<()> {
    let refuse = |error: std::io::Error| {
        anyhow::anyhow!(
            "cannot write the report to {}: {error}; choose a folder you can write to with --out",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(refuse)?;
    let probe = dir.join(".barter-write-check");
    std::fs::write(&probe, b"").map_err(refuse)?;
    std::fs::remove_file(&probe).map_err(refuse)?;
    Ok(())
}

/// How to declare an inline rule's parameter `name` on the command line.
fn parameter_help(name: &str) -> String {
    format!(
        "give `${name}` a value with `--set {name}=VALUE` or sweep it with `--param {name}=FIRST..LAST[:STEP]`"
    )
}

/// The flag a request field comes from.
fn flag(field: &str) -> String {
    match field {
        "strategies" => "strategy".to_owned(),
        "instruments" => "instrument".to_owned(),
        "params" => "set".to_owned(),
        "sweep" => "param".to_owned(),
        "constraints" => "constraint".to_owned(),
        other => other.replace('_', "-"),
    }
}

fn failure(error: BacktestFailure) -> anyhow::Error {
    match error {
        BacktestFailure::Invalid(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("--{}: {}", flag(&p.field), p.message))
                .collect();
            anyhow::anyhow!("the backtest cannot run:\n{}", lines.join("\n"))
        }
        BacktestFailure::Failed(error) => error,
    }
}

/// The per-instrument, per-strategy and per-exit-reason tables.
pub fn breakdown_tables(result: &BacktestResult) -> Vec<ReportTable> {
    let columns = [
        "group",
        "trades",
        "win rate %",
        "P&L",
        "fees",
        "avg return %",
        "best %",
        "worst %",
    ];
    let table = |title: &str, rows: Vec<breakdown::Breakdown>| ReportTable {
        title: title.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows
            .into_iter()
            .map(|b| {
                let pct = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
                vec![
                    b.group,
                    b.trades.to_string(),
                    pct(b.win_rate_pct),
                    b.pnl.0.round_dp(2).to_string(),
                    b.fees.0.round_dp(2).to_string(),
                    pct(b.avg_return_pct),
                    pct(b.best_trade_pct),
                    pct(b.worst_trade_pct),
                ]
            })
            .collect(),
    };
    vec![
        table("By instrument", breakdown::by_instrument(&result.trades)),
        table("By strategy", breakdown::by_strategy(&result.trades)),
        table("By exit reason", breakdown::by_exit_reason(&result.trades)),
    ]
}

fn single(json: bool, prepared: &Prepared, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let result = prepared.run().map_err(failure)?;
    let prices = prepared.prices();
    let input = ReportInput {
        title: "Barter backtest".to_owned(),
        settings: prepared.describe(),
        result: &result,
        prices: &prices,
        tables: breakdown_tables(&result),
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&result)?)?;
    } else {
        print_result(&input)?;
    }
    if let Some(dir) = out {
        let files = report::write_backtest(dir, &input)?;
        if !json {
            outln!("\nwrote {}", list(&files))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints the statistics, breakdowns and the trades still open.
pub fn print_result(input: &ReportInput<'_>) -> std::io::Result<()> {
    let result = input.result;
    for (name, value) in &input.settings {
        outln!("{name:<14} {value}")?;
    }
    outln!()?;
    for (label, value) in result.stats.rows() {
        outln!("{label:<26} {value:>20}")?;
    }
    outln!(
        "{:<26} {:>20}\n{:<26} {:>20}",
        "Final cash (exact)",
        result.final_cash.0.round_dp(8).to_string(),
        "Final equity (exact)",
        result.final_equity.0.round_dp(8).to_string()
    )?;
    for table in &input.tables {
        if table.rows.is_empty() {
            continue;
        }
        outln!("\n{}", table.title)?;
        outln!("  {}", table.columns.join(" | "))?;
        for row in &table.rows {
            outln!("  {}", row.join(" | "))?;
        }
    }
    for open in &result.open_trades {
        outln!(
            "\nstill open: {} {} {} since {} at {}, marked {} (unrealized {})",
            open.strategy,
            open.quantity,
            open.symbol,
            open.entry_day,
            open.entry_price,
            open.mark_price,
            open.unrealized_pnl.0.round_dp(2)
        )?;
    }
    if !result.unfilled.is_empty() {
        outln!("\n{} order(s) not filled, e.g.:", result.unfilled.len())?;
        for u in result.unfilled.iter().take(5) {
            outln!("  {} {} {}: {}", u.day, u.strategy, u.symbol, u.reason)?;
        }
    }
    Ok(())
}

/// How long a sweep runs before its progress bar shows.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// A sweep's progress bar, hidden at first: a sweep done within a second gets no bar flashing
/// by, a longer one shows it from its first row after that second (never with --json).
struct Progress {
    bar: ProgressBar,
    started: Instant,
    revealed: AtomicBool,
}

impl Progress {
    fn new(len: usize, json: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} combinations {elapsed} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            started: Instant::now(),
            revealed: AtomicBool::new(json),
        }
    }

    /// One more row done.
    fn tick(&self) {
        self.bar.inc(1);
        if !self.revealed.load(Ordering::Relaxed)
            && self.started.elapsed() >= PROGRESS_AFTER
            && !self.revealed.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

/// Writes `heatmap.svg` into `dir`: `cells` (two parameter values and the value shown) on a
/// grid of the first parameter by the second.
fn heatmap(
    dir: &Path,
    title: &str,
    names: &[String],
    cells: Vec<(Vec<f64>, Option<f64>)>,
    statistic: &str,
) -> anyhow::Result<PathBuf> {
    let mut xs: Vec<f64> = cells.iter().map(|(p, _)| p[0]).collect();
    let mut ys: Vec<f64> = cells.iter().map(|(p, _)| p[1]).collect();
    for axis in [&mut xs, &mut ys] {
        axis.sort_by(f64::total_cmp);
        axis.dedup();
    }
    let mut values = vec![None; xs.len() * ys.len()];
    for (point, value) in cells {
        let x = xs.partition_point(|v| *v < point[0]);
        let y = ys.partition_point(|v| *v < point[1]);
        values[y * xs.len() + x] = value;
    }
    let svg = report::heatmap_svg(title, &names[0], &xs, &names[1], &ys, &values, statistic)?;
    let path = dir.join("heatmap.svg");
    std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The sweep's output directory (`--out`, default `barter-sweep/`), made if missing, and its
/// `sweep.csv` opened for writing.
fn sweep_csv(
    args: &BacktestArgs,
) -> anyhow::Result<(PathBuf, PathBuf, csv::Writer<std::fs::File>)> {
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("barter-sweep"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let csv_path = dir.join("sweep.csv");
    let writer = csv::Writer::from_path(&csv_path)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    Ok((dir, csv_path, writer))
}

fn sweep(
    json: bool,
    prepared: &Prepared,
    plan: &backtest::SweepPlan,
    args: &BacktestArgs,
) -> anyhow::Result<ExitCode> {
    let grid = &plan.grid;
    let (dir, csv_path, mut writer) = sweep_csv(args)?;
    // Every point through the screening pass unless asked otherwise (or it does not apply);
    // the best are run exactly either way.
    let screen = prepared.screen(&prepared.settings, &plan.rank_by, args.all_statistics);
    let keys = Prepared::point_statistics(screen.is_some(), &plan.rank_by);
    let mut header: Vec<String> = grid.names.clone();
    header.extend(keys.iter().map(|k| (*k).to_owned()));
    if screen.is_none() {
        header.push("final_equity_exact".to_owned());
    }
    writer.write_record(&header)?;
    let progress = Progress::new(grid.points.len(), json);
    let writer = Mutex::new(writer);
    let heat = Mutex::new(Vec::<(Vec<f64>, Option<f64>)>::new());
    let failed = Mutex::new(None::<String>);
    let rank = (plan.rank_by.as_str(), args.top.max(1));
    let rows = prepared.sweep(
        grid,
        &prepared.settings,
        screen.as_ref(),
        rank,
        |values, stats: PointStats<'_>| {
            let mut record: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            for key in &keys {
                record.push(stats.value(key).map_or(String::new(), |v| v.to_string()));
            }
            if screen.is_none() {
                let exact = match &stats {
                    PointStats::Exact(Some(result)) => result.final_equity.0.to_string(),
                    _ => String::new(),
                };
                record.push(exact);
            }
            if let Ok(mut w) = writer.lock()
                && let Err(e) = w.write_record(&record)
                && let Ok(mut f) = failed.lock()
            {
                *f = Some(e.to_string());
            }
            if grid.names.len() == 2
                && let Ok(mut h) = heat.lock()
            {
                h.push((values.to_vec(), stats.value(&plan.rank_by)));
            }
            progress.tick();
        },
    );
    progress.bar.finish_and_clear();
    if let Some(error) = failed.into_inner().ok().flatten() {
        anyhow::bail!("cannot write {}: {error}", csv_path.display());
    }
    writer
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a sweep thread panicked"))?
        .flush()?;
    let mut files = vec![csv_path];
    if grid.names.len() == 2 {
        let cells = heat.into_inner().unwrap_or_default();
        let title = format!(
            "{} by {} and {}",
            plan.rank_by, grid.names[0], grid.names[1]
        );
        files.push(heatmap(&dir, &title, &grid.names, cells, &plan.rank_by)?);
    }
    if json {
        let body = serde_json::json!({
            "names": grid.names,
            "combinations": grid.points.len(),
            "skipped": grid.skipped,
            "rank_by": plan.rank_by,
            "top": rows,
            "files": files,
        });
        outln!("{}", serde_json::to_string_pretty(&body)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} combination(s) run, {} skipped by constraints; best {} by {}:",
        grid.points.len(),
        grid.skipped,
        rows.len(),
        plan.rank_by
    )?;
    let shown = barter_service::backtest::sweep::SHOWN_STATISTICS;
    outln!("  {} | {}", grid.names.join(" | "), shown.join(" | "))?;
    for row in &rows {
        let values: Vec<String> = row.values.iter().map(|v| v.to_string()).collect();
        let stats: Vec<String> = shown
            .iter()
            .map(|k| {
                row.stats
                    .as_ref()
                    .and_then(|s| s.value(k))
                    .map_or("n/a".to_owned(), |v| report::statistic_text(k, v))
            })
            .collect();
        outln!("  {} | {}", values.join(" | "), stats.join(" | "))?;
    }
    outln!("\nwrote {}", list(&files))?;
    Ok(ExitCode::SUCCESS)
}

/// `--per-instrument`: every combination on each instrument alone, ranked by the aggregate
/// across them; `sweep.csv` (a row per combination and instrument), `sweep_aggregate.csv` (a
/// row per combination), the heatmap of the aggregate, and the best combinations with each
/// instrument's exact statistics.
fn sweep_across(
    json: bool,
    prepared: &Prepared,
    plan: &backtest::AcrossPlan,
    args: &BacktestArgs,
) -> anyhow::Result<ExitCode> {
    let grid = &plan.sweep.grid;
    let rank_by = plan.sweep.rank_by.as_str();
    let across = plan.rank_across.name();
    let symbols: Vec<String> = prepared
        .instruments
        .iter()
        .map(|i| i.symbol.to_string())
        .collect();
    let (dir, csv_path, mut writer) = sweep_csv(args)?;
    // The statistics of the screening pass when it applies to any instrument (it depends on
    // each instrument's candles), every statistic when every point runs exactly.
    let screened = (0..symbols.len()).any(|i| {
        prepared.on_instrument(i).is_some_and(|single| {
            single
                .screen(&single.settings, rank_by, args.all_statistics)
                .is_some()
        })
    });
    let keys = Prepared::point_statistics(screened, rank_by);
    let mut header = vec!["instrument".to_owned()];
    header.extend(grid.names.iter().cloned());
    header.extend(keys.iter().map(|k| (*k).to_owned()));
    if !screened {
        header.push("final_equity_exact".to_owned());
    }
    writer.write_record(&header)?;
    let aggregate_path = dir.join("sweep_aggregate.csv");
    let mut aggregate_writer = csv::Writer::from_path(&aggregate_path)
        .with_context(|| format!("cannot write {}", aggregate_path.display()))?;
    let mut header: Vec<String> = grid.names.clone();
    header.extend([
        format!("{rank_by}_median"),
        format!("{rank_by}_worst"),
        "consistency_pct".to_owned(),
    ]);
    header.extend(symbols.iter().map(|s| format!("{rank_by}_{s}")));
    aggregate_writer.write_record(&header)?;
    let progress = Progress::new(grid.points.len() * symbols.len(), json);
    let writer = Mutex::new(writer);
    let failed = Mutex::new(None::<String>);
    let mut heat = Vec::<(Vec<f64>, Option<f64>)>::new();
    let mut aggregate_failed = None::<csv::Error>;
    let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let rows = prepared.sweep_across(
        plan,
        args.top.max(1),
        args.all_statistics,
        |instrument, values, stats: PointStats<'_>| {
            let mut record = vec![symbols[instrument].clone()];
            record.extend(values.iter().map(|v| v.to_string()));
            for key in &keys {
                record.push(number(stats.value(key)));
            }
            if !screened {
                record.push(match &stats {
                    PointStats::Exact(Some(result)) => result.final_equity.0.to_string(),
                    _ => String::new(),
                });
            }
            if let Ok(mut w) = writer.lock()
                && let Err(e) = w.write_record(&record)
                && let Ok(mut f) = failed.lock()
            {
                *f = Some(e.to_string());
            }
            progress.tick();
        },
        |point| {
            let aggregate = point.aggregate;
            let mut record: Vec<String> = point.values.iter().map(|v| v.to_string()).collect();
            record.extend([
                number(aggregate.median),
                number(aggregate.worst),
                aggregate.consistency_pct.to_string(),
            ]);
            record.extend(point.per_instrument.iter().map(|v| number(*v)));
            if aggregate_failed.is_none()
                && let Err(e) = aggregate_writer.write_record(&record)
            {
                aggregate_failed = Some(e);
            }
            if grid.names.len() == 2 {
                let ranked = match plan.rank_across {
                    backtest::RankAcross::Median => aggregate.median,
                    backtest::RankAcross::Worst => aggregate.worst,
                };
                heat.push((point.values.to_vec(), ranked));
            }
        },
    );
    progress.bar.finish_and_clear();
    if let Some(error) = failed.into_inner().ok().flatten() {
        anyhow::bail!("cannot write {}: {error}", csv_path.display());
    }
    if let Some(error) = aggregate_failed {
        anyhow::bail!("cannot write {}: {error}", aggregate_path.display());
    }
    writer
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a sweep thread panicked"))?
        .flush()?;
    aggregate_writer.flush()?;
    let mut files = vec![csv_path, aggregate_path];
    if grid.names.len() == 2 {
        let title = format!(
            "{rank_by} ({across} across {}) by {} and {}",
            symbols.join(", "),
            grid.names[0],
            grid.names[1]
        );
        files.push(heatmap(&dir, &title, &grid.names, heat, rank_by)?);
    }
    if json {
        let body = serde_json::json!({
            "names": grid.names,
            "combinations": grid.points.len(),
            "skipped": grid.skipped,
            "per_instrument": true,
            "instruments": symbols,
            "backtests": grid.points.len() * symbols.len(),
            "rank_by": rank_by,
            "rank_across": across,
            "top": rows,
            "files": files,
        });
        outln!("{}", serde_json::to_string_pretty(&body)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} combination(s) run on each of {} instruments ({}), {} skipped by constraints; \
         best {} by the {across} of {rank_by} across instruments:",
        grid.points.len(),
        symbols.len(),
        symbols.join(", "),
        grid.skipped,
        rows.len(),
    )?;
    outln!(
        "  {} | {rank_by} median | {rank_by} worst | consistency_pct",
        grid.names.join(" | ")
    )?;
    let shown = barter_service::backtest::sweep::SHOWN_STATISTICS;
    let text = |key: &str, value: Option<f64>| {
        value.map_or("n/a".to_owned(), |v| report::statistic_text(key, v))
    };
    for row in &rows {
        let values: Vec<String> = row.values.iter().map(|v| v.to_string()).collect();
        outln!(
            "  {} | {} | {} | {}",
            values.join(" | "),
            text(rank_by, row.aggregate.median),
            text(rank_by, row.aggregate.worst),
            report::statistic_text("consistency_pct", row.aggregate.consistency_pct)
        )?;
        for instrument in &row.instruments {
            let stats: Vec<String> = shown
                .iter()
                .map(|k| {
                    let value = instrument.stats.as_ref().and_then(|s| s.value(k));
                    format!("{k} {}", text(k, value))
                })
                .collect();
            outln!("      {}: {}", instrument.symbol, stats.join(", "))?;
        }
    }
    outln!("\nwrote {}", list(&files))?;
    Ok(ExitCode::SUCCESS)
}

fn walk_forward(
    json: bool,
    prepared: &Prepared,
    walk: &backtest::WalkForward,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(walk)?)?;
    } else {
        outln!(
            "walk-forward: {} window(s), optimising {} over {}",
            walk.windows.len(),
            walk.rank_by,
            walk.names.join(", ")
        )?;
        outln!("  train | test | best | in-sample return % | out-of-sample return %")?;
        for w in &walk.windows {
            let ret = |s: &Statistics| format!("{:.2}", s.return_pct);
            outln!(
                "  {}..{} | {}..{} | {} | {} | {}",
                w.train_from,
                w.train_to,
                w.test_from,
                w.test_to,
                backtest::describe_point(&walk.names, &w.best),
                ret(&w.in_sample),
                ret(&w.out_of_sample)
            )?;
        }
        // In sample (the winners on their training windows, averaged) next to out of sample
        // (each window's test, and the test windows stitched into one run).
        let keys = [
            ("Return (Ann.) [%]", "return_ann_pct"),
            ("Sharpe Ratio", "sharpe_ratio"),
            ("Max. Drawdown [%]", "max_drawdown_pct"),
            ("Win Rate [%]", "win_rate_pct"),
            ("# Trades", "trades"),
        ];
        let mean = |key: &str, pick: &dyn Fn(&backtest::WalkForwardWindow) -> &Statistics| {
            let values: Vec<f64> = walk
                .windows
                .iter()
                .filter_map(|w| pick(w).value(key))
                .collect();
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            if values.is_empty() {
                "n/a".to_owned()
            } else {
                report::statistic_text(key, mean)
            }
        };
        outln!(
            "\n  {:<20} {:>18} {:>18} {:>18}",
            "statistic",
            "in-sample (mean)",
            "out-of-sample",
            "stitched"
        )?;
        for (label, key) in keys {
            let stitched = walk
                .out_of_sample
                .stats
                .value(key)
                .map_or("n/a".to_owned(), |v| report::statistic_text(key, v));
            outln!(
                "  {label:<20} {:>18} {:>18} {stitched:>18}",
                mean(key, &|w| &w.in_sample),
                mean(key, &|w| &w.out_of_sample)
            )?;
        }
        outln!("\nstitched out-of-sample, every statistic:")?;
        for (label, value) in walk.out_of_sample.stats.rows() {
            outln!("  {label:<26} {value:>20}")?;
        }
    }
    if let Some(dir) = out {
        let prices = prepared.prices();
        let input = ReportInput {
            title: "Barter walk-forward (out of sample)".to_owned(),
            settings: prepared.describe(),
            result: &walk.out_of_sample,
            prices: &prices,
            tables: breakdown_tables(&walk.out_of_sample),
        };
        let files = report::write_backtest(dir, &input)?;
        if !json {
            outln!("\nwrote {}", list(&files))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
