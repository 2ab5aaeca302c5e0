//! Backtests as the CLI and the API run them: a request (strategies from `barter.toml` or inline
//! rules, instruments, period, money and fill settings), the candles it needs (from the database
//! or CSV files), and the run, the parameter sweep or the walk-forward analysis on top of
//! [`barter_core::simulator`]. Sweeps are in [`sweep`], sweeps across instruments in [`across`],
//! walk-forward analysis in [`walk_forward`].

use barter_core::rule::{Params, Rule, RuleKind};
use barter_core::simulator::{
    self, BacktestInstrument, BacktestResult, BacktestSettings, BacktestStrategy,
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
use std::path::PathBuf;

use crate::config::Config;
use barter_report::PriceSeries;

pub mod across;
pub mod sweep;
pub mod walk_forward;

pub use across::{AcrossPlan, AcrossRow, Aggregate, InstrumentRow, RankAcross};
pub use sweep::{SweepPlan, SweepRow, describe_point, sweep_plan};
pub use walk_forward::{WalkForward, WalkForwardSpec, WalkForwardWindow};

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
    #[serde(deserialize_with = "barter_core::whole::deserialize_option")]
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub max_holding_days: Option<u32>,
    /// Values of the inline rules' `$parameters`; a swept one needs none (`sweep` declares it).
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
    /// Swept parameters, e.g. `fast=5..50`, `slow=20..200:5`, `stop_loss=2,5,8`; a swept
    /// `$parameter` of an inline rule is declared by its range (no value in `params` needed).
    pub sweep: Vec<String>,
    /// Constraints between swept parameters, e.g. `fast<slow`.
    pub constraints: Vec<String>,
    /// The statistic sweeps rank by (default `return_pct`).
    pub rank_by: Option<String>,
    /// Walk-forward windows, e.g. `train=730d,test=180d,step=180d`.
    pub walk_forward: Option<String>,
    /// Sweep each instrument on its own (one single-instrument backtest per point and
    /// instrument, each with the whole starting cash) instead of all together in one account,
    /// and rank the points by an aggregate across the instruments (`rank_across`). Needs
    /// `sweep` and at least two instruments.
    pub per_instrument: bool,
    /// With `per_instrument`: rank by the `median` (default) or the `worst` value of `rank_by`
    /// across the instruments.
    pub rank_across: Option<String>,
    /// Who asks: the words its problems use for a field (never read from a request body).
    #[serde(skip)]
    #[schema(ignore)]
    pub caller: Caller,
}

/// The fields of the inline strategy (besides `entry`): a request naming strategies from
/// `barter.toml` may not give them, as they would mean nothing there. The API's description
/// states the same rule from this list.
pub const INLINE_ONLY: [&str; 6] = [
    "exit",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_holding_days",
    "params",
];

impl BacktestRequest {
    /// Whether the request gives the inline-only field `field` (one of [`INLINE_ONLY`]).
    pub fn gives(&self, field: &str) -> bool {
        match field {
            "exit" => self.exit.is_some(),
            "stop_loss" => self.stop_loss.is_some(),
            "take_profit" => self.take_profit.is_some(),
            "trailing_stop" => self.trailing_stop.is_some(),
            "max_holding_days" => self.max_holding_days.is_some(),
            "params" => !self.params.is_empty(),
            _ => false,
        }
    }
}

/// Who asks for a backtest: a problem names a field as the caller writes it, `--entry` on the
/// command line and `entry` in the API, never the other's words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Caller {
    /// The HTTP API (and the dashboard, which calls it): JSON field names.
    #[default]
    Api,
    /// The command line: its flags.
    Cli,
}

impl Caller {
    /// The field as this caller writes it: `api` in backticks, or the flag `cli`.
    pub fn says(self, api: &str, cli: &str) -> String {
        match self {
            Self::Api => format!("`{api}`"),
            Self::Cli => cli.to_owned(),
        }
    }
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
    /// A rule error's message alone, without the rendered source (not in the API).
    #[serde(skip)]
    pub rule_message: Option<String>,
    /// A rule error's hint, e.g. "did you mean `sma`?" (not in the API).
    #[serde(skip)]
    pub rule_help: Option<String>,
    /// For an inline rule's `$parameter` that is neither given nor swept: its name, so the
    /// caller can say how to declare it in its own terms (see
    /// [`BacktestFailure::with_parameter_help`]; not in the API).
    #[serde(skip)]
    pub unknown_parameter: Option<String>,
    /// Whether the request names something that does not exist here (a strategy missing from
    /// `barter.toml`, an instrument without candles) rather than being malformed: the API
    /// answers 404 when every problem is one (not in the API's body).
    #[serde(skip)]
    #[schema(ignore)]
    pub missing: bool,
}

