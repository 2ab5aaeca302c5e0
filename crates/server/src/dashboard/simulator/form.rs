//! The simulator form: its fields as the query string carries them (so a result has a URL), the
//! defaults from the configuration, and the [`BacktestRequest`] they describe, with every
//! problem of the form's own text reported against its field.

use std::str::FromStr;

use barter_core::rule::Params;
use barter_core::simulator::ParamRange;
use barter_core::{Day, FillTiming, QuantityRounding, Symbol};
use rust_decimal::Decimal;

use barter_service::backtest::sweep::{LIMIT_PARAMS, server_combinations};
use barter_service::backtest::{BacktestRequest, RequestProblem};
use barter_service::config::Config;

/// The most combinations one page view runs, as over the API.
pub(crate) use barter_service::backtest::sweep::SERVER_MAX_COMBINATIONS as MAX_COMBINATIONS;

/// The name the configuration snippet gives the strategy when the form names none.
pub(crate) const DEFAULT_NAME: &str = "my-strategy";

/// The simulator form as submitted: every field as its text, as the query string carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SimForm {
    /// The strategy's name in the configuration snippet.
    pub name: String,
    /// The checked instruments (none: what the strategy trades, i.e. all).
    pub instruments: Vec<String>,
    /// First day, `YYYY-MM-DD` or empty.
    pub from: String,
    /// Last day, `YYYY-MM-DD` or empty.
    pub to: String,
    /// The entry rule.
    pub entry: String,
    /// The exit rule (empty: none).
    pub exit: String,
    /// Stop-loss in percent.
    pub stop_loss: String,
    /// Take-profit in percent.
    pub take_profit: String,
    /// Trailing stop in percent.
    pub trailing_stop: String,
    /// Maximum holding days.
    pub max_holding_days: String,
    /// Starting cash.
    pub cash: String,
    /// Size of each entry (empty: all cash).
    pub size: String,
    /// Fee in basis points.
    pub fee_bps: String,
    /// Slippage in basis points.
    pub slippage_bps: String,
    /// `next-open` or `close`.
    pub fill: String,
    /// Buy whole units only.
    pub whole_units: bool,
    /// Close what is still open at the end.
    pub close_at_end: bool,
    /// `name=value` per line (or separated by commas).
    pub params: String,
    /// `name=A..B:STEP` or `name=A,B,C` per line.
    pub sweep: String,
    /// `fast<slow` per line (or separated by commas).
    pub constraints: String,
    /// The statistic a sweep ranks by.
    pub rank_by: String,
    /// Whether to run the backtest (`run=1`).
    pub run: bool,
}

/// The form's field names, in the order the query string lists them.
const FIELDS: [&str; 22] = [
    "name",
    "instruments",
    "from",
    "to",
    "entry",
    "exit",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_holding_days",
    "cash",
    "size",
    "fee_bps",
    "slippage_bps",
    "fill",
    "whole_units",
    "close_at_end",
    "params",
    "sweep",
    "constraints",
    "rank_by",
    "run",
];

impl SimForm {
    /// The form a first visit shows: the configuration's cash and broker settings and an
    /// example crossover with its parameters.
    pub(crate) fn defaults(config: &Config) -> Self {
        let broker = &config.broker;
        Self {
            name: DEFAULT_NAME.to_owned(),
            entry: "crosses_above(sma(close, $fast), sma(close, $slow))".to_owned(),
            exit: "crosses_below(sma(close, $fast), sma(close, $slow))".to_owned(),
            cash: config.account.initial_cash.normalize().to_string(),
            fee_bps: broker.fee_bps.normalize().to_string(),
            slippage_bps: broker.slippage_bps.normalize().to_string(),
            fill: fill_text(broker.fill).to_owned(),
            whole_units: broker.quantity == QuantityRounding::WholeUnits,
            params: "fast=10\nslow=30".to_owned(),
            rank_by: "return_pct".to_owned(),
            ..Self::default()
        }
    }

