//! What a trading job writes, and the report it builds: decisions, opens and closes go to a
//! background writer task that stores them in order while the job goes on deciding.
//!
//! The job never waits for the database on the way: non-trading decisions are stored in
//! batches of [`FLUSH_EVERY`] per transaction, each open or close in its own transaction (the
//! store's exactly-once and crash-safety guarantees are unchanged). The job keeps its own
//! running cash; the store checks the cash again when it books each open, so a position the
//! account cannot pay for is never opened, whatever the job assumed.

use std::collections::BTreeMap;

use barter_core::{
    Day, DecisionItem, ExitReason, Fill, PositionId, Run, RunId, RunKind, RunReport, RunStatus,
    Symbol,
};
use barter_store::Store;
use barter_store::trading::{CloseOutcome, NewDecision, OpenOutcome};
use chrono::{DateTime, SubsecRound, Utc};

use crate::control::JobSignals;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many non-trading decisions are stored per transaction.
const FLUSH_EVERY: usize = 256;
/// How many writes may wait for the writer before the job waits for it.
const QUEUE: usize = 4_096;

/// One write for the background writer.
enum Write {
    /// A decision that trades nothing, reported as `label` once stored.
    Decision(NewDecision, &'static str),
    /// A passed entry and its buy fill: open a position.
    Open(NewDecision, Fill),
    /// A passed exit and its sell fill: close `position` for `reason`.
    Close {
        record: NewDecision,
        position: PositionId,
        fill: Fill,
        reason: ExitReason,
        why: String,
    },
}

/// A running job: its run record, the report items decided so far, and the writer.
pub(super) struct Journal {
    pub(super) run: RunId,
    items: Vec<DecisionItem>,
    /// The job stopped early when asked to.
    interrupted: bool,
    sender: Option<mpsc::Sender<Write>>,
    writer: JoinHandle<anyhow::Result<Vec<DecisionItem>>>,
    wall: crate::sync::WallClock,
    /// Renews the run's lease until the journal is dropped, after its run is finished.
    _heartbeat: crate::control::Heartbeat,
}

impl Journal {
    /// Records the start of a `kind` run and starts its writer.
    pub(super) async fn start(
        store: &Store,
        kind: RunKind,
        now: DateTime<Utc>,
        signals: &dyn JobSignals,
    ) -> anyhow::Result<Self> {
        let wall = crate::sync::WallClock::start();
        let run = store.start_run(kind, now).await?;
        let heartbeat = crate::control::Heartbeat::start(store, run);
        signals.run_started(run);
        let (sender, receiver) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_all(store.clone(), run, now, receiver));
        Ok(Self {
            run,
            items: Vec::new(),
            interrupted: false,
            sender: Some(sender),
            writer,
            wall,
            _heartbeat: heartbeat,
        })
    }

    /// Marks the run as stopped early on request: what it decided is stored, the rest is left
    /// for the next run.
    pub(super) fn interrupt(&mut self) {
        self.interrupted = true;
    }

    /// Reports an item that writes nothing (an error, no candle yet, already decided).
    pub(super) fn push(
        &mut self,
        strategy: &str,
        symbol: &Symbol,
        day: Option<Day>,
        outcome: &str,
        position: Option<i64>,
        explanation: String,
    ) {
        self.items
            .push(item(strategy, symbol, day, outcome, position, explanation));
    }

    /// Stores a decision that trades nothing (in a batch), reported as `label`, or as
    /// `already_decided` when an earlier run took it.
    pub(super) async fn record(
        &mut self,
        decision: NewDecision,
        label: &'static str,
    ) -> anyhow::Result<()> {
        self.send(Write::Decision(decision, label)).await
    }

    /// Opens a position for the passed entry `record` with `fill`.
    pub(super) async fn open(&mut self, record: NewDecision, fill: Fill) -> anyhow::Result<()> {
        self.send(Write::Open(record, fill)).await
    }

    /// Closes `position` for the passed exit `record` with `fill`; `why` explains the exit.
    pub(super) async fn close(
        &mut self,
        record: NewDecision,
        position: PositionId,
        fill: Fill,
        reason: ExitReason,
        why: String,
    ) -> anyhow::Result<()> {
        let write = Write::Close {
            record,
            position,
            fill,
            reason,
            why,
        };
        self.send(write).await
    }

