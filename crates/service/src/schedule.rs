//! The job scheduler: `[schedule]` cron expressions (UTC) and the loop that runs them.
//!
//! Expressions have exactly 5 fields (`minute hour day-of-month month day-of-week`), parsed by
//! `croner` with seconds disallowed, so `"10 0 * * *"` is 00:10 UTC every day. croner's extras
//! are accepted too: names (`MON`, `JAN`), `@daily`-style nicknames, `?`, `L`, `W` and `#`.
//! A 6-field (seconds) or 7-field (year) expression is refused.
//!
//! The loop is built for catch-up: it asks the [`JobRunner`] when each job last ran (the
//! database, so it survives restarts), runs every missed occurrence within the catch-up window
//! oldest first, then sleeps until the next one. Time comes from a [`Clock`] so tests can
//! drive it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use futures_util::FutureExt as _;

use crate::control::Job;

/// How far back missed runs are caught up when `catch_up_days` is not set.
pub const DEFAULT_CATCH_UP_DAYS: u32 = 7;

/// `[schedule]` in barter.toml: cron expressions in UTC (5 fields, e.g. "10 0 * * *"), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When to run `sync_data`.
    pub sync_data: Option<String>,
    /// When to run `sync_new_trades`.
    pub sync_new_trades: Option<String>,
    /// When to run `sync_close_positions`.
    pub sync_close_positions: Option<String>,
    /// When to run all three jobs in order.
    pub run: Option<String>,
    /// How far back missed runs are caught up, in days (default 7 when None).
    pub catch_up_days: Option<u32>,
}

/// Why a schedule is invalid: names the key and the expression and the parser's reason.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A cron expression that croner refused (or that does not have 5 fields).
    #[error("`{key}` = {expression:?} is not a valid 5-field cron expression: {reason}")]
    InvalidExpression {
        /// The configuration key, e.g. `schedule.run`.
        key: String,
        /// The expression as written.
        expression: String,
        /// The parser's reason.
        reason: String,
    },
}

/// One configured job.
#[derive(Debug, Clone)]
struct Entry {
    job: Job,
    expression: String,
    cron: Cron,
}

/// The parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// In [`Job::ALL`] order, which makes ties resolve in that order.
    entries: Vec<Entry>,
    catch_up_days: u32,
}

impl Schedule {
    /// Parses every expression; a config with none set gives an empty schedule (`is_empty()`).
    pub fn from_config(config: &ScheduleConfig) -> Result<Self, ScheduleError> {
        // Seconds disallowed: a stray sixth field would otherwise silently mean "seconds".
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        let mut entries = Vec::new();
        for job in Job::ALL {
            let Some(expression) = config.expression(job) else {
                continue;
            };
            let cron = parser
                .parse(expression)
                .map_err(|e| ScheduleError::InvalidExpression {
                    key: format!("schedule.{job}"),
                    expression: expression.to_owned(),
                    reason: e.to_string(),
                })?;
            entries.push(Entry {
                job,
                expression: expression.to_owned(),
                cron,
            });
        }
        Ok(Schedule {
            entries,
            catch_up_days: config.catch_up_days.unwrap_or(DEFAULT_CATCH_UP_DAYS),
        })
    }

    /// Whether no job is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How far back missed runs are caught up, in days.
    pub fn catch_up_days(&self) -> u32 {
        self.catch_up_days
    }

    /// The jobs and their expressions, for display.
    pub fn entries(&self) -> Vec<(Job, String)> {
        self.entries
            .iter()
            .map(|e| (e.job, e.expression.clone()))
            .collect()
    }