    /// The form described by a query string's `pairs`; the defaults when none of its fields is
    /// present (a first visit, or one that only carries a notice).
    pub(crate) fn from_pairs(pairs: &[(String, String)], config: &Config) -> Self {
        if !pairs.iter().any(|(key, _)| FIELDS.contains(&key.as_str())) {
            return Self::defaults(config);
        }
        let mut form = Self::default();
        for (key, value) in pairs {
            let value = value.clone();
            match key.as_str() {
                "name" => form.name = value,
                "instruments" if !value.trim().is_empty() => {
                    form.instruments.push(value.trim().to_owned());
                }
                "from" => form.from = value,
                "to" => form.to = value,
                "entry" => form.entry = value,
                "exit" => form.exit = value,
                "stop_loss" => form.stop_loss = value,
                "take_profit" => form.take_profit = value,
                "trailing_stop" => form.trailing_stop = value,
                "max_holding_days" => form.max_holding_days = value,
                "cash" => form.cash = value,
                "size" => form.size = value,
                "fee_bps" => form.fee_bps = value,
                "slippage_bps" => form.slippage_bps = value,
                "fill" => form.fill = value,
                "whole_units" => form.whole_units = checked(&value),
                "close_at_end" => form.close_at_end = checked(&value),
                "params" => form.params = value,
                "sweep" => form.sweep = value,
                "constraints" => form.constraints = value,
                "rank_by" => form.rank_by = value,
                "run" => form.run = checked(&value),
                _ => {}
            }
        }
        form
    }

    /// The form as query pairs: empty fields and unchecked boxes left out.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut text = |key: &'static str, value: &str| {
            if !value.trim().is_empty() {
                pairs.push((key, value.to_owned()));
            }
        };
        text("name", &self.name);
        for symbol in &self.instruments {
            text("instruments", symbol);
        }
        text("from", &self.from);
        text("to", &self.to);
        text("entry", &self.entry);
        text("exit", &self.exit);
        text("stop_loss", &self.stop_loss);
        text("take_profit", &self.take_profit);
        text("trailing_stop", &self.trailing_stop);
        text("max_holding_days", &self.max_holding_days);
        text("cash", &self.cash);
        text("size", &self.size);
        text("fee_bps", &self.fee_bps);
        text("slippage_bps", &self.slippage_bps);
        text("fill", &self.fill);
        text("params", &self.params);
        text("sweep", &self.sweep);
        text("constraints", &self.constraints);
        text("rank_by", &self.rank_by);
        for (key, on) in [
            ("whole_units", self.whole_units),
            ("close_at_end", self.close_at_end),
            ("run", self.run),
        ] {
            if on {
                pairs.push((key, "1".to_owned()));
            }
        }
        pairs
    }

    /// The form as a query string (without `?`), ready for a link.
    pub(crate) fn query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in self.pairs() {
            out.append_pair(key, &value);
        }
        out.finish()
    }

    /// This form with the sweep removed and `point` set: the backtest of one combination.
    pub(crate) fn combination(&self, names: &[String], point: &[f64]) -> Self {
        let mut form = self.clone();
        form.sweep.clear();
        form.constraints.clear();
        form.run = true;
        let mut params = parse_params(&self.params).unwrap_or_default();
        for (name, value) in names.iter().zip(point) {
            let text = format!("{value}");
            match name.as_str() {
                "stop_loss" => form.stop_loss = text,
                "take_profit" => form.take_profit = text,
                "trailing_stop" => form.trailing_stop = text,
                "max_holding_days" => form.max_holding_days = text,
                _ => {
                    params.insert(name.clone(), *value);
                }
            }
        }
        form.params = params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("\n");
        form
    }

    /// The strategy's name for the configuration snippet.
    pub(crate) fn strategy_name(&self) -> &str {
        let name = self.name.trim();
        if name.is_empty() { DEFAULT_NAME } else { name }
    }

    /// The backtest this form asks for, or every problem of its text (each against its field).
    /// Swept rule parameters without a value get their range's first value, so the saved
    /// configuration snippet declares them (the backtest itself declares them the same way);
    /// the sweep sets them anyway.
    pub(crate) fn request(&self) -> Result<BacktestRequest, Vec<RequestProblem>> {
        let mut problems = Vec::new();
        let mut request = BacktestRequest::default();
        for text in &self.instruments {
            match Symbol::parse(text) {
                Ok(symbol) => request.instruments.push(symbol),
                Err(e) => problems.push(problem("instruments", format!("`{text}`: {e}"))),
            }
        }
        request.from = optional(&mut problems, "from", &self.from, parse_day);
        request.to = optional(&mut problems, "to", &self.to, parse_day);
        if self.entry.trim().is_empty() {
            problems.push(problem(
                "entry",
                "write an entry rule, e.g. crosses_above(sma(close, 10), sma(close, 30))",
            ));
        } else {
            request.entry = Some(self.entry.clone());
        }
        request.exit = Some(self.exit.clone()).filter(|e| !e.trim().is_empty());
        request.stop_loss = optional(&mut problems, "stop_loss", &self.stop_loss, percent);
        request.take_profit = optional(&mut problems, "take_profit", &self.take_profit, percent);
        request.trailing_stop =
            optional(&mut problems, "trailing_stop", &self.trailing_stop, percent);
        request.max_holding_days = optional(
            &mut problems,
            "max_holding_days",
            &self.max_holding_days,
            |text| {
                text.parse::<u32>()
                    .ok()
                    .filter(|days| *days > 0)
                    .ok_or_else(|| format!("`{text}` is not a whole number of days above 0"))
            },
        );
        request.cash = optional(&mut problems, "cash", &self.cash, decimal);
        request.size = Some(self.size.trim().to_owned()).filter(|s| !s.is_empty());
        request.fee_bps = optional(&mut problems, "fee_bps", &self.fee_bps, decimal);
        request.slippage_bps = optional(&mut problems, "slippage_bps", &self.slippage_bps, decimal);
        request.fill = optional(&mut problems, "fill", &self.fill, |text| match text {
            "next-open" => Ok(FillTiming::NextOpen),
            "close" => Ok(FillTiming::Close),
            other => Err(format!("`{other}`: choose next-open or close")),
        });
        request.whole_units = self.whole_units;
        request.close_at_end = self.close_at_end;
        match parse_params(&self.params) {
            Ok(params) => request.params = params,
            Err(message) => problems.push(problem("params", message)),
        }
        request.sweep = lines(&self.sweep, false);
        request.constraints = lines(&self.constraints, true);
        request.rank_by = Some(self.rank_by.trim().to_owned()).filter(|r| !r.is_empty());
        if request.rank_by.is_some() && request.sweep.is_empty() {
            // A rank-by without a sweep means nothing; it is only sent with one.
            request.rank_by = None;
        }
        for range in request
            .sweep
            .iter()
            .filter_map(|s| s.parse::<ParamRange>().ok())
        {
            if !LIMIT_PARAMS.contains(&range.name.as_str())
                && let Some(first) = range.values.first()
            {
                request.params.entry(range.name).or_insert(*first);
            }
        }
        if let Err(combinations) = server_combinations(&request.sweep, &request.constraints) {
            problems.push(too_many(combinations));
        }
        if problems.is_empty() {
            Ok(request)
        } else {
            Err(problems)
        }
    }
}

