//! Crash consistency: `barter run --replay-from` killed with SIGKILL at several points and
//! resumed, or run twice at once, leaves exactly the ledger and history of one uninterrupted
//! run (run ids, row ids and timestamps aside), on SQLite and on PostgreSQL.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barter_store::Store;
use serde_json::{Value, json};

/// Replayed period: long enough that the strategies open and close positions several times.
const FROM: &str = "2025-03-01";
const TO: &str = "2025-06-30";

/// Two strategies sized as a share of equity (the sizing a crash used to change), with exit
/// rules and risk exits, over crypto and a weekday instrument.
const CONFIG: &str = r#"
[account]
initial_cash = 10000

[[strategies]]
name = "fast-cross"
instruments = ["BTC", "ETH", "SOL", "SPY"]
entry = "crosses_above(sma(close, 3), sma(close, 8))"
exit = "crosses_below(sma(close, 3), sma(close, 8))"
stop_loss = "6%"
size = "20%"

[[strategies]]
name = "dip"
instruments = ["BTC", "ETH", "ADA"]
entry = "close < close[1] and close[1] < close[2]"
take_profit = "4%"
max_holding_days = 5
size = "15%"
"#;

fn barter(dir: &Path, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_barter"));
    command
        .current_dir(dir)
        .env_remove("BARTER_CONFIG")
        .env("BARTER_DATABASE_URL", database)
        .env_remove("BARTER_COINGECKO_API_KEY")
        .env("BARTER_LOG", "error")
        .stdin(Stdio::null());
    command
}

