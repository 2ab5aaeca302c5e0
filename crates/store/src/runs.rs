//! Job run records ([`Run`]) and the append-only history ([`HistoryEntry`]) of syncs and trading.

use barter_core::{Day, PositionId, Run, RunId, RunKind, RunReport, RunStatus, Symbol};
use chrono::{DateTime, Days, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};

use crate::bounds::{bound_errors, bound_json, bound_json_strings, bound_json_text};
use crate::codec::{column, json, json_opt, parsed};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};
use crate::lease::{RUN_LEASE, process_owner};

/// The columns a [`Run`] is read from, in `SELECT` order.
const RUN_COLUMNS: &str = "id, kind, started_at, finished_at, status, counts, errors, report";

/// The columns a [`HistoryEntry`] is read from, in `SELECT` order.
const HISTORY_COLUMNS: &str =
    "id, run_id, recorded_at, kind, symbol, strategy, position_id, detail";

/// One line of the append-only history: what was synced or traded, when, by which run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Database id; later entries have larger ids.
    pub id: i64,
    /// The run that recorded it, if any (cleared if that run is deleted).
    pub run: Option<RunId>,
    /// When it happened.
    pub recorded_at: DateTime<Utc>,
    /// What happened, e.g. `candles_synced`.
    pub kind: String,
    /// The instrument concerned, if any.
    pub symbol: Option<Symbol>,
    /// The strategy concerned, if any (trading entries).
    #[serde(default)]
    pub strategy: Option<String>,
    /// The position concerned, if any (fills, refusals, closes, decisions that acted).
    #[serde(default)]
    pub position: Option<PositionId>,
    /// Free-form details.
    pub detail: serde_json::Value,
}

/// Which history entries [`Store::history_filtered`] returns; every set field must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only entries about this instrument.
    pub symbol: Option<Symbol>,
    /// Only entries about this strategy.
    pub strategy: Option<String>,
    /// Only entries of this kind (exact match), e.g. `fill`.
    pub kind: Option<String>,
    /// Only entries recorded at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries recorded strictly before this time (a date filter "to day D" passes the
    /// start of D + 1).
    pub until: Option<DateTime<Utc>>,
    /// Only entries older than this id: pass the last id of the previous page to get the next.
    pub before_id: Option<i64>,
    /// At most this many entries.
    pub limit: u32,
}

impl Default for HistoryFilter {
    /// No condition, the latest 100 entries.
    fn default() -> Self {
        Self {
            symbol: None,
            strategy: None,
            kind: None,
            since: None,
            until: None,
            before_id: None,
            limit: 100,
        }
    }
}

impl HistoryFilter {
    /// This filter limited to the UTC days `from` through `to`, both included: `since` is
    /// `from` at 00:00 UTC and `until` is the day after `to` at 00:00 UTC (a `None` day sets
    /// no bound on its side).
    ///
    /// # Errors
    /// `to` itself when it is the last day a date can hold, so the day after has no midnight.
    pub fn with_days(self, from: Option<Day>, to: Option<Day>) -> Result<Self, Day> {
        let midnight = |d: Day| d.and_time(NaiveTime::MIN).and_utc();
        let until = match to {
            Some(to) => Some(to.checked_add_days(Days::new(1)).ok_or(to)?),
            None => None,
        };
        Ok(Self {
            since: from.map(midnight),
            until: until.map(midnight),
            ..self
        })
    }
}