    async fn send(&mut self, write: Write) -> anyhow::Result<()> {
        let sent = match &self.sender {
            Some(sender) => sender.send(write).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: it failed, and says why.
        self.sender = None;
        match (&mut self.writer).await {
            Ok(Err(error)) => Err(error),
            Ok(Ok(_)) => anyhow::bail!("the run's writer stopped early"),
            Err(error) => Err(anyhow::Error::new(error).context("the run's writer failed")),
        }
    }

    /// Waits for every write, then records the finished run with its report, in instrument
    /// order.
    pub(super) async fn finish(
        mut self,
        store: &Store,
        kind: RunKind,
        started: DateTime<Utc>,
    ) -> anyhow::Result<Run> {
        drop(self.sender.take());
        let written = (&mut self.writer)
            .await
            .map_err(|e| anyhow::Error::new(e).context("the run's writer failed"))??;
        let mut items = self.items;
        items.extend(written);
        items.sort_by(|a, b| {
            a.symbol
                .cmp(&b.symbol)
                .then_with(|| a.strategy.cmp(&b.strategy))
        });
        let failed = items.iter().filter(|i| i.outcome == "error").count();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for item in &items {
            *counts.entry(item.outcome.clone()).or_default() += 1;
        }
        let errors = items
            .iter()
            .filter(|i| i.outcome == "error")
            .map(|i| format!("{} {}: {}", i.strategy, i.symbol, i.explanation))
            .collect();
        let total = items.len();
        let report = match kind {
            RunKind::SyncClosePositions => RunReport::SyncClosePositions(items),
            _ => RunReport::SyncNewTrades(items),
        };
        let run = Run {
            id: self.run,
            kind,
            started_at: started.trunc_subsecs(6),
            finished_at: Some((started + self.wall.elapsed_delta()).trunc_subsecs(6)),
            status: if self.interrupted {
                RunStatus::Interrupted
            } else {
                RunStatus::from_outcomes(total, failed)
            },
            counts,
            errors,
            report: Some(report),
        };
        store.finish_run(&run).await?;
        Ok(run)
    }
}

fn item(
    strategy: &str,
    symbol: &Symbol,
    day: Option<Day>,
    outcome: &str,
    position: Option<i64>,
    explanation: String,
) -> DecisionItem {
    DecisionItem {
        strategy: strategy.to_owned(),
        symbol: symbol.clone(),
        day,
        outcome: outcome.to_owned(),
        position,
        explanation,
    }
}

/// The writer task: stores every write in the order received and returns their report items.
async fn write_all(
    store: Store,
    run: RunId,
    now: DateTime<Utc>,
    mut receiver: mpsc::Receiver<Write>,
) -> anyhow::Result<Vec<DecisionItem>> {
    let mut items = Vec::new();
    let mut pending: Vec<(NewDecision, &'static str)> = Vec::new();
    while let Some(write) = receiver.recv().await {
        match write {
            Write::Decision(decision, label) => {
                pending.push((decision, label));
                if pending.len() >= FLUSH_EVERY {
                    flush(&store, run, now, &mut pending, &mut items).await?;
                }
            }
            Write::Open(record, fill) => {
                items.push(open(&store, run, now, &record, &fill).await?);
            }
            Write::Close {
                record,
                position,
                fill,
                reason,
                why,
            } => {
                let outcome = store
                    .close_position(Some(run), &record, position, &fill, reason, now)
                    .await?;
                let (label, why) = match outcome {
                    CloseOutcome::Closed { realized_pnl } => (
                        "closed",
                        format!(
                            "{reason:?}: {why}; sold at {} on {}, realized P&L {realized_pnl}",
                            fill.price, fill.day
                        ),
                    ),
                    CloseOutcome::AlreadyDecided => (
                        "already_decided",
                        "this exit was decided by an earlier run".to_owned(),
                    ),
                    CloseOutcome::NotOpen => {
                        ("skipped", "the position was closed meanwhile".to_owned())
                    }
                };
                let (name, symbol, day) = (&record.strategy, &record.symbol, record.day);
                items.push(item(name, symbol, Some(day), label, Some(position.0), why));
            }
        }
    }
    flush(&store, run, now, &mut pending, &mut items).await?;
    Ok(items)
}

/// Opens the position of a passed entry and says what happened.
async fn open(
    store: &Store,
    run: RunId,
    now: DateTime<Utc>,
    record: &NewDecision,
    fill: &Fill,
) -> anyhow::Result<DecisionItem> {
    let (name, symbol, day) = (&record.strategy, &record.symbol, Some(record.day));
    Ok(
        match store.open_position(Some(run), record, fill, now).await? {
            OpenOutcome::Opened(id) => {
                let why = format!(
                    "bought {} {symbol} at {} on {} ({:?}), fee {}",
                    fill.quantity, fill.price, fill.day, fill.basis, fill.fee
                );
                item(name, symbol, day, "opened", Some(id.0), why)
            }
            OpenOutcome::AlreadyDecided => item(
                name,
                symbol,
                day,
                "already_decided",
                None,
                "this entry was decided by an earlier run".into(),
            ),
            OpenOutcome::AlreadyOpen => item(
                name,
                symbol,
                day,
                "skipped",
                None,
                format!("{name} already holds {symbol}"),
            ),
            OpenOutcome::Refused { needed, available } => item(
                name,
                symbol,
                day,
                "refused",
                None,
                format!("insufficient cash: needs {needed}, {available} available"),
            ),
        },
    )
}

/// Stores the queued decisions in one transaction and reports them.
async fn flush(
    store: &Store,
    run: RunId,
    now: DateTime<Utc>,
    pending: &mut Vec<(NewDecision, &'static str)>,
    items: &mut Vec<DecisionItem>,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let (decisions, labels): (Vec<NewDecision>, Vec<&'static str>) =
        std::mem::take(pending).into_iter().unzip();
    let stored = store.record_decisions(Some(run), &decisions, now).await?;
    for ((decision, label), fresh) in decisions.iter().zip(labels).zip(stored) {
        let explanation = decision.detail["explanation"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let outcome = if fresh { label } else { "already_decided" };
        items.push(item(
            &decision.strategy,
            &decision.symbol,
            Some(decision.day),
            outcome,
            None,
            explanation,
        ));
    }
    Ok(())
}
