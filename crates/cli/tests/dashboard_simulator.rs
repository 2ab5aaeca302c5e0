//! The dashboard's simulator page over real HTTP: a server on port 0 over a SQLite file with
//! the bundled sample BTC registered and synced offline, signed in as a browser is. The page
//! must show what `POST /api/backtests` computes for the same inputs.

use barter_core::Symbol;
use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_service::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::{Browser, Server};

/// A server with BTC (sample source) registered and its candles synced; `strategies` are its
/// configured ones.
async fn start(strategies: Vec<StrategyConfig>) -> Server {
    Server::sqlite_with_btc(Config {
        strategies,
        ..Config::default()
    })
    .await
}

const ENTRY: &str = "crosses_above(sma(close, $fast), sma(close, $slow))";
const EXIT: &str = "crosses_below(sma(close, $fast), sma(close, $slow))";

/// `/simulator?` with `pairs` encoded.
fn simulator_url(pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("/simulator?{}", query.finish())
}

/// Text as askama escaped it (named or numeric character references), back to plain text.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            _ => entity.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The (unescaped) value of attribute `name` in the tag starting at `tag`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let end = tag.find('>')?;
    let tag = &tag[..end];
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// The markup inside the element with `id` (up to its closing `</tag>`), as sent.
fn element_html<'a>(html: &'a str, tag: &str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find(&format!("</{tag}>"))?;
    Some(&html[open_end..close])
}

/// The text inside the element with `id`, unescaped.
fn element_text(html: &str, tag: &str, id: &str) -> Option<String> {
    element_html(html, tag, id).map(unescape)
}

/// The statistics table's rows: (data-stat, data-value, shown text).
fn statistics(html: &str) -> Vec<(String, String, String)> {
    let table = element_html(html, "table", "statistics").expect("a statistics table");
    table
        .split("<tr data-stat=")
        .skip(1)
        .map(|row| {
            let row = format!("<tr data-stat={row}");
            let key = attribute(&row, "data-stat").expect("data-stat");
            let value = attribute(&row, "data-value").expect("data-value");
            let shown = row
                .split("<td")
                .nth(1)
                .and_then(|cell| cell.split_once('>'))
                .and_then(|(_, rest)| rest.split_once("</td>"))
                .map(|(text, _)| text.to_owned())
                .expect("a value cell");
            (key, value, shown)
        })
        .collect()
}

/// `POST /api/backtests` with `body`: the result.
async fn api_backtest(server: &Server, path: &str, body: Value) -> Value {
    let (status, answer) = server.post(path, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "done", "{answer}");
    answer["result"].clone()
}

/// Submits a sweep from the form (`GET /simulator?…&run=1`): the server starts it in the
/// background and answers 303 to its page; returns that page's path (without its fragment).
async fn submit_sweep(browser: &Browser, url: &str) -> String {
    let response = browser
        .client
        .get(format!("{}{url}", browser.base))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let location = location.expect("a location");
    let path = location.split('#').next().expect("a path").to_owned();
    let id = path
        .strip_prefix("/simulator/sweeps/")
        .expect("the sweep's page");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a random id: {id}"
    );
    path
}

