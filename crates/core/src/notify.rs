//! Notifications: the events Barter tells people about when nobody is watching (a position
//! opened or closed, an order rejected, a run that failed, stale data, drift, the daily digest),
//! as values with an idempotency key, a severity and their words.
//!
//! Each [`Notification`] is built from the record of the event it reports and stored in the
//! same transaction (the store's outbox); a channel later sends it in its own format. The
//! [`Notification::key`] names the event, not the attempt: two deliveries of one event carry
//! the same key, so a receiver can drop the duplicate a crash between send and commit may cause.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Day;
use crate::order::{Order, OrderState};
use crate::run::{Run, RunReport, RunStatus};

/// The version of the JSON a webhook receives ([`WebhookBody`]); a change that removes or
/// renames a field gets a new version.
pub const WEBHOOK_SCHEMA: &str = "barter.notification.v1";

/// The most characters of a notification's title.
pub const MAX_TITLE_CHARS: usize = 200;
/// The most lines a notification carries below its title.
pub const MAX_LINES: usize = 40;
/// The most characters of one line.
pub const MAX_LINE_CHARS: usize = 300;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A position was opened (paper or at a venue).
    PositionOpened,
    /// A position was closed.
    PositionClosed,
    /// A venue refused an order.
    OrderRejected,
    /// A venue's answer to an order was lost; the next job looks it up.
    OrderUnknown,
    /// A passing entry was refused: the account's limits, the cash, or the kill switch.
    Refusal,
    /// A job failed.
    RunFailed,
    /// A job finished with some items failed.
    RunPartial,
    /// An instrument's latest complete candle is older than its calendar expects.
    InstrumentStale,
    /// A source sent a complete candle that differs from the stored one.
    DataConflict,
    /// The ledger and a venue disagree about what is held.
    Drift,
    /// The summary after the daily run.
    Digest,
    /// A test message (`barter notify test`).
    Test,
}

impl EventKind {
    /// Every kind, in the order of the docs.
    pub const ALL: [Self; 12] = [
        Self::PositionOpened,
        Self::PositionClosed,
        Self::OrderRejected,
        Self::OrderUnknown,
        Self::Refusal,
        Self::RunFailed,
        Self::RunPartial,
        Self::InstrumentStale,
        Self::DataConflict,
        Self::Drift,
        Self::Digest,
        Self::Test,
    ];

    /// The name used in config, database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PositionOpened => "position_opened",
            Self::PositionClosed => "position_closed",
            Self::OrderRejected => "order_rejected",
            Self::OrderUnknown => "order_unknown",
            Self::Refusal => "refusal",
            Self::RunFailed => "run_failed",
            Self::RunPartial => "run_partial",
            Self::InstrumentStale => "instrument_stale",
            Self::DataConflict => "data_conflict",
            Self::Drift => "drift",
            Self::Digest => "digest",
            Self::Test => "test",
        }
    }

    /// How serious the event is.
    pub fn severity(self) -> Severity {
        match self {
            Self::PositionOpened | Self::PositionClosed | Self::Digest | Self::Test => {
                Severity::Info
            }
            Self::Refusal
            | Self::RunPartial
            | Self::InstrumentStale
            | Self::DataConflict
            | Self::OrderRejected => Severity::Warning,
            Self::RunFailed | Self::OrderUnknown | Self::Drift => Severity::Critical,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown event `{}`: expected one of {}",
                    shown(s),
                    names.join(", ")
                )
            })
    }
}

/// How serious an event is; a channel's `min_severity` drops the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (trades, the digest).
    Info,
    /// Worth a look today (refusals, stale data, a partial run).
    Warning,
    /// Needs someone now (a failed run, an order whose fate is unknown, drift).
    Critical,
}

impl Severity {
    /// The name used in config, database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Self::Info),
            "warning" => Ok(Self::Warning),
            "critical" => Ok(Self::Critical),
            other => Err(format!(
                "unknown severity `{}`: expected info, warning or critical",
                shown(other)
            )),
        }
    }
}

