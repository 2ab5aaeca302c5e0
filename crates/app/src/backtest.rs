//! Backtests as the CLI and the API run them: a request (strategies from `barter.toml` or inline
//! rules, instruments, period, money and fill settings), the candles it needs (from the database
//! or CSV files), and the run, the parameter sweep or the walk-forward analysis on top of
//! [`barter_core::simulator`].

use std::path::PathBuf;
use std::str::FromStr;

use barter_core::rule::{Params, Rule, RuleKind};
use barter_core::simulator::{
    self, BacktestInstrument, BacktestResult, BacktestSettings, BacktestStrategy, Constraint, Grid,
    ParamRange, Statistics,
};
use barter_core::strategy::{
    ExitLimits, InstrumentSelection, NumberText, RuleStrategy, SizeSpec, StrategyConfig,
};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, FillModel, FillTiming, MarketData, Money,
    QuantityRounding, Sizing, Symbol,
};
use barter_store::Store;
use chrono::Datelike;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::report::PriceSeries;

/// What to backtest; the CLI flags and the body of `POST /api/backtests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BacktestRequest {
    /// Strategies from `barter.toml`, by name; several share one account.
    pub strategies: Vec<String>,
    /// An inline entry rule (instead of named strategies).
    pub entry: Option<String>,
    /// The inline strategy's exit rule.
    pub exit: Option<String>,
    /// The inline strategy's stop-loss, e.g. `8%`.
    pub stop_loss: Option<String>,
    /// The inline strategy's take-profit, e.g. `20%`.
    pub take_profit: Option<String>,
    /// The inline strategy's trailing stop, e.g. `10%`.
    pub trailing_stop: Option<String>,
    /// The inline strategy's maximum holding time in days.
    pub max_holding_days: Option<u32>,
    /// Values of the inline rules' `$parameters`.
    #[schema(value_type = std::collections::BTreeMap<String, f64>)]
    pub params: Params,
    /// The instruments (default: what the strategies trade, or every data file).
    #[schema(value_type = Vec<String>)]
    pub instruments: Vec<Symbol>,
    /// The first day (default: the first candle).
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<Day>,
    /// The last day (default: the last candle).
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<Day>,
    /// Starting cash (default: `[account] initial_cash`).
    #[schema(value_type = Option<String>)]
    pub cash: Option<Decimal>,
    /// Size of each entry: an amount, `10%` of equity, `all`, or `0.5 units` (default: all
    /// cash for inline rules, the configured size for named strategies).
    pub size: Option<String>,
    /// Fee in basis points (default: `[broker] fee_bps`).
    #[schema(value_type = Option<String>)]
    pub fee_bps: Option<Decimal>,
    /// Slippage in basis points (default: `[broker] slippage_bps`).
    #[schema(value_type = Option<String>)]
    pub slippage_bps: Option<Decimal>,
    /// `next-open` or `close` (default: `[broker] fill`).
    #[schema(value_type = Option<String>)]
    pub fill: Option<FillTiming>,
    /// Buy whole units only.
    pub whole_units: bool,
    /// Close positions still open at the end at the last close.
    pub close_at_end: bool,
    /// Swept parameters, e.g. `fast=5..50`, `slow=20..200:5`, `stop_loss=2,5,8`.
    pub sweep: Vec<String>,
    /// Constraints between swept parameters, e.g. `fast<slow`.
    pub constraints: Vec<String>,
    /// The statistic sweeps rank by (default `return_pct`).
    pub rank_by: Option<String>,
    /// Walk-forward windows, e.g. `train=730d,test=180d,step=180d`.
    pub walk_forward: Option<String>,
}

/// One problem with a request, with the rule position when it is in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestProblem {
    /// The field: `entry`, `exit`, `instruments`, `sweep`, ...
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
    /// 1-based line in the rule, for rule errors.
    pub line: Option<usize>,
    /// 1-based column in the rule, for rule errors.
    pub column: Option<usize>,
    /// Byte span `[start, end)` in the rule, for rule errors.
    pub span: Option<(usize, usize)>,
}

impl RequestProblem {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
            line: None,
            column: None,
            span: None,
        }
    }
}

