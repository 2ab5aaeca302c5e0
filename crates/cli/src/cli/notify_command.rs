//! `barter notify test|list`, and the delivery of notifications after each job: the job's
//! result is settled first; sending then takes at most [`AFTER_JOB_BUDGET`] and never changes
//! the job's exit status.

use std::process::ExitCode;
use std::time::Duration;

use barter_service::config::Config;
use barter_service::notify::Notifier;
use barter_store::Store;
use barter_store::notifications::{ChannelHealth, DeliveryRecord};
use chrono::Utc;
use clap::Subcommand;
use serde::Serialize;

use super::output::{print_json, table};

/// How long a command waits for the channels after its job.
pub const AFTER_JOB_BUDGET: Duration = Duration::from_secs(20);

/// `barter notify ...`.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to every channel (or one) and show what each answered (exit status
    /// 1 when one did not accept it).
    Test {
        /// Only this channel.
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// Show each channel's state and the recent deliveries, newest first.
    List {
        /// Only this channel's deliveries.
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
        /// How many deliveries (1 to 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
}

/// `barter notify list --json`.
#[derive(Serialize)]
struct Listing<'a> {
    channels: &'a [ChannelHealth],
    unusable: &'a [String],
    deliveries: &'a [DeliveryRecord],
}

/// Runs `barter notify ...`.
pub(super) async fn run(
    json: bool,
    config: &Config,
    store: &Store,
    command: &NotifyCommand,
) -> anyhow::Result<ExitCode> {
    let notifier = Notifier::from_env(config);
    for problem in notifier.unusable() {
        eprintln!("warning: {problem}");
    }
    match command {
        NotifyCommand::Test { channel } => {
            if notifier.channel_names().is_empty() {
                anyhow::bail!(
                    "no usable notification channel: add a [[notify]] entry to barter.toml \
                     (see docs/NOTIFICATIONS.md)"
                );
            }
            let outcomes = notifier.test(store, channel.as_deref(), Utc::now()).await?;
            if json {
                print_json(&outcomes)?;
            } else {
                let rows: Vec<Vec<String>> = outcomes
                    .iter()
                    .map(|o| {
                        vec![
                            o.channel.clone(),
                            if o.accepted { "accepted" } else { "FAILED" }.to_owned(),
                            o.answer.clone(),
                        ]
                    })
                    .collect();
                table(&["CHANNEL", "RESULT", "ANSWER"], &rows)?;
            }
            // An unusable channel fails the test of every channel, not the test of another one.
            let all = outcomes.iter().all(|o| o.accepted)
                && (channel.is_some() || notifier.unusable().is_empty());
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        NotifyCommand::List { channel, limit } => {
            let health = notifier.health(store).await?;
            let deliveries = store.deliveries(channel.as_deref(), *limit).await?;
            if json {
                print_json(&Listing {
                    channels: &health,
                    unusable: notifier.unusable(),
                    deliveries: &deliveries,
                })?;
                return Ok(ExitCode::SUCCESS);
            }
            if health.is_empty() && notifier.unusable().is_empty() {
                outln!("no notification channels configured ([[notify]] in barter.toml)")?;
            }
            let rows: Vec<Vec<String>> = health
                .iter()
                .map(|h| {
                    vec![
                        h.channel.clone(),
                        if h.failing() { "FAILING" } else { "ok" }.to_owned(),
                        h.last_sent_at
                            .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339()),
                        h.waiting.to_string(),
                        h.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                table(
                    &["CHANNEL", "STATE", "LAST SENT", "WAITING", "LAST ERROR"],
                    &rows,
                )?;
                outln!()?;
            }
            if deliveries.is_empty() {
                outln!("no deliveries yet")?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = deliveries
                .iter()
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        d.channel.clone(),
                        d.kind.as_str().to_owned(),
                        d.state.as_str().to_owned(),
                        d.attempts.to_string(),
                        d.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
                        d.title.clone(),
                        d.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                &[
                    "ID",
                    "CHANNEL",
                    "EVENT",
                    "STATE",
                    "TRIES",
                    "WHEN",
                    "TITLE",
                    "LAST ERROR",
                ],
                &rows,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// After a job: the digest when the close job ran, then what is due to every channel within
/// [`AFTER_JOB_BUDGET`]; a failing channel is reported on standard error and in the run's
/// history. Nothing here changes the job's outcome.
pub(super) async fn after_job(config: &Config, store: &Store, close_ran: bool) {
    if config.notify.is_empty() {
        return;
    }
    if close_ran {
        barter_service::notify::after_close(store, config, Utc::now()).await;
    }
    let notifier = Notifier::from_env(config);
    let run = store
        .runs(1)
        .await
        .ok()
        .and_then(|runs| runs.first().map(|r| r.id));
    let (_, failing) = notifier.after_job(store, run, AFTER_JOB_BUDGET).await;
    for problem in failing {
        eprintln!("warning: {problem}");
    }
}