/// One notification: an event, its idempotency key and its words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Names the event (e.g. `position_opened:12`); every delivery of it carries this key.
    pub key: String,
    /// What happened.
    pub kind: EventKind,
    /// How serious it is.
    pub severity: Severity,
    /// One line saying what happened.
    pub title: String,
    /// The details, one fact per line (the rule values behind a trade, amounts, what to do).
    pub lines: Vec<String>,
    /// The strategy it is about, if any.
    pub strategy: Option<String>,
    /// The instrument it is about, if any.
    pub symbol: Option<String>,
    /// The dashboard page that explains it (a path such as `/positions/12`), made a link with
    /// `[server] public_url`.
    pub path: Option<String>,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
}

/// The rule values and amounts behind a trade, as written in a notification.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TradeFacts {
    /// The position.
    pub position: i64,
    /// The strategy.
    pub strategy: String,
    /// The instrument.
    pub symbol: String,
    /// The decision day.
    pub day: Day,
    /// Quantity bought or sold, as text.
    pub quantity: String,
    /// Price of the fill, as text.
    pub price: String,
    /// Fee paid, as text.
    pub fee: String,
    /// The account (`paper` or a named venue account).
    pub account: String,
    /// The rule's values, by name.
    pub values: Vec<(String, f64)>,
    /// The decision's explanation.
    pub explanation: String,
}

impl Notification {
    /// A notification of `kind` keyed `key`, with the kind's severity.
    pub fn new(kind: EventKind, key: String, title: String, occurred_at: DateTime<Utc>) -> Self {
        Self {
            key,
            kind,
            severity: kind.severity(),
            title: cut(&title, MAX_TITLE_CHARS),
            lines: Vec::new(),
            strategy: None,
            symbol: None,
            path: None,
            occurred_at,
        }
    }

    /// Adds a line (cut to [`MAX_LINE_CHARS`]; lines past [`MAX_LINES`] are dropped).
    pub fn line(mut self, line: impl AsRef<str>) -> Self {
        if self.lines.len() < MAX_LINES {
            self.lines.push(cut(line.as_ref(), MAX_LINE_CHARS));
        }
        self
    }

    /// Names the strategy and instrument it is about.
    pub fn about(mut self, strategy: Option<&str>, symbol: Option<&str>) -> Self {
        self.strategy = strategy.map(|s| cut(s, MAX_LINE_CHARS));
        self.symbol = symbol.map(|s| cut(s, MAX_LINE_CHARS));
        self
    }

    /// The position opened by a passing entry.
    pub fn position_opened(facts: &TradeFacts, at: DateTime<Utc>) -> Self {
        let title = format!(
            "Opened {} {} for {} at {} ({})",
            facts.quantity, facts.symbol, facts.strategy, facts.price, facts.account
        );
        Self::new(
            EventKind::PositionOpened,
            format!("position_opened:{}", facts.position),
            title,
            at,
        )
        .trade_lines(facts)
    }

    /// The position closed by an exit; `pnl` is its realized P&L as text, `reason` why.
    pub fn position_closed(facts: &TradeFacts, pnl: &str, reason: &str, at: DateTime<Utc>) -> Self {
        let title = format!(
            "Closed {} {} for {} at {}: P&L {pnl} ({reason})",
            facts.quantity, facts.symbol, facts.strategy, facts.price
        );
        Self::new(
            EventKind::PositionClosed,
            format!("position_closed:{}", facts.position),
            title,
            at,
        )
        .trade_lines(facts)
    }

    fn trade_lines(mut self, facts: &TradeFacts) -> Self {
        self = self
            .about(Some(&facts.strategy), Some(&facts.symbol))
            .line(format!("decision day {}", facts.day))
            .line(format!(
                "quantity {} at {}, fee {}",
                facts.quantity, facts.price, facts.fee
            ));
        for (name, value) in &facts.values {
            self = self.line(format!("{name} = {value}"));
        }
        if !facts.explanation.is_empty() {
            self = self.line(&facts.explanation);
        }
        self.path = Some(format!("/positions/{}", facts.position));
        self
    }