impl RequestProblem {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
            line: None,
            column: None,
            span: None,
            rule_message: None,
            rule_help: None,
            unknown_parameter: None,
            missing: false,
        }
    }
}

/// The request names something that does not exist here (see [`RequestProblem::missing`]).
fn missing(field: &str, message: impl Into<String>) -> BacktestFailure {
    BacktestFailure::Invalid(vec![RequestProblem {
        missing: true,
        ..RequestProblem::new(field, message)
    }])
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

impl BacktestFailure {
    /// The same failure with `help(name)` in the hint of each unknown `$parameter` of
    /// `request`'s inline rules: it says how the caller declares one (`--set NAME=VALUE` on the
    /// command line, the `params` field in the API), which the rule checker cannot know. It
    /// replaces the checker's hint when nothing is declared, and follows it (a close name, the
    /// declared ones) otherwise.
    #[must_use]
    pub fn with_parameter_help(
        self,
        request: &BacktestRequest,
        help: impl Fn(&str) -> String,
    ) -> Self {
        let Self::Invalid(mut problems) = self else {
            return self;
        };
        let declared = !inline_params(request).is_empty();
        for problem in &mut problems {
            let source = match problem.field.as_str() {
                "entry" => request.entry.as_deref(),
                "exit" => request.exit.as_deref(),
                _ => None,
            };
            let (Some(name), Some(source), Some(message), Some((start, end))) = (
                &problem.unknown_parameter,
                source,
                &problem.rule_message,
                problem.span,
            ) else {
                continue;
            };
            let hint = match &problem.rule_help {
                Some(checker) if declared => format!("{checker} (or {})", help(name)),
                _ => help(name),
            };
            let error = barter_core::rule::RuleError::new(
                barter_core::rule::Span::new(start, end),
                message.clone(),
            )
            .with_help(hint.clone());
            problem.message = error.render(source, &problem.field);
            problem.rule_help = Some(hint);
        }
        Self::Invalid(problems)
    }
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
    /// Set to stop a sweep or walk-forward early: the points not yet run are skipped (their
    /// rows have no statistics), so the result is incomplete and should be thrown away.
    pub cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
            ("fills".to_owned(), s.fill_model.to_string()),
        ];
        for p in &self.strategies {
            let st = &p.strategy;
            let mut text = format!("entry `{}`", st.entry_rule().source());
            if let Some(exit) = st.exit_rule() {
                text.push_str(&format!(", exit `{}`", exit.source()));
            }
            let limits = barter_core::strategy::Strategy::exit_limits(st);
            if limits != ExitLimits::default() {
                text.push_str(&format!(", {limits}"));
            }
            for (name, value) in st.params() {
                text.push_str(&format!(", ${name} = {value}"));
            }
            text.push_str(&format!(", size: {}", p.sizing));
            rows.push((
                format!("strategy {}", barter_core::strategy::Strategy::name(st)),
                text,
            ));
        }
        rows
    }
}

/// What a request asks to run.
pub enum Plan {
    /// One backtest.
    Single,
    /// A parameter sweep.
    Sweep(SweepPlan),
    /// A walk-forward analysis over a sweep's grid.
    WalkForward(SweepPlan, WalkForwardSpec),
    /// A sweep of each instrument on its own, ranked across them (`per_instrument`).
    Across(AcrossPlan),
}