    /// The next occurrence strictly after `after`, over all jobs (earliest first; ties in the order
    /// sync_data, sync_new_trades, sync_close_positions, run).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<(Job, DateTime<Utc>)> {
        self.entries
            .iter()
            .filter_map(|e| Some((next_strictly_after(&e.cron, after)?, e.job)))
            .min()
            .map(|(at, job)| (job, at))
    }

    /// Catch-up: every occurrence of `job` strictly after `last_done` and at or before `now`,
    /// oldest first, but not older than `now - catch_up_days`. `last_done = None` (never ran)
    /// gives an empty list: a fresh install does not replay history.
    pub fn missed(
        &self,
        job: Job,
        last_done: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let (Some(entry), Some(last_done)) =
            (self.entries.iter().find(|e| e.job == job), last_done)
        else {
            return Vec::new();
        };
        let window_start = now
            .checked_sub_signed(TimeDelta::days(i64::from(self.catch_up_days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // Start the search just before the window rather than at an old `last_done`, so a long
        // outage does not walk through years of occurrences.
        let mut cursor = last_done.max(window_start - TimeDelta::seconds(1));
        let mut missed = Vec::new();
        while let Some(at) = next_strictly_after(&entry.cron, cursor) {
            if at > now {
                break;
            }
            // croner works in whole seconds, so the step back above can land one early.
            if at >= window_start {
                missed.push(at);
            }
            cursor = at;
        }
        missed
    }
}

impl ScheduleConfig {
    fn expression(&self, job: Job) -> Option<&str> {
        match job {
            Job::SyncData => self.sync_data.as_deref(),
            Job::SyncNewTrades => self.sync_new_trades.as_deref(),
            Job::SyncClosePositions => self.sync_close_positions.as_deref(),
            Job::Run => self.run.as_deref(),
        }
    }
}

/// `None` when the pattern never matches (e.g. `0 0 30 2 *`): such a job is simply never due.
fn next_strictly_after(cron: &Cron, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Exclusive search starts at the next whole second, which is strictly after `after` even
    // when it has a fractional part.
    cron.find_next_occurrence(&after, false).ok()
}

/// A clock the scheduler loop reads and sleeps on, so tests can control time.
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Sleeps until `until` (returns immediately if it is past).
    async fn sleep_until(&self, until: DateTime<Utc>);
}

/// The real UTC clock (tokio sleep).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// Longest single nap: tokio sleeps on the monotonic clock, which stops while the machine is
/// suspended and ignores wall-clock corrections, so the wall clock is re-read at least this often.
const MAX_NAP: Duration = Duration::from_secs(60);

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, until: DateTime<Utc>) {
        // A negative remainder fails `to_std`: the moment has passed.
        while let Ok(left) = (until - Utc::now()).to_std() {
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(MAX_NAP)).await;
        }
    }
}

/// What the loop asks of the application: when a job last ran (from the database, so catch-up
/// survives restarts) and to run one job "as of" a scheduled moment.
#[async_trait::async_trait]
pub trait JobRunner: Send + Sync {
    /// The scheduled moment of the last completed run of `job`, if any.
    async fn last_done(&self, job: Job) -> anyhow::Result<Option<DateTime<Utc>>>;
    /// Runs `job` as if it were `at` (the scheduled moment). Errors are logged by the loop, not fatal.
    async fn run(&self, job: Job, at: DateTime<Utc>) -> anyhow::Result<()>;
}

