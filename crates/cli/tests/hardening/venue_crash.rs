//! Crash points of the real `barter` binary trading through a venue account (issue 13): the
//! process is killed with SIGKILL between sending an order and saving the venue's answer, and
//! while it looks an order up; the state a kill between committing the planned order and
//! sending it leaves is written to the store and resumed. After the next `barter trade` runs,
//! in every case: exactly one order at the in-process Binance fake for the decision, and the
//! ledger equals the fake's record (the order filled with the fake's executed quantity, one
//! open position holding it net of the BTC fee). On SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use barter_core::order::{ClientOrderId, DecisionRef, Order, OrderAmount, OrderEvent, OrderState};
use barter_core::{Day, Quantity, Side, Symbol};
use barter_fakes::binance::{FakeBinance, KEY, OnOrder, SECRET};
use barter_store::Store;
use barter_store::orders::OrderFilter;
use barter_store::trading::{DecidedOrder, DecisionKind, DecisionOutcome, NewDecision};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The venue account's name in the config.
const ACCOUNT: &str = "testnet";
/// The strategy trading through it.
const STRATEGY: &str = "venue";
/// How long a hung answer of the fake waits: far longer than any test waits for it.
const HANG: Duration = Duration::from_secs(120);
/// How long the test waits for the binary to reach a crash point.
const REACH: Duration = Duration::from_secs(90);

/// One case's working directory, database and fake venue.
struct Setup {
    dir: tempfile::TempDir,
    database: String,
    store: Store,
    fake: FakeBinance,
    /// The day the job decides on: yesterday (UTC).
    day: Day,
}

