//! The schemas of the API's JSON answers, for the OpenAPI document only (see [`crate::openapi`]):
//! the handlers build their JSON from the domain types, and these restate its shape. Request
//! bodies and parameters are described by the types the handlers read them into (see
//! [`crate::params`]).
#![allow(
    dead_code,
    reason = "documentation types: only their ToSchema implementations are used"
)]

use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer (503).
    #[schema(example = "ok")]
    pub status: String,
    /// Only when unavailable: code `database`.
    pub error: Option<crate::error::ErrorDetail>,
}

/// Where an instrument's candles come from.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SourceKind {
    /// The offline history bundled into the binary.
    Sample,
    /// CoinGecko's API v3.
    CoinGecko,
    /// Binance's public spot klines.
    Binance,
    /// Alpaca's daily stock and ETF bars.
    Alpaca,
    /// A CSV file on the server's disk.
    Csv,
}

/// Which days an instrument trades on.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Calendar {
    /// Every day (crypto).
    Continuous,
    /// Monday to Friday.
    Weekdays,
    /// The New York Stock Exchange's trading days (holidays and special closures excluded).
    Xnys,
}

/// A registered instrument.
#[derive(ToSchema)]
pub struct Instrument {
    /// Unique upper-case symbol: 1–20 of A–Z, 0–9, `-`, `_`, `.`.
    #[schema(example = "BTC")]
    pub symbol: String,
    /// Human-readable name.
    #[schema(example = "Bitcoin")]
    pub name: String,
    /// Currency prices are quoted in.
    #[schema(example = "USD")]
    pub quote_currency: String,
    /// Which source the candles come from.
    pub source: SourceKind,
    /// The source's own id: CoinGecko `bitcoin`, Binance `BTCUSDT`, Alpaca `SPY`, sample `BTC`,
    /// csv a path.
    #[schema(example = "bitcoin")]
    pub source_id: String,
    /// Which days it trades on (for gap detection).
    pub calendar: Calendar,
    /// Inactive instruments keep their candles but are skipped by sync.
    pub active: bool,
}

/// The answer of `DELETE /api/instruments/{symbol}`.
#[derive(ToSchema)]
pub struct RemovedInstrument {
    /// The removed symbol.
    #[schema(example = "BTC")]
    pub removed: String,
    /// How many of its candles were deleted.
    pub candles_deleted: u64,
}

/// Where a candle's values came from.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CandleOrigin {
    /// The bundled sample history.
    Sample,
    /// CoinGecko daily OHLC.
    CoinGeckoOhlc,
    /// CoinGecko daily market chart (open/high/low derived).
    CoinGeckoMarketChart,
    /// Binance spot daily klines.
    BinanceKlines,
    /// Alpaca daily stock bars.
    AlpacaBars,
    /// A CSV file.
    Csv,
}

/// One UTC day of an instrument's prices; decimals are strings.
#[derive(ToSchema)]
pub struct Candle {
    /// The instrument.
    pub symbol: String,
    /// The UTC day.
    #[schema(value_type = chrono::NaiveDate)]
    pub day: String,
    /// First price of the day.
    #[schema(value_type = String, example = "42000.5")]
    pub open: String,
    /// Highest price of the day.
    #[schema(value_type = String)]
    pub high: String,
    /// Lowest price of the day.
    #[schema(value_type = String)]
    pub low: String,
    /// Last price of the day.
    #[schema(value_type = String)]
    pub close: String,
    /// Volume traded during the day.
    #[schema(value_type = String)]
    pub volume: String,
    /// `false` for a day that has not ended (or a source that reported it partly).
    pub complete: bool,
    /// Where the values came from.
    pub origin: CandleOrigin,
}

/// Which job a run was.
#[derive(ToSchema)]
#[allow(
    clippy::enum_variant_names,
    reason = "the variants are the job names, as in barter-core"
)]
#[schema(rename_all = "snake_case")]
pub enum RunKind {
    /// Daily candle sync.
    SyncData,
    /// Entry decisions and new positions.
    SyncNewTrades,
    /// Exit decisions and closes.
    SyncClosePositions,
}

/// How a run ended (or that it is running).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished.
    Running,
    /// Every item succeeded.
    Succeeded,
    /// Some items failed.
    Partial,
    /// Every item failed, or the run could not start its work.
    Failed,
    /// Asked to stop when the server shut down.
    Interrupted,
}

