//! The trading jobs: `sync_new_trades` (entries) and `sync_close_positions` (exits).
//!
//! Both walk the registered instruments in order and decide on each instrument's latest
//! *complete* candle through a point-in-time [`MarketView`](barter_core::MarketView). Every
//! decision goes to the store, which records it exactly once per (strategy, instrument, day,
//! kind): running a job again for the same day changes nothing and reports `already_decided`. A
//! position, its fill, the cash movement and the history rows are one transaction.
//!
//! A job reads of each instrument only what its strategies use ([`MarketCache`], read a few
//! instruments ahead by a background task), and hands its writes to a background writer
//! (`journal`), so reading, deciding and writing overlap.
//!
//! An instrument whose latest complete candle is older than the expected day (the last trading
//! day before today, per its calendar) is skipped with the reason recorded: no trading on stale
//! data.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use barter_core::engine::{self, EntryAction, EntryBook};
use barter_core::execution::{Broker, PaperBroker};
use barter_core::order::{AccountLimits, PAPER};
use barter_core::strategy::{self, DataNeeds, Decision, Outcome, SizeSpec, Strategy};
use barter_core::{
    Calendar, Day, Fill, Instrument, Money, Position, PositionId, Price, Run, RunKind, Symbol,
};
use barter_execution::PaperVenue;
use barter_store::Store;
use barter_store::trading::{DecisionKind, DecisionOutcome, NewDecision, PositionStatus};
use chrono::{DateTime, Days, Utc};
use serde_json::json;

use crate::config::Config;
use crate::control::{JobSignals, Unobserved};

pub mod drift;
mod journal;
mod market_cache;
mod venue_trades;

use journal::Journal;
pub use market_cache::MarketCache;
use market_cache::needs_of;
use venue_trades::Session;
pub use venue_trades::{TradingAccount, fill_of};

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
    /// The venue account its orders go to (`[accounts.NAME]`); paper when `None`.
    pub account: Option<String>,
}

/// Everything the trading jobs need besides the store.
pub struct Trading {
    /// The strategies, in config order.
    pub strategies: Vec<TradingStrategy>,
    /// Sizes every entry and prices the shadow fills (the paper fill model).
    pub broker: Box<dyn Broker>,
    /// Executes the paper account's orders behind the same `Venue` port as the real venues,
    /// with the same fill model as `broker`.
    pub paper: PaperVenue,
    /// The paper account's starting cash.
    pub initial_cash: Money,
    /// The account's limits on new entries (`[account]`).
    pub limits: AccountLimits,
    /// The venue accounts the strategies trade through, by name; an account that cannot be
    /// built (a missing key) holds why, and its strategies' entries and exits report it.
    pub accounts: BTreeMap<String, Result<TradingAccount, String>>,
    /// Send nothing: show, for each venue order, what would have been sent (Binance checks it
    /// with `order/test`), and record no decision of a venue account.
    pub dry_run: bool,
    /// How far a job's `now` may be from the wall clock for venue accounts to trade (36 hours):
    /// a replay over history is further, and never sends an order.
    pub venue_clock_tolerance: chrono::TimeDelta,
}

/// The configured strategies cannot run as they are (one line per problem, e.g. an instrument
/// that is not registered, or no longer): the configuration or the instruments must change,
/// not the request that ran into it.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in the strategies:\n{}", .0.len(), .0.join("\n"))]
pub struct StrategyProblems(pub Vec<String>);

