//! Random JSON into every API request body, and random text into every query: the server
//! answers each with a status below 500, never panics, and still answers `/healthz` after.
//!
//! The normal run sends [`CASES`] requests; the long run is an ignored test:
//! `BARTER_FUZZ_CASES=100000 cargo test -p barter-cli --test hardening -- --ignored fuzz_api`.

use std::time::Duration;

use barter_service::config::Config;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Map, Value};

use crate::support::{Options, Server, TOKEN};

/// Requests sent by the normal run.
const CASES: u32 = 1_500;

/// Field names the API reads, so random bodies often reach the validation past the JSON shape.
const FIELDS: &[&str] = &[
    "symbol",
    "source",
    "source_id",
    "path",
    "name",
    "quote",
    "calendar",
    "rule",
    "kind",
    "params",
    "strategies",
    "entry",
    "exit",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_holding_days",
    "instruments",
    "from",
    "to",
    "cash",
    "size",
    "fee_bps",
    "slippage_bps",
    "fill",
    "whole_units",
    "close_at_end",
    "sweep",
    "constraints",
    "rank_by",
    "walk_forward",
    "per_instrument",
    "rank_across",
];

/// POST routes taking a JSON body. The job routes run a job on each call, so they are drawn
/// less often (see [`request`]).
const BODY_ROUTES: &[&str] = &[
    "/api/instruments",
    "/api/strategies/check",
    "/api/backtests",
    "/api/backtests?wait=false",
    "/api/halt",
];
const JOB_ROUTES: &[&str] = &[
    "/api/sync_data",
    "/api/sync_new_trades",
    "/api/sync_close_positions",
    "/api/run",
];
/// DELETE routes, their id filled with random text.
const DELETE_ROUTES: &[&str] = &["/api/backtests/{}", "/api/instruments/{}"];
/// GET routes with query parameters, filled with random text.
const QUERY_ROUTES: &[&str] = &[
    "/api/history?instrument={}&strategy={}&since={}&limit={}",
    "/api/instruments/{}/candles?from={}&to={}",
    "/api/positions?status={}",
    "/api/positions/{}",
    "/api/runs/{}",
    "/api/backtests/{}",
    "/api/orders?account={}&open={}&limit={}",
    "/api/orders/{}",
    "/api/accounts?{}",
    "/api/notifications?channel={}&limit={}",
    "/api/status?{}",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,30}",
        "[0-9]{1,6}",
        "-?[0-9]{1,30}(\\.[0-9]{0,40})?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "\\(+close\\)+ > [0-9]",
        Just("highest(close, 4294967295) > 1".to_owned()),
        Just("/proc/self/environ".to_owned()),
        Just("a=1..1e300".to_owned()),
        Just(String::new()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// One request: a route and its body or query.
#[derive(Debug, Clone)]
enum Request {
    Post(&'static str, Value),
    Get(String),
    Delete(String),
}

fn request() -> impl Strategy<Value = Request> {
    let encode = |t: &String| t.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    prop_oneof![
        12 => (proptest::sample::select(BODY_ROUTES), json())
            .prop_map(|(route, body)| Request::Post(route, body)),
        1 => (proptest::sample::select(JOB_ROUTES), json())
            .prop_map(|(route, body)| Request::Post(route, body)),
        4 => (proptest::sample::select(QUERY_ROUTES), proptest::collection::vec(text(), 4))
            .prop_map(move |(route, values)| {
                let mut path = route.to_owned();
                for value in &values {
                    path = path.replacen("{}", &encode(value), 1);
                }
                Request::Get(path)
            }),
        1 => (proptest::sample::select(DELETE_ROUTES), text())
            .prop_map(move |(route, value)| Request::Delete(route.replacen("{}", &encode(&value), 1))),
    ]
}

async fn send(server: &Server, request: &Request) -> reqwest::StatusCode {
    let builder = match request {
        Request::Post(route, body) => server.client.post(server.url(route)).json(body),
        Request::Get(path) => server.client.get(server.url(path)),
        Request::Delete(path) => server.client.delete(server.url(path)),
    };
    builder
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{request:?}: the server did not answer: {e}"))
        .status()
}

fn fuzz(cases: u32) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // No strategies: the job routes then run quickly, whatever the fuzzer sends them.
    let config = Config::default();
    let options = Options {
        job_wait: Duration::from_secs(60),
        read_cache: Duration::ZERO,
        ..Options::default()
    };
    let server = runtime.block_on(Server::sqlite(config, options));
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&request(), |request| {
            let status = runtime.block_on(send(&server, &request));
            prop_assert!(!status.is_server_error(), "{request:?} answered {status}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _) = runtime.block_on(server.get("/healthz"));
    assert_eq!(status, reqwest::StatusCode::OK);
    runtime.block_on(server.shutdown());
}

#[test]
fn random_json_and_queries_never_get_a_server_error() {
    fuzz(CASES);
}

#[test]
#[ignore = "long run: BARTER_FUZZ_CASES (default 100000)"]
fn long_random_json_and_queries() {
    let cases = std::env::var("BARTER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    fuzz(cases);
}
