//! The notification outbox: notifications stored with the events they report, routed to the
//! channels that want them, and the delivery of each to each channel.
//!
//! - **Committed with the event.** The ledger, the order outbox, the runs and the candle writer
//!   call `enqueue_in` inside the transaction that records the event, so a committed event is
//!   always told and a rolled-back one never is. `UNIQUE (event_key)` stores an event once
//!   however often it is recorded.
//! - **Sent after commit, at most one duplicate.** [`Store::claim_deliveries`] marks a delivery
//!   `sending` (a compare-and-set, so of two processes only one sends it) and commits before
//!   the caller sends. A process that dies between sending and [`Store::delivery_sent`] leaves
//!   the claim behind; once it expires the delivery is sent again, with the same idempotency
//!   key, so a receiver sees at most one duplicate and can drop it.
//! - **Never blocks a trade.** Nothing here runs inside a trading decision except the insert;
//!   delivery has its own rows and its own failures.

use barter_core::notify::{EventKind, Notification, Severity};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::bounds::bound_message;
use crate::codec::{column, timestamp};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// The most characters of a receiver's answer or an error kept per delivery.
pub const MAX_ANSWER_CHARS: usize = 300;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a process that is sending it (or died sending it).
    Sending,
    /// The channel accepted it.
    Sent,
    /// Given up after its last attempt.
    Failed,
}

impl DeliveryState {
    /// The name used in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(Self::Pending),
            "sending" => Ok(Self::Sending),
            "sent" => Ok(Self::Sent),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown delivery state `{other}`")),
        }
    }
}

/// A delivery claimed for sending: the notification and which attempt this is.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// The delivery's id.
    pub id: i64,
    /// The channel's name.
    pub channel: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// What to send.
    pub notification: Notification,
}

/// One delivery as listed by `barter notify list` and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// The delivery's id.
    pub id: i64,
    /// The channel's name.
    pub channel: String,
    /// The event's idempotency key.
    pub key: String,
    /// What happened.
    pub kind: EventKind,
    /// How serious it is.
    pub severity: Severity,
    /// The notification's title.
    pub title: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// Where the delivery stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: DateTime<Utc>,
    /// When the channel accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The start of the channel's last answer.
    pub answer: Option<String>,
}

/// Which delivery to claim.
enum Claim<'a> {
    /// The oldest due delivery of this channel.
    Channel(&'a str),
    /// This delivery.
    Id(i64),
}

/// How one channel has been doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelHealth {
    /// The channel's name.
    pub channel: String,
    /// When it last accepted a notification.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Deliveries attempted since then that it has not accepted (waiting or given up).
    pub failing_deliveries: u32,
    /// Deliveries given up on since its last success.
    pub given_up: u32,
    /// The first failed attempt since its last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last failure's words.
    pub last_error: Option<String>,
    /// Deliveries waiting to be sent (not attempted yet or due again).
    pub waiting: u32,
}

impl ChannelHealth {
    /// Whether the channel keeps failing: something it was sent since its last success failed.
    pub fn failing(&self) -> bool {
        self.failing_deliveries > 0
    }
}

/// Stores `n` in the caller's transaction unless its event was stored before; returns its new
/// id, `None` when it was stored before. The payload is redacted of every registered secret and bounded.
pub(crate) async fn enqueue_in<DB>(
    conn: &mut DB::Connection,
    n: &Notification,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Decode<'e, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut payload = serde_json::to_value(n).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    crate::secrets::redact_json(&mut payload);
    let payload = crate::bounds::bound_json_text(&payload);
    let key = bound_message(&n.key).into_owned();
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notifications (event_key, kind, severity, payload, occurred_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_key) DO NOTHING RETURNING id",
    )
    .bind(key.as_str())
    .bind(n.kind.as_str())
    .bind(n.severity.as_str())
    .bind(payload.as_str())
    .bind(timestamp(n.occurred_at))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(inserted)
}

/// Columns of a delivery joined with its notification.
const DELIVERY_COLUMNS: &str = "d.id, d.channel, d.state, d.attempts, d.next_attempt_at, \
     d.last_attempt_at, d.sent_at, d.last_error, d.answer, n.payload";