/// Why a backtest did not run: problems with the request (the caller's to fix) or a failure.
#[derive(Debug, thiserror::Error)]
pub enum BacktestFailure {
    /// The request is invalid.
    #[error("{}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<RequestProblem>),
    /// Reading candles or running failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn invalid(field: &str, message: impl Into<String>) -> BacktestFailure {
    BacktestFailure::Invalid(vec![RequestProblem::new(field, message)])
}

/// Where the candles come from.
pub enum CandleSource<'a> {
    /// The database's candles of registered instruments.
    Store(&'a Store),
    /// CSV files (`date,open,high,low,close[,volume]`), each `SYMBOL=PATH` or `PATH` (symbol from
    /// the file name, e.g. `btc-usd-daily.csv` is BTC).
    Files(&'a [String]),
}

/// One strategy ready to backtest.
pub struct PreparedStrategy {
    /// The strategy (with its parameter values).
    pub strategy: RuleStrategy,
    /// How much each entry buys.
    pub sizing: Sizing,
    /// The strategy's cap on open positions.
    pub max_open_positions: Option<u32>,
}

/// A request with its candles loaded and strategies built: ready to run once or many times.
pub struct Prepared {
    /// Every instrument's candles up to the period's end.
    pub data: MarketData,
    /// The instruments, with their calendars.
    pub instruments: Vec<BacktestInstrument>,
    /// The strategies, in order.
    pub strategies: Vec<PreparedStrategy>,
    /// Period, cash and fills.
    pub settings: BacktestSettings,
}

impl Prepared {
    /// Runs the backtest once.
    ///
    /// # Errors
    /// When the period holds no candle.
    pub fn run(&self) -> Result<BacktestResult, BacktestFailure> {
        let strategies: Vec<BacktestStrategy<'_>> = self
            .strategies
            .iter()
            .map(|s| BacktestStrategy {
                strategy: &s.strategy,
                sizing: s.sizing,
                max_open_positions: s.max_open_positions,
            })
            .collect();
        simulator::backtest(&self.data, &self.instruments, &strategies, &self.settings)
            .map_err(|e| invalid("period", e.to_string()))
    }

    /// The closes of every instrument in the period, for charts.
    pub fn prices(&self) -> Vec<PriceSeries> {
        let from = self.settings.from.unwrap_or(Day::MIN);
        let view = self.data.view(self.settings.to.unwrap_or(Day::MAX));
        self.instruments
            .iter()
            .map(|i| {
                let days = view.days(&i.symbol);
                let start = days.partition_point(|d| *d < from);
                let close = view.columns(&i.symbol).map_or(&[][..], |c| c.close);
                PriceSeries {
                    symbol: i.symbol.clone(),
                    days: days[start..].to_vec(),
                    close: close[start..].to_vec(),
                }
            })
            .collect()
    }

    /// The settings as (name, value) rows for reports.
    pub fn describe(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let mut rows = vec![
            (
                "instruments".to_owned(),
                self.instruments
                    .iter()
                    .map(|i| i.symbol.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "from".to_owned(),
                s.from.map_or("first candle".into(), |d| d.to_string()),
            ),
            (
                "to".to_owned(),
                s.to.map_or("last candle".into(), |d| d.to_string()),
            ),
            ("cash".to_owned(), s.initial_cash.to_string()),
            ("fill".to_owned(), format!("{:?}", s.fill_model.timing())),
            ("fill model".to_owned(), format!("{:?}", s.fill_model)),
        ];
        for p in &self.strategies {
            let st = &p.strategy;
            let mut text = format!("entry `{}`", st.entry_rule().source());
            if let Some(exit) = st.exit_rule() {
                text.push_str(&format!(", exit `{}`", exit.source()));
            }
            let limits = barter_core::strategy::Strategy::exit_limits(st);
            if limits != ExitLimits::default() {
                text.push_str(&format!(", limits {limits:?}"));
            }
            if !st.params().is_empty() {
                text.push_str(&format!(", params {:?}", st.params()));
            }
            text.push_str(&format!(", size {:?}", p.sizing));
            rows.push((
                format!("strategy {}", barter_core::strategy::Strategy::name(st)),
                text,
            ));
        }
        rows
    }
}

/// Builds the strategies and loads the candles of `request`.
///
/// # Errors
/// [`BacktestFailure::Invalid`] listing every problem of the request, or a read failure.
pub async fn prepare(
    request: &BacktestRequest,
    config: &Config,
    source: CandleSource<'_>,
) -> Result<Prepared, BacktestFailure> {
    let files = match source {
        CandleSource::Files(specs) => Some(read_files(specs, request.to)?),
        CandleSource::Store(_) => None,
    };
    let known: Vec<Symbol> = match (&files, &source) {
        (Some(files), _) => files.iter().map(|(s, _, _)| s.clone()).collect(),
        (None, CandleSource::Store(store)) => crate::trading::known_symbols(store).await?,
        (None, CandleSource::Files(_)) => Vec::new(),
    };
    let strategies = build_strategies(request, config, &known)?;
    let instruments = select_instruments(request, &strategies, &known)?;
    let mut data = MarketData::new();
    let mut chosen = Vec::new();
    match (files, source) {
        (Some(files), _) => {
            for (symbol, calendar, candles) in files {
                if instruments.contains(&symbol) {
                    data.insert(symbol.clone(), candles)
                        .map_err(|e| invalid("data", e.to_string()))?;
                    chosen.push(BacktestInstrument { symbol, calendar });
                }
            }
        }
        (None, CandleSource::Store(store)) => {
            for symbol in &instruments {
                let instrument = store
                    .instrument(symbol)
                    .await
                    .map_err(anyhow::Error::from)?
                    .ok_or_else(|| invalid("instruments", format!("{symbol} is not registered")))?;
                let candles = store
                    .candles(symbol, None, request.to)
                    .await
                    .map_err(anyhow::Error::from)?;
                if candles.is_empty() {
                    return Err(invalid(
                        "instruments",
                        format!("{symbol} has no candles: run `barter sync` first"),
                    ));
                }
                data.insert(symbol.clone(), candles)
                    .map_err(|e| invalid("data", e.to_string()))?;
                chosen.push(BacktestInstrument {
                    symbol: symbol.clone(),
                    calendar: instrument.calendar,
                });
            }
        }
        (None, CandleSource::Files(_)) => {}
    }
    let settings = settings(request, config)?;
    Ok(Prepared {
        data,
        instruments: chosen,
        strategies,
        settings,
    })
}

fn settings(
    request: &BacktestRequest,
    config: &Config,
) -> Result<BacktestSettings, BacktestFailure> {
    if let (Some(from), Some(to)) = (request.from, request.to)
        && to < from
    {
        return Err(invalid(
            "to",
            format!("{to} is before the first day {from}"),
        ));
    }
    let cash = request.cash.unwrap_or(config.account.initial_cash);
    if cash <= Decimal::ZERO {
        return Err(invalid("cash", format!("must be positive, got {cash}")));
    }
    let broker = &config.broker;
    let rounding = if request.whole_units {
        QuantityRounding::WholeUnits
    } else {
        broker.quantity
    };
    let fill_model = FillModel::new(
        request.fee_bps.unwrap_or(broker.fee_bps),
        request.slippage_bps.unwrap_or(broker.slippage_bps),
        request.fill.unwrap_or(broker.fill),
        rounding,
    )
    .map_err(|e| invalid(e.name, e.to_string()))?;
    Ok(BacktestSettings {
        from: request.from,
        to: request.to,
        initial_cash: Money(cash),
        fill_model,
        close_at_end: request.close_at_end,
        annual_periods: None,
    })
}

/// The name of the strategy built from inline rules.
pub const INLINE_STRATEGY: &str = "inline";

fn build_strategies(
    request: &BacktestRequest,
    config: &Config,
    known: &[Symbol],
) -> Result<Vec<PreparedStrategy>, BacktestFailure> {
    let size_override = match &request.size {
        Some(text) => {
            Some(SizeSpec::parse(&NumberText::Text(text.clone())).map_err(|m| invalid("size", m))?)
        }
        None => None,
    };
    if let Some(entry) = &request.entry {
        if !request.strategies.is_empty() {
            return Err(invalid(
                "strategies",
                "give either named strategies or inline rules, not both",
            ));
        }
        let mut problems = Vec::new();
        let mut rule = |field: &str, source: &str, kind: RuleKind| match Rule::parse(
            source,
            kind,
            &request.params,
        ) {
            Ok(rule) => Some(rule),
            Err(errors) => {
                for e in errors {
                    let (line, column) = e.line_column(source);
                    problems.push(RequestProblem {
                        field: field.to_owned(),
                        message: e.render(source, field),
                        line: Some(line),
                        column: Some(column),
                        span: Some((e.span.start, e.span.end)),
                    });
                }
                None
            }
        };
        let entry_rule = rule("entry", entry, RuleKind::Entry);
        let exit_rule = request
            .exit
            .as_ref()
            .map(|source| rule("exit", source, RuleKind::Exit));
        let config = StrategyConfig {
            name: INLINE_STRATEGY.to_owned(),
            instruments: InstrumentSelection::default(),
            entry: entry.clone(),
            exit: request.exit.clone(),
            stop_loss: request.stop_loss.clone().map(NumberText::Text),
            take_profit: request.take_profit.clone().map(NumberText::Text),
            trailing_stop: request.trailing_stop.clone().map(NumberText::Text),
            max_holding_days: request.max_holding_days,
            size: None,
            max_open_positions: None,
            enabled: true,
            params: request.params.clone(),
        };
        if !problems.is_empty() {
            return Err(BacktestFailure::Invalid(problems));
        }
        let (Some(_), None | Some(Some(_))) = (entry_rule, exit_rule) else {
            return Err(invalid("entry", "the rules did not parse"));
        };
        let strategy = config.build(known).map_err(config_problems)?;
        return Ok(vec![PreparedStrategy {
            strategy,
            sizing: size_override.unwrap_or(SizeSpec::AllCash).sizing(),
            max_open_positions: None,
        }]);
    }
    if request.strategies.is_empty() {
        return Err(invalid(
            "strategies",
            "name a strategy from barter.toml (--strategy NAME) or give an inline --entry rule",
        ));
    }
    let mut prepared = Vec::new();
    for name in &request.strategies {
        let cfg = config
            .strategies
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = config.strategies.iter().map(|s| s.name.as_str()).collect();
                invalid(
                    "strategies",
                    format!(
                        "no strategy named `{name}` in barter.toml (it has: {})",
                        names.join(", ")
                    ),
                )
            })?;
        let strategy = cfg.build(known).map_err(config_problems)?;
        let size = match size_override {
            Some(size) => size,
            None => cfg.size_spec().map_err(|m| invalid("size", m))?,
        };
        prepared.push(PreparedStrategy {
            strategy,
            sizing: size.sizing(),
            max_open_positions: cfg.max_open_positions,
        });
    }
    Ok(prepared)
}

