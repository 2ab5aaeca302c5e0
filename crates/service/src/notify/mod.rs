//! Notifications, delivered after commit: routing the outbox's notifications to the channels
//! that want them, sending each with retries and backoff, the test message, the daily digest,
//! and reporting channels that keep failing. What is notified, and the outbox itself, live in
//! `barter_core::notify` and `barter_store::notifications`.
//!
//! Delivery never blocks or fails a trading job: the jobs only insert notifications in their own
//! transactions; a [`Notifier`] sends them afterwards (the CLI after each job, within a time
//! budget; the server in a background task) and a channel's failure stays in its deliveries.

pub mod channels;
pub mod digest;

use std::time::Duration as StdDuration;

use barter_core::RunId;
use barter_core::notify::{EventKind, Notification};
use barter_store::Store;
use barter_store::notifications::{ChannelHealth, ClaimedDelivery};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use serde::Serialize;

pub use crate::notify_config::{ChannelConfig, ChannelKind, SmtpSecurity};
pub use channels::{Attempt, Channel};

use crate::config::Config;

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 10;
/// The first wait before a retry; it doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: StdDuration = StdDuration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: StdDuration = StdDuration::from_secs(3600);
/// Notifications about events older than this when they are routed are not sent: a replay of
/// past days, or a backlog found after a long outage, would otherwise flood every channel.
pub const MAX_AGE: StdDuration = StdDuration::from_secs(36 * 3600);
/// How many notifications one pass routes at most.
const ROUTE_BATCH: u32 = 500;
/// The history kind recorded for a run when a channel keeps failing.
pub const EVENT_CHANNEL_FAILING: &str = "notification_channel_failing";

/// The configured channels and the HTTP client they share.
pub struct Notifier {
    channels: Vec<Channel>,
    /// Channels configured but unusable (a missing secret), in words.
    unusable: Vec<String>,
    public_url: Option<String>,
    client: reqwest::Client,
}

/// What one delivery pass did for one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelPass {
    /// The channel.
    pub channel: String,
    /// Deliveries it accepted.
    pub sent: u32,
    /// Deliveries that failed this time and wait for a retry.
    pub retrying: u32,
    /// Deliveries given up (refused, or out of attempts).
    pub given_up: u32,
    /// The last failure's words.
    pub last_error: Option<String>,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryPass {
    /// Notifications routed to their channels.
    pub routed: usize,
    /// Per channel.
    pub channels: Vec<ChannelPass>,
}

/// What a test message got from one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestOutcome {
    /// The channel.
    pub channel: String,
    /// Whether it accepted the message.
    pub accepted: bool,
    /// Its answer, or why it failed.
    pub answer: String,
}

impl Notifier {
    /// The channels of `config`; each channel's secret is read with `secret` (the environment
    /// in the binary: `BARTER_NOTIFY_<NAME>_SECRET`). A channel whose required secret is
    /// missing is left out and reported by [`Notifier::unusable`].
    pub fn new(config: &Config, secret: impl Fn(&str) -> Option<String>) -> Self {
        let mut channels = Vec::new();
        let mut unusable = Vec::new();
        for channel in &config.notify {
            match Channel::new(channel.clone(), secret(&channel.secret_var())) {
                Ok(channel) => channels.push(channel),
                Err(why) => unusable.push(why),
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("barter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(StdDuration::from_secs(10))
            // Redirects could carry a message (and a signed body) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|error| {
                // Only a TLS set-up failure gets here, which the default client shares.
                tracing::warn!("notification HTTP client: {error}; using the default client");
                reqwest::Client::new()
            });
        Self {
            channels,
            unusable,
            public_url: config.server.public_url.clone(),
            client,
        }
    }

    /// The channels of the environment's secrets (`BARTER_NOTIFY_<NAME>_SECRET`).
    pub fn from_env(config: &Config) -> Self {
        Self::new(config, |var| std::env::var(var).ok())
    }

    /// Whether no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.unusable.is_empty()
    }

    /// The usable channels' names.
    pub fn channel_names(&self) -> Vec<&str> {
        self.channels.iter().map(Channel::name).collect()
    }

    /// The channels configured but unusable, with why.
    pub fn unusable(&self) -> &[String] {
        &self.unusable
    }

