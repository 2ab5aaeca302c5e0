//! The trading jobs: `sync_new_trades` (entries) and `sync_close_positions` (exits).
//!
//! Both walk the registered instruments one at a time (memory stays bounded by one instrument's
//! history plus the instruments rules refer to), decide on each instrument's latest *complete*
//! candle through a point-in-time [`MarketView`](barter_core::MarketView), and hand every
//! decision to the store, which records it exactly once per (strategy, instrument, day, kind):
//! running a job again for the same day changes nothing and reports `already_decided`. A
//! position, its fill, the cash movement and the history rows are one transaction.
//!
//! An instrument whose latest complete candle is older than the expected day (the last trading
//! day before today, per its calendar) is skipped with the reason recorded: no trading on stale
//! data.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use barter_core::execution::{Broker, PaperBroker};
use barter_core::rule::IndicatorCache;
use barter_core::strategy::{self, Decision, Outcome, SizeSpec, Strategy};
use barter_core::{
    Calendar, Candle, Day, DecisionItem, Instrument, MarketData, Money, Position, Price, Run,
    RunId, RunKind, RunReport, RunStatus, Symbol,
};
use barter_store::Store;
use barter_store::trading::{
    CloseOutcome, DecisionKind, DecisionOutcome, NewDecision, OpenOutcome, PositionStatus,
};
use chrono::{DateTime, Days, SubsecRound, Utc};
use serde_json::json;

use crate::config::Config;

/// One configured strategy with its sizing and limits.
pub struct TradingStrategy {
    /// The decision logic.
    pub strategy: Box<dyn Strategy>,
    /// How much each entry buys.
    pub size: SizeSpec,
    /// At most this many open positions for the strategy.
    pub max_open_positions: Option<u32>,
    /// Disabled strategies decide nothing.
    pub enabled: bool,
}

/// Everything the trading jobs need besides the store.
pub struct Trading {
    /// The strategies, in config order.
    pub strategies: Vec<TradingStrategy>,
    /// Executes the orders (the paper broker by default).
    pub broker: Box<dyn Broker>,
    /// The paper account's starting cash.
    pub initial_cash: Money,
}

impl Trading {
    /// Builds the strategies of `config` against the registered `known` instruments.
    ///
    /// # Errors
    /// Every problem of every strategy, one per line, or a bad broker setting.
    pub fn from_config(config: &Config, known: &[Symbol]) -> anyhow::Result<Self> {
        let built = strategy::build_all(&config.strategies, known).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "{} problem(s) in the strategies:\n{}",
                lines.len(),
                lines.join("\n")
            )
        })?;
        let strategies = built
            .into_iter()
            .zip(&config.strategies)
            .map(|(strategy, cfg)| {
                Ok(TradingStrategy {
                    size: cfg.size_spec().map_err(anyhow::Error::msg)?,
                    max_open_positions: cfg.max_open_positions,
                    enabled: cfg.enabled,
                    strategy: Box::new(strategy),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            strategies,
            broker: Box::new(PaperBroker {
                model: config.broker.fill_model()?,
            }),
            initial_cash: Money(config.account.initial_cash),
        })
    }

    /// Builds the strategies of `config` against the instruments registered in `store`.
    ///
    /// # Errors
    /// As [`Trading::from_config`], or a database failure.
    pub async fn for_store(config: &Config, store: &Store) -> anyhow::Result<Self> {
        Self::from_config(config, &known_symbols(store).await?)
    }

    /// Adds a strategy written in Rust next to the configured ones (see
    /// [`barter_core::strategy::example::Momentum`]).
    ///
    /// # Errors
    /// When another strategy already has its name (decisions are keyed by strategy name).
    pub fn register(
        &mut self,
        strategy: Box<dyn Strategy>,
        size: SizeSpec,
        max_open_positions: Option<u32>,
    ) -> anyhow::Result<()> {
        if self.find(strategy.name()).is_some() {
            anyhow::bail!(
                "a strategy named `{}` is already registered",
                strategy.name()
            );
        }
        self.strategies.push(TradingStrategy {
            strategy,
            size,
            max_open_positions,
            enabled: true,
        });
        Ok(())
    }

    /// Loads, once per job, the instruments the strategies' rules refer to (`BTC.close`), and
    /// returns them so the per-instrument cache keeps them. A failure is logged: the rules that
    /// need the instrument then report "not ready".
    async fn load_references(&self, store: &Store, market: &mut MarketCache) -> Vec<Symbol> {
        let mut referenced: Vec<Symbol> = self
            .strategies
            .iter()
            .flat_map(|s| s.strategy.references())
            .collect();
        referenced.sort();
        referenced.dedup();
        for symbol in &referenced {
            if let Err(error) = market.load(store, symbol).await {
                tracing::warn!("cannot load {symbol}, which a rule refers to: {error:#}");
            }
        }
        referenced
    }

    fn find(&self, name: &str) -> Option<&TradingStrategy> {
        self.strategies.iter().find(|s| s.strategy.name() == name)
    }
}