fn config_problems(problems: Vec<barter_core::strategy::ConfigProblem>) -> BacktestFailure {
    BacktestFailure::Invalid(
        problems
            .into_iter()
            .map(|p| {
                RequestProblem::new(p.field, format!("strategy `{}`: {}", p.strategy, p.message))
            })
            .collect(),
    )
}

fn select_instruments(
    request: &BacktestRequest,
    strategies: &[PreparedStrategy],
    known: &[Symbol],
) -> Result<Vec<Symbol>, BacktestFailure> {
    use barter_core::strategy::Strategy as _;
    if request.instruments.is_empty() {
        let traded: Vec<Symbol> = known
            .iter()
            .filter(|s| strategies.iter().any(|p| p.strategy.trades(s)))
            .cloned()
            .collect();
        if traded.is_empty() {
            return Err(invalid(
                "instruments",
                "no instrument to test: register or give one",
            ));
        }
        return Ok(traded);
    }
    let unknown: Vec<String> = request
        .instruments
        .iter()
        .filter(|s| !known.contains(s))
        .map(ToString::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(invalid(
            "instruments",
            format!(
                "unknown: {} (known: {})",
                unknown.join(", "),
                known
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(request.instruments.clone())
}

/// Reads `SYMBOL=PATH` / `PATH` CSV files: symbol, calendar (weekdays when no weekend day is
/// present) and candles up to `to`.
fn read_files(
    specs: &[String],
    to: Option<Day>,
) -> Result<Vec<(Symbol, Calendar, Vec<Candle>)>, BacktestFailure> {
    let mut files = Vec::new();
    for spec in specs {
        let (symbol, path) = match spec.split_once('=') {
            Some((symbol, path)) => (symbol.to_owned(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(spec);
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .split(['-', '_', '.'])
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                (stem, path)
            }
        };
        let symbol = Symbol::parse(&symbol).map_err(|e| {
            invalid(
                "data",
                format!("{spec}: {e}; name the symbol as SYMBOL=PATH"),
            )
        })?;
        if files.iter().any(|(s, _, _)| s == &symbol) {
            return Err(invalid("data", format!("{symbol} is given twice")));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid("data", format!("cannot read {}: {e}", path.display())))?;
        // Every row of a backtest file is history, whatever its date: none is "today".
        let today = Day::MAX.pred_opt().unwrap_or(Day::MAX);
        let label = path.display().to_string();
        let mut candles = barter_sources::csv_file::parse_candles(
            &label,
            &symbol,
            &text,
            CandleOrigin::CsvFile,
            today,
        )
        .map_err(|e| invalid("data", e.to_string()))?;
        if let Some(to) = to {
            candles.retain(|c| c.day() <= to);
        }
        let weekend = candles.iter().any(|c| {
            matches!(
                c.day().weekday(),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            )
        });
        let calendar = if weekend || candles.is_empty() {
            Calendar::Continuous
        } else {
            Calendar::Weekdays
        };
        files.push((symbol, calendar, candles));
    }
    Ok(files)
}

/// How a sweep point sets a strategy: rule parameters, or risk exits by name.
fn apply_point(strategy: &RuleStrategy, names: &[String], point: &[f64]) -> RuleStrategy {
    use barter_core::strategy::Strategy as _;
    let mut params = strategy.params().clone();
    let mut limits = strategy.exit_limits();
    let percent = |v: f64| {
        Decimal::from_str(&format!("{v}"))
            .ok()
            .map(|d| d / Decimal::ONE_HUNDRED)
    };
    for (name, value) in names.iter().zip(point) {
        match name.as_str() {
            "stop_loss" => limits.stop_loss = percent(*value),
            "take_profit" => limits.take_profit = percent(*value),
            "trailing_stop" => limits.trailing_stop = percent(*value),
            "max_holding_days" => limits.max_holding_days = Some(*value as u32),
            _ => {
                params.insert(name.clone(), *value);
            }
        }
    }
    strategy.clone().with_params(params).with_limits(limits)
}

/// The names a sweep may set besides rule parameters.
const LIMIT_PARAMS: [&str; 4] = [
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_holding_days",
];

/// A sweep's parsed grid and ranking, checked against the strategies.
pub struct SweepPlan {
    /// The valid combinations.
    pub grid: Grid,
    /// The statistic to rank by.
    pub rank_by: String,
}

/// Parses and checks the sweep part of `request` (`None` when nothing is swept).
///
/// # Errors
/// Bad ranges, constraints, rank statistic, or parameters no strategy uses.
pub fn sweep_plan(
    request: &BacktestRequest,
    prepared: &Prepared,
) -> Result<Option<SweepPlan>, BacktestFailure> {
    if request.sweep.is_empty() {
        if !request.constraints.is_empty() {
            return Err(invalid("constraints", "constraints need swept parameters"));
        }
        return Ok(None);
    }
    let ranges = request
        .sweep
        .iter()
        .map(|s| s.parse::<ParamRange>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("sweep", m))?;
    for range in &ranges {
        let used = prepared.strategies.iter().any(|p| {
            p.strategy
                .entry_rule()
                .parameters_used()
                .contains(&range.name)
                || p.strategy
                    .exit_rule()
                    .is_some_and(|r| r.parameters_used().contains(&range.name))
        });
        if !used && !LIMIT_PARAMS.contains(&range.name.as_str()) {
            return Err(invalid(
                "sweep",
                format!(
                    "no rule uses `${}`; sweep a rule parameter or one of {}",
                    range.name,
                    LIMIT_PARAMS.join(", ")
                ),
            ));
        }
    }
    let constraints = request
        .constraints
        .iter()
        .map(|s| s.parse::<Constraint>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("constraints", m))?;
    let grid = Grid::new(&ranges, &constraints).map_err(|m| invalid("sweep", m))?;
    // Values a rule cannot take (a period of 0, 2.5 days) are refused before anything runs.
    for point in &grid.points {
        for p in &prepared.strategies {
            let swept = apply_point(&p.strategy, &grid.names, point);
            for rule in std::iter::once(swept.entry_rule()).chain(swept.exit_rule()) {
                if let Err(errors) = rule.check_params(swept.params()) {
                    let message = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>();
                    return Err(invalid(
                        "sweep",
                        format!(
                            "at {}: {}",
                            describe_point(&grid.names, point),
                            message.join("; ")
                        ),
                    ));
                }
            }
        }
    }
    let rank_by = request
        .rank_by
        .clone()
        .unwrap_or_else(|| "return_pct".to_owned());
    if !Statistics::KEYS.contains(&rank_by.as_str()) {
        return Err(invalid(
            "rank_by",
            format!(
                "`{rank_by}` is not a statistic; one of {}",
                Statistics::KEYS.join(", ")
            ),
        ));
    }
    Ok(Some(SweepPlan { grid, rank_by }))
}

/// `fast=10, slow=20`.
pub fn describe_point(names: &[String], point: &[f64]) -> String {
    names
        .iter()
        .zip(point)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One combination's outcome in a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepRow {
    /// The parameter values, in the grid's order.
    pub values: Vec<f64>,
    /// The statistics (`None` when the period had no candle).
    #[schema(value_type = Object)]
    pub stats: Option<Statistics>,
    /// Exact final equity.
    #[schema(value_type = Option<String>)]
    pub final_equity: Option<Money>,
}

impl Prepared {
    /// Runs one sweep combination with `cache` (the sweep's per-thread cache).
    pub fn run_point(
        &self,
        names: &[String],
        point: &[f64],
        settings: &BacktestSettings,
        cache: &mut barter_core::rule::IndicatorCache,
    ) -> Option<BacktestResult> {
        let swept: Vec<RuleStrategy> = self
            .strategies
            .iter()
            .map(|p| apply_point(&p.strategy, names, point))
            .collect();
        let strategies: Vec<BacktestStrategy<'_>> = swept
            .iter()
            .zip(&self.strategies)
            .map(|(s, p)| BacktestStrategy {
                strategy: s,
                sizing: p.sizing,
                max_open_positions: p.max_open_positions,
            })
            .collect();
        simulator::backtest_with(&self.data, &self.instruments, &strategies, settings, cache).ok()
    }

    /// Runs every combination of `grid` in parallel, handing each row to `on_row` as it
    /// finishes (equity curves are dropped at once, so memory does not grow with the grid).
    pub fn sweep(
        &self,
        grid: &Grid,
        settings: &BacktestSettings,
        on_row: impl Fn(SweepRow) + Sync,
    ) {
        simulator::run_grid(
            grid,
            |point, cache| {
                let result = self.run_point(&grid.names, point, settings, cache);
                SweepRow {
                    values: point.to_vec(),
                    final_equity: result.as_ref().map(|r| r.final_equity),
                    stats: result.map(|r| r.stats),
                }
            },
            |_, row| on_row(row),
        );
    }
}

/// Keeps the best `n` rows by a statistic (ties: first come stays first).
pub struct TopRows {
    rank_by: String,
    n: usize,
    rows: Vec<SweepRow>,
}

impl TopRows {
    /// An empty ranking of `n` rows by `rank_by`.
    pub fn new(rank_by: &str, n: usize) -> Self {
        Self {
            rank_by: rank_by.to_owned(),
            n,
            rows: Vec::new(),
        }
    }

    fn score(&self, row: &SweepRow) -> f64 {
        let value = row.stats.as_ref().and_then(|s| s.value(&self.rank_by));
        match value {
            Some(v) if Statistics::higher_is_better(&self.rank_by) => v,
            Some(v) => -v,
            None => f64::NEG_INFINITY,
        }
    }

    /// Offers a row.
    pub fn offer(&mut self, row: SweepRow) {
        let score = self.score(&row);
        let at = self
            .rows
            .iter()
            .position(|r| {
                self.score(r) < score || (self.score(r) == score && r.values > row.values)
            })
            .unwrap_or(self.rows.len());
        if at < self.n {
            self.rows.insert(at, row);
            self.rows.truncate(self.n);
        }
    }

    /// The rows, best first.
    pub fn into_rows(self) -> Vec<SweepRow> {
        self.rows
    }
}

/// Walk-forward windows: `train=730d,test=180d[,step=180d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkForwardSpec {
    /// Days in each training window.
    pub train: u32,
    /// Days in each test window.
    pub test: u32,
    /// Days between window starts (default: `test`).
    pub step: u32,
}

impl FromStr for WalkForwardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut train = None;
        let mut test = None;
        let mut step = None;
        for part in text.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: write train=730d,test=180d[,step=180d]"))?;
            let days: u32 = value
                .trim()
                .trim_end_matches('d')
                .parse()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| format!("`{value}` is not a positive number of days (e.g. 180d)"))?;
            match key.trim() {
                "train" => train = Some(days),
                "test" => test = Some(days),
                "step" => step = Some(days),
                other => {
                    return Err(format!(
                        "unknown walk-forward key `{other}` (train, test, step)"
                    ));
                }
            }
        }
        let (Some(train), Some(test)) = (train, test) else {
            return Err("walk-forward needs train= and test=".to_owned());
        };
        Ok(Self {
            train,
            test,
            step: step.unwrap_or(test),
        })
    }
}

