//! `POST /api/backtests` and `GET /api/backtests/{id}` over real HTTP: a server on port 0 over a
//! SQLite file with the bundled sample BTC registered and synced offline.

use std::time::Duration;

use barter_app::config::Config;
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