/// The sweep's progress JSON.
async fn progress(browser: &Browser, path: &str) -> Value {
    let (status, body) = browser.get(&format!("{path}/progress")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("progress JSON")
}

/// Follows the sweep's progress JSON until it ends, checking it never goes back or beyond its
/// total; returns the last one.
async fn wait_sweep(browser: &Browser, path: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut last_done = 0;
    loop {
        let now = progress(browser, path).await;
        let (done, total) = (
            now["done"].as_u64().expect("done"),
            now["total"].as_u64().expect("total"),
        );
        assert!(done >= last_done && done <= total, "{now}");
        last_done = done;
        if now["status"] != "queued" && now["status"] != "running" {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep ends: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Checks every statistic of `html` against the API's `result`, and returns the rows.
fn assert_same_statistics(html: &str, result: &Value) -> Vec<(String, String, String)> {
    let rows = statistics(html);
    let keys = barter_core::simulator::Statistics::KEYS;
    assert_eq!(
        rows.len(),
        keys.len() + 4,
        "start, end, every key, final cash and equity"
    );
    for key in keys.iter().copied().chain(["start", "end"]) {
        let (_, value, _) = rows
            .iter()
            .find(|(k, _, _)| k == key)
            .unwrap_or_else(|| panic!("no row for {key}"));
        assert_eq!(
            *value,
            result["stats"][key].to_string(),
            "statistic {key} differs from the API's"
        );
    }
    for key in ["final_cash", "final_equity"] {
        let (_, value, _) = rows.iter().find(|(k, _, _)| k == key).expect("exact row");
        assert_eq!(*value, result[key].to_string(), "{key}");
    }
    rows
}

#[tokio::test]
async fn a_run_from_the_query_shows_the_api_statistics_trades_and_markers() {
    let configured = StrategyConfig {
        name: "trend".to_owned(),
        instruments: InstrumentSelection::Only(vec![Symbol::parse("BTC").expect("symbol")]),
        entry: ENTRY.to_owned(),
        exit: Some(EXIT.to_owned()),
        stop_loss: Some(NumberText::Text("7%".to_owned())),
        take_profit: None,
        trailing_stop: Some(NumberText::Number(0.12)),
        max_holding_days: Some(45),
        size: Some(NumberText::Text("20%".to_owned())),
        max_open_positions: None,
        enabled: true,
        params: [("fast".to_owned(), 12.0), ("slow".to_owned(), 40.0)].into(),
        account: None,
    };
    let server = start(vec![configured]).await;
    let browser = server.sign_in().await;

    // The form alone: every field labelled, the configured defaults, the strategies embedded.
    let (status, page) = browser.get("/simulator").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for id in [
        "entry",
        "exit",
        "from",
        "to",
        "cash",
        "fee-bps",
        "slippage-bps",
        "fill",
        "params",
        "sweep",
        "stop-loss",
        "take-profit",
        "trailing-stop",
        "max-holding-days",
        "size",
        "rank-by",
        "start-from",
        "name",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "a field #{id}");
        assert!(
            page.contains(&format!("<label for=\"{id}\"")),
            "a label for #{id}"
        );
    }
    assert!(page.contains("id=\"run\""), "a run button");
    assert!(page.contains("id=\"cash\" name=\"cash\" inputmode=\"decimal\" value=\"10000\""));
    assert!(
        page.contains("value=\"BTC\" id=\"instrument-BTC\""),
        "BTC can be chosen"
    );
    let strategies: Value = serde_json::from_str(
        &element_text(&page, "script", "strategies-data").expect("embedded strategies"),
    )
    .expect("JSON");
    assert_eq!(strategies[0]["name"], "trend");
    assert_eq!(strategies[0]["trailing_stop"], 0.12);
    assert!(
        page.contains("id=\"no-saved\""),
        "the empty state of saved results"
    );

    // A run from query parameters equals the API's backtest for the same inputs.
    let url = simulator_url(&[
        ("instruments", "BTC"),
        ("from", "2021-01-01"),
        ("to", "2023-12-31"),
        ("entry", ENTRY),
        ("exit", EXIT),
        ("params", "fast=10\nslow=30"),
        ("stop_loss", "8"),
        ("trailing_stop", "15"),
        ("cash", "5000"),
        ("size", "50%"),
        ("fee_bps", "12"),
        ("slippage_bps", "4"),
        ("fill", "close"),
        ("close_at_end", "1"),
        ("run", "1"),
    ]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let result = api_backtest(
        &server,
        "/api/backtests",
        json!({
            "instruments": ["BTC"],
            "from": "2021-01-01",
            "to": "2023-12-31",
            "entry": ENTRY,
            "exit": EXIT,
            "params": {"fast": 10, "slow": 30},
            "stop_loss": "8%",
            "trailing_stop": "15%",
            "cash": "5000",
            "size": "50%",
            "fee_bps": "12",
            "slippage_bps": "4",
            "fill": "close",
            "close_at_end": true,
        }),
    )
    .await;
    let rows = assert_same_statistics(&page, &result);
    let shown = |key: &str| {
        rows.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, text)| text.clone())
            .expect("row")
    };
    assert!(
        shown("equity_final").ends_with(" USD"),
        "money has its currency"
    );
    let return_pct = result["stats"]["return_pct"].as_f64().expect("return");
    let sign = if return_pct > 0.0 { "+" } else { "" };
    assert_eq!(shown("return_pct"), format!("{sign}{return_pct:.2} %"));

    // The trades table lists every closed trade; the price chart carries two markers each.
    let trades = result["trades"].as_array().expect("trades");
    assert!(!trades.is_empty(), "the crossover trades in three years");
    let table = element_text(&page, "table", "trades").expect("a trades table");
    assert_eq!(
        table.matches("<tr>").count(),
        trades.len() + 1,
        "header and trades"
    );
    let first = &trades[0];
    assert!(table.contains(first["entry_day"].as_str().expect("day")));
    let open = result["open_trades"].as_array().expect("open").len();
    let chart_at = page
        .find("id=\"price-chart-BTC\"")
        .expect("a BTC price chart");
    let chart_tag = &page[page[..chart_at].rfind('<').expect("tag")..];
    assert_eq!(
        attribute(chart_tag, "data-chart").as_deref(),
        Some("candles")
    );
    let markers = 2 * trades.len() + open;
    assert_eq!(
        attribute(chart_tag, "data-markers"),
        Some(markers.to_string())
    );
    let chart: Value =
        serde_json::from_str(&element_text(&page, "script", "price-data-BTC").expect("chart data"))
            .expect("JSON");
    assert_eq!(chart["markers"].as_array().map(Vec::len), Some(markers));
    assert_eq!(
        chart["candles"][0]["time"], "2021-01-01",
        "the period's candles"
    );
    let exit = &chart["markers"][1];
    assert_eq!(exit["kind"], "exit");
    assert!(
        exit["text"]
            .as_str()
            .is_some_and(|t| t.contains("P&L") && t.contains("USD")),
        "{exit}"
    );
    let equity: Value =
        serde_json::from_str(&element_text(&page, "script", "equity-data").expect("equity data"))
            .expect("JSON");
    let days = result["equity"].as_array().expect("curve").len();
    assert_eq!(equity["equity"].as_array().map(Vec::len), Some(days));
    assert_eq!(equity["drawdown"].as_array().map(Vec::len), Some(days));
    assert!(page.contains("id=\"equity-chart\" data-chart=\"equity\""));

    server.shutdown().await;
}

#[tokio::test]
async fn an_invalid_rule_gives_422_with_the_caret_under_the_api_column() {
    let server = start(Vec::new()).await;
    let browser = server.sign_in().await;
    let entry = "close > 0 and\n  smaa(close, 10) > 1";
    let url = simulator_url(&[
        ("instruments", "BTC"),
        ("entry", entry),
        ("exit", "close < "),
        ("run", "1"),
    ]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");

    let (status, answer) = server
        .post(
            "/api/backtests",
            json!({"entry": entry, "exit": "close < ", "instruments": ["BTC"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let problems = answer["error"]["problems"].as_array().expect("problems");
    for field in ["entry", "exit"] {
        let problem = problems
            .iter()
            .find(|p| p["field"] == field)
            .unwrap_or_else(|| panic!("the API finds a problem in {field}: {answer}"));
        let line = problem["line"].as_u64().expect("line") as usize;
        let column = problem["column"].as_u64().expect("column") as usize;
        let block = element_text(&page, "pre", &format!("{field}-error"))
            .unwrap_or_else(|| panic!("a caret block under {field}"));
        let lines: Vec<&str> = block.lines().collect();
        let source = if field == "entry" { entry } else { "close < " };
        assert_eq!(
            lines[0],
            source.lines().nth(line - 1).expect("line"),
            "{block}"
        );
        let caret = lines[1];
        assert_eq!(caret.find('^'), Some(column - 1), "{block}");
        assert_eq!(
            caret.trim_start(),
            caret.trim(),
            "nothing after the carets: {block}"
        );
        let first = problem["message"]
            .as_str()
            .expect("message")
            .lines()
            .next()
            .expect("line");
        assert!(
            lines[2..]
                .join("\n")
                .contains(first.trim_start_matches("error: ")),
            "the message follows: {block}"
        );
    }
    // The unknown function is underlined in full, and the form keeps what was typed.
    let block = element_text(&page, "pre", "entry-error").expect("entry block");
    assert_eq!(block.lines().nth(1), Some("  ^^^^"), "{block}");
    assert!(page.contains(">close &#62; 0 and\n  smaa(close, 10) &#62; 1</textarea>"));
    assert!(
        page.contains("id=\"problems\""),
        "the problems are listed above the form"
    );
    assert!(!page.contains("id=\"statistics\""), "no result");

    // A parameter neither given nor swept: the hint names the form's fields.
    let (status, page) = browser
        .get(&simulator_url(&[
            ("instruments", "BTC"),
            ("entry", "close > sma(close, $n)"),
            ("run", "1"),
        ]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let block = element_text(&page, "pre", "entry-error").expect("entry block");
    assert!(block.contains("unknown parameter `$n`"), "{block}");
    assert!(
        block.contains("under Rule parameters") && block.contains("under Parameter ranges"),
        "{block}"
    );

    // A problem of another field is shown under that field.
    let (status, page) = browser
        .get(&simulator_url(&[
            ("entry", "close > 0"),
            ("cash", "-5"),
            ("run", "1"),
        ]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let message = element_text(&page, "p", "cash-error").expect("a cash error");
    assert!(message.contains("must be positive"), "{message}");

    server.shutdown().await;
}

#[tokio::test]
async fn a_two_parameter_sweep_renders_a_heatmap_whose_cells_open_their_backtest() {
    let server = start(Vec::new()).await;
    let browser = server.sign_in().await;
    let sweep = "fast=10..30:10\nslow=20..40:10";
    let url = simulator_url(&[
        ("instruments", "BTC"),
        ("from", "2021-01-01"),
        ("to", "2023-06-30"),
        ("entry", ENTRY),
        ("exit", EXIT),
        ("sweep", sweep),
        ("constraints", "fast<slow"),
        ("rank_by", "return_pct"),
        ("run", "1"),
    ]);
    // Submitted, it runs in the background: its page follows it until every combination ran.
    let path = submit_sweep(&browser, &url).await;
    let done = wait_sweep(&browser, &path).await;
    assert_eq!(
        done,
        json!({"status": "done", "done": 6, "total": 6}),
        "the 6 combinations the constraints leave"
    );
    let (status, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        !page.contains("id=\"sweep-progress\"")
            && !page.contains("id=\"cancel-sweep\"")
            && !page.contains("http-equiv=\"refresh\""),
        "finished: no progress bar, Cancel button or refresh"
    );
    let form_sweep = element_text(&page, "textarea", "sweep").expect("the form, filled in");
    assert_eq!(form_sweep, sweep);
    let heatmap = element_html(&page, "table", "heatmap").expect("a heatmap");
    assert!(page.contains("<table id=\"heatmap\" class=\"heatmap\">"));

    // The same sweep through the API, every combination.
    let result = api_backtest(
        &server,
        "/api/backtests?top=1000",
        json!({
            "instruments": ["BTC"],
            "from": "2021-01-01",
            "to": "2023-06-30",
            "entry": ENTRY,
            "exit": EXIT,
            "params": {"fast": 10, "slow": 20},
            "sweep": ["fast=10..30:10", "slow=20..40:10"],
            "constraints": ["fast<slow"],
            "rank_by": "return_pct",
        }),
    )
    .await;
    assert_eq!(result["combinations"], 6, "{result}");
    assert_eq!(result["skipped"], 3, "{result}");
    let top = result["top"].as_array().expect("top");

    // Rows are fast, columns slow; each cell links to that combination's backtest.
    let cells: Vec<&str> = heatmap.split("<td").skip(1).collect();
    assert_eq!(cells.len(), 9, "3 × 3 cells");
    let skipped = cells
        .iter()
        .filter(|c| c.starts_with(" class=\"skipped\""))
        .count();
    assert_eq!(skipped, 3, "constraint-skipped cells are empty");
    let mut followed = false;
    for cell in cells
        .iter()
        .filter(|c| !c.starts_with(" class=\"skipped\""))
    {
        let tag = format!("<td{cell}");
        let value = attribute(&tag, "data-value").expect("data-value");
        let link_at = tag.find("<a ").expect("a link");
        let href = attribute(&tag[link_at..], "href").expect("href");
        let query = href.strip_prefix("/simulator?").expect("a simulator link");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert!(
            !pairs
                .iter()
                .any(|(k, _)| k == "sweep" || k == "constraints"),
            "the sweep is removed: {href}"
        );
        let params = pairs
            .iter()
            .find(|(k, _)| k == "params")
            .map(|(_, v)| v.clone())
            .expect("params");
        let param = |name: &str| -> f64 {
            params
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .expect("a value")
        };
        let (fast, slow) = (param("fast"), param("slow"));
        assert!(fast < slow, "only valid combinations link: {params}");
        let row = top
            .iter()
            .find(|r| r["values"] == json!([fast, slow]))
            .expect("the API ran it");
        // The cell comes from the sweep's screening pass, the API's row from the exact engine:
        // the same number to 1e-9.
        let same = |a: &str, b: &str| {
            let (a, b): (f64, f64) = (a.parse().expect("a"), b.parse().expect("b"));
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
        };
        let exact = row["stats"]["return_pct"].to_string();
        assert!(same(&value, &exact), "{params}: {value} vs {exact}");
        if !followed {
            // Open the combination: its backtest has the cell's return.
            let (status, opened) = browser.get(&href).await;
            assert_eq!(status, StatusCode::OK, "{opened}");
            let rows = statistics(&opened);
            let (_, opened_return, _) = rows
                .iter()
                .find(|(k, _, _)| k == "return_pct")
                .expect("a return row");
            assert!(same(opened_return, &value), "the cell opens its backtest");
            assert!(!opened.contains("id=\"heatmap\""), "a single backtest");
            followed = true;
        }
    }
    assert!(followed);
    let ranking = element_text(&page, "table", "ranking").expect("a ranking");
    let best = top[0]["values"].as_array().expect("values");
    assert!(
        ranking.contains(&format!(
            "fast={}, slow={}",
            best[0].as_f64().expect("fast"),
            best[1].as_f64().expect("slow")
        )),
        "the best combination first: {ranking}"
    );
    // Every ranked value is the API's, in the same order, to 1e-9.
    let ranked: Vec<f64> = element_html(&page, "table", "ranking")
        .expect("a ranking")
        .split(" data-value=\"")
        .skip(1)
        .map(|rest| {
            rest.split('"')
                .next()
                .expect("value")
                .parse()
                .expect("number")
        })
        .collect();
    let api: Vec<f64> = top
        .iter()
        .map(|r| r["stats"]["return_pct"].as_f64().expect("return"))
        .collect();
    assert_eq!(ranked.len(), api.len(), "all 6 ranked");
    for (page_value, api_value) in ranked.iter().zip(&api) {
        assert!(
            (page_value - api_value).abs() <= 1e-9 * page_value.abs().max(api_value.abs()),
            "{ranked:?} vs {api:?}"
        );
    }

    // Saved from its page: the finished sweep's result, without running it again.
    let response = browser
        .post_form(
            "/simulator/save",
            &[
                ("name", "fast × slow"),
                ("query", &save_query(&page)),
                ("sweep", path.rsplit('/').next().expect("id")),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let saved = server.store.saved_backtests(10).await.expect("list");
    assert_eq!(saved[0].summary["kind"], "sweep");
    assert_eq!(saved[0].summary["combinations"], 6);
    assert_eq!(
        saved[0].request["request"]["sweep"],
        json!(["fast=10..30:10", "slow=20..40:10"])
    );

    // A one-parameter sweep is ranked, without a heatmap; a huge grid is refused readably.
    let path = submit_sweep(
        &browser,
        &simulator_url(&[
            ("instruments", "BTC"),
            ("entry", ENTRY),
            ("params", "slow=30"),
            ("sweep", "fast=5..15:5"),
            ("run", "1"),
        ]),
    )
    .await;
    assert_eq!(wait_sweep(&browser, &path).await["status"], "done");
    let (status, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("id=\"heatmap\"") && page.contains("id=\"ranking\""));
    let (status, page) = browser
        .get(&simulator_url(&[
            ("instruments", "BTC"),
            ("entry", ENTRY),
            ("sweep", "fast=1..200\nslow=1..200"),
            ("run", "1"),
        ]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let message = element_text(&page, "p", "sweep-error").expect("a sweep error");
    assert!(message.contains("40000 combinations"), "{message}");

    server.shutdown().await;
}

/// The hidden `query` field of the page's save form.
fn save_query(page: &str) -> String {
    let form = &page[page.find("id=\"save-form\"").expect("a save form")..];
    let at = form.find("name=\"query\"").expect("a query field");
    attribute(&form[form[..at].rfind('<').expect("tag")..], "value").expect("value")
}

#[tokio::test]
async fn a_result_is_saved_listed_reopened_and_deleted() {
    let server = start(Vec::new()).await;
    let browser = server.sign_in().await;
    let url = simulator_url(&[
        ("instruments", "BTC"),
        ("from", "2022-01-01"),
        ("to", "2023-12-31"),
        ("entry", ENTRY),
        ("exit", EXIT),
        ("params", "fast=10\nslow=30"),
        ("run", "1"),
    ]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let stats = statistics(&page);
    let query = save_query(&page);

    // A blank name is refused with a readable message, and nothing is saved.
    let response = browser
        .post_form("/simulator/save", &[("name", "   "), ("query", &query)])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.expect("page");
    let message = element_text(&refused, "p", "save-error").expect("a save error");
    assert!(message.contains("name"), "{message}");
    assert!(
        server
            .store
            .saved_backtests(10)
            .await
            .expect("list")
            .is_empty()
    );

    // Saved: back to the result with a notice; listed with its headline.
    let response = browser
        .post_form(
            "/simulator/save",
            &[("name", "BTC <crossover>"), ("query", &query)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a location")
        .to_owned();
    assert!(location.starts_with("/simulator?"), "{location}");
    let saved = server.store.saved_backtests(10).await.expect("list");
    assert_eq!(saved.len(), 1);
    let id = saved[0].id;
    assert_eq!(saved[0].name, "BTC <crossover>");
    assert_eq!(saved[0].request["request"]["entry"], ENTRY);
    assert_eq!(
        saved[0].request["request"]["params"],
        json!({"fast": 10.0, "slow": 30.0})
    );
    assert_eq!(saved[0].summary["kind"], "backtest");
    let (_, expected_return, _) = stats
        .iter()
        .find(|(k, _, _)| k == "return_pct")
        .expect("return");
    assert_eq!(saved[0].summary["return_pct"].to_string(), *expected_return);
    let (status, page) = browser.get(&location).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let notice = element_text(&page, "p", "sim-notice").expect("a notice");
    assert!(notice.contains("Saved as “BTC <crossover>”"), "{notice}");
    assert!(!page.contains("BTC <crossover>"), "the name is escaped");
    let list = element_text(&page, "table", "saved").expect("the saved list");
    assert!(list.contains("BTC <crossover>"), "{list}");
    assert!(list.contains(" UTC"), "saved at, in UTC: {list}");
    assert!(list.contains("Return "), "the headline: {list}");
    assert!(
        list.contains(&format!("/simulator/saved/{id}/delete")),
        "{list}"
    );
    assert!(list.contains("data-confirm="), "delete asks first");

    // Open re-runs it: the same statistics.
    let row_at = page
        .find(&format!("data-saved-id=\"{id}\""))
        .expect("the row");
    let open_at = row_at + page[row_at..].find("<a ").expect("an Open link");
    let open = attribute(&page[open_at..], "href").expect("href");
    let (status, reopened) = browser.get(&open).await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    let again = statistics(&reopened);
    assert_eq!(
        again.iter().map(|(k, v, _)| (k, v)).collect::<Vec<_>>(),
        stats.iter().map(|(k, v, _)| (k, v)).collect::<Vec<_>>()
    );

    // Deleted: gone from the list; deleting again is a readable 404.
    let path = format!("/simulator/saved/{id}/delete");
    let response = browser.post_form(&path, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, page) = browser.get("/simulator?deleted=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Deleted the saved result."));
    assert!(page.contains("id=\"no-saved\"") && !page.contains("id=\"saved\""));
    let response = browser.post_form(&path, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("no such saved result")
    );

    // Without the CSRF field nothing is saved.
    let response = Browser::client()
        .post(server.url("/simulator/save"))
        .header("cookie", &browser.cookie)
        .form(&[("name", "x"), ("query", query.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        server
            .store
            .saved_backtests(10)
            .await
            .expect("list")
            .is_empty()
    );

    server.shutdown().await;
}

#[tokio::test]
async fn the_config_snippet_parses_back_into_the_strategy_tested() {
    let server = start(Vec::new()).await;
    let browser = server.sign_in().await;
    let url = simulator_url(&[
        ("name", "golden"),
        ("instruments", "BTC"),
        ("from", "2022-01-01"),
        ("entry", ENTRY),
        ("exit", EXIT),
        ("params", "fast=10, slow=30"),
        ("stop_loss", "8"),
        ("take_profit", "20%"),
        ("trailing_stop", "12.5"),
        ("max_holding_days", "30"),
        ("size", "25%"),
        ("run", "1"),
    ]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let snippet = element_text(&page, "pre", "config-snippet").expect("a config snippet");
    assert!(snippet.starts_with("[[strategies]]"), "{snippet}");
    assert!(page.contains("id=\"copy-snippet\""), "a copy button");
    let config: Config = toml::from_str(&snippet).expect("the snippet is barter.toml text");
    let expected = StrategyConfig {
        name: "golden".to_owned(),
        instruments: InstrumentSelection::Only(vec![Symbol::parse("BTC").expect("symbol")]),
        entry: ENTRY.to_owned(),
        exit: Some(EXIT.to_owned()),
        stop_loss: Some(NumberText::Text("8%".to_owned())),
        take_profit: Some(NumberText::Text("20%".to_owned())),
        trailing_stop: Some(NumberText::Text("12.5%".to_owned())),
        max_holding_days: Some(30),
        size: Some(NumberText::Text("25%".to_owned())),
        max_open_positions: None,
        enabled: true,
        params: [("fast".to_owned(), 10.0), ("slow".to_owned(), 30.0)].into(),
        account: None,
    };
    assert_eq!(config.strategies, vec![expected.clone()]);
    // It is a strategy the configuration accepts: it builds against the instrument.
    expected
        .build(&[Symbol::parse("BTC").expect("symbol")])
        .expect("a valid strategy");

    // Without a size the simulator buys with all cash; the snippet says so (the config's
    // default would be 10 %).
    let url = simulator_url(&[("entry", "close > 0"), ("instruments", "BTC"), ("run", "1")]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let snippet = element_text(&page, "pre", "config-snippet").expect("a config snippet");
    let config: Config = toml::from_str(&snippet).expect("barter.toml text");
    assert_eq!(
        config.strategies[0].size,
        Some(NumberText::Text("all".to_owned()))
    );
    assert_eq!(config.strategies[0].name, "my-strategy");
    assert_eq!(config.strategies[0].exit, None);

    server.shutdown().await;
}

#[tokio::test]
async fn a_saved_open_period_is_pinned_to_the_days_it_read() {
    let server = start(Vec::new()).await;
    let browser = server.sign_in().await;
    let url = simulator_url(&[
        ("instruments", "BTC"),
        ("entry", ENTRY),
        ("exit", EXIT),
        ("params", "fast=10\nslow=30"),
        ("run", "1"),
    ]);
    let (status, page) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let query = save_query(&page);
    let response = browser
        .post_form(
            "/simulator/save",
            &[("name", "all of BTC"), ("query", &query)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let btc = Symbol::parse("BTC").expect("symbol");
    let coverage = server
        .store
        .coverage(&btc)
        .await
        .expect("read")
        .expect("candles");
    let saved = server.store.saved_backtests(10).await.expect("list");
    let request = &saved[0].request;
    // Later syncs add candles; the saved backtest keeps meaning the days it was run on.
    assert_eq!(request["request"]["from"], coverage.first.to_string());
    assert_eq!(request["request"]["to"], coverage.last.to_string());
    let stored_query = request["query"].as_str().expect("query");
    assert!(
        stored_query.contains(&format!("from={}", coverage.first))
            && stored_query.contains(&format!("to={}", coverage.last)),
        "{stored_query}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_background_sweep_is_bounded_signed_in_and_cancelled_with_the_csrf_token() {
    // One sweep runs at a time and one more may wait.
    let mut config = Config::default();
    config.server.backtests_running = 1;
    config.server.backtests_queued = 1;
    let server = Server::sqlite_with_btc(config).await;
    let browser = server.sign_in().await;
    // 10,000 combinations (the limit) of rules with several indicators over all of BTC: about
    // 8 s in a debug build on 2 cores, long enough to be caught running (the steps before it
    // is cancelled take well under a second).
    let big = |rank_by: &str| {
        simulator_url(&[
            ("instruments", "BTC"),
            (
                "entry",
                "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, $fast) < 70 \
                 and close > ema(close, $slow) and roc(close, $fast) > -50",
            ),
            (
                "exit",
                "crosses_below(sma(close, $fast), sma(close, $slow)) or rsi(close, $slow) > 85 \
                 or close < ema(close, $fast) * 0.5",
            ),
            ("sweep", "fast=2..101\nslow=2..101"),
            ("stop_loss", "5"),
            ("rank_by", rank_by),
            ("run", "1"),
        ])
    };
    let first = submit_sweep(&browser, &big("return_pct")).await;

    // Its page while it runs: the form, a progress bar, a Cancel button with the CSRF field,
    // a refresh for browsers without JavaScript, and no result yet.
    let (status, page) = browser.get(&first).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<progress id=\"sweep-progress\" max=\"10000\""),
        "{page}"
    );
    let cancel_form = element_html(&page, "form", "cancel-sweep-form").expect("a Cancel form");
    assert!(cancel_form.contains(&format!("name=\"csrf\" value=\"{}\"", browser.csrf)));
    assert!(page.contains(&format!("action=\"{first}/cancel\"")));
    assert!(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"2\"></noscript>"));
    assert!(!page.contains("id=\"heatmap\"") && !page.contains("id=\"ranking\""));
    assert!(!page.contains("id=\"save-form\""), "nothing to save yet");

    // Not signed in: the page and its progress go to the sign-in page, a cancel is refused.
    let anonymous = Browser::client();
    for path in [first.clone(), format!("{first}/progress")] {
        let response = anonymous
            .get(server.url(&path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let location = response.headers()["location"].to_str().expect("location");
        assert!(location.starts_with("/login?next="), "{location}");
    }
    let response = anonymous
        .post(server.url(&format!("{first}/cancel")))
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Signed in but without the CSRF token, or from another site: nothing is cancelled.
    let response = browser
        .client
        .post(server.url(&format!("{first}/cancel")))
        .header("cookie", &browser.cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = browser
        .client
        .post(server.url(&format!("{first}/cancel")))
        .header("cookie", &browser.cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A second waits for the slot; a third is refused with a readable message.
    let second = submit_sweep(&browser, &big("sharpe_ratio")).await;
    let response = browser
        .client
        .get(server.url(&big("sortino_ratio")))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let refused = response.text().await.expect("page");
    assert!(
        refused.contains("already running or queueing 2 sweeps"),
        "{refused}"
    );
    let first_now = progress(&browser, &first).await;
    assert_eq!(
        first_now["status"], "running",
        "not cancelled by any of that"
    );
    assert_eq!(progress(&browser, &second).await["status"], "queued");

    // Cancelled with the session's token: the queued one at once, the running one between
    // points; their pages say so and show nothing of what they had reached.
    for path in [&second, &first] {
        let response = browser.post_form(&format!("{path}/cancel"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().expect("location");
        assert_eq!(location, format!("{path}#outcome"));
    }
    assert_eq!(
        progress(&browser, &second).await,
        json!({"status": "cancelled", "done": 0, "total": 10000})
    );
    let ended = wait_sweep(&browser, &first).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let reached = ended["done"].as_u64().expect("done");
    assert!(
        reached < 10_000,
        "stopped early, the skipped points not counted: {ended}"
    );
    for path in [&first, &second] {
        let (status, page) = browser.get(path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let said = element_text(&page, "p", "sweep-status").expect("its status");
        assert!(said.contains("was cancelled after"), "{said}");
        assert!(
            !page.contains("id=\"heatmap\"")
                && !page.contains("id=\"ranking\"")
                && !page.contains("id=\"save-form\"")
                && !page.contains("id=\"sweep-progress\""),
            "nothing partial is shown"
        );
    }
    // Cancelling again changes nothing; an unknown sweep is a readable 404.
    let response = browser.post_form(&format!("{first}/cancel"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(progress(&browser, &first).await["status"], "cancelled");
    let (status, page) = browser
        .get("/simulator/sweeps/0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("no such sweep"), "{page}");
    let (status, _) = browser
        .get("/simulator/sweeps/0123456789abcdef0123456789abcdef/progress")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With the slot free again a sweep runs to its end.
    let path = submit_sweep(
        &browser,
        &simulator_url(&[
            ("instruments", "BTC"),
            ("entry", ENTRY),
            ("params", "slow=30"),
            ("sweep", "fast=5..25:5"),
            ("run", "1"),
        ]),
    )
    .await;
    assert_eq!(
        wait_sweep(&browser, &path).await,
        json!({"status": "done", "done": 5, "total": 5})
    );
    server.shutdown().await;
}