/// One walk-forward window: the best in-sample combination and how it did out of sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalkForwardWindow {
    /// First training day.
    #[schema(value_type = String, format = Date)]
    pub train_from: Day,
    /// Last training day.
    #[schema(value_type = String, format = Date)]
    pub train_to: Day,
    /// First test day.
    #[schema(value_type = String, format = Date)]
    pub test_from: Day,
    /// Last test day.
    #[schema(value_type = String, format = Date)]
    pub test_to: Day,
    /// The winning parameter values.
    pub best: Vec<f64>,
    /// The winner's in-sample statistics.
    #[schema(value_type = Object)]
    pub in_sample: Statistics,
    /// The winner's statistics on the test window.
    #[schema(value_type = Object)]
    pub out_of_sample: Statistics,
}

/// A whole walk-forward analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalkForward {
    /// The swept parameter names.
    pub names: Vec<String>,
    /// The ranking statistic.
    pub rank_by: String,
    /// The windows in order.
    pub windows: Vec<WalkForwardWindow>,
    /// The test windows chained (each starts with the previous one's final equity, positions
    /// closed at each window's end).
    #[schema(value_type = Object)]
    pub out_of_sample: BacktestResult,
}

impl Prepared {
    /// Optimises on each training window and evaluates the winner on the following test
    /// window; the test windows are chained into one out-of-sample result.
    ///
    /// # Errors
    /// When the data is too short for one window, or no combination ran.
    pub fn walk_forward(
        &self,
        plan: &SweepPlan,
        spec: WalkForwardSpec,
    ) -> Result<WalkForward, BacktestFailure> {
        let all = self.data.view(self.settings.to.unwrap_or(Day::MAX));
        let mut first = Day::MAX;
        let mut last = Day::MIN;
        for i in &self.instruments {
            let days = all.days(&i.symbol);
            let from = self.settings.from.unwrap_or(Day::MIN);
            if let Some(d) = days.iter().find(|d| **d >= from) {
                first = first.min(*d);
            }
            if let Some(d) = days.last() {
                last = last.max(*d);
            }
        }
        let days = |n: u32| chrono::Days::new(u64::from(n));
        let mut windows = Vec::new();
        let mut chained: Option<BacktestResult> = None;
        let mut start = first;
        while start + days(spec.train) + days(spec.test) - days(1) <= last {
            let train_to = start + days(spec.train) - days(1);
            let test_from = train_to + days(1);
            let test_to = test_from + days(spec.test) - days(1);
            let mut train = self.settings.clone();
            train.from = Some(start);
            train.to = Some(train_to);
            let best = std::sync::Mutex::new(TopRows::new(&plan.rank_by, 1));
            self.sweep(&plan.grid, &train, |row| {
                if let Ok(mut top) = best.lock() {
                    top.offer(row);
                }
            });
            let winner = best
                .into_inner()
                .map_err(|_| anyhow::anyhow!("a sweep thread panicked"))?
                .into_rows()
                .into_iter()
                .next()
                .and_then(|row| row.stats.map(|s| (row.values, s)));
            let Some((values, in_sample)) = winner else {
                start = start + days(spec.step);
                continue;
            };
            let mut test = self.settings.clone();
            test.from = Some(test_from);
            test.to = Some(test_to);
            test.close_at_end = true;
            if let Some(previous) = &chained {
                test.initial_cash = previous.final_equity;
            }
            let mut cache = barter_core::rule::IndicatorCache::new();
            let Some(result) = self.run_point(&plan.grid.names, &values, &test, &mut cache) else {
                start = start + days(spec.step);
                continue;
            };
            windows.push(WalkForwardWindow {
                train_from: start,
                train_to,
                test_from,
                test_to,
                best: values,
                in_sample,
                out_of_sample: result.stats.clone(),
            });
            chained = Some(match chained {
                None => result,
                Some(previous) => chain(previous, result, &self.settings),
            });
            start = start + days(spec.step);
        }
        let Some(out_of_sample) = chained else {
            return Err(invalid(
                "walk_forward",
                format!(
                    "the data ({first} to {last}) is shorter than one training plus test window ({} + {} days)",
                    spec.train, spec.test
                ),
            ));
        };
        Ok(WalkForward {
            names: plan.grid.names.clone(),
            rank_by: plan.rank_by.clone(),
            windows,
            out_of_sample,
        })
    }
}