/// A directory with the config and the sample instruments registered in `database`.
fn prepare(dir: &Path, database: &str) {
    std::fs::write(dir.join("barter.toml"), CONFIG).expect("config");
    for symbol in ["BTC", "ETH", "SOL", "ADA", "SPY"] {
        let out = barter(dir, database)
            .args(["instruments", "add", symbol, "--source", "sample"])
            .output()
            .expect("barter runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn replay(dir: &Path, database: &str) -> Child {
    barter(dir, database)
        .args(["run", "--replay-from", FROM, "--to", TO, "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("barter runs")
}

fn finish(child: Child) {
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything a user can see of the ledger, with what legitimately differs between two
/// equivalent runs taken out: row and run ids (PostgreSQL sequences skip numbers a killed
/// transaction took), timestamps, and position ids, which are replaced by what identifies a
/// position (strategy, instrument, entry day).
async fn snapshot(store: &Store) -> Value {
    let positions = store.positions(None).await.expect("positions");
    let key_of = |id: i64| {
        positions.iter().find(|p| p.id.0 == id).map_or_else(
            || format!("unknown {id}"),
            |p| format!("{}/{}/{}", p.strategy, p.symbol, p.entry_day),
        )
    };
    let mut ledger = Vec::new();
    for position in &positions {
        let fills = store.fills_of(position.id).await.expect("fills");
        let mut value = json!({ "position": position, "fills": fills });
        value["position"]["id"] = json!(key_of(position.id.0));
        ledger.push(value);
    }
    ledger.sort_by_key(|v| v["position"]["id"].to_string());
    let account = store.account().await.expect("account").expect("an account");
    let history = store.history(1_000_000).await.expect("history");
    let mut entries: Vec<Value> = history
        .iter()
        .rev()
        .map(|entry| {
            let mut detail = entry.detail.clone();
            normalise(&mut detail, &key_of);
            json!({
                "kind": entry.kind,
                "symbol": entry.symbol,
                "strategy": entry.strategy,
                "position": entry.position.map(|p| key_of(p.0)),
                "detail": detail,
            })
        })
        .collect();
    // Two processes interleave instruments differently; the set of entries must be the same.
    entries.sort_by_key(ToString::to_string);
    json!({
        "ledger": ledger,
        "cash": account.cash,
        "history": entries,
    })
}

/// Drops ids and times from a history detail (a fill's row id too: a transaction killed after
/// inserting a fill has taken a PostgreSQL sequence number for good) and names positions by their key.
fn normalise(value: &mut Value, key_of: &dyn Fn(i64) -> String) {
    match value {
        Value::Object(map) => {
            for drop in [
                "decision_id",
                "fill_id",
                "run_id",
                "recorded_at",
                "opened_at",
                "closed_at",
            ] {
                map.remove(drop);
            }
            for (name, field) in map.iter_mut() {
                if ["position", "position_id", "open_position"].contains(&name.as_str())
                    && let Some(id) = field.as_i64()
                {
                    *field = json!(key_of(id));
                } else {
                    normalise(field, key_of);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| normalise(v, key_of)),
        Value::String(text) => {
            // Explanations name positions by id ("already holds BTC (position 7)").
            if let Some(at) = text.find("(position ") {
                let rest = &text[at + 10..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(id) = digits.parse::<i64>() {
                    *text = format!(
                        "{}(position {}{}",
                        &text[..at],
                        key_of(id),
                        &rest[digits.len()..]
                    );
                }
            }
        }
        _ => {}
    }
}

/// The clean run, then the same replay killed `kills` times at growing delays and resumed, and
/// two replays at once: all three must leave the same snapshot.
async fn check(databases: [(String, Store); 3]) {
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let [(clean_url, clean), (killed_url, killed), (twin_url, twin)] = databases;

    prepare(dirs[0].path(), &clean_url);
    let started = Instant::now();
    finish(replay(dirs[0].path(), &clean_url));
    let took = started.elapsed();
    let expected = snapshot(&clean).await;
    assert!(
        expected["ledger"].as_array().is_some_and(|l| l.len() >= 4),
        "the replay should trade: {expected}"
    );

    prepare(dirs[1].path(), &killed_url);
    for fraction in [0.15, 0.35, 0.6, 0.85] {
        let mut child = replay(dirs[1].path(), &killed_url);
        std::thread::sleep(took.mul_f64(fraction));
        // SIGKILL: nothing runs after it, no destructor, no rollback by the process.
        let _ = child.kill();
        let _ = child.wait();
    }
    finish(replay(dirs[1].path(), &killed_url));
    let resumed = snapshot(&killed).await;
    assert_same(&expected, &resumed, "killed and resumed");

    prepare(dirs[2].path(), &twin_url);
    let first = replay(dirs[2].path(), &twin_url);
    std::thread::sleep(Duration::from_millis(50));
    let second = replay(dirs[2].path(), &twin_url);
    finish(first);
    finish(second);
    let concurrent = snapshot(&twin).await;
    assert_same(&expected, &concurrent, "two at once");
}

fn assert_same(expected: &Value, actual: &Value, what: &str) {
    if expected == actual {
        return;
    }
    for part in ["ledger", "cash", "history"] {
        if expected[part] != actual[part] {
            let (e, a) = (&expected[part], &actual[part]);
            let first_difference = match (e.as_array(), a.as_array()) {
                (Some(e), Some(a)) => e
                    .iter()
                    .zip(a)
                    .find(|(x, y)| x != y)
                    .map(|(x, y)| format!("clean: {x}\n{what}: {y}"))
                    .unwrap_or_else(|| format!("lengths {} vs {}", e.len(), a.len())),
                _ => format!("clean: {e}\n{what}: {a}"),
            };
            panic!("{what}: the {part} differs from an uninterrupted run\n{first_difference}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_or_doubled_replay_leaves_the_ledger_of_a_clean_one_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut databases = Vec::new();
    for name in ["clean", "killed", "twin"] {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        );
        let store = Store::connect(&url).await.expect("store");
        databases.push((url, store));
    }
    let databases: [(String, Store); 3] = databases.try_into().unwrap_or_else(|_| unreachable!());
    check(databases).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_or_doubled_replay_leaves_the_ledger_of_a_clean_one_on_postgres() {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres crash consistency: BARTER_TEST_POSTGRES_URL is not set");
        return;
    };
    let admin = sqlx::PgPool::connect(&url).await.expect("postgres");
    let mut databases = Vec::new();
    for name in ["clean", "killed", "twin"] {
        let db = format!("barter_crash_{name}_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&admin)
            .await
            .expect("create");
        let (base, _) = url.rsplit_once('/').expect("a database in the URL");
        let db_url = format!("{base}/{db}");
        let store = Store::connect(&db_url).await.expect("store");
        databases.push((db_url, store));
    }
    let names: Vec<String> = databases
        .iter()
        .map(|(u, _)| {
            u.rsplit_once('/')
                .map(|(_, d)| d.to_owned())
                .unwrap_or_default()
        })
        .collect();
    let databases: [(String, Store); 3] = databases.try_into().unwrap_or_else(|_| unreachable!());
    check(databases).await;
    for db in names {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
}
