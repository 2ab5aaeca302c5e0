//! Notifications end to end, on SQLite and PostgreSQL, against the in-process fakes of every
//! channel (`barter_fakes::notify`): each event is stored with the write that reports it, each
//! channel gets its own format, failures are retried with backoff honouring 429s, a receiver
//! down for a whole run is reported and caught up, and a crash between sending and recording
//! sends at most one duplicate with the same idempotency key.

use std::time::Duration as StdDuration;

use barter_core::notify::{EventKind, Notification, WEBHOOK_SCHEMA, WebhookBody};
use barter_fakes::notify::{
    DISCORD_PATH, Mode, NTFY_PATH, Receiver, SLACK_PATH, Service, SmtpMode, SmtpServer,
    TELEGRAM_CHAT, TELEGRAM_TOKEN, WEBHOOK_PATH,
};
use barter_service::notify::{ChannelConfig, ChannelKind, Notifier, SmtpSecurity};
use barter_store::notifications::DeliveryState;
use chrono::Duration;

use super::*;

const WEBHOOK_KEY: &str = "whsec-test-signing-key-0001";
const SMTP_PASSWORD: &str = "smtp-password-test-0001";

fn channel(name: &str, kind: ChannelKind) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind,
        events: None,
        min_severity: barter_core::notify::Severity::Info,
        url: None,
        base_url: None,
        chat_id: None,
        smtp_host: None,
        smtp_port: None,
        security: SmtpSecurity::Starttls,
        username: None,
        from: None,
        to: Vec::new(),
        timeout_secs: 2,
    }
}

/// Every kind of channel, pointed at the fakes, with their secrets.
fn all_channels(receiver: &Receiver, smtp: &SmtpServer) -> (Config, Vec<(String, String)>) {
    let base = receiver.url();
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{base}{WEBHOOK_PATH}"));
    let mut telegram = channel("tg", ChannelKind::Telegram);
    telegram.base_url = Some(base.clone());
    telegram.chat_id = Some(TELEGRAM_CHAT.into());
    let slack = channel("slack", ChannelKind::Slack);
    let discord = channel("discord", ChannelKind::Discord);
    let mut ntfy = channel("ntfy", ChannelKind::Ntfy);
    ntfy.url = Some(format!("{base}{NTFY_PATH}"));
    let mut email = channel("mail", ChannelKind::Email);
    email.smtp_host = Some("127.0.0.1".into());
    email.smtp_port = Some(smtp.port());
    email.security = SmtpSecurity::None;
    email.username = Some("barter".into());
    email.from = Some("barter@example.com".into());
    email.to = vec!["ops@example.com".into()];
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook, telegram, slack, discord, ntfy, email];
    config.server.public_url = Some("https://barter.example.com".into());
    let secrets = vec![
        ("BARTER_NOTIFY_HOOK_SECRET".into(), WEBHOOK_KEY.into()),
        ("BARTER_NOTIFY_TG_SECRET".into(), TELEGRAM_TOKEN.into()),
        (
            "BARTER_NOTIFY_SLACK_SECRET".into(),
            format!("{base}{SLACK_PATH}"),
        ),
        (
            "BARTER_NOTIFY_DISCORD_SECRET".into(),
            format!("{base}{DISCORD_PATH}"),
        ),
        ("BARTER_NOTIFY_MAIL_SECRET".into(), SMTP_PASSWORD.into()),
    ];
    (config, secrets)
}

fn notifier(config: &Config, secrets: &[(String, String)]) -> Notifier {
    Notifier::new(config, |var| {
        secrets
            .iter()
            .find(|(name, _)| name == var)
            .map(|(_, value)| value.clone())
    })
}

/// The instruments the scenarios of this module trade (see `on_both_backends!`).
const SYMBOLS: &[&str] = &["BTC", "ETH"];

/// Opens positions in BTC and ETH on the sample's 2024-01-01: two `position_opened` events.
async fn open_two(store: &Store, config: &Config) -> DateTime<Utc> {
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let known = [sym("BTC"), sym("ETH")];
    let trading = Trading::from_config(config, &known).expect("strategies");
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["always BTC opened", "always ETH opened"]);
    now
}