/// `later` appended to `earlier` (overlapping days, when steps are shorter than tests, keep
/// the earlier window's), statistics recomputed over the whole.
fn chain(
    mut earlier: BacktestResult,
    later: BacktestResult,
    settings: &BacktestSettings,
) -> BacktestResult {
    let last_day = earlier.equity.last().map(|p| p.day);
    let offset = earlier.equity.len();
    let skip = later
        .equity
        .iter()
        .take_while(|p| Some(p.day) <= last_day)
        .count();
    let mut peak = earlier
        .equity
        .iter()
        .map(|p| p.equity)
        .fold(f64::MIN, f64::max);
    for point in later.equity.iter().skip(skip) {
        peak = peak.max(point.equity);
        let mut p = *point;
        p.drawdown = if peak > 0.0 {
            p.equity / peak - 1.0
        } else {
            0.0
        };
        earlier.equity.push(p);
    }
    for mut trade in later.trades {
        if trade.entry_bar < skip {
            continue;
        }
        trade.entry_bar = trade.entry_bar - skip + offset;
        trade.exit_bar = trade.exit_bar.saturating_sub(skip) + offset;
        earlier.trades.push(trade);
    }
    earlier.unfilled.extend(later.unfilled);
    earlier.open_trades = later.open_trades;
    earlier.final_cash = later.final_cash;
    earlier.final_equity = later.final_equity;
    let benchmark: Vec<f64> = earlier.equity.iter().map(|p| p.equity).collect();
    let annual = settings.annual_periods.unwrap_or(365.0);
    earlier.stats = simulator::stats::compute(&simulator::StatsInput {
        equity: &earlier.equity,
        trades: &earlier.trades,
        benchmark: &benchmark,
        benchmark_start: 0,
        annual_periods: annual,
    });
    earlier
}