/// Reads what `request` asks to run against its `prepared` strategies.
///
/// # Errors
/// A bad sweep (see [`sweep_plan`]), a bad walk-forward spec, a walk-forward with nothing
/// swept, or a bad sweep across instruments (see [`across::across_plan`]).
pub fn plan(request: &BacktestRequest, prepared: &Prepared) -> Result<Plan, BacktestFailure> {
    let sweep = sweep_plan(request, prepared)?;
    if request.per_instrument {
        return across::across_plan(
            sweep,
            prepared.instruments.len(),
            request.walk_forward.is_some(),
            request.rank_across.as_deref(),
            request.caller,
        )
        .map(Plan::Across);
    }
    let says = |api, cli| request.caller.says(api, cli);
    if request.rank_across.is_some() {
        return Err(invalid(
            "rank_across",
            format!(
                "ranks a sweep across instruments: it needs {}",
                says("per_instrument", "--per-instrument")
            ),
        ));
    }
    match (sweep, &request.walk_forward) {
        (None, None) => Ok(Plan::Single),
        (None, Some(_)) => Err(invalid(
            "walk_forward",
            format!(
                "walk-forward optimises swept parameters: give some ({})",
                says("sweep", "--param")
            ),
        )),
        (Some(sweep), None) => Ok(Plan::Sweep(sweep)),
        (Some(sweep), Some(spec)) => {
            let spec = spec
                .parse()
                .map_err(|m: String| invalid("walk_forward", m))?;
            Ok(Plan::WalkForward(sweep, spec))
        }
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
    // What can be tested: each file's instrument with its candles, or the registered ones.
    let available: Vec<(Symbol, Calendar, Option<Vec<Candle>>)> = match source {
        CandleSource::Files(specs) => read_files(specs, request.to)?
            .into_iter()
            .map(|(symbol, calendar, candles)| (symbol, calendar, Some(candles)))
            .collect(),
        CandleSource::Store(store) => store
            .instruments()
            .await
            .map_err(anyhow::Error::from)?
            .into_iter()
            .map(|i| (i.symbol, i.calendar, None))
            .collect(),
    };
    let known: Vec<Symbol> = available.iter().map(|(s, _, _)| s.clone()).collect();
    let strategies = build_strategies(request, config, &known)?;
    let instruments = select_instruments(request, &strategies, &known)?;
    let mut data = MarketData::new();
    let mut chosen = Vec::new();
    for (symbol, calendar, candles) in available {
        if !instruments.contains(&symbol) {
            continue;
        }
        let candles = match (candles, &source) {
            (Some(candles), _) => candles,
            (None, CandleSource::Store(store)) => store
                .candles(&symbol, None, request.to)
                .await
                .map_err(anyhow::Error::from)?,
            (None, CandleSource::Files(_)) => Vec::new(),
        };
        if candles.is_empty() {
            let what = match (source, request.caller) {
                (CandleSource::Store(_), Caller::Cli) => "run `barter sync` first",
                (CandleSource::Store(_), Caller::Api) => "sync it first (`POST /api/sync_data`)",
                (CandleSource::Files(_), _) => "its file has no rows in the period",
            };
            return Err(missing(
                "instruments",
                format!("{symbol} has no candles: {what}"),
            ));
        }
        data.insert(symbol.clone(), candles)
            .map_err(|e| invalid("data", e.to_string()))?;
        chosen.push(BacktestInstrument { symbol, calendar });
    }
    let settings = settings(request, config)?;
    Ok(Prepared {
        data,
        instruments: chosen,
        strategies,
        settings,
        cancel: std::sync::Arc::default(),
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

/// The parameters an inline rule may use: the given values, and every swept rule parameter
/// with the first value of its range (the sweep sets each point's value anyway), so sweeping
/// `$fast` declares it. Sweeps that do not parse are left to [`sweep_plan`] to report.
fn inline_params(request: &BacktestRequest) -> Params {
    let mut params = request.params.clone();
    for range in request
        .sweep
        .iter()
        .filter_map(|s| s.parse::<simulator::ParamRange>().ok())
    {
        if !sweep::LIMIT_PARAMS.contains(&range.name.as_str())
            && let Some(first) = range.values.first()
        {
            params.entry(range.name).or_insert(*first);
        }
    }
    params
}

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
        let params = inline_params(request);
        let mut problems = Vec::new();
        let mut rule =
            |field: &str, source: &str, kind: RuleKind| match Rule::parse(source, kind, &params) {
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
                            rule_message: Some(e.message),
                            rule_help: e.help,
                            unknown_parameter: e.unknown_parameter,
                            missing: false,
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
            params,
            account: None,
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
    // Settings of the inline strategy mean nothing for named ones: refuse them rather than
    // silently run without them.
    let says = |api, cli| request.caller.says(api, cli);
    if let Some(field) = INLINE_ONLY.iter().find(|f| request.gives(f)) {
        return Err(invalid(
            field,
            format!(
                "applies to an inline entry rule ({}); a named strategy uses the settings in \
                 barter.toml (sweep them with {} instead)",
                says("entry", "--entry"),
                says("sweep", "--param")
            ),
        ));
    }
    if request.strategies.is_empty() {
        return Err(invalid(
            "strategies",
            format!(
                "name a strategy from barter.toml ({}) or give an inline entry rule ({})",
                says("strategies", "--strategy NAME"),
                says("entry", "--entry")
            ),
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
                // The name is the caller's text: shown cut, never whole.
                let shown = barter_sources::excerpt::excerpt_max(name, 60);
                missing(
                    "strategies",
                    format!(
                        "no strategy named `{shown}` in barter.toml (it has: {})",
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
        // The CSV source's own reader: regular files only, no system files, bounded size and
        // line length.
        let text = barter_sources::csv_file::read_csv_file(&path, &symbol)
            .map_err(|e| invalid("data", e.to_string()))?;
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