/// The symbols of the registered instruments: what rules may name.
///
/// # Errors
/// A database failure.
pub async fn known_symbols(store: &Store) -> anyhow::Result<Vec<Symbol>> {
    Ok(store
        .instruments()
        .await?
        .into_iter()
        .map(|i| i.symbol)
        .collect())
}

/// The last trading day before `today` on `calendar`: the newest complete candle expected.
pub fn expected_day(calendar: Calendar, today: Day) -> Day {
    let mut day = today - Days::new(1);
    while !calendar.trades_on(day) {
        day = day - Days::new(1);
    }
    day
}

/// Candles and indicator series the trading jobs have loaded.
///
/// A job on its own ([`MarketCache::per_job`]) keeps only the instrument it is deciding on plus
/// the instruments rules refer to, so memory stays bounded by a few histories. A replay
/// ([`MarketCache::across_days`]) keeps everything from one day to the next — every decision still
/// goes through a view capped at its own day — and drops an instrument whenever a sync changed
/// its candles.
pub struct MarketCache {
    data: MarketData,
    indicators: IndicatorCache,
    keep_all: bool,
}

impl MarketCache {
    /// A cache for one job run.
    pub fn per_job() -> Self {
        Self {
            data: MarketData::new(),
            indicators: IndicatorCache::new(),
            keep_all: false,
        }
    }

    /// A cache kept across the days of a replay.
    pub fn across_days() -> Self {
        Self {
            keep_all: true,
            ..Self::per_job()
        }
    }

    /// Forgets `symbols` (their candles changed) and every indicator series.
    pub fn invalidate<'a>(&mut self, symbols: impl IntoIterator<Item = &'a Symbol>) {
        let mut any = false;
        for symbol in symbols {
            any = true;
            self.data.retain(|s| s != symbol);
        }
        if any {
            self.indicators.clear();
        }
    }

    async fn load(&mut self, store: &Store, symbol: &Symbol) -> anyhow::Result<()> {
        if self.data.contains(symbol) {
            return Ok(());
        }
        let candles = store.candles(symbol, None, None).await?;
        self.data.insert(symbol.clone(), candles)?;
        Ok(())
    }

    /// Before moving to the next instrument: a per-job cache drops everything but `keep`.
    fn next_instrument(&mut self, keep: &[Symbol]) {
        if !self.keep_all {
            self.data.retain(|s| keep.contains(s));
            self.indicators.clear();
        }
    }
}