/// Whether a checkbox value means checked.
fn checked(value: &str) -> bool {
    matches!(value, "1" | "on" | "true" | "yes")
}

/// The form's text of a fill timing.
pub(crate) fn fill_text(fill: FillTiming) -> &'static str {
    match fill {
        FillTiming::NextOpen => "next-open",
        FillTiming::Close => "close",
    }
}

/// A problem with one field.
pub(crate) fn problem(field: &str, message: impl Into<String>) -> RequestProblem {
    RequestProblem {
        field: field.to_owned(),
        message: message.into(),
        line: None,
        column: None,
        span: None,
        rule_message: None,
        rule_help: None,
        unknown_parameter: None,
        missing: false,
    }
}

/// `text` parsed by `parse` when it is not blank; a problem against `field` when it fails.
fn optional<T>(
    problems: &mut Vec<RequestProblem>,
    field: &str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match parse(text) {
        Ok(value) => Some(value),
        Err(message) => {
            problems.push(problem(field, message));
            None
        }
    }
}

fn parse_day(text: &str) -> Result<Day, String> {
    Day::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date: write YYYY-MM-DD"))
}

/// A number as people type it: thousands separators and spaces are ignored.
fn decimal(text: &str) -> Result<Decimal, String> {
    let clean: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    Decimal::from_str(&clean).map_err(|_| format!("`{text}` is not a number"))
}

/// A percentage field (`8` or `8%`) as the backtest takes it: `8%`.
fn percent(text: &str) -> Result<String, String> {
    let number = text.trim_end_matches('%').trim();
    Decimal::from_str(number)
        .map(|_| format!("{number}%"))
        .map_err(|_| format!("`{text}` is not a percentage: write e.g. 8 for 8 %"))
}

