//! Run leases: a running run belongs to one process ([`process_owner`]), which renews the run's
//! heartbeat while it works ([`Store::renew_run`]). A process killed by `kill -9`, the OOM
//! killer or a full disk never finishes its run; [`Store::interrupt_abandoned_runs`] marks such
//! runs `interrupted`, saying whose heartbeat stopped and when, instead of leaving them
//! `running` forever.
//!
//! Several processes (servers sharing one PostgreSQL database, a cron CLI next to a server) may
//! sweep at once: each sweep claims its runs with one conditional `UPDATE … WHERE status =
//! 'running' … RETURNING`, so a dead run is marked by exactly one of them.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::time::Duration;

use barter_core::{RunId, RunStatus};
use chrono::{DateTime, Utc};

use crate::bounds::bound_errors;
use crate::codec::column;
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// How long a running run's heartbeat stays valid: a run not renewed for this long is presumed
/// dead. Several missed renewals ([`HEARTBEAT_EVERY`]) fit in it, so a busy process is not
/// mistaken for a dead one.
pub const RUN_LEASE: Duration = Duration::from_secs(60);
/// How often a process renews the heartbeat of the runs it is working on.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// The owner and last heartbeat recorded for a run ([`Store::run_lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLease {
    /// The process that started the run, `host:pid:nonce` (`None` before leases existed).
    pub owner: Option<String>,
    /// When that process last said it was working on it (`None` before leases existed).
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// A run [`Store::interrupt_abandoned_runs`] marked `interrupted`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonedRun {
    /// The run.
    pub id: RunId,
    /// The process that owned it, if recorded.
    pub owner: Option<String>,
    /// Why it is presumed dead, as stored in its errors.
    pub reason: String,
}

/// This process's identity as a run owner: `host:pid:nonce`, e.g. `web-1/4026531836:4242:1a2b3c4d`.
/// `host` is the host name followed, on Linux, by `/` and the pid namespace's id, so containers
/// sharing a host name (host networking) never take each other's pids for their own. The random
/// nonce tells apart two processes that got the same pid (a container restarted with pid 1).
pub fn process_owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        // RandomState is seeded from the operating system's randomness: no extra dependency.
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!(
            "{}{}:{}:{:08x}",
            host_name(),
            pid_namespace()
                .map(|ns| format!("/{ns}"))
                .unwrap_or_default(),
            std::process::id(),
            nonce & 0xffff_ffff
        )
    })
}

/// The machine's host name, or `unknown-host`.
fn host_name() -> String {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    from_kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// The id of this process's pid namespace (Linux), e.g. `4026531836`.
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_str()?;
    let id = link.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(id.to_owned())
}

