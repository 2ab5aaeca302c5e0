//! `GET /api/openapi.json` against the real server: the document is OpenAPI 3 with a bearer
//! scheme on `/api/*`, and its (method, path) pairs are exactly the routes the router serves.
//!
//! "The routes the router serves" are not taken from the document: the test keeps its own list
//! ([`ROUTES`], written from the routers in `server/{mod,api,jobs}.rs`), requires the document
//! to list the same set, and then asks the running server about every route in either:
//! - without a token, the right method on an `/api` route answers 401: the token check is a
//!   `route_layer`, so it only runs for a route the router matched (a path it does not serve
//!   answers the JSON 404 fallback instead, checked as a control);
//! - every other method on the same path answers 405 (the path is served, that method is not);
//! - with the token and the right method the answer is neither 405 nor the router's fallback
//!   404 (jobs with `?wait=false` on an empty database, so they return at once).

use std::collections::BTreeSet;
use std::time::Duration;

use barter_service::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod support;

use support::{Options, Server, TOKEN};

/// Every route of the router, by hand: `/healthz` (server/mod.rs), the read/manage routes
/// (server/api.rs) and the job routes (server/jobs.rs).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/instruments"),
    ("POST", "/api/instruments"),
    ("DELETE", "/api/instruments/{symbol}"),
    ("GET", "/api/instruments/{symbol}/candles"),
    ("GET", "/api/runs"),
    ("GET", "/api/runs/{id}"),
    ("GET", "/api/positions"),
    ("GET", "/api/positions/{id}"),
    ("GET", "/api/history"),
    ("GET", "/api/strategies"),
    ("POST", "/api/strategies/check"),
    ("GET", "/api/account"),
    ("GET", "/api/halt"),
    ("POST", "/api/halt"),
    ("POST", "/api/resume"),
    ("GET", "/api/orders"),
    ("GET", "/api/accounts"),
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/test"),
    ("GET", "/api/status"),
    ("POST", "/api/sessions/sign_out_everywhere"),
    ("GET", "/api/orders/{id}"),
    ("POST", "/api/backtests"),
    ("GET", "/api/backtests/{id}"),
    ("DELETE", "/api/backtests/{id}"),
    ("POST", "/api/sync_data"),
    ("POST", "/api/sync_new_trades"),
    ("POST", "/api/sync_close_positions"),
    ("POST", "/api/run"),
];

/// The methods probed for 405 on a served path (HEAD and OPTIONS left out: axum answers HEAD
/// for every GET route by itself).
const PROBED_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The operation keys of an OpenAPI path item.
const OPERATION_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

type Route = (String, String);

/// A server over a fresh SQLite file, its jobs waited for 30 s.
async fn start() -> Server {
    let options = Options {
        job_wait: Duration::from_secs(30),
        ..Options::default()
    };
    Server::sqlite(Config::default(), options).await
}

