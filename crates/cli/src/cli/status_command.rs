//! `barter status`: health at a glance, and an exit status a cron line or a monitoring check
//! can read: [`HEALTHY`], [`NEEDS_ATTENTION`] or [`UNKNOWN`].

use std::process::ExitCode;

use barter_service::status::{StatusOptions, StatusReport, ago, status};
use barter_store::Store;
use chrono::{DateTime, Utc};

use super::output::{print_json, table};

/// Exit status: nothing needs attention.
pub const HEALTHY: u8 = 0;
/// Exit status: something needs attention (the report lists it).
pub const NEEDS_ATTENTION: u8 = 1;
/// Exit status: the status could not be read (the config or the database).
pub const UNKNOWN: u8 = 2;

/// Reads and prints the status as of `now`; the exit status says whether it is healthy.
///
/// # Errors
/// When the database cannot be read or the output cannot be written.
pub(super) async fn run(
    json: bool,
    config: &barter_service::Config,
    store: &Store,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let report = status(config, store, now, StatusOptions::default()).await?;
    if json {
        print_json(&report)?;
    } else {
        print(&report)?;
    }
    Ok(ExitCode::from(if report.healthy {
        HEALTHY
    } else {
        NEEDS_ATTENTION
    }))
}

/// The report for people: one line per job, instruments, positions, accounts, halt, schedule,
/// then what needs attention.
fn print(report: &StatusReport) -> anyhow::Result<()> {
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    outln!(
        "status at {}: {}",
        at(report.checked_at),
        if report.healthy {
            "healthy".to_owned()
        } else {
            format!("{} item(s) need attention", report.attention.len())
        }
    )?;
    outln!()?;
    let rows: Vec<Vec<String>> = report
        .jobs
        .iter()
        .map(|job| match &job.last_run {
            None => vec![
                job.job.as_str().to_owned(),
                "never ran".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ],
            Some(run) => vec![
                job.job.as_str().to_owned(),
                run.status.as_str().to_owned(),
                format!("#{}", run.id),
                format!("{} ({})", at(run.started_at), ago(run.ago_secs)),
                run.duration_ms
                    .map_or("-".to_owned(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
            ],
        })
        .collect();
    table(&["JOB", "LAST RUN", "RUN", "STARTED", "TOOK"], &rows)?;
    outln!()?;
    let i = &report.instruments;
    outln!(
        "instruments: {} active, {} current, {} need attention",
        i.active,
        i.current,
        i.attention.len()
    )?;
    let p = &report.positions;
    let per_strategy: Vec<String> = p
        .by_strategy
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    outln!(
        "open positions: {}{}",
        p.open,
        if per_strategy.is_empty() {
            String::new()
        } else {
            format!(" ({})", per_strategy.join(", "))
        }
    )?;
    for account in &report.accounts {
        let state = match (&account.error, account.drift.len()) {
            (Some(_), _) => "cannot read the venue".to_owned(),
            (None, 0) => "reconciled".to_owned(),
            (None, n) => format!("{n} asset(s) drift"),
        };
        outln!(
            "account {}: {}, {} open, {state}",
            account.name,
            barter_service::reconcile::cash_line(account),
            account.open_positions
        )?;
    }
    outln!("{}", barter_service::halt::describe(&report.halt))?;
    match (&report.schedule.next, report.schedule.configured) {
        (Some(next), _) => outln!(
            "next scheduled run: {} at {} (run by `barter serve`)",
            next.job,
            at(next.at)
        )?,
        (None, true) => outln!("next scheduled run: none")?,
        (None, false) => {
            outln!("next scheduled run: no [schedule] configured (an external cron runs the jobs)")?
        }
    }
    if !report.attention.is_empty() {
        outln!()?;
        outln!("needs attention:")?;
        for item in &report.attention {
            outln!("  {:<8}  {}", item.severity.as_str(), item.message)?;
        }
    }
    Ok(())
}