fn notification_of<R: Row>(row: &R) -> Result<Notification, StoreError>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'e> String: sqlx::Decode<'e, R::Database> + Type<R::Database>,
{
    let payload: String = column(row, "payload").map_err(corrupt("notifications.payload"))?;
    serde_json::from_str(&payload).map_err(|e| corrupt("notifications.payload")(e.to_string()))
}

fn corrupt(what: &'static str) -> impl Fn(String) -> StoreError {
    move |detail| StoreError::Corrupt {
        what: what.to_owned(),
        detail,
    }
}

/// `text` cut to [`MAX_ANSWER_CHARS`] and redacted.
fn bound_answer(text: &str) -> String {
    let redacted = crate::secrets::redact(text);
    let mut out: String = redacted.chars().take(MAX_ANSWER_CHARS).collect();
    if redacted.chars().count() > MAX_ANSWER_CHARS {
        out.push('…');
    }
    out
}

impl Store {
    /// Stores `n` in a transaction of its own (events that are not part of another write: the
    /// digest, a test message); returns its id, `None` when its event was stored before.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn enqueue_notification(&self, n: &Notification) -> Result<Option<i64>, StoreError> {
        let action = || format!("store notification {}", n.key);
        on_db!(&self.db, |pool| {
            let mut conn = pool.acquire().await.with_action(action)?;
            enqueue_in::<codec::Backend>(&mut conn, n)
                .await
                .with_action(action)
        })
    }

    /// Up to `limit` notifications not routed to their channels yet, oldest first.
    ///
    /// # Errors
    /// When the database cannot be read or a payload is unreadable.
    pub async fn unrouted_notifications(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, Notification)>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT id, payload FROM notifications WHERE routed_at IS NULL ORDER BY id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .action("read the notifications to route")?;
            rows.iter()
                .map(|row| {
                    let id: i64 = column(row, "id").map_err(corrupt("notifications.id"))?;
                    Ok((id, notification_of(row)?))
                })
                .collect()
        })
    }

    /// Creates a pending delivery of notification `id` to each of `channels` and marks it
    /// routed, in one transaction (routing it twice creates nothing twice); returns the new
    /// deliveries' ids.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn route_notification(
        &self,
        id: i64,
        channels: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let action = || format!("route notification {id}");
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let routed = sqlx::query(
                "UPDATE notifications SET routed_at = $2 WHERE id = $1 AND routed_at IS NULL",
            )
            .bind(id)
            .bind(timestamp(now))
            .execute(&mut *tx)
            .await
            .with_action(action)?
            .rows_affected();
            let mut deliveries = Vec::new();
            if routed > 0 {
                for channel in channels {
                    let delivery: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO notification_deliveries \
                         (notification_id, channel, state, attempts, next_attempt_at) \
                         VALUES ($1, $2, 'pending', 0, $3) \
                         ON CONFLICT (notification_id, channel) DO NOTHING RETURNING id",
                    )
                    .bind(id)
                    .bind(*channel)
                    .bind(timestamp(now))
                    .fetch_optional(&mut *tx)
                    .await
                    .with_action(action)?;
                    deliveries.extend(delivery);
                }
            }
            tx.commit().await.with_action(action)?;
            Ok(deliveries)
        })
    }

    /// Claims the oldest delivery to `channel` due at `now` (pending and due, or `sending`
    /// with an expired claim: the process sending it died) for `claim`, and returns it. The
    /// claim is a compare-and-set committed before this returns, so two processes never both
    /// hold one delivery.
    ///
    /// # Errors
    /// When the database cannot be read or written.
    pub async fn claim_next_delivery(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        claim: Duration,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        self.claim_one(Claim::Channel(channel), now, claim).await
    }

    /// Claims delivery `id` if it is due at `now`, as [`Store::claim_next_delivery`] does.
    ///
    /// # Errors
    /// When the database cannot be read or written.
    pub async fn claim_delivery(
        &self,
        id: i64,
        now: DateTime<Utc>,
        claim: Duration,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        self.claim_one(Claim::Id(id), now, claim).await
    }

    async fn claim_one(
        &self,
        which: Claim<'_>,
        now: DateTime<Utc>,
        claim: Duration,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        let now = timestamp(now);
        let until = timestamp(now + claim);
        let (filter, channel, id) = match which {
            Claim::Channel(channel) => ("d.channel = $2 AND $3 = 0", channel, 0),
            Claim::Id(id) => ("d.id = $3 AND $2 = ''", "", id),
        };
        on_db!(&self.db, |pool| {
            // A few rounds: a delivery another process claimed first is skipped for the next.
            for _ in 0..5 {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries d \
                     JOIN notifications n ON n.id = d.notification_id \
                     WHERE {filter} AND ((d.state = 'pending' AND d.next_attempt_at <= $1) \
                        OR (d.state = 'sending' AND d.claimed_until < $1)) \
                     ORDER BY d.id LIMIT 1"
                );
                let row = sqlx::query(&sql)
                    .bind(now)
                    .bind(channel)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .action("read the notifications due")?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let what = "notification_deliveries";
                let id: i64 = column(&row, "id").map_err(corrupt(what))?;
                let attempts: i32 = column(&row, "attempts").map_err(corrupt(what))?;
                let won = sqlx::query(
                    "UPDATE notification_deliveries SET state = 'sending', \
                     attempts = attempts + 1, claimed_until = $2, last_attempt_at = $3 \
                     WHERE id = $1 AND attempts = $4 \
                     AND ((state = 'pending' AND next_attempt_at <= $3) \
                        OR (state = 'sending' AND claimed_until < $3))",
                )
                .bind(id)
                .bind(until)
                .bind(now)
                .bind(attempts)
                .execute(pool)
                .await
                .action("claim a notification delivery")?
                .rows_affected();
                if won == 0 {
                    continue;
                }
                return Ok(Some(ClaimedDelivery {
                    id,
                    channel: column(&row, "channel").map_err(corrupt(what))?,
                    attempt: u32::try_from(attempts).unwrap_or(0).saturating_add(1),
                    notification: notification_of(&row)?,
                }));
            }
            Ok(None)
        })
    }

    /// Records that the channel accepted delivery `id`, with the start of its answer.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn delivery_sent(
        &self,
        id: i64,
        now: DateTime<Utc>,
        answer: &str,
    ) -> Result<(), StoreError> {
        self.finish_attempt(id, "sent", None, Some(now), None, Some(answer))
            .await
    }

    /// Records that an attempt of delivery `id` failed with `error`; it is tried again at
    /// `next_at`.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn delivery_retry(
        &self,
        id: i64,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish_attempt(id, "pending", Some(next_at), None, Some(error), None)
            .await
    }

    /// Holds every pending delivery to `channel` until `until` at the earliest: a channel
    /// that failed or asked to wait (429) gets nothing before then, in the order they came.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn hold_channel(
        &self,
        channel: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, |pool| {
            sqlx::query(
                "UPDATE notification_deliveries SET next_attempt_at = $2 \
                 WHERE channel = $1 AND state = 'pending' AND next_attempt_at < $2",
            )
            .bind(channel)
            .bind(timestamp(until))
            .execute(pool)
            .await
            .with_action(|| format!("hold the deliveries to channel {channel}"))?;
            Ok(())
        })
    }

    /// Records that delivery `id` is given up after its last attempt failed with `error`.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn delivery_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.finish_attempt(id, "failed", None, None, Some(error), None)
            .await
    }

    async fn finish_attempt(
        &self,
        id: i64,
        state: &str,
        next_at: Option<DateTime<Utc>>,
        sent_at: Option<DateTime<Utc>>,
        error: Option<&str>,
        answer: Option<&str>,
    ) -> Result<(), StoreError> {
        let action = || format!("record the outcome of notification delivery {id}");
        on_db!(&self.db, |pool| {
            // Only the claimant's own `sending` row moves: a delivery another process already
            // finished stays as it is.
            sqlx::query(
                "UPDATE notification_deliveries SET state = $2, \
                 next_attempt_at = COALESCE($3, next_attempt_at), sent_at = $4, \
                 last_error = COALESCE($5, last_error), answer = COALESCE($6, answer), \
                 claimed_until = NULL WHERE id = $1 AND state = 'sending'",
            )
            .bind(id)
            .bind(state)
            .bind(next_at.map(timestamp))
            .bind(sent_at.map(timestamp))
            .bind(error.map(bound_answer))
            .bind(answer.map(bound_answer))
            .execute(pool)
            .await
            .with_action(action)?;
            Ok(())
        })
    }

    /// The latest `limit` deliveries, newest first, of `channel` or of every channel.
    ///
    /// # Errors
    /// When the database cannot be read or a row is unreadable.
    pub async fn deliveries(
        &self,
        channel: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        on_db!(&self.db, |pool| {
            // Two texts rather than `$1 IS NULL OR …`: PostgreSQL cannot type a bare NULL.
            let filter = if channel.is_some() {
                "d.channel = $2"
            } else {
                "$2 = ''"
            };
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries d \
                 JOIN notifications n ON n.id = d.notification_id \
                 WHERE {filter} ORDER BY d.id DESC LIMIT $1"
            );
            let rows = sqlx::query(&sql)
                .bind(i64::from(limit))
                .bind(channel.unwrap_or(""))
                .fetch_all(pool)
                .await
                .action("list the notification deliveries")?;
            rows.iter()
                .map(|row| {
                    let n = notification_of(row)?;
                    let what = "notification_deliveries";
                    let state: String = column(row, "state").map_err(corrupt(what))?;
                    let attempts: i32 = column(row, "attempts").map_err(corrupt(what))?;
                    Ok(DeliveryRecord {
                        id: column(row, "id").map_err(corrupt(what))?,
                        channel: column(row, "channel").map_err(corrupt(what))?,
                        key: n.key,
                        kind: n.kind,
                        severity: n.severity,
                        title: n.title,
                        occurred_at: n.occurred_at,
                        state: DeliveryState::parse(&state).map_err(corrupt(what))?,
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        last_attempt_at: column(row, "last_attempt_at").map_err(corrupt(what))?,
                        next_attempt_at: column(row, "next_attempt_at").map_err(corrupt(what))?,
                        sent_at: column(row, "sent_at").map_err(corrupt(what))?,
                        last_error: column(row, "last_error").map_err(corrupt(what))?,
                        answer: column(row, "answer").map_err(corrupt(what))?,
                    })
                })
                .collect()
        })
    }

    /// How each of `channels` has been doing: its last success, and what failed since.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn channel_health(
        &self,
        channels: &[&str],
    ) -> Result<Vec<ChannelHealth>, StoreError> {
        let mut out = Vec::with_capacity(channels.len());
        for channel in channels {
            let what = "notification_deliveries";
            let health = on_db!(&self.db, |pool| {
                let last = sqlx::query(
                    "SELECT id, sent_at FROM notification_deliveries \
                     WHERE channel = $1 AND state = 'sent' ORDER BY id DESC LIMIT 1",
                )
                .bind(*channel)
                .fetch_optional(pool)
                .await
                .action("read a channel's last delivery")?;
                let (last_id, last_sent_at): (i64, Option<DateTime<Utc>>) = match &last {
                    Some(row) => (
                        column(row, "id").map_err(corrupt(what))?,
                        column(row, "sent_at").map_err(corrupt(what))?,
                    ),
                    None => (0, None),
                };
                let failing = sqlx::query(
                    "SELECT state, last_attempt_at, last_error FROM notification_deliveries \
                     WHERE channel = $1 AND id > $2 AND attempts > 0 AND state IN ('pending', 'failed') \
                     ORDER BY id",
                )
                .bind(*channel)
                .bind(last_id)
                .fetch_all(pool)
                .await
                .action("read a channel's failed deliveries")?;
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM notification_deliveries \
                     WHERE channel = $1 AND state IN ('pending', 'sending')",
                )
                .bind(*channel)
                .fetch_one(pool)
                .await
                .action("count a channel's waiting deliveries")?;
                let mut given_up = 0;
                let mut failing_since: Option<DateTime<Utc>> = None;
                let mut last_error = None;
                for row in &failing {
                    let state: String = column(row, "state").map_err(corrupt(what))?;
                    given_up += u32::from(state == "failed");
                    let at: Option<DateTime<Utc>> =
                        column(row, "last_attempt_at").map_err(corrupt(what))?;
                    failing_since = match (failing_since, at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let error: Option<String> = column(row, "last_error").map_err(corrupt(what))?;
                    if error.is_some() {
                        last_error = error;
                    }
                }
                ChannelHealth {
                    channel: (*channel).to_owned(),
                    last_sent_at,
                    failing_deliveries: u32::try_from(failing.len()).unwrap_or(u32::MAX),
                    given_up,
                    failing_since,
                    last_error,
                    waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
                }
            });
            out.push(health);
        }
        Ok(out)
    }
}