/// One run of a job.
#[derive(ToSchema)]
pub struct Run {
    /// The run id.
    pub id: i64,
    /// Which job.
    pub kind: RunKind,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it finished (`null` while running).
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How it ended.
    pub status: RunStatus,
    /// Totals, e.g. `instruments`, `failed`, `candles_added`.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Every error, one line each.
    pub errors: Vec<String>,
    /// Per-item results.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

/// The answer of a job route when the job finished while the caller waited.
#[derive(ToSchema)]
pub struct JobFinished {
    /// The job, e.g. `sync_data` or `run`.
    #[schema(example = "sync_data")]
    pub job: String,
    /// The worst status of its runs.
    pub status: RunStatus,
    /// Its runs (`run` has one per part).
    pub runs: Vec<Run>,
}

/// The answer of a job route (202) when the job is still running: follow `/api/runs/{id}`.
#[derive(ToSchema)]
pub struct JobAccepted {
    /// The job.
    #[schema(example = "sync_data")]
    pub job: String,
    /// Always `running`.
    pub status: RunStatus,
    /// Its first run id.
    pub run_id: Option<i64>,
    /// Every run id recorded so far.
    pub run_ids: Vec<i64>,
}

/// One line of the append-only history.
#[derive(ToSchema)]
pub struct HistoryEntry {
    /// Id; later entries have larger ids.
    pub id: i64,
    /// The run that recorded it, if any.
    pub run: Option<i64>,
    /// When it happened.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// What happened, e.g. `candles_synced`.
    pub kind: String,
    /// The instrument concerned, if any.
    pub symbol: Option<String>,
    /// The strategy concerned, if any.
    pub strategy: Option<String>,
    /// The position concerned, if any.
    pub position: Option<i64>,
    /// Free-form details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of history, newest first.
#[derive(ToSchema)]
pub struct HistoryPage {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next_before: Option<i64>,
}

/// The filter of `GET /api/positions`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PositionFilter {
    /// Open positions.
    Open,
    /// Closed positions.
    Closed,
    /// Every position (the default).
    All,
}

/// One problem found by `POST /api/strategies/check`.
#[derive(ToSchema)]
pub struct StrategyProblem {
    /// The strategy's name (`null` for a single rule).
    pub strategy: Option<String>,
    /// The field at fault (`entry`, `exit`, `stop_loss`, ...).
    pub field: String,
    /// What is wrong; rule errors carry line, column and a caret.
    pub message: String,
    /// For a single rule: the line of the problem (1-based).
    pub line: Option<usize>,
    /// For a single rule: the column of the problem (1-based).
    pub column: Option<usize>,
    /// For a single rule: the byte offset where the problem starts.
    pub start: Option<usize>,
    /// For a single rule: the byte offset just past the problem.
    pub end: Option<usize>,
    /// For a single rule: how to fix it, e.g. "did you mean `ema`?".
    pub help: Option<String>,
}

/// The answer of `POST /api/strategies/check`.
#[derive(ToSchema)]
pub struct StrategyCheck {
    /// `true` when there is no problem.
    pub ok: bool,
    /// Every problem found.
    pub problems: Vec<StrategyProblem>,
}

/// Where a backtest is: `POST /api/backtests` and `GET /api/backtests/{id}`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum BacktestStatus {
    /// Waiting for a free slot.
    Queued,
    /// Running.
    Running,
    /// Finished; `result` holds it.
    Done,
    /// Failed; `error` says why (`invalid` or `over_limit` with `problems`, or `internal`).
    Failed,
    /// Cancelled by `DELETE /api/backtests/{id}` or the server's shutdown.
    Cancelled,
}

/// A backtest and, once done, its result.
#[derive(ToSchema)]
pub struct Backtest {
    /// The backtest id (kept in the server's memory; the last 50 are kept).
    pub id: u64,
    /// Where it is.
    pub status: BacktestStatus,
    /// Only when `done`. A single backtest: `stats`, `trades`, `open_trades`, `equity`,
    /// `initial_cash`, `final_cash`, `final_equity`, `unfilled`. A sweep: `names`,
    /// `combinations`, `skipped`, `rank_by` and `top` (the best rows, see `SweepRow`). A sweep
    /// across instruments (`per_instrument`): the same with `per_instrument`, `instruments`,
    /// `backtests` (combinations × instruments), `rank_across`, and `top` as `AcrossRow`s. A
    /// walk-forward: `names`, `rank_by`, `windows`, `out_of_sample`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Only when `failed`.
    pub error: Option<crate::error::ErrorDetail>,
}

/// The answer of `POST /api/sessions/sign_out_everywhere`.
#[derive(ToSchema)]
pub struct SignedOutEverywhere {
    /// How many dashboard sessions were stored and are now ended (expired ones included).
    #[schema(example = 2)]
    pub ended: u64,
}

/// The kill switch (`GET /api/halt`, and the answer of `POST /api/halt` and `/api/resume`).
#[derive(ToSchema)]
pub struct TradingHalt {
    /// Whether new entries are halted; exits and reconciliation always continue.
    pub halted: bool,
    /// Why, as given when halting.
    pub reason: Option<String>,
    /// Who changed it last: `cli`, `api` or `dashboard` (absent when it never changed).
    #[schema(example = "api")]
    pub changed_by: Option<String>,
    /// When it changed last (RFC 3339, UTC).
    pub changed_at: Option<String>,
}