async fn every_channel_gets_its_own_format(store: &Store) {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (config, secrets) = all_channels(&receiver, &smtp);
    let notifier = notifier(&config, &secrets);
    assert!(notifier.unusable().is_empty(), "{:?}", notifier.unusable());
    let now = open_two(store, &config).await;
    let pass = notifier
        .deliver(store, now, StdDuration::from_secs(20))
        .await
        .expect("deliver");
    assert_eq!(pass.routed, 2);
    for channel in &pass.channels {
        assert_eq!((channel.sent, channel.retrying), (2, 0), "{channel:?}");
    }

    // Webhook: the versioned body, its idempotency key, and a signature over the exact body.
    let hooks = receiver.received_by(Service::Webhook);
    assert_eq!(hooks.len(), 2);
    let body: WebhookBody = serde_json::from_str(&hooks[0].body).expect("webhook schema");
    assert_eq!(body.schema, WEBHOOK_SCHEMA);
    assert_eq!(body.event, EventKind::PositionOpened);
    assert!(body.idempotency_key.starts_with("position_opened:"));
    assert_eq!(
        hooks[0].headers["x-barter-idempotency-key"],
        body.idempotency_key
    );
    let signature = barter_http::sign_query(WEBHOOK_KEY, &hooks[0].body);
    assert_eq!(
        hooks[0].headers["x-barter-signature"],
        format!("sha256={signature}")
    );
    let url = body.url.expect("a link to the explanation");
    assert!(
        url.starts_with("https://barter.example.com/positions/"),
        "{url}"
    );
    assert!(
        body.lines.iter().any(|l| l.starts_with("close = ")),
        "{:?}",
        body.lines
    );

    // Telegram: sendMessage to the chat with plain text.
    let telegram = receiver.received_by(Service::Telegram);
    assert_eq!(telegram.len(), 2);
    assert_eq!(telegram[0].json()["chat_id"], TELEGRAM_CHAT);
    let text = telegram[0].json()["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.starts_with("Opened "), "{text}");
    // Slack: `text`; Discord: `content` that can mention no one; ntfy: a title header.
    let slack = receiver.received_by(Service::Slack);
    assert!(
        slack[0].json()["text"]
            .as_str()
            .is_some_and(|t| t.contains("Opened"))
    );
    let discord = receiver.received_by(Service::Discord);
    assert_eq!(
        discord[0].json()["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    let ntfy = receiver.received_by(Service::Ntfy);
    assert!(ntfy[0].headers["title"].starts_with("Opened "));
    assert_eq!(ntfy[0].headers["priority"], "3");
    // E-mail: authenticated with the secret, one Message-ID per event.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[0].auth,
        Some(("barter".to_owned(), SMTP_PASSWORD.to_owned()))
    );
    assert!(
        mails[0].data.contains("Subject: [barter] Opened "),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0].data.contains("Message-ID: <position_opened."),
        "{}",
        mails[0].data
    );

    // Nothing is sent twice, and nothing is left.
    let again = notifier
        .deliver(store, now, StdDuration::from_secs(5))
        .await
        .expect("deliver");
    assert!(again.channels.iter().all(|c| c.sent == 0));
    // Five HTTP channels and e-mail, two messages each.
    assert_eq!(receiver.received().len(), 10);
    let deliveries = store.deliveries(None, 100).await.expect("list");
    assert_eq!(deliveries.len(), 12);
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Sent && d.attempts == 1)
    );
    // No channel's secret is in anything stored.
    let listed = serde_json::to_string(&deliveries).expect("json");
    for (_, secret) in &secrets {
        assert!(!listed.contains(secret.as_str()), "a secret was stored");
    }
}

on_both_backends!(
    notify_every_channel_gets_its_own_format,
    every_channel_gets_its_own_format
);