impl Store {
    /// Records that a job of `kind` started at `started_at`; the run is `running` until
    /// [`Store::finish_run`], owned by this process ([`process_owner`]) with a heartbeat at the
    /// current time, which the caller renews ([`Store::renew_run`]) while it works.
    ///
    /// First marks the runs presumed dead `interrupted`
    /// ([`Store::interrupt_abandoned_runs`] with [`RUN_LEASE`]), so every job start cleans up
    /// after killed processes; a failing sweep is logged, not fatal.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the insert fails.
    pub async fn start_run(
        &self,
        kind: RunKind,
        started_at: DateTime<Utc>,
    ) -> Result<RunId, StoreError> {
        // The lease is measured on the real clock: `started_at` may be a replayed day.
        let now = Utc::now();
        if let Err(error) = self.interrupt_abandoned_runs(now, RUN_LEASE).await {
            tracing::warn!("could not check for abandoned runs: {error}");
        }
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "INSERT INTO runs (kind, started_at, status, counts, errors, owner, heartbeat_at) \
                 VALUES ($1, $2, $3, '{}', '[]', $4, $5) RETURNING id",
            )
            .bind(kind.as_str())
            .bind(codec::timestamp(started_at))
            .bind(RunStatus::Running.as_str())
            .bind(process_owner())
            .bind(codec::timestamp(now))
            .fetch_one(pool)
            .await
            .with_action(|| format!("start a {} run", kind.as_str()))?;
            let id: i64 = column(&row, "id").map_err(|e| StoreError::corrupt("runs.id", e))?;
            Ok(RunId(id))
        })
    }

    /// Stores how run `run.id` ended: its status, finish time, counts, errors and report.
    ///
    /// The stored text is bounded whatever `run` holds (see [`crate::bounds`]): at most
    /// [`crate::bounds::MAX_RUN_ERRORS`] errors of at most
    /// [`crate::bounds::MAX_MESSAGE_CHARS`] characters each, and the
    /// report's strings cut likewise. A run another process marked `interrupted` meanwhile
    /// (its heartbeat stalled) gets its real outcome.
    ///
    /// # Errors
    /// [`StoreError::UnknownRun`] when no run has that id, [`StoreError::Encode`] or
    /// [`StoreError::Database`] when it cannot be stored.
    pub async fn finish_run(&self, run: &Run) -> Result<(), StoreError> {
        let encode = |what: &str| {
            let what = format!("the {what} of run {}", run.id);
            move |source| StoreError::Encode { what, source }
        };
        let counts = serde_json::to_string(&run.counts).map_err(encode("counts"))?;
        let errors = serde_json::to_string(&bound_errors(&run.errors)).map_err(encode("errors"))?;
        let report = run
            .report
            .as_ref()
            .map(bounded_report)
            .transpose()
            .map_err(encode("report"))?;
        let action = || format!("finish run {}", run.id);
        let changed = on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let changed = sqlx::query(
                "UPDATE runs SET status = $2, finished_at = $3, counts = $4, errors = $5, \
                 report = $6 WHERE id = $1",
            )
            .bind(run.id.0)
            .bind(run.status.as_str())
            .bind(run.finished_at.map(codec::timestamp))
            .bind(counts)
            .bind(errors)
            .bind(report)
            .execute(&mut *tx)
            .await
            .with_action(action)?
            .rows_affected();
            // A failed or partial run and the drift it found are told, committed with it.
            if changed > 0 {
                for n in barter_core::notify::Notification::of_run(run) {
                    crate::notifications::enqueue_in::<codec::Backend>(&mut tx, &n)
                        .await
                        .with_action(action)?;
                }
            }
            tx.commit().await.with_action(action)?;
            changed
        });
        if changed == 0 {
            return Err(StoreError::UnknownRun(run.id));
        }
        Ok(())
    }

    /// The run with this id, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load run {id}"))?;
            row.as_ref().map(run_from_row).transpose()
        })
    }

    /// The latest `limit` runs, newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn runs(&self, limit: u32) -> Result<Vec<Run>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1");
            let rows = sqlx::query(&sql)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .action("list runs")?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// The latest run of `kind` (the highest id, running or not), if the job ever ran: what
    /// `barter status` reports per job without reading the other jobs' reports.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn latest_run(&self, kind: RunKind) -> Result<Option<Run>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql =
                format!("SELECT {RUN_COLUMNS} FROM runs WHERE kind = $1 ORDER BY id DESC LIMIT 1");
            let row = sqlx::query(&sql)
                .bind(kind.as_str())
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load the latest {} run", kind.as_str()))?;
            row.as_ref().map(run_from_row).transpose()
        })
    }

    /// Appends an entry to the history and returns its id; entries are never changed afterwards.
    /// The stored detail is bounded ([`bound_json`]).
    ///
    /// # Errors
    /// [`StoreError::UnknownRun`] when `run` names no run, [`StoreError::Database`] otherwise.
    pub async fn record_history(
        &self,
        run: Option<RunId>,
        at: DateTime<Utc>,
        kind: &str,
        symbol: Option<&Symbol>,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let result = on_db!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO history (run_id, recorded_at, kind, symbol, detail) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(run.map(|r| r.0))
            .bind(codec::timestamp(at))
            .bind(kind)
            .bind(symbol.map(Symbol::as_str))
            .bind(bound_json_text(detail))
            .fetch_one(pool)
            .await
            .with_action(|| format!("record {kind} in the history"))
            .and_then(|row| column(&row, "id").map_err(|e| StoreError::corrupt("history.id", e)))
        });
        match (result, run) {
            (Err(e), Some(run)) if e.is_foreign_key_violation() => Err(StoreError::UnknownRun(run)),
            (result, _) => result,
        }
    }

    /// The latest `limit` history entries, newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn history(&self, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
        self.history_filtered(&HistoryFilter {
            limit,
            ..HistoryFilter::default()
        })
        .await
    }

    /// The latest history entries matching `filter`, newest first (largest id first). Page
    /// through the whole history by passing the last returned id as the next
    /// [`HistoryFilter::before_id`].
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn history_filtered(
        &self,
        filter: &HistoryFilter,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = select_history::<codec::Backend>(filter)
                .build()
                .fetch_all(pool)
                .await
                .action("list the history")?;
            rows.iter().map(history_from_row).collect()
        })
    }

    /// The distinct kinds of the history entries, sorted (byte order on both backends).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn history_kinds(&self) -> Result<Vec<String>, StoreError> {
        let mut kinds = on_db!(&self.db, |pool| {
            let rows = sqlx::query("SELECT DISTINCT kind FROM history")
                .fetch_all(pool)
                .await
                .action("list the history kinds")?;
            rows.iter()
                .map(|row| column(row, "kind").map_err(|e| StoreError::corrupt("history.kind", e)))
                .collect::<Result<Vec<String>, _>>()?
        });
        // Sorted here, not by `ORDER BY`: PostgreSQL would sort by the database's collation.
        kinds.sort_unstable();
        Ok(kinds)
    }
}