/// An order sent (or to be sent) to a venue (`GET /api/orders`, `GET /api/orders/{id}`).
#[derive(ToSchema)]
pub struct Order {
    /// The order id.
    pub id: i64,
    /// The account it is sent from.
    pub account: String,
    /// The decision it carries out: strategy, symbol, day, side.
    #[schema(value_type = Object)]
    pub decision: serde_json::Value,
    /// `{"quantity": "0.01"}` (units) or `{"quote": "500"}` (an amount of the quote currency).
    #[schema(value_type = Object)]
    pub amount: serde_json::Value,
    /// The id Barter sends with it, derived from the decision.
    #[schema(example = "bt20261207b-abcdefghijklmnopqrst")]
    pub client_order_id: String,
    /// The venue's id, once known.
    pub venue_order_id: Option<String>,
    /// planned, submitted, accepted, partially_filled, filled, rejected, canceled, expired or
    /// unknown.
    #[schema(example = "filled")]
    pub state: String,
    /// The trades: trade_id, price, quantity, fee, fee_asset (decimal strings).
    #[schema(value_type = Vec<Object>)]
    pub fills: Vec<serde_json::Value>,
    /// The most any venue answer said was executed (decimal string).
    pub executed_quantity: String,
    /// Why it was rejected, canceled or expired.
    pub reason: Option<String>,
    /// The sum of the fills' quantities (decimal string).
    pub filled_quantity: String,
    /// The fills' average price (decimal string), when there are fills.
    pub average_price: Option<String>,
}

/// One account and its drift (`GET /api/accounts`, the report of `barter reconcile`).
#[derive(ToSchema)]
pub struct Account {
    /// `paper`, or the name of an `[accounts.NAME]` table.
    #[schema(example = "testnet")]
    pub name: String,
    /// `paper`, `binance` or `alpaca`.
    pub venue: String,
    /// Whether it trades real money.
    pub live: bool,
    /// Whether the venue lets it trade now.
    pub can_trade: bool,
    /// Cash balances: asset, free, locked (decimal strings).
    #[schema(value_type = Vec<Object>)]
    pub cash: Vec<serde_json::Value>,
    /// Every asset the venue holds: asset, free, locked (decimal strings).
    #[schema(value_type = Vec<Object>)]
    pub holdings: Vec<serde_json::Value>,
    /// The account's open positions in the ledger.
    pub open_positions: u64,
    /// Where ledger and venue disagree: asset, symbols, ledger, venue, difference, note.
    #[schema(value_type = Vec<Object>)]
    pub drift: Vec<serde_json::Value>,
    /// Why the venue could not be read, if it could not.
    pub error: Option<String>,
}

/// One notification channel's state (`GET /api/notifications`).
#[derive(ToSchema)]
pub struct NotificationChannel {
    /// The channel's name (`[[notify]] name`).
    #[schema(example = "ops")]
    pub channel: String,
    /// When it last accepted a notification.
    pub last_sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Deliveries attempted since then that it has not accepted (waiting or given up).
    pub failing_deliveries: u32,
    /// Deliveries given up on since its last success.
    pub given_up: u32,
    /// The first failed attempt since its last success.
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The last failure's words.
    pub last_error: Option<String>,
    /// Deliveries waiting to be sent.
    pub waiting: u32,
}

/// One delivery of a notification to a channel.
#[derive(ToSchema)]
pub struct NotificationDelivery {
    /// The delivery's id.
    pub id: i64,
    /// The channel.
    pub channel: String,
    /// The event's idempotency key (every delivery of one event carries it).
    #[schema(example = "position_opened:12")]
    pub key: String,
    /// `position_opened`, `position_closed`, `order_rejected`, `order_unknown`, `refusal`,
    /// `run_failed`, `run_partial`, `instrument_stale`, `data_conflict`, `drift`, `digest`, `test`.
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The notification's title.
    pub title: String,
    /// When the event happened.
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// `pending`, `sending`, `sent` or `failed` (given up).
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the last attempt was made.
    pub last_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the next attempt is due.
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    /// When the channel accepted it.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The start of the channel's last answer.
    pub answer: Option<String>,
}

/// `GET /api/notifications`: the channels and the recent deliveries.
#[derive(ToSchema)]
pub struct Notifications {
    /// Each usable channel's state.
    pub channels: Vec<NotificationChannel>,
    /// Channels configured but unusable (a missing secret), in words.
    pub unusable: Vec<String>,
    /// The recent deliveries, newest first.
    pub deliveries: Vec<NotificationDelivery>,
}