async fn failures_are_retried_honouring_retry_after(store: &Store) {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (mut config, secrets) = all_channels(&receiver, &smtp);
    // Only position_opened is wanted; the failures are scripted per service.
    receiver.script(Service::Telegram, &[Mode::RateLimited(7.0)]);
    receiver.script(Service::Discord, &[Mode::RateLimited(0.5)]);
    receiver.script(Service::Webhook, &[Mode::ServerError(503)]);
    receiver.script(Service::Slack, &[Mode::Hang(StdDuration::from_secs(4))]);
    smtp.script(&[SmtpMode::TemporaryFailure]);
    for c in &mut config.notify {
        c.timeout_secs = 1;
    }
    let notifier = notifier(&config, &secrets);
    let now = open_two(store, &config).await;
    let pass = notifier
        .deliver(store, now, StdDuration::from_secs(20))
        .await
        .expect("deliver");
    let of = |name: &str| {
        pass.channels
            .iter()
            .find(|c| c.channel == name)
            .cloned()
            .expect("channel")
    };
    // A failing channel is not hammered: one failed attempt, the second message waits.
    for name in ["tg", "discord", "hook", "slack", "mail"] {
        let c = of(name);
        assert_eq!((c.sent, c.retrying), (0, 1), "{c:?}");
    }
    assert!(
        of("slack")
            .last_error
            .unwrap_or_default()
            .contains("no answer within 1s")
    );
    assert!(of("tg").last_error.unwrap_or_default().contains("429"));
    assert_eq!(of("ntfy").sent, 2);
    let due = |name: &'static str, deliveries: &[barter_store::notifications::DeliveryRecord]| {
        deliveries
            .iter()
            .filter(|d| d.channel == name && d.attempts == 1 && d.state == DeliveryState::Pending)
            .map(|d| (d.next_attempt_at - now).num_milliseconds())
            .collect::<Vec<_>>()
    };
    let deliveries = store.deliveries(None, 100).await.expect("list");
    // Telegram's retry_after (body), Discord's Retry-After (header, rounded up to 1 s),
    // then the backoff's 30 s for a 503, a timeout and a 451.
    assert_eq!(due("tg", &deliveries), [7_000]);
    assert_eq!(due("discord", &deliveries), [1_000]);
    assert_eq!(due("hook", &deliveries), [30_000]);
    assert_eq!(due("slack", &deliveries), [30_000]);
    assert_eq!(due("mail", &deliveries), [30_000]);
    // Before Telegram's wait is over nothing goes to it; after, both messages do.
    let early = notifier
        .deliver(
            store,
            now + Duration::seconds(3),
            StdDuration::from_secs(10),
        )
        .await
        .expect("deliver");
    assert_eq!(
        early
            .channels
            .iter()
            .find(|c| c.channel == "tg")
            .map(|c| c.sent),
        Some(0)
    );
    notifier
        .deliver(
            store,
            now + Duration::seconds(31),
            StdDuration::from_secs(20),
        )
        .await
        .expect("deliver");
    // One failed attempt and the two messages each; ntfy never failed; the 451 left no mail.
    for service in [
        Service::Telegram,
        Service::Discord,
        Service::Webhook,
        Service::Slack,
    ] {
        assert_eq!(receiver.received_by(service).len(), 3, "{service:?}");
    }
    assert_eq!(receiver.received_by(Service::Ntfy).len(), 2);
    assert_eq!(smtp.mails().len(), 2);
    let deliveries = store.deliveries(None, 100).await.expect("list");
    assert!(
        deliveries.iter().all(|d| d.state == DeliveryState::Sent),
        "{deliveries:?}"
    );
    let health = notifier.health(store).await.expect("health");
    assert!(health.iter().all(|h| !h.failing()), "{health:?}");
}

on_both_backends!(
    notify_failures_are_retried_honouring_retry_after,
    failures_are_retried_honouring_retry_after
);

async fn refusals_are_final_and_reported(store: &Store) {
    let receiver = Receiver::start().await;
    let mut telegram = channel("tg", ChannelKind::Telegram);
    telegram.base_url = Some(receiver.url());
    telegram.chat_id = Some("-999".into()); // a chat the bot is not in
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![telegram];
    let secrets = vec![(
        "BARTER_NOTIFY_TG_SECRET".to_owned(),
        TELEGRAM_TOKEN.to_owned(),
    )];
    let notifier = notifier(&config, &secrets);
    let now = open_two(store, &config).await;
    let pass = notifier
        .deliver(store, now, StdDuration::from_secs(10))
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].given_up, 2, "{pass:?}");
    let deliveries = store.deliveries(Some("tg"), 10).await.expect("list");
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::Failed));
    let error = deliveries[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("chat not found"), "{error}");
    assert!(!error.contains(TELEGRAM_TOKEN), "{error}");
    let health = notifier.health(store).await.expect("health");
    assert!(health[0].failing() && health[0].given_up == 2, "{health:?}");
    // The channel's failure shows in the run's history, and never in the job's outcome.
    let (_, failing) = notifier
        .after_job(store, None, StdDuration::from_secs(5))
        .await;
    assert_eq!(failing.len(), 1);
    assert!(failing[0].contains("`tg` is failing"), "{failing:?}");
    // Nothing more is attempted for them.
    let again = notifier
        .deliver(store, now + Duration::hours(2), StdDuration::from_secs(5))
        .await
        .expect("deliver");
    assert_eq!(receiver.received().len(), 2, "{again:?}");
}