    /// Routes the notifications not routed yet to the channels that want them; those about
    /// events older than [`MAX_AGE`] at `now` go nowhere. Returns how many were routed.
    ///
    /// # Errors
    /// A database failure.
    pub async fn route(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let mut routed = 0;
        loop {
            let batch = store.unrouted_notifications(ROUTE_BATCH).await?;
            let full = batch.len() == ROUTE_BATCH as usize;
            for (id, n) in &batch {
                let fresh = n.kind == EventKind::Test
                    || now.signed_duration_since(n.occurred_at) <= Duration::from_std(MAX_AGE)?;
                let channels: Vec<&str> = self
                    .channels
                    .iter()
                    .filter(|c| fresh && c.config.wants(n.kind, n.severity))
                    .map(Channel::name)
                    .collect();
                store.route_notification(*id, &channels, now).await?;
                routed += 1;
            }
            if !full {
                return Ok(routed);
            }
        }
    }

    /// Routes, then sends what is due to every channel, the channels side by side, until each
    /// has nothing due, fails (it is tried again after its backoff, not hammered now), or
    /// `budget` is spent.
    ///
    /// # Errors
    /// A database failure while routing.
    pub async fn deliver(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        budget: StdDuration,
    ) -> anyhow::Result<DeliveryPass> {
        let routed = self.route(store, now).await?;
        let deadline = tokio::time::Instant::now() + budget;
        let passes = join_all(
            self.channels
                .iter()
                .map(|channel| self.deliver_channel(store, channel, now, deadline)),
        )
        .await;
        Ok(DeliveryPass {
            routed,
            channels: passes,
        })
    }