/// Whether the process that wrote `owner` is certainly gone: it ran on this host, and its pid no
/// longer exists or is now this process under another nonce. `false` whenever unsure (another
/// host or pid namespace, no `/proc`, a generic host name several machines could share).
fn owner_is_gone(owner: &str) -> bool {
    let me = process_owner();
    let mut mine = me.rsplitn(3, ':');
    let (my_nonce, my_pid, my_host) = (mine.next(), mine.next(), mine.next());
    let mut theirs = owner.rsplitn(3, ':');
    let (nonce, pid, host) = (theirs.next(), theirs.next(), theirs.next());
    let (Some(host), Some(pid), Some(_)) = (host, pid, nonce) else {
        return false;
    };
    if Some(host) != my_host
        || !host.contains('/')
        || host.starts_with("localhost/")
        || host.starts_with("unknown-host/")
        || owner == me
        || !std::path::Path::new("/proc/self").exists()
    {
        return false;
    }
    if Some(pid) == my_pid {
        // Same host, same pid, another nonce: an earlier process whose pid this one reuses.
        return nonce != my_nonce;
    }
    pid.parse::<u32>()
        .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// The `… %Y-%m-%d %H:%M:%S UTC` form used in the stored reasons.
fn shown(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Why a run is presumed dead, as stored in its errors.
fn reason(
    owner: Option<&str>,
    heartbeat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    gone: bool,
) -> String {
    let owner = owner.unwrap_or("an unknown process");
    let prefix = format!("interrupted at {}: ", shown(now));
    match (gone, heartbeat) {
        (true, _) => format!(
            "{prefix}the process {owner} that ran it no longer exists on this host; it was \
             probably killed"
        ),
        (false, Some(at)) => format!(
            "{prefix}no heartbeat from {owner} since {}; the process was probably killed",
            shown(at)
        ),
        (false, None) => format!(
            "{prefix}no heartbeat recorded (started by a version without heartbeats); the \
             process was probably killed"
        ),
    }
}

impl Store {
    /// Renews the heartbeat of `run` at `at`, when it is still running; returns whether it is
    /// (`false`: it finished, or another process marked it `interrupted`).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the update fails.
    pub async fn renew_run(&self, run: RunId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let changed = on_db!(&self.db, |pool| {
            sqlx::query("UPDATE runs SET heartbeat_at = $2 WHERE id = $1 AND status = $3")
                .bind(run.0)
                .bind(codec::timestamp(at))
                .bind(RunStatus::Running.as_str())
                .execute(pool)
                .await
                .with_action(|| format!("renew the heartbeat of run {run}"))?
                .rows_affected()
        });
        Ok(changed > 0)
    }

    /// The owner and last heartbeat of `run`, `None` when no run has that id.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn run_lease(&self, run: RunId) -> Result<Option<RunLease>, StoreError> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query("SELECT owner, heartbeat_at FROM runs WHERE id = $1")
                .bind(run.0)
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load the lease of run {run}"))?;
            let corrupt = |col: &str| {
                let what = format!("runs.{col} of run {run}");
                move |detail: String| StoreError::corrupt(what, detail)
            };
            row.map(|row| {
                Ok(RunLease {
                    owner: column(&row, "owner").map_err(corrupt("owner"))?,
                    heartbeat_at: column(&row, "heartbeat_at").map_err(corrupt("heartbeat_at"))?,
                })
            })
            .transpose()
        })
    }

    /// Marks `interrupted` every running run presumed dead at `now`: its heartbeat is older than
    /// `lease` (or, for a run recorded before leases existed, it started before that), or its
    /// owner ran on this host and no longer exists. Each gets `finished_at = now` and a last
    /// error saying why. Returns the runs it marked; safe to call from several processes at once
    /// (each run is marked by exactly one).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the sweep fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn interrupt_abandoned_runs(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<AbandonedRun>, StoreError> {
        let lease = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
        let cutoff = now
            .checked_sub_signed(lease)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut abandoned = self.claim(now, Claim::Stale(cutoff)).await?;
        // Runs whose owner certainly died on this host need not wait for their lease.
        for (id, owner) in self.running_owners().await? {
            if owner_is_gone(&owner) {
                let gone = Claim::Gone { id, owner: &owner };
                abandoned.extend(self.claim(now, gone).await?);
            }
        }
        for run in &abandoned {
            let owner = run.owner.as_deref().unwrap_or("?");
            tracing::warn!(run = %run.id, owner, "{}", run.reason);
        }
        Ok(abandoned)
    }

    /// The running runs that have an owner, with it.
    async fn running_owners(&self) -> Result<Vec<(RunId, String)>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows =
                sqlx::query("SELECT id, owner FROM runs WHERE status = $1 AND owner IS NOT NULL")
                    .bind(RunStatus::Running.as_str())
                    .fetch_all(pool)
                    .await
                    .action("list the owners of running runs")?;
            rows.iter()
                .map(|row| {
                    let id: i64 =
                        column(row, "id").map_err(|e| StoreError::corrupt("runs.id", e))?;
                    let owner: String = column(row, "owner")
                        .map_err(|e| StoreError::corrupt(format!("runs.owner of run {id}"), e))?;
                    Ok((RunId(id), owner))
                })
                .collect()
        })
    }

    /// Marks the runs `claim` selects `interrupted` at `now`, adding why to the front of their
    /// errors, in one transaction; returns them.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        claim: Claim<'_>,
    ) -> Result<Vec<AbandonedRun>, StoreError> {
        const ACTION: &str = "mark abandoned runs interrupted";
        const RETURNING: &str = " RETURNING id, owner, heartbeat_at, errors";
        let gone = matches!(claim, Claim::Gone { .. });
        on_db!(&self.db, |pool| {
            let sql = match (&claim, codec::DIALECT) {
                // SQLite: `BEGIN IMMEDIATE` already makes this the only writer.
                (Claim::Stale(_), crate::migrate::Dialect::Sqlite) => format!(
                    "UPDATE runs SET status = $1, finished_at = $2 WHERE status = 'running' \
                     AND (heartbeat_at < $3 OR (heartbeat_at IS NULL AND started_at < $3))\
                     {RETURNING}"
                ),
                // PostgreSQL: rows another sweeper holds are skipped (it marks them), so
                // concurrent sweeps neither wait for each other nor deadlock; the outer
                // condition is checked again on the locked row.
                (Claim::Stale(_), crate::migrate::Dialect::Postgres) => format!(
                    "UPDATE runs SET status = $1, finished_at = $2 WHERE status = 'running' \
                     AND id IN (SELECT id FROM runs WHERE status = 'running' \
                     AND (heartbeat_at < $3 OR (heartbeat_at IS NULL AND started_at < $3)) \
                     FOR UPDATE SKIP LOCKED){RETURNING}"
                ),
                (Claim::Gone { .. }, _) => format!(
                    "UPDATE runs SET status = $1, finished_at = $2 WHERE status = 'running' \
                     AND id = $3 AND owner = $4{RETURNING}"
                ),
            };
            let query = sqlx::query(&sql)
                .bind(RunStatus::Interrupted.as_str())
                .bind(codec::timestamp(now));
            let query = match &claim {
                Claim::Stale(cutoff) => query.bind(codec::timestamp(*cutoff)),
                Claim::Gone { id, owner } => query.bind(id.0).bind(*owner),
            };
            let mut tx = codec::begin_write(pool).await.action(ACTION)?;
            let rows = query.fetch_all(&mut *tx).await.action(ACTION)?;
            let mut marked = Vec::with_capacity(rows.len());
            for row in &rows {
                let id = RunId(column(row, "id").map_err(|e| StoreError::corrupt("runs.id", e))?);
                let corrupt = |col: &str| {
                    let what = format!("runs.{col} of run {id}");
                    move |detail: String| StoreError::corrupt(what, detail)
                };
                let owner: Option<String> = column(row, "owner").map_err(corrupt("owner"))?;
                let heartbeat: Option<DateTime<Utc>> =
                    column(row, "heartbeat_at").map_err(corrupt("heartbeat_at"))?;
                let stored: &str = column(row, "errors").map_err(corrupt("errors"))?;
                // Unreadable earlier errors are replaced: the reason matters more.
                let mut errors: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
                let why = reason(owner.as_deref(), heartbeat, now, gone);
                // First, so the cap on stored errors never drops it.
                errors.insert(0, why.clone());
                let errors = serde_json::to_string(&bound_errors(&errors)).map_err(|source| {
                    StoreError::Encode {
                        what: format!("the errors of run {id}"),
                        source,
                    }
                })?;
                sqlx::query("UPDATE runs SET errors = $2 WHERE id = $1")
                    .bind(id.0)
                    .bind(errors)
                    .execute(&mut *tx)
                    .await
                    .action(ACTION)?;
                marked.push(AbandonedRun {
                    id,
                    owner,
                    reason: why,
                });
            }
            tx.commit().await.action(ACTION)?;
            Ok(marked)
        })
    }
}

