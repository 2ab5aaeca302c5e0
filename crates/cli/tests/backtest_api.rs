//! `POST /api/backtests` and `GET /api/backtests/{id}` over real HTTP: a server on port 0 over a
//! SQLite file with the bundled sample BTC registered and synced offline.

use std::time::Duration;

use barter_service::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::Server;

/// A server with BTC (sample source) registered and its candles synced.
async fn start() -> Server {
    Server::sqlite_with_btc(Config::default()).await
}

fn sma_crossover() -> Value {
    json!({
        "entry": "crosses_above(sma(close, 10), sma(close, 30))",
        "exit": "crosses_below(sma(close, 10), sma(close, 30))",
        "instruments": ["BTC"],
    })
}

#[tokio::test]
async fn a_backtest_runs_and_is_kept_under_its_id() {
    let server = start().await;

    let (status, body) = server.post("/api/backtests", sma_crossover()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "done", "{body}");
    let id = body["id"].as_u64().expect("id");
    let result = &body["result"];
    assert!(result["stats"].is_object(), "{result}");
    let trades = result["trades"].as_array().expect("trades");
    assert!(!trades.is_empty(), "the crossover trades on the sample");
    assert!(
        result["equity"].as_array().is_some_and(|e| !e.is_empty()),
        "an equity series"
    );
    for field in ["open_trades", "unfilled"] {
        assert!(result[field].is_array(), "{field}");
    }
    for field in ["final_cash", "final_equity"] {
        assert!(!result[field].is_null(), "{field}");
    }

    // The same answer under its id.
    let (status, again) = server.get(&format!("/api/backtests/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, body);

    // Not waited for: 202 with the next id, then done under it.
    let (status, accepted) = server
        .post("/api/backtests?wait=false", sma_crossover())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["status"], "running");
    let second = accepted["id"].as_u64().expect("id");
    assert_ne!(second, id);
    let mut finished = Value::Null;
    for _ in 0..600 {
        let (status, body) = server.get(&format!("/api/backtests/{second}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != "running" {
            finished = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(finished["status"], "done", "{finished}");
    assert_eq!(finished["result"], body["result"], "the same backtest");

    server.shutdown().await;
}

#[tokio::test]
async fn a_sweep_returns_its_best_combinations() {
    let server = start().await;
    let request = json!({
        "entry": "crosses_above(sma(close, $fast), sma(close, $slow))",
        "exit": "crosses_below(sma(close, $fast), sma(close, $slow))",
        "params": {"fast": 10, "slow": 30},
        "instruments": ["BTC"],
        "sweep": ["fast=5..15:5", "slow=20..40:10"],
    });
    let (status, body) = server.post("/api/backtests?top=3", request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert_eq!(result["names"], json!(["fast", "slow"]), "{result}");
    assert!(result["combinations"].as_u64().is_some_and(|n| n > 0));
    assert!(result["rank_by"].is_string());
    let top = result["top"].as_array().expect("top");
    assert!(!top.is_empty() && top.len() <= 3, "{result}");

    // The sweep declares `$fast` and `$slow`: no `params` needed, and the same ranking.
    let (status, undeclared) = server
        .post(
            "/api/backtests?top=3",
            json!({
                "entry": "crosses_above(sma(close, $fast), sma(close, $slow))",
                "exit": "crosses_below(sma(close, $fast), sma(close, $slow))",
                "instruments": ["BTC"],
                "sweep": ["fast=5..15:5", "slow=20..40:10"],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{undeclared}");
    assert_eq!(undeclared["result"], body["result"], "{undeclared}");
    server.shutdown().await;
}

#[tokio::test]
async fn errors_bad_rules_unknown_ids_and_missing_tokens() {
    let server = start().await;

    // A bad rule: 422 with every problem and the rule position.
    let (status, body) = server
        .post(
            "/api/backtests",
            json!({"entry": "sma(close, 10) >", "instruments": ["BTC"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    let problems = body["error"]["problems"].as_array().expect("problems");
    let rule = problems
        .iter()
        .find(|p| p["field"] == "entry")
        .expect("a problem in `entry`");
    assert!(rule["line"].as_u64().is_some(), "{rule}");
    assert!(rule["column"].as_u64().is_some(), "{rule}");
    assert!(rule["message"].is_string(), "{rule}");

    // A parameter neither given nor swept: the hint names the request's fields.
    let (status, body) = server
        .post(
            "/api/backtests",
            json!({"entry": "close > sma(close, $n)", "instruments": ["BTC"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["problems"][0]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("unknown parameter `$n`"), "{message}");
    assert!(
        message.contains("in `params`") && message.contains("in `sweep`"),
        "{message}"
    );
    assert!(
        !message.contains("--set"),
        "API terms, not flags: {message}"
    );

    // An unknown field: 422 too.
    let (status, body) = server
        .post("/api/backtests", json!({"entry": "close > 0", "nope": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Nothing to backtest (no rule, no configured strategy): 422.
    let (status, body) = server.post("/api/backtests", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Walk-forward with nothing swept is refused, not run as a plain backtest.
    let (status, body) = server
        .post(
            "/api/backtests",
            json!({"entry": "close > 0", "walk_forward": "train=365d,test=90d"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["problems"][0]["field"], "walk_forward",
        "{body}"
    );

    // There is no list of backtests: GET /api/backtests is not a route.
    let (status, body) = server.get("/api/backtests").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    // An unknown id.
    let (status, body) = server.get("/api/backtests/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    // No token.
    for response in [
        server
            .client
            .post(format!("{}/api/backtests", server.base))
            .json(&sma_crossover())
            .send()
            .await
            .expect("request"),
        server
            .client
            .get(format!("{}/api/backtests/1", server.base))
            .send()
            .await
            .expect("request"),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    server.shutdown().await;
}

/// A 10,000-combination sweep of the crossover: long enough to still be running when a test
/// looks at it.
fn long_sweep() -> Value {
    json!({
        "entry": "crosses_above(sma(close, $fast), sma(close, $slow))",
        "exit": "crosses_below(sma(close, $fast), sma(close, $slow))",
        "params": {"fast": 10, "slow": 30},
        "instruments": ["BTC"],
        "sweep": ["fast=1..100", "slow=101..200"],
    })
}

/// Polls backtest `id` until it is no longer queued or running (at most `within`).
async fn settled(server: &Server, id: u64, within: Duration) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = server.get(&format!("/api/backtests/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != "running" && body["status"] != "queued" {
            return body;
        }
        assert!(started.elapsed() < within, "still {body} after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn oversized_backtests_are_refused_before_anything_runs() {
    let server = start().await;
    let started = std::time::Instant::now();
    let mut huge = sma_crossover();
    huge["entry"] = json!("crosses_above(sma(close, $fast), sma(close, $slow))");
    huge["exit"] = json!("crosses_below(sma(close, $fast), sma(close, $slow))");
    huge["params"] = json!({"fast": 10, "slow": 30});
    huge["sweep"] = json!(["fast=1..9990", "slow=1..1000"]);
    let (status, body) = server.post("/api/backtests?wait=false", huge).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "over_limit", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("9990000 combinations"), "{message}");
    assert!(message.contains("10000"), "{message}");
    assert_eq!(body["error"]["problems"][0]["field"], "sweep", "{body}");
    // Within the combination cap but too much work: a walk-forward of thousands of windows.
    let mut windows = long_sweep();
    windows["walk_forward"] = json!("train=300d,test=10d,step=1d");
    let (status, body) = server.post("/api/backtests?wait=false", windows).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "over_limit", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("instrument-days")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after planning: {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn backtests_queue_up_to_a_limit_and_can_be_cancelled() {
    let mut config = Config::default();
    config.server.backtests_running = 1;
    config.server.backtests_queued = 1;
    let server = Server::sqlite_with_btc(config).await;

    let started = std::time::Instant::now();
    let (status, first) = server.post("/api/backtests?wait=false", long_sweep()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["status"], "running", "{first}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "?wait=false answers at once: {:?}",
        started.elapsed()
    );
    let (status, second) = server.post("/api/backtests?wait=false", long_sweep()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    assert_eq!(second["status"], "queued", "{second}");

    // Full: refused with Retry-After.
    let response = server
        .client
        .post(server.url("/api/backtests?wait=false"))
        .bearer_auth(support::TOKEN)
        .json(&long_sweep())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "busy", "{body}");

    // Cancelling: the queued one at once, the running one at its next point.
    let delete = |id: u64| {
        server
            .client
            .delete(server.url(&format!("/api/backtests/{id}")))
            .bearer_auth(support::TOKEN)
            .send()
    };
    let second_id = second["id"].as_u64().expect("id");
    let response = delete(second_id).await.expect("delete");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "cancelled", "{body}");
    let first_id = first["id"].as_u64().expect("id");
    let response = delete(first_id).await.expect("delete");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let cancelled = std::time::Instant::now();
    let body = settled(&server, first_id, Duration::from_secs(10)).await;
    assert_eq!(body["status"], "cancelled", "{body}");
    assert!(
        cancelled.elapsed() < Duration::from_secs(5),
        "{:?}",
        cancelled.elapsed()
    );
    assert_eq!(
        settled(&server, second_id, Duration::from_secs(5)).await["status"],
        "cancelled"
    );
    // Finished: nothing to cancel; unknown: 404.
    let response = delete(first_id).await.expect("delete");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        delete(999_999).await.expect("delete").status(),
        StatusCode::NOT_FOUND
    );

    // The slots are free again.
    let (status, body) = server.post("/api/backtests", sma_crossover()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Shutdown cancels a running sweep and finishes well within its bound.
    let (status, body) = server.post("/api/backtests?wait=false", long_sweep()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let stopping = std::time::Instant::now();
    server.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn a_sweep_per_instrument_ranks_by_the_aggregate_within_the_limits() {
    let server = start().await;
    let (status, body) = server
        .post(
            "/api/instruments",
            json!({"symbol": "ETH", "source": "sample"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server.post("/api/sync_data", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = "crosses_above(sma(close, $fast), sma(close, $slow))";
    let exit = "crosses_below(sma(close, $fast), sma(close, $slow))";
    let request = json!({
        "entry": entry,
        "exit": exit,
        "instruments": ["BTC", "ETH"],
        "sweep": ["fast=5..15:5", "slow=20..40:10"],
        "per_instrument": true,
        "rank_by": "sharpe_ratio",
    });
    let (status, body) = server.post("/api/backtests?top=2", request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert_eq!(result["per_instrument"], true, "{result}");
    assert_eq!(result["instruments"], json!(["BTC", "ETH"]));
    assert_eq!(result["combinations"], 9);
    assert_eq!(result["backtests"], 18);
    assert_eq!(result["rank_across"], "median");
    let top = result["top"].as_array().expect("top");
    assert_eq!(top.len(), 2, "{result}");
    let median = |row: &Value| row["aggregate"]["median"].as_f64().expect("median");
    assert!(median(&top[0]) >= median(&top[1]), "{result}");
    // The best point's instruments are the plain single-instrument backtests at its values,
    // and its median of two is their mean.
    let best = &top[0];
    let mut sharpes = Vec::new();
    for (i, symbol) in ["BTC", "ETH"].iter().enumerate() {
        let (status, single) = server
            .post(
                "/api/backtests",
                json!({
                    "entry": entry,
                    "exit": exit,
                    "instruments": [symbol],
                    "params": {"fast": best["values"][0], "slow": best["values"][1]},
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{single}");
        let instrument = &best["instruments"][i];
        assert_eq!(instrument["symbol"], *symbol);
        assert_eq!(instrument["stats"], single["result"]["stats"], "{symbol}");
        assert_eq!(instrument["final_equity"], single["result"]["final_equity"]);
        sharpes.push(
            single["result"]["stats"]["sharpe_ratio"]
                .as_f64()
                .expect("sharpe"),
        );
    }
    assert_eq!(median(best), (sharpes[0] + sharpes[1]) / 2.0);

    // One instrument: refused, naming the field.
    let (status, body) = server
        .post(
            "/api/backtests",
            json!({
                "entry": entry, "exit": exit, "instruments": ["BTC"],
                "sweep": ["fast=5..15:5", "slow=20..40:10"], "per_instrument": true,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["problems"][0]["field"], "per_instrument",
        "{body}"
    );
    // 10,000 combinations are within the limit alone, 20,000 backtests over two instruments
    // are not: refused before anything runs.
    let (status, body) = server
        .post(
            "/api/backtests?wait=false",
            json!({
                "entry": entry, "exit": exit, "instruments": ["BTC", "ETH"],
                "sweep": ["fast=1..100", "slow=101..200"], "per_instrument": true,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "over_limit", "{body}");
    assert_eq!(
        body["error"]["problems"][0]["field"], "per_instrument",
        "{body}"
    );
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("20000 backtests"), "{message}");
    server.shutdown().await;
}