    /// An order a venue rejected or whose fate is unknown; `None` for any other state.
    pub fn order(order: &Order, at: DateTime<Utc>) -> Option<Self> {
        let (kind, what) = match order.state() {
            OrderState::Rejected => (EventKind::OrderRejected, "rejected"),
            OrderState::Unknown => (EventKind::OrderUnknown, "left unknown"),
            _ => return None,
        };
        let decision = order.decision();
        let id = order.id().map_or(0, |id| id.0);
        let title = format!(
            "Order {} ({} {} for {}, account {}) {what}",
            id,
            match decision.side {
                crate::Side::Buy => "buy",
                crate::Side::Sell => "sell",
            },
            decision.symbol,
            decision.strategy,
            order.account()
        );
        let mut n = Self::new(kind, format!("{}:{id}", kind.as_str()), title, at)
            .about(Some(&decision.strategy), Some(decision.symbol.as_str()))
            .line(format!("client order id {}", order.client_order_id()))
            .line(format!("decision day {}", decision.day));
        if let Some(reason) = order.reason() {
            n = n.line(format!("venue said: {reason}"));
        }
        if kind == EventKind::OrderUnknown {
            n = n.line("the next job looks it up by its client order id; nothing is resent");
        }
        n.path = Some("/orders".to_owned());
        Some(n)
    }

    /// A passing entry refused (limits, cash or the kill switch), stored as decision `decision`.
    pub fn refusal(
        decision: i64,
        strategy: &str,
        symbol: &str,
        day: Day,
        explanation: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self::new(
            EventKind::Refusal,
            format!("refusal:{decision}"),
            format!("Entry of {strategy} on {symbol} refused"),
            at,
        )
        .about(Some(strategy), Some(symbol))
        .line(format!("decision day {day}"))
        .line(explanation)
    }

    /// `symbol`'s latest complete candle is `latest`, its calendar expected `expected`; one
    /// notification per instrument and expected day, however many strategies read it.
    pub fn stale(symbol: &str, latest: Day, expected: Day, at: DateTime<Utc>) -> Self {
        Self::new(
            EventKind::InstrumentStale,
            format!("instrument_stale:{symbol}:{expected}"),
            format!("{symbol} is stale: latest complete candle {latest}, expected {expected}"),
            at,
        )
        .about(None, Some(symbol))
        .line("no trading on it until it is synced: run `barter sync` and check its source")
    }

    /// A complete candle from the source that differs from the stored one (kept, not
    /// overwritten).
    pub fn conflict(symbol: &str, days: &[Day], at: DateTime<Utc>) -> Self {
        let first = days.first().map_or_else(String::new, ToString::to_string);
        let mut n = Self::new(
            EventKind::DataConflict,
            format!("data_conflict:{symbol}:{first}:{}", days.len()),
            format!(
                "{symbol}: the source changed {} stored complete candle(s)",
                days.len()
            ),
            at,
        )
        .about(None, Some(symbol))
        .line("the stored candles are kept; check the source, then `barter sync --repair` if it is right");
        for day in days.iter().take(10) {
            n = n.line(format!("conflict on {day}"));
        }
        n.path = Some(format!("/instruments/{symbol}"));
        n
    }

    /// The notifications a finished run gives: failed or partial, and the drift it reported.
    pub fn of_run(run: &Run) -> Vec<Self> {
        let at = run.finished_at.unwrap_or(run.started_at);
        let mut out = Vec::new();
        let (kind, what) = match run.status {
            RunStatus::Failed => (Some(EventKind::RunFailed), "failed"),
            RunStatus::Partial => (Some(EventKind::RunPartial), "partly failed"),
            _ => (None, ""),
        };
        if let Some(kind) = kind {
            let mut n = Self::new(
                kind,
                format!("{}:{}", kind.as_str(), run.id.0),
                format!("The {} run {} {what}", run.kind.as_str(), run.id.0),
                at,
            );
            for error in run.errors.iter().take(10) {
                n = n.line(error);
            }
            if run.errors.len() > 10 {
                n = n.line(format!("… and {} more", run.errors.len() - 10));
            }
            n.path = Some("/history".to_owned());
            out.push(n);
        }
        let drift: Vec<&crate::run::DecisionItem> = match &run.report {
            Some(RunReport::SyncNewTrades(items) | RunReport::SyncClosePositions(items)) => {
                items.iter().filter(|i| i.outcome == "drift").collect()
            }
            _ => Vec::new(),
        };
        if !drift.is_empty() {
            let mut n = Self::new(
                EventKind::Drift,
                format!("drift:{}", run.id.0),
                format!(
                    "The ledger and a venue disagree ({} item(s), run {})",
                    drift.len(),
                    run.id.0
                ),
                at,
            );
            for item in drift.iter().take(20) {
                n = n.line(format!("{}: {}", item.symbol, item.explanation));
            }
            n = n.line("nothing is traded to fix it: run `barter reconcile` and decide");
            out.push(n);
        }
        out
    }

