//! `barter serve` over real HTTP: the server on port 0 against a SQLite file (and PostgreSQL when
//! `BARTER_TEST_POSTGRES_URL` is set), driven by a real client.

use std::time::Duration;

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_server::{AppState, ServeOptions};
use barter_service::config::Config;
use barter_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::{Options, Server, TOKEN};

fn strategy(name: &str, entry: &str) -> StrategyConfig {
    StrategyConfig {
        name: name.into(),
        instruments: InstrumentSelection::default(),
        entry: entry.into(),
        exit: Some("rsi(close, 14) > 70".into()),
        stop_loss: Some(NumberText::Text("10%".into())),
        take_profit: None,
        trailing_stop: None,
        max_holding_days: None,
        size: Some(NumberText::Text("1000".into())),
        max_open_positions: None,
        enabled: true,
        params: Default::default(),
        account: None,
    }
}

/// A server with one configured strategy (`dip`) over a fresh SQLite file.
async fn start(max_body_bytes: usize, job_wait: Duration) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
        .await
        .expect("store");
    start_on(store, dir, max_body_bytes, job_wait).await
}

/// The same server over `store`.
async fn start_on(
    store: Store,
    dir: tempfile::TempDir,
    max_body_bytes: usize,
    job_wait: Duration,
) -> Server {
    let config = Config {
        strategies: vec![strategy("dip", "rsi(close, 14) < 30")],
        ..Config::default()
    };
    let options = Options {
        max_body_bytes,
        job_wait,
        ..Options::default()
    };
    Server::on(store, dir, config, options).await
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

#[tokio::test]
async fn health_needs_no_token_and_the_api_needs_the_right_one() {
    let server = start(64 * 1024, Duration::from_secs(60)).await;
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));

    for auth in [None, Some("wrong-token"), Some("")] {
        let mut request = server.client.get(server.url("/api/instruments"));
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let challenge = response.headers().get("www-authenticate").cloned();
        assert_eq!(
            challenge.as_ref().and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"barter\"")
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(error_code(&body), "unauthorized");
    }
    // Job routes are behind the token too.
    let response = server
        .client
        .post(server.url("/api/run"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

#[tokio::test]
async fn every_error_is_json_with_the_right_status() {
    let server = start(1024, Duration::from_secs(60)).await;
    let (status, body) = server.get("/api/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let wrong_method = server
        .client
        .delete(server.url("/api/account"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = wrong_method.json().await.expect("a JSON error");
    assert_eq!(error_code(&body), "method_not_allowed");
    let (status, body) = server.get("/api/runs/not-a-number").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let (status, body) = server.get("/not-api").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let broken = server
        .client
        .post(server.url("/api/instruments"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let body: Value = broken.json().await.expect("json");
    assert_eq!(error_code(&body), "bad_request");

    let (status, body) = server
        .post("/api/instruments", json!({"source": "sample"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("symbol"),
        "names the missing field: {message}"
    );

    let (status, body) = server
        .post(
            "/api/instruments",
            json!({"symbol": "NOPE", "source": "sample"}),
        )
        .await;
    // The body is well formed; the bundled sample just has no such series.
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NOPE"),
        "{body}"
    );

    let huge = json!({"symbol": "X".repeat(4096), "source": "sample"});
    let (status, body) = server.post("/api/instruments", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "too_large");

    let (status, body) = server.get("/api/positions?status=sideways").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let (status, _) = server.get("/api/history?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = server.get("/api/runs/999").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn instruments_are_managed_and_the_daily_job_runs_over_http() {
    let server = start(64 * 1024, Duration::from_secs(120)).await;
    manage_and_run(server).await;
}

#[tokio::test]
async fn the_api_behaves_the_same_on_postgres() {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!(
        "barter_app_server_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let store = Store::connect_postgres_in_schema(&url, &schema)
        .await
        .expect("postgres");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_on(store.clone(), dir, 64 * 1024, Duration::from_secs(120)).await;
    manage_and_run(server).await;
    store.drop_schema().await.expect("drop the test schema");
}

/// `GET /api/status` behind the token: on an empty database nothing needs attention; a halt
/// does (the rest of the report is checked after the daily job in [`manage_and_run`]).
async fn status_over_http(server: &Server) {
    let refused = server
        .client
        .get(server.url("/api/status"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (status, report) = server.get("/api/status").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["healthy"], true, "{report}");
    assert_eq!(report["attention"], json!([]));
    assert_eq!(report["accounts"][0]["name"], "paper");
    assert!(report["jobs"][0]["last_run"].is_null(), "{report}");
    let (status, _) = server.post("/api/halt", json!({"reason": "check"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, report) = server.get("/api/status").await;
    assert_eq!(report["healthy"], false);
    assert_eq!(report["attention"][0]["kind"], "trading_halted", "{report}");
    let (status, _) = server.post("/api/resume", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

/// The kill switch over HTTP: halting with or without a reason, the first reason kept, bad
/// bodies refused by field, and the state shared with every other process through the store.
async fn halt_and_resume(server: &Server) {
    let (status, body) = server.get("/api/halt").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["halted"], false);
    // No body at all: halts without a reason.
    let response = reqwest::Client::new()
        .post(server.url("/api/halt"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = server.post("/api/halt", json!({"reason": "ignored"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["halted"], true);
    assert_eq!(
        body["reason"],
        Value::Null,
        "halting twice keeps the first state"
    );
    assert_eq!(body["changed_by"], "api");
    let (status, body) = server.post("/api/resume", json!({})).await;
    assert_eq!((status, &body["halted"]), (StatusCode::OK, &json!(false)));
    let (status, body) = server
        .post("/api/halt", json!({"reason": "venue\u{1b}[2J incident\n"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["reason"], "venue [2J incident",
        "control characters become spaces, the ends trimmed"
    );
    let (status, body) = server.post("/api/halt", json!({"why": "x"})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(body.to_string().contains("why"), "{body}");
    let long = "x".repeat(501);
    let (status, body) = server.post("/api/halt", json!({"reason": long})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(body.to_string().contains("reason"), "{body}");
    let (status, body) = server.post("/api/resume", json!({})).await;
    assert_eq!((status, &body["halted"]), (StatusCode::OK, &json!(false)));
}

/// Orders over HTTP: listed newest first with their fills and average price, filtered by
/// account and openness, one by id; bad parameters refused by name.
async fn orders_are_listed(server: &Server) {
    use barter_core::order::{
        DecisionRef, Order, OrderAmount, OrderEvent, OrderFill, OrderState, VenueReport,
    };
    use barter_core::{Money, Price, Quantity, Side, Symbol};
    use rust_decimal_macros::dec;
    let (status, body) = server.get("/api/orders").await;
    assert_eq!(
        (status, body.clone()),
        (StatusCode::OK, json!([])),
        "{body}"
    );
    let decision = DecisionRef {
        strategy: "trend".into(),
        symbol: Symbol::parse("BTC").expect("symbol"),
        day: "2026-12-06".parse().expect("day"),
        side: Side::Buy,
    };
    let order =
        Order::planned("main", decision, OrderAmount::Quote(Money(dec!(500)))).expect("order");
    let now = chrono::Utc::now();
    let mut order = match server.store.plan_order(&order, now).await.expect("plan") {
        barter_store::PlannedOrder::New(order) | barter_store::PlannedOrder::Existing(order) => {
            order
        }
    };
    order.apply(OrderEvent::Sent).expect("sent");
    server
        .store
        .save_order(&order, now)
        .await
        .expect("save submitted");
    let fill = |id: &str, price, quantity| OrderFill {
        trade_id: id.into(),
        price: Price(price),
        quantity: Quantity(quantity),
        fee: dec!(0.000005),
        fee_asset: "BTC".into(),
    };
    order
        .apply(OrderEvent::Report(VenueReport {
            state: OrderState::Filled,
            venue_order_id: Some("28".into()),
            executed_quantity: Quantity(dec!(0.01)),
            fills: vec![
                fill("1", dec!(50000), dec!(0.005)),
                fill("2", dec!(50100), dec!(0.005)),
            ],
            reason: None,
        }))
        .expect("filled");
    server
        .store
        .save_order(&order, now)
        .await
        .expect("save filled");
    let (status, body) = server.get("/api/orders").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = &body[0];
    assert_eq!(listed["state"], "filled");
    assert_eq!(listed["filled_quantity"], "0.010");
    assert_eq!(listed["average_price"], "50050");
    assert_eq!(listed["fills"].as_array().map(Vec::len), Some(2));
    let id = listed["id"].as_i64().expect("id");
    let (status, one) = server.get(&format!("/api/orders/{id}")).await;
    assert_eq!(
        (status, &one["client_order_id"]),
        (StatusCode::OK, &listed["client_order_id"])
    );
    for (path, count) in [
        ("/api/orders?open=true", 0),
        ("/api/orders?account=other", 0),
        ("/api/orders?account=main&limit=1", 1),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body.as_array().map(Vec::len), Some(count), "{path}: {body}");
    }
    let (status, body) = server.get("/api/orders?limit=0").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert!(body.to_string().contains("limit"), "{body}");
    let (status, _) = server.get("/api/orders/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get("/api/orders/x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Registers instruments, runs the daily job, reads everything back, removes one instrument,
/// and scrapes the metrics.
async fn manage_and_run(server: Server) {
    status_over_http(&server).await;
    halt_and_resume(&server).await;
    orders_are_listed(&server).await;
    for symbol in ["BTC", "ETH"] {
        let (status, body) = server
            .post(
                "/api/instruments",
                json!({"symbol": symbol, "source": "sample"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["symbol"], symbol);
    }
    let (status, body) = server
        .post(
            "/api/instruments",
            json!({"symbol": "BTC", "source": "sample"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "duplicate")
    );
    let (_, list) = server.get("/api/instruments").await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    let (status, body) = server.post("/api/run", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs = body["runs"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = runs.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["sync_data", "sync_new_trades", "sync_close_positions"]
    );
    assert_ne!(body["status"], "failed", "{body}");
    let id = runs[0]["id"].as_i64().expect("run id");
    let (status, run) = server.get(&format!("/api/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run["kind"], "sync_data");

    // The status reports this run as each job's last; on the wall clock (after the sample's
    // last day) both instruments are stale.
    let (status, report) = server.get("/api/status").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["jobs"][0]["last_run"]["id"], runs[0]["id"],
        "{report}"
    );
    assert_eq!(report["healthy"], false);
    let stale: Vec<&str> = report["attention"]
        .as_array()
        .expect("attention")
        .iter()
        .filter(|i| i["kind"] == "instrument_stale")
        .filter_map(|i| i["subject"].as_str())
        .collect();
    assert_eq!(stale, ["BTC", "ETH"], "{report}");

    let (status, candles) = server
        .get("/api/instruments/BTC/candles?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        candles.as_array().map(Vec::len),
        Some(31),
        "a month of daily candles"
    );
    let (status, body) = server.get("/api/instruments/XYZ/candles").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    // `to` before `from` is a range without days, like any other: no candle, not an error (a
    // client generated from the description cannot know better, and needs no special case).
    let (status, body) = server
        .get("/api/instruments/BTC/candles?from=2020-02-01&to=2020-01-01")
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    // Days are written in full: the CLI's lenient forms are not part of the API.
    for bad in ["from=", "to=2020-1-1", "from=%202020-01-01"] {
        let (status, body) = server
            .get(&format!("/api/instruments/BTC/candles?{bad}"))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad}: {body}"
        );
    }
    let (status, body) = server
        .get("/api/instruments/BTC/candles?from=2025-02-30")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("2025-02 has 28 days"), "{body}");

    let (status, history) = server.get("/api/history?instrument=BTC&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["entries"].as_array().map(Vec::len), Some(1));
    let before = history["next_before"].as_i64().expect("a next page");
    let (_, next) = server
        .get(&format!(
            "/api/history?instrument=BTC&limit=1&before={before}"
        ))
        .await;
    let next_id = next["entries"][0]["id"].as_i64().unwrap_or(i64::MAX);
    assert!(next_id < before, "pages go back in time");

    let (status, account) = server.get("/api/account").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["initial_cash"], "10000");
    let (status, positions) = server.get("/api/positions?status=open").await;
    assert_eq!(status, StatusCode::OK);
    assert!(positions.is_array());
    let (status, body) = server.get("/api/positions/12345").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let response = server
        .client
        .delete(server.url("/api/instruments/ETH"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, list) = server.get("/api/instruments").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Metrics: behind the token, Prometheus text with the runs, requests and the account.
    let refused = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("text");
    for expected in [
        "barter_runs_total{kind=\"sync_data\"",
        "barter_run_duration_seconds",
        "barter_candles_synced_total",
        "barter_http_requests_total{route=\"/api/instruments\",method=\"POST\",status=\"201\"}",
        "barter_open_positions",
        "barter_equity",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn strategies_are_listed_and_checked_with_positions() {
    let server = start(64 * 1024, Duration::from_secs(60)).await;
    let (status, list) = server.get("/api/strategies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["name"], "dip");

    let good =
        serde_json::to_value(strategy("ok", "sma(close, 5) > sma(close, 20)")).expect("json");
    let (status, body) = server.post("/api/strategies/check", good).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], true, "{body}");

    let bad = serde_json::to_value(strategy("typo", "emaa(close, 5) > 1")).expect("json");
    let (status, body) = server
        .post("/api/strategies/check", json!({ "strategies": [bad] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], false);
    let message = body["problems"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("line 1, column 1"),
        "line and column: {message}"
    );
    assert!(message.contains("did you mean `ema`"), "{message}");
    assert_eq!(body["problems"][0]["field"], "entry");

    // A single rule, as an editor checks it while it is typed: positions as fields.
    let (status, body) = server
        .post(
            "/api/strategies/check",
            json!({"rule": "sma(close, $fast) > emaa(close, 5)", "kind": "entry", "params": {"fast": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let problem = &body["problems"][0];
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_u64()),
        (Some(1), Some(21)),
        "{body}"
    );
    assert_eq!(
        (problem["start"].as_u64(), problem["end"].as_u64()),
        (Some(20), Some(24))
    );
    assert_eq!(problem["help"], "did you mean `ema`?");
    let (_, body) = server
        .post(
            "/api/strategies/check",
            json!({"rule": "close > sma(close, 20)"}),
        )
        .await;
    assert_eq!(body["ok"], true, "{body}");
    let (status, body) = server
        .post(
            "/api/strategies/check",
            json!({"rule": "close > 1", "kind": "sideways"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_job_not_waited_for_answers_202_and_a_second_call_conflicts_while_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
        .await
        .expect("store");
    // Every sample instrument, so the sync takes long enough to be caught running.
    for instrument in barter_sources::sample::instruments() {
        store.add_instrument(&instrument).await.expect("add");
    }
    let server = start_on(store, dir, 64 * 1024, Duration::from_secs(120)).await;
    let (status, body) = server.post("/api/run?wait=false", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["run_id"]
        .as_i64()
        .expect("the run id comes with the 202");
    let (second, conflict) = server.post("/api/sync_data", json!({})).await;
    let (_, run) = server.get(&format!("/api/runs/{id}")).await;
    if run["status"] == "running" || second == StatusCode::CONFLICT {
        assert_eq!(second, StatusCode::CONFLICT, "{conflict}");
        assert_eq!(error_code(&conflict), "job_running");
        assert_eq!(conflict["error"]["run_id"], id);
    }
    // Wait for the job, then the same call is accepted again.
    let mut finished = false;
    for _ in 0..600 {
        let (_, run) = server.get("/api/runs?limit=3").await;
        let statuses: Vec<&str> = run
            .as_array()
            .map(|runs| runs.iter().filter_map(|r| r["status"].as_str()).collect())
            .unwrap_or_default();
        if statuses.len() == 3 && !statuses.contains(&"running") {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finished, "the run finished");
    let (status, _) = server.post("/api/sync_data", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn a_short_wait_answers_202_and_shutdown_records_the_job_as_interrupted_or_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
        .await
        .expect("store");
    for instrument in barter_sources::sample::instruments() {
        store.add_instrument(&instrument).await.expect("add");
    }
    // A zero wait: the route answers 202 at once, with the run id.
    let server = start_on(store, dir, 64 * 1024, Duration::ZERO).await;
    let (status, body) = server.post("/api/run", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let store = server.store.clone();
    server.shutdown().await;
    // After a graceful shutdown nothing is left running: each run finished or was interrupted.
    let runs = store.runs(10).await.expect("runs");
    assert!(!runs.is_empty());
    for run in &runs {
        assert_ne!(run.status.as_str(), "running", "{run:?}");
        assert!(run.finished_at.is_some());
    }
}

#[tokio::test]
async fn a_job_asked_to_stop_records_its_run_as_interrupted() {
    use barter_service::jobs::{Job, JobControl, run_job};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("stop.db").display()
    ))
    .await
    .expect("store");
    for instrument in barter_sources::sample::instruments() {
        store.add_instrument(&instrument).await.expect("add");
    }
    let config = Config::default();
    let control = JobControl::default();
    control.stop();
    let runs = run_job(&config, &store, Job::Run, chrono::Utc::now(), &control)
        .await
        .expect("runs");
    // The sync stops before its first instrument; `run` does not go on to trade and close.
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status.as_str(), "interrupted");
    assert_eq!(*control.runs().borrow(), vec![runs[0].id]);
    let stored = store.run(runs[0].id).await.expect("read").expect("stored");
    assert_eq!(stored.status.as_str(), "interrupted");
    assert!(stored.finished_at.is_some());
    // The next run completes what was left.
    let next = run_job(
        &config,
        &store,
        Job::SyncData,
        chrono::Utc::now(),
        &barter_service::jobs::Unobserved,
    )
    .await
    .expect("runs");
    assert_eq!(next[0].status.as_str(), "succeeded");
}

#[tokio::test]
async fn a_scheduled_run_is_recorded_at_its_moment_which_is_its_last_done() {
    use barter_server::scheduled::Scheduled;
    use barter_service::jobs::Job;
    use barter_service::schedule::JobRunner;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .expect("store");
    for instrument in barter_sources::sample::instruments().into_iter().take(2) {
        store.add_instrument(&instrument).await.expect("add");
    }
    let options = ServeOptions {
        bind: "127.0.0.1:0".parse().expect("address"),
        token: Some(TOKEN.to_owned()),
        job_wait: Duration::from_secs(1),
        max_body_bytes: 1024,
        read_cache: Duration::from_secs(1),
    };
    let runner = Scheduled::new(AppState::new(Config::default(), store.clone(), options));
    assert_eq!(runner.last_done(Job::Run).await.expect("read"), None);
    let at = "2026-01-05T00:10:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .expect("time");
    runner.run(Job::Run, at).await.expect("the scheduled run");
    for job in [Job::Run, Job::SyncData, Job::SyncNewTrades] {
        assert_eq!(
            runner.last_done(job).await.expect("read"),
            Some(at),
            "{job}"
        );
    }
    let runs = store.runs(10).await.expect("runs");
    assert_eq!(runs.len(), 3, "sync, trade and close");
    assert!(runs.iter().all(|r| r.started_at == at));
}

/// A server over a fresh SQLite file with `edit` applied to the default configuration.
async fn start_with(edit: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config {
        strategies: vec![strategy("dip", "rsi(close, 14) < 30")],
        ..Config::default()
    };
    edit(&mut config);
    Server::sqlite(config, Options::default()).await
}

#[tokio::test]
async fn wrong_bearer_tokens_are_throttled_but_the_right_one_always_passes() {
    let server = start(64 * 1024, Duration::from_secs(60)).await;
    let call = |token: &str| {
        server
            .client
            .get(server.url("/api/instruments"))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    for i in 0..5 {
        let wrong = call("guess").await.expect("request");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // Past the limit a wrong token is still 401 (what clients and contract testers expect for
    // bad credentials), saying the address is locked out and for how long.
    let refused = call("guess").await.expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(error_code(&body), "too_many_attempts");
    // The right token is let through even from the locked-out address.
    assert_eq!(call(TOKEN).await.expect("request").status(), StatusCode::OK);
    // Requests without a token are not guesses; they stay 401.
    let none = server
        .client
        .get(server.url("/api/instruments"))
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    // The scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = server
            .client
            .get(server.url("/api/instruments"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client() {
    let server = start_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let call = |client_address: &'static str| {
        server
            .client
            .get(server.url("/api/instruments"))
            .bearer_auth("guess")
            .header("x-forwarded-for", client_address)
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            call("198.51.100.1").await.expect("request").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = |body: Value| error_code(&body) == "too_many_attempts";
    let response = call("198.51.100.1").await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(locked(response.json().await.expect("json")));
    // Another client behind the same proxy is not locked out.
    let response = call("198.51.100.2").await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!locked(response.json().await.expect("json")));
    server.shutdown().await;

    // Without trusted proxies the header is the client's own word and ignored: the peer counts.
    let server = start(64 * 1024, Duration::from_secs(60)).await;
    for (i, forged) in [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
        "198.51.100.5",
    ]
    .iter()
    .enumerate()
    {
        let response = server
            .client
            .get(server.url("/api/instruments"))
            .bearer_auth("guess")
            .header("x-forwarded-for", *forged)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let response = server
        .client
        .get(server.url("/api/instruments"))
        .bearer_auth("guess")
        .header("x-forwarded-for", "198.51.100.6")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(locked(response.json().await.expect("json")));
    server.shutdown().await;
}

/// Opens a TCP connection to `server`.
async fn connect(server: &Server) -> tokio::net::TcpStream {
    let address = server.base.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address)
        .await
        .expect("connect")
}

/// Whether the server closes `stream` within `within` (reads until end of file).
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0_u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn idle_and_trickling_connections_are_closed_and_do_not_starve_the_server() {
    use tokio::io::AsyncWriteExt;
    let server = start_with(|c| c.server.header_timeout_secs = 1).await;
    // 300 connections: half send nothing, half a partial request line.
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut stream = connect(&server).await;
        if i % 2 == 1 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x")
                .await
                .expect("write");
        }
        idle.push(stream);
    }
    let took = healthy_after(&server).await;
    assert!(
        took < Duration::from_secs(2),
        "/healthz answered in {took:?}"
    );
    // The idle ones are closed after the header timeout.
    for stream in idle.iter_mut().take(10) {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    // A client that trickles its headers a byte at a time is closed too.
    let mut trickle = connect(&server).await;
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        .iter()
        .cycle()
    {
        if trickle.write_all(&[*byte]).await.is_err()
            || closed_within(&mut trickle, Duration::from_millis(200)).await
        {
            closed = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    assert!(
        closed,
        "a trickling client is closed after the header timeout"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
    // So is one that sends its headers at once and then trickles the body.
    let mut trickle = connect(&server).await;
    let head = format!(
        "POST /api/strategies/check HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \
         {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    trickle.write_all(head.as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    let mut answered = false;
    while started.elapsed() < Duration::from_secs(10) {
        if trickle.write_all(b" ").await.is_err()
            || closed_within(&mut trickle, Duration::from_millis(200)).await
        {
            answered = true;
            break;
        }
    }
    assert!(answered, "a trickled body is cut off");
    assert!(started.elapsed() >= Duration::from_millis(800));
    server.shutdown().await;
}

#[tokio::test]
async fn beyond_the_connection_cap_new_connections_wait_for_a_free_one() {
    let server = start_with(|c| {
        c.server.max_connections = 2;
        c.server.header_timeout_secs = 1;
    })
    .await;
    let _held = [connect(&server).await, connect(&server).await];
    // Give the server a moment to accept both (each takes a permit).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = healthy_after(&server).await;
    // Answered once the header timeout closed an idle connection, not before.
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    server.shutdown().await;
}

/// What the server logs, captured once for this test binary.
fn captured_log() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&log);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        log
    })
    .clone()
}

/// A writer into the captured log.
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_request_log_shows_the_path_the_client_sent() {
    let log = captured_log();
    let server = start(64 * 1024, Duration::from_secs(60)).await;
    let (status, body) = server
        .post(
            "/api/strategies/check",
            json!({"strategies": [{"name": "x", "entry": "close > 0"}]}),
        )
        .await;
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} {body}"
    );
    let refused = server
        .client
        .post(server.url("/api/strategies/check"))
        .bearer_auth("guess")
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
    let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    assert!(
        text.contains("POST /api/strategies/check -> "),
        "the log names the full path: {text}"
    );
    assert!(
        text.contains("refused POST /api/strategies/check: wrong token"),
        "the refusal names the full path: {text}"
    );
    assert!(!text.contains(" /strategies/check"), "{text}");
}

/// How long `/healthz` took to answer 200 (asserted).
async fn healthy_after(server: &Server) -> Duration {
    let started = std::time::Instant::now();
    let health = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    started.elapsed()
}

#[tokio::test]
async fn an_answer_given_before_the_body_was_read_closes_the_connection_and_says_so() {
    let server = start(64 * 1024, Duration::from_secs(120)).await;
    let client = reqwest::Client::new();
    // 415 is decided from the headers: the body is never read, so the connection ends, and
    // the client is told not to send its next request on it.
    let unread = client
        .post(server.url("/api/instruments"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("symbol=BTC")
        .send()
        .await
        .expect("request");
    assert_eq!(unread.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        unread
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    // A body read to its end (even one refused afterwards) keeps the connection open.
    let read = client
        .post(server.url("/api/instruments"))
        .bearer_auth(TOKEN)
        .json(&json!({"symbol": "BTC", "source": "nowhere"}))
        .send()
        .await
        .expect("request");
    assert_eq!(read.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        read.headers().get("connection").is_none(),
        "{:?}",
        read.headers()
    );
    let get = client
        .get(server.url("/api/instruments"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert!(
        get.headers().get("connection").is_none(),
        "{:?}",
        get.headers()
    );
    server.shutdown().await;
}

/// `GET /api/notifications` and `POST /api/notifications/test` against the fake receiver; a
/// job's notifications go out as soon as the job is done (not at the next periodic pass).
#[tokio::test]
async fn notifications_are_tested_listed_and_sent_after_a_job() {
    use barter_fakes::notify::{Receiver, Service, WEBHOOK_PATH};
    let receiver = Receiver::start().await;
    let url = format!("{}{WEBHOOK_PATH}", receiver.url());
    let server = start_with(|config| {
        let channel: barter_service::notify::ChannelConfig = toml::from_str(&format!(
            "name = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\""
        ))
        .expect("channel");
        config.notify = vec![channel];
    })
    .await;
    let unauthorized = reqwest::Client::new()
        .get(server.url("/api/notifications"))
        .send()
        .await
        .expect("request");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = server.post("/api/notifications/test", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["channel"], "hook");
    assert_eq!(body[0]["accepted"], true, "{body}");
    assert_eq!(
        receiver.received_by(Service::Webhook)[0].json()["event"],
        "test"
    );
    let (status, body) = server
        .post("/api/notifications/test", json!({"channel": "nope"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    let (status, body) = server
        .post("/api/notifications/test", json!({"bogus": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server.get("/api/notifications?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server.get("/api/notifications").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["channels"][0]["channel"], "hook");
    assert_eq!(body["deliveries"][0]["state"], "sent");

    // A failed run's notification leaves right after the job, well before the next pass.
    let failed = barter_core::notify::Notification::new(
        barter_core::notify::EventKind::RunFailed,
        "run_failed:test".into(),
        "a run failed".into(),
        chrono::Utc::now(),
    );
    server
        .store
        .enqueue_notification(&failed)
        .await
        .expect("enqueue");
    let (status, _) = server.post("/api/sync_data", json!({})).await;
    assert!(status.is_success(), "{status}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received_by(Service::Webhook).len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not sent after the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        receiver.received_by(Service::Webhook)[1].json()["event"],
        "run_failed"
    );
}