impl Trading {
    /// Builds the strategies of `config` against the registered `known` instruments.
    ///
    /// # Errors
    /// Every problem of every strategy, one per line, or a bad broker setting.
    pub fn from_config(config: &Config, known: &[Symbol]) -> anyhow::Result<Self> {
        let built = strategy::build_all(&config.strategies, known).map_err(|problems| {
            StrategyProblems(problems.iter().map(ToString::to_string).collect())
        })?;
        let strategies: Vec<TradingStrategy> = built
            .into_iter()
            .zip(&config.strategies)
            .map(|(strategy, cfg)| {
                Ok(TradingStrategy {
                    size: cfg.size_spec().map_err(anyhow::Error::msg)?,
                    max_open_positions: cfg.max_open_positions,
                    enabled: cfg.enabled,
                    strategy: Box::new(strategy),
                    account: cfg.account.clone().filter(|name| name != PAPER),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let used: std::collections::BTreeSet<&String> = strategies
            .iter()
            .filter_map(|s: &TradingStrategy| s.account.as_ref())
            .collect();
        let accounts = config
            .accounts
            .iter()
            .filter(|(name, _)| used.contains(name))
            .map(|(name, settings)| {
                let built = settings
                    .build(name, |var| std::env::var(var).ok())
                    .map(|venue| TradingAccount {
                        name: name.clone(),
                        venue,
                        limits: settings.limits(),
                    })
                    .map_err(|error| error.to_string());
                (name.clone(), built)
            })
            .collect();
        Ok(Self {
            strategies,
            broker: Box::new(PaperBroker {
                model: config.broker.fill_model()?,
            }),
            paper: PaperVenue::new(config.broker.fill_model()?),
            initial_cash: Money(config.account.initial_cash),
            limits: config.account.limits(),
            accounts,
            dry_run: false,
            venue_clock_tolerance: chrono::TimeDelta::hours(36),
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
            account: None,
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
            if let Err(error) = market.load(store, symbol, DataNeeds::ALL, Day::MIN).await {
                tracing::warn!("cannot load {symbol}, which a rule refers to: {error:#}");
            }
        }
        referenced
    }

    fn find(&self, name: &str) -> Option<&TradingStrategy> {
        self.strategies.iter().find(|s| s.strategy.name() == name)
    }

    /// The names of the live (real money) venue accounts the strategies trade through, for
    /// the banner the CLI, the log and the dashboard show.
    pub fn live_accounts(&self) -> Vec<&str> {
        self.accounts
            .values()
            .filter_map(|account| account.as_ref().ok())
            .filter(|account| account.venue.is_live())
            .map(|account| account.name.as_str())
            .collect()
    }

    /// Starts every venue account the strategies trade through for one job (see
    /// [`Session::start`]); an account that could not be built is blocked with its reason.
    async fn sessions<'a>(
        &'a self,
        store: &Store,
        state: &mut Journal,
        now: DateTime<Utc>,
    ) -> HashMap<&'a str, Result<Session<'a>, String>> {
        let mut sessions = HashMap::new();
        // A replay decides on history: an order sent now would trade at today's prices for a
        // decision of another day. Venue accounts only ever trade for the current day.
        let replaying = (Utc::now() - now).abs() > self.venue_clock_tolerance;
        for (name, account) in &self.accounts {
            let session = match account {
                Ok(_) if replaying => Err(format!(
                    "the job runs for {}, not today: a replay over history never sends orders \
                     to venue account {name}",
                    now.date_naive()
                )),
                Ok(account) => {
                    if account.venue.is_live() {
                        tracing::warn!(
                            "LIVE TRADING: account {name} sends real orders to {}",
                            account.venue.name()
                        );
                    }
                    Ok(Session::start(store, account, state, now, self.dry_run).await)
                }
                Err(error) => Err(error.clone()),
            };
            sessions.insert(name.as_str(), session);
        }
        sessions
    }
}

/// The session of venue account `name`, or why it cannot trade in this job.
fn usable<'s, 'a>(
    sessions: &'s mut HashMap<&'a str, Result<Session<'a>, String>>,
    name: &str,
) -> Result<&'s mut Session<'a>, String> {
    match sessions.get_mut(name) {
        Some(Ok(session)) => match session.blocked() {
            Some(why) => Err(why.to_owned()),
            None => Ok(session),
        },
        Some(Err(error)) => Err(error.clone()),
        None => Err(format!("account {name} is not configured")),
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
    // Read by the store to tell the staleness once per instrument and expected day.
    extra["skipped"] = json!({"reason": "stale", "expected": expected});
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

/// One instrument of the entry job: the strategies that trade it, what they read, the day to
/// decide on, and the first day whose exact candles to load.
struct EntryWork<'a> {
    symbol: &'a Symbol,
    strategies: Vec<&'a TradingStrategy>,
    needs: DataNeeds,
    expected: Day,
    exact_from: Day,
}

/// The decisions of one kind earlier runs took for the days a job decides on. A job skips them
/// before deciding: besides saving the work, its running cash then only counts its own opens,
/// as an uninterrupted run's would. (The store still refuses any decision taken meanwhile.)
struct Decided(HashSet<(String, Symbol, Day)>);

impl Decided {
    async fn load(
        store: &Store,
        kind: DecisionKind,
        days: impl Iterator<Item = Day>,
    ) -> anyhow::Result<Self> {
        let (mut first, mut last) = (None::<Day>, None::<Day>);
        for day in days {
            first = Some(first.map_or(day, |d| d.min(day)));
            last = Some(last.map_or(day, |d| d.max(day)));
        }
        Ok(Self(match first.zip(last) {
            Some((first, last)) => store.decided_between(kind, first, last).await?,
            None => HashSet::new(),
        }))
    }

    fn contains(&self, strategy: &str, symbol: &Symbol, day: Day) -> bool {
        !self.0.is_empty() && self.0.contains(&(strategy.to_owned(), symbol.clone(), day))
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
    let held: HashSet<&Symbol> = positions
        .iter()
        .filter(|p| p.is_open())
        .map(|p| &p.symbol)
        .collect();
    let mut closes = store.latest_closes().await?;
    closes.retain(|symbol, _| held.contains(symbol));
    Ok(closes)
}

/// Cash plus open positions marked at their latest complete close on or before `day` (the
/// entry price when an instrument has none): the equity an entry on `day` is sized from, also
/// in a replay over history whose later candles are already stored.
async fn equity(store: &Store, cash: Money, open: &[Position], day: Day) -> anyhow::Result<Money> {
    let marks = store.closes_on_or_before(day).await?;
    Ok(Money(cash.0 + marked_value(open, &marks)))
}

/// The value of `positions` at `marks` (the entry price of an instrument without a mark).
pub(crate) fn marked_value<'p>(
    positions: impl IntoIterator<Item = &'p Position>,
    marks: &HashMap<Symbol, Price>,
) -> rust_decimal::Decimal {
    positions
        .into_iter()
        .map(|p| {
            p.market_value(marks.get(&p.symbol).copied().unwrap_or(p.entry_price))
                .0
        })
        .sum()
}

/// Executes paper decision `record` (an entry buys, an exit sells `quantity`) through the
/// paper venue's port, in the market of `decided_on` and `next`; the fill to book.
async fn execute_paper(
    trading: &Trading,
    record: &NewDecision,
    quantity: barter_core::Quantity,
    decided_on: &barter_core::Candle,
    next: Option<&barter_core::Candle>,
    quote: &str,
) -> anyhow::Result<Fill> {
    let side = match record.kind {
        DecisionKind::Entry => barter_core::Side::Buy,
        DecisionKind::Exit => barter_core::Side::Sell,
    };
    let order = barter_core::order::Order::planned(
        PAPER,
        barter_core::order::DecisionRef {
            strategy: record.strategy.clone(),
            symbol: record.symbol.clone(),
            day: record.day,
            side,
        },
        barter_core::order::OrderAmount::Quantity(quantity),
    )?;
    let market = barter_execution::MarketReference {
        decision: decided_on.clone(),
        next: next.cloned(),
        quote_asset: quote.to_owned(),
    };
    Ok(trading.paper.execute(&order, &market).await?)
}

/// The name of strategy `s`.
fn name_of(s: &TradingStrategy) -> &str {
    s.strategy.name()
}

/// What a passed entry leads to: a decision that opens nothing when the strategy already holds
/// the instrument, is at its maximum, or the fill model refused the order (the store would
/// refuse an open of a held instrument too; deciding it here stores it with the other
/// non-trading decisions, in a batch); else the fill to open with.
fn entry_step(
    mut record: NewDecision,
    action: EntryAction,
    name: &str,
    symbol: &Symbol,
) -> EntryStep {
    let label = match action {
        EntryAction::AlreadyOpen(id) => {
            record.outcome = DecisionOutcome::Skipped;
            record.detail["skipped"] = json!({"reason": "already_open", "open_position": id.0});
            record.detail["explanation"] = json!(format!(
                "entry passed but {name} already holds {symbol} (position {id})"
            ));
            "skipped"
        }
        EntryAction::AtMaximum(max) => {
            record.outcome = DecisionOutcome::Skipped;
            record.detail["explanation"] = json!(format!(
                "entry passed but {name} already has its maximum of {max} open position(s)"
            ));
            "skipped"
        }
        EntryAction::Refused(refusal) => {
            record.outcome = DecisionOutcome::Refused;
            record.detail["refusal"] = json!(refusal.to_string());
            record.detail["explanation"] = json!(format!("entry passed; order refused: {refusal}"));
            "refused"
        }
        EntryAction::Filled(fill) => return EntryStep::Open(record, fill),
    };
    EntryStep::Record(record, label)
}

/// What a passed entry leads to.
enum EntryStep {
    /// Record the decision (it opens nothing), reported as the label.
    Record(NewDecision, &'static str),
    /// Open a position with the fill (paper) or send an order of its quantity (venue).
    Open(NewDecision, Fill),
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
    let market = &mut MarketCache::per_job();
    sync_new_trades_with(store, trading, now, market, &Unobserved).await
}

/// [`sync_new_trades`] with a caller-owned [`MarketCache`] (a replay keeps one across days) and
/// [`JobSignals`] (its run id, and a stop after the current instrument).
///
/// # Errors
/// As [`sync_new_trades`].
pub async fn sync_new_trades_with(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
    market: &mut MarketCache,
    signals: &dyn JobSignals,
) -> anyhow::Result<Run> {
    let mut state = Journal::start(store, RunKind::SyncNewTrades, now, signals).await?;
    let account = store.ensure_account(trading.initial_cash).await?;
    let mut cash = account.cash;
    let open = store.positions(Some(PositionStatus::Open)).await?;
    let accounts = store.open_position_accounts().await?;
    let account_of = |p: &Position| accounts.get(&p.id).map_or(PAPER, String::as_str);
    // The paper account's own positions: its equity, cash and limits know only these.
    let paper_open: Vec<Position> = open
        .iter()
        .filter(|p| account_of(p) == PAPER)
        .cloned()
        .collect();
    let mut account_open = u32::try_from(paper_open.len()).unwrap_or(u32::MAX);
    let mut sessions = trading.sessions(store, &mut state, now).await;
    let mut venue_marks: Option<HashMap<Symbol, Price>> = None;
    // What the entries opened today (by earlier runs too) cost, for `max_daily_notional`.
    let mut spent_today = match trading.limits.max_daily_notional {
        Some(_) => {
            let start = now
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map_or(now, |midnight| midnight.and_utc());
            store
                .entry_cost_opened_between(PAPER, start, start + Days::new(1))
                .await?
        }
        None => Money(rust_decimal::Decimal::ZERO),
    };
    // The newest day any instrument can decide on: yesterday.
    let newest = now.date_naive() - Days::new(1);
    // Read when the first entry passes, like the simulator's equity at the start of the day.
    let mut sizing_equity: Option<Money> = None;
    let mut open_count: HashMap<String, u32> = HashMap::new();
    // Exact candles from the oldest open entry on, so the close job after this one (sharing an
    // `across_jobs` cache) finds the candles its exit limits read already loaded.
    let mut first_entry: HashMap<&Symbol, Day> = HashMap::new();
    let held: HashMap<(&str, &Symbol), PositionId> = open
        .iter()
        .map(|p| ((p.strategy.as_str(), &p.symbol), p.id))
        .collect();
    for position in &open {
        *open_count.entry(position.strategy.clone()).or_default() += 1;
        let day = first_entry
            .entry(&position.symbol)
            .or_insert(position.entry_day);
        *day = (*day).min(position.entry_day);
    }
    let referenced = trading.load_references(store, market).await;
    let instruments: Vec<Instrument> = store
        .instruments()
        .await?
        .into_iter()
        .filter(|i| i.active)
        .collect();
    let quotes: HashMap<&Symbol, String> = instruments
        .iter()
        .map(|i| (&i.symbol, i.quote_currency.clone()))
        .collect();
    let work: Vec<EntryWork<'_>> = instruments
        .iter()
        .filter_map(|instrument| {
            let symbol = &instrument.symbol;
            let strategies: Vec<&TradingStrategy> = trading
                .strategies
                .iter()
                .filter(|s| s.enabled && s.strategy.trades(symbol))
                .collect();
            // Decide on the newest complete candle not after the expected day: a candle dated
            // today or later (a replay over stored history) is never a decision day.
            let expected = expected_day(instrument.calendar, now.date_naive());
            let needs = needs_of(strategies.iter().map(|s| s.strategy.as_ref()));
            let from = first_entry
                .get(symbol)
                .map_or(expected, |d| (*d).min(expected));
            (!strategies.is_empty()).then_some(EntryWork {
                symbol,
                strategies,
                needs,
                expected,
                exact_from: from,
            })
        })
        .collect();
    let plan = work
        .iter()
        .map(|w| (w.symbol.clone(), w.needs, w.exact_from))
        .collect();
    let mut prefetch = market.prefetch(store, plan);
    let expected_days = work.iter().map(|w| w.expected);
    let decided = Decided::load(store, DecisionKind::Entry, expected_days).await?;
    for w in &work {
        if signals.stop_requested() {
            state.interrupt();
            break;
        }
        let (symbol, strategies, expected) = (w.symbol, &w.strategies, w.expected);
        market.next_instrument(&referenced);
        let loaded = market
            .load_prefetched(&mut prefetch, store, symbol, w.needs, w.exact_from)
            .await;
        if let Err(error) = loaded {
            for s in strategies {
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
        let latest = market.data.view(expected).latest_day(symbol);
        for s in strategies {
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
                state.record(decision, "skipped").await?;
                continue;
            }
            if decided.contains(name, symbol, day) {
                let why = "this entry was decided by an earlier run".to_owned();
                state.push(name, symbol, Some(day), "already_decided", None, why);
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
                state.record(record, label).await?;
                continue;
            }
            // The kill switch is read for every passing entry (they are few), so a halt set
            // while the job runs stops the entries after it, in this process and every other.
            let halt = store.trading_halt().await?;
            if halt.halted {
                record.outcome = DecisionOutcome::Skipped;
                record.detail["skipped"] = json!({
                    "reason": "halted",
                    "halted_at": halt.changed_at,
                    "halt_reason": halt.reason,
                });
                record.detail["explanation"] = json!(crate::halt::refusal(name, symbol, &halt));
                state.record(record, "skipped").await?;
                continue;
            }
            let decided_on = view
                .latest(symbol)
                .context("the decision candle is visible")?;
            if let Some(name) = &s.account {
                let session = match usable(&mut sessions, name) {
                    Ok(session) => session,
                    Err(why) => {
                        // Not recorded: a later run the same day decides it again.
                        let why = format!("entry passed but nothing was sent: {why}");
                        state.push(name_of(s), symbol, Some(day), "error", None, why);
                        continue;
                    }
                };
                let marks = match &venue_marks {
                    Some(marks) => marks,
                    None => venue_marks.insert(store.closes_on_or_before(newest).await?),
                };
                let account_positions = open.iter().filter(|p| account_of(p) == name.as_str());
                let (venue_cash, venue_equity) = session
                    .book_values(symbol, account_positions, marks)
                    .await?;
                let book = EntryBook {
                    cash: venue_cash,
                    equity: venue_equity,
                    held: held.get(&(name_of(s), symbol)).copied(),
                    open_positions: open_count.get(name_of(s)).copied().unwrap_or(0),
                };
                let action = engine::act_on_entry(
                    trading.broker.as_ref(),
                    s.size.sizing(),
                    s.max_open_positions,
                    book,
                    decided_on,
                    None,
                );
                match entry_step(record, action, name_of(s), symbol) {
                    EntryStep::Record(record, label) => state.record(record, label).await?,
                    EntryStep::Open(record, shadow) => {
                        let outcome = session
                            .enter(store, &mut state, record, shadow, decided_on, now)
                            .await;
                        match outcome {
                            Ok(true) => {
                                *open_count.entry(name_of(s).to_owned()).or_default() += 1;
                            }
                            Ok(false) => {}
                            Err(error) => state.push(
                                name_of(s),
                                symbol,
                                Some(day),
                                "error",
                                None,
                                format!("{error:#}"),
                            ),
                        }
                    }
                }
                continue;
            }
            let equity = match sizing_equity {
                Some(equity) => equity,
                None => {
                    // The day's one sizing equity: the first job to need it stores it before
                    // opening anything, so a resumed or concurrent job sizes from the same
                    // value instead of an account its twin's opens have already changed.
                    let marked = equity(store, account.cash, &paper_open, newest).await?;
                    let stored = store.sizing_equity(newest, marked).await?;
                    *sizing_equity.insert(stored)
                }
            };
            let book = EntryBook {
                cash,
                equity,
                held: held.get(&(name, symbol)).copied(),
                open_positions: open_count.get(name).copied().unwrap_or(0),
            };
            let next = market.data.next_candle(symbol, day);
            let action = engine::act_on_entry(
                trading.broker.as_ref(),
                s.size.sizing(),
                s.max_open_positions,
                book,
                decided_on,
                next,
            );
            match entry_step(record, action, name, symbol) {
                EntryStep::Record(record, label) => state.record(record, label).await?,
                EntryStep::Open(mut record, fill) => {
                    let cost = Money(fill.gross.0.saturating_add(fill.fee.0));
                    if let Err(refusal) =
                        trading
                            .limits
                            .check_entry("paper", cost, spent_today, account_open, cash)
                    {
                        record.outcome = DecisionOutcome::Refused;
                        record.detail["refusal"] = json!(refusal);
                        record.detail["explanation"] = json!(format!(
                            "entry passed; refused by the account's limits: {refusal}"
                        ));
                        state.record(record, "refused").await?;
                        continue;
                    }
                    // Assume it opens; the store checks the cash again when booking it.
                    cash = Money(cash.0 + fill.cash_delta().0);
                    spent_today = Money(spent_today.0.saturating_add(cost.0));
                    account_open = account_open.saturating_add(1);
                    // Executed through the venue port like any venue's order; booked with its
                    // decision in one transaction (no network lies between them).
                    let quote = quotes.get(symbol).map_or("", String::as_str);
                    let executed =
                        execute_paper(trading, &record, fill.quantity, decided_on, next, quote)
                            .await;
                    let fill = match executed {
                        Ok(fill) => fill,
                        Err(error) => {
                            let why = format!("the paper venue did not fill it: {error}");
                            state.push(name, symbol, Some(day), "error", None, why);
                            continue;
                        }
                    };
                    *open_count.entry(name.to_owned()).or_default() += 1;
                    state.open(record, fill).await?;
                }
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
    let market = &mut MarketCache::per_job();
    sync_close_positions_with(store, trading, now, market, &Unobserved).await
}

/// [`sync_close_positions`] with a caller-owned [`MarketCache`] and [`JobSignals`].
///
/// # Errors
/// As [`sync_close_positions`].
pub async fn sync_close_positions_with(
    store: &Store,
    trading: &Trading,
    now: DateTime<Utc>,
    market: &mut MarketCache,
    signals: &dyn JobSignals,
) -> anyhow::Result<Run> {
    let mut state = Journal::start(store, RunKind::SyncClosePositions, now, signals).await?;
    store.ensure_account(trading.initial_cash).await?;
    let mut sessions = trading.sessions(store, &mut state, now).await;
    // Read after the sessions booked what earlier runs left, so those positions are here.
    let mut open = store.positions(Some(PositionStatus::Open)).await?;
    let accounts = store.open_position_accounts().await?;
    open.sort_by(|a, b| a.symbol.cmp(&b.symbol).then(a.id.cmp(&b.id)));
    let registered = store.instruments().await?;
    let quotes: HashMap<Symbol, String> = registered
        .iter()
        .map(|i| (i.symbol.clone(), i.quote_currency.clone()))
        .collect();
    let calendars: HashMap<Symbol, Calendar> = registered
        .into_iter()
        .map(|i| (i.symbol, i.calendar))
        .collect();
    let referenced = trading.load_references(store, market).await;
    // What each instrument's loads need, in the order the positions visit them: the series its
    // positions' strategies read, and exact candles from the oldest entry day on (exit limits
    // read the candles since the entry).
    let mut plan: Vec<(Symbol, DataNeeds, Day)> = Vec::new();
    for p in &open {
        let Some(s) = trading.find(&p.strategy) else {
            continue;
        };
        let calendar = calendars.get(&p.symbol).copied().unwrap_or_default();
        let from = p.entry_day.min(expected_day(calendar, now.date_naive()));
        match plan.last_mut() {
            Some((symbol, needs, first)) if *symbol == p.symbol => {
                *needs = needs.union(s.strategy.data_needs());
                *first = (*first).min(from);
            }
            _ => plan.push((p.symbol.clone(), s.strategy.data_needs(), from)),
        }
    }
    let loads: HashMap<Symbol, (DataNeeds, Day)> = plan
        .iter()
        .map(|(symbol, needs, from)| (symbol.clone(), (*needs, *from)))
        .collect();
    let mut prefetch = market.prefetch(store, plan);
    let expected_days = calendars
        .values()
        .map(|calendar| expected_day(*calendar, now.date_naive()));
    let decided = Decided::load(store, DecisionKind::Exit, expected_days).await?;
    // From the oldest open position on, closed ones too: a concurrent run may have closed one
    // of `open` since it was read.
    let first_open = open
        .iter()
        .map(|p| p.id)
        .min()
        .unwrap_or(PositionId(i64::MAX));
    let entry_days = store.entry_days_from(first_open).await?;
    let mut loaded: Option<Symbol> = None;
    for position in &open {
        let symbol = &position.symbol;
        if loaded.as_ref() != Some(symbol) && signals.stop_requested() {
            state.interrupt();
            break;
        }
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
        let calendar = calendars.get(symbol).copied().unwrap_or_default();
        let expected = expected_day(calendar, now.date_naive());
        if loaded.as_ref() != Some(symbol) {
            market.next_instrument(&referenced);
            let (needs, from) = loads
                .get(symbol)
                .copied()
                .unwrap_or((DataNeeds::ALL, expected));
            let result = market
                .load_prefetched(&mut prefetch, store, symbol, needs, from)
                .await;
            if let Err(error) = result {
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
        let Some(day) = market.data.view(expected).latest_day(symbol) else {
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
            state.record(decision, "skipped").await?;
            continue;
        }
        if entry_days
            .get(&position.id)
            .is_some_and(|entered| *entered > day)
        {
            // Opened on a later day by a run that got further (a resumed or concurrent
            // replay): on `day` this position did not exist, so there is nothing to decide.
            continue;
        }
        if decided.contains(name, symbol, day) {
            let why = "this exit was decided by an earlier run".to_owned();
            state.push(
                name,
                symbol,
                Some(day),
                "already_decided",
                Some(position.id.0),
                why,
            );
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
            state.record(record, label).await?;
            continue;
        };
        record.detail["reason"] = json!(reason);
        let decided_on = view
            .latest(symbol)
            .context("the decision candle is visible")?;
        if let Some(account) = accounts.get(&position.id).filter(|a| *a != PAPER) {
            let session = match usable(&mut sessions, account) {
                Ok(session) => session,
                Err(why) => {
                    let why = format!("exit passed but nothing was sent: {why}");
                    state.push(name, symbol, Some(day), "error", Some(position.id.0), why);
                    continue;
                }
            };
            record.detail["explanation"] = json!(decision.explanation);
            // The paper model's fill for the same exit: the venue's is compared with it.
            let shadow = trading.broker.sell(position.quantity, decided_on, None);
            record.detail["shadow"] = json!(shadow);
            let outcome = session
                .exit(store, &mut state, record, position, decided_on, now)
                .await;
            if let Err(error) = outcome {
                let why = format!("{error:#}");
                state.push(name, symbol, Some(day), "error", Some(position.id.0), why);
            }
            continue;
        }
        let quote = quotes.get(symbol).map_or("", String::as_str);
        let next = market.data.next_candle(symbol, day);
        let fill = match execute_paper(trading, &record, position.quantity, decided_on, next, quote)
            .await
        {
            Ok(fill) => fill,
            Err(error) => {
                let why = format!("the paper venue did not fill it: {error}");
                state.push(name, symbol, Some(day), "error", Some(position.id.0), why);
                continue;
            }
        };
        state
            .close(record, position.id, fill, reason, decision.explanation)
            .await?;
    }
    state.finish(store, RunKind::SyncClosePositions, now).await
}