    /// The words of the notification as plain text: title, lines, and the explanation's link
    /// when `public_url` is known.
    pub fn text(&self, public_url: Option<&str>) -> String {
        let mut text = self.title.clone();
        for line in &self.lines {
            text.push('\n');
            text.push_str(line);
        }
        if let Some(link) = self.link(public_url) {
            text.push('\n');
            text.push_str(&link);
        }
        text
    }

    /// The link to the page explaining it, when both the page and `public_url` are known.
    pub fn link(&self, public_url: Option<&str>) -> Option<String> {
        let base = public_url?.trim_end_matches('/');
        Some(format!("{base}{}", self.path.as_deref()?))
    }
}

/// The JSON body a webhook receives: the notification and the schema version, with the
/// idempotency key at the top so a receiver can drop a duplicate without parsing the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// [`WEBHOOK_SCHEMA`].
    pub schema: String,
    /// The event's idempotency key ([`Notification::key`]).
    pub idempotency_key: String,
    /// What happened.
    pub event: EventKind,
    /// How serious it is.
    pub severity: Severity,
    /// One line saying what happened.
    pub title: String,
    /// The details.
    pub lines: Vec<String>,
    /// The strategy it is about, if any.
    pub strategy: Option<String>,
    /// The instrument it is about, if any.
    pub symbol: Option<String>,
    /// The page explaining it, when `[server] public_url` is set.
    pub url: Option<String>,
    /// When the event happened (RFC 3339, UTC).
    pub occurred_at: DateTime<Utc>,
}

impl WebhookBody {
    /// The webhook body of `n`.
    pub fn of(n: &Notification, public_url: Option<&str>) -> Self {
        Self {
            schema: WEBHOOK_SCHEMA.to_owned(),
            idempotency_key: n.key.clone(),
            event: n.kind,
            severity: n.severity,
            title: n.title.clone(),
            lines: n.lines.clone(),
            strategy: n.strategy.clone(),
            symbol: n.symbol.clone(),
            url: n.link(public_url),
            occurred_at: n.occurred_at,
        }
    }
}

/// At most 40 characters of untrusted `text`, escaped, for an error message.
fn shown(text: &str) -> String {
    let head: String = text.chars().take(40).collect();
    head.escape_debug().to_string()
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 0, 10, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn kinds_and_severities_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        }
        for s in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
        let error = "x"
            .repeat(10_000)
            .parse::<EventKind>()
            .expect_err("unknown");
        assert!(error.len() < 400, "{error}");
    }

    #[test]
    fn a_trade_names_its_rule_values_and_links_its_explanation() {
        let facts = TradeFacts {
            position: 12,
            strategy: "sma".into(),
            symbol: "BTC".into(),
            day: Day::from_ymd_opt(2026, 12, 6).expect("day"),
            quantity: "0.5".into(),
            price: "42000".into(),
            fee: "21".into(),
            account: "paper".into(),
            values: vec![("close".into(), 42_000.0), ("sma(20)".into(), 41_000.5)],
            explanation: "close > sma(20)".into(),
        };
        let n = Notification::position_opened(&facts, at());
        assert_eq!(n.key, "position_opened:12");
        let text = n.text(Some("https://barter.example/"));
        assert!(text.contains("sma(20) = 41000.5"), "{text}");
        assert!(
            text.ends_with("https://barter.example/positions/12"),
            "{text}"
        );
        assert_eq!(n.text(None).lines().count(), 6);
    }

    #[test]
    fn lines_and_titles_are_bounded() {
        let mut n = Notification::new(EventKind::Test, "t".into(), "x".repeat(5_000), at());
        for _ in 0..100 {
            n = n.line("y".repeat(5_000));
        }
        assert_eq!(n.title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(n.lines.len(), MAX_LINES);
        assert!(n.lines.iter().all(|l| l.chars().count() == MAX_LINE_CHARS));
    }
}