/// `report` as the bounded JSON text [`Store::finish_run`] stores. Lists of strings are capped
/// only when the result still reads back as a [`RunReport`] (a list of days could not take the
/// `… and N more` line); otherwise only its strings are cut.
fn bounded_report(report: &RunReport) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(report)?;
    let bounded = bound_json(&value);
    if RunReport::deserialize(&bounded).is_ok() {
        return serde_json::to_string(&bounded);
    }
    serde_json::to_string(&bound_json_strings(&value))
}

/// `SELECT`s the history entries matching `filter`, newest first.
fn select_history<'a, DB>(filter: &'a HistoryFilter) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: for<'e> Encode<'e, DB> + Type<DB>,
    DateTime<Utc>: for<'e> Encode<'e, DB> + Type<DB>,
{
    // SQLite compares the RFC 3339 UTC text timestamps as text, which orders them by time:
    // every stored value has the same `+00:00` offset and 0, 3 or 6 fraction digits.
    let mut query = QueryBuilder::new(format!("SELECT {HISTORY_COLUMNS} FROM history WHERE true"));
    if let Some(symbol) = &filter.symbol {
        query.push(" AND symbol = ").push_bind(symbol.as_str());
    }
    if let Some(strategy) = &filter.strategy {
        query.push(" AND strategy = ").push_bind(strategy.as_str());
    }
    if let Some(kind) = &filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(since) = filter.since {
        query
            .push(" AND recorded_at >= ")
            .push_bind(crate::codec::timestamp(since));
    }
    if let Some(until) = filter.until {
        query
            .push(" AND recorded_at < ")
            .push_bind(crate::codec::timestamp(until));
    }
    if let Some(before) = filter.before_id {
        query.push(" AND id < ").push_bind(before);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    query
}

/// Rebuilds a [`Run`] from a row of [`RUN_COLUMNS`].
fn run_from_row<'r, R>(row: &'r R) -> Result<Run, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<&'r str>: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id = RunId(column(row, "id").map_err(|e| StoreError::corrupt("runs.id", e))?);
    let corrupt = |col: &str| {
        let what = format!("runs.{col} of run {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    Ok(Run {
        id,
        kind: parsed(row, "kind").map_err(corrupt("kind"))?,
        started_at: column(row, "started_at").map_err(corrupt("started_at"))?,
        finished_at: column(row, "finished_at").map_err(corrupt("finished_at"))?,
        status: parsed(row, "status").map_err(corrupt("status"))?,
        counts: json(row, "counts").map_err(corrupt("counts"))?,
        errors: json(row, "errors").map_err(corrupt("errors"))?,
        report: json_opt(row, "report").map_err(corrupt("report"))?,
    })
}

/// Rebuilds a [`HistoryEntry`] from its row.
fn history_from_row<'r, R>(row: &'r R) -> Result<HistoryEntry, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<&'r str>: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: i64 = column(row, "id").map_err(|e| StoreError::corrupt("history.id", e))?;
    let corrupt = |col: &str| {
        let what = format!("history.{col} of entry {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let symbol: Option<&str> = column(row, "symbol").map_err(corrupt("symbol"))?;
    let position: Option<i64> = column(row, "position_id").map_err(corrupt("position_id"))?;
    Ok(HistoryEntry {
        id,
        run: column::<_, Option<i64>>(row, "run_id")
            .map_err(corrupt("run_id"))?
            .map(RunId),
        recorded_at: column(row, "recorded_at").map_err(corrupt("recorded_at"))?,
        kind: column(row, "kind").map_err(corrupt("kind"))?,
        symbol: symbol
            .map(Symbol::parse)
            .transpose()
            .map_err(|e| corrupt("symbol")(e.to_string()))?,
        strategy: column(row, "strategy").map_err(corrupt("strategy"))?,
        position: position.map(PositionId),
        detail: json(row, "detail").map_err(corrupt("detail"))?,
    })
}
