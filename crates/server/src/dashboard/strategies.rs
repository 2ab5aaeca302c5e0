//! The strategies page (`/strategies`): the strategies of the configuration with their rules,
//! parameters, sizing and exit settings, each checked against the registered instruments, an
//! invalid rule shown line by line with a caret under the exact spot of each error.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::Symbol;
use barter_core::rule::{Rule, RuleError, RuleKind};
use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};

use super::format;
use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;

/// The strategies route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/strategies", get(strategies))
}

/// A strategy's rules and exit settings as configured, for people.
pub(super) struct RuleSettings {
    /// The entry rule's text.
    pub entry: String,
    /// The exit rule's text, if it has one.
    pub exit: Option<String>,
    /// Stop-loss, take-profit, trailing stop and maximum holding days: (label, setting).
    pub risk: Vec<(&'static str, String)>,
    /// Whether the strategy trades.
    pub enabled: bool,
}

/// The rules and exit settings of `config`.
pub(super) fn rule_settings(config: &StrategyConfig) -> RuleSettings {
    RuleSettings {
        entry: config.entry.clone(),
        exit: config.exit.clone(),
        risk: risk_settings(config),
        enabled: config.enabled,
    }
}

/// Stop-loss, take-profit, trailing stop and maximum holding days of `config`: (label, setting).
fn risk_settings(config: &StrategyConfig) -> Vec<(&'static str, String)> {
    let fraction = |value: &Option<NumberText>| {
        value
            .as_ref()
            .map_or_else(|| "none".to_owned(), fraction_text)
    };
    vec![
        ("Stop-loss", fraction(&config.stop_loss)),
        ("Take-profit", fraction(&config.take_profit)),
        ("Trailing stop", fraction(&config.trailing_stop)),
        (
            "Max holding",
            config
                .max_holding_days
                .map_or_else(|| "none".to_owned(), |d| format!("{d} days")),
        ),
    ]
}

/// A percentage setting as written (`"8%"`), a fraction with its percentage (`0.08 (8 %)`).
fn fraction_text(value: &NumberText) -> String {
    match value {
        NumberText::Text(text) => text.clone(),
        NumberText::Number(n) => format!(
            "{} ({} %)",
            format::rule_value(*n),
            format::rule_value(n * 100.0)
        ),
    }
}

/// The size of each entry, in words.
fn size_text(config: &StrategyConfig) -> String {
    let written = match &config.size {
        None => None,
        Some(NumberText::Text(text)) => Some(format!("\"{text}\"")),
        Some(NumberText::Number(n)) => Some(format::rule_value(*n)),
    };
    match (config.size_spec(), written) {
        (Ok(spec), None) => format!("{} (the default)", spec.sizing()),
        (Ok(spec), Some(written)) => format!("{} ({written})", spec.sizing()),
        (Err(_), Some(written)) => format!("{written} (not a valid size, see below)"),
        (Err(message), None) => message,
    }
}

/// One error of a rule, placed under its line.
struct ErrorMark {
    /// `NAME-entry-error` (`-2`, `-3`… for further errors of the same rule).
    id: String,
    /// Spaces (tabs kept) up to the column, then `^` under the span.
    caret: String,
    line: usize,
    column: usize,
    message: String,
    help: Option<String>,
}

/// One line of a rule with the errors that start on it.
struct RuleLine {
    text: String,
    errors: Vec<ErrorMark>,
}

/// An entry or exit rule, checked.
struct RuleBlock {
    /// `entry` or `exit`.
    field: &'static str,
    /// `NAME-entry`: the id of the rule's element.
    id: String,
    source: String,
    lines: Vec<RuleLine>,
    /// How many errors it has.
    errors: usize,
}

/// A strategy as the page shows it.
struct Card {
    name: String,
    anchor: String,
    valid: bool,
    enabled: bool,
    instruments: String,
    /// The entry rule, then the exit rule if there is one.
    rules: Vec<RuleBlock>,
    params: Vec<(String, String)>,
    risk: Vec<(&'static str, String)>,
    size: String,
    max_open: String,
    /// Problems outside the rules (sizes, limits, instruments, a duplicate name).
    problems: Vec<String>,
}

impl Card {
    /// Whether the strategy has an exit rule (the second of its rules).
    fn has_exit(&self) -> bool {
        self.rules.len() > 1
    }
}

#[derive(Template)]
#[template(path = "strategies.html")]
struct StrategiesPage {
    chrome: Chrome,
    cards: Vec<Card>,
    invalid: usize,
    jobs_refuse: bool,
    instruments: usize,
}

/// `text` made safe for an element id: letters, digits, `-` and `_` kept, the rest `-`.
fn anchor(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() {
        "strategy".to_owned()
    } else {
        id
    }
}

/// The caret line of `error` in `source` ([`RuleError::underline`]) with the error's line index
/// (0-based); unlike the core, no `^` under `\r`s ending the span's part of its line, as the
/// page shows lines without them (one `^` is always kept).
fn caret(error: &RuleError, source: &str) -> (usize, String) {
    let (line, column) = error.line_column(source);
    let text: Vec<char> = source
        .split('\n')
        .nth(line - 1)
        .unwrap_or("")
        .chars()
        .collect();
    let mut caret = error.underline(source);
    // One ASCII char of the caret per char of the line: its last `^` is under `text[len - 1]`;
    // `len > column` while more than one `^` is left.
    while caret.len() > column && text.get(caret.len() - 1) == Some(&'\r') {
        caret.pop();
    }
    (line - 1, caret)
}

/// Rule `source` of strategy `config`, its errors ([`Rule::check`] against the instruments
/// `known`) drawn under their lines.
fn rule_block(
    name: &str,
    field: &'static str,
    source: &str,
    kind: RuleKind,
    config: &StrategyConfig,
    known: &[Symbol],
) -> RuleBlock {
    let errors = Rule::check(source, kind, &config.params, known)
        .err()
        .unwrap_or_default();
    let mut lines: Vec<RuleLine> = source
        .split('\n')
        .map(|line| RuleLine {
            text: line.trim_end_matches('\r').to_owned(),
            errors: Vec::new(),
        })
        .collect();
    let base = format!("{}-{field}", anchor(name));
    for (n, error) in errors.iter().enumerate() {
        let (index, caret) = caret(error, source);
        let (line, column) = error.line_column(source);
        let mark = ErrorMark {
            id: if n == 0 {
                format!("{base}-error")
            } else {
                format!("{base}-error-{}", n + 1)
            },
            caret,
            line,
            column,
            message: error.message.clone(),
            help: error.help.clone(),
        };
        if let Some(line) = lines.get_mut(index) {
            line.errors.push(mark);
        }
    }
    RuleBlock {
        field,
        id: base,
        source: source.to_owned(),
        lines,
        errors: errors.len(),
    }
}

fn card(config: &StrategyConfig, known: &[Symbol], duplicate: bool) -> Card {
    let entry = rule_block(
        &config.name,
        "entry",
        &config.entry,
        RuleKind::Entry,
        config,
        known,
    );
    let exit = config
        .exit
        .as_deref()
        .map(|source| rule_block(&config.name, "exit", source, RuleKind::Exit, config, known));
    // The rules' problems are drawn under their lines; the rest are listed.
    let mut problems: Vec<String> = match config.build(known) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .filter(|p| p.field != "entry" && p.field != "exit")
            .map(|p| format!("{}: {}", p.field.replace('_', " "), p.message))
            .collect(),
    };
    if duplicate {
        problems.push(format!(
            "name: `{}` is used by another strategy; names must be unique",
            config.name
        ));
    }
    let rule_errors = entry.errors + exit.as_ref().map_or(0, |e| e.errors);
    Card {
        name: config.name.clone(),
        anchor: anchor(&config.name),
        valid: problems.is_empty() && rule_errors == 0,
        enabled: config.enabled,
        instruments: match &config.instruments {
            InstrumentSelection::All(_) => "all active instruments".to_owned(),
            InstrumentSelection::Only(list) if list.is_empty() => "none".to_owned(),
            InstrumentSelection::Only(list) => list
                .iter()
                .map(Symbol::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        },
        rules: std::iter::once(entry).chain(exit).collect(),
        params: config
            .params
            .iter()
            .map(|(name, value)| (format!("${name}"), format::rule_value(*value)))
            .collect(),
        risk: risk_settings(config),
        size: size_text(config),
        max_open: config
            .max_open_positions
            .map_or_else(|| "no limit".to_owned(), |n| n.to_string()),
        problems,
    }
}

/// `GET /strategies`.
async fn strategies(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let known = barter_service::trading::known_symbols(state.store()).await?;
    let configs = &state.config().strategies;
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for config in configs {
        *uses.entry(config.name.as_str()).or_default() += 1;
    }
    let cards: Vec<Card> = configs
        .iter()
        .map(|config| card(config, &known, uses[config.name.as_str()] > 1))
        .collect();
    let invalid = cards.iter().filter(|c| !c.valid).count();
    let page = StrategiesPage {
        chrome: Chrome::new(&state, &session, "strategies", "Strategies"),
        // The trading jobs refuse to run on any problem `build_all` finds: exactly a card's
        // (its build's problems, its rules' errors, or a duplicate name).
        jobs_refuse: invalid > 0,
        cards,
        invalid,
        instruments: known.len(),
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use barter_core::rule::Span;

    use super::*;

    #[test]
    fn the_caret_sits_under_the_span_on_its_own_line() {
        let source = "close > 0\n  and close > ZZZ.close";
        let start = source.find("ZZZ").expect("in the rule");
        let error = RuleError::new(Span::new(start, start + 3), "unknown instrument `ZZZ`");
        assert_eq!(caret(&error, source), (1, format!("{}^^^", " ".repeat(14))));
        let end = RuleError::new(Span::new(source.len(), source.len()), "end");
        assert_eq!(
            caret(&end, source).1,
            format!("{}^", " ".repeat("  and close > ZZZ.close".len()))
        );
        let tabbed = RuleError::new(Span::new(1, 2), "x");
        assert_eq!(caret(&tabbed, "\tb").1, "\t^");
        let crlf = "close >\r\n  1";
        let across = RuleError::new(Span::new(0, crlf.len()), "x");
        assert_eq!(caret(&across, crlf), (0, "^".repeat("close >".len())));
    }

    #[test]
    fn anchors_are_safe_ids() {
        assert_eq!(anchor("golden cross/2"), "golden-cross-2");
        assert_eq!(anchor(""), "strategy");
    }

    #[test]
    fn percentages_read_as_written_or_as_fractions() {
        assert_eq!(fraction_text(&NumberText::Text("8%".into())), "8%");
        assert_eq!(fraction_text(&NumberText::Number(0.08)), "0.08 (8 %)");
    }
}