/// Sends `method path`, with the token when `token`, with a `{}` JSON body for POST.
async fn send(server: &Server, method: &str, path: &str, token: bool) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server.client.request(method.clone(), server.url(path));
    if token {
        request = request.bearer_auth(TOKEN);
    }
    if method == Method::POST {
        request = request.json(&json!({}));
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A concrete URL path for a templated route.
fn concrete(path: &str) -> String {
    path.replace("{symbol}", "BTC").replace("{id}", "1")
}

/// Whether an answer is the router's own 404 (no route matched), not a handler's.
fn is_fallback(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::NOT_FOUND
        && body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no such route"))
}

/// The (METHOD, path) pairs of a document's `paths`.
fn documented(document: &Value) -> BTreeSet<Route> {
    let paths = document["paths"].as_object().expect("`paths` is an object");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for key in item.keys() {
            if OPERATION_KEYS.contains(&key.as_str()) {
                routes.insert((key.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn listed() -> BTreeSet<Route> {
    ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let server = start().await;

    // The document: OpenAPI 3, JSON, behind the token.
    let (status, _) = send(&server, "GET", "/api/openapi.json", false).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the document needs the token"
    );
    let (status, document) = send(&server, "GET", "/api/openapi.json", true).await;
    assert_eq!(status, StatusCode::OK);
    let version = document["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "openapi version {version}");
    assert!(document["info"]["title"].is_string(), "info.title");

    // A bearer scheme, required by every /api operation and /metrics, by /healthz not at all.
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, scheme)| {
            scheme["type"] == "http"
                && scheme["scheme"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(bearer.len(), 1, "one http bearer scheme: {schemes:?}");
    let bearer = bearer[0];

    // The document's routes are the hand-written list.
    let in_document = documented(&document);
    let in_list = listed();
    assert_eq!(
        in_document,
        in_list,
        "documented but not listed: {:?}; listed but not documented: {:?}",
        in_document.difference(&in_list).collect::<Vec<_>>(),
        in_list.difference(&in_document).collect::<Vec<_>>(),
    );

    // Each operation: a summary, a unique id, its path parameters, its security.
    let mut ids = BTreeSet::new();
    for (method, path) in &in_document {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has a summary"
        );
        let id = operation["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} is unique");
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let declared = operation["parameters"].as_array().is_some_and(|params| {
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{method} {path} declares path parameter {name}");
            }
        }
        let requirements = operation["security"].as_array();
        let uses_bearer =
            requirements.is_some_and(|r| r.iter().any(|req| req.get(bearer.as_str()).is_some()));
        if path.starts_with("/api/") || path == "/metrics" {
            assert!(uses_bearer, "{method} {path} requires the bearer token");
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
        } else {
            assert!(!uses_bearer, "{method} {path} needs no token");
        }
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{method} {path} documents a success"
        );
    }

    // Every `$ref` points at a component the document has.
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty(), "the document uses component schemas");
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .expect("a local reference, `#/...`");
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} resolves in the document"
        );
    }

    // Control: a path the router does not serve answers its fallback, token or not.
    for token in [false, true] {
        let (status, body) = send(&server, "GET", "/api/no_such_route", token).await;
        assert!(is_fallback(status, &body), "{status} {body}");
    }

    // Ask the router about every route in the document or the list.
    let all: BTreeSet<Route> = in_document.union(&in_list).cloned().collect();
    for (method, path) in &all {
        let url = concrete(path);
        if path.starts_with("/api/") || path == "/metrics" {
            let (status, body) = send(&server, method, &url, false).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {url} without a token: the router matched it ({body})"
            );
        }
        let url = if method == "POST" && jobs_path(path) {
            format!("{url}?wait=false")
        } else {
            url
        };
        let (status, body) = send(&server, method, &url, true).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !is_fallback(status, &body),
            "{method} {url} with the token is served: {status} {body}"
        );
    }

    // Every other method on a served path is refused with 405, not served and not 404.
    let paths: BTreeSet<&String> = all.iter().map(|(_, path)| path).collect();
    for path in paths {
        let url = concrete(path);
        for method in PROBED_METHODS {
            if all.contains(&((*method).to_owned(), path.clone())) {
                continue;
            }
            let (status, body) = send(&server, method, &url, true).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url} is not a route: {body}"
            );
        }
    }

    server.shutdown().await;
}

