//! A crash of the real `barter` binary between sending a notification and recording the
//! answer (issue 14): `barter sync` delivers the outbox after its job, the fake webhook receiver
//! holds the request, and the process is killed with SIGKILL there. The claim it committed
//! before sending is left behind; once it has expired (the test moves it into the past rather
//! than waiting out its lease) the next `barter sync` sends the notification again with the
//! same idempotency key. Exactly two requests, one key, the delivery `sent`, and nothing more.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use barter_core::notify::{EventKind, Notification};
use barter_fakes::notify::{Mode, Receiver, Service, WEBHOOK_PATH};
use barter_store::notifications::DeliveryState;
use barter_store::{Db, Store};

/// Runs `barter ARGS` in `dir` to its end, off the runtime's threads (the fake answers on them).
async fn barter(dir: &std::path::Path, database: &str, args: &[&str]) -> std::process::Output {
    let mut command = command(dir, database, args);
    tokio::task::spawn_blocking(move || command.output().expect("barter runs"))
        .await
        .expect("join")
}

fn command(dir: &std::path::Path, database: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_barter"));
    command
        .current_dir(dir)
        .args(args)
        .env("BARTER_CONFIG", dir.join("barter.toml"))
        .env("BARTER_DATABASE_URL", database)
        .env_remove("BARTER_COINGECKO_API_KEY")
        .env("BARTER_LOG", "error")
        .stdin(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_sending_a_notification_and_recording_it_sends_one_duplicate() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let database = format!("sqlite://{}", dir.path().join("barter.db").display());
    let config = format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}{WEBHOOK_PATH}\"\ntimeout_secs = 30\n",
        receiver.url()
    );
    std::fs::write(dir.path().join("barter.toml"), config).expect("config");
    let store = Store::connect(&database).await.expect("store");
    let event = Notification::new(
        EventKind::RunFailed,
        "run_failed:crash".into(),
        "a run failed".into(),
        chrono::Utc::now(),
    );
    store.enqueue_notification(&event).await.expect("enqueue");

    // The receiver takes the request and never answers; the process is killed while it waits.
    receiver.script(Service::Webhook, &[Mode::Hang(Duration::from_secs(120))]);
    let mut child = command(dir.path(), &database, &["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("barter runs");
    let deadline = Instant::now() + Duration::from_secs(90);
    while receiver.received().is_empty() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("barter sync ended ({status}) before sending the notification");
        }
        assert!(Instant::now() < deadline, "barter sync never sent it");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill");
    let _ = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join");
    let stuck = store.deliveries(None, 10).await.expect("list");
    assert_eq!(
        (stuck[0].state, stuck[0].attempts),
        (DeliveryState::Sending, 1)
    );

    // While the claim holds, the next process leaves it alone.
    let quiet = barter(dir.path(), &database, &["sync"]).await;
    assert!(
        quiet.status.success(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert_eq!(receiver.received().len(), 1);

    // The claim has expired (moved into the past instead of waiting its lease out).
    match store.db() {
        Db::Sqlite(pool) => {
            sqlx::query(
                "UPDATE notification_deliveries SET claimed_until = '2000-01-01T00:00:00+00:00'",
            )
            .execute(pool)
            .await
            .expect("expire the claim");
        }
        Db::Postgres(_) => unreachable!("a SQLite database"),
    }
    for _ in 0..2 {
        let out = barter(dir.path(), &database, &["sync"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let received = receiver.received();
    assert_eq!(received.len(), 2, "sent again once, never more");
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(
        received[1].headers["x-barter-idempotency-key"],
        "run_failed:crash"
    );
    let done = store.deliveries(None, 10).await.expect("list");
    assert_eq!((done[0].state, done[0].attempts), (DeliveryState::Sent, 2));
}