/// The skipped decision recorded when an instrument's data is stale; `extra` is merged into the
/// detail.
fn stale(
    strategy: &str,
    symbol: &Symbol,
    day: Day,
    expected: Day,
    kind: DecisionKind,
    mut extra: serde_json::Value,
) -> NewDecision {
    extra["explanation"] = json!(format!(
        "stale data: the latest complete candle of {symbol} is {day}, expected {expected}; run `barter sync`"
    ));
    NewDecision {
        strategy: strategy.to_owned(),
        symbol: symbol.clone(),
        day,
        kind,
        outcome: DecisionOutcome::Skipped,
        detail: extra,
    }
}

fn outcome_name(outcome: Outcome) -> (&'static str, DecisionOutcome) {
    match outcome {
        Outcome::Passed => ("passed", DecisionOutcome::Passed),
        Outcome::Failed => ("failed", DecisionOutcome::Failed),
        Outcome::NotReady => ("not_ready", DecisionOutcome::NotReady),
    }
}

fn detail(decision: &Decision) -> serde_json::Value {
    let values: BTreeMap<&str, f64> = decision
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    json!({ "explanation": decision.explanation, "values": values })
}

/// How many non-trading decisions are stored per transaction.
const FLUSH_EVERY: usize = 256;

struct JobState {
    run: RunId,
    now: DateTime<Utc>,
    items: Vec<DecisionItem>,
    /// Decisions that trade nothing, stored in batches (see [`JobState::flush`]).
    pending: Vec<(NewDecision, &'static str)>,
    wall: crate::sync::WallClock,
}

impl JobState {
    async fn start(store: &Store, kind: RunKind, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let wall = crate::sync::WallClock::start();
        let run = store.start_run(kind, now).await?;
        Ok(Self {
            run,
            now,
            items: Vec::new(),
            pending: Vec::new(),
            wall,
        })
    }

    fn push(
        &mut self,
        strategy: &str,
        symbol: &Symbol,
        day: Option<Day>,
        outcome: &str,
        position: Option<i64>,
        explanation: String,
    ) {
        self.items.push(DecisionItem {
            strategy: strategy.to_owned(),
            symbol: symbol.clone(),
            day,
            outcome: outcome.to_owned(),
            position,
            explanation,
        });
    }

    /// Queues a decision that trades nothing; [`JobState::flush`] stores the queue in one
    /// transaction (and reports `already_decided` for those recorded by an earlier run).
    async fn record(
        &mut self,
        store: &Store,
        decision: NewDecision,
        label: &'static str,
    ) -> anyhow::Result<()> {
        self.pending.push((decision, label));
        if self.pending.len() >= FLUSH_EVERY {
            self.flush(store).await?;
        }
        Ok(())
    }

    /// Stores the queued decisions in one transaction and reports them.
    async fn flush(&mut self, store: &Store) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let decisions: Vec<NewDecision> = pending.iter().map(|(d, _)| d.clone()).collect();
        let stored = store
            .record_decisions(Some(self.run), &decisions, self.now)
            .await?;
        for ((decision, label), fresh) in pending.into_iter().zip(stored) {
            let explanation = decision.detail["explanation"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let outcome = if fresh { label } else { "already_decided" };
            self.push(
                &decision.strategy,
                &decision.symbol,
                Some(decision.day),
                outcome,
                None,
                explanation,
            );
        }
        Ok(())
    }