/// Every `$ref` value in `value`.
fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(inner, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// The job routes, which run a job when called: probed with `?wait=false`.
fn jobs_path(path: &str) -> bool {
    matches!(
        path,
        "/api/sync_data" | "/api/sync_new_trades" | "/api/sync_close_positions" | "/api/run"
    )
}

#[tokio::test]
async fn the_error_schema_and_the_decimal_strings_are_described() {
    let server = start().await;
    let (status, document) = send(&server, "GET", "/api/openapi.json", true).await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &document["components"]["schemas"];
    let error = &schemas["ErrorBody"];
    assert_eq!(error["type"], "object", "{error}");
    assert!(
        error["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("error"))),
        "{error}"
    );
    let detail = &schemas["ErrorDetail"];
    for field in ["code", "message"] {
        assert_eq!(detail["properties"][field]["type"], "string", "{detail}");
    }
    // Prices are decimal strings, as rust_decimal's `serde-with-str` writes them.
    for field in ["open", "high", "low", "close", "volume"] {
        assert_eq!(
            schemas["Candle"]["properties"][field]["type"], "string",
            "Candle.{field}"
        );
    }
    // Every calendar the core knows is in the schema, by its config name.
    assert_eq!(
        schemas["Calendar"]["enum"],
        json!(["continuous", "weekdays", "xnys"]),
        "{}",
        schemas["Calendar"]
    );
    // An error answer has the documented shape.
    let (status, body) = send(&server, "GET", "/api/runs/12345", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
    server.shutdown().await;
}

/// The message of an API error, asserted to speak the API's language: no CLI flag in it.
fn api_message(body: &Value) -> String {
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !message.contains("--"),
        "an API error names JSON fields, never a CLI flag: {message}"
    );
    message
}

/// Each disagreement the independent contract run found between the document and the server
/// (issue 16), now stated in the document and enforced the same way by the server; and the
/// links a client follows from a `202`.
#[tokio::test]
async fn the_document_states_what_the_server_enforces() {
    let server = start().await;
    let (_, document) = send(&server, "GET", "/api/openapi.json", true).await;
    let schemas = &document["components"]["schemas"];
    let operation = |path: &str, method: &str| document["paths"][path][method].clone();
    let parameter = |op: &Value, name: &str| {
        op["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };

    // Symbols in paths and queries: the pattern the server applies, exactly as sent.
    let symbol =
        resolve(&parameter(&operation("/api/instruments/{symbol}", "delete"), "symbol")["schema"]);
    assert_eq!(
        symbol["pattern"],
        barter_core::symbol::SYMBOL_PATTERN,
        "{symbol}"
    );
    assert_eq!(symbol["maxLength"], 20, "{symbol}");
    for refused in ["%20BTC", ".", "B%C3%84", "-X"] {
        let (status, body) = send(
            &server,
            "GET",
            &format!("/api/instruments/{refused}/candles"),
            true,
        )
        .await;
        assert!(
            status.is_client_error() && status != StatusCode::NOT_FOUND,
            "{refused}: {status} {body}"
        );
    }
    let (status, body) = send(&server, "GET", "/api/history?instrument=", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(api_message(&body).contains("instrument"), "{body}");

    // `top` and `limit`: their ranges, in the document and at the door.
    let top = resolve(&parameter(&operation("/api/backtests", "post"), "top")["schema"]);
    assert_eq!(
        (top["minimum"].clone(), top["maximum"].clone()),
        (json!(1), json!(1000)),
        "{top}"
    );
    let limit = resolve(&parameter(&operation("/api/runs", "get"), "limit")["schema"]);
    assert_eq!(limit["maximum"], 1000, "{limit}");
    for (path, name) in [
        ("/api/runs?limit=1001", "limit"),
        ("/api/runs?limit=0", "limit"),
    ] {
        let (status, body) = send(&server, "GET", path, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(api_message(&body).contains(name), "{body}");
    }
    let (status, body) = server
        .post("/api/backtests?top=0", json!({"entry": "close > 1"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(api_message(&body).contains("top"), "{body}");

    // A backtest names strategies or gives an entry rule: one of two shapes in the document,
    // and the refusal of neither speaks JSON.
    let body_schema = resolve(
        &operation("/api/backtests", "post")["requestBody"]["content"]["application/json"]["schema"],
    );
    let shapes = body_schema["allOf"][1]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let required: Vec<Value> = shapes.iter().map(|s| s["required"].clone()).collect();
    assert_eq!(
        required,
        [json!(["strategies"]), json!(["entry"])],
        "{body_schema}"
    );
    let (status, body) = server.post("/api/backtests", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = api_message(&body);
    assert!(
        message.contains("`strategies`") && message.contains("`entry`"),
        "{message}"
    );

    // A CSV instrument needs `path`: its own shape, selected by `source`.
    let body_schema = resolve(
        &operation("/api/instruments", "post")["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(
        body_schema["discriminator"]["propertyName"], "source",
        "{body_schema}"
    );
    assert!(
        schemas["CsvInstrument"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("path")))
    );
    assert!(
        schemas["CoinGeckoInstrument"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("source_id")))
    );
    let (status, body) = server
        .post(
            "/api/instruments",
            json!({"symbol": "BTC", "source": "csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(api_message(&body).contains("`path`"), "{body}");

    // `{}` is none of the check's shapes: the document says so, and the refusal names the field.
    let check = resolve(
        &operation("/api/strategies/check", "post")["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(check["oneOf"].as_array().map(Vec::len), Some(3), "{check}");
    assert!(
        schemas["StrategyConfig"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("name")))
    );
    let (status, body) = server.post("/api/strategies/check", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = api_message(&body);
    assert!(
        message.contains("`name`") && !message.contains("untagged"),
        "{message}"
    );

    // Every 202 links to the resource that follows it.
    let link = |path: &str, status: &str, name: &str| {
        operation(path, "post")["responses"][status]["links"][name]["operationId"].clone()
    };
    assert_eq!(link("/api/backtests", "202", "GetBacktest"), "get_backtest");
    assert_eq!(
        link("/api/backtests", "202", "CancelBacktest"),
        "cancel_backtest"
    );
    for job in [
        "/api/sync_data",
        "/api/sync_new_trades",
        "/api/sync_close_positions",
        "/api/run",
    ] {
        assert_eq!(link(job, "202", "GetRun"), "get_run", "{job}");
    }
    assert_eq!(
        link("/api/instruments", "201", "ListCandles"),
        "list_candles"
    );

    // Every operation that takes a body documents the answers to a bad one.
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op.get("requestBody").is_none() {
                continue;
            }
            for status in ["400", "413", "415", "422"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    server.shutdown().await;
}