on_both_backends!(
    notify_refusals_are_final_and_reported,
    refusals_are_final_and_reported
);

async fn a_receiver_down_for_a_whole_run_catches_up(store: &Store) {
    let receiver = Receiver::start().await;
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{}{WEBHOOK_PATH}", receiver.url()));
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook];
    let notifier = notifier(&config, &[]);
    let port = receiver.stop().await;
    // The trade job runs and succeeds while the receiver is down.
    let now = open_two(store, &config).await;
    let pass = notifier
        .deliver(store, now, StdDuration::from_secs(10))
        .await
        .expect("deliver");
    assert_eq!(
        (pass.channels[0].sent, pass.channels[0].retrying),
        (0, 1),
        "{pass:?}"
    );
    assert!(
        pass.channels[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("could not connect")),
        "{pass:?}"
    );
    let health = notifier.health(store).await.expect("health");
    assert!(health[0].failing(), "{health:?}");
    // It stays down through a second pass after the backoff.
    let pass = notifier
        .deliver(
            store,
            now + Duration::seconds(31),
            StdDuration::from_secs(10),
        )
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].retrying, 1);
    // Back up: both messages arrive, in order, once each.
    let receiver = Receiver::start_on(port).await;
    let pass = notifier
        .deliver(
            store,
            now + Duration::minutes(10),
            StdDuration::from_secs(10),
        )
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].sent, 2, "{pass:?}");
    let keys: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["x-barter-idempotency-key"].clone())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    let health = notifier.health(store).await.expect("health");
    assert!(!health[0].failing(), "{health:?}");
}

on_both_backends!(
    notify_a_receiver_down_for_a_whole_run_catches_up,
    a_receiver_down_for_a_whole_run_catches_up
);

/// The process dies after the receiver got the message and before the answer is recorded
/// (the delivering future is dropped mid-request: no line of it runs again). The next pass,
/// once the claim expired, sends it again with the same idempotency key: one duplicate, never
/// more, and never a lost message.
async fn a_crash_between_send_and_commit_sends_one_duplicate(store: &Store) {
    let receiver = Receiver::start().await;
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{}{WEBHOOK_PATH}", receiver.url()));
    webhook.timeout_secs = 30;
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook];
    let notifier = notifier(&config, &[]);
    let now = at("2024-01-02");
    store
        .enqueue_notification(&Notification::new(
            EventKind::Test,
            "crash-test".into(),
            "one event".into(),
            now,
        ))
        .await
        .expect("enqueue");
    receiver.script(Service::Webhook, &[Mode::Hang(StdDuration::from_secs(60))]);
    let crashing = notifier.deliver(store, now, StdDuration::from_secs(60));
    let crashed = tokio::time::timeout(StdDuration::from_secs(2), crashing).await;
    assert!(
        crashed.is_err(),
        "the pass was still waiting for the answer"
    );
    assert_eq!(receiver.received().len(), 1);
    let stuck = store.deliveries(None, 10).await.expect("list");
    assert_eq!(stuck[0].state, DeliveryState::Sending);
    // While the claim holds, another pass leaves it alone.
    let pass = notifier
        .deliver(
            store,
            now + Duration::seconds(60),
            StdDuration::from_secs(5),
        )
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].sent, 0);
    // After it expired: sent again, once.
    let pass = notifier
        .deliver(store, now + Duration::minutes(5), StdDuration::from_secs(5))
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].sent, 1);
    let pass = notifier
        .deliver(
            store,
            now + Duration::minutes(10),
            StdDuration::from_secs(5),
        )
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].sent, 0);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(received[1].json()["idempotency_key"], "crash-test");
    let done = store.deliveries(None, 10).await.expect("list");
    assert_eq!((done[0].state, done[0].attempts), (DeliveryState::Sent, 2));
}

on_both_backends!(
    notify_a_crash_between_send_and_commit_sends_one_duplicate,
    a_crash_between_send_and_commit_sends_one_duplicate
);

/// Two processes delivering at once: every delivery is claimed by one of them, sent once.
async fn two_senders_send_each_message_once(store: &Store) {
    let receiver = Receiver::start().await;
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{}{WEBHOOK_PATH}", receiver.url()));
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook];
    let (a, b) = (notifier(&config, &[]), notifier(&config, &[]));
    let now = at("2024-01-02");
    for i in 0..20 {
        let n = Notification::new(
            EventKind::Test,
            format!("event-{i}"),
            format!("event {i}"),
            now,
        );
        store.enqueue_notification(&n).await.expect("enqueue");
    }
    let budget = StdDuration::from_secs(20);
    let (pa, pb) = tokio::join!(a.deliver(store, now, budget), b.deliver(store, now, budget));
    let sent = pa.expect("a").channels[0].sent + pb.expect("b").channels[0].sent;
    assert_eq!(sent, 20);
    let mut keys: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["x-barter-idempotency-key"].clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 20);
    assert_eq!(receiver.received().len(), 20);
}