    async fn finish(
        mut self,
        store: &Store,
        kind: RunKind,
        started: DateTime<Utc>,
    ) -> anyhow::Result<Run> {
        self.flush(store).await?;
        // Decisions that traded are reported as they happen, the others when flushed: report
        // in instrument order.
        self.items.sort_by(|a, b| {
            a.symbol
                .cmp(&b.symbol)
                .then_with(|| a.strategy.cmp(&b.strategy))
        });
        let failed = self.items.iter().filter(|i| i.outcome == "error").count();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for item in &self.items {
            *counts.entry(item.outcome.clone()).or_default() += 1;
        }
        let errors = self
            .items
            .iter()
            .filter(|i| i.outcome == "error")
            .map(|i| format!("{} {}: {}", i.strategy, i.symbol, i.explanation))
            .collect();
        let report = match kind {
            RunKind::SyncClosePositions => RunReport::SyncClosePositions(self.items),
            _ => RunReport::SyncNewTrades(self.items),
        };
        let total = match &report {
            RunReport::SyncNewTrades(i) | RunReport::SyncClosePositions(i) => i.len(),
            RunReport::SyncData(i) => i.len(),
        };
        let run = Run {
            id: self.run,
            kind,
            started_at: started.trunc_subsecs(6),
            finished_at: Some((started + self.wall.elapsed_delta()).trunc_subsecs(6)),
            status: RunStatus::from_outcomes(total, failed),
            counts,
            errors,
            report: Some(report),
        };
        store.finish_run(&run).await?;
        Ok(run)
    }
}

/// The latest complete close of each instrument held by an open position in `positions`.
///
/// # Errors
/// A database failure.
pub async fn marks(
    store: &Store,
    positions: &[Position],
) -> anyhow::Result<HashMap<Symbol, Price>> {
    let mut marks = HashMap::new();
    for p in positions.iter().filter(|p| p.is_open()) {
        if marks.contains_key(&p.symbol) {
            continue;
        }
        let Some(day) = store.last_complete_day(&p.symbol).await? else {
            continue;
        };
        if let Some(c) = store
            .candles(&p.symbol, Some(day), Some(day))
            .await?
            .first()
        {
            marks.insert(p.symbol.clone(), c.close());
        }
    }
    Ok(marks)
}

/// Cash plus open positions marked at their latest complete close (the entry price when an
/// instrument has no candle).
async fn equity(store: &Store, cash: Money, open: &[Position]) -> anyhow::Result<Money> {
    let marks = marks(store, open).await?;
    let holdings: rust_decimal::Decimal = open
        .iter()
        .map(|p| {
            p.market_value(marks.get(&p.symbol).copied().unwrap_or(p.entry_price))
                .0
        })
        .sum();
    Ok(Money(cash.0 + holdings))
}

/// The entry job: for every active instrument × enabled strategy, decide on the latest complete
/// candle and open a position through the paper broker when the entry passes.
///
/// # Errors
/// Only when the job cannot run or record itself (database failure); per-decision problems are
/// items of the returned run.
pub async fn sync_new_trades(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
) -> anyhow::Result<Run> {
    sync_new_trades_with(store, trading, now, &mut MarketCache::per_job()).await
}

/// [`sync_new_trades`] with a caller-owned [`MarketCache`] (a replay keeps one across days).
///
/// # Errors
/// As [`sync_new_trades`].
pub async fn sync_new_trades_with(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
    market: &mut MarketCache,
) -> anyhow::Result<Run> {
    let mut state = JobState::start(store, RunKind::SyncNewTrades, now).await?;
    let run = state.run;
    let account = store.ensure_account(trading.initial_cash).await?;
    let mut cash = account.cash;
    let open = store.positions(Some(PositionStatus::Open)).await?;
    let equity = equity(store, cash, &open).await?;
    let mut open_count: HashMap<String, u32> = HashMap::new();
    for position in &open {
        *open_count.entry(position.strategy.clone()).or_default() += 1;
    }
    let referenced = trading.load_references(store, market).await;
    let instruments: Vec<Instrument> = store
        .instruments()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .collect();
    for instrument in &instruments {
        let symbol = &instrument.symbol;
        let strategies: Vec<&TradingStrategy> = trading
            .strategies
            .iter()
            .filter(|s| s.enabled && s.strategy.trades(symbol))
            .collect();
        if strategies.is_empty() {
            continue;
        }
        market.next_instrument(&referenced);
        if let Err(error) = market.load(store, symbol).await {
            for s in &strategies {
                state.push(
                    s.strategy.name(),
                    symbol,
                    None,
                    "error",
                    None,
                    format!("{error:#}"),
                );
            }
            continue;
        }
        // Decide on the newest complete candle not after the expected day: a candle dated today or
        // later (a replay over stored history) is never a decision day.
        let expected = expected_day(instrument.calendar, now.date_naive());
        let latest = market.data.view(expected).latest(symbol).map(Candle::day);
        for s in &strategies {
            let name = s.strategy.name();
            let Some(day) = latest else {
                state.push(
                    name,
                    symbol,
                    None,
                    "not_ready",
                    None,
                    format!("no complete candle of {symbol} yet; run `barter sync`"),
                );
                continue;
            };
            if day < expected {
                let decision = stale(name, symbol, day, expected, DecisionKind::Entry, json!({}));
                state.record(store, decision, "skipped").await?;
                continue;
            }
            let view = market.data.view(day);
            let decision = s.strategy.entry(&view, symbol, &mut market.indicators);
            let (label, outcome) = outcome_name(decision.outcome);
            let mut record = NewDecision {
                strategy: name.to_owned(),
                symbol: symbol.clone(),
                day,
                kind: DecisionKind::Entry,
                outcome,
                detail: detail(&decision),
            };
            if !decision.passed() {
                state.record(store, record, label).await?;
                continue;
            }
            if let Some(max) = s
                .max_open_positions
                .filter(|max| open_count.get(name).copied().unwrap_or(0) >= *max)
            {
                record.outcome = DecisionOutcome::Skipped;
                record.detail["explanation"] = json!(format!(
                    "entry passed but {name} already has its maximum of {max} open position(s)"
                ));
                state.record(store, record, "skipped").await?;
                continue;
            }
            let decided_on = view
                .latest(symbol)
                .context("the decision candle is visible")?;
            let next = market.data.next_candle(symbol, day);
            match trading
                .broker
                .buy(s.size.sizing(), cash, equity, decided_on, next)
            {
                Err(refusal) => {
                    record.outcome = DecisionOutcome::Refused;
                    record.detail["refusal"] = json!(refusal.to_string());
                    record.detail["explanation"] =
                        json!(format!("entry passed; order refused: {refusal}"));
                    state.record(store, record, "refused").await?;
                }
                Ok(fill) => match store.open_position(Some(run), &record, &fill, now).await? {
                    OpenOutcome::Opened(id) => {
                        cash = Money(cash.0 + fill.cash_delta().0);
                        *open_count.entry(name.to_owned()).or_default() += 1;
                        let why = format!(
                            "bought {} {symbol} at {} on {} ({:?}), fee {}",
                            fill.quantity, fill.price, fill.day, fill.basis, fill.fee
                        );
                        state.push(name, symbol, Some(day), "opened", Some(id.0), why);
                    }
                    OpenOutcome::AlreadyDecided => state.push(
                        name,
                        symbol,
                        Some(day),
                        "already_decided",
                        None,
                        "this entry was decided by an earlier run".into(),
                    ),
                    OpenOutcome::AlreadyOpen => state.push(
                        name,
                        symbol,
                        Some(day),
                        "skipped",
                        None,
                        format!("{name} already holds {symbol}"),
                    ),
                    OpenOutcome::Refused { needed, available } => state.push(
                        name,
                        symbol,
                        Some(day),
                        "refused",
                        None,
                        format!("insufficient cash: needs {needed}, {available} available"),
                    ),
                },
            }
        }
    }
    state.finish(store, RunKind::SyncNewTrades, now).await
}

/// The close job: for every open position, decide its exit (risk exits first, then the exit
/// signal) on the latest complete candle and close it through the paper broker when one holds.
///
/// # Errors
/// Only when the job cannot run or record itself.
pub async fn sync_close_positions(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
) -> anyhow::Result<Run> {
    sync_close_positions_with(store, trading, now, &mut MarketCache::per_job()).await
}

/// [`sync_close_positions`] with a caller-owned [`MarketCache`].
///
/// # Errors
/// As [`sync_close_positions`].
pub async fn sync_close_positions_with(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
    market: &mut MarketCache,
) -> anyhow::Result<Run> {
    let mut state = JobState::start(store, RunKind::SyncClosePositions, now).await?;
    let run = state.run;
    store.ensure_account(trading.initial_cash).await?;
    let mut open = store.positions(Some(PositionStatus::Open)).await?;
    open.sort_by(|a, b| a.symbol.cmp(&b.symbol).then(a.id.cmp(&b.id)));
    let calendars: HashMap<Symbol, Calendar> = store
        .instruments()
        .await?
        .into_iter()
        .map(|i| (i.symbol, i.calendar))
        .collect();
    let referenced = trading.load_references(store, market).await;
    let mut loaded: Option<Symbol> = None;
    for position in &open {
        let symbol = &position.symbol;
        let name = position.strategy.as_str();
        let Some(s) = trading.find(name) else {
            state.push(
                name,
                symbol,
                None,
                "skipped",
                Some(position.id.0),
                format!(
                    "strategy {name} is no longer configured; position {} stays open",
                    position.id
                ),
            );
            continue;
        };
        if loaded.as_ref() != Some(symbol) {
            market.next_instrument(&referenced);
            if let Err(error) = market.load(store, symbol).await {
                state.push(
                    name,
                    symbol,
                    None,
                    "error",
                    Some(position.id.0),
                    format!("{error:#}"),
                );
                continue;
            }
            loaded = Some(symbol.clone());
        }
        let calendar = calendars.get(symbol).copied().unwrap_or_default();
        let expected = expected_day(calendar, now.date_naive());
        let Some(day) = market.data.view(expected).latest(symbol).map(Candle::day) else {
            state.push(
                name,
                symbol,
                None,
                "not_ready",
                Some(position.id.0),
                format!("no complete candle of {symbol}"),
            );
            continue;
        };
        if day < expected {
            let extra = json!({ "position": position.id.0 });
            let decision = stale(name, symbol, day, expected, DecisionKind::Exit, extra);
            state.record(store, decision, "skipped").await?;
            continue;
        }
        let view = market.data.view(day);
        let (decision, reason) =
            strategy::decide_exit(s.strategy.as_ref(), &view, position, &mut market.indicators);
        let (label, outcome) = outcome_name(decision.outcome);
        let mut record = NewDecision {
            strategy: name.to_owned(),
            symbol: symbol.clone(),
            day,
            kind: DecisionKind::Exit,
            outcome,
            detail: detail(&decision),
        };
        record.detail["position"] = json!(position.id.0);
        let Some(reason) = reason else {
            state.record(store, record, label).await?;
            continue;
        };
        record.detail["reason"] = json!(reason);
        let decided_on = view
            .latest(symbol)
            .context("the decision candle is visible")?;
        let fill = trading.broker.sell(
            position.quantity,
            decided_on,
            market.data.next_candle(symbol, day),
        );
        match store
            .close_position(Some(run), &record, position.id, &fill, reason, now)
            .await?
        {
            CloseOutcome::Closed { realized_pnl } => {
                let why = format!(
                    "{reason:?}: {}; sold at {} on {}, realized P&L {realized_pnl}",
                    decision.explanation, fill.price, fill.day
                );
                state.push(name, symbol, Some(day), "closed", Some(position.id.0), why);
            }
            CloseOutcome::AlreadyDecided => state.push(
                name,
                symbol,
                Some(day),
                "already_decided",
                Some(position.id.0),
                "this exit was decided by an earlier run".into(),
            ),
            CloseOutcome::NotOpen => state.push(
                name,
                symbol,
                Some(day),
                "skipped",
                Some(position.id.0),
                "the position was closed meanwhile".into(),
            ),
        }
    }
    state.finish(store, RunKind::SyncClosePositions, now).await
}