/// Which running runs [`Store::claim`] marks.
enum Claim<'a> {
    /// Those whose heartbeat (or, without one, start) is before this time.
    Stale(DateTime<Utc>),
    /// This one, if `owner` still owns it.
    Gone { id: RunId, owner: &'a str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_names_host_pid_and_a_nonce() {
        let owner = process_owner();
        let parts: Vec<&str> = owner.rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{owner}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[0].len(), 8);
        assert_eq!(process_owner(), owner, "stable for the process");
    }

    #[test]
    fn only_a_certainly_dead_local_owner_is_gone() {
        let me = process_owner();
        let (rest, _nonce) = me.rsplit_once(':').expect("nonce");
        let (host, pid) = rest.rsplit_once(':').expect("pid");
        assert!(!owner_is_gone(me), "this process is alive");
        assert!(!owner_is_gone(&format!("other-host-xyz:{pid}:00000000")));
        assert!(!owner_is_gone("garbage"));
        let checkable = host.contains('/')
            && !host.starts_with("localhost/")
            && !host.starts_with("unknown-host/");
        if checkable {
            assert!(owner_is_gone(&format!("{host}:{pid}:ffffffff-not-me")));
            // Pids are below 2^22 on Linux.
            assert!(owner_is_gone(&format!("{host}:4294967:00000000")));
            assert!(
                !owner_is_gone(&format!("{host}:1:00000000")),
                "pid 1 exists"
            );
        }
    }

    #[test]
    fn reasons_say_whose_heartbeat_stopped_and_when() {
        let now: DateTime<Utc> = "2024-05-01T12:00:00Z".parse().expect("time");
        let at: DateTime<Utc> = "2024-05-01T11:58:30Z".parse().expect("time");
        assert_eq!(
            reason(Some("h:1:ab"), Some(at), now, false),
            "interrupted at 2024-05-01 12:00:00 UTC: no heartbeat from h:1:ab since \
             2024-05-01 11:58:30 UTC; the process was probably killed"
        );
        assert!(reason(None, None, now, false).contains("no heartbeat recorded"));
        assert!(reason(Some("h:1:ab"), Some(at), now, true).contains("no longer exists"));
    }
}