/// The non-blank entries of a multi-line field, one per line (and per comma when `commas`).
fn lines(text: &str, commas: bool) -> Vec<String> {
    text.split(|c| c == '\n' || (commas && c == ','))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(ToOwned::to_owned)
        .collect()
}

/// Rule parameters written `name=value`, one per line or separated by commas.
///
/// # Errors
/// The first entry that is not `name=number`, in words.
pub(crate) fn parse_params(text: &str) -> Result<Params, String> {
    let mut params = Params::new();
    for entry in lines(text, true) {
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| format!("`{entry}`: write name=value, e.g. fast=10"))?;
        let name = name.trim().trim_start_matches('$');
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{entry}`: `{name}` is not a parameter name"));
        }
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("`{entry}`: `{}` is not a number", value.trim()))?;
        params.insert(name.to_owned(), value);
    }
    Ok(params)
}

/// The problem of a sweep of `combinations` combinations, more than a page runs.
pub(crate) fn too_many(combinations: usize) -> RequestProblem {
    problem(
        "sweep",
        format!(
            "{combinations} combinations are more than the simulator runs on one page \
             ({MAX_COMBINATIONS}): use larger steps, fewer values or constraints, or run the \
             sweep with `barter backtest --param`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_first_visit_gets_the_configured_defaults() {
        let config = Config::default();
        let form = SimForm::from_pairs(&pairs(&[("saved", "3")]), &config);
        assert_eq!(form.cash, "10000");
        assert_eq!(form.fee_bps, "10");
        assert_eq!(form.slippage_bps, "5");
        assert_eq!(form.fill, "next-open");
        assert!(!form.run);
    }

    #[test]
    fn the_query_round_trips_and_builds_the_request() {
        let config = Config::default();
        let submitted = pairs(&[
            ("instruments", "BTC"),
            ("instruments", "ETH"),
            ("from", "2024-01-01"),
            ("entry", "close > sma(close, $n)"),
            ("stop_loss", "8"),
            ("take_profit", "20%"),
            ("cash", "5,000"),
            ("fill", "close"),
            ("params", "n=20\n$m = 3, k=1.5"),
            ("sweep", "x=1..3\n"),
            ("constraints", "x<5, x>0"),
            ("whole_units", "on"),
            ("run", "1"),
        ]);
        let form = SimForm::from_pairs(&submitted, &config);
        let query = form.query();
        let again: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(SimForm::from_pairs(&again, &config), form);
        let request = form.request().expect("valid");
        assert_eq!(request.instruments.len(), 2);
        assert_eq!(request.stop_loss.as_deref(), Some("8%"));
        assert_eq!(request.take_profit.as_deref(), Some("20%"));
        assert_eq!(request.cash, Some(Decimal::from(5000)));
        assert_eq!(request.fill, Some(FillTiming::Close));
        assert_eq!(request.params.get("m"), Some(&3.0));
        assert_eq!(request.params.get("k"), Some(&1.5));
        assert_eq!(
            request.params.get("x"),
            Some(&1.0),
            "swept: its first value"
        );
        assert_eq!(request.sweep, vec!["x=1..3"]);
        assert_eq!(request.constraints, vec!["x<5", "x>0"]);
        assert!(request.whole_units && !request.close_at_end);
    }

    #[test]
    fn bad_fields_are_reported_against_their_field() {
        let form = SimForm {
            entry: " ".to_owned(),
            from: "2024-13-01".to_owned(),
            cash: "lots".to_owned(),
            params: "fast".to_owned(),
            stop_loss: "x%".to_owned(),
            sweep: "a=1..400\nb=1..400".to_owned(),
            ..SimForm::default()
        };
        let problems = form.request().expect_err("invalid");
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["from", "entry", "stop_loss", "cash", "params", "sweep"]
        );
    }

    #[test]
    fn a_combination_replaces_the_sweep_with_its_values() {
        let form = SimForm {
            params: "fast=10\nslow=30".to_owned(),
            sweep: "fast=5..15:5\nstop_loss=2,4".to_owned(),
            constraints: "fast<slow".to_owned(),
            ..SimForm::default()
        };
        let one = form.combination(&["fast".to_owned(), "stop_loss".to_owned()], &[15.0, 4.0]);
        assert!(one.sweep.is_empty() && one.constraints.is_empty() && one.run);
        assert_eq!(one.params, "fast=15\nslow=30");
        assert_eq!(one.stop_loss, "4");
    }
}