/// What a test message got from one channel (`POST /api/notifications/test`).
#[derive(ToSchema)]
pub struct NotificationTest {
    /// The channel.
    pub channel: String,
    /// Whether it accepted the message.
    pub accepted: bool,
    /// Its answer, or why it failed.
    pub answer: String,
}

/// Health at a glance (`GET /api/status`, `barter status --json`).
#[derive(ToSchema)]
pub struct StatusReport {
    /// The moment the report describes (RFC 3339, UTC).
    pub checked_at: String,
    /// Whether nothing needs attention (`attention` is empty; `barter status` exits 0).
    pub healthy: bool,
    /// The last run of each job: `sync_data`, `sync_new_trades`, `sync_close_positions`.
    pub jobs: Vec<JobStatus>,
    /// The active instruments and those whose data needs attention.
    pub instruments: InstrumentsStatus,
    /// Open positions, in total and per strategy.
    pub positions: PositionsStatus,
    /// The paper account, then each venue account (each venue waited for at most 5 s).
    pub accounts: Vec<Account>,
    /// The kill switch.
    pub halt: TradingHalt,
    /// The `[schedule]` and its next run.
    pub schedule: ScheduleStatus,
    /// What needs attention, most severe first.
    pub attention: Vec<AttentionItem>,
}

/// A job's last run.
#[derive(ToSchema)]
pub struct JobStatus {
    /// `sync_data`, `sync_new_trades` or `sync_close_positions`.
    #[schema(example = "sync_data")]
    pub job: String,
    /// Its latest run; absent (null) when it never ran.
    pub last_run: Option<LastRun>,
}

/// A job's latest run.
#[derive(ToSchema)]
pub struct LastRun {
    /// The run id (`GET /api/runs/{id}`).
    pub id: i64,
    /// `running`, `succeeded`, `partial`, `failed` or `interrupted`.
    #[schema(example = "succeeded")]
    pub status: String,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished (RFC 3339, UTC), if it did.
    pub finished_at: Option<String>,
    /// How long it took, in milliseconds, once finished.
    pub duration_ms: Option<i64>,
    /// How many seconds before `checked_at` it started.
    pub ago_secs: i64,
    /// Its first errors (at most 3).
    pub errors: Vec<String>,
    /// How many errors it has in all.
    pub error_count: u64,
}

/// The active instruments.
#[derive(ToSchema)]
pub struct InstrumentsStatus {
    /// How many instruments are active.
    pub active: u64,
    /// How many of them have the complete candle their calendar expects.
    pub current: u64,
    /// The active instruments that are stale, have no data, or had a conflict in the last sync.
    pub attention: Vec<InstrumentStatus>,
}

/// An instrument whose data needs attention.
#[derive(ToSchema)]
pub struct InstrumentStatus {
    /// The symbol.
    #[schema(example = "BTC")]
    pub symbol: String,
    /// Its newest complete candle's day (YYYY-MM-DD), if any.
    pub last_complete: Option<String>,
    /// The newest complete candle its calendar expects.
    pub expected: String,
    /// `current`, `stale` or `no_data`.
    #[schema(example = "stale")]
    pub freshness: String,
    /// Complete stored candles the last sync found different at the source.
    pub conflicts: u64,
}

/// Open positions.
#[derive(ToSchema)]
pub struct PositionsStatus {
    /// How many positions are open.
    pub open: u64,
    /// How many are open per strategy name.
    #[schema(value_type = Object)]
    pub by_strategy: std::collections::BTreeMap<String, u64>,
}

/// The `[schedule]` of `barter serve`.
#[derive(ToSchema)]
pub struct ScheduleStatus {
    /// Whether `[schedule]` names any job.
    pub configured: bool,
    /// The next scheduled run, if any.
    pub next: Option<NextRun>,
}

/// A scheduled run.
#[derive(ToSchema)]
pub struct NextRun {
    /// `sync_data`, `sync_new_trades`, `sync_close_positions` or `run`.
    #[schema(example = "run")]
    pub job: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// Something that needs attention.
#[derive(ToSchema)]
pub struct AttentionItem {
    /// What kind: `job_failed`, `job_partial`, `job_interrupted`, `instrument_stale`,
    /// `instrument_no_data`, `data_conflict`, `account_unreachable`, `account_drift`,
    /// `strategies_invalid`, `schedule_invalid`, `trading_halted`,
    /// `notification_channel_failing`; more may be added.
    #[schema(example = "instrument_stale")]
    pub kind: String,
    /// `warning` or `critical`.
    #[schema(example = "warning")]
    pub severity: String,
    /// What it is about: a job, an instrument, an account, `trading`, `strategies` or
    /// `schedule`.
    #[schema(example = "BTC")]
    pub subject: String,
    /// One line naming the subject, what is wrong and what to do.
    pub message: String,
}