on_both_backends!(
    notify_two_senders_send_each_message_once,
    two_senders_send_each_message_once
);

/// What the jobs write is told: a stale instrument once however often the job runs, a failed
/// run, a refusal by the account's limits; events older than the routing window are not sent.
async fn events_are_stored_with_their_writes(store: &Store) {
    let receiver = Receiver::start().await;
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{}{WEBHOOK_PATH}", receiver.url()));
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook];
    config.account.max_order_notional = Some(rust_decimal_macros::dec!(10));
    let notifier = notifier(&config, &[]);
    // Synced to 2024-01-01, traded on 2024-01-05: stale, twice.
    sync_until(store, at("2024-01-02")).await;
    let known = [sym("BTC"), sym("ETH")];
    let trading = Trading::from_config(&config, &known).expect("strategies");
    let now = at("2024-01-05");
    for _ in 0..2 {
        sync_new_trades(store, &trading, now).await.expect("trade");
    }
    // A day later with fresh data: refused by the limit (1000 > 10).
    sync_until(store, at("2024-01-06")).await;
    let later = at("2024-01-06");
    let run = sync_new_trades(store, &trading, later)
        .await
        .expect("trade");
    assert_eq!(outcomes(&run), ["always BTC refused", "always ETH refused"]);
    let pass = notifier
        .deliver(store, later, StdDuration::from_secs(10))
        .await
        .expect("deliver");
    assert_eq!(pass.channels[0].sent, 4, "{pass:?}");
    let kinds: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["instrument_stale", "instrument_stale", "refusal", "refusal"]
    );
    let stale = receiver.received()[0].json();
    assert_eq!(stale["severity"], "warning");
    assert!(
        stale["title"]
            .as_str()
            .unwrap_or("")
            .contains("expected 2024-01-04"),
        "{stale}"
    );
    // A notification routed four days after its event goes nowhere.
    let old = Notification::new(EventKind::RunFailed, "old".into(), "old".into(), now);
    store.enqueue_notification(&old).await.expect("enqueue");
    let pass = notifier
        .deliver(store, now + Duration::days(4), StdDuration::from_secs(5))
        .await
        .expect("deliver");
    assert_eq!((pass.routed, pass.channels[0].sent), (1, 0));
}

on_both_backends!(
    notify_events_are_stored_with_their_writes,
    events_are_stored_with_their_writes
);

async fn the_daily_digest_is_told_once_a_day(store: &Store) {
    let receiver = Receiver::start().await;
    let mut webhook = channel("hook", ChannelKind::Webhook);
    webhook.url = Some(format!("{}{WEBHOOK_PATH}", receiver.url()));
    let mut config = config(vec![strategy("always", "close > 0", None)]);
    config.notify = vec![webhook];
    let now = open_two(store, &config).await;
    let digest = barter_service::notify::digest::enqueue;
    assert!(digest(store, &config, now).await.expect("digest"));
    assert!(!digest(store, &config, now).await.expect("digest"));
    let n = barter_service::notify::digest::build(store, &config, now, &[])
        .await
        .expect("digest");
    assert_eq!(n.key, "digest:2024-01-02");
    let text = n.text(None);
    assert!(text.contains("open positions: 2"), "{text}");
    assert!(text.contains("today: 2 opened, 0 closed"), "{text}");
    assert!(text.contains("needs attention: nothing"), "{text}");
    // A failing channel is something that needs attention.
    let failing = vec!["notification channel `x` is failing".to_owned()];
    let n = barter_service::notify::digest::build(store, &config, now, &failing)
        .await
        .expect("digest");
    assert_eq!(n.severity, barter_core::notify::Severity::Warning);
    assert!(n.text(None).contains("channel `x` is failing"));
    // Without a channel there is no digest.
    let quiet = super::config(vec![]);
    assert!(
        !digest(store, &quiet, now + Duration::days(1))
            .await
            .expect("digest")
    );
}

on_both_backends!(
    notify_the_daily_digest_is_told_once_a_day,
    the_daily_digest_is_told_once_a_day
);
