//! The record every job writes: what ran, when, how it ended, and per-item results.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Day;
use crate::calendar::Gaps;
use crate::symbol::Symbol;

/// A run's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which job a run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Daily candle sync (`barter sync`, `POST /api/sync_data`).
    SyncData,
    /// Entry decisions and new positions (`barter trade`, `POST /api/sync_new_trades`).
    SyncNewTrades,
    /// Exit decisions and closes (`barter close`, `POST /api/sync_close_positions`).
    SyncClosePositions,
}

impl RunKind {
    /// The name used in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncData => "sync_data",
            Self::SyncNewTrades => "sync_new_trades",
            Self::SyncClosePositions => "sync_close_positions",
        }
    }
}

impl FromStr for RunKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync_data" => Ok(Self::SyncData),
            "sync_new_trades" => Ok(Self::SyncNewTrades),
            "sync_close_positions" => Ok(Self::SyncClosePositions),
            other => Err(format!("unknown run kind `{other}`")),
        }
    }
}

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or the process died; see `finished_at`).
    Running,
    /// Every item succeeded.
    Succeeded,
    /// Some items failed, the others completed.
    Partial,
    /// Every item failed, or the run could not start its work.
    Failed,
    /// Stopped before the end: asked to stop (the server shut down), or its process died (killed,
    /// out of memory, full disk; marked by the next job once its heartbeat lapsed). The items it
    /// reports are complete, the rest was not done; the next run of the job does it.
    Interrupted,
}

impl RunStatus {
    /// The name used in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    /// The status of a finished run with `failed` of `total` items failing.
    pub fn from_outcomes(total: usize, failed: usize) -> Self {
        match (total, failed) {
            (_, 0) => Self::Succeeded,
            (t, f) if f >= t => Self::Failed,
            _ => Self::Partial,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Running,
            Self::Succeeded,
            Self::Partial,
            Self::Failed,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| format!("unknown run status `{s}`"))
    }
}

/// What one instrument's sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentSync {
    /// The instrument.
    pub symbol: Symbol,
    /// Candles the source returned.
    pub fetched: u64,
    /// New candles stored.
    pub added: u64,
    /// Stored incomplete candles replaced by newer values.
    pub updated: u64,
    /// Candles identical to what was stored.
    pub unchanged: u64,
    /// Complete stored candles the source now reports differently (kept as stored).
    pub conflicts: Vec<String>,
    /// First and last day the source returned.
    pub fetched_range: Option<(Day, Day)>,
    /// First and last day stored after the sync.
    pub stored_range: Option<(Day, Day)>,
    /// Missing trading days inside the stored range.
    pub gaps: Gaps,
    /// Why the instrument failed, in words a user can act on.
    pub error: Option<String>,
}

impl InstrumentSync {
    /// An empty report for `symbol`, filled in as its sync proceeds.
    pub fn new(symbol: Symbol) -> Self {
        Self {
            symbol,
            fetched: 0,
            added: 0,
            updated: 0,
            unchanged: 0,
            conflicts: Vec::new(),
            fetched_range: None,
            stored_range: None,
            gaps: Gaps::default(),
            error: None,
        }
    }
}

/// What one strategy decided for one instrument (or one position) in a trade or close run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionItem {
    /// The strategy.
    pub strategy: String,
    /// The instrument.
    pub symbol: Symbol,
    /// The decision day (the latest complete candle), when there was one.
    pub day: Option<Day>,
    /// `opened`, `closed`, `failed`, `not_ready`, `skipped`, `refused`, `already_decided`, `error`.
    pub outcome: String,
    /// The position opened or closed, if any.
    pub position: Option<i64>,
    /// Why, in words.
    pub explanation: String,
}

/// The per-item results of a run, by job kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "items", rename_all = "snake_case")]
pub enum RunReport {
    /// A candle sync: one entry per instrument.
    SyncData(Vec<InstrumentSync>),
    /// Entry decisions: one per instrument × strategy.
    SyncNewTrades(Vec<DecisionItem>),
    /// Exit decisions: one per open position.
    SyncClosePositions(Vec<DecisionItem>),
}

/// A job's run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Database id.
    pub id: RunId,
    /// Which job.
    pub kind: RunKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (`None` while running, or if the process died).
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: RunStatus,
    /// Totals, e.g. `instruments`, `failed`, `candles_added`.
    pub counts: BTreeMap<String, u64>,
    /// Every error, one line each.
    pub errors: Vec<String>,
    /// Per-item results.
    pub report: Option<RunReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_share_of_failed_items() {
        assert_eq!(RunStatus::from_outcomes(3, 0), RunStatus::Succeeded);
        assert_eq!(RunStatus::from_outcomes(3, 1), RunStatus::Partial);
        assert_eq!(RunStatus::from_outcomes(3, 3), RunStatus::Failed);
        assert_eq!(RunStatus::from_outcomes(0, 0), RunStatus::Succeeded);
    }

    #[test]
    fn names_round_trip() {
        for s in [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Partial,
            RunStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
        }
        for kind in [
            RunKind::SyncData,
            RunKind::SyncNewTrades,
            RunKind::SyncClosePositions,
        ] {
            assert_eq!(kind.as_str().parse::<RunKind>(), Ok(kind));
        }
    }
}