/// The scheduler loop: on start and after each tick, runs every missed occurrence of every job
/// (oldest first across jobs, each once), then sleeps until the next occurrence and runs it;
/// stops when `shutdown` resolves (checked between runs and while sleeping; a run in progress
/// is finished, not cancelled).
///
/// Each occurrence is attempted at most once per process, even if it fails or the runner does
/// not record it: a failed occurrence is retried only by catch-up after a restart. A job that
/// never ran starts counting from the loop's start.
pub async fn run_scheduler(
    schedule: &Schedule,
    clock: &dyn Clock,
    runner: &dyn JobRunner,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    let start = clock.now();
    // The newest occurrence attempted per job, so neither a failure nor a runner that lags in
    // recording `last_done` can make the loop run an occurrence twice.
    let mut attempted: HashMap<Job, DateTime<Utc>> = HashMap::new();

    loop {
        let now = clock.now();
        let mut due = Vec::new();
        for (job, _) in schedule.entries() {
            let recorded = match runner.last_done(job).await {
                Ok(recorded) => recorded,
                Err(error) => {
                    // Fall back on what this process knows rather than stopping the scheduler.
                    let error = format!("{error:#}");
                    tracing::warn!(%job, error, "could not read when the job last ran");
                    None
                }
            };
            let last = recorded.max(attempted.get(&job).copied()).unwrap_or(start);
            due.extend(
                schedule
                    .missed(job, Some(last), now)
                    .into_iter()
                    .map(|at| (at, job)),
            );
        }

        if due.is_empty() {
            let Some((job, at)) = schedule.next_after(now) else {
                shutdown.await;
                return Ok(());
            };
            tracing::debug!(%job, %at, "sleeping until the next scheduled run");
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = clock.sleep_until(at) => {}
            }
            // The occurrence is now at or before `now`, so the next pass runs it as due.
            continue;
        }

        // (time, job) order: oldest first, ties in Job::ALL order.
        due.sort();
        for (at, job) in due {
            if shutdown.as_mut().now_or_never().is_some() {
                return Ok(());
            }
            tracing::info!(%job, %at, "running scheduled job");
            if let Err(error) = runner.run(job, at).await {
                tracing::warn!(%job, %at, error = format!("{error:#}"), "scheduled job failed");
            }
            attempted.insert(job, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use chrono::TimeZone as _;
    use tokio::sync::oneshot;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid date")
    }

    fn daily(catch_up_days: Option<u32>) -> Schedule {
        Schedule::from_config(&ScheduleConfig {
            run: Some("10 0 * * *".to_owned()),
            catch_up_days,
            ..ScheduleConfig::default()
        })
        .expect("valid schedule")
    }

    /// Time stands still until the loop sleeps; sleeping jumps to the target instantly. Sleeping
    /// past `stop_at` fires the shutdown signal instead, which is how the tests end a loop.
    struct FakeClock {
        now: Mutex<DateTime<Utc>>,
        stop_at: DateTime<Utc>,
        stop: Mutex<Option<oneshot::Sender<()>>>,
        /// Extra time added to the first sleep only: the machine "was down".
        oversleep_once: Mutex<Option<TimeDelta>>,
    }

    impl FakeClock {
        fn new(now: DateTime<Utc>, stop_at: DateTime<Utc>) -> (Self, oneshot::Receiver<()>) {
            let (tx, rx) = oneshot::channel();
            let clock = FakeClock {
                now: Mutex::new(now),
                stop_at,
                stop: Mutex::new(Some(tx)),
                oversleep_once: Mutex::new(None),
            };
            (clock, rx)
        }
    }

    #[async_trait::async_trait]
    impl Clock for FakeClock {
        fn now(&self) -> DateTime<Utc> {
            *self.now.lock().expect("clock lock")
        }

        async fn sleep_until(&self, until: DateTime<Utc>) {
            if until > self.stop_at {
                if let Some(stop) = self.stop.lock().expect("stop lock").take() {
                    let _ = stop.send(());
                }
                std::future::pending::<()>().await;
            }
            let extra = self
                .oversleep_once
                .lock()
                .expect("oversleep lock")
                .take()
                .unwrap_or_default();
            let mut now = self.now.lock().expect("clock lock");
            *now = (*now).max(until) + extra;
        }
    }

    #[derive(Default)]
    struct FakeRunner {
        calls: Mutex<Vec<(Job, DateTime<Utc>)>>,
        last: Mutex<HashMap<Job, DateTime<Utc>>>,
        failing: HashSet<DateTime<Utc>>,
        /// When false, successes are not recorded (a runner whose bookkeeping lags).
        forgetful: bool,
        /// Fired by the first run, to shut down in the middle of a catch-up.
        stop_on_first_run: Mutex<Option<oneshot::Sender<()>>>,
    }

    impl FakeRunner {
        fn with_last(job: Job, at: DateTime<Utc>) -> Self {
            let runner = FakeRunner::default();
            runner.last.lock().expect("last lock").insert(job, at);
            runner
        }

        fn calls(&self) -> Vec<(Job, DateTime<Utc>)> {
            self.calls.lock().expect("calls lock").clone()
        }
    }

    #[async_trait::async_trait]
    impl JobRunner for FakeRunner {
        async fn last_done(&self, job: Job) -> anyhow::Result<Option<DateTime<Utc>>> {
            Ok(self.last.lock().expect("last lock").get(&job).copied())
        }

        async fn run(&self, job: Job, at: DateTime<Utc>) -> anyhow::Result<()> {
            self.calls.lock().expect("calls lock").push((job, at));
            if let Some(stop) = self.stop_on_first_run.lock().expect("stop lock").take() {
                let _ = stop.send(());
            }
            if self.failing.contains(&at) {
                anyhow::bail!("boom");
            }
            if !self.forgetful {
                self.last.lock().expect("last lock").insert(job, at);
            }
            Ok(())
        }
    }

    async fn run_with(
        schedule: &Schedule,
        clock: &FakeClock,
        stopped: oneshot::Receiver<()>,
        runner: &FakeRunner,
    ) {
        let shutdown = async move {
            let _ = stopped.await;
        };
        tokio::time::timeout(
            Duration::from_secs(5),
            run_scheduler(schedule, clock, runner, shutdown),
        )
        .await
        .expect("loop stopped")
        .expect("loop ok");
    }

    #[test]
    fn invalid_expression_names_key_and_text() {
        let config = ScheduleConfig {
            sync_data: Some("10 0 * * *".to_owned()),
            run: Some("61 0 * * *".to_owned()),
            ..ScheduleConfig::default()
        };
        let message = Schedule::from_config(&config)
            .expect_err("minute 61")
            .to_string();
        assert!(message.contains("schedule.run"), "{message}");
        assert!(message.contains("61 0 * * *"), "{message}");
    }

    #[test]
    fn six_and_seven_fields_are_refused() {
        for expression in ["0 10 0 * * *", "0 10 0 * * * 2030", "10 0 * *", ""] {
            let config = ScheduleConfig {
                sync_new_trades: Some(expression.to_owned()),
                ..ScheduleConfig::default()
            };
            let error = Schedule::from_config(&config).expect_err(expression);
            assert!(
                error.to_string().contains("schedule.sync_new_trades"),
                "{error}"
            );
        }
    }

    #[test]
    fn croner_extras_are_accepted() {
        for expression in ["@daily", "10 0 * * MON-FRI", "0 12 L * ?", "*/15 * * * *"] {
            let config = ScheduleConfig {
                sync_data: Some(expression.to_owned()),
                ..ScheduleConfig::default()
            };
            assert!(Schedule::from_config(&config).is_ok(), "{expression}");
        }
    }

    #[test]
    fn empty_config_gives_empty_schedule() {
        let schedule = Schedule::from_config(&ScheduleConfig::default()).expect("empty is valid");
        assert!(schedule.is_empty());
        assert!(schedule.entries().is_empty());
        assert_eq!(schedule.next_after(utc(2024, 1, 1, 0, 0)), None);
        assert_eq!(schedule.catch_up_days(), DEFAULT_CATCH_UP_DAYS);
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let parsed: Result<ScheduleConfig, _> =
            toml::from_str("run = \"10 0 * * *\"\nsync = \"x\"");
        assert!(parsed.is_err());
    }

    #[test]
    fn entries_are_in_job_order() {
        let schedule = Schedule::from_config(&ScheduleConfig {
            run: Some("0 1 * * *".to_owned()),
            sync_data: Some("10 0 * * *".to_owned()),
            ..ScheduleConfig::default()
        })
        .expect("valid");
        assert_eq!(
            schedule.entries(),
            vec![
                (Job::SyncData, "10 0 * * *".to_owned()),
                (Job::Run, "0 1 * * *".to_owned()),
            ]
        );
    }

    #[test]
    fn next_after_is_strict_and_breaks_ties_by_job_order() {
        let schedule = Schedule::from_config(&ScheduleConfig {
            run: Some("10 0 * * *".to_owned()),
            sync_close_positions: Some("10 0 * * *".to_owned()),
            sync_data: Some("0 12 * * *".to_owned()),
            ..ScheduleConfig::default()
        })
        .expect("valid");
        // Exactly at 00:10 the 00:10 runs are not "next"; noon's sync_data is.
        assert_eq!(
            schedule.next_after(utc(2024, 3, 5, 0, 10)),
            Some((Job::SyncData, utc(2024, 3, 5, 12, 0)))
        );
        assert_eq!(
            schedule.next_after(utc(2024, 3, 5, 0, 9)),
            Some((Job::SyncClosePositions, utc(2024, 3, 5, 0, 10)))
        );
        // A fraction of a second before still finds the occurrence.
        let just_before = utc(2024, 3, 5, 0, 10) - TimeDelta::milliseconds(1);
        assert_eq!(
            schedule.next_after(just_before),
            Some((Job::SyncClosePositions, utc(2024, 3, 5, 0, 10)))
        );
    }

    #[test]
    fn missed_lists_each_day_since_last_done() {
        let schedule = daily(None);
        let now = utc(2024, 3, 10, 12, 0);
        assert_eq!(
            schedule.missed(Job::Run, Some(utc(2024, 3, 7, 0, 10)), now),
            vec![
                utc(2024, 3, 8, 0, 10),
                utc(2024, 3, 9, 0, 10),
                utc(2024, 3, 10, 0, 10)
            ]
        );
    }

    #[test]
    fn missed_is_empty_when_never_ran_or_not_scheduled() {
        let schedule = daily(None);
        let now = utc(2024, 3, 10, 12, 0);
        assert!(schedule.missed(Job::Run, None, now).is_empty());
        assert!(
            schedule
                .missed(Job::SyncData, Some(utc(2024, 3, 1, 0, 0)), now)
                .is_empty()
        );
    }

    #[test]
    fn missed_respects_catch_up_window() {
        let schedule = daily(Some(2));
        let now = utc(2024, 3, 10, 12, 0);
        // The window starts at 03-08 12:00, so 03-08 00:10 is too old.
        assert_eq!(
            schedule.missed(Job::Run, Some(utc(2024, 2, 1, 0, 10)), now),
            vec![utc(2024, 3, 9, 0, 10), utc(2024, 3, 10, 0, 10)]
        );
        // An occurrence exactly at the window's start is still inside it.
        let at_edge = utc(2024, 3, 10, 0, 10);
        assert_eq!(
            schedule.missed(Job::Run, Some(utc(2024, 2, 1, 0, 10)), at_edge),
            vec![utc(2024, 3, 8, 0, 10), utc(2024, 3, 9, 0, 10), at_edge]
        );
    }

    #[test]
    fn missed_counts_an_occurrence_exactly_at_now() {
        let schedule = daily(None);
        let now = utc(2024, 3, 10, 0, 10);
        assert_eq!(
            schedule.missed(Job::Run, Some(utc(2024, 3, 9, 0, 10)), now),
            vec![now]
        );
        // ...and one exactly at last_done is not missed again.
        assert!(schedule.missed(Job::Run, Some(now), now).is_empty());
    }

    #[tokio::test]
    async fn scheduler_catches_up_on_start_then_waits_for_next() {
        let schedule = daily(None);
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 11, 12, 0));
        let runner = FakeRunner::with_last(Job::Run, utc(2024, 3, 7, 0, 10));
        run_with(&schedule, &clock, stopped, &runner).await;
        let days: Vec<_> = [8, 9, 10, 11]
            .into_iter()
            .map(|d| (Job::Run, utc(2024, 3, d, 0, 10)))
            .collect();
        assert_eq!(runner.calls(), days);
    }

    #[tokio::test]
    async fn scheduler_fresh_install_does_not_replay_history() {
        let schedule = daily(None);
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 12, 12, 0));
        let runner = FakeRunner::default();
        run_with(&schedule, &clock, stopped, &runner).await;
        assert_eq!(
            runner.calls(),
            vec![
                (Job::Run, utc(2024, 3, 11, 0, 10)),
                (Job::Run, utc(2024, 3, 12, 0, 10)),
            ]
        );
    }

    #[tokio::test]
    async fn scheduler_catches_up_after_downtime() {
        let schedule = daily(None);
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 15, 12, 0));
        // The first sleep (until 03-11 00:10) overshoots by 3 days: the machine was down.
        *clock.oversleep_once.lock().expect("oversleep lock") = Some(TimeDelta::days(3));
        let runner = FakeRunner::with_last(Job::Run, utc(2024, 3, 10, 0, 10));
        run_with(&schedule, &clock, stopped, &runner).await;
        let days: Vec<_> = (11..=15)
            .map(|d| (Job::Run, utc(2024, 3, d, 0, 10)))
            .collect();
        assert_eq!(runner.calls(), days);
    }

    #[tokio::test]
    async fn scheduler_orders_catch_up_across_jobs() {
        let schedule = Schedule::from_config(&ScheduleConfig {
            sync_data: Some("10 0 * * *".to_owned()),
            run: Some("10 0 * * *".to_owned()),
            sync_new_trades: Some("0 6 * * *".to_owned()),
            ..ScheduleConfig::default()
        })
        .expect("valid");
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 10, 23, 0));
        let runner = FakeRunner::default();
        let since = utc(2024, 3, 8, 12, 0);
        for job in [Job::SyncData, Job::SyncNewTrades, Job::Run] {
            runner.last.lock().expect("last lock").insert(job, since);
        }
        run_with(&schedule, &clock, stopped, &runner).await;
        assert_eq!(
            runner.calls(),
            vec![
                (Job::SyncData, utc(2024, 3, 9, 0, 10)),
                (Job::Run, utc(2024, 3, 9, 0, 10)),
                (Job::SyncNewTrades, utc(2024, 3, 9, 6, 0)),
                (Job::SyncData, utc(2024, 3, 10, 0, 10)),
                (Job::Run, utc(2024, 3, 10, 0, 10)),
                (Job::SyncNewTrades, utc(2024, 3, 10, 6, 0)),
            ]
        );
    }

    #[tokio::test]
    async fn scheduler_continues_after_a_failed_run_without_retrying_it() {
        let schedule = daily(None);
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 11, 12, 0));
        let mut runner = FakeRunner::with_last(Job::Run, utc(2024, 3, 8, 0, 10));
        // The newest due occurrence fails: the loop must go on without retrying it.
        runner.failing.insert(utc(2024, 3, 10, 0, 10));
        run_with(&schedule, &clock, stopped, &runner).await;
        assert_eq!(
            runner.calls(),
            vec![
                (Job::Run, utc(2024, 3, 9, 0, 10)),
                (Job::Run, utc(2024, 3, 10, 0, 10)),
                (Job::Run, utc(2024, 3, 11, 0, 10)),
            ]
        );
    }

    #[tokio::test]
    async fn scheduler_never_runs_an_occurrence_twice() {
        let schedule = daily(None);
        let (clock, stopped) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2024, 3, 12, 12, 0));
        // The runner never records a success, so only the loop's own bookkeeping prevents reruns.
        let mut runner = FakeRunner::with_last(Job::Run, utc(2024, 3, 9, 0, 10));
        runner.forgetful = true;
        run_with(&schedule, &clock, stopped, &runner).await;
        assert_eq!(
            runner.calls(),
            vec![
                (Job::Run, utc(2024, 3, 10, 0, 10)),
                (Job::Run, utc(2024, 3, 11, 0, 10)),
                (Job::Run, utc(2024, 3, 12, 0, 10)),
            ]
        );
    }

    #[tokio::test]
    async fn scheduler_stops_between_catch_up_runs() {
        let schedule = daily(None);
        let (clock, _never) = FakeClock::new(utc(2024, 3, 10, 12, 0), utc(2030, 1, 1, 0, 0));
        let runner = FakeRunner::with_last(Job::Run, utc(2024, 3, 7, 0, 10));
        let (tx, rx) = oneshot::channel();
        *runner.stop_on_first_run.lock().expect("stop lock") = Some(tx);
        run_with(&schedule, &clock, rx, &runner).await;
        assert_eq!(runner.calls(), vec![(Job::Run, utc(2024, 3, 8, 0, 10))]);
    }

    #[tokio::test]
    async fn scheduler_stops_promptly_while_sleeping_on_the_system_clock() {
        // Once a year: the loop is certainly asleep when shutdown arrives.
        let schedule = Schedule::from_config(&ScheduleConfig {
            run: Some("0 0 1 1 *".to_owned()),
            ..ScheduleConfig::default()
        })
        .expect("valid");
        let runner = FakeRunner::default();
        let shutdown = tokio::time::sleep(Duration::from_millis(20));
        let started = std::time::Instant::now();
        tokio::time::timeout(
            Duration::from_secs(2),
            run_scheduler(&schedule, &SystemClock, &runner, shutdown),
        )
        .await
        .expect("stopped promptly")
        .expect("loop ok");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(runner.calls().is_empty());
    }

    #[tokio::test]
    async fn scheduler_with_empty_schedule_waits_for_shutdown() {
        let schedule = Schedule::from_config(&ScheduleConfig::default()).expect("valid");
        let runner = FakeRunner::default();
        let shutdown = tokio::time::sleep(Duration::from_millis(10));
        tokio::time::timeout(
            Duration::from_secs(2),
            run_scheduler(&schedule, &SystemClock, &runner, shutdown),
        )
        .await
        .expect("stopped")
        .expect("loop ok");
    }

    #[tokio::test]
    async fn system_clock_does_not_sleep_for_past_moments() {
        let past = Utc::now() - TimeDelta::hours(1);
        tokio::time::timeout(Duration::from_secs(1), SystemClock.sleep_until(past))
            .await
            .expect("returns at once");
    }
}