    async fn deliver_channel(
        &self,
        store: &Store,
        channel: &Channel,
        now: DateTime<Utc>,
        deadline: tokio::time::Instant,
    ) -> ChannelPass {
        let mut pass = ChannelPass {
            channel: channel.name().to_owned(),
            ..ChannelPass::default()
        };
        let claim = claim_for(channel);
        while tokio::time::Instant::now() < deadline {
            let claimed = match store.claim_next_delivery(channel.name(), now, claim).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => break,
                Err(error) => {
                    pass.last_error = Some(format!("the outbox could not be read: {error}"));
                    break;
                }
            };
            let attempt = self.attempt(store, channel, &claimed, now).await;
            match attempt {
                Ok(Attempt::Accepted(_)) => pass.sent += 1,
                Ok(Attempt::Refused(error)) => {
                    pass.given_up += 1;
                    pass.last_error = Some(error);
                }
                Ok(Attempt::Retry { error, .. }) => {
                    if claimed.attempt >= MAX_ATTEMPTS {
                        pass.given_up += 1;
                    } else {
                        pass.retrying += 1;
                    }
                    pass.last_error = Some(error);
                    // A channel that fails is left alone until its backoff has passed.
                    break;
                }
                Err(error) => {
                    pass.last_error = Some(format!("the outcome could not be recorded: {error}"));
                    break;
                }
            }
        }
        pass
    }

    /// Sends claimed delivery `claimed` once and records what came of it.
    async fn attempt(
        &self,
        store: &Store,
        channel: &Channel,
        claimed: &ClaimedDelivery,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Attempt> {
        let outcome = channel
            .send(
                &self.client,
                &claimed.notification,
                self.public_url.as_deref(),
            )
            .await;
        match &outcome {
            Attempt::Accepted(answer) => {
                store.delivery_sent(claimed.id, Utc::now(), answer).await?
            }
            Attempt::Refused(error) => store.delivery_failed(claimed.id, error).await?,
            Attempt::Retry { error, .. } if claimed.attempt >= MAX_ATTEMPTS => {
                let error = format!("{error} (gave up after {MAX_ATTEMPTS} attempts)");
                store.delivery_failed(claimed.id, &error).await?;
            }
            Attempt::Retry { error, after } => {
                let wait = after.unwrap_or_else(|| backoff(claimed.attempt));
                let next = now + Duration::from_std(wait.max(StdDuration::from_secs(1)))?;
                store.delivery_retry(claimed.id, next, error).await?;
                // The channel's other messages wait as long: it is down, or asked to wait.
                store.hold_channel(&claimed.channel, next).await?;
            }
        }
        Ok(outcome)
    }

    /// Sends a test message to `only` (or every channel) now, through the outbox like any
    /// notification, and says what each answered.
    ///
    /// # Errors
    /// An unknown channel name, a database failure.
    pub async fn test(
        &self,
        store: &Store,
        only: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<TestOutcome>> {
        let selected: Vec<&Channel> = self
            .channels
            .iter()
            .filter(|c| only.is_none_or(|name| c.name() == name))
            .collect();
        if let Some(name) = only
            && selected.is_empty()
        {
            let known = self.channel_names().join(", ");
            anyhow::bail!(
                "no usable notification channel `{}` (configured and usable: {})",
                barter_http::excerpt(name),
                if known.is_empty() { "none" } else { &known }
            );
        }
        let mut outcomes = Vec::new();
        for channel in selected {
            let n = Notification::new(
                EventKind::Test,
                format!("test:{}:{}", channel.name(), now.timestamp_micros()),
                "Test message from Barter".to_owned(),
                now,
            )
            .line(format!(
                "channel `{}` ({}) is set up; sent by `barter notify test` at {}",
                channel.name(),
                channel.config.kind.as_str(),
                now.format("%Y-%m-%d %H:%M:%S UTC")
            ));
            let Some(id) = store.enqueue_notification(&n).await? else {
                continue;
            };
            let deliveries = store.route_notification(id, &[channel.name()], now).await?;
            let mut answer = String::from("not sent: another process took it");
            let mut accepted = false;
            for delivery in deliveries {
                if let Some(claimed) = store
                    .claim_delivery(delivery, now, claim_for(channel))
                    .await?
                {
                    match self.attempt(store, channel, &claimed, now).await? {
                        Attempt::Accepted(text) => {
                            accepted = true;
                            answer = text;
                        }
                        Attempt::Refused(error) => answer = format!("refused: {error}"),
                        Attempt::Retry { error, .. } => {
                            answer = format!("failed, will retry: {error}");
                        }
                    }
                }
            }
            outcomes.push(TestOutcome {
                channel: channel.name().to_owned(),
                accepted,
                answer,
            });
        }
        Ok(outcomes)
    }

    /// How each usable channel has been doing.
    ///
    /// # Errors
    /// A database failure.
    pub async fn health(&self, store: &Store) -> anyhow::Result<Vec<ChannelHealth>> {
        Ok(store.channel_health(&self.channel_names()).await?)
    }

    /// After a job: sends what is due within `budget`, then records a history entry on `run`
    /// for every channel that keeps failing (and every unusable one), so the run shows it.
    /// Returns the pass and the failing channels in words; never fails the job.
    pub async fn after_job(
        &self,
        store: &Store,
        run: Option<RunId>,
        budget: StdDuration,
    ) -> (Option<DeliveryPass>, Vec<String>) {
        if self.is_empty() {
            return (None, Vec::new());
        }
        let now = Utc::now();
        let pass = match self.deliver(store, now, budget).await {
            Ok(pass) => Some(pass),
            Err(error) => {
                tracing::warn!("notifications could not be delivered: {error:#}");
                None
            }
        };
        let mut failing: Vec<String> = self.unusable.clone();
        match self.health(store).await {
            Ok(health) => failing.extend(health.iter().filter(|h| h.failing()).map(describe)),
            Err(error) => tracing::warn!("notification channels could not be checked: {error:#}"),
        }
        for problem in &failing {
            let detail = serde_json::json!({ "problem": problem });
            if let Err(error) = store
                .record_history(run, now, EVENT_CHANNEL_FAILING, None, &detail)
                .await
            {
                tracing::warn!("could not record a failing notification channel: {error}");
            }
        }
        (pass, failing)
    }
}

/// After the day's close job: the daily digest into the outbox (once per UTC day). A failure
/// is logged, never the job's.
pub async fn after_close(store: &Store, config: &Config, now: DateTime<Utc>) {
    if let Err(error) = digest::enqueue(store, config, now).await {
        tracing::warn!("the daily digest could not be stored: {error:#}");
    }
}

/// A failing channel in words: which, since when, how many deliveries, the last error.
pub fn describe(health: &ChannelHealth) -> String {
    let since = health
        .failing_since
        .map(|at| format!(" since {}", at.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    format!(
        "notification channel `{}` is failing{since}: {} delivery(ies) not accepted ({} given up){}",
        health.channel,
        health.failing_deliveries,
        health.given_up,
        health
            .last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default()
    )
}

/// How long a claim holds: long enough for one attempt (e-mail takes up to three timeouts).
fn claim_for(channel: &Channel) -> Duration {
    Duration::seconds(i64::try_from(channel.config.timeout_secs).unwrap_or(60) * 4 + 30)
}

/// The wait after failed attempt number `attempt` (1-based): 30 s doubling, at most an hour.
pub fn backoff(attempt: u32) -> StdDuration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        assert_eq!(backoff(1), StdDuration::from_secs(30));
        assert_eq!(backoff(2), StdDuration::from_secs(60));
        assert_eq!(backoff(7), StdDuration::from_secs(1920));
        assert_eq!(backoff(8), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