impl Setup {
    /// Writes the config and the candles, registers BTC from them and syncs.
    async fn new(database: String, store: Store) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = FakeBinance::start().await;
        fake.set_hang(HANG);
        let config = format!(
            r#"
[accounts.{ACCOUNT}]
venue = "binance"
environment = "testnet"
base_url = "{url}"
timeout_secs = 10
symbols = {{ BTC = "BTCUSDT" }}

[[strategies]]
name = "{STRATEGY}"
account = "{ACCOUNT}"
instruments = ["BTC"]
entry = "close > 0"
size = "1000"
"#,
            url = fake.url
        );
        std::fs::write(dir.path().join("barter.toml"), config).expect("config");
        // Fresh data: daily candles up to yesterday, the candle the job decides on.
        let day = Utc::now().date_naive() - chrono::Days::new(1);
        let mut csv = String::from("date,open,high,low,close,volume\n");
        for back in (0..300u64).rev() {
            let d = day - chrono::Days::new(back);
            let close = 50_000 + (back % 7) * 100;
            csv.push_str(&format!(
                "{d},{close},{},{},{close},1000\n",
                close + 200,
                close - 200
            ));
        }
        std::fs::write(dir.path().join("btc.csv"), csv).expect("csv");
        let setup = Self {
            dir,
            database,
            store,
            fake,
            day,
        };
        let add = setup
            .barter(&[
                "instruments",
                "add",
                "BTC",
                "--source",
                "csv",
                "--path",
                "btc.csv",
                "--quote",
                "USDT",
                "--calendar",
                "continuous",
            ])
            .await;
        assert!(add.status.success(), "{}", text(&add.stderr));
        let sync = setup.barter(&["sync"]).await;
        assert!(
            sync.status.success(),
            "{}{}",
            text(&sync.stdout),
            text(&sync.stderr)
        );
        setup
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_barter"));
        command
            .current_dir(self.dir.path())
            .args(args)
            .env("BARTER_CONFIG", self.dir.path().join("barter.toml"))
            .env("BARTER_DATABASE_URL", &self.database)
            .env("BARTER_BINANCE_API_KEY", KEY)
            .env("BARTER_BINANCE_API_SECRET", SECRET)
            .env_remove("BARTER_COINGECKO_API_KEY")
            .env("BARTER_LOG", "error")
            .stdin(Stdio::null());
        command
    }

    /// Runs the binary to its end (off the runtime's threads: the fake answers on them).
    async fn barter(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("barter runs"))
            .await
            .expect("join")
    }

    /// Starts `barter trade` to be killed.
    fn spawn_trade(&self) -> Child {
        self.command(&["trade", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("barter runs")
    }

    /// A normal `barter trade --json`: it must exit 0; returns its items' outcomes.
    async fn trade(&self) -> Vec<String> {
        let out = self.barter(&["trade", "--json"]).await;
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "barter trade failed ({}):\n{stdout}\n{}",
            out.status,
            text(&out.stderr)
        );
        let run: Value = serde_json::from_str(&stdout).expect("a run as JSON");
        run["report"]["items"]
            .as_array()
            .expect("run items")
            .iter()
            .map(|item| item["outcome"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// `barter accounts`, `barter reconcile` and `barter orders` on the recovered account: the
    /// fixture's BTC held before Barter traded is drift (reported, exit status 1), the order
    /// is listed with its shadow fill.
    async fn assert_accounts_commands(&self) {
        let out = self.barter(&["accounts", "--json"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let accounts: Value = serde_json::from_str(&text(&out.stdout)).expect("accounts JSON");
        let venue = accounts
            .as_array()
            .expect("a list")
            .iter()
            .find(|a| a["name"] == ACCOUNT)
            .expect("the venue account");
        assert_eq!(venue["venue"], "binance");
        assert_eq!(venue["live"], false);
        assert_eq!(venue["open_positions"], 1);
        let out = self.barter(&["reconcile"]).await;
        let report = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "drift exits 1: {report}");
        assert!(report.contains("BTC ledger"), "{report}");
        assert!(report.contains("nothing is traded to fix it"), "{report}");
        let out = self.barter(&["orders", "--account", ACCOUNT]).await;
        let listing = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(listing.contains(&self.client_id()), "{listing}");
        assert!(listing.contains("shadow fills"), "{listing}");
    }

    /// The client order id of the job's entry on `self.day`.
    fn client_id(&self) -> String {
        let btc = Symbol::parse("BTC").expect("symbol");
        ClientOrderId::derive(ACCOUNT, STRATEGY, &btc, self.day, Side::Buy).to_string()
    }

    /// The account's stored orders.
    async fn orders(&self) -> Vec<Order> {
        let filter = OrderFilter {
            account: Some(ACCOUNT.to_owned()),
            ..OrderFilter::default()
        };
        self.store.orders(&filter).await.expect("orders")
    }

    /// The one stored order of the account, in `state`.
    async fn assert_stored(&self, state: OrderState) {
        let orders = self.orders().await;
        assert_eq!(orders.len(), 1, "{orders:?}");
        assert_eq!(orders[0].state(), state, "{:?}", orders[0]);
        assert_eq!(orders[0].client_order_id().as_str(), self.client_id());
    }

    /// The ledger equals the fake's record: one order at the venue for the decision, the
    /// stored order filled with its executed quantity, and one open position of the account
    /// holding that quantity net of the fee taken in BTC.
    async fn assert_ledger_matches(&self) {
        let id = self.client_id();
        let placed = self.fake.placements(&id);
        assert_eq!(placed.len(), 1, "exactly one order at the venue for {id}");
        assert_eq!(self.fake.order_posts().len(), 1, "one order post in all");
        let placed = &placed[0];
        let orders = self.orders().await;
        assert_eq!(orders.len(), 1, "{orders:?}");
        let stored = &orders[0];
        assert_eq!(stored.client_order_id().as_str(), id);
        assert_eq!(stored.state(), OrderState::Filled, "{stored:?}");
        assert_eq!(stored.executed_quantity().0, placed.executed_qty);
        let open = self
            .store
            .open_position_accounts()
            .await
            .expect("open positions");
        assert_eq!(open.len(), 1, "{open:?}");
        let (position_id, account) = open.iter().next().expect("one");
        assert_eq!(account, ACCOUNT);
        let positions = self.store.positions(None).await.expect("positions");
        let position = positions
            .iter()
            .find(|p| p.id == *position_id)
            .expect("the open position");
        let btc_fee: Decimal = placed
            .fills
            .iter()
            .filter(|f| f.commission_asset == "BTC")
            .map(|f| f.commission)
            .sum();
        assert!(btc_fee > Decimal::ZERO, "{placed:?}");
        assert_eq!(position.quantity.0, placed.executed_qty - btc_fee);
    }

    /// A rerun finds nothing left to do and sends nothing.
    async fn assert_rerun_is_quiet(&self) {
        let outcomes = self.trade().await;
        assert!(
            !outcomes.iter().any(|o| o == "opened" || o == "error"),
            "{outcomes:?}"
        );
        self.assert_ledger_matches().await;
    }

    /// Kills `child` with SIGKILL once `reached` holds (failing if it ends first).
    async fn kill_when(
        &self,
        mut child: Child,
        what: &str,
        reached: impl Fn(&FakeBinance) -> bool,
    ) {
        let deadline = Instant::now() + REACH;
        while !reached(&self.fake) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("barter trade ended ({status}) before {what}");
            }
            assert!(
                Instant::now() < deadline,
                "barter trade never reached {what}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // SIGKILL: nothing runs after it, no destructor, no rollback by the process.
        child.kill().expect("kill");
        let _ = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join");
    }

    /// Runs `barter trade` with the order post placed at the fake but left unanswered, and
    /// kills it there: between the send and the commit of the answer.
    async fn kill_after_the_post(&self) {
        self.fake.script(&[OnOrder::PlaceThenHang]);
        let child = self.spawn_trade();
        self.kill_when(child, "the order post", |fake| {
            !fake.order_posts().is_empty()
        })
        .await;
        assert_eq!(self.fake.placements(&self.client_id()).len(), 1);
        // `submitted` is committed before the request leaves; the answer never was.
        self.assert_stored(OrderState::Submitted).await;
        assert!(
            self.store
                .open_position_accounts()
                .await
                .expect("open")
                .is_empty()
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Killed between the send and the commit of the answer: the next run looks the order up by
/// its client order id, books it, and sends nothing new.
async fn killed_between_send_and_answer(setup: Setup) {
    setup.kill_after_the_post().await;
    let outcomes = setup.trade().await;
    assert!(outcomes.iter().any(|o| o == "opened"), "{outcomes:?}");
    setup.assert_ledger_matches().await;
    setup.assert_rerun_is_quiet().await;
    setup.assert_accounts_commands().await;
}

/// As [`killed_between_send_and_answer`], with the placed order invisible to the first two
/// lookups (Binance's -2013 right after accepting an order): the lookup policy (three
/// attempts, two seconds apart) finds it on the third and nothing is sent again.
async fn killed_with_the_order_invisible_for_a_while(setup: Setup) {
    setup.fake.invisible_for(2);
    setup.kill_after_the_post().await;
    let lookups = setup.fake.lookups();
    let outcomes = setup.trade().await;
    assert!(outcomes.iter().any(|o| o == "opened"), "{outcomes:?}");
    assert!(
        setup.fake.lookups() - lookups >= 3,
        "two misses, then found"
    );
    setup.assert_ledger_matches().await;
    setup.assert_rerun_is_quiet().await;
}

/// Killed during the lookup of an order an earlier run left submitted: the run after looks it
/// up again, books it once, and the venue holds one order.
async fn killed_during_the_lookup(setup: Setup) {
    setup.kill_after_the_post().await;
    setup.fake.hang_lookups(true);
    let lookups = setup.fake.lookups();
    let child = setup.spawn_trade();
    setup
        .kill_when(child, "the lookup", |fake| fake.lookups() > lookups)
        .await;
    let state = setup.orders().await[0].state();
    assert!(
        matches!(state, OrderState::Submitted | OrderState::Unknown),
        "{state}"
    );
    setup.fake.hang_lookups(false);
    let outcomes = setup.trade().await;
    assert!(outcomes.iter().any(|o| o == "opened"), "{outcomes:?}");
    setup.assert_ledger_matches().await;
    setup.assert_rerun_is_quiet().await;
}

/// Commits the entry decision of `setup.day` with its planned order through the store
/// (`Store::decide_with_order`, as the job does) and sends nothing: what a process killed
/// right after that commit leaves. Returns the planned order.
async fn plan_in_store(setup: &Setup) -> Order {
    let btc = Symbol::parse("BTC").expect("symbol");
    let decision = DecisionRef {
        strategy: STRATEGY.to_owned(),
        symbol: btc.clone(),
        day: setup.day,
        side: Side::Buy,
    };
    // What the job plans for size 1000 at the decision candle's close (about 0.02 BTC, fitted
    // to BTCUSDT's step); the client order id derives from the decision alone.
    let order = Order::planned(
        ACCOUNT,
        decision,
        OrderAmount::Quantity(Quantity(Decimal::new(2, 2))),
    )
    .expect("order");
    assert_eq!(order.client_order_id().as_str(), setup.client_id());
    let record = NewDecision {
        strategy: STRATEGY.to_owned(),
        symbol: btc,
        day: setup.day,
        kind: DecisionKind::Entry,
        outcome: DecisionOutcome::Passed,
        detail: json!({
            "account": ACCOUNT,
            "order": order.client_order_id().as_str(),
            "explanation": "entry passed (planned by a process killed before sending)",
        }),
    };
    let decided = setup
        .store
        .decide_with_order(None, &record, &order, Utc::now())
        .await
        .expect("decide");
    let DecidedOrder::Planned(planned) = decided else {
        panic!("not planned: {decided:?}");
    };
    setup.assert_stored(OrderState::Planned).await;
    planned
}

/// Killed between the commit of the decision with its planned order and the send. Two local
/// commits cannot be told apart from outside the process, so this crash point is reproduced
/// by the state it leaves on disk ([`plan_in_store`]). The next run sends the order once,
/// with the same client order id, and books it; a rerun sends nothing.
async fn killed_between_plan_and_send(setup: Setup) {
    plan_in_store(&setup).await;
    assert!(setup.fake.order_posts().is_empty());
    let outcomes = setup.trade().await;
    assert!(outcomes.iter().any(|o| o == "opened"), "{outcomes:?}");
    setup.assert_ledger_matches().await;
    setup.assert_rerun_is_quiet().await;
}

/// Killed after committing `submitted`, before the order post left: reproduced by its on-disk
/// state too (the planned order moved to `submitted` through the store, nothing at the
/// venue). The next run's lookups find no such order three times (two seconds apart), and
/// only then send it, once, with the same client order id.
async fn killed_between_submitted_and_the_post(setup: Setup) {
    let mut order = plan_in_store(&setup).await;
    order.apply(OrderEvent::Sent).expect("sent");
    setup
        .store
        .save_order(&order, Utc::now())
        .await
        .expect("save submitted");
    setup.assert_stored(OrderState::Submitted).await;
    let outcomes = setup.trade().await;
    assert!(outcomes.iter().any(|o| o == "opened"), "{outcomes:?}");
    assert!(
        setup.fake.lookups() >= 3,
        "believed missing only after three lookups"
    );
    setup.assert_ledger_matches().await;
    setup.assert_rerun_is_quiet().await;
}

/// A fresh SQLite database in `dir`.
async fn sqlite(dir: &Path) -> (String, Store) {
    let path: PathBuf = dir.join("barter.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.expect("store");
    (url, store)
}

/// A fresh PostgreSQL database named after `case` (dropped by [`drop_postgres`]), or `None`
/// when `BARTER_TEST_POSTGRES_URL` is not set.
async fn postgres(case: &str) -> Option<(String, Store, String)> {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set");
        return None;
    };
    // PostgreSQL names are at most 63 bytes.
    let db = format!("barter_vcrash_{case}_{}", std::process::id());
    assert!(db.len() < 63, "{db}");
    let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .expect("create");
    admin.close().await;
    let (base, _) = url.rsplit_once('/').expect("a database in the URL");
    let db_url = format!("{base}/{db}");
    let store = Store::connect(&db_url).await.expect("store");
    Some((db_url, store, db))
}

async fn drop_postgres(db: &str) {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        return;
    };
    if let Ok(admin) = sqlx::PgPool::connect(&url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
}

/// Runs `case` on a fresh SQLite database and, when configured, a fresh PostgreSQL one.
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident, $tag:literal, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let dir = tempfile::tempdir().expect("tempdir");
            let (url, store) = sqlite(dir.path()).await;
            $case(Setup::new(url, store).await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some((url, store, db)) = postgres($tag).await else {
                return;
            };
            $case(Setup::new(url, store.clone()).await).await;
            store.close().await;
            drop_postgres(&db).await;
        }
    };
}

on_both_backends!(
    venue_killed_between_send_and_answer_on_sqlite,
    venue_killed_between_send_and_answer_on_postgres,
    "answer",
    killed_between_send_and_answer
);
on_both_backends!(
    venue_killed_with_the_order_invisible_on_sqlite,
    venue_killed_with_the_order_invisible_on_postgres,
    "invisible",
    killed_with_the_order_invisible_for_a_while
);
on_both_backends!(
    venue_killed_during_the_lookup_on_sqlite,
    venue_killed_during_the_lookup_on_postgres,
    "lookup",
    killed_during_the_lookup
);
on_both_backends!(
    venue_killed_between_plan_and_send_on_sqlite,
    venue_killed_between_plan_and_send_on_postgres,
    "plan",
    killed_between_plan_and_send
);
on_both_backends!(
    venue_killed_between_submitted_and_post_on_sqlite,
    venue_killed_between_submitted_and_post_on_postgres,
    "submitted",
    killed_between_submitted_and_the_post
);
